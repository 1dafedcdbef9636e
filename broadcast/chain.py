"""The tamper-evident airing log: every airing event hash-chained to the one before it.

Each write of an airing row — inserted (started, missed, failed), finalised, recovered as
interrupted — appends one row to ``airing_events`` in the same transaction: the airing's fields
in a canonical JSON form (:data:`FIELDS`, one place), the time of the event, and
``hash = sha256(seq, kind, airing id, at, previous hash, payload)``. :func:`verify` walks the
chain and compares each airing row with its last event, so a row changed, deleted or inserted
with a SQLite browser, or an event edited, deleted, inserted or renumbered, is named. The
progress writes of a row on air (``seconds_played`` while ``started``) are not events and are
left out of the canonical form of a started row. A daily digest line (date, event count, chain
head) goes to an append-only text file that can be printed and signed; an attacker who rewrites
the whole chain cannot match a head already on paper.

Nothing here reads the clock: times are passed in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BroadcastError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

#: The airing fields an event protects, in their canonical order. A column another change adds
#: to ``airings`` (zones, an emergency kind…) is protected once its name is added here; events
#: written before keep their own (shorter) payload and are compared on their own keys.
FIELDS = (
    "id",
    "schedule_key",
    "kind",
    "slot_name",
    "oneoff_id",
    "queue_entry_id",
    "programme_id",
    "script_id",
    "title",
    "topic",
    "villages",
    "scheduled_at",
    "started_at",
    "ended_at",
    "seconds_played",
    "status",
    "reason",
    "engine",
    "voice",
    "programme_hash",
    "operator",
    "audience",
    "audible",
    "zones",
)
#: Fields that change without an event while a row has this status (progress while on air).
VOLATILE = {"started": ("seconds_played",)}
GENESIS = "0" * 64
DIGEST_NAME = "airlog-digest.txt"
EVENT_KINDS = {
    "insert": "写入",
    "finish": "结束",
    "recover": "标为中断",
    "adopt": "升级时入链",
    "change": "修改",
}


class ChainError(BroadcastError):
    """The airing log cannot be checked as asked (a digest file that cannot be read)."""


# --- the canonical form and the hash ---


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def canonical(row: dict[str, Any]) -> dict[str, Any]:
    """The protected fields of a raw airing row (as stored: villages as text, audible 0/1)."""
    out = {f: _plain(row[f]) for f in FIELDS if f in row}
    for f in VOLATILE.get(str(row.get("status")), ()):
        if f in out:
            out[f] = None
    return out


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_hash(seq: int, kind: str, airing_id: int, at: str, payload: str, prev: str) -> str:
    """sha256 of the event's fields, one per line (none but the JSON payload, last, could hold a
    newline, and JSON escapes its own)."""
    text = f"{seq}\n{kind}\n{airing_id}\n{at}\n{prev}\n{payload}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _columns(conn: Connection) -> tuple[str, ...]:
    """FIELDS as far as the ``airings`` table has them (a migration may run before a later one
    adds a column)."""
    from sqlalchemy import inspect

    have = {c["name"] for c in inspect(conn).get_columns("airings")}
    return tuple(f for f in FIELDS if f in have)


def _raw_rows(
    conn: Connection, airing_id: int | None = None, fields: tuple[str, ...] = FIELDS
) -> Iterator[dict[str, Any]]:
    """Airing rows as stored (no type conversion), as dicts, by id."""
    from sqlalchemy import text

    cols = ", ".join(f'"{f}"' for f in fields)
    where = "" if airing_id is None else "WHERE id = :id"
    stmt = text(f"SELECT {cols} FROM airings {where} ORDER BY id")  # noqa: S608 (fixed names)
    for r in conn.execute(stmt, {"id": airing_id} if airing_id is not None else {}):
        yield dict(zip(fields, r, strict=True))


# --- appending ---


def _head(conn: Connection) -> tuple[int, str]:
    from sqlalchemy import select

    from .db import airing_events as e

    row = conn.execute(select(e.c.seq, e.c.hash).order_by(e.c.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def _append(conn: Connection, airing_id: int, kind: str, at: str, payload: str) -> int:
    from .db import airing_events as e

    seq, prev = _head(conn)
    seq += 1
    conn.execute(
        e.insert().values(
            seq=seq,
            airing_id=airing_id,
            kind=kind,
            at=at,
            payload=payload,
            prev_hash=prev,
            hash=event_hash(seq, kind, airing_id, at, payload, prev),
        )
    )
    return seq


def record(conn: Connection, airing_ids: list[int], kind: str, at: str) -> int:
    """Append an event for each airing whose protected fields differ from its last event (a
    write that changed nothing — a journal replayed twice — adds none); return how many."""
    from sqlalchemy import select

    from .db import airing_events as e

    n = 0
    for airing_id in sorted(set(airing_ids)):
        rows = list(_raw_rows(conn, airing_id))
        if not rows:
            continue
        payload = dumps(canonical(rows[0]))
        last = conn.execute(
            select(e.c.payload).where(e.c.airing_id == airing_id).order_by(e.c.seq.desc()).limit(1)
        ).scalar()
        if last == payload:
            continue
        _append(conn, airing_id, kind, at, payload)
        n += 1
    return n


def adopt_existing(conn: Connection, now_iso: str) -> int:
    """Migration: chain every airing row as it stands now (event kind ``adopt``)."""
    n = 0
    for row in _raw_rows(conn, fields=_columns(conn)):
        _append(conn, int(row["id"]), "adopt", now_iso, dumps(canonical(row)))
        n += 1
    return n


# --- verifying ---


@dataclass(frozen=True)
class Verdict:
    ok: bool
    events: int
    airings: int
    head: str
    problems: tuple[str, ...]  # the first ones
    count: int  # how many problems in all
    since: str | None  # when the chain began (the migration), ISO
    adopted: int  # rows chained as they stood at the migration

    def line(self) -> str:
        since = ""
        if self.since:
            since = f"；自 {self.since[:16].replace('T', ' ')} 起的记录受校验链保护"
            if self.adopted:
                since += f"（此前的 {self.adopted} 条播出记录按升级时的内容入链）"
        if self.ok:
            return (
                f"校验通过（PASS）：{self.events} 条播出事件、{self.airings} 条播出记录，"
                f"链头 {self.head}{since}"
            )
        more = f"；另有 {self.count - 1} 处问题" if self.count > 1 else ""
        return f"校验失败（FAIL）：{self.problems[0]}{more}{since}"


def _show(value: Any) -> str:
    if value is None:
        return "空"
    return f"“{value}”" if isinstance(value, str) else str(value)


def _field_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The changed fields, in FIELDS order: 'status 原为“failed”，现为“completed”；…'."""
    keys = [f for f in FIELDS if f in old] + [k for k in old if k not in FIELDS]
    changed = [
        f"{k} 原为{_show(old[k])}，现为{_show(new.get(k))}" for k in keys if old[k] != new.get(k)
    ]
    return "；".join(changed) or "内容不同"


