"""The monthly 台账 pack an inspector prints and signs: `broadcast ledger --month 2026-12`.

One folder, built in a temporary folder beside it and renamed at the end (a failure leaves
nothing behind), holding:

* 播放使用登记表 as XLSX and PDF (A4 landscape, one page wide, header on every page):
  日期、计划时间、开始/结束、节目名称、内容摘要、时长、播出范围（村/分区）、审核人、操作人、播出情况、备注;
* 稿件汇编: the month's scripts in full, as one Word document (GB/T 9704 layout);
* 音频文件清单: each programme file that aired, with its sha256;
* 审核与校验记录: the approval records, the airing log's verification and the month's digest lines.

Everything the pack says comes from :func:`gather` as plain data classes, so the writers never
touch the database. Approval records and the hash chain come from their own modules:
:mod:`approval` gives the signatures, :func:`_chain` asks :mod:`chain` for the verification.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ExportError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from .airlog import Airing
    from .config import Config

HEADERS = (
    "日期", "计划时间", "开始/结束", "节目名称", "内容摘要", "时长", "播出范围（村/分区）",
    "审核人", "操作人", "播出情况", "备注",
)  # fmt: skip
XLSX_WIDTHS = (11, 9, 18, 18, 32, 9, 22, 10, 15, 9, 20)
PDF_WIDTHS = (18, 14, 27, 28, 48, 14, 34, 18, 23, 14, 28)  # mm before scaling to the page
WRAPPED = tuple(
    HEADERS.index(h) for h in ("节目名称", "内容摘要", "播出范围（村/分区）", "审核人", "备注")
)
PLAYED = ("completed", "interrupted", "started")  # statuses whose audio reached the air
SUMMARY_CHARS = 60
NO_CHAIN = "（未启用校验链）"
MARKER = "台账说明.txt"  # in every pack: an existing folder holding it may be replaced


# --- the month ---


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def label(self) -> str:
        """2026年12月"""
        return f"{self.year}年{self.month}月"

    @property
    def slug(self) -> str:
        """2026-12"""
        return f"{self.year:04d}-{self.month:02d}"


def parse_month(value: str) -> Month:
    """'2026-12' (or 2026-1, 2026/12, 2026年12月) -> Month; ExportError naming --month otherwise."""
    m = re.fullmatch(r"\s*(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*月?\s*", value)
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise ExportError(f"--month: 月份无效：{value}；请写成 2026-12 的格式")
    return Month(int(m.group(1)), int(m.group(2)))


# --- what the pack says ---


@dataclass(frozen=True)
class Signature:
    """One approval of a programme: level (初审…), who, when."""

    level: str
    by: str
    at: str


@dataclass(frozen=True)
class ChainResult:
    """`broadcast log verify` for the pack: its one line and the month's digest lines."""

    line: str
    digest_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """One airing as a line of the 播放使用登记表 (every cell already text)."""

    airing_id: int
    programme_id: int | None
    cells: tuple[str, ...]


@dataclass(frozen=True)
class ScriptText:
    script_id: int
    title: str
    topic: str
    text: str  # "" for a recording
    kind: str  # text | audio
    airings: int  # airings that reached the air this month
    first_aired: str  # "2026-12-01 07:00"


@dataclass(frozen=True)
class AudioFile:
    programme_id: int
    title: str
    file: str
    size: int | None  # None: the file is gone
    sha256: str | None
    seconds: float
    airings: int


@dataclass
class LedgerData:
    """Everything the pack prints, gathered by :func:`gather`."""

    month: Month
    township: str
    station: str
    rows: list[Row] = field(default_factory=list)
    scripts: list[ScriptText] = field(default_factory=list)
    audio: list[AudioFile] = field(default_factory=list)
    approvals: dict[int, list[Signature]] = field(default_factory=dict)  # programme id -> …
    chain: ChainResult = field(default_factory=lambda: ChainResult(NO_CHAIN))

    @property
    def title(self) -> str:
        return f"{self.township}普法广播播放使用登记表（{self.month.label}）"

    def counts(self) -> dict[str, int]:
        from .airlog import STATUS_LABELS

        out: dict[str, int] = {}
        for r in self.rows:
            status = r.cells[HEADERS.index("播出情况")]
            out[status] = out.get(status, 0) + 1
        return {label: out[label] for label in STATUS_LABELS.values() if label in out}

    def summary_line(self) -> str:
        if not self.rows:
            return f"{self.month.label}没有播出记录"
        parts = "、".join(f"{k}{v}次" for k, v in self.counts().items())
        return f"{self.month.label}共 {len(self.rows)} 条播出记录（{parts}）"


