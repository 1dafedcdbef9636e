"""How fast are `broadcast log export` and `broadcast report` on a million airing records?

Builds a throw-away station (the sample config.toml, a temp SQLite file), inserts N generated
airings for 2024 with executemany, then times, in this process, the same package functions the
commands call: CSV, JSONL and XLSX export of every record, and the 2024 report (SQL GROUP BY,
two charts, Markdown, Word; the first import of matplotlib is included).
Goals on a 2-core machine: CSV <= 10 s, report <= 2 s. XLSX streams with openpyxl's write-only
mode (constant memory, ~12,000 rows/s); Excel itself caps a sheet at 1,048,576 rows, and
`log export` refuses more with a clear line.

Usage: python bench/export.py [--rows N] [--xlsx-rows M]   (defaults: 1,000,000 and all rows)
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broadcast import config, db  # noqa: E402
from broadcast.airlog import estimate_audience  # noqa: E402

COLUMNS = (
    "schedule_key", "kind", "slot_name", "title", "topic", "villages", "scheduled_at",
    "started_at", "ended_at", "seconds_played", "status", "reason", "engine", "voice",
    "operator", "audience",
)  # fmt: skip
STATUSES = ["completed"] * 85 + ["interrupted"] * 5 + ["failed"] * 4 + ["missed"] * 6


def rows(cfg: config.Config, n: int, seed: int = 1):
    """n airings spread evenly over 2024, realistic village sets, topics and outcomes."""
    rng = random.Random(seed)
    names = list(cfg.villages)
    sets = [names] * 12 + [[v] for v in names] + [names[i : i + 2] for i in range(0, 8, 2)]
    encoded = [
        (json.dumps(s, ensure_ascii=False), estimate_audience(s, cfg.villages, 1.0)) for s in sets
    ]
    topics = list(cfg.station.topics)
    start = datetime(2024, 1, 1, tzinfo=cfg.station.tz)
    step = 366 * 86400 / n
    for i in range(n):
        at = start + timedelta(seconds=int(i * step))
        villages, audience = rng.choice(encoded)
        status = rng.choice(STATUSES)
        topic = rng.choice(topics)
        seconds = 0.0 if status == "missed" else round(rng.uniform(120, 720), 1)
        played = status != "missed"
        yield (
            f"bench:{i}", "slot", "早间", f"{topic}宣传稿{i % 50}", topic, villages, at.isoformat(),
            at.isoformat() if played else None,
            (at + timedelta(seconds=seconds)).isoformat() if played else None,
            seconds, status, None if status == "completed" else "测试原因",
            "edge" if played else None, "zh-CN-YunyangNeural" if played else None, "司法所", audience,
        )  # fmt: skip


def build(folder: Path, n: int) -> config.Config:
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    shutil.copytree(ROOT / "audio", folder / "audio", ignore=shutil.ignore_patterns("programmes"))
    cfg = config.load(folder / "config.toml")
    db.open_station(cfg.database_url, "2025-01-01T00:00:00+08:00").dispose()
    with sqlite3.connect(folder / "station.db") as conn:
        conn.execute("PRAGMA synchronous=OFF")
        marks = ", ".join("?" * len(COLUMNS))
        conn.executemany(
            f"INSERT INTO airings ({', '.join(COLUMNS)}) VALUES ({marks})", rows(cfg, n)
        )
    return cfg


def timed(label: str, fn):
    t0 = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    print(f"{label:<34} {seconds:7.2f} s")
    return value, seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument(
        "--xlsx-rows",
        type=int,
        default=None,
        help="XLSX: only about M rows (the first days of 2024)",
    )
    args = ap.parse_args()

    from broadcast.export import ExportRequest, export_airings
    from broadcast.log_filters import Filters
    from broadcast.report import Period, compute, write_report

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, _ = timed(f"insert {args.rows:,} airings", lambda: build(folder, args.rows))
        cfg = config.load(folder / "config.toml")
        engine = db.open_station(cfg.database_url, "2025-01-01T00:00:00+08:00")
        everything = Filters()
        csv_out, jsonl_out, xlsx_out = folder / "a.csv", folder / "a.jsonl", folder / "a.xlsx"
        _, csv_s = timed("log export --format csv", lambda: export_airings(
            engine, cfg, ExportRequest(everything, "csv", csv_out), io.BytesIO()))  # fmt: skip
        timed("log export --format jsonl", lambda: export_airings(
            engine, cfg, ExportRequest(everything, "jsonl", jsonl_out), io.BytesIO()))  # fmt: skip
        xlsx_filters = everything
        if args.xlsx_rows:
            days = max(1, round(366 * args.xlsx_rows / args.rows))
            xlsx_filters = Filters(
                start=date(2024, 1, 1), end=date(2024, 1, 1) + timedelta(days=days - 1)
            )
        message, _ = timed("log export --format xlsx", lambda: export_airings(
            engine, cfg, ExportRequest(xlsx_filters, "xlsx", xlsx_out), io.BytesIO()))  # fmt: skip
        year = Period(date(2024, 1, 1), date(2024, 12, 31))

        def figures_only():
            with engine.connect() as conn:
                return compute(conn, cfg, year)

        timed("report figures (SQL GROUP BY)", figures_only)
        result, report_s = timed("report --year 2024 (all files)", lambda: write_report(
            engine, cfg, year, folder / "report", datetime(2025, 1, 1, tzinfo=cfg.station.tz)))  # fmt: skip
        engine.dispose()
        print(f"xlsx: {message}")
        print(f"file sizes: csv {csv_out.stat().st_size / 1e6:.0f} MB, "
              f"jsonl {jsonl_out.stat().st_size / 1e6:.0f} MB, xlsx {xlsx_out.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        print(result.paragraph)
        print(f"goals: csv <= 10 s ({'ok' if csv_s <= 10 else 'MISSED'}), "
              f"report <= 2 s ({'ok' if report_s <= 2 else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
