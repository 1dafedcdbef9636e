"""Command line: parse, load the config, call one function of the package, print.

Every :class:`BroadcastError` becomes one ``Error: …`` line and exit code 1 (usage errors are
Click's, exit 2). ``--verbose`` shows the traceback as well.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from . import __version__
from .errors import BroadcastError


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

            self._engine = db.open_station(self.cfg.database_url, self.now().isoformat())
        return self._engine

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
    cfg = st.cfg
    click.echo(
        f"{cfg.path.name}: 配置正确（{cfg.station.township}，{len(cfg.villages)} 个村，"
        f"{len(cfg.slots)} 个播出时段）"
    )


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
@click.option("--topic", help="主题，如 反电诈、禁毒、宪法（不写则从内容猜测）。")
@click.option("--title", help="标题（不写则取文件中的标题）。")
@pass_station
def scripts_add(st: Station, files: tuple[Path, ...], topic: str | None, title: str | None) -> None:
    """导入稿件（.txt/.md/.docx，UTF-8 或 GB18030）。例：broadcast scripts add 禁毒.txt"""
    from .library import import_files

    for line in import_files(st.engine, st.cfg, files, st.now(), topic=topic, title=title):
        click.echo(line)


@scripts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@pass_station
def scripts_list(st: Station, as_json: bool) -> None:
    """列出稿件库。例：broadcast scripts list"""
    from .library import scripts_listing

    click.echo(scripts_listing(st.engine, as_json))


@scripts_group.command("show")
@click.argument("script_id", type=int)
@pass_station
def scripts_show(st: Station, script_id: int) -> None:
    """显示一篇稿件的信息和全文。例：broadcast scripts show 1"""
    from .library import script_detail

    click.echo(script_detail(st.engine, script_id))


# --- queue ---


@cli.group("queue")
def queue_group() -> None:
    """待播队列：加入、查看、移除、调整顺序。"""


@queue_group.command("add")
@click.argument("items", nargs=-1, required=True)
@click.option("--topic", help="主题（导入新文件时使用）。")
@click.option("--title", help="标题（导入新文件时使用）。")
@click.option("--times", type=int, help="播出次数（不写则不限次数）。")
@click.option("--from", "date_from", metavar="DATE", help="开始日期，如 2026-12-01。")
@click.option("--until", "date_until", metavar="DATE", help="结束日期，如 2026-12-31。")
@click.option("--villages", help="覆盖的村，逗号分隔，或 all（默认全部）。")
@pass_station
def queue_add(
    st: Station,
    items: tuple[str, ...],
    topic: str | None,
    title: str | None,
    times: int | None,
    date_from: str | None,
    date_until: str | None,
    villages: str | None,
) -> None:
    """把稿件文件或稿件编号加入待播队列。

    \b
    例：broadcast queue add scripts/禁毒_远离新型毒品.txt --times 10
        broadcast queue add 3 --villages 青石村,东岭村 --from 2026-12-01 --until 2026-12-31
    """
    from .library import QueueRequest, queue_items

    request = QueueRequest(
        items=items,
        topic=topic,
        title=title,
        times=times,
        date_from=date_from,
        date_until=date_until,
        villages=villages,
    )
    for line in queue_items(st.engine, st.cfg, request, st.now()):
        click.echo(line)


@queue_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.option("--all", "include_removed", is_flag=True, help="包括已移除的条目。")
@pass_station
def queue_list(st: Station, as_json: bool, include_removed: bool) -> None:
    """查看待播队列（顺序、剩余次数、日期、覆盖村、状态）。例：broadcast queue list"""
    from .library import queue_listing

    click.echo(queue_listing(st.engine, as_json, include_removed))


@queue_group.command("remove")
@click.argument("entry_id", type=int)
@pass_station
def queue_remove(st: Station, entry_id: int) -> None:
    """从待播队列移除一条。例：broadcast queue remove 2"""
    from .library import remove_entry

    click.echo(remove_entry(st.engine, entry_id, st.now()))


@queue_group.command("move")
@click.argument("entry_id", type=int)
@click.option("--to", "to", type=int, required=True, help="新位置（1 表示下一个播出）。")
@pass_station
def queue_move(st: Station, entry_id: int, to: int) -> None:
    """调整待播顺序。例：broadcast queue move 4 --to 1"""
    from .library import move_entry

    click.echo(move_entry(st.engine, entry_id, to))


def main() -> None:  # pragma: no cover - console entry point
    cli(prog_name="broadcast")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
