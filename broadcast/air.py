"""Who holds the air: one airing at a time, higher priority levels first.

Levels (``config_sections.Priorities.level``): 3 应急 (emergency), 2 上级转播 (relay), 1 日常 (slots,
one-offs). :meth:`Air.take` waits for the output: a higher level interrupts a lower one on air
(its row becomes ``interrupted`` with the reason given) and goes before lower ones waiting, which
顺延 within their grace. The daemon's airing threads (airing, relay, emergency watcher) share
one :class:`Air`; nothing here reads a clock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .playback import Stop

KIND_OF = {3: "emergency", 2: "relay", 1: "slot"}  # a level's kind, for its configured name


class Air:
    """The output lock with priorities: the levels waiting, the level holding it, and the
    airing on air (to interrupt it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held from take() to give()
        self.gate = threading.Condition()  # guards the fields below
        self.waiting: list[int] = []
        self.holder: int | None = None  # level holding the lock
        self.current: tuple[int, Stop] | None = None  # (level, its Stop) of the airing on air

    def take(self, level: int, reason: str) -> tuple[bool, int | None]:
        """Wait for the output, higher levels first. Returns whether it had to wait and the
        last higher level it waited behind (None: none, or only an equal or lower one)."""
        with self.gate:
            self.waiting.append(level)
            if self.current is not None and self.current[0] < level:
                self.current[1].interrupt(reason)
        waited = False
        behind: int | None = None
        try:
            while True:
                if not self.lock.acquire(blocking=False):
                    with self.gate:
                        if self.holder is not None and self.holder > level:
                            behind = self.holder
                    waited = True
                    self.lock.acquire()
                with self.gate:
                    if max(self.waiting) <= level:
                        self.holder = level
                        return waited, behind
                self.lock.release()  # a higher level is waiting: it goes first
                waited = True
                with self.gate:
                    behind = max(self.waiting)
                    self.gate.wait_for(lambda: max(self.waiting) <= level)
        finally:
            with self.gate:
                self.waiting.remove(level)
                self.gate.notify_all()

    def give(self) -> None:
        """Release the output taken by :meth:`take`."""
        with self.gate:
            self.holder = None
        self.lock.release()

    def outranked(self, level: int) -> int | None:
        """The highest level above ``level`` waiting for the air, or None."""
        with self.gate:
            top = max(self.waiting, default=0)
        return top if top > level else None

    def on(self, level: int, stop: Stop) -> None:
        """An airing of ``level`` is on air; ``stop`` interrupts it."""
        with self.gate:
            self.current = (level, stop)

    def off(self) -> None:
        """Nothing is on air."""
        with self.gate:
            self.current = None

    def stop_current(self) -> None:
        """Stop the airing on air (shutting down)."""
        with self.gate:
            if self.current is not None:
                self.current[1].set()

    def wait_free(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the airing in progress to end."""
        if self.lock.acquire(timeout=timeout):
            self.lock.release()
