"""`broadcast log export`: CSV / XLSX / JSONL from a real station database, read back with the
csv module and openpyxl; every bad option gives exactly one `Error: …` line."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from broadcast import airlog, config, db
from broadcast.cli import Group, Station
from broadcast.cli_reports import log_export, report
from broadcast.export import HEADERS, minutes_x100

NOW = "2025-01-05T09:00:00+08:00"

# (scheduled_at, status, seconds played, topic, title, villages (None = all), reason)
SAMPLE = [
    ("2024-01-15T07:00:00+08:00", "completed", 300.0, "反电诈", "冒充客服退款", None, None),
    ("2024-01-15T12:00:00+08:00", "completed", 301.8, "禁毒", "远离新型毒品", None, None),
    (
        "2024-02-03T18:30:00+08:00",
        "completed",
        180.6,
        "反电诈",
        '=HYPERLINK("http://x.cn")',
        ["青石村", "东岭村"],
        None,
    ),
    ("2024-03-08T07:00:00+08:00", "interrupted", 95.4, "宪法", "宪法宣传周", None, "停电"),
    ("2024-03-09T07:00:00+08:00", "failed", 0.0, "民法典", "民法典与生活", None, "+播放器出错"),
    ("2024-03-10T07:00:00+08:00", "missed", 0.0, "防溺水", "暑期防溺水", None, "广播程序未运行"),
    ("2024-06-01T12:00:00+08:00", "completed", 600.0, "防溺水", "-暑期防溺水", ["石桥村"], None),
    (
        "2024-12-31T18:30:00+08:00",
        "completed",
        240.0,
        "民法典",
        "@民法典进万家",
        ["杏花村", "马家庄村"],
        None,
    ),
    ("2023-12-31T18:30:00+08:00", "completed", 120.0, "禁毒", "去年的节目", None, None),
    ("2025-01-01T07:00:00+08:00", "completed", 120.0, "禁毒", "明年的节目", None, None),
]


def add(conn, cfg, when, status="completed", seconds=300.0, topic="反电诈", title="节目",
        villages=None, reason=None) -> int:  # fmt: skip
    """One real airing row, written the way the daemon writes it (insert, then finish)."""
    names = villages or list(cfg.villages)
    common = dict(
        schedule_key=f"slot:{when}", kind="slot", scheduled_at=when, villages=names,
        operator="司法所", audience=airlog.estimate_audience(names, cfg.villages, cfg.report.audience_factor),
        what=airlog.What(title=title, topic=topic, engine="edge", voice="zh-CN-YunyangNeural"),
    )  # fmt: skip
    if status == "missed":
        return airlog.insert(conn, status="missed", reason=reason, **common)
    airing = airlog.insert(conn, status="started", started_at=when, **common)
    ended = (datetime.fromisoformat(when) + timedelta(seconds=seconds)).isoformat()
    airlog.finish(
        conn, airing, status=status, ended_at=ended, seconds_played=seconds, reason=reason
    )
    return airing


def fill(station: Path, rows=SAMPLE) -> None:
    cfg = config.load(station / "config.toml")
    engine = db.open_station(cfg.database_url, NOW)
    with engine.begin() as conn:
        for row in rows:
            add(conn, cfg, *row)
    engine.dispose()


def app() -> click.Group:
    """The real top-level Group and Station with this issue's two commands, as cli.py adds them."""

    @click.group(cls=Group)
    @click.option("--config", "config_path")
    @click.pass_context
    def broadcast(ctx: click.Context, config_path: str) -> None:
        ctx.obj = Station(config_path, False)
        ctx.call_on_close(ctx.obj.close)

    log = click.Group("log")
    log.add_command(log_export)
    broadcast.add_command(log)
    broadcast.add_command(report)
    return broadcast


def run(station: Path, *args: str) -> Result:
    return CliRunner().invoke(app(), ["--config", str(station / "config.toml"), *map(str, args)])


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def filled(station: Path) -> Path:
    fill(station)
    return station


# --- CSV ---


