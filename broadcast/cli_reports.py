"""Commands `broadcast log export`, `broadcast report` and `broadcast ledger`: parse, call one function, print.

``ctx.obj`` is the :class:`broadcast.cli.Station` (this module cannot import cli: cli imports
it). Nothing heavy is imported here at module level, so `broadcast --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .cli_options import airing_filter_options, period_options


@click.command("export")
@airing_filter_options("只导出")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "jsonl"]),
    help="文件格式（默认按 --output 的扩展名，否则 csv）。",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="输出文件（不写或写 - 则输出到屏幕；xlsx 必须写文件）。",
)
@click.pass_obj
def log_export(
    st: Any,
    date_from: str | None,
    date_to: str | None,
    status: str | None,
    topic: str | None,
    village: str | None,
    fmt: str | None,
    output: Path | None,
) -> None:
    """导出播出记录（CSV 可直接用 Excel/WPS 打开；xlsx 带汇总表；jsonl 供程序使用）。

    \b
    例：broadcast log export --from 2024-01-01 --to 2024-12-31 --output 播出记录2024.csv
        broadcast log export --status completed --topic 反电诈 --output 反电诈.xlsx
    """
    from .export import export_airings, parse_request

    request = parse_request(
        st.cfg, date_from=date_from, date_to=date_to, status=status, topic=topic,
        village=village, fmt=fmt, output=output,
    )  # fmt: skip
    message = export_airings(st.engine, st.cfg, request, sys.stdout.buffer)
    click.echo(message, err=request.output is None)


@click.command("report")
@click.option("--year", type=int, help="报告年份，如 2024（即 1月1日 至 12月31日）。")
@period_options()
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="报告文件夹（默认为配置文件旁的 report-2024/ 或 report-<开始>_<结束>/）。",
)
@click.pass_obj
def report(
    st: Any, year: int | None, date_from: str | None, date_to: str | None, output: Path | None
) -> None:
    """生成普法广播情况报告：report.md、report.docx 和两张图表，并显示可放入年度报告的一段话。

    只统计“已播完”的播出；中断、失败、未播出单独说明。

    \b
    例：broadcast report --year 2024
        broadcast report --from 2024-01-01 --to 2024-06-30 --output 上半年报告
    """
    from .report import parse_period, write_report

    period = parse_period(year, date_from, date_to)
    result = write_report(st.engine, st.cfg, period, output, st.now())
    for line in result.lines():
        click.echo(line)


@click.command("ledger")
@click.option("--month", required=True, help="月份，如 2026-12。")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="台账文件夹（默认为配置文件旁的 台账-2026-12/）。",
)
@click.pass_obj
def ledger(st: Any, month: str, output: Path | None) -> None:
    """生成一个月的台账文件夹：播放使用登记表（Excel 和 PDF）、稿件汇编（Word）、音频文件清单（SHA-256）、审核与校验记录。

    \b
    例：broadcast ledger --month 2026-12
        broadcast ledger --month 2026-12 --output 十二月台账
    """
    from .ledger import parse_month, write_pack

    result = write_pack(st.engine, st.cfg, parse_month(month), output)
    for line in result.lines():
        click.echo(line)


@click.command("verify")
@click.option(
    "--digest",
    type=click.Path(path_type=Path),
    help="同时与每日摘要文件核对（如打印签字过的 airlog-digest.txt）。",
)
@click.pass_obj
def log_verify(st: Any, digest: Path | None) -> None:
    """校验播出记录是否被改动过：通过时显示事件数和链头，失败时指出第一处被改、删、插入或调换的记录（退出码 1）。

    \b
    例：broadcast log verify
        broadcast log verify --digest airlog-digest.txt
    """
    from .chain import verify_log

    passed, line = verify_log(st.engine, digest)
    click.echo(line)
    if not passed:
        sys.exit(1)


@click.command("digest")
@click.option("--date", "day", metavar="DATE", help="哪一天（默认昨天），如 2026-12-01。")
@click.pass_obj
def log_digest(st: Any, day: str | None) -> None:
    """把某一天的每日摘要（日期、事件数、链头）追加到站点文件夹的 airlog-digest.txt。

    广播程序每天过了零点自动写前一天的；这一行可以打印出来签字存档。

    \b
    例：broadcast log digest
        broadcast log digest --date 2026-12-01
    """
    from .chain import digest_command

    click.echo(digest_command(st.engine, st.cfg, day, st.now().date()))