def gather(conn: Connection, cfg: Config, month: Month) -> LedgerData:
    """Read everything the pack for ``month`` prints from the station database."""
    from . import airlog, approval

    data = LedgerData(month, cfg.station.township, cfg.station.name)
    airings = airlog.query(conn, start=month.first, end=month.last)
    programme_ids = sorted({a.programme_id for a in airings if a.programme_id is not None})
    signed = approval.signatures(conn, programme_ids)
    data.approvals = {
        pid: [Signature(s.level, s.approver, _local(s.at, cfg)[:16]) for s in sigs]
        for pid, sigs in signed.items()
        if sigs
    }
    summaries = _summaries(conn, {a.script_id for a in airings if a.script_id is not None})
    zones = dict(cfg.zones)
    for a in airings:
        sigs = signed.get(a.programme_id or 0, [])
        approvers = "、".join(
            f"{s.approver}（{s.level}{'，补签' if s.after_air else ''}）" for s in sigs
        )
        if a.programme_id is not None and (
            cfg.approval.required or a.kind in approval.AIR_FIRST_KINDS
        ):
            # 待补签 for an emergency aired before signing; 未审核 when approval is required
            pending = approval.pending_text(cfg, sigs, a.kind)
            approvers = "、".join(x for x in (approvers, pending) if x)
        cells = _cells(a, cfg, zones, summaries.get(a.script_id or 0, ""), approvers)
        data.rows.append(Row(a.id, a.programme_id, cells))
    played = [a for a in airings if a.status in PLAYED]
    data.scripts = _scripts(conn, played)
    data.audio = _audio(conn, played)
    data.chain = _chain(conn, cfg, month)
    return data


def _chain(conn: Connection, cfg: Config, month: Month) -> ChainResult:
    """`log verify` over the whole log (checked against the digest file when there is one) and
    the month's digest lines."""
    from . import chain

    path = chain.digest_path(cfg)
    try:
        digests = chain.read_digests(path) if path.exists() else []
    except chain.ChainError as e:
        return ChainResult(f"校验失败（FAIL）：{e}")
    verdict = chain.verify(conn, digests)
    prefix = f"{month.year:04d}-{month.month:02d}-"
    lines = tuple(
        chain.digest_line(day, count, head)
        for day, count, head in digests
        if day.isoformat().startswith(prefix)
    )
    return ChainResult(verdict.line(), lines)


def _summaries(conn: Connection, script_ids: set[int]) -> dict[int, str]:
    """内容摘要: the start of each script's text, whitespace folded, ~60 characters."""
    from sqlalchemy import select

    from .db import scripts as s

    if not script_ids:
        return {}
    rows = conn.execute(select(s.c.id, s.c.kind, s.c.text).where(s.c.id.in_(script_ids)))
    return {
        i: summary(text) if kind != "audio" else "录音节目（无文字稿）" for i, kind, text in rows
    }