def _last_events(conn: Connection) -> Iterator[tuple[int, int, str]]:
    """(airing id, seq, payload) of each airing's last event, by airing id."""
    from sqlalchemy import text

    stmt = text("SELECT airing_id, seq, payload FROM airing_events ORDER BY airing_id, seq")
    prev: tuple[int, int, str] | None = None
    for aid, seq, payload in conn.execute(stmt):
        if prev is not None and prev[0] != aid:
            yield prev
        prev = (aid, seq, payload)
    if prev is not None:
        yield prev


def _row_problem(row: dict[str, Any], seq: int, payload: str) -> str | None:
    new = canonical(row)
    if dumps(new) == payload:
        return None
    old = json.loads(payload)  # an event written before a field joined FIELDS has fewer keys
    new = {k: new.get(k) for k in old}
    if dumps(new) == payload:
        return None
    return f"播出记录 {row['id']} 被改动（{_field_change(old, new)}），与第 {seq} 号播出事件不符"


class _Problems:
    """The first few problems in full, and how many there were."""

    def __init__(self) -> None:
        self.first: list[str] = []
        self.count = 0

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.first) < 20:
            self.first.append(text)


def _walk(conn: Connection, problems: _Problems, wanted: set[int]) -> tuple[int, str, dict]:
    """Check every event's hash and link; return (events, head, {seq: hash} for ``wanted``)."""
    from sqlalchemy import select

    from .db import airing_events as e

    prev, seq = GENESIS, 0
    kept: dict[int, str] = {}
    for ev in conn.execute(select(e).order_by(e.c.seq)):
        if ev.seq != seq + 1:
            what = "缺失（被删除或重新编号）" if ev.seq > seq + 1 else "编号重复"
            problems.add(f"第 {seq + 1} 号播出事件{what}")
            break
        if ev.hash != event_hash(ev.seq, ev.kind, ev.airing_id, ev.at, ev.payload, ev.prev_hash):
            problems.add(f"第 {ev.seq} 号播出事件（播出记录 {ev.airing_id}）被改动：与其校验值不符")
            break
        if ev.prev_hash != prev:
            problems.add(
                f"第 {ev.seq} 号播出事件（播出记录 {ev.airing_id}）与前一事件接不上："
                "事件被插入、删除或调换了顺序"
            )
            break
        prev, seq = ev.hash, ev.seq
        if seq in wanted:
            kept[seq] = ev.hash
    return seq, prev, kept


