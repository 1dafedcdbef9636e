"""Outputs on paper: the one print layout of every XLSX sheet and every Word document.

XLSX (openpyxl, also imported by :mod:`broadcast.export_xlsx`): A4 landscape, one page wide
(``fitToHeight = 0``: as many pages down as needed), the header row repeated on every page,
thin borders, long text wrapped, "第 &P 页 共 &N 页" in the footer. Works on write-only sheets.

DOCX (python-docx): A4 with the margins of GB/T 9704-2012 (top 37 mm, bottom 35 mm, left 28 mm,
right 26 mm), title in a 小标宋-style face at 22 pt (二号) centred, headings 一、 in 黑体 and （一）
in 楷体, body in 仿宋 at 16 pt (三号), all black. Word has no font fallback list, so each Chinese
face is named in ``w:eastAsia`` and declared in the font table with the installed Noto CJK
font (``fonts-noto-cjk``) as its ``w:altName``: a PC without 仿宋 shows Noto Serif CJK SC.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

PAGE_FOOTER = "第 &P 页 共 &N 页"
PAPER_A4 = 9  # the paperSize code of A4 in SpreadsheetML
HEADER_FILL = "D9D9D9"  # light grey: prints clearly on a black-and-white printer

# GB/T 9704-2012: (face, Noto CJK face that setup installs, used where the face is missing)
TITLE_FONT = ("方正小标宋简体", "Noto Serif CJK SC")
HEADING_FONT = ("黑体", "Noto Sans CJK SC")
SUBHEADING_FONT = ("楷体", "Noto Serif CJK SC")
BODY_FONT = ("仿宋", "Noto Serif CJK SC")
LATIN_FONT = "Times New Roman"
TITLE_PT, BODY_PT, TABLE_PT = 22, 16, 12  # 二号, 三号, 小四
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
A4_MM = (210, 297)
NUMBER = re.compile(r"^[+-]?[0-9][0-9,]*(\.[0-9]+)?(%|人次|次|小时|分钟|人|个)?$")


# --- XLSX ---


def workbook() -> Any:
    """A new streaming (write-only) openpyxl workbook."""
    from openpyxl import Workbook

    return Workbook(write_only=True)


def xlsx_print_layout(
    ws: Any, *, header_row: int | None = 1, one_page: bool = False, title: str | None = None
) -> None:
    """A4 landscape, fit to one page wide (``one_page``: the whole sheet on one page), the header
    row repeated on every page, page numbers in the footer, ``title`` in the page header."""
    from openpyxl.worksheet.page import PageMargins
    from openpyxl.worksheet.properties import PageSetupProperties

    ws.page_setup.paperSize = PAPER_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins = PageMargins(
        left=0.5, right=0.5, top=0.75, bottom=0.75, header=0.3, footer=0.3
    )
    ws.print_options.horizontalCentered = True
    if header_row:
        ws.print_title_rows = f"{header_row}:{header_row}"
    if title:
        ws.oddHeader.center.text = title
        ws.oddHeader.center.size = 14
    ws.oddFooter.center.text = PAGE_FOOTER


def xlsx_widths(ws: Any, widths: Sequence[float]) -> None:
    from openpyxl.utils import get_column_letter

    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w


def text_width(text: str) -> int:
    """Width in spreadsheet characters: a Chinese (wide) character counts two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@functools.lru_cache(maxsize=65536)  # a million rows repeat a few titles and village sets
