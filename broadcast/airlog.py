"""The airing log (播出记录): one row per airing, the township's outreach record.

A row is written when playback starts (``started``) and finalised when it ends
(``completed`` / ``interrupted`` / ``failed``); a slot that could not air at all is ``missed``
with its reason. ``(schedule_key, scheduled_at)`` is unique, so nothing airs twice for the same
slot and time, and a row left ``started`` by a crash becomes ``interrupted`` at the next start.
Every write here but progress appends a hash-chained event in the same transaction
(:mod:`broadcast.chain`).
Nothing here reads the clock: every time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .schedule import Planned

STATUSES = ("started", "completed", "interrupted", "failed", "missed")
STATUS_LABELS = {
    "started": "正在播出",
    "completed": "已播完",
    "interrupted": "中断",
    "failed": "失败",
    "missed": "未播出",
}
# What made an airing: daily service (slot, one-off, manual play), a relayed county/town
# programme (上级转播), an emergency notice (应急插播). Relay and emergency are counted apart
# from the 普法 figures in exports and the report.
KIND_LABELS = {
    "slot": "定时",
    "oneoff": "单次",
    "play": "手动",
    "relay": "上级转播",
    "emergency": "应急插播",
}
SPECIAL_KINDS = ("relay", "emergency")


@dataclass(frozen=True)
class Airing:
    id: int
    schedule_key: str
    kind: str
    slot_name: str | None
    oneoff_id: int | None
    queue_entry_id: int | None
    programme_id: int | None
    script_id: int | None
    title: str | None
    topic: str | None
    villages: tuple[str, ...]
    scheduled_at: str
    started_at: str | None
    ended_at: str | None
    seconds_played: float
    status: str
    reason: str | None
    engine: str | None
    voice: str | None
    programme_hash: str | None
    operator: str
    audience: int
    audible: bool | None = None  # None: nothing was played (missed, failed before playback)
    zones: tuple[str, ...] | None = None  # zones covered in full (v6; None before)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["villages"] = list(self.villages)
        d["zones"] = list(self.zones) if self.zones is not None else None
        return d


@dataclass(frozen=True)
class What:
    """What an airing plays: the programme and where it came from (None fields for a miss)."""

    title: str | None = None
    topic: str | None = None
    script_id: int | None = None
    programme_id: int | None = None
    queue_entry_id: int | None = None
    engine: str | None = None
    voice: str | None = None
    programme_hash: str | None = None

    def columns(self) -> dict[str, Any]:
        """The airing-table columns it fills (also how the journal stores it)."""
        return {k: getattr(self, k) for k in What.__dataclass_fields__}


def estimate_audience(villages: Iterable[str], population: dict[str, int], factor: float) -> int:
    """Estimated listeners of one airing: the covered villages' population × factor."""
    return round(sum(population.get(v, 0) for v in villages) * factor)


def _row(row: Any) -> Airing:
    m = dict(row._mapping)
    return Airing(**m)


def exists(conn: Connection, schedule_key: str, scheduled_at: str) -> bool:
    from sqlalchemy import select

    from .db import airings as a

    stmt = select(a.c.id).where(a.c.schedule_key == schedule_key, a.c.scheduled_at == scheduled_at)
    return conn.execute(stmt).first() is not None


def insert(
    conn: Connection,
    *,
    schedule_key: str,
    kind: str,
    scheduled_at: str,
    villages: Iterable[str],
    status: str,
    operator: str,
    audience: int,
    what: What = What(),
    slot_name: str | None = None,
    oneoff_id: int | None = None,
    started_at: str | None = None,
    ended_at: str | None = None,
    reason: str | None = None,
    audible: bool | None = None,
    zones: Iterable[str] = (),
) -> int | None:
    """Insert one airing row; None when that slot and time already has one (never twice)."""
    from sqlalchemy.exc import IntegrityError

    from .db import airings as a
    from .db import inserted_id

    if status not in STATUSES:
        raise ValueError(f"unknown airing status {status!r}")
    values = dict(
        schedule_key=schedule_key,
        kind=kind,
        slot_name=slot_name,
        oneoff_id=oneoff_id,
        villages=tuple(villages),
        scheduled_at=scheduled_at,
        started_at=started_at,
        ended_at=ended_at,
        seconds_played=0.0,
        status=status,
        reason=reason,
        operator=operator,
        audience=audience,
        audible=audible,
        zones=tuple(zones) or None,
        **what.columns(),
    )
    from . import chain

    try:
        with conn.begin_nested():  # the row and its chained event, or neither
            new_id = inserted_id(conn.execute(a.insert().values(**values)))
            chain.record(conn, [new_id], "insert", ended_at or started_at or scheduled_at)
            return new_id
    except IntegrityError:
        return None


def planned_what(p: Planned) -> What:
    """What a planned airing (schedule.Planned) would have played."""
    return What(
        title=p.title,
        topic=p.topic,
        programme_id=p.programme_id,
        queue_entry_id=p.entry.entry_id if p.entry else None,
        script_id=p.entry.script_id if p.entry else (p.oneoff.script_id if p.oneoff else None),
    )


