"""What airs when: slots × queue rotation × one-offs. Pure: state and ``now`` in, airings out.

The daemon and ``broadcast schedule list`` call the same functions, so what the staff see
planned is what the daemon will do. Rotation: each slot airs the next active queue entries in
queue order, continuing after the entry the last slot airing played, skipping entries outside
their dates, without a programme, not meant for the slot's villages, or with their ``--times``
used up.

Station rules (rules.py) apply here, so the daemon only follows the plan: a slot time on a
no-broadcast day or a skipped holiday is *suppressed* (listed with its reason, never an airing,
never missed); villages under a partial blackout drop out of an airing; an airing whose
programme would start in or run into quiet hours is *refused* (the daemon records it missed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from .errors import ScheduleError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from .config_sections import Slot
    from .rules import Rules


@dataclass(frozen=True)
class Candidate:
    """A queue entry as the rotation sees it."""

    entry_id: int
    position: int
    script_id: int
    title: str
    topic: str
    times: int | None
    completed: int
    date_from: date | None
    date_until: date | None
    villages: tuple[str, ...] | str
    programme_id: int | None
    duration_s: float | None = None  # of the programme it would air

    def airs_on(self, day: date) -> bool:
        return (
            self.programme_id is not None
            and (self.times is None or self.completed < self.times)
            and (self.date_from is None or day >= self.date_from)
            and (self.date_until is None or day <= self.date_until)
        )


@dataclass(frozen=True)
class OneOff:
    id: int
    at: datetime
    script_id: int
    title: str
    topic: str
    programme_id: int | None
    villages: tuple[str, ...] | str
    duration_s: float | None = None
    kind: str = "daily"  # daily | relay (上级转播: pre-empts daily airings)
    zones: tuple[str, ...] = ()  # the zones asked for with --zones


@dataclass(frozen=True)
class State:
    """Everything the plan depends on, read from the station database."""

    candidates: tuple[Candidate, ...]
    oneoffs: tuple[OneOff, ...]
    last_entry_id: int | None
    last_position: int | None = None  # its place in the queue (kept when it was removed)


@dataclass(frozen=True)
class Planned:
    """One airing that will happen (or, with no entry, a slot with nothing to play)."""

    key: str  # schedule_key of the airing row
    kind: str  # slot | oneoff | relay
    at: datetime
    slot_name: str | None
    villages: tuple[str, ...]
    entry: Candidate | None = None
    oneoff: OneOff | None = None
    suppressed: str | None = None  # a station rule says no airing here (not an airing at all)
    refused: str | None = None  # it would run into quiet hours: not started, recorded missed

    @property
    def programme_id(self) -> int | None:
        if self.entry is not None:
            return self.entry.programme_id
        return self.oneoff.programme_id if self.oneoff is not None else None

    @property
    def title(self) -> str | None:
        if self.entry is not None:
            return self.entry.title
        return self.oneoff.title if self.oneoff is not None else None

    @property
    def topic(self) -> str | None:
        if self.entry is not None:
            return self.entry.topic
        return self.oneoff.topic if self.oneoff is not None else None


def slot_key(slot: Slot) -> str:
    return f"slot:{slot.time.strftime('%H:%M:%S')}"


def resolve_villages(
    wanted: tuple[str, ...] | str, allowed: tuple[str, ...] | str, all_villages: Sequence[str]
) -> tuple[str, ...]:
    """Names covered by ``wanted`` ∩ ``allowed`` ("all" = every configured village), in config order."""
    a = set(all_villages if wanted == "all" else wanted)
    b = set(all_villages if allowed == "all" else allowed)
    return tuple(v for v in all_villages if v in a and v in b)


def runs_on(slot: Slot, day: date, rules: Rules | None) -> bool:
    """Does ``slot`` run on ``day``? A ``skip_holidays`` slot on every weekday (mon-fri) follows
    the statutory calendar: it also runs on 调休 working weekend days."""
    if day.weekday() in slot.days:
        return True
    if rules is None or not slot.skip_holidays or not set(range(5)) <= set(slot.days):
        return False
    from .rules import statutory

    return statutory(day, rules).workday


def slot_for(slots: Sequence[Slot], key: str, at: datetime, rules: Rules | None) -> Slot | None:
    """The slot with ``key`` that runs at ``at`` (slots may share a time on different days),
    or None when no such slot is configured any more."""
    return next((s for s in slots if slot_key(s) == key and runs_on(s, at.date(), rules)), None)


def _open_villages(
    at: datetime, villages: tuple[str, ...], rules: Rules | None
) -> tuple[tuple[str, ...], str | None]:
    """``villages`` minus those under a blackout at ``at``, and the blackout's reason."""
    if rules is None or not rules.blackouts:
        return villages, None
    from .rules import blacked_out

    blocked, reason = blacked_out(at, villages or ("*",), rules)
    return tuple(v for v in villages if v not in blocked), reason if blocked else None


