"""`log export --format xlsx`: the airing log as a workbook; the only importer of openpyxl
besides :mod:`printing`.

Sheet 播出记录 holds the CSV's rows as real date, time and number cells (text that looks like a
formula is stored as text); sheet 汇总 the totals, added up from :func:`export.grouped` in SQL.
Both print on A4 landscape one page wide (:mod:`printing`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .airlog import STATUS_LABELS, STATUSES
from .errors import ExportError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .config import Config

from .export import (
    CSV_COLUMNS,
    HEADERS,
    NO_TOPIC,
    Formatter,
    Group,
    airing_rows,
    atomic_path,
    grouped,
    hours,
    minutes_x100,
    unsigned,
)
from .log_filters import Filters, empty_error

# characters; a Chinese character counts two. Long text wraps, so A4 landscape one page wide
# still prints at a readable size.
COLUMN_WIDTHS = (11, 8, 10, 10, 9, 24, 8, 34, 8, 24, 10, 22, 15, 16, 8)
SUMMARY_WIDTHS = (22, 14, 14, 18, 20)
XLSX_MAX_ROWS = 1_048_575  # Excel's limit (1,048,576 rows) minus the header


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
WRAPPED = tuple(
    HEADERS.index(h) for h in ("节目名称", "覆盖村", "原因", "合成方式", "操作人", "审核")
)
# the date is in 播出日期: the times print without it (the cells hold the whole date and time)
XLSX_FORMATS = {0: "yyyy-mm-dd", 1: "hh:mm", 2: "hh:mm:ss", 3: "hh:mm:ss", 4: "0.00"}


def write_xlsx(
    rows: Iterable[Any],
    path: Path,
    tz: ZoneInfo,
    summary: list[list[Any]],
    title: str | None = None,
    pending: dict[int, str] | None = None,
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
    fmt, n = Formatter(tz, neutral=False, pending=pending), 0
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


def _xlsx_cells(ws: Any, fmt: Formatter, row: Any) -> list[Any]:
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


def write_workbook(conn: Connection, cfg: Config, filters: Filters, path: Path) -> int:
    summary = Summary.of(grouped(conn, filters))
    if summary.total == 0:
        raise empty_error(filters)
    if summary.total > XLSX_MAX_ROWS:
        raise ExportError(
            f"共 {summary.total} 条记录，超过 Excel 的上限 {XLSX_MAX_ROWS} 行；请缩小 --from/--to 范围，或导出为 CSV"
        )
    pending = unsigned(conn, cfg, filters)
    rows = airing_rows(conn, filters, CSV_COLUMNS)
    with atomic_path(path) as tmp:
        title = f"{cfg.station.township}播出记录（{filters.describe()}）"
        sums = _summary_rows(summary, cfg, filters)
        return write_xlsx(rows, tmp, cfg.station.tz, sums, title, pending)