def _compare_rows(conn: Connection, problems: _Problems) -> int:
    """Each airing row against its last event (a merge by id); return the number of rows."""
    rows, lasts = _raw_rows(conn), _last_events(conn)
    row, last = next(rows, None), next(lasts, None)
    n = 0
    while row is not None or last is not None:
        if last is None or (row is not None and int(row["id"]) < last[0]):
            assert row is not None
            problems.add(f"播出记录 {row['id']} 不在校验链中：被直接插入（伪造）")
            row, n = next(rows, None), n + 1
        elif row is None or last[0] < int(row["id"]):
            problems.add(f"播出记录 {last[0]} 被删除（第 {last[1]} 号播出事件记有它）")
            last = next(lasts, None)
        else:
            said = _row_problem(row, last[1], last[2])
            if said is not None:
                problems.add(said)
            row, last, n = next(rows, None), next(lasts, None), n + 1
    return n


def verify(conn: Connection, digests: Sequence[tuple[date, int, str]] = ()) -> Verdict:
    """Check the chain, every airing row against its last event, and the digest lines."""
    from sqlalchemy import func, select

    from .db import airing_events as e
    from .db import schema_migrations as m

    problems = _Problems()
    events, head, kept = _walk(conn, problems, {count for _, count, _ in digests})
    airing_count = 0
    if not problems.count:  # rows are compared with a chain that holds
        airing_count = _compare_rows(conn, problems)
    for day, count, digest_head in digests:
        if count == 0 and digest_head == GENESIS:
            continue
        if kept.get(count) != digest_head:
            problems.add(
                f"与每日摘要不符：{day.isoformat()} 的摘要记为 {count} 条事件、链头 "
                f"{digest_head[:16]}…，数据库中的第 {count} 号事件"
                + ("不存在" if count > events else "的校验值不同")
            )
    since = conn.execute(select(m.c.applied_at).where(m.c.version == CHAIN_VERSION)).scalar()
    adopted = conn.execute(select(func.count()).where(e.c.kind == "adopt")).scalar() or 0
    return Verdict(
        ok=not problems.count,
        events=events,
        airings=airing_count,
        head=head,
        problems=tuple(problems.first),
        count=problems.count,
        since=since,
        adopted=adopted,
    )


CHAIN_VERSION = 7  # the migration that began the chain


# --- the daily digest ---

