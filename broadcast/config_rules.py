"""The [zones] and [rules] tables of config.toml (see rules.py), and a slot's zones and quiet
hours: each function appends its problems to the list it is given, so that
:func:`config.parse` reports every error at once."""

from __future__ import annotations

from typing import Any

from .config_sections import Invalid, Slot, fmt, hint
from .rules import Blackout, Rules, Window, overlapping, parse_window, quiet_window_at

# --- zones and station rules ([zones], [rules]; see rules.py) ---


def parse_zones(
    raw: Any, villages: dict[str, int], problems: list[str]
) -> dict[str, tuple[str, ...]]:
    """[zones] 东片 = ["青石村", "东岭村"] -> {zone: villages}, every village known."""
    if not isinstance(raw, dict):
        problems.append(f'zones: 应为 [zones] 表，每行 分区名 = ["村名", …] (got {fmt(raw)})')
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, members in raw.items():
        if (
            not isinstance(members, list)
            or not members
            or not all(isinstance(v, str) and v for v in members)
        ):
            problems.append(
                f'zones.{name}: 应为村名列表，例如 ["青石村", "东岭村"] (got {fmt(members)})'
            )
            continue
        if name in villages:
            problems.append(f"zones.{name}: 分区名与村名相同；请换一个名字，例如 {name}片")
            continue
        unknown = [v for v in members if villages and v not in villages]
        if unknown:
            problems.append(f"zones.{name}: 未知的村 {unknown[0]!r}，已配置：{'、'.join(villages)}")
            continue
        out[name] = tuple(dict.fromkeys(members))
    return out


def zone_villages(
    zones: dict[str, tuple[str, ...]], names: tuple[str, ...], all_villages: list[str]
) -> tuple[str, ...]:
    """The villages of ``names`` (zones), in config order."""
    wanted = {v for z in names for v in zones.get(z, ())}
    return tuple(v for v in all_villages if v in wanted)


def _dates(v: Any) -> tuple[Any, ...]:
    from datetime import date

    if not isinstance(v, list) or not all(isinstance(d, date | str) for d in v):
        raise Invalid('应为日期列表，例如 ["2027-10-01", "2027-10-02"]')
    out = []
    for d in v:
        try:
            out.append(d if isinstance(d, date) else date.fromisoformat(d))
        except ValueError as e:
            raise Invalid(f'日期无效：{d}；应写成 "2027-10-01"') from e
    return tuple(out)


def _windows(v: Any) -> tuple[Window, ...]:
    if not isinstance(v, list) or not all(isinstance(w, str) for w in v):
        raise Invalid('应为时段列表，例如 ["22:00-06:00", "12:00-14:00"]')
    try:
        windows = tuple(parse_window(w) for w in v)
    except ValueError as e:
        raise Invalid(str(e)) from e
    pair = overlapping(windows)
    if pair:
        raise Invalid(f"时段 {pair[0]} 与 {pair[1]} 重叠；请合并成一个时段")
    return windows


_RULE_KEYS = ["quiet_hours", "blackout", "holidays", "workdays"]
_BLACKOUT_KEYS = ["from", "until", "times", "villages", "zones", "reason"]


def parse_rules(
    raw: Any, villages: dict[str, int], zones: dict[str, tuple[str, ...]], problems: list[str]
) -> Rules:
    """[rules]: quiet_hours, [[rules.blackout]], holidays / workdays overrides."""
    if not isinstance(raw, dict):
        problems.append(f"rules: 应为表 [rules] (got {fmt(raw)})")
        return Rules()
    for key in raw:
        if key not in _RULE_KEYS:
            problems.append(f"rules.{key}: 未知的键{hint(key, _RULE_KEYS)}")
    values: dict[str, Any] = {}
    for key, check in (("quiet_hours", _windows), ("holidays", _dates), ("workdays", _dates)):
        if key in raw:
            try:
                values[key] = check(raw[key])
            except Invalid as e:
                problems.append(f"rules.{key}: {e} (got {fmt(raw[key])})")
    both = set(values.get("holidays", ())) & set(values.get("workdays", ()))
    if both:
        problems.append(f"rules.workdays: {min(both)} 同时写在 holidays 和 workdays 中；只能留一处")
    blackouts = raw.get("blackout", [])
    if not isinstance(blackouts, list):
        problems.append(f"rules.blackout: 应写成 [[rules.blackout]] 表数组 (got {fmt(blackouts)})")
        blackouts = []
    found = []
    for i, b in enumerate(blackouts, 1):
        item = _blackout(b, f"rules.blackout[{i}]", villages, zones, problems)
        if item is not None:
            found.append(item)
    return Rules(**values, blackouts=tuple(found))


