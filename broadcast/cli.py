"""Command line: parse, load the config, call one function of the package, print.

Every :class:`BroadcastError` becomes one ``Error: …`` line and exit code 1 (usage errors are
Click's, exit 2). ``--verbose`` shows the traceback as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from . import __version__
from .cli_approval import approvals_group, approve
from .cli_emergency import emergency
from .cli_options import (
    ID,
    Number,
    airing_filter_options,
    json_option,
    station_logger,
    targets_options,
    villages_option,
)
from .cli_programmes import produce, programmes_group, queue_group, scripts_group, text_group
from .cli_reports import ledger, log_digest, log_export, log_verify, report
from .errors import BroadcastError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class Station:
    """What a command needs, opened on first use and closed when the command ends."""

    def __init__(self, config_path: str | None, verbose: bool):
        self.config_path = config_path
        self.verbose = verbose
        self._cfg = None
        self._engine = None

    @property
    def cfg(self):
        if self._cfg is None:
            from . import config

            self._cfg = config.load(self.config_path)
        return self._cfg

    def now(self) -> datetime:
        """The wall clock in the station's timezone (the CLI's only clock read)."""
        return datetime.now(self.cfg.station.tz).replace(microsecond=0)

    @property
    def engine(self):
        if self._engine is None:
            from . import db

            engine = db.open_station(self.cfg.database_url, self.now().isoformat())
            self._engine = engine
            self._replay_kept_airings(engine)
        return self._engine

    def _replay_kept_airings(self, engine: Engine) -> None:
        """Airing rows a locked or full database refused earlier are written at the next command."""
        from .airlog_journal import Journal
        from .playback import journal_path

        journal = Journal(journal_path(self.cfg))
        if journal.path is not None and journal.path.exists():
            journal.replay(engine)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


class Group(click.Group):
    """Turns BroadcastError into one line, exit 1 — the one place that does."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BroadcastError as e:
            if ctx.obj is not None and ctx.obj.verbose:
                import traceback

                traceback.print_exc()
            raise click.ClickException(str(e)) from None
        except Exception as e:  # a full disk, a locked, read-only or corrupt database
            message = environment_error(e)
            if message is None:
                raise
            if ctx.obj is not None and ctx.obj.verbose:
                import traceback

                traceback.print_exc()
            raise click.ClickException(message) from None


def environment_error(e: BaseException) -> str | None:
    """One line for a failure of the PC rather than of the input; None for a real bug."""
    import errno

    if type(e).__module__.startswith("sqlalchemy"):
        from .db import describe_db_error

        return f"{describe_db_error(e)}，操作未完成，没有写入任何内容；请检查 station.db 和磁盘空间"
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f"（{e.filename}）" if e.filename else ""
        return f"磁盘已满，操作未完成{where}；请清理磁盘后重试"
    if isinstance(e, OSError) and e.errno == errno.EROFS:
        return f"磁盘只读，操作未完成（{e.filename or ''}）"
    return None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    envvar="BROADCAST_CONFIG",
    type=click.Path(dir_okay=True, path_type=str),
    help="配置文件路径（默认 ./config.toml，也可用环境变量 BROADCAST_CONFIG）。",
)
@click.option("-v", "--verbose", is_flag=True, help="出错时显示详细的调试信息。")
@click.version_option(__version__, prog_name="broadcast")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """村村响普法广播：稿件 → 节目 → 按时播出 → 播出记录。

    \b
    例：broadcast queue add scripts/反电诈_冒充客服退款.md
        broadcast queue list
    """
    station = Station(config_path, verbose)
    ctx.obj = station
    ctx.call_on_close(station.close)


pass_station = click.make_pass_decorator(Station)


# --- config ---


@cli.group("config")
def config_group() -> None:
    """检查或显示配置（config.toml）。"""


@config_group.command("check")
@pass_station
def config_check(st: Station) -> None:
    """检查配置文件，一次列出所有错误。例：broadcast config check"""
    from .config import environment_problems
    from .errors import ConfigError
    from .tts import engines_report

    cfg = st.cfg
    problems = environment_problems(cfg)
    if problems:
        raise ConfigError([f"{cfg.path.name}: {p}" for p in problems])
    click.echo(
        f"{cfg.path.name}: 配置正确（{cfg.station.township}，{len(cfg.villages)} 个村，"
        f"{len(cfg.slots)} 个播出时段）"
    )
    click.echo(engines_report(cfg.tts))


@config_group.command("show")
@pass_station
def config_show(st: Station) -> None:
    """显示生效的完整配置（含默认值）。例：broadcast config show"""
    from .config import to_toml

    click.echo(to_toml(st.cfg), nl=False)


@cli.group("schedule")
def schedule_group() -> None:
    """播出安排：查看今后的播出，安排或取消单次播出。"""


@schedule_group.command("list")
@click.option("--from", "date_from", metavar="DATE", help="从这一天 0 点起（默认从现在起）。")
@click.option("--days", type=Number(1, 366), default=1, show_default=True, help="查看几天。")
@json_option
@pass_station
def schedule_list(st: Station, date_from: str | None, days: int, as_json: bool) -> None:
    """列出今后的播出（与广播程序用同一规则计算），含因节假日、禁播而不播的时段及原因。

    \b
    例：broadcast schedule list --days 2
        broadcast schedule list --from 2026-10-01 --days 3
    """
    from .schedule_db import listing

    click.echo(listing(st.engine, st.cfg, st.now(), days, as_json, date_from))


