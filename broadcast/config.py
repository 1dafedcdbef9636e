"""config.toml -> frozen dataclasses, with every problem reported at once.

Each section is a frozen dataclass whose fields carry a validator (:mod:`config_sections`);
[zones] and [rules] are read by :mod:`config_rules`. :func:`load` (the one entry point) reads
the file with :mod:`tomllib`, :func:`parse` walks the sections, and every problem is collected
as ``config.toml: section.key: what is wrong (got …)`` before one :class:`ConfigError` is
raised. Relative paths resolve against the folder of the config file. :func:`to_toml` renders
the effective configuration (`config show`), :func:`environment_problems` what `config check`
also looks at on this PC.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any

from .config_rules import parse_rules, parse_zones, slot_rules
from .config_sections import (
    TTS,
    WEEKDAYS,
    Approval,
    Audio,
    Ctx,
    Invalid,
    Playback,
    Priorities,
    Report,
    Schedule,
    Scripts,
    Slot,
    Station,
    fmt,
    hint,
)
from .errors import ConfigError
from .rules import Rules


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


def _build(cls: type, raw: Any, where: str, ctx: Ctx, problems: list[str]) -> Any:
    """Validate the table ``raw`` against dataclass ``cls``; append problems; return instance."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: 应为表 [{where}] (got {fmt(raw)})")
        raw = {}
    names = [f.name for f in fields(cls)]
    for key in raw:
        if key not in names:
            problems.append(f"{where}.{key}: 未知的键{hint(key, names)}")
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
        except Invalid as e:
            problems.append(f"{where}.{f.name}: {e} (got {fmt(value)})")
    if len(values) != len(names):
        return None
    return cls(**values)


def _villages(raw: Any, problems: list[str]) -> dict[str, int]:
    if not isinstance(raw, dict) or not raw:
        problems.append(
            f"villages: 应为 [villages] 表，每行 村名 = 人口，例如 青石村 = 1260 (got {fmt(raw)})"
        )
        return {}
    out: dict[str, int] = {}
    for name, pop in raw.items():
        if not name.strip() or "," in name or "，" in name:
            problems.append(f"villages.{name!r}: 村名不能为空，也不能含逗号")
        elif isinstance(pop, bool) or not isinstance(pop, int) or pop < 0:
            problems.append(f"villages.{name}: 人口应为非负整数 (got {fmt(pop)})")
        else:
            out[name] = pop
    return out


def parse(data: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document; raise ConfigError listing every problem."""
    ctx = Ctx(base=path.parent)
    problems: list[str] = []
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(f"{key}: 未知的节{hint(key, _TOP_KEYS)}")
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
    zones = parse_zones(data.get("zones", {}), villages, problems)
    rules = parse_rules(data.get("rules", {}), villages, zones, problems)
    raw_slots = data.get("slots", [])
    slots: list[Slot] = []
    accepted: list[tuple[int, Slot]] = []  # (position in the file, slot) for messages
    if not isinstance(raw_slots, list):
        problems.append(f"slots: 应写成 [[slots]] 表数组 (got {fmt(raw_slots)})")
        raw_slots = []
    for i, raw in enumerate(raw_slots, 1):
        slot = _build(Slot, raw, f"slots[{i}]", ctx, problems)
        if slot is None:
            continue
        slot = slot_rules(slot, raw, f"slots[{i}]", zones, rules, problems)
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
                v = [WEEKDAYS[d] for d in v]
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
