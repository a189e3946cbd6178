"""公文 layout (GB/T 9704-2012) for the Word reports, and the builder of templates/.

``python -m processor.docx_layout`` (re)writes every ``templates/<name>.docx``.
Staff may afterwards edit those files in Word: at run time the committed .docx
files are the source of truth, this module only documents how they were made.

The layout helpers (:func:`new_document`, :func:`enforce_east_asian_fonts`,
:func:`save_deterministic`) are also used by :mod:`processor.render`.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.opc.pkgwriter import PackageWriter
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from lxml import etree

from processor.common.fsutil import atomic_write_bytes
from processor.common.paths import TEMPLATES_DIR

# --- fonts and sizes (2号 = 22pt, 3号 = 16pt, 4号 = 14pt, 小4 = 12pt) -------------
FONT_TITLE = "方正小标宋简体"
FONT_BODY = "仿宋_GB2312"
FONT_HEI = "黑体"
FONT_KAI = "楷体_GB2312"
FONT_SONG = "宋体"
OFFICIAL_FONTS = (FONT_TITLE, FONT_BODY, "仿宋", FONT_HEI, FONT_KAI, FONT_SONG)

SIZE_TITLE = Pt(22)
SIZE_BODY = Pt(16)
SIZE_PAGE_NO = Pt(14)
SIZE_TABLE = Pt(12)
LINE_PITCH_TWIPS = 579  # 22 lines in a 225 mm text area
CHAR_SPACE = -849  # (15.793 - 16) * 4096: 28 characters of 16pt per 156 mm line
# LibreOffice lays a 16pt character over two 15.79pt cells of a "linesAndChars"
# grid (14 characters per line), so the grid is a line grid only and 3号 text is
# condensed by 0.25pt: 28 characters of 15.75pt fill the 156 mm line in Word and
# LibreOffice alike.
GRID_TYPE = "lines"
CONDENSE_TWIPS = -5
BODY_INDENT = Pt(32)  # two characters of 3号

# --- page (mm) ----------------------------------------------------------------
PORTRAIT = {"width": 210, "height": 297, "top": 37, "bottom": 35, "left": 28, "right": 26}
# Landscape attachment (the 一览表): the portrait margins turned by a quarter.
LANDSCAPE = {"width": 297, "height": 210, "top": 28, "bottom": 26, "left": 37, "right": 35}
FOOTER_DISTANCE_MM = 25  # page number about 7 mm below the text area

# --- style names (shown in Word's style pane, hence Chinese) -------------------
ST_TITLE = "公文标题"
ST_H1 = "一级标题"
ST_H2 = "二级标题"
ST_BODY = "Normal"
ST_NOINDENT = "正文顶格"
ST_ADDRESSEE = "主送机关"
ST_TABLE = "表格文字"
ST_TABLE_LEFT = "表格文字左对齐"
ST_TABLE_HEAD = "表格标题行"
ST_FIGURE = "图表"
ST_ANNEX_MARK = "附件标记"
ST_ANNEX_TITLE = "附件标题"
ST_ANNEX_NOTE = "附件说明"
ST_ANNEX_NOTE_MORE = "附件说明续行"
ST_SIGN = "落款单位"
ST_SIGN_DATE = "落款日期"
ST_PAGE_NO = "页码"
ST_COVER = "封面"
PROJECT_STYLES = (ST_TITLE, ST_H1, ST_H2, ST_BODY, ST_NOINDENT, ST_ADDRESSEE, ST_TABLE, ST_TABLE_LEFT, ST_TABLE_HEAD, ST_FIGURE,
                  ST_ANNEX_MARK, ST_ANNEX_TITLE, ST_ANNEX_NOTE, ST_ANNEX_NOTE_MORE, ST_SIGN, ST_SIGN_DATE,
                  ST_PAGE_NO, ST_COVER)

# Table caption that tells the renderer to print in light grey the cells that repeat the row
# above (1-based column numbers; a later column only while the earlier ones repeat too).  Not a
# vertical merge: a merged block broken by a page leaves the next page without its group and name.
DIM_CAPTION_PREFIX = "重复内容淡显列："
DIM_COLOR = "8C8C8C"

FIXED_STAMP = dt.datetime(2026, 1, 1, 0, 0, 0)
_THEME_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


# ============================================================================
# fonts
# ============================================================================
def set_rfonts(rpr_parent, font: str) -> None:
    """Name ``font`` for every script on an rPr (style, docDefaults or run); drop theme fonts."""
    rpr = rpr_parent.get_or_add_rPr() if hasattr(rpr_parent, "get_or_add_rPr") else rpr_parent
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in _THEME_ATTRS:
        rfonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), font)
    rfonts.set(qn("w:hint"), "eastAsia")


def style_font(doc, style_id: str | None) -> str:
    """The eastAsia font a paragraph style resolves to (walking ``basedOn``)."""
    return _style_fonts(doc).get(style_id or "", FONT_BODY)


def _style_fonts(doc) -> dict[str, str]:
    """Every paragraph style's resolved eastAsia font, from one pass over the styles part."""
    own: dict[str, tuple[str | None, str | None]] = {}  # style id -> (its eastAsia font, basedOn)
    for style in doc.styles.element.iterchildren(_W_STYLE):
        rfonts = style.find(_RPR_RFONTS)
        based = style.find(_W_BASED_ON)
        own[style.get(_W_STYLE_ID)] = (rfonts.get(_W_EAST_ASIA) if rfonts is not None else None,
                                       based.get(_W_VAL) if based is not None else None)
    resolved = {}
    for style_id in own:
        seen, current = set(), style_id
        while current in own and current not in seen:
            seen.add(current)
            font, current = own[current]
            if font:
                resolved[style_id] = font
                break
    return resolved