def test_csv_round_trip(filled: Path, tmp_path: Path):
    out = tmp_path / "播出记录.csv"
    result = run(
        filled, "log", "export", "--from", "2024-01-01", "--to", "2024-12-31", "--output", out
    )
    assert result.exit_code == 0, result.output
    assert (
        result.stdout == f"已导出 8 条播出记录（时间：2024-01-01 至 2024-12-31）到 {out}（CSV）\n"
    )
    assert out.read_bytes().startswith(b"\xef\xbb\xbf" + "播出日期".encode())
    rows = read_csv(out)
    assert tuple(rows[0]) == HEADERS
    assert len(rows) == 1 + 8
    first = dict(zip(HEADERS, rows[1], strict=True))
    assert first == {
        "播出日期": "2024-01-15", "计划时间": "2024-01-15 07:00:00", "开始时间": "2024-01-15 07:00:00",
        "结束时间": "2024-01-15 07:05:00", "时长(分钟)": "5.00", "节目名称": "冒充客服退款", "主题": "反电诈",
        "覆盖村": "青石村、东岭村、西河村、南坡村、北沟村、柳树湾村、石桥村、杏花村、马家庄村",
        "状态": "已播完", "原因": "", "估计受众(人次)": "8350", "合成方式": "edge-tts 神经语音 zh-CN-YunyangNeural",
        "操作人": "司法所", "类别": "定时", "审核": "",
    }  # fmt: skip
    by_title = {r[5]: dict(zip(HEADERS, r, strict=True)) for r in rows[1:]}
    assert by_title["远离新型毒品"]["时长(分钟)"] == "5.03"  # 301.8 s
    missed = by_title["暑期防溺水"]
    assert (missed["状态"], missed["开始时间"], missed["时长(分钟)"], missed["原因"]) == (
        "未播出", "", "0.00", "广播程序未运行",
    )  # fmt: skip


def test_csv_neutralises_formulas(filled: Path, tmp_path: Path):
    out = tmp_path / "x.csv"
    assert run(filled, "log", "export", "-o", out).exit_code == 0
    cells = [c for row in read_csv(out)[1:] for c in row]
    assert """'=HYPERLINK("http://x.cn")""" in cells
    assert "'-暑期防溺水" in cells and "'@民法典进万家" in cells and "'+播放器出错" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]


def test_csv_to_stdout_has_bom_and_message_on_stderr(filled: Path):
    result = run(filled, "log", "export", "--from", "2024-06-01", "--to", "2024-06-30")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert [r[5] for r in rows[1:]] == ["'-暑期防溺水"]
    assert result.stderr == "已导出 1 条播出记录（时间：2024-06-01 至 2024-06-30）到 屏幕（CSV）\n"


# --- JSONL and filters ---


def test_jsonl_has_every_column_and_filters_match_airlog_query(filled: Path, tmp_path: Path):
    from datetime import date

    cfg = config.load(filled / "config.toml")
    engine = db.open_station(cfg.database_url, NOW)
    cases = [
        ([], {}),
        (["--from", "2024-01-01", "--to", "2024-12-31"], dict(start=date(2024, 1, 1), end=date(2024, 12, 31))),
        (["--status", "已播完", "--topic", "反电诈"], dict(status="completed", topic="反电诈")),
        (["--village", "石桥村", "--status", "completed"], dict(village="石桥村", status="completed")),
    ]  # fmt: skip
    for i, (options, query) in enumerate(cases):
        out = tmp_path / f"{i}.jsonl"
        result = run(filled, "log", "export", *options, "--output", out)
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        with engine.connect() as conn:
            expected = [a.as_dict() for a in airlog.query(conn, **query)]
        assert records == expected
    engine.dispose()
    assert set(records[0]) == {c.name for c in db.airings.columns}
    assert [r["villages"] for r in records if r["title"] == "-暑期防溺水"] == [["石桥村"]]


# --- XLSX ---


def test_xlsx_cells_header_and_summary(filled: Path, tmp_path: Path):
    import openpyxl

    out = tmp_path / "播出记录.xlsx"
    result = run(filled, "log", "export", "--from", "2024-01-01", "--to", "2024-12-31", "-o", out)
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["播出记录", "汇总"]
    ws = wb["播出记录"]
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == list(HEADERS)
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb.endswith("D9D9D9")
    assert ws.column_dimensions["H"].width >= 24 and ws["H2"].alignment.wrap_text  # 覆盖村 wraps
    assert ws.max_row == 1 + 8
    day, planned, started, ended, minutes = (c.value for c in ws[2][:5])
    assert ws["A2"].is_date and day == datetime(2024, 1, 15)
    assert ws["B2"].is_date and planned == datetime(2024, 1, 15, 7, 0)
    assert ended - started == timedelta(minutes=5)
    assert ws["E2"].data_type == "n" and minutes == 5.0
    assert ws["K2"].data_type == "n" and ws["K2"].value == 8350
    formula = ws["F4"]
    assert (formula.value, formula.data_type) == (
        '=HYPERLINK("http://x.cn")',
        "s",
    )  # text, not a formula
    summary = {row[0]: row[1:] for row in wb["汇总"].iter_rows(values_only=True) if row[0]}
    assert summary["记录条数"][0] == 8
    assert summary["已播完"][:3] == (5, 0.5, 8350 * 2 + (1260 + 840) + 1340 + (560 + 910))
    assert summary["中断"][0] == summary["失败"][0] == summary["未播出"][0] == 1
    assert summary["反电诈"][:2] == (2, 2)
    assert summary["石桥村"][:3] == (1340, 3, 0.3)  # 5.00 + 5.03 + 10.00 minutes


