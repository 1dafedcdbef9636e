"""Station rules from law and township practice: quiet hours, no-broadcast days, holidays.

Pure: every function takes the date or time it is about; nothing here reads the clock.

- Quiet hours (静音时段): daily windows such as ``22:00-06:00`` (night, 《中华人民共和国噪声污染
  防治法》第八十八条) in which nothing starts, and which no airing may run into.
- Blackouts (禁播日): date ranges, optionally only some times of day and some villages, with a
  reason (e.g. 高考 near the school, §33).
- The statutory holiday calendar with its 调休 working days, for slots with ``skip_holidays``:
  ``chinesecalendar`` (official data, published yearly) first, the ``holidays`` package's
  rule-based Chinese calendar for years it does not know yet (warned once per year), and
  ``[rules] holidays`` / ``workdays`` in config.toml over both.

Emergencies are exempt from quiet hours and blackouts (``exempt=True``).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

NIGHT = "《噪声污染防治法》第八十八条：夜间指 22:00 至次日 06:00"
SENSITIVE = "第六十四条：噪声敏感建筑物集中区域禁用高音广播喇叭，紧急情况除外"

_HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


@dataclass(frozen=True)
class Window:
    """A daily clock window [start, end); it may wrap midnight (22:00-06:00)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def wraps(self) -> bool:
        return self.end <= self.start

    def contains(self, t: time) -> bool:
        if self.wraps:
            return t >= self.start or t < self.end
        return self.start <= t < self.end

    def minutes(self) -> set[int]:
        """The minutes of the day it covers (for overlap checks)."""
        a = self.start.hour * 60 + self.start.minute
        b = self.end.hour * 60 + self.end.minute
        if b <= a:
            b += 24 * 60
        return {m % (24 * 60) for m in range(a, b)}

    @property
    def is_night(self) -> bool:
        """Does it cover part of the legal night (22:00-06:00)?"""
        return bool(self.minutes() & NIGHT_WINDOW.minutes())

    def law(self) -> str:
        """Where the window comes from, for messages."""
        if self.is_night:
            return f"{NIGHT}；{SENSITIVE}"
        return "本站 [rules] quiet_hours 规定"


NIGHT_WINDOW = Window(time(22, 0), time(6, 0))


