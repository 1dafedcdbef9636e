"""The script library (稿件库): stored scripts, their queries, and `scripts add/list/show`.

:func:`add` stores one :class:`scripts.ScriptFile` (read by :func:`scripts.read`, nothing
written yet) as one insert — the same content again returns the stored script, and the topic
comes from ``--topic``, the file's front matter, a guess from the text or the default, in that
order; a recording is copied into the station's recordings folder first. :func:`import_files`
reads every file before it writes any, so a bad file leaves the database as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ScriptError
from .scripts import DEFAULT_TOPIC, ScriptFile, check_topic, guess_topic, read

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.engine import Connection, Engine

    from .config import Config


@dataclass(frozen=True)
class Script:
    id: int
    title: str
    topic: str
    topic_source: str
    text: str
    sha256: str
    source_name: str
    source_format: str
    encoding: str
    chars: int
    added_at: str
    kind: str = "text"
    audio_file: str | None = None

    def as_dict(self, with_text: bool = False) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if not with_text:
            d.pop("text")
        return d


@dataclass(frozen=True)
class Added:
    """Result of :func:`add`: the script and whether it was already in the library."""

    script: Script
    existing: bool
    retopic: str | None = None  # the old topic, when --topic corrected an existing script


def store_recording(sf: ScriptFile, folder: Path) -> Path:
    """Copy a recording into the station's recordings folder (named by its content hash)."""
    import shutil

    assert sf.source_path is not None and sf.digest is not None
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{sf.digest[:16]}{sf.source_path.suffix.lower()}"
    if not dest.exists():
        from .files import atomic_path

        with atomic_path(dest) as tmp:  # a full disk or Ctrl-C: no half copy left behind
            shutil.copyfile(sf.source_path, tmp)
    return dest


# --- storing and querying ---


def _row_to_script(row: Any) -> Script:
    return Script(**{k: row._mapping[k] for k in Script.__dataclass_fields__})


def by_hash(conn: Connection, sha256: str) -> Script | None:
    from sqlalchemy import select

    from .db import scripts

    row = conn.execute(select(scripts).where(scripts.c.sha256 == sha256)).first()
    return _row_to_script(row) if row else None


def get(conn: Connection, script_id: int) -> Script:
    from sqlalchemy import select

    from .db import scripts

    fits = 0 < script_id < 2**63  # SQLite INTEGER; a larger number is simply no script
    row = conn.execute(select(scripts).where(scripts.c.id == script_id)).first() if fits else None
    if row is None:
        raise ScriptError(f"找不到编号为 {script_id} 的稿件；用 `broadcast scripts list` 查看编号")
    return _row_to_script(row)


def all_scripts(conn: Connection) -> list[Script]:
    from sqlalchemy import select

    from .db import scripts

    return [_row_to_script(r) for r in conn.execute(select(scripts).order_by(scripts.c.id))]


def add(
    conn: Connection,
    sf: ScriptFile,
    *,
    now_iso: str,
    topics: tuple[str, ...],
    topic: str | None = None,
    title: str | None = None,
    recordings: Path | None = None,
) -> Added:
    """Store a script read by :func:`read`; the same content again returns the stored one."""
    from .db import inserted_id, scripts

    if title is not None and not title.strip():
        raise ScriptError("--title: 标题不能为空；不写 --title 时使用文件中的标题")
    existing = by_hash(conn, sf.sha256)
    if existing is not None:
        if topic and check_topic(topic, topics) != existing.topic:  # staff correct a guess
            conn.execute(
                scripts.update()
                .where(scripts.c.id == existing.id)
                .values(topic=topic.strip(), topic_source="option")
            )
            return Added(get(conn, existing.id), True, retopic=existing.topic)
        return Added(existing, True)
    if topic:
        chosen, source = check_topic(topic, topics), "option"
    elif sf.topic:
        try:
            chosen, source = check_topic(sf.topic, topics), "front-matter"
        except ScriptError as e:
            raise ScriptError(f"{sf.source_name}: 文件开头的 topic: {e}") from None
    else:
        guessed = guess_topic(f"{sf.title}\n{sf.text}", topics)
        chosen, source = (guessed, "guess") if guessed else (DEFAULT_TOPIC, "default")
    values: dict[str, Any] = {
        "title": (title or sf.title).strip(),
        "topic": chosen,
        "topic_source": source,
        "text": sf.text,
        "sha256": sf.sha256,
        "source_name": sf.source_name,
        "source_format": sf.source_format,
        "encoding": sf.encoding,
        "chars": len(sf.text),
        "added_at": now_iso,
        "kind": sf.kind,
        "audio_file": str(store_recording(sf, recordings))
        if sf.kind == "audio" and recordings
        else None,
    }
    new_id = inserted_id(conn.execute(scripts.insert().values(**values)))
    return Added(Script(id=new_id, **values), False)