_W_STYLE, _W_STYLE_ID, _W_BASED_ON, _W_VAL = qn("w:style"), qn("w:styleId"), qn("w:basedOn"), qn("w:val")
_W_EAST_ASIA, _W_P, _W_RPR, _W_RFONTS = qn("w:eastAsia"), qn("w:p"), qn("w:rPr"), qn("w:rFonts")
_RPR_RFONTS = f"{_W_RPR}/{_W_RFONTS}"
_PPR_PSTYLE = f"{qn('w:pPr')}/{qn('w:pStyle')}"
_FONT_ATTRS = tuple(qn(a) for a in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"))
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


# Runs that do not yet name one font for every script with the East-Asian hint and no theme font:
# the only runs the font pass has to change (one XPath query instead of a look at every run).
_RUNS_TO_FIX = etree.XPath(
    ".//w:r[not(w:rPr/w:rFonts[@w:eastAsia != '' and @w:ascii = @w:eastAsia and @w:hAnsi = @w:eastAsia"
    " and @w:cs = @w:eastAsia and @w:hint = 'eastAsia' and not(@w:asciiTheme or @w:hAnsiTheme"
    " or @w:eastAsiaTheme or @w:cstheme)])]", namespaces={"w": _W_NS})


def enforce_east_asian_fonts(doc) -> int:
    """Give every run of body, headers and footers an explicit ``w:eastAsia`` font.

    A run that names a font keeps it (for every script); a run that names none
    gets its paragraph style's font.  Theme font attributes are removed, so Word
    never substitutes a Latin theme font for Chinese text.  Returns how many runs it changed.
    """
    roots = [doc.element.body]
    for section in doc.sections:
        for part in (section.header, section.footer, section.even_page_header,
                     section.even_page_footer, section.first_page_header, section.first_page_footer):
            if not part.is_linked_to_previous:
                roots.append(part._element)
    touched = 0
    fonts = _style_fonts(doc)
    for root in roots:
        for run in _RUNS_TO_FIX(root):
            rpr = run.find(_W_RPR)
            if rpr is None:
                rpr = OxmlElement("w:rPr")
                run.insert(0, rpr)
            rfonts = rpr.find(_W_RFONTS)
            named = None
            if rfonts is not None:
                named = rfonts.get(_W_EAST_ASIA) or rfonts.get(_FONT_ATTRS[0])
            set_rfonts(rpr, named or _paragraph_font(run, fonts))
            touched += 1
    return touched


def _paragraph_font(run, fonts: dict[str, str]) -> str:
    """The font of the paragraph style a run sits in."""
    par = next(run.iterancestors(_W_P), None)
    pstyle = par.find(_PPR_PSTYLE) if par is not None else None
    return fonts.get(pstyle.get(_W_VAL) if pstyle is not None else "Normal", FONT_BODY)


# ============================================================================
# document, styles, page
# ============================================================================
def _paragraph_style(doc, name: str, *, font: str, size, base: str | None = ST_BODY,
                     align=None, indent_chars: int | None = None, outline: int | None = None,
                     exact_grid: bool = True, page_break_before: bool = False, keep_with_next: bool = False,
                     right_indent_chars: int | None = None, left_indent_chars: int | None = None):
    styles = doc.styles
    style = styles[name] if name in [s.name for s in styles] else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    if base and name != ST_BODY:
        style.base_style = styles[base]
    style.quick_style = True
    style.font.size = size
    style.font.bold = False
    style.font.italic = False
    set_rfonts(style.element, font)
    rpr = style.element.get_or_add_rPr()
    spacing = _get_or_add(rpr, "w:spacing")
    spacing.set(qn("w:val"), str(CONDENSE_TWIPS if size == SIZE_BODY and GRID_TYPE == "lines" else 0))
    pf = style.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    if exact_grid:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(LINE_PITCH_TWIPS / 20)
    else:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
        _set_snap_to_grid(style.element, False)
    if align is not None:
        pf.alignment = align
    pf.page_break_before = page_break_before or None
    # headings and the 落款 never end a page: they stay with what follows, whole
    pf.keep_with_next = keep_with_next or None
    pf.keep_together = keep_with_next or None
    pf.widow_control = False
    char = size.pt
    ind = _get_or_add(style.element.get_or_add_pPr(), "w:ind")
    for attr in ("w:firstLine", "w:firstLineChars", "w:left", "w:leftChars",
                 "w:right", "w:rightChars", "w:hanging", "w:hangingChars"):
        ind.attrib.pop(qn(attr), None)
    ind.set(qn("w:firstLine"), str(int(char * 20 * (indent_chars or 0))))
    ind.set(qn("w:firstLineChars"), str(100 * (indent_chars or 0)))
    if left_indent_chars:
        ind.set(qn("w:left"), str(int(char * 20 * left_indent_chars)))
        ind.set(qn("w:leftChars"), str(100 * left_indent_chars))
    if right_indent_chars:
        ind.set(qn("w:right"), str(int(char * 20 * right_indent_chars)))
        ind.set(qn("w:rightChars"), str(100 * right_indent_chars))
    if outline is not None:
        _get_or_add(style.element.get_or_add_pPr(), "w:outlineLvl").set(qn("w:val"), str(outline))
    return style


def _get_or_add(parent, tag: str):
    found = parent.find(qn(tag))
    if found is None:
        found = OxmlElement(tag)
        parent.append(found)
    return found


def _set_snap_to_grid(style_el, on: bool) -> None:
    ppr = style_el.get_or_add_pPr()
    _get_or_add(ppr, "w:snapToGrid").set(qn("w:val"), "1" if on else "0")


def _setup_styles(doc) -> None:
    # docDefaults: no theme fonts, 仿宋 everywhere a style says nothing
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
    set_rfonts(rpr_default, FONT_BODY)
    lang = rpr_default.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")
    for rfonts in doc.styles.element.iter(qn("w:rFonts")):
        for attr in _THEME_ATTRS:
            rfonts.attrib.pop(qn(attr), None)

    center, right, left = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.LEFT
    _paragraph_style(doc, ST_BODY, font=FONT_BODY, size=SIZE_BODY, base=None,
                     align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent_chars=2)
    title = _paragraph_style(doc, ST_TITLE, font=FONT_TITLE, size=SIZE_TITLE, align=center, indent_chars=0,
                             keep_with_next=True)
    _set_snap_to_grid(title.element, False)
    _paragraph_style(doc, ST_H1, font=FONT_HEI, size=SIZE_BODY, indent_chars=2, outline=0, keep_with_next=True)
    _paragraph_style(doc, ST_H2, font=FONT_KAI, size=SIZE_BODY, indent_chars=2, outline=1, keep_with_next=True)
    _paragraph_style(doc, ST_NOINDENT, font=FONT_BODY, size=SIZE_BODY, indent_chars=0)
    _paragraph_style(doc, ST_ADDRESSEE, font=FONT_BODY, size=SIZE_BODY, align=left, indent_chars=0,
                     keep_with_next=True)
    _paragraph_style(doc, ST_TABLE, font=FONT_BODY, size=SIZE_TABLE, align=center, indent_chars=0,
                     exact_grid=False)
    _paragraph_style(doc, ST_TABLE_LEFT, font=FONT_BODY, size=SIZE_TABLE, base=ST_TABLE, align=left,
                     indent_chars=0, exact_grid=False)
    _paragraph_style(doc, ST_TABLE_HEAD, font=FONT_HEI, size=SIZE_TABLE, base=ST_TABLE, align=center,
                     indent_chars=0, exact_grid=False)
    _paragraph_style(doc, ST_FIGURE, font=FONT_BODY, size=SIZE_BODY, align=center, indent_chars=0,
                     exact_grid=False)
    _paragraph_style(doc, ST_ANNEX_MARK, font=FONT_HEI, size=SIZE_BODY, align=left, indent_chars=0,
                     page_break_before=True, keep_with_next=True)
    annex_title = _paragraph_style(doc, ST_ANNEX_TITLE, font=FONT_TITLE, size=SIZE_TITLE, align=center,
                                   indent_chars=0, keep_with_next=True)
    _set_snap_to_grid(annex_title.element, False)
    _paragraph_style(doc, ST_ANNEX_NOTE, font=FONT_BODY, size=SIZE_BODY, indent_chars=2)
    _paragraph_style(doc, ST_ANNEX_NOTE_MORE, font=FONT_BODY, size=SIZE_BODY, indent_chars=0,
                     left_indent_chars=5)
    _paragraph_style(doc, ST_SIGN, font=FONT_BODY, size=SIZE_BODY, align=right, indent_chars=0,
                     right_indent_chars=2, keep_with_next=True)
    _paragraph_style(doc, ST_SIGN_DATE, font=FONT_BODY, size=SIZE_BODY, align=right, indent_chars=0,
                     right_indent_chars=4)
    _paragraph_style(doc, ST_PAGE_NO, font=FONT_SONG, size=SIZE_PAGE_NO, indent_chars=0, exact_grid=False)
    _paragraph_style(doc, ST_COVER, font=FONT_HEI, size=SIZE_BODY, align=center, indent_chars=0)
    for name in ("Table Grid",):
        if name in [s.name for s in doc.styles]:
            set_rfonts(doc.styles[name].element, FONT_BODY)


def _setup_page(doc, landscape: bool) -> None:
    page = LANDSCAPE if landscape else PORTRAIT
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(page["width"]), Mm(page["height"])
    section.top_margin, section.bottom_margin = Mm(page["top"]), Mm(page["bottom"])
    section.left_margin, section.right_margin = Mm(page["left"]), Mm(page["right"])
    section.footer_distance = Mm(FOOTER_DISTANCE_MM)
    section.header_distance = Mm(15)
    grid = section._sectPr.find(qn("w:docGrid"))  # the default template has one: change it
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    grid.set(qn("w:type"), GRID_TYPE)
    grid.set(qn("w:linePitch"), str(LINE_PITCH_TWIPS))
    if GRID_TYPE == "linesAndChars":
        grid.set(qn("w:charSpace"), str(CHAR_SPACE))
    else:
        grid.attrib.pop(qn("w:charSpace"), None)


def add_page_number_field(paragraph) -> None:
    """``— PAGE —`` as text + a five-run PAGE field, every run 宋体 14pt."""

    def run_with(child=None, text=None):
        run = paragraph.add_run()
        if text is not None:
            run.text = text
        if child is not None:
            run._element.append(child)
        run.font.size = SIZE_PAGE_NO
        set_rfonts(run._element, FONT_SONG)
        return run

    def fld(kind):
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        return el

    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = " PAGE "
    run_with(text="— ")
    run_with(fld("begin"))
    run_with(instr)
    run_with(fld("separate"))
    run_with(text="1")
    run_with(fld("end"))
    run_with(text=" —")


def _setup_footers(doc) -> None:
    doc.settings.odd_and_even_pages_header_footer = True
    section = doc.sections[0]
    for footer, align, side in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right"),
                                (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left")):
        footer.is_linked_to_previous = False
        par = footer.paragraphs[0]
        par.style = doc.styles[ST_PAGE_NO]
        par.alignment = align
        if side == "right":
            par.paragraph_format.right_indent = SIZE_PAGE_NO
        else:
            par.paragraph_format.left_indent = SIZE_PAGE_NO
        add_page_number_field(par)
    for header in (section.header, section.even_page_header):
        header.is_linked_to_previous = False


def new_document(landscape: bool = False):
    """An empty python-docx Document with the complete 公文 page, styles and footers."""
    doc = Document()
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    _setup_styles(doc)
    _setup_page(doc, landscape)
    _setup_footers(doc)
    return doc


# ============================================================================
# deterministic save
# ============================================================================
def fix_core_properties(doc, stamp: dt.datetime, author: str = "") -> None:
    props = doc.core_properties
    props.author = author
    props.last_modified_by = author
    props.created = stamp
    props.modified = stamp
    props.revision = 1
    props.title = props.title or ""


ZIP_STAMP = (1980, 1, 1, 0, 0, 0)


def _zip_entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed timestamp and mode: same content -> same bytes."""
    info = zipfile.ZipInfo(name, date_time=ZIP_STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


class _FixedStampZipWriter:
    """python-docx's physical package writer interface, writing fixed-stamp entries."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf

    def write(self, pack_uri, blob: bytes) -> None:
        self.zf.writestr(_zip_entry(pack_uri.membername), blob)


def document_bytes(doc, stamp: dt.datetime = FIXED_STAMP, author: str = "") -> bytes:
    """The document's package, deterministic, compressed once (python-docx's own save compresses
    every part and a re-stamping pass would compress them all again)."""
    fix_core_properties(doc, stamp, author)
    package = doc.part.package
    parts = package.parts
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        writer = _FixedStampZipWriter(zf)  # the same three steps, in the same order, as PackageWriter.write
        PackageWriter._write_content_types_stream(writer, parts)
        PackageWriter._write_pkg_rels(writer, package.rels)
        PackageWriter._write_parts(writer, parts)
    return out.getvalue()


def save_deterministic(doc, path: Path, stamp: dt.datetime = FIXED_STAMP, author: str = "") -> Path:
    return atomic_write_bytes(Path(path), document_bytes(doc, stamp, author))


# ============================================================================
# template builder
# ============================================================================
@dataclass(frozen=True)
class Column:
    title: str
    expr: str  # jinja expression inside {{ }}, e.g. "r.unit"
    width_mm: float
    left: bool = False  # long text: left-aligned


class TemplateBuilder:
    """Small vocabulary for writing a docxtpl template with the 公文 styles."""

    def __init__(self, landscape: bool = False):
        self.doc = new_document(landscape)

    def _par(self, text: str, style: str):
        """One run per line ("\n" = line break): a jinja tag is never split across runs."""
        par = self.doc.add_paragraph(style=self.doc.styles[style])
        for i, line in enumerate(text.split("\n") if text else []):
            font = style_font(self.doc, par.style.style_id)
            if i:
                set_rfonts(par.add_run()._element, font)
                par.runs[-1]._element.append(OxmlElement("w:br"))
            run = par.add_run(line)
            set_rfonts(run._element, font)
        return par

    def title(self, text: str):
        self._par(text, ST_TITLE)
        self._par("", ST_BODY)  # one blank line under the title

    def addressee(self, expr: str = "addressee"):
        """主送: flush left on the line under the title's blank line, ending in a full-width colon."""
        return self._par("{{ " + expr + " }}：", ST_ADDRESSEE)

    def h1(self, text: str):
        return self._par(text, ST_H1)

    def h2(self, text: str):
        return self._par(text, ST_H2)

    def p(self, text: str, style: str = ST_BODY):
        return self._par(text, style)

    def tag(self, statement: str):
        """A paragraph holding only a ``{%p ... %}`` tag (removed at render time)."""
        return self._par("{%p " + statement + " %}", ST_BODY)

    def blank(self):
        return self._par("", ST_BODY)

    def figure(self, variable: str):
        return self._par("{{ " + variable + " }}", ST_FIGURE)

    def annex_note(self, titles: list[str]):
        for i, title in enumerate(titles, 1):
            if i == 1:
                self._par(f"附件：{i}. {title}" if len(titles) > 1 else f"附件：{title}", ST_ANNEX_NOTE)
            else:
                self._par(f"{i}. {title}", ST_ANNEX_NOTE_MORE)

    def annex(self, number: int | None, title: str):
        self._par(f"附件{number}" if number else "附件", ST_ANNEX_MARK)
        self._par(title, ST_ANNEX_TITLE)
        self._par("", ST_BODY)

    def signature(self, office_expr: str = "office_name", date_expr: str = "report_date|cn_date"):
        self.blank()
        self._par("{{ " + office_expr + " }}", ST_SIGN)
        self._par("{{ " + date_expr + " }}", ST_SIGN_DATE)

    def table(self, columns: list[Column], loop: str, *, empty: str | None = None,
              dim_columns: tuple[int, ...] = ()):
        """A table with a repeated header row and one ``{%tr for %}`` data row.

        ``loop`` is the jinja loop head (``r in rows``); ``empty`` is the sentence
        shown instead of the table when the list is empty.
        """
        collection = loop.split(" in ", 1)[1].strip()
        if empty is not None:
            self.tag(f"if {collection}")
        table = self.doc.add_table(rows=4, cols=len(columns))
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        _table_layout_fixed(table)
        if dim_columns:
            _set_caption(table, DIM_CAPTION_PREFIX + ",".join(str(c) for c in dim_columns))
        _set_grid_widths(table, [c.width_mm for c in columns])
        header, loop_row, data_row, end_row = table.rows
        _repeat_header(header)
        _cant_split(data_row)
        for i, column in enumerate(columns):
            for row in table.rows:
                row.cells[i].width = Mm(column.width_mm)
            self._cell_text(header.cells[i], column.title, ST_TABLE_HEAD)
            self._cell_text(data_row.cells[i], "{{ " + column.expr + " }}",
                            ST_TABLE_LEFT if column.left else ST_TABLE)
        self._cell_text(loop_row.cells[0], "{%tr for " + loop + " %}", ST_TABLE)
        self._cell_text(end_row.cells[0], "{%tr endfor %}", ST_TABLE)
        if empty is not None:
            self.tag("else")
            self.p(empty)
            self.tag("endif")
        return table

    def key_value_table(self, rows: list[tuple[str, str]], widths=(40, 116)):
        """A two-column table (label | value) such as a dossier's cover."""
        table = self.doc.add_table(rows=len(rows), cols=2)
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        _table_layout_fixed(table)
        _set_grid_widths(table, list(widths))
        for row, (label, expr) in zip(table.rows, rows):
            _cant_split(row)
            row.cells[0].width, row.cells[1].width = Mm(widths[0]), Mm(widths[1])
            self._cell_text(row.cells[0], label, ST_TABLE_HEAD)
            self._cell_text(row.cells[1], "{{ " + expr + " }}", ST_TABLE_LEFT)
        return table

    def _cell_text(self, cell, text: str, style: str):
        par = cell.paragraphs[0]
        par.style = self.doc.styles[style]
        run = par.add_run(text)
        set_rfonts(run._element, style_font(self.doc, par.style.style_id))

    def save(self, path: Path) -> Path:
        drop_unused_styles(self.doc)
        return save_deterministic(self.doc, path)


_STYLE_REFS = tuple(qn(t) for t in ("w:pStyle", "w:rStyle", "w:tblStyle", "w:numStyleLink", "w:styleLink"))
_STYLE_LINKS = tuple(qn(t) for t in ("w:basedOn", "w:link", "w:next"))
_STYLES_WITH_EFFECTS = "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects"


def drop_unused_styles(doc) -> int:
    """Keep only the styles a template uses (with what they are based on, link to and are followed
    by), the defaults and the project's own styles, and drop the Word 2010 stylesWithEffects copy.

    The blank document python-docx starts from defines ~180 styles in ~800 KB of XML; every report
    rendered from a template would carry, re-serialise and re-compress them.  Word still offers
    all its built-in styles to whoever edits the template.  Returns how many styles were dropped."""
    styles = doc.styles.element
    by_id = {s.get(qn("w:styleId")): s for s in styles.iterchildren(qn("w:style"))}
    roots = [doc.element, *(rel.target_part.element for rel in doc.part.rels.values()
                            if not rel.is_external and hasattr(rel.target_part, "element")
                            and rel.target_part.element is not styles)]
    # the defaults and the project's own 公文 styles stay, used or not: whoever edits a template in
    # Word finds every one of them
    own = {doc.styles[name].style_id for name in PROJECT_STYLES if name in doc.styles}
    wanted = [s_id for s_id, s in by_id.items() if s.get(qn("w:default")) in ("1", "true") or s_id in own]
    for root in roots:
        for tag in _STYLE_REFS:
            wanted += [el.get(qn("w:val")) for el in root.iter(tag)]
    keep: set[str] = set()
    while wanted:
        style_id = wanted.pop()
        if style_id in keep or style_id not in by_id:
            continue
        keep.add(style_id)
        for tag in _STYLE_LINKS:
            link = by_id[style_id].find(tag)
            if link is not None:
                wanted.append(link.get(qn("w:val")))
    for style_id, style in by_id.items():
        if style_id not in keep:
            styles.remove(style)
    for rel_id, rel in list(doc.part.rels.items()):
        if rel.reltype == _STYLES_WITH_EFFECTS:
            del doc.part.rels[rel_id]
    return len(by_id) - len(keep)


def _set_grid_widths(table, widths_mm: list[float]) -> None:
    """Column widths live in w:tblGrid (what LibreOffice reads) and in every cell."""
    for col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths_mm):
        col.set(qn("w:w"), str(int(Mm(width).twips)))


CELL_MARGIN_TWIPS = 57  # 1 mm: short names and phone numbers fit on one line in narrow columns


def _table_layout_fixed(table) -> None:
    tblpr = table._tbl.tblPr
    _get_or_add(tblpr, "w:tblLayout").set(qn("w:type"), "fixed")
    margins = tblpr.find(qn("w:tblCellMar"))
    if margins is None:  # schema order matters to Word: tblCellMar precedes tblLook
        margins = OxmlElement("w:tblCellMar")
        tblpr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")
    for side in ("w:left", "w:right"):
        _get_or_add(margins, side).set(qn("w:w"), str(CELL_MARGIN_TWIPS))
        margins.find(qn(side)).set(qn("w:type"), "dxa")


def _set_caption(table, text: str) -> None:
    tblpr = table._tbl.tblPr
    cap = OxmlElement("w:tblCaption")
    cap.set(qn("w:val"), text)
    # schema order: tblCaption comes last but before tblDescription
    tblpr.append(cap)


def _repeat_header(row) -> None:
    _cant_split(row)
    _get_or_add(row._tr.get_or_add_trPr(), "w:tblHeader").set(qn("w:val"), "1")  # after cantSplit


def _cant_split(row) -> None:
    """A row is never broken across pages (schema order: cantSplit precedes tblHeader)."""
    trpr = row._tr.get_or_add_trPr()
    if trpr.find(qn("w:cantSplit")) is None:
        trpr.insert(0, OxmlElement("w:cantSplit"))
    trpr.find(qn("w:cantSplit")).set(qn("w:val"), "1")


def table_dim_columns(table) -> tuple[int, ...]:
    """0-based columns whose repeated cells are printed in light grey, from the caption."""
    cap = table._tbl.tblPr.find(qn("w:tblCaption"))
    if cap is None or not (cap.get(qn("w:val")) or "").startswith(DIM_CAPTION_PREFIX):
        return ()
    numbers = re.findall(r"\d+", cap.get(qn("w:val"))[len(DIM_CAPTION_PREFIX):])
    return tuple(int(n) - 1 for n in numbers)


def dim_repeated_cells(table, columns: tuple[int, ...], header_rows: int = 1) -> int:
    """Print in light grey the cells of ``columns`` that repeat the cell above.

    Every row keeps its full text (a page break never leaves a row without its group and
    name, and a copied row is complete); the grey shows the grouping.  Hierarchical:
    column ``columns[k]`` is dimmed only while the columns before it repeat too (a staff
    member's name in a new group is printed dark).  Works on the cells' XML (the report
    tables span no columns).  Returns the number of cells dimmed."""
    rows = [tr.tc_lst for tr in table._tbl.tr_lst[header_rows:]]
    texts = [[_cell_plain(r[c]) for c in columns] for r in rows]
    dimmed = 0
    for i in range(1, len(rows)):
        for depth, col in enumerate(columns):
            if not texts[i][depth] or texts[i][: depth + 1] != texts[i - 1][: depth + 1]:
                break
            for run in rows[i][col].iter(qn("w:r")):
                rpr = run.find(qn("w:rPr"))
                if rpr is None:
                    rpr = OxmlElement("w:rPr")
                    run.insert(0, rpr)
                color = rpr.find(qn("w:color"))
                if color is None:
                    color = OxmlElement("w:color")
                    rpr.append(color)
                color.set(qn("w:val"), DIM_COLOR)
            dimmed += 1
    return dimmed


def _cell_plain(tc) -> str:
    return "".join(t.text or "" for t in tc.iter(_W_T)).strip()


# --- column widths from content --------------------------------------------------------------
# A table's columns share its width by what they hold, measured at render time from the cells'
# text in characters of 小4: dates, phone numbers, figures and short words (names, statuses) are
# never broken, long texts get room in proportion to their mean length.
_TABLE_CHAR_MM = SIZE_TABLE.pt * 25.4 / 72
_LATIN_EM = 0.56  # a digit or Latin letter of the CJK serif, in characters
_MIXED_GAP_EM = 0.2  # the space Word and LibreOffice put between Chinese and Latin text
_CELL_PADDING_MM = 2 * CELL_MARGIN_TWIPS / 56.7 + 0.4  # cell margins and a little slack
_UNBROKEN_SLACK_EM = 0.3  # Word spaces mixed Chinese and Latin text a little wider
_ONE_LINE = re.compile(r"[\d\sA-Za-z\-./:：+%×年月日号（）()第季度半]*")
SHORT_WORD_CHARS = 4


_ASCII_RUN = re.compile(r"[\x20-\x7e]+")


def text_width_em(text: str) -> float:
    """The width of one line of ``text`` in characters of its font size: Chinese (and every other
    non-ASCII character) one, a digit or Latin letter a little over half, plus the gap set
    between Chinese and Latin text."""
    width = float(len(text))
    for run in _ASCII_RUN.finditer(text):
        part = run.group()
        width -= len(part) - _LATIN_EM * len(part) + (_LATIN_EM - 0.3) * part.count(" ")
        width += _MIXED_GAP_EM * ((run.start() > 0) + (run.end() < len(text)))
    return width


def _column_needs(texts: list[str], title: str) -> tuple[float, float, float, float]:
    """A column's (least, narrowest, one-line width, text beyond the narrowest per row), in
    characters.  Dates, phone numbers and figures never wrap (the least); in a table wide enough
    short words do not either and a title takes at most two lines (the narrowest)."""
    widths = [text_width_em(t) for t in texts]
    figures = [w + _UNBROKEN_SLACK_EM for t, w in zip(texts, widths) if t and _ONE_LINE.fullmatch(t)]
    words = [w + _UNBROKEN_SLACK_EM for t, w in zip(texts, widths) if t and len(t) <= SHORT_WORD_CHARS]
    title_width = text_width_em(title)
    least = max([min(title_width, 2), *figures])  # never one character
    narrowest = max([least, math.ceil(title_width / 2), *words])
    one_line = max([narrowest, title_width, *widths])
    beyond = sum(max(0.0, w - narrowest) for w in widths) / max(1, len(widths))
    return least, narrowest, one_line, beyond


def fit_column_widths(table, header_rows: int = 1) -> list[float] | None:
    """Share the table's width among its columns by their content; returns the widths in mm
    (None for a table with merged or spanned cells, left as the template made it)."""
    tbl = table._tbl
    grid = tbl.tblGrid.findall(_W_GRID_COL)
    rows = tbl.findall(_W_TR)
    cells = [tr.findall(_W_TC) for tr in rows]
    if not grid or len(rows) <= header_rows or any(len(r) != len(grid) for r in cells) \
            or next(tbl.iter(qn("w:gridSpan")), None) is not None or next(tbl.iter(qn("w:vMerge")), None) is not None:
        return None
    total_mm = sum(int(c.get(_W_W)) for c in grid) / 56.7
    texts = [[_cell_plain(tc) for tc in r] for r in cells]
    titles = [" ".join(row[i] for row in texts[:header_rows]) for i in range(len(grid))]
    columns = list(zip(*texts[header_rows:]))
    needs = [_column_needs(list(columns[i]), titles[i]) for i in range(len(grid))]
    room = (total_mm - len(grid) * _CELL_PADDING_MM) / _TABLE_CHAR_MM  # in characters
    widths = [c * _TABLE_CHAR_MM + _CELL_PADDING_MM for c in _share(room, needs)]
    twips = [str(int(w * 56.7)) for w in widths]
    for col, w in zip(grid, twips):
        col.set(_W_W, w)
    for r in cells:
        for tc, w in zip(r, twips):
            tcw = tc.find(_TCPR_TCW)  # the templates' cells have one
            if tcw is None:
                tcw = tc.get_or_add_tcPr().get_or_add_tcW()
            tcw.set(_W_W, w)
            tcw.set(_W_TYPE, "dxa")
    return widths


_W_GRID_COL, _W_TR, _W_TC, _W_W, _W_T = qn("w:gridCol"), qn("w:tr"), qn("w:tc"), qn("w:w"), qn("w:t")
_W_TYPE, _TCPR_TCW = qn("w:type"), f"{qn('w:tcPr')}/{qn('w:tcW')}"


def _share(room: float, needs: list[tuple[float, float, float]]) -> list[float]:
    """Widths (in characters) summing to ``room``: every column its narrowest width (or, in a table
    too narrow for that, its least and a share of the rest), the rest in
    proportion to how much text each column holds beyond it (so that long texts wrap to about
    as many lines), none wider than its longest line while another column wraps."""
    least, narrowest = [n[0] for n in needs], [n[1] for n in needs]
    if sum(least) >= room:  # too many columns: shrink all alike
        return [n * room / sum(least) for n in least]
    if sum(narrowest) >= room:  # titles and short words wrap, figures still do not
        spare = [n - m for n, m in zip(narrowest, least)]
        return [m + (room - sum(least)) * x / sum(spare) for m, x in zip(least, spare)]
    one_line = [n[2] for n in needs]
    if sum(one_line) <= room:  # everything on one line: spread the slack
        return [w + (room - sum(one_line)) * w / sum(one_line) for w in one_line]
    widths = list(narrowest)
    growing = [i for i, n in enumerate(needs) if n[3] > 0]
    while growing:
        left = room - sum(widths)
        weight = sum(needs[i][3] for i in growing)
        full = [i for i in growing if widths[i] + left * needs[i][3] / weight >= one_line[i]]
        if not full:
            for i in growing:
                widths[i] += left * needs[i][3] / weight
            break
        for i in full:  # these reach one line: fix them and share again among the others
            widths[i] = one_line[i]
        growing = [i for i in growing if i not in full]
    return widths


# --- 落款 kept with the text -----------------------------------------------------------------
def keep_signature_with_text(doc) -> int:
    """Keep each 落款 (office and date) on the page of the text it closes: keep-with-next on
    the paragraphs between the last line of text (or table row) and the 落款, and on that line.
    Returns how many paragraphs it marked."""
    sign_ids, note_ids = _style_ids(doc, (ST_SIGN,)), _style_ids(doc, (ST_ANNEX_NOTE, ST_ANNEX_NOTE_MORE))
    marked = 0
    for par in list(doc.element.body.iter(_W_P)):
        if _pstyle(par) not in sign_ids:
            continue
        node = par.getprevious()
        while node is not None:
            if node.tag == qn("w:tbl"):
                last_row = node.findall(qn("w:tr"))[-1:]
                for cell_par in (p for tr in last_row for p in tr.iter(_W_P)):
                    _keep_next(cell_par)
                    marked += 1
                break
            if node.tag == _W_P:
                _keep_next(node)
                marked += 1
                if _cell_plain(node) and _pstyle(node) not in note_ids:
                    break
            node = node.getprevious()
    return marked


def _keep_next(par) -> None:
    ppr = par.get_or_add_pPr()
    ppr.keepNext_val = True


def _pstyle(par) -> str | None:
    pstyle = par.find(_PPR_PSTYLE)
    return None if pstyle is None else pstyle.get(_W_VAL)


def _style_ids(doc, names) -> set[str]:
    """The ids of the named styles the document has (a template edited in Word may lack one)."""
    return {doc.styles[n].style_id for n in names if n in doc.styles}


# ============================================================================
# the five templates
# ============================================================================
BASIS = "《关于企业组成员联系党建示范点建设的实施意见》"


def _numbered_sentences(b: TemplateBuilder, items: str, empty: str, text: str = "{{ loop.index }}. {{ x }}"):
    """One body paragraph per list item ("1. …"), or ``empty`` when the list is empty."""
    b.tag(f"if {items}")
    b.tag(f"for x in {items}")
    b.p(text)
    b.tag("endfor")
    b.tag("else")
    b.p(empty)
    b.tag("endif")


def _findings_table(b: TemplateBuilder, empty: str):
    b.table([Column("序号", "loop.index", 13), Column("单位", "f.unit", 24),
             Column("示范点", "f.site", 34, left=True), Column("存在问题", "f.problem", 42, left=True),
             Column("对应要求", "f.rule", 22), Column("状态", "f.status", 21)],
            "f in findings", empty=empty)


def build_monthly_report() -> TemplateBuilder:
    b = TemplateBuilder()
    b.title("关于{{ month|month_cn }}企业组联系党建示范点\n工作情况的报告")
    b.addressee()
    b.p("根据" + BASIS + "要求，现将{{ month|month_cn }}企业组成员联系指导党建示范点工作情况报告如下"
        "（数据截至{{ as_of|cn_date }}）。截至{{ month|month_cn }}底，全市{{ overview.units }}个县(市、区)和系统党委"
        "已确定的示范点{{ overview.sites }}个，其中国企{{ overview.soe_sites }}个、非公企业{{ overview.private_sites }}个；"
        "本月报送数据的示范点{{ overview.reported_sites }}个{% if unreported_sites %}，"
        "{{ overview.unreported_sites }}个示范点所在单位本月未报送（{% for r in unreported_sites %}{{ r.unit }}{{ r.site }}"
        "{% if not loop.last %}、{% endif %}{% endfor %}），下文按本月未报送列示，不计入各项统计{% endif %}。")
    b.h1("一、报送情况")
    b.p("本月应报单位{{ submission.due }}个，按时报送{{ submission.on_time }}个，逾期报送{{ submission.late }}个"
        "{% if submission.late_units %}（{{ submission.late_units|join_cn }}）{% endif %}，未报送{{ submission.missing }}个"
        "{% if submission.missing_units %}（{{ submission.missing_units|join_cn }}）{% endif %}。"
        "{% for r in submission.returned_units %}{{ r.unit }}报表被退回后，于{{ r.received|md_date }}更正重新报送"
        "{% if loop.last %}。{% else %}；{% endif %}{% endfor %}"
        "{% if submission.resubmitted_units %}{{ submission.resubmitted_units|join_cn }}对本月报表作了更正重报，"
        "以最新报送的为准。{% endif %}报送截止日期为{{ deadline|cn_date }}，各单位报送情况见附件1。")
    b.figure("chart_submission")
    b.h1("二、联系指导情况")
    b.p("本月企业组成员共联系指导示范点{{ contact_summary.total }}次，其中电话联系{{ contact_summary.phone }}次、"
        "现场指导{{ contact_summary.onsite }}次、座谈会{{ contact_summary.meeting }}次"
        "{% if contact_summary.other %}、其他方式{{ contact_summary.other }}次{% endif %}，"
        "覆盖本月报送的{{ overview.reported_sites }}个示范点中的{{ contact_summary.sites_contacted }}个。"
        "联系次数按联系指导记录填写的企业组人员统计{% if contact_summary.elsewhere %}，其中"
        "{{ contact_summary.elsewhere }}次联系的是非本人分工联系的示范点{% endif %}。")
    b.h2("（一）企业组成员联系情况")
    b.table([Column("组别", "r.group", 16), Column("企业组人员", "r.staff", 22), Column("分工联系示范点", "r.sites", 20),
             Column("电话联系", "r.phone", 17), Column("现场指导", "r.onsite", 17), Column("座谈会", "r.meeting", 15),
             Column("其他", "r.other", 12), Column("合计", "r.total", 13), Column("其中非分工示范点", "r.elsewhere", 24)],
            "r in staff_rows", empty="本月无企业组成员联系记录。")
    b.figure("chart_contacts")
    b.h2("（二）各示范点联系情况")
    b.p("本月报送数据的{{ overview.reported_sites }}个示范点联系情况如下（联系人员为分工联系的企业组人员）：")
    b.table([Column("单位", "r.unit", 22), Column("示范点", "r.site", 35, left=True), Column("联系人员", "r.staff", 21),
             Column("电话", "r.phone", 13), Column("现场", "r.onsite", 13), Column("座谈", "r.meeting", 13),
             Column("合计", "r.total", 13), Column("最近联系", "r.last_date|md_date", 26)],
            "r in site_rows", empty="本月无。")
    b.p("{% if unreported_sites %}本月未报送的示范点：{% for r in unreported_sites %}{{ r.unit }}{{ r.site }}"
        "{% if not loop.last %}、{% endif %}{% endfor %}。{% endif %}")
    b.h2("（三）需跟进的示范点")
    b.p("1. 本月未联系的示范点。{% if sites_no_contact %}共{{ sites_no_contact|length }}个："
        "{% for r in sites_no_contact %}{{ r.unit }}{{ r.site }}（联系人员：{{ r.staff }}）"
        "{% if not loop.last %}；{% endif %}{% endfor %}。{% else %}本月报送的示范点均已沟通联系。{% endif %}")
    b.p("2. 本季度尚未现场指导的示范点。{% if sites_no_visit %}{{ quarter_label }}至今尚有{{ sites_no_visit|length }}个"
        "示范点未开展现场指导：{% for r in sites_no_visit %}{{ r.unit }}{{ r.site }}（联系人员：{{ r.staff }}）"
        "{% if not loop.last %}；{% endif %}{% endfor %}。本季度至{{ quarter_end|cn_date }}结束，请抓紧安排。"
        "{% else %}{{ quarter_label }}本月报送的示范点均已开展现场指导。{% endif %}")
    b.h1("三、示范点建设情况")
    b.p("本月报送数据的示范点{{ team.soe_sites + team.private_sites }}个（国企{{ team.soe_sites }}个、"
        "非公企业{{ team.private_sites }}个），以下情况据此统计。")
    b.h2("（一）领导班子建设")
    b.p("本月报送的国企示范点{{ team.soe_sites }}个，其中{{ team.cross_sites }}个实行“双向进入、交叉任职”，"
        "交叉任职{{ team.cross_posts }}人；非公企业示范点{{ team.private_sites }}个，党组织书记均已明确。")
    b.h2("（二）党员队伍建设")
    b.p("本月报送的示范点共有党员{{ members.total|num }}名，本月发展党员{{ members.new }}名，其中一线工人"
        "{{ members.new_workers }}名、知识分子和技术骨干{{ members.new_intellectuals }}名；现有入党积极分子"
        "{{ members.activists }}名；流动党员{{ members.mobile }}名，其中已转出组织关系或纳入社区管理"
        "{{ members.mobile_managed }}名。")
    b.h2("（三）活动机制建设")
    b.p("本月报送的示范点共设立党员责任区{{ members.duty_zones }}个；非公企业示范点参加“六个一”活动党员"
        "{{ members.six_ones }}人次。本月共开展组织生活{{ org_life.total }}次"
        "{% if org_life.by_kind %}，其中{% for k in org_life.by_kind %}{{ k.kind }}{{ k.count }}次"
        "{% if not loop.last %}、{% endif %}{% endfor %}{% endif %}。")
    b.h2("（四）工作制度落实")
    b.p("按实施意见规定的频次，本月报送数据的示范点中适用各项制度的示范点执行情况如下（统计期未结束、尚未完成的列为待完成；"
        "党员大会实到人数未超过应到人数一半的不计入）：")
    b.table([Column("制度要求", "r.rule", 52, left=True), Column("适用", "r.applies", 13),
             Column("统计期", "r.period", 27), Column("本月报送示范点", "r.sites", 18), Column("已完成", "r.met", 15),
             Column("待完成", "r.pending", 15), Column("未达标", "r.failed", 16)],
            "r in frequency_rows", empty="本月无需统计的制度要求。")
    b.h2("（五）硬件设施建设")
    b.p("本月报送硬件设施情况的{{ hardware.sites }}个示范点中，硬件设施齐全的{{ hardware.complete }}个，尚有缺项的"
        "{{ hardware.incomplete }}个{% if hardware_rows %}，具体如下：{% else %}。{% endif %}")
    b.table([Column("单位", "r.unit", 24), Column("示范点", "r.site", 46, left=True), Column("类型", "r.kind", 14),
             Column("缺少项目", "r.missing", 50, left=True), Column("活动室面积（㎡）", "r.area|num", 22)],
            "r in hardware_rows", empty=None)
    b.h2("（六）本月工作进展")
    _numbered_sentences(b, "progress", "本月各单位未报送工作进展。",
                        "{{ loop.index }}. {{ x.text }}。（{{ x.sites }}）")
    b.h1("四、存在问题")
    b.p("对照实施意见，本月共发现问题{{ finding_counts.total }}项，其中未达标{{ finding_counts.failed }}项、"
        "统计期未结束存在风险{{ finding_counts.at_risk }}项，详见附件2。")
    b.p("联系指导中发现并跟踪的问题{{ problem_counts.total }}个（每个问题只列一次，整改时限和办结状态以最新记录为准）："
        "本月办结{{ problem_counts.closed }}个（其中逾期办结{{ problem_counts.closed_late }}个），正在整改"
        "{{ problem_counts.open }}个，超过整改时限仍未办结{{ problem_counts.overdue }}个"
        "{% if problem_counts.extended %}，延长整改时限{{ problem_counts.extended }}个{% endif %}。")
    b.table([Column("单位", "r.unit", 20), Column("示范点", "r.site", 32, left=True),
             Column("问题", "r.problem", 40, left=True), Column("发现日期", "r.found|md_date", 18),
             Column("整改时限", "r.deadline", 24), Column("办结情况", "r.state", 22)],
            "r in problem_rows", empty=None)
    b.p("各单位反映的主要问题：")
    _numbered_sentences(b, "reported_problems", "本月各单位未反映问题。",
                        "{{ loop.index }}. {{ x.unit }}{{ x.site }}：{{ x.text }}")
    b.h1("五、数据质量")
    b.p("将本月报表与各单位上月报表、其他单位本月报表对照核对（党员总数变化、示范点增减、同名示范点、"
        "照抄上月、联系记录日期），{% if quality_rows %}发现需核实的情况{{ quality_rows|length }}项，涉及"
        "{{ quality_units }}个单位，请有关单位核实，具体如下：{% else %}未发现需核实的情况。{% endif %}")
    b.table([Column("单位", "r.unit", 20), Column("示范点", "r.site", 30, left=True),
             Column("核对项目", "r.title", 26, left=True), Column("情况", "r.message", 60, left=True)],
            "r in quality_rows", empty=None)
    b.h1("六、下步工作")
    _numbered_sentences(b, "next_steps", "按实施意见要求继续做好联系指导工作。")
    b.p("各单位下月工作计划（相同计划合并列示）：{% if not plans %}本月未报送下月计划。{% endif %}")
    _numbered_sentences(b, "plans", "", "（{{ loop.index }}）{{ x.text }}。（{{ x.sites }}）")
    b.blank()
    b.annex_note(["各单位报送情况表", "示范点问题清单"])
    b.signature()
    b.annex(1, "{{ month|month_cn }}各单位报送情况表")
    b.table([Column("序号", "loop.index", 13), Column("单位", "r.unit", 32), Column("单位类型", "r.kind", 22),
             Column("报送情况", "r.status", 22), Column("报送日期", "r.received|md_date", 22),
             Column("示范点", "r.sites", 15), Column("联系次数", "r.contacts", 15), Column("备注", "r.note", 15)],
            "r in unit_rows", empty="本月无应报单位。")
    b.annex(2, "{{ month|month_cn }}示范点问题清单")
    _findings_table(b, "本月未发现问题。")
    return b


def build_half_year_report() -> TemplateBuilder:
    b = TemplateBuilder()
    b.title("关于{{ half_label }}挂钩联系点固本强基工程\n工作进展情况的报告")
    b.addressee()
    b.p("根据" + BASIS + "要求，现将{{ half_label }}（{{ first_month|month_cn }}至{{ last_month|month_cn }}）"
        "挂钩联系点固本强基工程工作进展情况报告如下。数据截至{{ report_date|cn_date }}。")
    b.h1("一、基本情况")
    b.p("全市{{ overview.units }}个县(市、区)和系统党委共确定示范点{{ overview.sites }}个，其中国企"
        "{{ overview.soe_sites }}个、非公企业{{ overview.private_sites }}个。企业组{{ overview.staff }}名同志中"
        "{{ overview.staff_assigned }}名分片联系{{ overview.sites_assigned }}个示范点"
        "{% if overview.sites_unassigned %}，另有{{ overview.sites_unassigned }}个示范点尚未确定企业组联系人员"
        "{% endif %}。半年来企业组成员共联系指导{{ overview.contacts }}次，其中现场指导和座谈会"
        "{{ overview.visits }}次（现场指导{{ overview.onsite }}次、座谈会{{ overview.meeting }}次）；"
        "各单位应报月报表{{ overview.months_due }}份，实报{{ overview.months_reported }}份。")
    b.figure("chart_contacts_month")
    b.h1("二、“三个好”目标推进情况")
    b.tag("for g in goods")
    b.p("{{ loop.index }}. {{ g.name }}。{{ g.text }}")
    b.tag("endfor")
    b.h1("三、“五个有”建设情况")
    b.tag("for g in pillars")
    b.p("{{ loop.index }}. {{ g.name }}。{{ g.text }}")
    b.tag("endfor")
    b.h1("四、示范点创建进度")
    b.p("按要求各示范点应于{{ plan_deadline|cn_date }}前完成工作方案制订并上报企业组，{{ work_start|cn_date }}起"
        "全面开展工作。目前按期上报"
        "{{ plan_counts.on_time }}个，逾期上报{{ plan_counts.late }}个，尚未上报{{ plan_counts.missing }}个；"
        "上报方案后已开展组织生活的{{ work_started }}个。各示范点创建历程见附件1。")
    b.h1("五、制度执行情况")
    b.p("对照实施意见的各项要求，半年来各单位、示范点、企业组人员和联系指导发现的问题达标情况见附件2"
        "（所在单位未报送应报月份月报表、无法评价的示范点列为“本期未报送”，不计为达标）。")
    b.figure("chart_compliance")
    b.h1("六、典型做法")
    _numbered_sentences(b, "typical_sites", "本半年暂无各项要求均达标的示范点。",
                        "{{ loop.index }}. {{ x.unit }}{{ x.site }}：{{ x.practice }}")
    b.h1("七、存在问题")
    b.p("半年来共发现问题{{ finding_counts.total }}项，其中未达标{{ finding_counts.failed }}项、存在风险"
        "{{ finding_counts.at_risk }}项，详见附件3。各单位反映的主要问题：")
    _numbered_sentences(b, "reported_problems", "各单位未反映问题。",
                        "{{ loop.index }}. {{ x.unit }}{{ x.site }}：{{ x.text }}")
    b.h1("八、{{ next_label }}工作打算")
    _numbered_sentences(b, "next_steps", "按实施意见要求继续做好联系指导工作。")
    b.p("各示范点报送的下一步计划：{% if not plans %}本半年未报送下月计划。{% endif %}")
    _numbered_sentences(b, "plans", "", "（{{ loop.index }}）{{ x.text }}（{{ x.sites }}）。")
    b.blank()
    b.annex_note(["示范点创建进度表", "各项要求达标情况表", "示范点问题清单"])
    b.signature()
    b.annex(1, "示范点创建进度表")
    b.table([Column("序号", "loop.index", 8), Column("单位", "r.unit", 16), Column("示范点", "r.site", 24, left=True),
             Column("确定联系", "r.contact_date|cn_date", 17), Column("方案上报", "r.plan_date|cn_date", 17),
             Column("首次联系指导", "r.first_contact|cn_date", 17),
             Column("首次现场指导或座谈会", "r.first_visit|cn_date", 17),
             Column("本半年报送/应报（月）", "r.months_reported ~ '/' ~ r.months_due", 12),
             Column("组织生活（次）", "r.activities", 10), Column("进展", "r.progress", 18, left=True)],
            "r in site_paths", empty="本半年无示范点。")
    b.annex(2, "各项要求达标情况表")
    b.table([Column("要求", "r.rule", 40, left=True), Column("适用对象", "r.applies", 14),
             Column("统计期", "r.period", 26), Column("数量", "r.sites", 12), Column("达标", "r.met", 12),
             Column("未达标", "r.failed", 14), Column("存在风险", "r.at_risk", 14),
             Column("本期未报送", "r.no_data", 14), Column("达标率", "r.rate|pct", 14)],
            "r in compliance_rows", empty="本半年无需统计的要求。")
    b.annex(3, "示范点问题清单")
    _findings_table(b, "本半年未发现问题。")
    return b


def build_assignment_table() -> TemplateBuilder:
    b = TemplateBuilder(landscape=True)
    b.title("企业组人员联系示范点分组情况一览表")
    b.table([Column("组别", "r.group", 18), Column("企业组联系人员", "r.staff", 22),
             Column("联系县(市、区)/系统党委", "r.unit", 32), Column("示范点名称", "r.site", 42, left=True),
             Column("企业类型", "r.kind", 16), Column("党组织书记", "r.secretary", 20),
             Column("党员人数", "r.members", 16), Column("确定联系日期", "r.contact_date|cn_date", 36),
             Column("备注", "r.note", 23, left=True)],
            "r in rows", empty="尚未确定任何联系示范点。", dim_columns=(1, 2))
    b.p("说明：数据截至{{ report_date|cn_date }}，共{{ counts.groups }}个组、企业组人员{{ counts.staff }}名，联系"
        "{{ counts.units }}个县(市、区)和系统党委的{{ counts.sites }}个示范点。按要求，企业组成员应于{{ deadline|cn_date }}前确定联系示范点。", ST_NOINDENT)
    b.p("{% if staff_without_site %}尚未确定联系示范点的企业组人员：{% for r in staff_without_site %}{{ r.staff }}（{{ r.group }}）"
        "{% if not loop.last %}、{% endif %}{% endfor %}。{% else %}企业组人员均已确定联系示范点。{% endif %}"
        "{% if sites_without_staff %}尚未确定企业组联系人员的示范点：{% for r in sites_without_staff %}{{ r.unit }}{{ r.site }}"
        "{% if not loop.last %}、{% endif %}{% endfor %}。{% else %}各示范点均已确定企业组联系人员。{% endif %}"
        "{% if late_contacts %}晚于规定时间确定联系的：{% for r in late_contacts %}{{ r.unit }}{{ r.site }}"
        "（{{ r.contact_date|cn_date }}）{% if not loop.last %}、{% endif %}{% endfor %}。{% endif %}", ST_NOINDENT)
    b.signature()
    return b


def build_site_dossier() -> TemplateBuilder:
    b = TemplateBuilder()
    b.title("{{ site.name }}档案")
    b.key_value_table([
        ("示范点名称", "site.name"), ("所属企业", "site.enterprise"), ("企业类型", "site.kind"),
        ("所属单位", "site.unit"), ("党组织名称", "site.org_name"), ("党组织类型", "site.org_kind"),
        ("组建方式", "site.formation"), ("党组织书记", "site.secretary"), ("党员人数", "site.members|num"),
        ("职工人数", "site.employees|num"), ("示范点级别", "site.level"), ("企业组联系人员", "site.staff"),
        ("确定联系日期", "site.contact_date|cn_date"), ("方案上报日期", "site.plan_date|cn_date"),
        ("建档期间", "first_month|month_cn ~ '至' ~ last_month|month_cn"),
    ])
    b.p("本档案根据" + BASIS + "关于建立示范点档案的要求，由各单位月报表汇总生成，数据截至"
        "{{ report_date|cn_date }}。{{ missing_note }}")
    b.h1("一、工作记录")
    b.tag("for m in timeline")
    b.h2("{{ m.month|month_cn }}")
    b.tag("if m.missing")
    b.p("{{ m.missing }}")
    b.tag("else")
    b.p("联系指导：{% if m.contacts %}{% for c in m.contacts %}{{ c.date|cn_date }}，{{ c.staff }}{{ c.mode }}，"
        "{{ c.content }}{% if not loop.last %}；{% endif %}{% endfor %}。{% else %}本月无联系指导记录。{% endif %}")
    b.p("组织生活：{% if m.org_life %}{% for o in m.org_life %}{{ o.date|cn_date }}召开{{ o.kind }}，应到{{ o.expected }}人、"
        "实到{{ o.present }}人{% if not loop.last %}；{% endif %}{% endfor %}。{% else %}本月无组织生活记录。{% endif %}")
    b.p("党员队伍：{{ m.members or '本月未报送。' }}")
    b.p("硬件设施：{{ m.hardware or '本月未报送。' }}")
    b.p("工作进展：{{ m.progress or '本月未报送。' }}")
    b.p("存在问题：{{ m.problems or '无。' }}")
    b.tag("endif")
    b.tag("endfor")
    b.tag("if not timeline")
    b.p("尚无月报表记录。")
    b.tag("endif")
    b.h1("二、执行实施意见情况")
    b.table([Column("要求", "r.rule", 40, left=True), Column("统计期", "r.period", 34),
             Column("情况", "r.status", 20), Column("依据", "r.evidence", 62, left=True)],
            "r in compliance_rows", empty="尚无可评估的要求。")
    b.h1("三、资料来源")
    b.table([Column("序号", "loop.index", 13), Column("文件名", "r.file_name", 63, left=True),
             Column("报送月份", "r.month|month_cn", 26), Column("收到日期", "r.received|cn_date", 30),
             Column("文件指纹", "r.digest", 24)],
            "r in sources", empty="尚无资料来源。")
    b.signature()
    return b


def build_reminder_list() -> TemplateBuilder:
    b = TemplateBuilder()
    b.title("{{ month|month_cn }}月报表催报名单")
    b.p("按照" + BASIS + "每月汇报的要求，{{ month|month_cn }}月报表应于{{ deadline|cn_date }}前报送。"
        "截至{{ as_of|cn_date }}，应报单位{{ counts.due }}个，已报送{{ counts.submitted }}个，"
        "未报送{{ counts.missing }}个，已退回待重报{{ counts.rejected }}个。"
        "{% if rows %}请以下单位尽快报送：{% endif %}")
    b.table([Column("序号", "loop.index", 10), Column("单位", "r.unit", 27), Column("单位类型", "r.kind", 19),
             Column("联系人", "r.contact", 15), Column("电话", "r.phone", 33), Column("截止日期", "r.deadline|md_date", 20),
             Column("状态", "r.status", 21), Column("逾期天数\n（截至{{ as_of|md_date }}）", "r.overdue_days", 11)],
            "r in rows", empty="{% if counts.late %}本月各单位均已报送，其中逾期报送{{ counts.late }}个。"
                                "{% else %}本月各单位均已按时报送。{% endif %}")
    b.signature()
    return b


BUILDERS = {
    "monthly_report": build_monthly_report,
    "half_year_report": build_half_year_report,
    "assignment_table": build_assignment_table,
    "site_dossier": build_site_dossier,
    "reminder_list": build_reminder_list,
}


def build_all(outdir: Path = TEMPLATES_DIR) -> list[Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in BUILDERS.items():
        builder = build()
        written.append(builder.save(outdir / f"{name}.docx"))
    return written


def main() -> None:
    for path in build_all():
        print(f"已生成模板：{path}")


if __name__ == "__main__":
    main()