def suppression(
    slot: Slot, at: datetime, rules: Rules | None, all_villages: Sequence[str]
) -> str | None:
    """Why this slot time does not air at all (holiday, blackout everywhere it covers), or None."""
    if rules is None:
        return None
    if slot.skip_holidays:
        from .rules import holiday_skip

        reason = holiday_skip(at.date(), rules)
        if reason:
            return reason
    covered = resolve_villages("all", slot.villages, all_villages) if all_villages else ()
    left, reason = _open_villages(at, covered, rules)
    if reason and not left:
        return f"禁播：{reason}"
    return None


def slot_times(
    slots: Sequence[Slot],
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    rules: Rules | None = None,
    all_villages: Sequence[str] = (),
) -> list[tuple[Slot, datetime, str | None]]:
    """Every slot time in [start, end), in order, with the reason when a rule suppresses it."""
    out: list[tuple[Slot, datetime, str | None]] = []
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        for slot in slots:
            if runs_on(slot, day, rules):
                at = datetime.combine(day, slot.time, tzinfo=tz)
                if start <= at < end:
                    out.append((slot, at, suppression(slot, at, rules, all_villages)))
        day += timedelta(days=1)
    return sorted(out, key=lambda x: x[1])


def occurrences(
    slots: Sequence[Slot],
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    rules: Rules | None = None,
    all_villages: Sequence[str] = (),
) -> list[tuple[Slot, datetime]]:
    """Every slot time in [start, end) that may air, in order (wall-clock times in the station
    timezone); times suppressed by ``rules`` are left out: they are neither airings nor missed."""
    return [
        (slot, at)
        for slot, at, why in slot_times(slots, start, end, tz, rules, all_villages)
        if why is None
    ]


def pick(
    candidates: Sequence[Candidate],
    after_entry: int | None,
    n: int,
    day: date,
    slot_villages: tuple[str, ...] | str,
    all_villages: Sequence[str],
    after_position: int | None = None,
) -> list[Candidate]:
    """The next ``n`` entries after ``after_entry`` in queue order (round robin, each once).

    When that entry has since been removed, the rotation goes on from its old place: the
    entries behind it moved up one, to positions ≥ ``after_position``."""
    order = sorted(candidates, key=lambda c: c.position)
    ids = [c.entry_id for c in order]
    start = 0
    if after_entry in ids:
        start = ids.index(after_entry) + 1
    elif after_position is not None:
        start = next((i for i, c in enumerate(order) if c.position >= after_position), 0)
    rotated = order[start:] + order[:start]
    chosen: list[Candidate] = []
    for c in rotated:
        if len(chosen) == n:
            break
        if c.airs_on(day) and resolve_villages(c.villages, slot_villages, all_villages):
            chosen.append(c)
    return chosen


def _refusal(start: datetime, seconds: float | None, rules: Rules | None) -> str | None:
    if rules is None:
        return None
    from .rules import quiet_conflict, quiet_reason

    w = quiet_conflict(start, seconds or 0.0, rules)
    return quiet_reason(w, seconds) if w else None


def slot_airings(
    state: State,
    slot: Slot,
    at: datetime,
    all_villages: Sequence[str],
    rules: Rules | None = None,
) -> list[Planned]:
    """The airings one slot occurrence makes: ``slot.programmes`` of them, each keyed #1, #2 …
    (a key with no entry means nothing could be played there). Villages under a blackout drop
    out; an airing that would run into quiet hours (one after another from ``at``) is refused."""
    slot_villages: tuple[str, ...] | str = slot.villages
    if rules is not None and rules.blackouts:
        open_, _ = _open_villages(at, resolve_villages("all", slot.villages, all_villages), rules)
        slot_villages = open_
    chosen = pick(
        state.candidates,
        state.last_entry_id,
        slot.programmes,
        at.date(),
        slot_villages,
        all_villages,
        state.last_position,
    )
    out = []
    start = at
    for i in range(slot.programmes):
        key = f"{slot_key(slot)}#{i + 1}"
        if i < len(chosen):
            c = chosen[i]
            villages = resolve_villages(c.villages, slot_villages, all_villages)
            refused = _refusal(start, c.duration_s, rules)
            out.append(
                Planned(key, "slot", at, slot.name or None, villages, entry=c, refused=refused)
            )
            start += timedelta(seconds=c.duration_s or 0.0)
        else:
            villages = resolve_villages("all", slot_villages, all_villages)
            out.append(Planned(key, "slot", at, slot.name or None, villages))
    return out