def _blackout(
    raw: Any,
    where: str,
    villages: dict[str, int],
    zones: dict[str, tuple[str, ...]],
    problems: list[str],
) -> Blackout | None:
    from datetime import date

    if not isinstance(raw, dict):
        problems.append(f"{where}: 应为表 (got {fmt(raw)})")
        return None
    before = len(problems)
    for key in raw:
        if key not in _BLACKOUT_KEYS:
            problems.append(f"{where}.{key}: 未知的键{hint(key, _BLACKOUT_KEYS)}")
    days: dict[str, date] = {}
    for key in ("from", "until"):
        v = raw.get(key)
        if v is None:
            problems.append(f'{where}.{key}: 缺少此项（日期，例如 "2027-06-07"）')
            continue
        try:
            days[key] = v if isinstance(v, date) else date.fromisoformat(str(v))
        except ValueError:
            problems.append(f'{where}.{key}: 日期无效，应写成 "2027-06-07" (got {fmt(v)})')
    if len(days) == 2 and days["until"] < days["from"]:
        problems.append(
            f"{where}.until: 结束日期 {days['until']} 早于开始日期 {days['from']}；请检查日期"
        )
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append(f'{where}.reason: 缺少原因，例如 reason = "高考" (got {fmt(reason)})')
    times: tuple[Window, ...] = ()
    if "times" in raw:
        try:
            times = _windows(raw["times"])
        except Invalid as e:
            problems.append(f"{where}.times: {e} (got {fmt(raw['times'])})")
    chosen: list[str] = []
    if "villages" in raw:
        v = raw["villages"]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            problems.append(f"{where}.villages: 应为村名列表 (got {fmt(v)})")
        else:
            for x in v:
                if x not in villages:
                    problems.append(
                        f"{where}.villages: 未知的村 {x!r}，已配置：{'、'.join(villages)}"
                    )
            chosen += v
    zone_names: tuple[str, ...] = ()
    if "zones" in raw:
        v = raw["zones"]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            problems.append(f"{where}.zones: 应为分区名列表 (got {fmt(v)})")
        else:
            for x in v:
                if x not in zones:
                    problems.append(f"{where}.zones: 未知的分区 {x!r}{_zone_list(zones)}")
            zone_names = tuple(v)
            chosen += zone_villages(zones, zone_names, list(villages))
    if len(problems) > before:
        return None
    where_to: tuple[str, ...] | str = "all"
    if "villages" in raw or "zones" in raw:
        where_to = tuple(v for v in villages if v in chosen)
    return Blackout(
        days["from"], days["until"], (reason or "").strip(), times, where_to, zone_names
    )


def _zone_list(zones: dict[str, tuple[str, ...]]) -> str:
    return f"，已配置：{'、'.join(zones)}" if zones else "；请先在 [zones] 中定义分区"


def slot_rules(
    slot: Slot,
    raw: dict[str, Any],
    where: str,
    zones: dict[str, tuple[str, ...]],
    rules: Rules,
    problems: list[str],
) -> Slot:
    """Resolve a slot's zones into villages; refuse a slot time inside quiet hours."""
    from dataclasses import replace

    w = quiet_window_at(slot.time, rules)
    if w is not None:
        problems.append(
            f"{where}.time: {slot.time:%H:%M} 在静音时段 {w} 内，不得定时播出（{w.law()}）；"
            "请改到静音时段以外"
        )
    if not slot.zones or raw.get("villages") == "all":
        return slot
    unknown = [z for z in slot.zones if z not in zones]
    for z in unknown:
        problems.append(f"{where}.zones: 未知的分区 {z!r}{_zone_list(zones)}")
    members = [v for z in slot.zones for v in zones.get(z, ())]
    if "villages" in raw and slot.villages != "all":
        members += list(slot.villages)
    return replace(slot, villages=tuple(dict.fromkeys(members)) or slot.villages)