_DIGEST = re.compile(r"^(\d{4}-\d{2}-\d{2})\s.*?(\d+)\s*条.*?\b([0-9a-f]{64})\b")


def digest_path(cfg: Any) -> Path:
    return cfg.base / DIGEST_NAME


def digest_for(conn: Connection, day: date) -> tuple[int, str]:
    """(events, chain head) up to the last event of ``day`` (in chain order)."""
    from sqlalchemy import func, select

    from .db import airing_events as e

    end = (day + timedelta(days=1)).isoformat()
    seq = conn.execute(select(func.max(e.c.seq)).where(e.c.at < end)).scalar() or 0
    if seq == 0:
        return 0, GENESIS
    return seq, conn.execute(select(e.c.hash).where(e.c.seq == seq)).scalar_one()


def digest_line(day: date, count: int, head: str) -> str:
    return f"{day.isoformat()}  截至当日共 {count} 条播出事件  链头 {head}"


def read_digests(path: Path) -> list[tuple[date, int, str]]:
    """The lines of a digest file; ChainError naming the first line that is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChainError(f"--digest: 找不到摘要文件 {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ChainError(f"--digest: 无法读取摘要文件 {path}（{e}）") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _DIGEST.match(line.strip())
        try:
            day = date.fromisoformat(m[1]) if m else None
        except ValueError:
            day = None
        if m is None or day is None:
            raise ChainError(
                f"{path}: 第 {n} 行不是每日摘要（应如“2026-12-01  截至当日共 57 条播出事件  链头 …”）"
            )
        out.append((day, int(m[2]), m[3]))
    return out


def write_digest(engine: Engine, path: Path, day: date) -> tuple[str, bool]:
    """Append ``day``'s digest line unless the file has one; return (line, appended). The
    file is locked while read and appended (the daemon and `log digest` may meet)."""
    from . import files

    try:
        fd = files.open_lock(path)
    except OSError as e:
        import errno

        fix = "它不能是符号链接" if e.errno == errno.ELOOP else "请检查站点文件夹的写权限和磁盘空间"
        raise ChainError(f"无法写每日摘要文件 {path}（{e.strerror}）；{fix}") from None
    try:
        if not files.try_lock(fd):
            raise ChainError(f"另一个程序正在写每日摘要 {path.name}，请稍后再试")
        for d, count, head in read_digests(path):
            if d == day:
                return digest_line(d, count, head), False
        with engine.connect() as conn:
            line = digest_line(day, *digest_for(conn, day))
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
        return line, True
    finally:
        os.close(fd)  # closing releases the lock


# --- `broadcast log verify` / `log digest` ---


def verify_log(engine: Engine, digest: Path | None) -> tuple[bool, str]:
    """`log verify`: (passed, the one line to print)."""
    from sqlalchemy import inspect

    digests = read_digests(digest) if digest is not None else []
    with engine.connect() as conn:
        if not inspect(conn).has_table("airing_events"):
            return False, "校验失败（FAIL）：播出事件表 airing_events 不存在（被删除）"
        verdict = verify(conn, digests)
    line = verdict.line()
    if verdict.ok and digest is not None:
        line += f"；与摘要文件 {digest.name} 的 {len(digests)} 行一致"
    return verdict.ok, line


def digest_command(engine: Engine, cfg: Any, day: str | None, today: date) -> str:
    """`log digest [--date D]` (default: yesterday)."""
    if day is None:
        chosen = today - timedelta(days=1)
    else:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            raise ChainError(f"--date: 无效的日期 {day}；应如 2026-12-01") from None
    if chosen >= today:
        raise ChainError(
            f"--date: {chosen.isoformat()} 还没有过完；每日摘要只能为今天以前的日期生成"
        )
    path = digest_path(cfg)
    line, appended = write_digest(engine, path, chosen)
    if appended:
        return f"已写入每日摘要 {path.name}：{line}"
    return f"{path.name} 中已有这一天的摘要（不重复写入）：{line}"
