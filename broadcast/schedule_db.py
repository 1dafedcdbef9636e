"""The schedule's side that touches the station database: the state :mod:`schedule` plans from,
one-offs written and removed, and `broadcast schedule list / add / remove`.

:mod:`broadcast.schedule` stays pure (state and ``now`` in, airings out); everything here reads or
writes the database and hands the rest to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from .errors import QueueError, ScheduleError
from .schedule import Candidate, OneOff, State, check_oneoff

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlalchemy.engine import Connection, Engine

    from .config import Config
    from .rules import Rules


# --- the state the plan starts from ---


def _d(s: str | None) -> date | None:
    return date.fromisoformat(s) if s else None


def load_state(conn: Connection, tz: ZoneInfo) -> State:
    """What the plan starts from: the active queue, pending one-offs, where rotation stands."""
    from sqlalchemy import select

    from . import airlog, queue
    from .db import oneoffs, programmes, scripts

    current = {
        r.script_id: r.id
        for r in conn.execute(
            select(programmes.c.script_id, programmes.c.id).where(programmes.c.status == "current")
        )
    }
    durations = dict(conn.execute(select(programmes.c.id, programmes.c.duration_s)).all())
    cands = tuple(
        Candidate(
            entry_id=e.id,
            position=e.position,
            script_id=e.script_id,
            title=e.title,
            topic=e.topic,
            times=e.times,
            completed=e.completed,
            date_from=_d(e.date_from),
            date_until=_d(e.date_until),
            villages=e.villages,
            programme_id=current.get(e.script_id),
            duration_s=durations.get(current.get(e.script_id)),
        )
        for e in queue.entries(conn)
    )
    rows = conn.execute(
        select(oneoffs, scripts.c.title, scripts.c.topic)
        .join(scripts, scripts.c.id == oneoffs.c.script_id)
        .where(oneoffs.c.status == "pending")
        .order_by(oneoffs.c.at)
    )
    ones = tuple(
        OneOff(
            id=r.id,
            at=datetime.fromisoformat(r.at).astimezone(tz),
            script_id=r.script_id,
            title=r.title,
            topic=r.topic,
            programme_id=r.programme_id or current.get(r.script_id),
            villages=r.villages,
            duration_s=durations.get(r.programme_id or current.get(r.script_id)),
            kind=r.kind or "daily",
            zones=tuple(r.zones or ()),
        )
        for r in rows
    )
    last = airlog.last_slot_entry(conn)
    position = None
    if last is not None:
        from .db import queue_entries

        position = conn.execute(
            select(queue_entries.c.position).where(queue_entries.c.id == last)
        ).scalar()
    return State(cands, ones, last, position)


# --- one-offs in the database ---


def insert_oneoff(
    conn: Connection,
    *,
    at: datetime,
    script_id: int,
    programme_id: int | None,
    villages: tuple[str, ...] | str,
    now: datetime,
    rules: Rules | None = None,
    seconds: float | None = None,
    all_villages: Sequence[str] = (),
    kind: str = "daily",
    zones: tuple[str, ...] = (),
) -> int:
    """Store a one-off after :func:`schedule.check_oneoff` let it through; return its id."""
    from .db import inserted_id, oneoffs

    if at <= now:
        raise ScheduleError(f"--at: {at:%Y-%m-%d %H:%M:%S} 已经过去；请指定将来的时间")
    check_oneoff(at, villages, rules, seconds, all_villages)
    return inserted_id(
        conn.execute(
            oneoffs.insert().values(
                at=at.isoformat(),
                script_id=script_id,
                programme_id=programme_id,
                villages=villages,
                status="pending",
                created_at=now.isoformat(),
                kind=kind,
                zones=zones or None,
            )
        )
    )


def delete_oneoff(conn: Connection, oneoff_id: int) -> None:
    """Mark a pending one-off removed (its row stays)."""
    from sqlalchemy import select

    from .db import oneoffs

    row = conn.execute(select(oneoffs).where(oneoffs.c.id == oneoff_id)).first()
    if row is None or row.status != "pending":
        raise ScheduleError(
            f"找不到编号为 {oneoff_id} 的单次播出；用 `broadcast schedule list` 查看编号"
        )
    conn.execute(oneoffs.update().where(oneoffs.c.id == oneoff_id).values(status="removed"))


# --- `broadcast schedule` ---


def listing(
    engine: Engine,
    cfg: Config,
    now: datetime,
    days: int,
    as_json: bool,
    date_from: str | None = None,
) -> str:
    """What will air from now (or from the start of ``date_from``) for ``days`` days, by the
    same plan the daemon follows; slot times a station rule suppresses are listed with why."""
    from dataclasses import replace
    from datetime import timedelta

    from . import queue, schedule
    from .approval import schedule_remarks
    from .console import cut, table, to_json, villages_text
    from .listen import verdict
    from .programmes import listing as programme_listing
    from .rules import zones_of

    if days < 1:
        raise QueueError(f"--days: 天数应至少为 1（得到 {days}）")
    tz = cfg.station.tz
    start = now
    if date_from is not None:
        start = datetime.combine(queue.parse_date(date_from, "--from"), time(0, 0), tzinfo=tz)
    warnings: list[str] = []
    rules = cfg.rules if as_json else replace(cfg.rules, warn=warnings.append)
    with engine.connect() as conn:
        state = load_state(conn, tz)
        progs = {p.id: p for p in programme_listing(conn, include_superseded=True)}
    items = schedule.plan(
        state, cfg.slots, start, start + timedelta(days=days), tz, list(cfg.villages), rules
    )
    with engine.connect() as conn:  # what approval keeps off the air (未审核, changed file)
        blocked = schedule_remarks(
            conn, cfg, {p.programme_id for p in items if p.programme_id and not p.suppressed}
        )
    if blocked and not as_json:
        warnings.append(
            f"警告：{len(blocked)} 个节目因审核不会播出（见备注）；"
            "用 `broadcast approvals list --pending` 查看，`broadcast approve 节目编号 --by 姓名` 审核"
        )

    def heard(programme_id: int | None) -> str | None:
        p = progs.get(programme_id) if programme_id else None
        if p is None or p.engine == "recording":
            return None
        return verdict(p.listen_cer, cfg.tts.listen_check_max_cer)

    if as_json:
        return to_json(
            [
                {
                    "at": p.at.isoformat(),
                    "key": p.key,
                    "kind": p.kind,
                    "slot": p.slot_name,
                    "oneoff_id": p.oneoff.id if p.oneoff else None,
                    "queue_entry_id": p.entry.entry_id if p.entry else None,
                    "programme_id": p.programme_id,
                    "title": p.title,
                    "topic": p.topic,
                    "villages": list(p.villages),
                    "zones": list(zones_of(p.villages, cfg.zones)),
                    "suppressed": p.suppressed,
                    "refused": p.refused,
                    "listen_check": heard(p.programme_id),
                    "approval": blocked.get(p.programme_id) if p.programme_id else None,
                }
                for p in items
            ]
        )
    if not items:
        return "\n".join([*warnings, f"今后 {days} 天没有安排播出。"])
    rows = [
        (
            p.at.strftime("%m-%d %H:%M:%S"),
            (f"{'转播' if p.kind == 'relay' else '单次'} {p.oneoff.id}")
            if p.oneoff
            else f"{p.slot_name or '定时'}",
            "（不播出）" if p.suppressed else (cut(p.title, 30) if p.title else "（无可播节目）"),
            p.topic or "",
            p.suppressed
            or p.refused
            or blocked.get(p.programme_id or 0)
            or _remark(p.programme_id, heard(p.programme_id)),
            cut(villages_text(p.villages, list(cfg.villages)), 24),
        )
        for p in items
    ]
    return "\n".join([*warnings, table(("时间", "时段", "节目", "主题", "备注", "覆盖村"), rows)])


def _remark(programme_id: int | None, heard: str | None) -> str:
    from .listen import UNCLEAR

    if not programme_id:
        return "无节目"
    if heard == UNCLEAR:
        return "可能听不清"
    if heard == "未检查":
        return "未做收听检查"
    return ""


def add_oneoff(
    engine: Engine,
    cfg: Config,
    at: str,
    item: str,
    villages: str | None,
    now: datetime,
    zones: str | None = None,
    relay: bool = False,
) -> str:
    """`schedule add`: ITEM is a script id (its current programme) or p<ID> (that programme);
    ``relay``: a relayed county/town programme (上级转播), which pre-empts daily airings."""
    import re

    from . import programmes, queue, schedule
    from .console import villages_text

    when = schedule.parse_at(at, cfg.station.tz)
    chosen = queue.parse_targets(villages, zones, cfg.villages, cfg.zones)
    with engine.begin() as conn:
        prog, fixed = programmes.for_item(conn, item)
        script_id, programme_id, title = prog.script_id, prog.id if fixed else None, prog.title
        new_id = insert_oneoff(
            conn,
            at=when,
            script_id=script_id,
            programme_id=programme_id,
            villages=chosen,
            now=now,
            rules=cfg.rules,
            seconds=prog.duration_s,
            all_villages=list(cfg.villages),
            kind="relay" if relay else "daily",
            zones=tuple(n for n in re.split(r"[,，、\s]+", zones or "") if n),
        )
    what = f"{cfg.priorities.relay}（优先于日常播出）" if relay else "单次播出"
    return (
        f"已安排{what} {new_id}：{when:%Y-%m-%d %H:%M:%S} 播出《{title}》，"
        f"覆盖{villages_text(chosen)}"
    )


def remove_oneoff(engine: Engine, oneoff_id: int) -> str:
    """`schedule remove`."""
    with engine.begin() as conn:
        delete_oneoff(conn, oneoff_id)
    return f"已取消单次播出 {oneoff_id}"
