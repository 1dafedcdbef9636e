"""Outputs on paper and in players, read back as their users' programs read them: XLSX print
settings (openpyxl), report.docx layout (python-docx and its XML), SRT subtitles (ffmpeg),
and the modes new files get under the umask."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_export import fill, run

from broadcast import subtitles
from broadcast.tts import Cue

SCRIPT = (
    "遇到火情请拨打119，遇到警情请拨打110。\n"
    "接到自称客服要求退款的电话，请立即拨打96110反诈专线咨询，不要转账，不要透露验证码，"
    "也不要下载对方发来的会议软件或者共享屏幕，更不要把银行卡借给别人使用。\n"
    "6月26日是国际禁毒日。\n"
)


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- SRT ---


@pytest.fixture
def produced(bc, tmp_path: Path):
    """A real espeak-ng programme (intro and outro jingles kept, no listen check)."""
    text = bc.config.read_text(encoding="utf-8")
    bc.config.write_text(
        re.sub(r"^listen_check = .*$", "listen_check = false", text, flags=re.M), encoding="utf-8"
    )
    script = tmp_path / "报警与反诈.txt"
    script.write_text("报警与反诈\n" + SCRIPT, encoding="utf-8")
    with umask(0o022):
        assert bc("scripts", "add", str(script)).exit_code == 0
        r = bc("produce", "--engine", "espeak", "1")
    assert r.exit_code == 0, r.output
    r = bc("programmes", "list", "--json")
    import json

    (p,) = json.loads(r.output)
    return p


def test_srt_holds_the_written_text_in_short_timed_cues(produced):
    srt = Path(produced["subtitles"])
    raw = srt.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    text = raw.decode("utf-8-sig")
    for written in ("119", "110", "96110", "6月26日"):
        assert written in text, written
    for spoken in ("幺幺九", "一一九", "九六一一零", "六月二十六日"):
        assert spoken not in text, spoken

    caps = subtitles.read_srt(srt)
    blocks = text.replace("\r\n", "\n").strip().split("\n\n")
    assert len(blocks) == len(caps) >= 5
    for block in blocks:
        lines = block.split("\n")[2:]
        assert 1 <= len(lines) <= 2 and all(len(line) <= 20 for line in lines), block
    previous_end = 0.0
    for start, end, _ in caps:
        assert previous_end - 0.001 <= start < end <= produced["duration_s"]
        assert end - start <= 7.0 + 0.001
        previous_end = end
    assert caps[0][0] > 2.0  # after the intro jingle
    said = "".join(t for _, _, t in caps)
    assert said == re.sub(r"\s", "", "报警与反诈。" + SCRIPT)  # every character, in order

    # ffmpeg reads it as SubRip and finds every cue
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(srt), "-f", "srt", "-"],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    assert out.count(" --> ") == len(caps) and "96110" in out


def test_programme_files_are_created_0644(produced):
    assert mode(Path(produced["file"])) == 0o644
    assert mode(Path(produced["subtitles"])) == 0o644


def test_captions_follow_the_cues_of_the_spoken_form():
    """The voice read the spoken form; each written sentence takes its cue's time span."""
    cues = [
        Cue(0.0, 2.0, "请拨打幺幺九。"),
        Cue(2.5, 6.5, "六月二十六日是国际禁毒日。"),
        Cue(7.0, 9.0, "谢谢。"),
    ]
    caps = subtitles.captions("请拨打119。\n6月26日是国际禁毒日。\n谢谢。", cues, None)
    assert [(c.start, c.end, c.text) for c in caps] == [
        (0.0, 2.0, "请拨打119。"),
        (2.5, 6.5, "6月26日是国际禁毒日。"),
        (7.0, 9.0, "谢谢。"),
    ]


def test_a_long_sentence_is_cut_at_commas_into_short_cues():
    sentence = "不要转账，不要透露验证码，也不要下载对方发来的会议软件或者共享屏幕，更不要把银行卡借给别人使用。"
    spoken = sentence  # no numbers: the spoken form is the written one
    caps = subtitles.captions(sentence, [Cue(1.0, 21.0, spoken)], None)
    assert "".join(c.text.replace("\n", "") for c in caps) == sentence
    assert caps[0].start == 1.0 and caps[-1].end == 21.0
    for a, b in zip(caps, caps[1:], strict=False):
        assert a.end == pytest.approx(b.start)
    for c in caps:
        assert c.end - c.start <= 7.0 + 1e-9
        assert all(len(line) <= 20 for line in c.text.split("\n"))
        assert c.text.count("\n") <= 1


def test_numbers_are_never_cut_in_half():
    text = "请记住反诈专线96110和报警电话110火警119急救120交通事故122以及市民热线12345和消费者投诉12315。"
    caps = subtitles.captions(text, [Cue(0.0, 20.0, text)], None)
    lines = [line for c in caps for line in c.text.split("\n")]
    assert len(caps) >= 3 and "".join(lines) == text
    for a, b in zip(lines, lines[1:], strict=False):
        assert not (a[-1].isdigit() and b[0].isdigit()), (a, b)


