"""The daemon's plan, given ``now``: which airings were missed while no daemon ran, and which
slot times and one-offs get a job.

Both read the schedule (:mod:`schedule`, :mod:`schedule_db`) against the airing log
(:mod:`airlog`) and never read the clock: the daemon passes ``now`` in. :func:`record_missed`
runs once at start-up and writes a ``missed`` row for every slot time and pending one-off that
passed beyond the grace while nothing could air (:func:`schedule.past_airings`);
:func:`desired_jobs` runs at every reconcile and lists what is due from ``now`` − grace to the
lookahead and not yet in the log — the daemon hands those to APScheduler.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from .config import Config

QUEUED_BEHIND = timedelta(hours=1)  # how long a slot may have waited behind airings at a crash
LOOKAHEAD = timedelta(hours=26)
MISSED_LOOKBACK = timedelta(days=31)  # how far back an outage is written into the log

Job = tuple[datetime, str, int | None]  # (time, kind, one-off id)


def record_missed(
    engine: Engine,
    cfg: Config,
    t: datetime,
    grace: timedelta,
    previous: tuple[str | None, str | None],
    operator: str,
) -> int:
    """Write ``missed`` rows for what passed while down; ``previous`` is the last run's
    (started_at, last_seen), both None on the first run. Returns how many rows were written."""
    from . import airlog, schedule, schedule_db

    prev_start, last_seen = previous
    # Slot times since the last heartbeat (none on the first run: nothing was expected
    # before), and pending one-offs, that are now beyond the grace and never aired.
    until = t - grace
    since = None
    if last_seen is not None:  # a slot may have been waiting behind an airing at the crash
        since = max(
            datetime.fromisoformat(last_seen) - grace - QUEUED_BEHIND,
            datetime.fromisoformat(prev_start or last_seen),
            t - MISSED_LOOKBACK,
        )
    n = 0
    with engine.begin() as conn:
        state = schedule_db.load_state(conn, cfg.station.tz)
        past = schedule.past_airings(
            state,
            cfg.slots,
            since,
            until,
            t - MISSED_LOOKBACK,
            cfg.station.tz,
            cfg.rules,
            list(cfg.villages),
        )
        for p in past:
            if not airlog.exists(conn, p.key, p.at.isoformat()):
                reason = "广播程序未运行（停电、关机或程序未启动）"
                n += airlog.insert_missed(conn, p, operator, reason) is not None
    return n


def desired_jobs(conn: Connection, cfg: Config, t: datetime, grace: timedelta) -> dict[str, Job]:
    """job id -> (time, kind, one-off id) for everything due from ``t``−grace to the lookahead."""
    from . import airlog, schedule, schedule_db

    jobs: dict[str, Job] = {}
    start = t - grace
    rules, villages = cfg.rules, list(cfg.villages)
    for slot, at in schedule.occurrences(  # suppressed slot times get no job
        cfg.slots, start, t + LOOKAHEAD, cfg.station.tz, rules, villages
    ):
        key = schedule.slot_key(slot)
        keys = [f"{key}#{i}" for i in range(1, slot.programmes + 1)]
        if not all(airlog.exists(conn, k, at.isoformat()) for k in keys):
            jobs[f"{key}@{at.isoformat()}"] = (at, key, None)
    for o in schedule_db.load_state(conn, cfg.station.tz).oneoffs:
        if (
            start <= o.at < t + LOOKAHEAD
            and not schedule.oneoff_airing(o, villages, rules).suppressed
            and not airlog.exists(conn, f"oneoff:{o.id}", o.at.isoformat())
        ):
            kind = "relay" if o.kind == "relay" else "oneoff"
            jobs[f"oneoff:{o.id}@{o.at.isoformat()}"] = (o.at, kind, o.id)
    return jobs
