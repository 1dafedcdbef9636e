"""The daemon's clocks: the only place in the station that reads them.

Every clock read of the daemon goes through a :class:`Clock` (``Daemon(clock=...)``, the
system clock by default), so that tests drive the airing logic step by step on a fake clock
in-process. Everything outside the daemon takes ``now`` as a parameter.
"""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .config import Config


class Clock(Protocol):
    """The daemon's clocks: wall (aware, and as epoch seconds) and monotonic."""

    def now(self, tz: tzinfo) -> datetime:
        """The wall clock in ``tz``."""
        ...

    def time(self) -> float:
        """The wall clock in seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """A clock that never steps (seconds, arbitrary origin)."""
        ...


class SystemClock:
    """The real clocks."""

    def now(self, tz: tzinfo) -> datetime:
        return datetime.now(tz)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()


def now(cfg: Config, clock: Clock = SYSTEM_CLOCK) -> datetime:
    """The wall clock in the station's timezone."""
    return clock.now(cfg.station.tz)