@schedule_group.command("add")
@click.argument("item", metavar="ID")
@click.option(
    "--at", "at", required=True, help='播出时间，如 "2026-12-04 09:00" 或 "2026-12-04 09:00:30"。'
)
@targets_options
@click.option("--relay", is_flag=True, help="上级转播（县、镇的节目）：优先于日常播出。")
@pass_station
def schedule_add(
    st: Station, item: str, at: str, villages: str | None, zones: str | None, relay: bool
) -> None:
    """安排一次单次播出。ID 为稿件编号（播其当前节目）或 p+节目编号。

    \b
    例：broadcast schedule add 3 --at "2026-12-04 09:00"
        broadcast schedule add p5 --at "2026-12-04 09:00:30" --villages 青石村
        broadcast schedule add 3 --at "2026-12-04 09:00" --zones 东片
        broadcast schedule add 7 --at "2026-12-04 10:00" --relay
    """
    from .schedule_db import add_oneoff

    click.echo(add_oneoff(st.engine, st.cfg, at, item, villages, st.now(), zones, relay))


@schedule_group.command("remove")
@click.argument("oneoff_id", type=ID)
@pass_station
def schedule_remove(st: Station, oneoff_id: int) -> None:
    """取消一次单次播出。例：broadcast schedule remove 2"""
    from .schedule_db import remove_oneoff

    click.echo(remove_oneoff(st.engine, oneoff_id))


@cli.command("run")
@click.option("--for", "for_seconds", type=float, help="运行多少秒后自动停止。")
@click.option("--until", "until", help='运行到这个时间停止，如 "2026-12-04 20:00"。')
@pass_station
def run(st: Station, for_seconds: float | None, until: str | None) -> None:
    """启动广播程序：按播出时段和单次安排自动播出，并记录每一次播出。

    \b
    例：broadcast run                # 一直运行（开机自启见 broadcast service install）
        broadcast run --for 60
    """
    from .daemon import run as run_daemon
    from .schedule import parse_at

    if for_seconds is not None and until is not None:
        raise click.UsageError("--for 和 --until 只能用一个")
    if for_seconds is not None and not 0 < for_seconds <= MAX_RUN_SECONDS:  # nan fails too
        raise click.BadParameter(
            f"应为大于 0、不超过 {MAX_RUN_SECONDS} 的秒数（一年）", param_hint="--for"
        )
    end = parse_at(until, st.cfg.station.tz, "--until") if until is not None else None
    if end is not None and end <= st.now():
        raise click.BadParameter(f"{until} 已经过去；请指定将来的时间", param_hint="--until")
    run_daemon(st.cfg, st.engine, until=end, for_seconds=for_seconds, log=station_logger(st))


MAX_RUN_SECONDS = 366 * 86400


@cli.command("play")
@click.argument("item", metavar="ID")
@villages_option
@click.option("--override", is_flag=True, help="在静音时段内也播出（记入播出记录）。")
@pass_station
def play(st: Station, item: str, villages: str | None, override: bool) -> None:
    """立即播出一个节目（也记入播出记录）。ID 为稿件编号或 p+节目编号。例：broadcast play 3"""
    from .playback import play_now

    click.echo(
        play_now(
            st.engine,
            st.cfg,
            item,
            villages,
            st.now,
            st.cfg.station.operator,
            station_logger(st),
            override,
        )
    )


@cli.group("log")
def log_group() -> None:
    """播出记录（宣传台账）：查看、导出、防篡改校验和每日摘要。"""


@log_group.command("list")
@airing_filter_options("只看")
@json_option
@pass_station
def log_list(st: Station, as_json: bool, **filters: str | None) -> None:
    """列出播出记录。例：broadcast log list --from 2026-12-01 --status 已播完"""
    from .log_list import log_listing

    click.echo(log_listing(st.engine, st.cfg, as_json=as_json, **filters))


log_group.add_command(log_export)
log_group.add_command(log_verify)
log_group.add_command(log_digest)
cli.add_command(scripts_group)
cli.add_command(queue_group)
cli.add_command(produce)
cli.add_command(programmes_group)
cli.add_command(text_group)
cli.add_command(report)
cli.add_command(ledger)
cli.add_command(approve)
cli.add_command(approvals_group)
cli.add_command(emergency)


@cli.group("service")
def service_group() -> None:
    """开机自动启动广播程序（systemd）。"""


@service_group.command("install")
@click.option("--print", "print_only", is_flag=True, help="只显示服务文件，不安装。")
@click.option(
    "--user", default="broadcast", show_default=True, help="运行广播程序的系统用户（不用 root）。"
)
@pass_station
def service_install(st: Station, print_only: bool, user: str) -> None:
    """安装 systemd 服务：开机启动 broadcast run，出错自动重启。例：sudo broadcast service install"""
    from .service import install

    click.echo(install(st.cfg, print_only=print_only, user=user))


def main() -> None:  # pragma: no cover - console entry point
    cli(prog_name="broadcast")


if __name__ == "__main__":  # pragma: no cover
    main()