# --- XLSX print settings ---


def test_export_xlsx_prints_one_page_wide_with_the_header_on_every_page(station: Path, tmp_path):
    import openpyxl

    fill(station)
    out = tmp_path / "台账.xlsx"
    with umask(0o022):
        r = run(station, "log", "export", "--from", "2024-01-01", "--to", "2024-12-31", "-o", out)
    assert r.exit_code == 0, r.output
    assert mode(out) == 0o644
    wb = openpyxl.load_workbook(out)
    log, totals = wb["播出记录"], wb["汇总"]
    for ws in (log, totals):
        assert (ws.page_setup.paperSize, ws.page_setup.orientation) == (9, "landscape")
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert (log.page_setup.fitToWidth, log.page_setup.fitToHeight) == (1, 0)
    assert (totals.page_setup.fitToWidth, totals.page_setup.fitToHeight) == (1, 1)  # one page
    assert log.print_title_rows == "$1:$1"
    assert log.oddHeader.center.text == "青石乡播出记录（时间：2024-01-01 至 2024-12-31）"
    header = [c.value for c in log[1]]
    for name in ("覆盖村", "原因", "节目名称"):
        col = header.index(name) + 1
        assert log.cell(2, col).alignment.wrap_text, name
    assert all(c.border.top.style == "thin" for c in log[2])
    # a row whose 覆盖村 needs three lines is made tall enough to show them
    villages = header.index("覆盖村") + 1
    tall = [r for r in range(2, log.max_row + 1) if len(log.cell(r, villages).value) > 30]
    assert tall and all(log.row_dimensions[r].height >= 3 * 16 for r in tall)
    assert totals["A5"].value == "已播完时长(小时)" and totals["B5"].number_format == "0.0"


# --- report.docx ---


def test_report_docx_is_a4_with_government_document_layout(station: Path, tmp_path):
    from docx import Document
    from docx.oxml.ns import qn

    fill(station)
    folder = tmp_path / "r"
    with umask(0o022):
        r = run(station, "report", "--year", "2024", "-o", folder)
    assert r.exit_code == 0, r.output
    assert "受众约2.2万人次" in r.output  # 21610 people-times
    assert {mode(p) for p in folder.iterdir()} == {0o644}
    doc = Document(str(folder / "report.docx"))
    s = doc.sections[0]
    assert (round(s.page_width.mm), round(s.page_height.mm)) == (210, 297)
    margins = [round(m.mm) for m in (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)]
    assert margins == [37, 35, 28, 26]
    props = doc.core_properties
    assert props.author == "青石乡司法所普法广播站" and "python-docx" not in (props.comments or "")

    def east_asia(style) -> str:
        return style.element.rPr.rFonts.get(qn("w:eastAsia"))

    normal, title, h1 = doc.styles["Normal"], doc.styles["Title"], doc.styles["Heading 1"]
    assert (east_asia(normal), normal.font.size.pt) == ("仿宋", 16)
    assert (east_asia(title), title.font.size.pt) == ("方正小标宋简体", 22)
    assert east_asia(h1) == "黑体"
    for style in (title, h1, doc.styles["Heading 2"]):
        color = style.element.rPr.find(qn("w:color"))
        assert color.get(qn("w:val")) == "000000" and color.get(qn("w:themeColor")) is None
        assert style.element.pPr.find(qn("w:pBdr")) is None  # no blue rule under the title
    first = doc.paragraphs[0]
    assert first.style.name == "Title" and title.paragraph_format.alignment == 1  # centred
    assert first.text == "青石乡村广播普法宣传情况（2024年）"
    # each Chinese face is declared with the installed Noto CJK font as its stand-in
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    table_xml = doc.part.part_related_by(RT.FONT_TABLE).blob.decode("utf-8")
    assert re.search(r'w:name="仿宋".*?<w:altName w:val="Noto Serif CJK SC"/>', table_xml, re.S)
    assert re.search(r'w:name="黑体".*?<w:altName w:val="Noto Sans CJK SC"/>', table_xml, re.S)
    # numbers right-aligned, names left
    months = doc.tables[1]
    assert months.rows[1].cells[0].paragraphs[0].alignment in (None, 0)
    assert all(c.paragraphs[0].alignment == 2 for c in months.rows[1].cells[1:])
    assert months.rows[0].cells[2].text == "播出时长(小时)"  # the paragraph's unit
    # charts sit in paragraphs of single line spacing: the body's exact 28-pt lines would crop them
    pictures = [p for p in doc.paragraphs if p._p.xpath(".//w:drawing")]
    assert len(pictures) == 2 and all(p.paragraph_format.line_spacing == 1.0 for p in pictures)


def test_files_respect_a_stricter_umask(station: Path, tmp_path):
    fill(station)
    out = tmp_path / "a.csv"
    with umask(0o027):
        r = run(station, "log", "export", "-o", out)
    assert r.exit_code == 0 and mode(out) == 0o640
