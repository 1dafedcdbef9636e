"""The listen check of a programme (`programmes check`, and after `produce`): run
:func:`listen.check` on its file against the spoken-form text, store the verdict in its row and
word the line the staff read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .programmes import Programme, get, listing, spoken_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .config import Config


def listen_and_store(
    engine: Engine,
    cfg: Config,
    programme: Programme,
    reference: str,
    cues: Sequence[tuple[float, float, str]] | None,
    now_iso: str,
) -> tuple[Programme, str]:
    """Run the listen check on a programme and store it; return it and the line for the staff."""
    from . import listen
    from .db import programmes as p

    try:
        heard = listen.check(Path(programme.file), reference, cues)
    except listen.ListenError as e:
        return programme, f"节目 {programme.id}《{programme.title}》未做收听检查：{e}"
    with engine.begin() as conn:
        conn.execute(
            p.update()
            .where(p.c.id == programme.id)
            .values(listen_cer=heard.cer, listen_heard=heard.heard, listen_checked_at=now_iso)
        )
        programme = get(conn, programme.id)
    sampled = cues and len(listen.spans(cues)) > 1
    note = f"（长节目抽查开头和结尾各 {listen.SAMPLE_SECONDS:.0f} 秒）" if sampled else ""
    return programme, listen_line(cfg, programme) + note


def timed_cues(cfg: Config, p: Programme) -> list[tuple[float, float, str]] | None:
    """Each caption, where it is in the programme file and what the voice read there (the
    subtitles hold the written text: it is normalised again to compare with what was heard)."""
    from .subtitles import read_srt
    from .text import load_lexicon, normalize

    if not p.subtitles or not Path(p.subtitles).exists():
        return None
    lexicon = load_lexicon(cfg.tts.lexicon) if cfg.tts.lexicon else None
    return [(a, b, normalize(text, lexicon)) for a, b, text in read_srt(Path(p.subtitles))] or None


def check_listen(
    engine: Engine, cfg: Config, programme_ids: Sequence[int], now_iso: str
) -> tuple[list[str], int]:
    """`programmes check`: the listen check on these programmes (all current ones by default);
    the lines for the staff and how many may not be understood."""
    from . import script_library
    from .listen import UNCLEAR, ListenError, missing_reason, verdict

    reason = missing_reason()
    if reason:
        raise ListenError(f"无法做收听检查：{reason}")
    with engine.connect() as conn:
        items = [get(conn, i) for i in programme_ids] if programme_ids else listing(conn)
    if not items:
        return ["还没有节目。用 `broadcast produce` 制作待播队列中的稿件。"], 0
    lines: list[str] = []
    unclear = 0
    for p in items:
        if p.engine == "recording":
            lines.append(f"节目 {p.id}《{p.title}》是原声录音，没有稿件文字可比对，不做收听检查")
            continue
        if not Path(p.file).exists():
            lines.append(f"节目 {p.id}《{p.title}》的文件已不存在，无法检查：{p.file}")
            continue
        with engine.connect() as conn:
            script = script_library.get(conn, p.script_id)
        p, line = listen_and_store(
            engine, cfg, p, spoken_text(cfg, script), timed_cues(cfg, p), now_iso
        )
        lines.append(line)
        unclear += verdict(p.listen_cer, cfg.tts.listen_check_max_cer) == UNCLEAR
    if unclear:
        lines.append(f"共 {unclear} 个节目可能听不清。")
    return lines, unclear


def listen_line(cfg: Config, p: Programme) -> str:
    from .listen import UNCLEAR, describe, verdict

    line = f"收听检查 {p.id}《{p.title}》：{describe(p.listen_cer, cfg.tts.listen_check_max_cer)}"
    if verdict(p.listen_cer, cfg.tts.listen_check_max_cer) == UNCLEAR:
        line += (
            f"，村民可能听不清（上限 {cfg.tts.listen_check_max_cer:.2f}）；"
            "联网后运行 `broadcast produce --upgrade` 换用更好的语音"
        )
    return line
