"""The files of the monthly 台账 pack (:mod:`broadcast.ledger`), written from its data classes:
the 登记表 as XLSX and PDF, the scripts as one Word document, the audio manifest (sha256), the
approval and verification records and the folder's 台账说明.txt. Nothing here reads the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .ledger import HEADERS, MARKER, PDF_WIDTHS, WRAPPED, XLSX_WIDTHS, LedgerData, Month


def file_names(month: Month) -> dict[str, str]:
    m = month.slug
    return {
        "xlsx": f"播放使用登记表-{m}.xlsx",
        "pdf": f"播放使用登记表-{m}.pdf",
        "docx": f"稿件汇编-{m}.docx",
        "manifest": f"音频文件清单-{m}.csv",
        "records": f"审核与校验记录-{m}.txt",
        "readme": MARKER,
    }


def approval_lines(data: LedgerData) -> list[str]:
    if not data.approvals:
        return ["（本月播出的节目没有审核记录）"]
    titles = {r.programme_id: r.cells[3] for r in data.rows}
    lines = []
    for pid, signatures in sorted(data.approvals.items()):
        for s in signatures:
            lines.append(f"节目 {pid}《{titles.get(pid, '')}》：{s.level}　{s.by}　{s.at}")
    return lines


def chain_lines(data: LedgerData) -> list[str]:
    return [data.chain.line, *(data.chain.digest_lines or ["（本月没有每日摘要行）"])]


def write_xlsx(data: LedgerData, path: Path) -> None:
    from .printing import XlsxSheet, workbook, xlsx_print_layout

    wb = workbook()
    ws = wb.create_sheet("播放使用登记表")
    ws.freeze_panes = "A2"
    xlsx_print_layout(ws, title=data.title)
    sheet = XlsxSheet(ws, XLSX_WIDTHS, WRAPPED)
    sheet.header(HEADERS)
    for r in data.rows:
        sheet.body(r.cells)
    if not data.rows:
        sheet.body(["（本月没有播出记录）", *[None] * (len(HEADERS) - 1)])
    notes = wb.create_sheet("审核与校验")
    xlsx_print_layout(notes, header_row=None, title=data.title)
    records = XlsxSheet(notes, (100,), wrap=(0,))
    for heading, lines in (("审核记录", approval_lines(data)), ("播出记录校验", chain_lines(data))):
        records.header([heading])
        for line in lines:
            records.body([line])
        records.blank()
    wb.save(path)


def pdf_doc(data: LedgerData) -> Any:
    from .pdf import Section, TableDoc

    return TableDoc(
        title=data.title,
        subtitle=[
            f"{data.station}　{data.summary_line()}　　审核人签字：__________　负责人签字：__________"
        ],
        headers=HEADERS,
        widths_mm=PDF_WIDTHS,
        rows=[r.cells for r in data.rows],
        sections=[
            Section("审核记录", approval_lines(data)),
            Section("播出记录校验（broadcast log verify）与每日摘要", chain_lines(data)),
        ],
        author=data.station,
    )


def write_docx(data: LedgerData, path: Path) -> None:
    """稿件汇编: each script that aired this month, in full, one after another."""
    from docx.shared import Pt

    from .printing import gb_document

    title = f"{data.township}普法广播稿件汇编（{data.month.label}）"
    doc = gb_document(data.station, title)
    doc.add_paragraph(title, style="Title")
    intro = (
        f"本汇编收录{data.month.label}播出的全部稿件，共{len(data.scripts)}篇，按首次播出时间排列。"
        if data.scripts
        else f"{data.month.label}没有播出稿件。"
    )
    doc.add_paragraph(intro).paragraph_format.first_line_indent = Pt(32)
    for n, s in enumerate(data.scripts, 1):
        doc.add_heading(f"{_chinese_number(n)}、{s.title}", level=1)
        meta = f"（稿件编号 {s.script_id}，主题：{s.topic}，本月首播 {s.first_aired}，播出 {s.airings} 次）"
        doc.add_paragraph(meta, style="Heading 2")
        paragraphs = [p.strip() for p in s.text.splitlines() if p.strip()] or [
            "（录音节目，无文字稿）"
        ]
        for text in paragraphs:
            doc.add_paragraph(text).paragraph_format.first_line_indent = Pt(32)
    doc.save(str(path))


def _chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    return str(n)


def write_manifest(data: LedgerData, path: Path) -> None:
    """音频文件清单 (CSV, UTF-8 with BOM): programme, file, size, sha256, airings."""
    import csv

    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "节目编号",
                "节目名称",
                "文件名",
                "时长(秒)",
                "大小(字节)",
                "SHA-256",
                "本月播出次数",
                "文件位置",
            ]
        )
        for a in data.audio:
            w.writerow([
                a.programme_id, a.title, Path(a.file).name, f"{a.seconds:.1f}",
                a.size if a.size is not None else "", a.sha256 or "文件已不存在", a.airings, a.file,
            ])  # fmt: skip


def write_records(data: LedgerData, path: Path) -> None:
    lines = [data.title, "", "一、审核记录", *approval_lines(data), "", "二、播出记录校验与每日摘要",
             *chain_lines(data), ""]  # fmt: skip
    path.write_text("\n".join(lines), encoding="utf-8")


def write_readme(data: LedgerData, path: Path, names: dict[str, str]) -> None:
    lines = [
        data.title,
        f"{data.station}",
        data.summary_line() + "。",
        "",
        "本文件夹包含：",
        f"  {names['xlsx']}　播放使用登记表（Excel/WPS，A4 横向打印，每页重复表头）",
        f"  {names['pdf']}　播放使用登记表（PDF，可直接打印，含审核记录和校验结果）",
        f"  {names['docx']}　本月播出稿件全文（{len(data.scripts)} 篇）",
        f"  {names['manifest']}　播出音频文件清单（{len(data.audio)} 个，含 SHA-256 校验值）",
        f"  {names['records']}　审核记录、播出记录校验结果和每日摘要",
        "",
        "核对音频文件：sha256sum 文件名，结果应与清单中的 SHA-256 一致。",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