def test_format_comes_from_the_suffix(filled: Path, tmp_path: Path):
    assert run(filled, "log", "export", "-o", tmp_path / "a.jsonl").exit_code == 0
    assert (tmp_path / "a.jsonl").read_text(encoding="utf-8").startswith("{")
    result = run(filled, "log", "export", "-o", tmp_path / "a.txt")
    assert result.stderr == (
        "Error: --output: 无法从扩展名判断格式：a.txt；请用 .csv、.xlsx 或 .jsonl 结尾，或加 --format csv|xlsx|jsonl\n"
    )


# --- bad input: exactly one line, no file ---


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (["--from", "2024-06-01", "--to", "2024-03-01"],
         "--from 2024-06-01 晚于 --to 2024-03-01；请把开始日期写在 --from，结束日期写在 --to"),
        (["--from", "2024-13-01"], "--from: 日期无效：2024-13-01；请写成 2024-03-01 的格式"),
        (["--to", "2024/13/1"], "--to: 日期无效：2024/13/1；请写成 2024-03-01 的格式"),
        (["--topic", "反诈"],
         "--topic: 未知的主题：反诈（是否为“反电诈”？）；可用主题：普法、宪法、民法典、反电诈、禁毒、网络安全、防溺水、消防、扫黑除恶、交通安全、反邪教、未成年人保护、法律援助"),
        (["--village", "青石"],
         "--village: 未知的村：青石（是否为“青石村”？）；已配置的村：青石村、东岭村、西河村、南坡村、北沟村、柳树湾村、石桥村、杏花村、马家庄村"),
        (["--status", "done"],
         "--status: 未知的状态：done；可用：started（正在播出）、completed（已播完）、interrupted（中断）、failed（失败）、missed（未播出）"),
        (["--format", "xlsx"],
         "--format xlsx: Excel 文件不能输出到屏幕；请加 --output，例如 --output 播出记录.xlsx"),
        (["--format", "csv", "--output", "x.xlsx"],
         "--format csv 与输出文件 x.xlsx 的扩展名不一致；请把文件名改为 .csv 结尾"),
        (["--from", "2019-01-01", "--to", "2019-12-31", "--output", "{tmp}/x.csv"],
         "没有符合条件的播出记录（时间：2019-01-01 至 2019-12-31）；未写入文件，请检查 --from/--to 和筛选条件"),
        (["--output", "{tmp}/没有这个文件夹/x.csv"],
         "--output: 文件夹不存在：{tmp}/没有这个文件夹；请先建好这个文件夹，或换一个路径"),
        (["--output", "{tmp}"],
         "--output: {tmp} 是文件夹；请写文件名，例如 {tmp}/播出记录.csv"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(filled: Path, tmp_path: Path, options: list[str], line: str):
    out = tmp_path / "out"
    out.mkdir()
    options = [o.replace("{tmp}", str(out)) for o in options]
    result = run(filled, "log", "export", *options)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {line.replace('{tmp}', str(out))}\n"
    assert list(out.iterdir()) == []


def test_empty_period_to_stdout_writes_nothing(filled: Path):
    result = run(filled, "log", "export", "--status", "started")
    assert result.exit_code == 1
    assert result.stdout_bytes == b""
    assert result.stderr.startswith("Error: 没有符合条件的播出记录（状态：正在播出）")


def test_unwritable_folder(filled: Path, tmp_path: Path):
    import os

    if os.geteuid() == 0:  # root writes anywhere: a file standing where the folder should be
        (tmp_path / "file").write_text("x")
        folder = tmp_path / "file"
        line = f"--output: 文件夹不存在：{folder}；请先建好这个文件夹，或换一个路径"
    else:
        folder = tmp_path / "locked"
        folder.mkdir(mode=0o500)
        line = f"--output: 没有权限写入文件夹：{folder}；请换一个可写的文件夹（如“文档”）"
    result = run(filled, "log", "export", "--output", folder / "x.csv")
    assert (result.exit_code, result.stderr) == (1, f"Error: {line}\n")


def test_failure_leaves_no_partial_file(filled: Path, tmp_path: Path, monkeypatch):
    from broadcast import export

    out = tmp_path / "播出记录.csv"
    out.write_text("上一次导出的内容", encoding="utf-8")
    real = export.Formatter.cells
    calls = []

    def failing(self, row):
        calls.append(row)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, row)

    monkeypatch.setattr(export.Formatter, "cells", failing)
    result = run(filled, "log", "export", "-o", out)
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: 无法写入 {out}（No space left on device）；文件未改动，请检查磁盘空间和权限\n"
    )
    assert out.read_text(encoding="utf-8") == "上一次导出的内容"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# --- the shared rounding rule ---


