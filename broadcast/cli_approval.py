"""Commands `broadcast approve` and `broadcast approvals list`: parse, call one function, print.

``ctx.obj`` is the :class:`broadcast.cli.Station` (this module cannot import cli: cli imports it).
"""

from __future__ import annotations

from typing import Any

import click

from .cli_options import ID, json_option


@click.command("approve")
@click.argument("programme_id", type=ID)
@click.option("--by", "approver", required=True, help="审核人姓名，如 张三。")
@click.option("--level", help="审核级别（config.toml [approval] levels；默认为下一级未签的）。")
@click.option("--note", help="审核意见或备注。")
@click.option(
    "--emergency", is_flag=True, help="补签：为已先行播出的应急节目补签字（先播出，后补签字）。"
)
@click.pass_obj
def approve(
    st: Any,
    programme_id: int,
    approver: str,
    level: str | None,
    note: str | None,
    emergency: bool,
) -> None:
    """审核节目：签字绑定节目文件此刻的音频校验值（sha256）和文字摘要。

    重新制作过的节目是新节目，要重新审核；审核后节目文件被改动的，到点拒绝播出。

    \b
    例：broadcast approve 3 --by 张三
        broadcast approve 3 --by 李四 --level 复审 --note 同意播出
        broadcast approve 8 --by 王乡长 --emergency
    """
    from .approval import approve as sign

    click.echo(
        sign(
            st.engine,
            st.cfg,
            programme_id,
            approver,
            level=level,
            note=note,
            emergency=emergency,
            now=st.now(),
        )  # fmt: skip
    )


@click.group("approvals")
def approvals_group() -> None:
    """审核记录：哪些节目已审核、谁签的、还缺哪一级。"""


@approvals_group.command("list")
@click.option("--pending", is_flag=True, help="只列出还没审核完的节目（含待补签的）。")
@json_option
@click.pass_obj
def approvals_list(st: Any, pending: bool, as_json: bool) -> None:
    """列出当前节目的审核情况。例：broadcast approvals list --pending"""
    from .approval import listing

    click.echo(listing(st.engine, st.cfg, pending=pending, as_json=as_json))