def oneoff_airing(o: OneOff, all_villages: Sequence[str], rules: Rules | None = None) -> Planned:
    villages = resolve_villages(o.villages, "all", all_villages)
    open_, reason = _open_villages(o.at, villages, rules)
    return Planned(
        f"oneoff:{o.id}",
        "relay" if o.kind == "relay" else "oneoff",
        o.at,
        None,
        open_ if open_ else villages,
        oneoff=o,
        suppressed=f"禁播：{reason}" if reason and not open_ else None,
        refused=_refusal(o.at, o.duration_s, rules),
    )


def past_airings(
    state: State,
    slots: Sequence[Slot],
    since: datetime | None,
    until: datetime,
    lookback: datetime,
    tz: ZoneInfo,
    rules: Rules | None,
    all_villages: Sequence[str],
) -> list[Planned]:
    """What was due while no daemon ran: the slot airings from ``since`` to ``until`` (none when
    ``since`` is None: nothing was expected before a first run), with no entry, and the one-offs
    from ``lookback`` to ``until`` that a rule does not suppress (a no-broadcast time is not
    missed)."""
    past: list[Planned] = []
    if since is not None:
        for slot, at in occurrences(slots, since, until, tz, rules, all_villages):
            past += [replace(p, entry=None) for p in slot_airings(state, slot, at, all_villages)]
    ones = [
        oneoff_airing(o, all_villages, rules) for o in state.oneoffs if lookback <= o.at < until
    ]
    return past + [p for p in ones if not p.suppressed]


def _advance(state: State, played: Sequence[Planned]) -> State:
    """The state after ``played`` completed (for looking further ahead)."""
    played = [p for p in played if p.refused is None and p.suppressed is None]
    done = {p.entry.entry_id for p in played if p.entry is not None}
    if not done:
        return state
    cands = tuple(
        replace(c, completed=c.completed + 1) if c.entry_id in done else c for c in state.candidates
    )
    last = next((p.entry.entry_id for p in reversed(played) if p.entry is not None), None)
    pos = next((c.position for c in cands if c.entry_id == last), None)
    return replace(state, candidates=cands, last_entry_id=last, last_position=pos)


def plan(
    state: State,
    slots: Sequence[Slot],
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    all_villages: Sequence[str],
    rules: Rules | None = None,
) -> list[Planned]:
    """Airings from ``start`` to ``end``, assuming each one completes; slot times a rule
    suppresses are included, marked ``suppressed`` (so they can be listed with the reason)."""
    events: list[tuple[datetime, int, object, str | None]] = [
        (at, 0, slot, why)
        for slot, at, why in slot_times(slots, start, end, tz, rules, all_villages)
    ]
    events += [(o.at, 1, o, None) for o in state.oneoffs if start <= o.at < end]
    out: list[Planned] = []
    for at, kind, obj, why in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0 and why is not None:
            slot: Slot = obj  # type: ignore[assignment]
            villages = resolve_villages("all", slot.villages, all_villages)
            out.append(
                Planned(
                    f"{slot_key(slot)}#1", "slot", at, slot.name or None, villages, suppressed=why
                )
            )
        elif kind == 0:
            made = slot_airings(state, obj, at, all_villages, rules)  # type: ignore[arg-type]
            state = _advance(state, made)
            out += made
        else:
            out.append(oneoff_airing(obj, all_villages, rules))  # type: ignore[arg-type]
    return out


# --- one-offs ---


def parse_at(value: str, tz: ZoneInfo, option: str = "--at") -> datetime:
    """'2026-12-04 09:00' or with seconds -> aware datetime in the station timezone."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise ScheduleError(
        f'{option}: 时间无效：{value}；请写成 "2026-12-04 09:00" 或 "2026-12-04 09:00:30"'
    )


def check_oneoff(
    at: datetime,
    villages: tuple[str, ...] | str,
    rules: Rules | None,
    seconds: float | None = None,
    all_villages: Sequence[str] = (),
) -> None:
    """Refuse a one-off that would start in or run into quiet hours, or that falls on a
    no-broadcast time everywhere it would be heard (ScheduleError, one line)."""
    if rules is None:
        return
    from .rules import quiet_conflict

    w = quiet_conflict(at, seconds or 0.0, rules)
    if w is not None:
        into = "在" if w.contains(at.time()) else "播出时会进入"
        raise ScheduleError(
            f"--at: {at:%H:%M} {into}静音时段 {w}，不能安排播出（{w.law()}）；请改到静音时段以外"
        )
    covered = resolve_villages(villages, "all", all_villages) if all_villages else ()
    left, reason = _open_villages(at, covered, rules)
    if reason and not left:
        raise ScheduleError(f"--at: {at:%Y-%m-%d %H:%M} 是禁播时间（{reason}）；请换一个时间")
