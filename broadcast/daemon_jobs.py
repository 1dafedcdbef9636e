"""The daemon's job bodies: what a slot time or a one-off airs once its job holds the air.

:func:`fire` (the function each date job runs) takes the air (:class:`air.Air`) and calls
:func:`air_job`, which plans the airings from the database (:mod:`schedule`) and airs them one by one
(:func:`air_planned`: :func:`playback.air` with the reason a late start gets). The daemon passes
itself in: its clock, database, player, log and the state of the job now running (``waited``,
``behind``, ``jumped``) are what these use.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .daemon import Daemon
    from .schedule import Planned

LATE_TOLERANCE = 1.0  # seconds a job may start late on a busy PC before the grace counts


def fire(d: Daemon, kind: str, at: datetime, oneoff_id: int | None) -> None:
    """A job's body: air what this slot or one-off stands for (one by one)."""
    level = d.cfg.priorities.level(kind)
    reason = f"{d.cfg.priorities.name(kind)}优先：{_title(d, oneoff_id) or ''}".rstrip("：")
    waited, higher = d.on_air.take(level, reason)
    d.behind = d.level_name(higher) if higher is not None else None
    try:  # held while airing, so shutting down can wait for the row to be final
        # queued behind an airing: one was on air, or one ended the moment this job began
        just_ended = (
            d.last_end is not None
            and d.clock.monotonic() - d.last_end[0] < 1.0
            and at < d.last_end[1]
        )
        if just_ended and d.last_level > level:  # it came due behind a higher level
            d.behind = d.level_name(d.last_level)
        d.waited = waited or just_ended
        air_job(d, kind, at, oneoff_id)
    finally:
        d.last_end = (d.clock.monotonic(), d.now())
        d.last_level = level
        d.on_air.give()


def _title(d: Daemon, oneoff_id: int | None) -> str | None:
    if oneoff_id is None:
        return None
    from sqlalchemy import select

    from .db import oneoffs, scripts

    try:
        with d.engine.connect() as conn:
            return conn.execute(
                select(scripts.c.title)
                .join(oneoffs, oneoffs.c.script_id == scripts.c.id)
                .where(oneoffs.c.id == oneoff_id)
            ).scalar()
    except Exception:  # noqa: BLE001 - only for the reason's wording
        return None


def air_job(d: Daemon, kind: str, at: datetime, oneoff_id: int | None) -> None:
    """A slot time's or one-off's airings, one by one, once the job holds the air; an error is
    logged and recorded ``failed``, never raised (a job must not take the daemon down)."""
    from . import schedule, schedule_db

    if d.stop.is_set():
        return
    try:
        if kind in ("oneoff", "relay"):
            with d.engine.connect() as conn:
                state = schedule_db.load_state(conn, d.cfg.station.tz)
            one = next((o for o in state.oneoffs if o.id == oneoff_id), None)
            if one is not None:
                air_planned(d, schedule.oneoff_airing(one, list(d.cfg.villages), d.cfg.rules))
            return
        # slots may share a time on different days: the one for this day
        slot = schedule.slot_for(d.cfg.slots, kind, at, d.cfg.rules)
        if slot is None:  # the slot was taken out of config.toml meanwhile
            return
        with d.engine.connect() as conn:
            state = schedule_db.load_state(conn, d.cfg.station.tz)
        villages = list(d.cfg.villages)
        for planned in schedule.slot_airings(state, slot, at, villages, d.cfg.rules):
            if d.stop.is_set():
                break
            higher = d.on_air.outranked(1)
            if higher is not None:  # the rest of an interrupted slot is not replayed later
                refused = f"{d.level_name(higher)}插播，本时段其余节目不再补播"
                air_planned(d, replace(planned, refused=refused))
                continue
            air_planned(d, planned)
    except Exception as e:  # noqa: BLE001 - a job must never take the daemon down
        from sqlalchemy.exc import SQLAlchemyError

        from .db import describe_db_error

        said = describe_db_error(e) if isinstance(e, SQLAlchemyError) else str(e)[:200]
        d.log(f"错误：{kind} {at:%H:%M:%S} 播出出错：{said}")
        record_failure(d, kind, at, oneoff_id, f"广播程序内部错误：{e.__class__.__name__}: {said}")


def record_failure(d: Daemon, kind: str, at: datetime, oneoff_id: int | None, reason: str) -> None:
    """Nothing is silently skipped: an airing that could not even be attempted is `failed`."""
    from .airlog_journal import KEPT

    key = f"oneoff:{oneoff_id}" if kind in ("oneoff", "relay") else f"{kind}#1"
    kept = d.journal.write(
        d.engine,
        "insert",
        values=dict(
            schedule_key=key,
            kind=kind if kind in ("oneoff", "relay") else "slot",
            scheduled_at=at.isoformat(),
            villages=(),
            status="failed",
            operator=d.operator,
            audience=0,
            oneoff_id=oneoff_id,
            reason=reason,
        ),
    )
    if kept is KEPT:
        d.trouble(f"{d.journal.problem}，播出记录暂存，恢复后自动写入")


def air_planned(d: Daemon, p: Planned) -> None:
    """One planned airing: suppressed (nothing), refused (recorded missed) or played through
    :func:`playback.air`, with the reason it would be late (顺延, queued, a clock step)."""
    from .playback import Request, air

    if p.suppressed:  # a rule says nothing airs here: not an airing, not missed
        return
    if p.refused:  # it would run into quiet hours: not started, recorded missed
        from . import airlog

        with d.engine.begin() as conn:
            airlog.insert_missed(conn, p, d.operator, p.refused)
        d.log(f"{p.at:%H:%M:%S} {p.title or '（无节目）'}：未播出，{p.refused}")
        return

    req = Request(
        key=p.key,
        kind=p.kind,
        scheduled_at=p.at,
        villages=p.villages,
        operator=d.operator,
        programme_id=p.programme_id,
        queue_entry_id=p.entry.entry_id if p.entry else None,
        slot_name=p.slot_name,
        oneoff_id=p.oneoff.id if p.oneoff else None,
        title=p.title,
        topic=p.topic,
    )
    remaining = (p.at + d.grace - d.now()).total_seconds() + LATE_TOLERANCE
    if d.waited and d.behind:  # 下级顺延: it waited behind a higher level
        late = f"顺延：等待{d.behind}播出，超过宽限时间未能开始"
    elif d.waited:  # it queued behind an airing
        late = None
    elif d.jumped is not None and d.jumped[1] > 0:
        late = f"系统时间向前跳变了 {d.jumped[1]:.0f} 秒，跳过了这次播出的宽限时间"
    else:
        late = "超过宽限时间仍未能开始（电脑休眠或过忙）"
    from .playback import Stop

    this = Stop()
    d.on_air.on(d.cfg.priorities.level(p.kind), this)
    if d.stop.is_set():
        this.set()
    try:
        air(
            d.engine,
            d.cfg,
            req,
            d.player,
            d.now,
            this,
            wait_seconds=remaining,
            log=d.log,
            late_reason=late,
            journal=d.journal,
        )
    finally:
        d.on_air.off()
