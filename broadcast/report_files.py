"""report.md and report.docx of the outreach report (:mod:`broadcast.report`), written from its
:class:`report.Figures` and words; the charts they show are drawn by :mod:`report_charts`.
Nothing here reads the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from .report import (
    CHART_MONTHS,
    CHART_VILLAGES,
    Figures,
    headline,
    method_notes,
    overview,
    tables,
    title,
)


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def markdown(fig: Figures, now: datetime) -> str:
    numbers = "一二三四五六七"
    out = [
        f"# {title(fig)}",
        "",
        headline(fig),
        "",
        f"生成时间：{now:%Y-%m-%d %H:%M}（数据来自站点数据库的播出记录）",
        "",
        "## 一、总体情况",
        "",
        _md_table(["项目", "数值"], overview(fig)),
    ]
    charts = {"按月统计": CHART_MONTHS, "按村统计": CHART_VILLAGES}
    for i, (heading, headers, rows) in enumerate(tables(fig), 1):
        out += ["", f"## {numbers[i]}、{heading}", "", _md_table(headers, rows)]
        if heading in charts:
            out += ["", f"![{heading}]({charts[heading]})"]
    out += ["", f"## {numbers[len(tables(fig)) + 1]}、数据来源与计算方法", ""]
    out += [f"{i}. {note}" for i, note in enumerate(method_notes(fig), 1)]
    return "\n".join(out) + "\n"


def write_docx(
    fig: Figures, now: datetime, charts: dict[str, Path], path: Path, author: str
) -> None:
    """report.docx: the content of report.md in the layout of a government document (GB/T 9704:
    A4, its margins, 小标宋-style title, 黑体 headings, 仿宋 body; :mod:`broadcast.printing`)."""
    from docx.shared import Mm, Pt

    from .printing import docx_table, gb_document

    doc = gb_document(author, title(fig))
    doc.add_paragraph(title(fig), style="Title")
    for text in (
        headline(fig),
        f"生成时间：{now:%Y-%m-%d %H:%M}（数据来自站点数据库的播出记录）",
    ):
        doc.add_paragraph(text).paragraph_format.first_line_indent = Pt(32)  # two characters
    numbers = "一二三四五六七"
    doc.add_heading("一、总体情况", level=1)
    docx_table(doc, ["项目", "数值"], overview(fig))
    width = Mm(210 - 28 - 26)
    for i, (heading, headers, rows) in enumerate(tables(fig), 1):
        doc.add_heading(f"{numbers[i]}、{heading}", level=1)
        docx_table(doc, headers, rows)
        if heading in charts:
            doc.add_picture(str(charts[heading]), width=width)
            picture = doc.paragraphs[-1].paragraph_format
            picture.line_spacing = 1.0  # the body's exact 28-pt lines would crop the chart
            picture.alignment = 1
    doc.add_heading(f"{numbers[len(tables(fig)) + 1]}、数据来源与计算方法", level=1)
    for i, note in enumerate(method_notes(fig), 1):
        doc.add_paragraph(f"{i}. {note}").paragraph_format.first_line_indent = Pt(32)
    doc.save(str(path))
