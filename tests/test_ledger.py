"""`broadcast ledger --month`: the monthly 台账 pack, read back as a user and an inspector would —
openpyxl for the XLSX print settings, pdftotext/pdfinfo (poppler-utils) for the PDF,
python-docx for the scripts, sha256sum for the audio manifest; bad input is one line and
leaves nothing behind."""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import stat
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broadcast import airlog, config, db, ledger, ledger_files

MONTH_FILES = [
    "播放使用登记表-2026-12.xlsx",
    "播放使用登记表-2026-12.pdf",
    "稿件汇编-2026-12.docx",
    "音频文件清单-2026-12.csv",
    "审核与校验记录-2026-12.txt",
    "台账说明.txt",
]
TITLE = "青石乡普法广播播放使用登记表（2026年12月）"


def air(conn, cfg, when: str, status: str, programme: tuple | None, *, villages=None,
        seconds=12.3, reason=None, kind="slot", operator="司法所（自动）") -> None:  # fmt: skip
    """One airing row written as the daemon writes it (insert at start, finish at the end)."""
    names = villages or list(cfg.villages)
    what = airlog.What()
    if programme:
        pid, sid, title, topic = programme
        what = airlog.What(title=title, topic=topic, script_id=sid, programme_id=pid,
                           engine="espeak", voice="espeak-ng cmn-latn-pinyin")  # fmt: skip
    common = dict(
        schedule_key=f"{kind}:{when}", kind=kind, scheduled_at=when, villages=names,
        operator=operator, audience=airlog.estimate_audience(names, cfg.villages, 1.0), what=what,
    )  # fmt: skip
    if status == "missed":
        airlog.insert(conn, status="missed", reason=reason, **common)
        return
    started = (datetime.fromisoformat(when) + timedelta(seconds=1)).isoformat()
    airing = airlog.insert(conn, status="started", started_at=started, audible=True, **common)
    ended = (datetime.fromisoformat(started) + timedelta(seconds=seconds)).isoformat()
    airlog.finish(conn, airing, status=status, ended_at=ended, seconds_played=seconds,
                  reason=reason)  # fmt: skip


@pytest.fixture
def december(air_station):
    """The produced station (three real espeak programmes) with a month of airings around it."""
    with sqlite3.connect(air_station.folder / "station.db") as c:
        progs = c.execute(
            "select p.id, p.script_id, p.title, s.topic from programmes p"
            " join scripts s on s.id = p.script_id where p.status = 'current' order by p.id"
        ).fetchall()
    c.close()
    cfg = config.load(air_station.config)
    engine = db.open_station(cfg.database_url, "2026-12-31T20:00:00+08:00")
    east = ["青石村", "东岭村", "石桥村"]
    with engine.begin() as conn:
        air(conn, cfg, "2026-11-30T07:00:00+08:00", "completed", progs[0])  # not this month
        air(conn, cfg, "2026-12-01T07:00:00+08:00", "completed", progs[0])
        air(conn, cfg, "2026-12-01T12:00:00+08:00", "completed", progs[1],
            villages=[*east, "杏花村"], kind="oneoff", seconds=75.4)  # fmt: skip
        air(conn, cfg, "2026-12-02T07:00:00+08:00", "missed", None, reason="广播程序未运行")
        air(conn, cfg, "2026-12-03T09:30:00+08:00", "interrupted", progs[1], kind="play",
            operator="司法所", reason="停电", seconds=4.0)  # fmt: skip
        air(conn, cfg, "2027-01-01T07:00:00+08:00", "completed", progs[2])  # not this month
    engine.dispose()
    return air_station, progs


