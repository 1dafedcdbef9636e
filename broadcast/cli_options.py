"""Click options that several commands take, each declared once.

Two commands that share an option share its name, its help and what it accepts (like the
``output_options`` of sqlite-utils). The values are checked by the package function the command
calls, so a bad value is one ``Error: …`` line wherever it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _stack(*options: Decorator) -> Decorator:
    def apply(f: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            f = option(f)
        return f

    return apply


class Number(click.ParamType):
    """A whole number in ``low..high`` (a database id fits SQLite's 64-bit INTEGER)."""

    name = "integer"

    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 (Click's signature)
        try:
            n = value if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            self.fail(f"应为整数：{value}", param, ctx)
        if not self.low <= n <= self.high:
            self.fail(f"应在 {self.low} 到 {self.high} 之间：{value}", param, ctx)
        return n


ID = Number(1, 2**63 - 1)
COUNT = Number(-(2**31), 1_000_000)  # below 1: the queue says why


json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")

villages_option = click.option("--villages", help="覆盖的村，逗号分隔，或 all（默认全部）。")

zones_option = click.option("--zones", help="覆盖的分区（config.toml [zones]），逗号分隔。")

#: --villages and --zones: which villages an entry or a one-off covers
targets_options = _stack(villages_option, zones_option)


def topic_option(help: str) -> Decorator:  # noqa: A002 (Click's own keyword)
    """--topic given to a new script (checked against [station] topics)."""
    return click.option("--topic", help=help)


def period_options(end: str = "--to") -> Decorator:
    """--from DATE and ``end`` DATE (both inclusive), as ``date_from`` and ``date_<end>``."""
    return _stack(
        click.option("--from", "date_from", metavar="DATE", help="开始日期（含），如 2026-12-01。"),
        click.option(
            end, f"date_{end[2:]}", metavar="DATE", help="结束日期（含），如 2026-12-31。"
        ),
    )


def airing_filter_options(verb: str) -> Decorator:
    """The airing-log filters of `log list` and `log export`, checked by
    :func:`broadcast.log_filters.parse_filters` for both; ``verb`` is 只看 or 只导出."""
    return _stack(
        period_options(),
        click.option(
            "--status",
            help=f"{verb}此状态：completed（已播完）、interrupted（中断）、failed（失败）、"
            "missed（未播出），英文或中文均可。",
        ),
        click.option("--topic", help=f"{verb}此主题，如 反电诈。"),
        click.option("--village", help=f"{verb}覆盖此村的播出，如 青石村。"),
    )


def station_logger(st: Any) -> Callable[[str], None]:
    """Daemon/player log lines stamped with the station's own clock (the timezone of config);
    ``st`` is the :class:`broadcast.cli.Station`."""

    def log(message: str) -> None:
        click.echo(f"[{st.now():%Y-%m-%d %H:%M:%S}] {message}")

    return log