def summary(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The first ``limit`` characters of ``text`` on one line, cut with …"""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip("，、；： ") + "…"


def _cells(a: Airing, cfg: Config, zones: dict[str, tuple[str, ...]], abstract: str,
           approvers: str) -> tuple[str, ...]:  # fmt: skip
    from .airlog import KIND_LABELS, SPECIAL_KINDS, STATUS_LABELS

    planned = _local(a.scheduled_at, cfg)
    start, end = _local(a.started_at, cfg), _local(a.ended_at, cfg)
    span = f"{start[11:19]}–{end[11:19]}" if start and end else (start[11:19] if start else "—")
    return (
        planned[:10],
        planned[11:16],
        span,
        # emergency and relay airings are marked, as in `log list`: they are not 普法 programmes
        (f"【{KIND_LABELS[a.kind]}】" if a.kind in SPECIAL_KINDS else "") + (a.title or ""),
        abstract,
        _minutes_seconds(a.seconds_played) if a.started_at else "—",
        scope(a.villages, list(cfg.villages), zones),
        approvers,
        a.operator,
        STATUS_LABELS.get(a.status, a.status),
        a.reason or "",
    )


def _local(ts: str | None, cfg: Config) -> str:
    """ISO timestamp -> '2026-12-01 07:00:02' in the station's zone ('' for None)."""
    if not ts:
        return ""
    from datetime import datetime

    dt = datetime.fromisoformat(ts)
    if dt.tzinfo is not None:
        dt = dt.astimezone(cfg.station.tz)
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def _minutes_seconds(seconds: float) -> str:
    """302.4 -> 5分02秒"""
    s = int(Decimal(str(seconds)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    return f"{s // 60}分{s % 60:02d}秒" if s >= 60 else f"{s}秒"


def scope(
    villages: Sequence[str], configured: Sequence[str], zones: dict[str, tuple[str, ...]]
) -> str:
    """全乡（9个村） · 东片（青石村、东岭村） · 东片、杏花村 — whole zones named, then the rest."""
    from .rules import zones_of

    have = list(villages)
    if configured and set(configured) <= set(have):
        return f"全乡（{len(configured)}个村）"
    whole = zones_of(have, zones)
    covered = {v for z in whole for v in zones[z]}
    parts = [f"{z}（{'、'.join(zones[z])}）" for z in whole]
    parts += [v for v in have if v not in covered]
    return "、".join(parts)


def _scripts(conn: Connection, played: Sequence[Airing]) -> list[ScriptText]:
    from sqlalchemy import select

    from .db import scripts as s

    first: dict[int, str] = {}
    count: dict[int, int] = {}
    for a in played:
        if a.script_id is not None:
            first.setdefault(a.script_id, a.scheduled_at)
            count[a.script_id] = count.get(a.script_id, 0) + 1
    if not first:
        return []
    rows = {
        r.id: r
        for r in conn.execute(
            select(s.c.id, s.c.title, s.c.topic, s.c.text, s.c.kind).where(s.c.id.in_(first))
        )
    }
    return [
        ScriptText(
            i,
            rows[i].title,
            rows[i].topic,
            rows[i].text if rows[i].kind != "audio" else "",
            rows[i].kind,
            count[i],
            first[i][:16].replace("T", " "),
        )  # fmt: skip
        for i in first
        if i in rows
    ]


def _audio(conn: Connection, played: Sequence[Airing]) -> list[AudioFile]:
    from sqlalchemy import select

    from .db import programmes as p

    count: dict[int, int] = {}
    for a in played:
        if a.programme_id is not None:
            count[a.programme_id] = count.get(a.programme_id, 0) + 1
    if not count:
        return []
    stmt = select(p.c.id, p.c.title, p.c.file, p.c.duration_s).where(p.c.id.in_(count))
    out = []
    for pid, title, file, seconds in conn.execute(stmt.order_by(p.c.id)):
        size, digest = _digest(Path(file))
        out.append(AudioFile(pid, title, file, size, digest, seconds, count[pid]))
    return out


def _digest(path: Path) -> tuple[int | None, str | None]:
    """(size, sha256) of a file, read in blocks; (None, None) when it is gone."""
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            size = 0
            while block := f.read(1 << 20):
                h.update(block)
                size += len(block)
    except OSError:
        return None, None
    return size, h.hexdigest()


# --- the command ---


def default_folder(cfg: Config, month: Month) -> Path:
    return cfg.base / f"台账-{month.slug}"


def check_target(folder: Path) -> Path:
    """The pack folder: its parent must be writable; an existing folder must be an earlier pack."""
    from .export import check_folder

    folder = folder.expanduser().absolute()
    if folder.exists() or folder.is_symlink():
        earlier_pack = folder.is_dir() and not folder.is_symlink() and (folder / MARKER).is_file()
        empty = folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir())
        if not (earlier_pack or empty):
            raise ExportError(
                f"--output: {folder} 已存在，且不是台账文件夹；请换一个新的文件夹名，例如 {folder.parent / '台账-2026-12'}"
            )
    check_folder(folder.parent, "--output")
    return folder


@dataclass(frozen=True)
class PackResult:
    folder: Path
    files: tuple[str, ...]
    summary: str
    pages: int

    def lines(self) -> list[str]:
        return [
            f"{self.summary}；台账已写入 {self.folder}：",
            *(f"  {name}" for name in self.files),
        ]


def write_pack(engine: Engine, cfg: Config, month: Month, output: Path | None) -> PackResult:
    """Gather ``month`` and write its pack into ``output`` (default 台账-2026-12/ beside
    config.toml) atomically; ExportError with nothing left behind on any failure."""
    from . import files
    from . import ledger_files as out
    from .pdf import write_table_pdf

    folder = check_target(output or default_folder(cfg, month))
    with engine.connect() as conn:
        data = gather(conn, cfg, month)
    names = out.file_names(month)
    try:
        with files.atomic_dir(folder) as tmp:
            out.write_xlsx(data, tmp / names["xlsx"])
            pages = write_table_pdf(out.pdf_doc(data), tmp / names["pdf"])
            out.write_docx(data, tmp / names["docx"])
            out.write_manifest(data, tmp / names["manifest"])
            out.write_records(data, tmp / names["records"])
            out.write_readme(data, tmp / names["readme"], names)
    except OSError as e:
        raise ExportError(
            f"无法写入台账文件夹 {folder}（{e.strerror}）；未留下任何文件，请检查磁盘空间和权限"
        ) from e
    return PackResult(folder, tuple(names.values()), data.summary_line(), pages)
