"""Command `broadcast emergency`: parse, call :func:`broadcast.emergency.send`, print.

``ctx.obj`` is the :class:`broadcast.cli.Station` (this module cannot import cli: cli imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .cli_options import station_logger, targets_options


@click.command("emergency")
@click.argument("text", required=False)
@click.option(
    "--file", "file", type=click.Path(path_type=Path), help="预先录好的通知（MP3/M4A/WAV）或稿件。"
)
@targets_options
@click.option("--repeat", type=int, default=2, show_default=True, help="连续播出几遍。")
@click.option("--title", help="标题（记入播出记录，默认“应急通知”）。")
@click.option("--now", "now_flag", is_flag=True, help="广播程序没有运行时，从本机立即播出。")
@click.pass_obj
def emergency(
    st: Any,
    text: str | None,
    file: Path | None,
    villages: str | None,
    zones: str | None,
    repeat: int,
    title: str | None,
    now_flag: bool,
) -> None:
    """应急插播：立即制作并播出，中断正在播出的节目，不受静音时段限制。

    \b
    例：broadcast emergency "今天下午三点起河道水位上涨，请村民远离河边。" --villages 青石村
        broadcast emergency --file 通知.m4a --zones 东片 --repeat 3
        broadcast emergency "……" --now     （广播程序没有运行时从本机播出）
    """
    from .emergency import send
    from .scratch import scratch

    with scratch(st.cfg):
        line = send(
            st.engine,
            st.cfg,
            st.now,
            text=text,
            file=file,
            villages=villages,
            zones=zones,
            repeat=repeat,
            title=title,
            now_flag=now_flag,
            operator=st.cfg.station.operator,
            log=station_logger(st),
        )
    click.echo(line)
