"""The daemon's airing logic on a fake clock, in-process: the real Daemon, the real SQLite file
and the real schedule; only time and APScheduler's timing are simulated.

- :class:`FakeClock` is the daemon's :class:`broadcast.daemon_clock.Clock`; it moves only when told.
- :class:`FakePlayer` "plays" by advancing the fake clock (progress every PROGRESS_EVERY s).
- :class:`FakeScheduler` is the part of APScheduler that :meth:`Daemon.reconcile` uses (add,
  list, remove jobs), holding the date jobs it is given.
- :class:`Driver` steps time: every RECONCILE_SECONDS it calls ``Daemon.tick`` (one round of
  the reconciler thread), and it fires due jobs one by one in the order they came due through
  ``daemon_jobs.fire`` (what APScheduler's one-thread airing executor does), so a job that comes due
  during an airing runs when that airing ends — late, behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from broadcast.daemon import RECONCILE_SECONDS, Daemon
from broadcast.players import PROGRESS_EVERY


class FakeClock:
    """Wall and monotonic clocks that move together, and only by :meth:`advance`."""

    def __init__(self, start: datetime):
        self.wall = start
        self.mono = 1000.0

    def now(self, tz: tzinfo) -> datetime:
        return self.wall.astimezone(tz)

    def time(self) -> float:
        return self.wall.timestamp()

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def step(self, seconds: float) -> None:
        """The wall clock alone steps (settimeofday, NTP): the monotonic clock does not."""
        self.wall += timedelta(seconds=seconds)


@dataclass
class FakePlayer:
    """Plays nothing and takes the programme's duration on the fake clock; ``during(seconds)``
    runs at each progress step (a test's way to act in the middle of an airing)."""

    clock: FakeClock
    name: str = "null"
    audible: bool = False
    during: Callable[[float], None] | None = None
    played: list[tuple[Path, float]] = field(default_factory=list)

    def play(
        self,
        file: Path,
        duration: float,
        stop: threading.Event,
        on_progress: Callable[[float], None],
    ) -> tuple[float, bool]:
        self.played.append((file, duration))
        played = 0.0
        while played < duration:
            step = min(PROGRESS_EVERY, duration - played)
            self.clock.advance(step)
            played += step
            if self.during is not None:
                self.during(played)
            if stop.is_set():
                return played, False
            if played < duration:
                on_progress(played)
        return duration, True


@dataclass
class Job:
    id: str
    func: Callable[..., None]
    args: list[Any]
    at: datetime


class FakeScheduler:
    """The job-store surface of APScheduler's scheduler that the daemon uses."""

    running = False

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}

    def get_jobs(self) -> list[Job]:
        return list(self.jobs.values())

    def add_job(
        self, func: Callable[..., None], trigger: Any, *, args: list[Any], id: str, **_: Any
    ):
        self.jobs[id] = Job(id, func, list(args), trigger.run_date)

    def remove_job(self, job_id: str) -> None:
        del self.jobs[job_id]


class Driver:
    """An in-process daemon for ``config`` on a fake clock starting at ``start``."""

    def __init__(self, config: Path, start: datetime):
        from broadcast import config as config_module
        from broadcast import db

        self.cfg = config_module.load(str(config))
        self.clock = FakeClock(start)
        self.engine = db.open_station(self.cfg.database_url, start.isoformat())
        self.player = FakePlayer(self.clock)
        self.lines: list[str] = []
        self.daemon = Daemon(
            self.cfg, self.engine, self.player, self.lines.append, clock=self.clock
        )
        self.scheduler = FakeScheduler()
        self.daemon.scheduler = self.scheduler
        self.executor: list[Job] = []  # the airing executor's queue (one thread)
        self.next_tick = self.clock.monotonic() + RECONCILE_SECONDS  # the reconciler's next round

    def text(self) -> str:
        return "\n".join(self.lines)

    def now(self) -> datetime:
        return self.daemon.now()

    def start(self) -> None:
        """What `Daemon.run` does before the scheduler starts."""
        self.daemon.recover_and_catch_up()
        self.daemon._clocks = (self.clock.monotonic(), self.clock.time())
        self.next_tick = self.clock.monotonic() + RECONCILE_SECONDS
        self.daemon.check_config()
        self.daemon.safe_reconcile()

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now() + timedelta(seconds=seconds))

    def run_until(self, end: datetime) -> None:
        """Until ``end``: hand due jobs to the airing executor (in the order they came due),
        reconcile every RECONCILE_SECONDS, run the executor's jobs one by one."""
        while True:
            t = self.now()
            # APScheduler hands a date job to the executor at its time, even while an airing
            # runs, and drops it from the job store: a reconcile no longer sees it
            for job in sorted(self.scheduler.jobs.values(), key=lambda j: j.at):
                if job.at <= t:
                    self.executor.append(self.scheduler.jobs.pop(job.id))
            if self.clock.monotonic() >= self.next_tick:
                self.daemon.tick()
                self.next_tick = self.clock.monotonic() + RECONCILE_SECONDS
                continue
            if self.executor:
                job = self.executor.pop(0)
                job.func(*job.args)
                continue
            if t >= end:
                return
            soonest = min((j.at for j in self.scheduler.jobs.values()), default=end)
            step = min(
                self.next_tick - self.clock.monotonic(),
                (min(soonest, end) - t).total_seconds(),
            )
            self.clock.advance(max(step, 0.0))

    def close(self) -> None:
        self.engine.dispose()