def insert_missed(conn: Connection, p: Planned, operator: str, reason: str) -> int | None:
    """A planned airing that did not air, recorded ``missed`` with ``reason``; None when that
    slot and time already has a row."""
    return insert(
        conn,
        schedule_key=p.key,
        kind=p.kind,
        scheduled_at=p.at.isoformat(),
        villages=p.villages,
        status="missed",
        operator=operator,
        audience=0,
        slot_name=p.slot_name,
        oneoff_id=p.oneoff.id if p.oneoff else None,
        what=planned_what(p),
        reason=reason,
    )


def progress(conn: Connection, airing_id: int, seconds: float) -> None:
    """Record how far playback has got (so a crash loses at most a few seconds)."""
    from .db import airings as a

    conn.execute(
        a.update()
        .where(a.c.id == airing_id, a.c.status == "started")
        .values(seconds_played=round(seconds, 1))
    )


def finish(
    conn: Connection,
    airing_id: int,
    *,
    status: str,
    ended_at: str,
    seconds_played: float,
    reason: str | None = None,
) -> None:
    from .db import airings as a

    _finish(conn, a.c.id == airing_id, status, ended_at, seconds_played, reason)


def _finish(
    conn: Connection,
    which: Any,
    status: str,
    ended_at: str,
    seconds_played: float,
    reason: str | None,
) -> None:
    """Finalise the airing row(s) matching ``which`` (an SQL condition)."""
    from sqlalchemy import select

    from . import chain
    from .db import airings as a

    assert status in ("completed", "interrupted", "failed")
    conn.execute(
        a.update()
        .where(which)
        .values(
            status=status, ended_at=ended_at, seconds_played=round(seconds_played, 1), reason=reason
        )
    )
    chain.record(
        conn, [r.id for r in conn.execute(select(a.c.id).where(which))], "finish", ended_at
    )


def recover(conn: Connection, now_iso: str, include_play: bool = True) -> list[int]:
    """Rows left ``started`` by a crash or power cut become ``interrupted``; return their ids.

    ``include_play=False`` leaves rows of `broadcast play` alone (one may be playing now)."""
    from sqlalchemy import select

    from .db import airings as a

    stmt = select(a.c.id).where(a.c.status == "started")
    if not include_play:  # `broadcast emergency --now` airs from the CLI like `play`
        stmt = stmt.where(a.c.kind.not_in(("play", "emergency")))
    ids = [r.id for r in conn.execute(stmt)]
    if ids:
        conn.execute(
            a.update()
            .where(a.c.id.in_(ids))
            .values(
                status="interrupted",
                ended_at=now_iso,
                reason="播出过程中广播程序停止（断电、死机或被强制结束）",
            )
        )
        from . import chain

        chain.record(conn, ids, "recover", now_iso)
    return ids


def last_slot_entry(conn: Connection) -> int | None:
    """The queue entry of the latest slot airing that played (where the rotation stands)."""
    from sqlalchemy import select

    from .db import airings as a

    stmt = (
        select(a.c.queue_entry_id)
        .where(
            a.c.kind == "slot",
            a.c.queue_entry_id.is_not(None),
            # a failed airing counts too, so one broken entry cannot hold up the rotation
            a.c.status.in_(("started", "completed", "interrupted", "failed")),
        )
        .order_by(a.c.scheduled_at.desc(), a.c.id.desc())
        .limit(1)
    )
    return conn.execute(stmt).scalar()


def where(
    stmt: Any,
    *,
    start: date | None = None,
    end: date | None = None,
    status: str | None = None,
    topic: str | None = None,
    village: str | None = None,
) -> Any:
    """Restrict a SELECT over ``airings`` to those scheduled from ``start`` to ``end``
    (inclusive dates) with the given status, topic and village."""
    from .db import airings as a

    if start is not None:
        stmt = stmt.where(a.c.scheduled_at >= start.isoformat())
    if end is not None:
        stmt = stmt.where(a.c.scheduled_at < (end + timedelta(days=1)).isoformat())
    if status is not None:
        stmt = stmt.where(a.c.status == status)
    if topic is not None:
        stmt = stmt.where(a.c.topic == topic)
    if village is not None:
        stmt = stmt.where(a.c.villages.like(f'%"{village}"%'))
    return stmt


def query(conn: Connection, **filters: Any) -> list[Airing]:
    """Airings matching :func:`where`'s filters, oldest first."""
    from sqlalchemy import select

    from .db import airings as a

    stmt = where(select(a), **filters).order_by(a.c.scheduled_at, a.c.id)
    return [_row(r) for r in conn.execute(stmt)]


def finish_by_key(
    conn: Connection,
    schedule_key: str,
    scheduled_at: str,
    *,
    status: str,
    ended_at: str,
    seconds_played: float,
    reason: str | None = None,
) -> None:
    """:func:`finish` for the row of ``(schedule_key, scheduled_at)`` (its id may be unknown)."""
    from .db import airings as a

    which = (a.c.schedule_key == schedule_key) & (a.c.scheduled_at == scheduled_at)
    _finish(conn, which, status, ended_at, seconds_played, reason)