def test_minutes_rounding_is_the_same_in_python_and_sql():
    seconds = [round(i * 0.1, 1) for i in range(0, 4000, 7)] + [0.3, 0.9, 1.5, 359.7, 3599.9]
    with sqlite3.connect(":memory:") as conn:
        conn.execute("create table t (s real)")
        conn.executemany("insert into t values (?)", [(s,) for s in seconds])
        sql = [
            r[0]
            for r in conn.execute("select (cast(round(s * 10) as integer) * 2 + 6) / 12 from t")
        ]
    assert sql == [minutes_x100(s) for s in seconds]
    assert [minutes_x100(s) for s in (0.3, 0.9, 301.8, 60.0)] == [1, 2, 503, 100]  # 0.005 -> 0.01


def test_dates_take_the_same_forms_as_queue_add(filled: Path, tmp_path: Path):
    """2024/1/1 and 2024年12月31日 work here too, as they do for `queue add --from`."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert (
        run(
            filled, "log", "export", "--from", "2024-01-01", "--to", "2024-12-31", "-o", a
        ).exit_code
        == 0
    )
    r = run(filled, "log", "export", "--from", "2024/1/1", "--to", "2024年12月31日", "-o", b)
    assert r.exit_code == 0, r.output
    assert read_csv(a) == read_csv(b)


def test_an_emergency_aired_before_signing_shows_unsigned_until_signed(
    air_station, instant_player, tmp_path: Path
):
    """先播出，后补签字: as in `log list` and the 台账, the CSV/XLSX export's 审核 column reads
    待补签（还需：…） for an emergency aired before every level signed, and is empty once it is
    signed. A real `emergency --now` and a real `approve --emergency`."""
    import openpyxl
    from test_approval import require

    bc = air_station
    require(bc)
    r = bc("emergency", "河道水位上涨，请村民远离河边。", "--villages", "青石村", "--repeat", "1", "--now")  # fmt: skip
    assert r.exit_code == 0, r.output

    def exported() -> tuple[list[dict[str, str]], list[str]]:
        files = [tmp_path / f"记录.{x}" for x in ("csv", "xlsx")]
        for out in files:
            r = bc("log", "export", "-o", out)
            assert r.exit_code == 0, r.output
        rows = read_csv(files[0])
        assert tuple(rows[0]) == HEADERS and "审核" in HEADERS
        ws = openpyxl.load_workbook(files[1])["播出记录"]
        assert [c.value for c in ws[1]] == list(HEADERS)
        column = HEADERS.index("审核")
        sheet = [row[column] or "" for row in ws.iter_rows(min_row=2, values_only=True)]
        return [dict(zip(HEADERS, r, strict=True)) for r in rows[1:]], sheet

    csv_rows, sheet = exported()
    assert [(r["类别"], r["状态"], r["审核"]) for r in csv_rows] == [
        ("应急插播", "已播完", "待补签（还需：负责人审核）")
    ]
    assert sheet == ["待补签（还需：负责人审核）"]
    with sqlite3.connect(bc.folder / "station.db") as conn:
        (pid,) = conn.execute(
            "select programme_id from airings where kind = 'emergency'"
        ).fetchone()
    conn.close()

    r = bc("approve", str(pid), "--by", "王乡长", "--emergency")
    assert r.exit_code == 0, r.output
    csv_rows, sheet = exported()
    assert [r["审核"] for r in csv_rows] == [""] and sheet == [""]