def test_pack_has_every_part_readable_as_printed(december, tmp_path: Path):
    bc, progs = december
    signed = bc("approve", str(progs[0][0]), "--by", "张三", "--note", "同意播出")
    assert signed.exit_code == 0, signed.output
    listed = json.loads(bc("approvals", "list", "--json").output)
    (at,) = [x["signatures"][0]["at"] for x in listed if x["programme_id"] == progs[0][0]]
    when = datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M")  # station time, as printed
    digest = bc("log", "digest", "--date", "2026-12-01")
    assert digest.exit_code == 0, digest.output
    (digest_line,) = (bc.folder / "airlog-digest.txt").read_text(encoding="utf-8").splitlines()
    assert digest_line.startswith("2026-12-01")
    out = tmp_path / "十二月台账"
    old = os.umask(0o022)
    try:
        r = bc("ledger", "--month", "2026-12", "--output", str(out))
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        f"2026年12月共 4 条播出记录（已播完2次、中断1次、未播出1次）；台账已写入 {out}：",
        *(f"  {name}" for name in MONTH_FILES),
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(MONTH_FILES)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp dir
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o644}

    # --- the XLSX: cells and print settings, read back with openpyxl ---
    import openpyxl

    wb = openpyxl.load_workbook(out / MONTH_FILES[0])
    ws = wb["播放使用登记表"]
    rows = [[c.value or "" for c in row] for row in ws.iter_rows()]
    assert rows[0] == list(ledger.HEADERS)
    assert [r[:4] for r in rows[1:]] == [
        ["2026-12-01", "07:00", "07:00:01–07:00:13", progs[0][2]],
        ["2026-12-01", "12:00", "12:00:01–12:01:16", progs[1][2]],
        ["2026-12-02", "07:00", "—", ""],
        ["2026-12-03", "09:30", "09:30:01–09:30:05", progs[1][2]],
    ]
    assert [r[5:] for r in rows[1:]] == [
        ["12秒", "全乡（9个村）", "张三（负责人审核）", "司法所（自动）", "已播完", ""],
        ["1分15秒", "东片（青石村、东岭村、石桥村）、杏花村", "", "司法所（自动）", "已播完", ""],
        ["—", "全乡（9个村）", "", "司法所（自动）", "未播出", "广播程序未运行"],
        ["4秒", "全乡（9个村）", "", "司法所", "中断", "停电"],
    ]
    assert rows[1][4] == "远离毒品。"  # 内容摘要: the script's text
    assert rows[2][4].startswith("接到陌生电话要求转账") and len(rows[2][4]) <= 60
    setup = ws.page_setup
    assert (setup.paperSize, setup.orientation) == (9, "landscape")  # A4 landscape
    assert (setup.fitToWidth, setup.fitToHeight) == (1, 0)  # one page wide, as long as needed
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$1"  # the header row on every page
    assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert ws.oddHeader.center.text == TITLE
    assert ws["E2"].alignment.wrap_text and ws["G2"].alignment.wrap_text  # 内容摘要, 播出范围
    assert ws["A2"].border.left.style == "thin" and ws["K5"].border.bottom.style == "thin"
    notes = [c.value for row in wb["审核与校验"].iter_rows() for c in row if c.value]
    assert notes[:2] == [
        "审核记录",
        f"节目 {progs[0][0]}《{progs[0][2]}》：负责人审核　张三　{when}",
    ]
    verified = notes[notes.index("播出记录校验") + 1]
    assert verified.startswith("校验通过（PASS）：11 条播出事件、6 条播出记录，链头 "), verified
    assert notes[-1] == digest_line  # the month's digest line, as printed for signing

    # --- the PDF: pages, A4 landscape, the month's Chinese text (poppler-utils) ---
    pdf = out / MONTH_FILES[1]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout)[1])
    assert pages >= 1 and re.search(r"Page size:\s+841\.89 x 595\.28? pts \(A4\)", info.stdout)
    text = subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", "", text)  # a wrapped cell reads on as one text
    for expected in (TITLE, "播出范围（村/分区）", progs[0][2], progs[1][2],
                     "东片（青石村、东岭村、石桥村）、杏花村", "广播程序未运行", "司法所（自动）",
                     "接到陌生电话要求转账，请立即挂断", "校验通过（PASS）", "张三（负责人审核）",
                     "第1页共"):  # fmt: skip
        assert expected in flat, expected

    # --- the scripts in full, GB/T 9704 Word layout ---
    from docx import Document

    doc = Document(str(out / MONTH_FILES[2]))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert (
        "接到陌生电话要求转账，请立即挂断，拨打九六一一零咨询。不要透露验证码，不要点击陌生链接。"
        in body
    )
    assert "远离毒品。" in body and progs[2][2] not in body  # script 3 aired only in January
    assert doc.core_properties.author == "青石乡司法所普法广播站"
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)  # A4

    # --- the audio manifest: sha256 as sha256sum computes it ---
    with (out / MONTH_FILES[3]).open(encoding="utf-8-sig", newline="") as f:
        header, *manifest = list(csv.reader(f))
    assert header[:3] == ["节目编号", "节目名称", "文件名"] and len(manifest) == 2
    for row in manifest:
        file = Path(row[7])
        summed = subprocess.run(
            ["sha256sum", str(file)], capture_output=True, text=True, check=True
        )
        assert row[5] == summed.stdout.split()[0]
        assert int(row[4]) == file.stat().st_size and row[2] == file.name
    assert [int(r[6]) for r in manifest] == [1, 2]  # airings that reached the air

    records = (out / MONTH_FILES[4]).read_text(encoding="utf-8")
    assert "二、播出记录校验与每日摘要\n校验通过（PASS）：" in records
    assert records.rstrip().endswith(digest_line)


