"""The station database: engine, schema, forward migrations (SQLAlchemy Core).

SQLite by default (WAL mode, foreign keys on, a busy timeout so the daemon and the CLI can
share the file); any SQLAlchemy URL works, so a county can point many stations at PostgreSQL.
The schema is versioned: :data:`MIGRATIONS` runs in order, each in its own transaction, and
only ever adds — no migration drops a table or a column with rows in it.

Timestamps are stored as ISO 8601 text with their UTC offset, dates as ``YYYY-MM-DD``: the same
on every backend, readable in any SQLite browser, and sortable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)

metadata = MetaData()


class VillageList(TypeDecorator):
    """Villages an entry covers: a tuple of names, stored as JSON text (``["青石村","东岭村"]``),
    or the string ``"all"`` stored as is. Other text (a LIKE pattern) is bound unchanged."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Sequence[str] | str | None, dialect: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return json.dumps(list(value), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Any) -> tuple[str, ...] | str | None:
        if value is None or value == "all":
            return value
        return _decoded(value)


@lru_cache(maxsize=1024)
def _decoded(text: str) -> tuple[str, ...]:
    """A million airings share a few village sets: each is decoded once."""
    return tuple(json.loads(text))


schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", Text, nullable=False),
)

scripts = Table(
    "scripts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("topic_source", String(16), nullable=False),  # option | front-matter | guess | default
    Column("text", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source_name", Text, nullable=False),
    Column("source_format", String(8), nullable=False),  # txt | md | docx
    Column("encoding", String(16), nullable=False),
    Column("chars", Integer, nullable=False),
    Column("added_at", Text, nullable=False),
    # v2: pre-recorded audio (a phone recording, a lecture) is a script of kind "audio"
    Column("kind", String(8), nullable=False, server_default="text"),  # text | audio
    Column("audio_file", Text),  # the stored copy of a recording, for kind "audio"
    UniqueConstraint("sha256", name="uq_scripts_sha256"),
)

queue_entries = Table(
    "queue_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("script_id", Integer, ForeignKey("scripts.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("times", Integer),  # None = no limit
    Column("date_from", String(10)),
    Column("date_until", String(10)),
    Column("villages", VillageList, nullable=False),  # "all" or names
    Column("status", String(16), nullable=False),  # active | removed
    Column("added_at", Text, nullable=False),
    Column("removed_at", Text),
)
Index("ix_queue_status_position", queue_entries.c.status, queue_entries.c.position)

programmes = Table(
    "programmes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("script_id", Integer, ForeignKey("scripts.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("text_hash", String(64), nullable=False),  # sha256 of the spoken text (or recording)
    Column("recipe", String(64), nullable=False),  # sha256 of text + voice + audio settings
    Column("engine", String(16), nullable=False),  # edge | espeak | recording
    Column("voice", Text, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("lufs", Float, nullable=False),
    Column("true_peak_dbtp", Float, nullable=False),
    Column("file", Text, nullable=False),
    Column("subtitles", Text),
    Column("note", Text),  # e.g. why the fallback engine was used
    Column("status", String(16), nullable=False),  # current | superseded
    Column("produced_at", Text, nullable=False),
    # v5: the listen check (an offline recogniser's character error rate against the text)
    Column("listen_cer", Float),
    Column("listen_heard", Text),
    Column("listen_checked_at", Text),
)
Index("ix_programmes_script_status", programmes.c.script_id, programmes.c.status)

oneoffs = Table(
    "oneoffs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Text, nullable=False),  # ISO 8601 with offset
    Column("script_id", Integer, ForeignKey("scripts.id"), nullable=False),
    Column("programme_id", Integer, ForeignKey("programmes.id")),  # a fixed programme, or None
    Column("villages", VillageList, nullable=False),  # "all" or names
    Column("status", String(16), nullable=False),  # pending | removed
    Column("created_at", Text, nullable=False),
    # v6: priority level and the zones asked for (villages above are already resolved)
    Column("kind", String(8), nullable=False, server_default="daily"),  # daily | relay
    Column("zones", VillageList),  # zone names given with --zones, or None
)

airings = Table(
    "airings",
    metadata,
    Column("id", Integer, primary_key=True),
    # what made it air: "slot:07:00#1", "oneoff:12", "play:<timestamp>"; with scheduled_at unique,
    # so the same slot can never air twice at the same time
    Column("schedule_key", Text, nullable=False),
    Column("kind", String(9), nullable=False),  # slot | oneoff | play | relay | emergency
    Column("slot_name", Text),
    Column("oneoff_id", Integer, ForeignKey("oneoffs.id")),
    Column("queue_entry_id", Integer, ForeignKey("queue_entries.id")),
    Column("programme_id", Integer, ForeignKey("programmes.id")),
    Column("script_id", Integer, ForeignKey("scripts.id")),
    Column("title", Text),
    Column("topic", Text),
    Column("villages", VillageList, nullable=False),  # names (resolved, never "all")
    Column("scheduled_at", Text, nullable=False),
    Column("started_at", Text),
    Column("ended_at", Text),
    Column("seconds_played", Float, nullable=False, server_default="0"),
    Column("status", String(12), nullable=False),  # started|completed|interrupted|failed|missed
    Column("reason", Text),
    Column("engine", String(16)),
    Column("voice", Text),
    Column("programme_hash", String(64)),
    Column("operator", Text, nullable=False),
    Column("audience", Integer, nullable=False, server_default="0"),  # estimate, see report
    # v4: whether the player could be heard (False: the null player on a PC without a sound card)
    Column("audible", Boolean),
    # v6: the zones the airing covered in full (hooks get them as {zones}; the report counts them)
    Column("zones", VillageList),
    UniqueConstraint("schedule_key", "scheduled_at", name="uq_airings_key_time"),
)
Index("ix_airings_scheduled", airings.c.scheduled_at)
Index("ix_airings_status", airings.c.status)

daemon_runs = Table(
    "daemon_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("host", Text, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("last_seen", Text, nullable=False),  # heartbeat: the daemon was running until here
    Column("stopped_at", Text),
)

# v7: approvals bound to the audio, and the hash chain of airing events (see approval, chain)
approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("programme_id", Integer, ForeignKey("programmes.id"), nullable=False),
    Column("level", Text, nullable=False),  # one of [approval] levels
    Column("approver", Text, nullable=False),
    Column("note", Text),
    Column("at", Text, nullable=False),
    Column("audio_sha256", String(64), nullable=False),  # the programme file as approved
    Column("text_hash", String(64), nullable=False),  # programmes.text_hash as approved
    Column("after_air", Boolean, nullable=False, server_default="0"),  # 补签: signed after airing
    UniqueConstraint("programme_id", "level", name="uq_approvals_programme_level"),
)

airing_events = Table(
    "airing_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # 1, 2, 3… without gaps
    Column("airing_id", Integer, nullable=False),  # no foreign key: a deleted row must show
    Column("kind", String(12), nullable=False),  # insert | finish | recover | adopt | change
    Column("at", Text, nullable=False),
    Column("payload", Text, nullable=False),  # chain.canonical(airing row) as JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_airing_events_airing", airing_events.c.airing_id, airing_events.c.seq)
Index("ix_airing_events_at", airing_events.c.at)


# v6: emergency notices (应急插播). The CLI stores the text (or recording) as a script and writes
# a request here; the running daemon picks it up within a second, interrupts what is on air,
# produces it with its warm voice and airs it. `--now` (no daemon) produces in the CLI.
emergencies = Table(
    "emergencies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("script_id", Integer, ForeignKey("scripts.id"), nullable=False),
    Column("programme_id", Integer, ForeignKey("programmes.id")),  # set once produced
    Column("villages", VillageList, nullable=False),  # names (resolved, never "all")
    Column("zones", VillageList),  # zone names given with --zones, or None
    Column("repeat", Integer, nullable=False),
    Column("requested_at", Text, nullable=False),
    # pending -> airing -> done | failed (the daemon), or expired (not seen in time);
    # aired (`--now`, from the CLI)
    Column("status", String(8), nullable=False),
    Column("handled_at", Text),
)


def _as_of(table: Table, later_columns: tuple[str, ...]) -> Table:
    """``table`` as an earlier migration created it: without the columns added later."""
    old = MetaData()
    for t in metadata.sorted_tables:  # so foreign keys resolve in the copy
        t.to_metadata(old)
    frozen = old.tables[table.name]
    for name in later_columns:
        frozen._columns.remove(frozen.c[name])
    return frozen


def _v1(conn: Connection) -> None:
    _as_of(scripts, ("kind", "audio_file")).create(conn)
    queue_entries.create(conn)


def _v2(conn: Connection) -> None:
    from sqlalchemy import text

    conn.execute(text("ALTER TABLE scripts ADD COLUMN kind VARCHAR(8) NOT NULL DEFAULT 'text'"))
    conn.execute(text("ALTER TABLE scripts ADD COLUMN audio_file TEXT"))
    _as_of(programmes, LISTEN_COLUMNS).create(conn)


def _v3(conn: Connection) -> None:
    for table in (_as_of(oneoffs, ONEOFF_V6), _as_of(airings, ("audible", "zones")), daemon_runs):
        table.create(conn)


def _v4(conn: Connection) -> None:
    from sqlalchemy import text

    conn.execute(text("ALTER TABLE airings ADD COLUMN audible BOOLEAN"))


LISTEN_COLUMNS = ("listen_cer", "listen_heard", "listen_checked_at")


def _v5(conn: Connection) -> None:
    from sqlalchemy import text

    conn.execute(text("ALTER TABLE programmes ADD COLUMN listen_cer FLOAT"))
    conn.execute(text("ALTER TABLE programmes ADD COLUMN listen_heard TEXT"))
    conn.execute(text("ALTER TABLE programmes ADD COLUMN listen_checked_at TEXT"))


ONEOFF_V6 = ("kind", "zones")


def _v6(conn: Connection) -> None:
    from sqlalchemy import text

    if conn.dialect.name != "sqlite":  # "emergency" is 9 characters (SQLite ignores the length)
        conn.execute(text("ALTER TABLE airings ALTER COLUMN kind TYPE VARCHAR(9)"))
    conn.execute(text("ALTER TABLE oneoffs ADD COLUMN kind VARCHAR(8) NOT NULL DEFAULT 'daily'"))
    conn.execute(text("ALTER TABLE oneoffs ADD COLUMN zones TEXT"))
    conn.execute(text("ALTER TABLE airings ADD COLUMN zones TEXT"))
    emergencies.create(conn)


def _v7(conn: Connection, now_iso: str) -> None:
    from . import chain

    approvals.create(conn)
    airing_events.create(conn)
    chain.adopt_existing(conn, now_iso)


# (version, description, step). Append only; never edit a step that has shipped.
MIGRATIONS: list[tuple[int, str, Callable[..., None]]] = [
    (1, "scripts and queue", _v1),
    (2, "programmes; pre-recorded audio scripts", _v2),
    (3, "airing log, one-off airings, daemon runs", _v3),
    (4, "airings record whether the airing was audible", _v4),
    (5, "programmes: listen check", _v5),
    (6, "emergencies; one-offs get a priority kind and zones; airings record zones", _v6),
    (7, "approvals bound to the audio; hash-chained airing events", _v7),
]
LATEST = MIGRATIONS[-1][0]
NEEDS_TIME = {7}  # steps that take the migration time too (v7: when the chain began)


def describe_db_error(e: BaseException) -> str:
    """One Chinese line for a database failure (no SQL)."""
    text = str(getattr(e, "orig", None) or e).lower()
    if "locked" in text or "busy" in text:
        return "数据库被其他程序锁定"
    if "disk is full" in text or "database or disk is full" in text or "no space" in text:
        return "磁盘已满"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "数据库文件只读"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return "数据库文件已损坏"
    if "disk i/o error" in text:
        return "磁盘读写出错（磁盘可能已满）"
    if "unable to open" in text:
        return "无法打开数据库文件（所在文件夹可能只读或没有权限）"
    return f"数据库出错（{e.__class__.__name__}）"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 (DB-API objects)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    from sqlalchemy import create_engine as sa_create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    kwargs = {}
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        folder = Path(url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise DatabaseError(f"数据库文件夹不存在：{folder}；请检查 [station] database")
    elif url in ("sqlite://", "sqlite:///:memory:"):
        from sqlalchemy.pool import StaticPool

        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    try:
        engine = sa_create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as e:
        raise DatabaseError(f"无法使用数据库地址 {url}：{e}；请检查 [station] database") from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def current_version(conn: Connection) -> int:
    from sqlalchemy import func, inspect, select

    if not inspect(conn).has_table("schema_migrations"):
        return 0
    return conn.execute(select(func.max(schema_migrations.c.version))).scalar() or 0


def migrate(engine: Engine, now_iso: str) -> list[int]:
    """Bring the schema forward to LATEST; return the versions applied (empty when current)."""
    from sqlalchemy.exc import SQLAlchemyError

    applied: list[int] = []
    try:
        with engine.begin() as conn:
            schema_migrations.create(conn, checkfirst=True)
            version = current_version(conn)
        if version > LATEST:
            raise DatabaseError(
                f"数据库结构版本 {version} 比本程序支持的 {LATEST} 新；请升级 broadcast 后再运行"
            )
        for number, description, step in MIGRATIONS:
            if number <= version:
                continue
            with engine.begin() as conn:
                if number in NEEDS_TIME:
                    step(conn, now_iso)
                else:
                    step(conn)
                conn.execute(
                    schema_migrations.insert().values(
                        version=number, description=description, applied_at=now_iso
                    )
                )
            applied.append(number)
    except SQLAlchemyError as e:
        raise DatabaseError(
            f"无法打开或升级数据库：{describe_db_error(e)}（{getattr(e, 'orig', None) or e.__class__.__name__}）"
        ) from e
    return applied


def open_station(url: str, now_iso: str) -> Engine:
    """Open (creating if needed) and migrate the station database."""
    engine = create_engine(url)
    try:
        migrate(engine, now_iso)
    except BaseException:
        engine.dispose()
        raise
    return engine


def inserted_id(result: Any) -> int:
    """The primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    assert key is not None  # an INSERT always has one
    return int(key[0])