# --- `broadcast scripts`: validate everything, then write in one transaction ---

TOPIC_SOURCE = {
    "option": "按 --topic",
    "front-matter": "取自文件",
    "guess": "按内容猜测，如有误请用 --topic 指定",
    "default": "未识别出主题，如有误请用 --topic 指定",
}


def added_line(added: Added) -> str:
    """What staff read about one imported file."""
    s = added.script
    if added.retopic is not None:
        return (
            f"稿件 {s.id}《{s.title}》已在稿件库中（内容相同）；"
            f"主题已由“{added.retopic}”改为“{s.topic}”"
        )
    if added.existing:
        return f"稿件 {s.id}《{s.title}》已在稿件库中（内容相同），未重复导入"
    return (
        f"已导入稿件 {s.id}《{s.title}》：{s.chars} 字，{s.encoding}，"
        f"主题“{s.topic}”（{TOPIC_SOURCE[s.topic_source]}）"
    )


def import_files(
    engine: Engine,
    cfg: Config,
    files: Sequence[Path],
    now: datetime,
    *,
    topic: str | None = None,
    title: str | None = None,
) -> list[str]:
    """Read every file, then store them all in one transaction; return one line per file.

    A bad file or option leaves the station database exactly as it was."""
    if topic:
        check_topic(topic, cfg.station.topics)
    read_files = [read(f, cfg.scripts.max_bytes) for f in files]
    with engine.begin() as conn:
        results = [
            add(
                conn,
                sf,
                now_iso=now.isoformat(),
                topics=cfg.station.topics,
                topic=topic,
                title=title,
                recordings=cfg.audio.recordings,
            )
            for sf in read_files
        ]
    return [added_line(a) for a in results]


def listing(engine: Engine, as_json: bool) -> str:
    """`broadcast scripts list`: a table, or JSON."""
    from .console import cut, table, to_json

    with engine.connect() as conn:
        items = all_scripts(conn)
    if as_json:
        return to_json([s.as_dict() for s in items])
    if not items:
        return "稿件库是空的。用 `broadcast scripts add 文件` 导入稿件。"
    rows = [
        (s.id, cut(s.title, 34), s.topic, s.chars, s.source_name, s.added_at[:16].replace("T", " "))
        for s in items
    ]
    return table(("编号", "标题", "主题", "字数", "来源文件", "导入时间"), rows)


def detail(engine: Engine, script_id: int) -> str:
    """`broadcast scripts show`: the script's facts and its whole text."""
    with engine.connect() as conn:
        s = get(conn, script_id)
    return "\n".join(
        [
            f"稿件 {s.id}《{s.title}》",
            f"主题：{s.topic}（{TOPIC_SOURCE[s.topic_source]}）",
            f"来源：{s.source_name}（{s.source_format}，{s.encoding}），{s.chars} 字",
            f"导入时间：{s.added_at}",
            f"SHA-256：{s.sha256}",
            "",
            s.text,
        ]
    )
