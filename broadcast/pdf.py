"""PDF of a printed table (the monthly 台账); the only importer of fpdf2.

fpdf2 (pure Python, on PyPI) embeds a subset of the Noto Sans CJK font that setup installs
(``fonts-noto-cjk``: OpenType/CFF in a .ttc collection, which fpdf2 reads with fontTools), so the
PDF shows the same characters on every PC and printer without LibreOffice. Pages are A4
landscape: the title on the first page, the header row repeated on every page, long cells
wrapped at any character (Chinese has no spaces), "第 N 页 共 M 页" at the foot of each page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ExportError

FONT_FILES = (  # (regular, bold): Debian/Ubuntu fonts-noto-cjk, then Fedora, Arch
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    ),
    (
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
    ),
    (
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    ),
)
FAMILY = "cjk"
TEXT_PT, TABLE_PT, TITLE_PT = 11, 8.5, 16


@dataclass(frozen=True)
class Section:
    """A heading and its lines of text, printed after the table."""

    heading: str
    lines: Sequence[str]


@dataclass(frozen=True)
class TableDoc:
    """What one PDF holds: a title, lines under it, one table, then sections."""

    title: str
    subtitle: Sequence[str]
    headers: Sequence[str]
    widths_mm: Sequence[float]  # scaled to the page width
    rows: Sequence[Sequence[str]]
    sections: Sequence[Section] = field(default_factory=tuple)
    author: str = ""
    empty_row: str = "（本月没有播出记录）"


def font_files() -> tuple[Path, Path | None]:
    """The installed Noto Sans CJK regular (and bold, if present) .ttc files."""
    for regular, bold in FONT_FILES:
        if Path(regular).is_file():
            return Path(regular), Path(bold) if Path(bold).is_file() else None
    raise ExportError(
        "找不到中文字体（Noto Sans CJK），无法生成 PDF；请安装：sudo apt-get install fonts-noto-cjk"
    )


def simplified_index(path: Path) -> int:
    """The simplified-Chinese (SC) face in a Noto CJK collection (its order differs by version)."""
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    try:
        for i, font in enumerate(collection.fonts):
            name = font["name"].getDebugName(1) or ""
            if name.endswith(" SC"):
                return i
    finally:
        collection.close()
    return 0


class _Pdf:
    """fpdf2's FPDF with the page footer (made in a function: fpdf is imported lazily)."""

    @staticmethod
    def make(author: str) -> Any:
        from fpdf import FPDF

        class Pdf(FPDF):
            def footer(self) -> None:
                self.set_y(-12)
                self.set_font(FAMILY, size=9)
                self.cell(0, 6, f"第 {self.page_no()} 页 共 {{nb}} 页", align="C")

        pdf = Pdf(orientation="L", unit="mm", format="A4")
        pdf.set_margins(12, 12, 12)
        pdf.set_auto_page_break(True, margin=16)
        pdf.set_author(author)
        pdf.set_creator(author)
        return pdf


def write_table_pdf(doc: TableDoc, path: Path) -> int:
    """Write ``doc`` to ``path`` (the caller makes it atomic); return the number of pages."""
    from fpdf.enums import WrapMode
    from fpdf.fonts import FontFace

    regular, bold = font_files()
    pdf = _Pdf.make(doc.author)
    pdf.add_font(FAMILY, "", str(regular), collection_font_number=simplified_index(regular))
    if bold:
        pdf.add_font(FAMILY, "B", str(bold), collection_font_number=simplified_index(bold))
    pdf.set_title(doc.title)
    pdf.add_page()
    pdf.set_font(FAMILY, "B" if bold else "", TITLE_PT)
    pdf.cell(0, 10, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=TEXT_PT - 1)
    for line in doc.subtitle:
        pdf.multi_cell(0, 6, line, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FAMILY, size=TABLE_PT)
    with pdf.table(
        col_widths=list(doc.widths_mm),
        width=pdf.epw,
        line_height=TABLE_PT * 0.5,
        text_align="LEFT",
        v_align="TOP",
        wrapmode=WrapMode.CHAR,
        repeat_headings=1,
        headings_style=FontFace(emphasis="BOLD" if bold else None, fill_color=(217, 217, 217)),
        padding=1,
    ) as table:
        for cells in [list(doc.headers), *doc.rows]:
            row = table.row()
            for text in cells:
                row.cell(text)
    if not doc.rows:
        pdf.cell(0, 8, doc.empty_row, border=1, align="C", new_x="LMARGIN", new_y="NEXT")
    for section in doc.sections:
        pdf.ln(4)
        pdf.set_font(FAMILY, "B" if bold else "", TEXT_PT + 1)
        pdf.cell(0, 8, section.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, size=TEXT_PT - 1)
        for line in section.lines:
            pdf.multi_cell(0, 5.5, line, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return int(pdf.page_no())