def parse_window(text: str) -> Window:
    """'22:00-06:00' -> Window; ValueError with a Chinese message."""
    import re

    m = re.match(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$", text)
    if not m or int(m[1]) > 23 or int(m[3]) > 24 or int(m[2]) > 59 or int(m[4]) > 59:
        raise ValueError(f'时段格式应如 "22:00-06:00"（got "{text}"）')
    end = time(0, 0) if int(m[3]) == 24 else time(int(m[3]), int(m[4]))
    w = Window(time(int(m[1]), int(m[2])), end)
    if w.start == w.end:
        raise ValueError(f"时段 {text} 的开始和结束相同")
    return w


def overlapping(windows: Iterable[Window]) -> tuple[Window, Window] | None:
    """The first two windows that overlap, or None."""
    seen: list[Window] = []
    for w in windows:
        for other in seen:
            if w.minutes() & other.minutes():
                return other, w
        seen.append(w)
    return None


@dataclass(frozen=True)
class Blackout:
    """No broadcasts from ``date_from`` to ``until`` (inclusive), optionally only at ``times``
    and only in ``villages`` ("all" = everywhere; zones already resolved to their villages)."""

    date_from: date
    until: date
    reason: str
    times: tuple[Window, ...] = ()
    villages: tuple[str, ...] | str = "all"
    zones: tuple[str, ...] = ()  # as written in config, for messages

    def covers(self, at: datetime) -> bool:
        if not self.date_from <= at.date() <= self.until:
            return False
        return not self.times or any(w.contains(at.time()) for w in self.times)


@dataclass(frozen=True)
class Rules:
    """The ``[rules]`` section, validated."""

    quiet_hours: tuple[Window, ...] = (NIGHT_WINDOW,)
    blackouts: tuple[Blackout, ...] = ()
    holidays: tuple[date, ...] = ()  # days off that override the calendars
    workdays: tuple[date, ...] = ()  # 调休 working days that override the calendars
    warn: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


# --- quiet hours ---


def quiet_window_at(t: time, rules: Rules) -> Window | None:
    """The quiet window ``t`` falls in, or None."""
    return next((w for w in rules.quiet_hours if w.contains(t)), None)


def quiet_conflict(
    start: datetime, seconds: float, rules: Rules, *, exempt: bool = False
) -> Window | None:
    """The quiet window an airing from ``start`` lasting ``seconds`` would start in or run
    into, or None. Emergencies are ``exempt``."""
    if exempt:
        return None
    inside = quiet_window_at(start.time(), rules)
    if inside is not None:
        return inside
    end = start + timedelta(seconds=max(seconds, 0.0))
    for w in rules.quiet_hours:
        for d in (start.date(), start.date() + timedelta(days=1)):
            begins = datetime.combine(d, w.start, tzinfo=start.tzinfo)
            if start < begins < end:
                return w
    return None


def quiet_reason(w: Window, seconds: float | None = None) -> str:
    """The airing-log reason for a programme not started because of quiet hours."""
    length = ""
    if seconds:
        m, s = divmod(round(seconds), 60)
        length = f"节目长 {m} 分 {s} 秒，" if m else f"节目长 {s} 秒，"
    return f"{length}会播入静音时段 {w}，未开始播出（{w.law()}）"


def zones_of(villages: Iterable[str], zones: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The zones every village of which is in ``villages`` (for hooks, records, the report)."""
    have = set(villages)
    return tuple(z for z, members in zones.items() if set(members) <= have)


# --- blackouts ---


def blacked_out(
    at: datetime, villages: Iterable[str], rules: Rules, *, exempt: bool = False
) -> tuple[set[str], str | None]:
    """Which of ``villages`` may not hear anything at ``at``, and the first reason."""
    if exempt:
        return set(), None
    wanted = list(villages)
    out: set[str] = set()
    reason = None
    for b in rules.blackouts:
        if not b.covers(at):
            continue
        hit = set(wanted) if b.villages == "all" else set(wanted) & set(b.villages)
        if hit - out:
            out |= hit
            reason = reason or b.reason
    return out, reason


# --- the statutory holiday calendar ---


@dataclass(frozen=True)
class Day:
    """How the statutory calendar sees one date."""

    holiday: str | None  # the holiday's name when it is a statutory day off
    workday: bool  # a 调休 working day (a weekend day people work)
    source: str  # chinesecalendar | holidays | config


_warned: set[int] = set()


def reset_warnings() -> None:
    """Forget which years were warned about (for tests)."""
    _warned.clear()


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")


@functools.cache
def _official_years() -> range:
    """The years chinesecalendar has the State Council's notices for (empty: not installed)."""
    try:
        from chinese_calendar.constants import holidays
    except ImportError:
        return range(0)
    return range(min(holidays).year, max(holidays).year + 1)


@functools.lru_cache(maxsize=64)
def _official(day: date) -> tuple[str | None, bool] | None:
    """chinesecalendar's answer, or None when it has no data for that year."""
    if day.year not in _official_years():
        return None
    import chinese_calendar as cc

    off, name = cc.get_holiday_detail(day)
    if off and name:
        return _HOLIDAY_NAMES.get(name, name), False
    return None, (not off and day.weekday() >= 5)


@functools.lru_cache(maxsize=16)
def _rule_based(year: int) -> dict[date, str]:
    """The ``holidays`` package's rule-based Chinese holidays (no 调休 working days)."""
    try:
        import holidays
    except ImportError:
        return {}
    return dict(holidays.China(years=year, language="zh_CN").items())


def statutory(day: date, rules: Rules) -> Day:
    """Is ``day`` a statutory day off or a 调休 working day? Config lists win; years that
    chinesecalendar has no data for fall back to rule-based dates, with one warning a year."""
    if day in rules.holidays:
        return Day("节假日（本站配置）", False, "config")
    if day in rules.workdays:
        return Day(None, True, "config")
    official = _official(day)
    if official is not None:
        return Day(official[0], official[1], "chinesecalendar")
    if day.year not in _warned:
        _warned.add(day.year)
        (rules.warn or _stderr)(
            f"警告：chinesecalendar 还没有 {day.year} 年的法定节假日数据；"
            f"暂按 holidays 包的规则推算（不含调休上班日），"
            f"国务院公布安排后请升级 chinesecalendar，或在 [rules] holidays / workdays 中写明"
        )
    name = _rule_based(day.year).get(day)
    return Day(name, False, "holidays")


def holiday_skip(day: date, rules: Rules) -> str | None:
    """The reason a ``skip_holidays`` slot does not air on ``day``, or None."""
    d = statutory(day, rules)
    if d.holiday is None:
        return None
    return f"法定节假日（{d.holiday}）不播出"