def lines_needed(text: str, width: float) -> int:
    """How many lines ``text`` takes in a wrapped column ``width`` characters wide."""
    room = max(1, int(width) - 1)
    return sum(max(1, -(-text_width(part) // room)) for part in text.split("\n"))


class XlsxSheet:
    """Rows of one printed sheet: bordered cells in shared styles (made once: a million cells
    share them), wrapped columns, and each row as tall as its wrapped text (spreadsheets do not
    grow a row that a streamed file gives no height, so the text would be cut off on paper)."""

    LINE_PT = 16  # one line of 11-pt text with a CJK font

    def __init__(self, ws: Any, widths: Sequence[float], wrap: Collection[int] = (),
                 formats: dict[int, str] | None = None) -> None:  # fmt: skip
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

        self.ws, self.widths, self.wrap, self.formats = ws, tuple(widths), set(wrap), formats or {}
        xlsx_widths(ws, widths)
        thin = Side(style="thin", color="000000")
        self.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.header_font = Font(bold=True)
        self.header_fill = PatternFill("solid", fgColor=HEADER_FILL)
        self.header_align = Alignment(horizontal="center", vertical="center", wrap_text=True)
        self.wrapped = Alignment(vertical="center", wrap_text=True)
        self.plain = Alignment(vertical="center")
        self._styles: dict[tuple[bool, str | None], Any] = {}
        self.row = 0

    def header(self, values: Sequence[Any]) -> None:
        """A bold, grey, centred and bordered header row."""
        from openpyxl.cell import WriteOnlyCell

        cells = [WriteOnlyCell(self.ws, value=v) for v in values]
        for c in cells:
            c.font, c.fill = self.header_font, self.header_fill
            c.alignment, c.border = self.header_align, self.border
        self._append(cells, range(len(cells)))

    def blank(self) -> None:
        self._append([], ())

    def body(self, values: Sequence[Any]) -> None:
        """A bordered row; a value that is already a cell keeps its value and number format."""
        from openpyxl.cell.cell import Cell

        out = []
        for i, v in enumerate(values):
            if isinstance(v, Cell):
                number_format = v.number_format
                style = self._style(i, None)
                v._style = style.__class__(style)  # a copy: the cell's format is its own
                v.number_format = number_format
                out.append(v)
            else:  # a style array copied: 5x faster than setting border and alignment
                style = self._style(i, self.formats.get(i))
                out.append(Cell(self.ws, row=1, column=1, value=v, style_array=style))
        self._append(out, self.wrap)

    def _append(self, cells: list[Any], wrapped: Collection[int]) -> None:
        self.row += 1
        lines = max(
            (lines_needed(str(cells[i].value), self.widths[i])
             for i in wrapped if i < len(cells) and i < len(self.widths) and cells[i].value),
            default=1,
        )  # fmt: skip
        if lines > 1:  # set before the row is written (write-only sheets write as they go)
            self.ws.row_dimensions[self.row].height = lines * self.LINE_PT + 2
        self.ws.append(cells)

    def _style(self, column: int, number_format: str | None) -> Any:
        key = (column in self.wrap, number_format)
        if key not in self._styles:
            from openpyxl.cell import WriteOnlyCell

            c = WriteOnlyCell(self.ws)
            c.border, c.alignment = self.border, self.wrapped if key[0] else self.plain
            if number_format:
                c.number_format = number_format
            self._styles[key] = c._style
        return self._styles[key]


# --- DOCX ---


def docx_page(doc: Any) -> None:
    """A4, GB/T 9704 margins, page numbers centred in the footer (四号)."""
    from docx.shared import Mm

    for section in doc.sections:
        section.page_width, section.page_height = Mm(A4_MM[0]), Mm(A4_MM[1])
        section.top_margin = Mm(MARGINS_MM["top"])
        section.bottom_margin = Mm(MARGINS_MM["bottom"])
        section.left_margin = Mm(MARGINS_MM["left"])
        section.right_margin = Mm(MARGINS_MM["right"])
        footer = section.footer.paragraphs[0]
        footer.alignment = 1  # centre
        _page_field(footer)


def _page_field(paragraph: Any) -> None:
    """— PAGE — as a field Word and LibreOffice fill in."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    paragraph.add_run("— ").font.size = Pt(14)
    run = paragraph.add_run()
    run.font.size = Pt(14)
    for kind, text in (("begin", None), (None, " PAGE "), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    paragraph.add_run(" —").font.size = Pt(14)


def set_font(target: Any, face: tuple[str, str], size: float | None = None) -> None:
    """Chinese face in w:eastAsia, Latin in Times New Roman, black; on a style or a run."""
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    font = target.font
    font.name = LATIN_FONT
    if size:
        font.size = Pt(size)
    font.color.rgb = RGBColor(0, 0, 0)
    rpr = (
        target.element.get_or_add_rPr()
        if hasattr(target, "element")
        else target._r.get_or_add_rPr()
    )
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), face[0])
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    color = rpr.find(qn("w:color"))
    if color is not None:  # python-docx's heading styles colour by theme (blue)
        for attr in ("w:themeColor", "w:themeShade", "w:themeTint"):
            color.attrib.pop(qn(attr), None)


def gb_document(author: str, title: str) -> Any:
    """A new Word document in the GB/T 9704 layout, ``author`` in its properties."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    docx_page(doc)
    normal = doc.styles["Normal"]
    set_font(normal, BODY_FONT, BODY_PT)
    normal.paragraph_format.line_spacing = Pt(28)  # 22 lines a page
    normal.paragraph_format.space_after = Pt(0)
    for name, face, size in (
        ("Title", TITLE_FONT, TITLE_PT),
        ("Heading 1", HEADING_FONT, BODY_PT),
        ("Heading 2", SUBHEADING_FONT, BODY_PT),
    ):
        style = doc.styles[name]
        set_font(style, face, size)
        style.font.bold = name == "Title"
        style.font.italic = False
        fmt = style.paragraph_format
        fmt.space_before = Pt(12 if name == "Heading 1" else 0)
        fmt.space_after = Pt(14 if name == "Title" else 0)
        fmt.line_spacing = Pt(36 if name == "Title" else 28)
        fmt.alignment = 1 if name == "Title" else None
        fmt.keep_with_next = True
        _no_border(style)
    props = doc.core_properties
    props.author = props.last_modified_by = author
    props.title = title
    props.comments = ""
    _declare_fonts(doc)
    return doc


def _no_border(style: Any) -> None:
    """python-docx's Title style draws a blue rule under the title: remove it."""
    from docx.oxml.ns import qn

    ppr = style.element.find(qn("w:pPr"))
    if ppr is not None:
        for el in ppr.findall(qn("w:pBdr")):
            ppr.remove(el)


def _declare_fonts(doc: Any) -> None:
    """Declare each Chinese face in word/fontTable.xml with its Noto CJK stand-in (w:altName)."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from lxml import etree

    part = doc.part.part_related_by(RT.FONT_TABLE)
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    root = etree.fromstring(part.blob)
    for face, alt in (TITLE_FONT, HEADING_FONT, SUBHEADING_FONT, BODY_FONT):
        if root.find(f"{{{ns}}}font[@{{{ns}}}name='{face}']") is not None:
            continue
        font = etree.SubElement(root, f"{{{ns}}}font", {f"{{{ns}}}name": face})
        etree.SubElement(font, f"{{{ns}}}altName", {f"{{{ns}}}val": alt})
        etree.SubElement(font, f"{{{ns}}}charset", {f"{{{ns}}}val": "86"})  # GB2312
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def docx_table(doc: Any, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    """A bordered table in 小四; the header row bold, centred and repeated on each page; numbers
    right-aligned."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = 1
    header = table.rows[0]
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header._tr.get_or_add_trPr().append(repeat)
    for cell, text in zip(header.cells, headers, strict=True):
        _cell(cell, text, align=1, bold=True)
    for r in rows:
        for i, (cell, text) in enumerate(zip(table.add_row().cells, r, strict=True)):
            _cell(cell, text, align=2 if i and NUMBER.match(text) else 0)
    return table


def _cell(cell: Any, text: str, align: int, bold: bool = False) -> None:
    from docx.shared import Pt

    p = cell.paragraphs[0]
    p.alignment = align
    p.paragraph_format.line_spacing = 1.0
    p.paragraph_format.first_line_indent = Pt(0)
    run = p.add_run(text)
    run.bold = bold
    set_font(run, BODY_FONT, TABLE_PT)