@pytest.mark.slow(3)
def test_empty_month_is_a_valid_pack_and_rerun_replaces_it(december, tmp_path: Path):
    bc, _ = december
    out = tmp_path / "台账"
    for _ in range(2):  # the second run replaces the first pack
        r = bc("ledger", "--month", "2026-10", "-o", str(out))
        assert r.exit_code == 0, r.output
        assert r.output.splitlines()[0] == f"2026年10月没有播出记录；台账已写入 {out}："
    assert len(list(out.iterdir())) == 6
    import openpyxl

    ws = openpyxl.load_workbook(out / "播放使用登记表-2026-10.xlsx")["播放使用登记表"]
    assert [c.value for c in ws[2]][0] == "（本月没有播出记录）" and ws.max_row == 2
    text = subprocess.run(["pdftotext", "-raw", str(out / "播放使用登记表-2026-10.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "\n（本月没有播出记录）\n" in text and "2026年10月没有播出记录" in text
    with (out / "音频文件清单-2026-10.csv").open(encoding="utf-8-sig") as f:
        assert len(list(csv.reader(f))) == 1  # the header only


def test_default_folder_is_beside_the_config(december):
    bc, _ = december
    r = bc("ledger", "--month", "2026年12月")
    assert r.exit_code == 0, r.output
    assert (bc.folder / "台账-2026-12" / "台账说明.txt").is_file()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--month", "2026-13"], "--month: 月份无效：2026-13；请写成 2026-12 的格式"),
        (["--month", "十二月"], "--month: 月份无效：十二月；请写成 2026-12 的格式"),
        (["--month", "2026-12", "-o", "{tmp}/a-file/pack"],
         "--output: 文件夹不存在：{tmp}/a-file；请先建好这个文件夹，或换一个路径"),
        (["--month", "2026-12", "-o", "{tmp}/notes"],
         "--output: {tmp}/notes 已存在，且不是台账文件夹；请换一个新的文件夹名，例如 {tmp}/台账-2026-12"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(december, tmp_path: Path, args: list[str], line: str):
    bc, _ = december
    tmp_path = tmp_path / "place"
    tmp_path.mkdir()
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep")
    before = sorted(tmp_path.rglob("*"))
    r = bc("ledger", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert (r.exit_code, r.stdout, r.stderr) == (
        1,
        "",
        f"Error: {line.replace('{tmp}', str(tmp_path))}\n",
    )
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, nothing removed


def test_month_is_required(december):
    bc, _ = december
    r = bc("ledger")
    assert r.exit_code == 2 and "Missing option '--month'" in r.output


def test_unwritable_place_leaves_nothing(december):
    """/proc takes no new folder even for root: a real refusal, told in one line."""
    bc, _ = december
    r = bc("ledger", "--month", "2026-12", "-o", "/proc/台账-2026-12")
    assert r.exit_code == 1
    assert re.fullmatch(
        r"Error: (--output: 没有权限写入文件夹：/proc；.*|无法写入台账文件夹 /proc/台账-2026-12（.+）；未留下任何文件，请检查磁盘空间和权限)\n",
        r.output,
    ), r.output
    assert not [p for p in Path("/proc").iterdir() if "台账" in p.name]


def test_failure_midway_leaves_no_partial_pack(december, tmp_path: Path, monkeypatch):
    """A failure after the XLSX and PDF are written (a full disk while writing the Word file)."""
    bc, _ = december

    def disk_full(data, path):
        path.write_bytes(b"PK")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ledger_files, "write_docx", disk_full)
    place = tmp_path / "place"
    place.mkdir()
    out = place / "pack"
    r = bc("ledger", "--month", "2026-12", "-o", str(out))
    assert r.output == (
        f"Error: 无法写入台账文件夹 {out}（No space left on device）；未留下任何文件，请检查磁盘空间和权限\n"
    )
    assert list(place.iterdir()) == []  # neither the pack nor its temporary folder


def test_scope_names_whole_zones():
    zones = {"东片": ("青石村", "东岭村"), "西片": ("西河村",)}
    everyone = ["青石村", "东岭村", "西河村", "南坡村"]
    assert ledger.scope(everyone, everyone, zones) == "全乡（4个村）"
    assert (
        ledger.scope(["东岭村", "青石村", "南坡村"], everyone, zones)
        == "东片（青石村、东岭村）、南坡村"
    )
    assert ledger.scope(["青石村"], everyone, zones) == "青石村"


def test_long_pdf_repeats_the_header_on_every_page(tmp_path: Path):
    from broadcast.pdf import TableDoc, write_table_pdf

    rows = [
        [f"2026-12-{1 + i // 4:02d}", "07:00", "07:00:01–07:05:02", f"节目{i}", "接到陌生电话" * 6,
         "5分01秒", "全乡（9个村）", "", "司法所（自动）", "已播完", ""]
        for i in range(120)
    ]  # fmt: skip
    doc = TableDoc("登记表", ["副标题"], ledger.HEADERS, ledger.PDF_WIDTHS, rows, author="站")
    pdf = tmp_path / "a.pdf"
    pages = write_table_pdf(doc, pdf)
    assert pages >= 3
    for page in range(1, pages + 1):
        text = subprocess.run(
            ["pdftotext", "-raw", "-f", str(page), "-l", str(page), str(pdf), "-"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        flat = re.sub(r"\s+", "", text)
        assert "播出范围（村/分区）" in flat and f"第{page}页共{pages}页" in flat, page
    assert "节目119" in re.sub(r"\s+", "", subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout)  # fmt: skip
