"""公文 layout (GB/T 9704-2012) for the Word reports: fonts, styles, page, tables, deterministic saving.

Used at run time by :mod:`processor.render.documents` and offline by ``tools/build_templates.py``,
which (re)writes every ``templates/<name>.docx`` with these helpers.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.opc.pkgwriter import PackageWriter
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from lxml import etree

from processor.common.fsutil import atomic_write_bytes, fixed_zip_entry

# --- fonts and sizes (2号 = 22pt, 3号 = 16pt, 4号 = 14pt, 小4 = 12pt) -------------
FONT_TITLE = "方正小标宋简体"
FONT_BODY = "仿宋_GB2312"
FONT_HEI = "黑体"
FONT_KAI = "楷体_GB2312"
FONT_SONG = "宋体"

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

# Table caption naming a table's group columns (1-based): the first is printed once per group, as
# a band across the table; the cells of the next that repeat within a group are merged
# (processor.render.tables).  Templates written before say DIM_CAPTION_PREFIX, read the same way.
GROUP_CAPTION_PREFIX = "分组列："
DIM_CAPTION_PREFIX = "重复内容淡显列："

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
_W_PSTYLE = qn("w:pStyle")
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


def setup_page(doc, landscape: bool, section=None) -> None:
    page = LANDSCAPE if landscape else PORTRAIT
    section = section if section is not None else doc.sections[0]
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
    setup_page(doc, landscape)
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


class _FixedStampZipWriter:
    """python-docx's physical package writer interface, writing fixed-stamp entries."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf

    def write(self, pack_uri, blob: bytes) -> None:
        self.zf.writestr(fixed_zip_entry(pack_uri.membername), blob)


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


def set_grid_widths(table, widths_mm: list[float]) -> None:
    """Column widths live in w:tblGrid (what LibreOffice reads) and in every cell."""
    for col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths_mm, strict=True):
        col.set(qn("w:w"), str(int(Mm(width).twips)))


CELL_MARGIN_TWIPS = 57  # 1 mm: short names and phone numbers fit on one line in narrow columns


def table_layout_fixed(table) -> None:
    tblpr = table._tbl.tblPr
    _get_or_add(tblpr, "w:tblLayout").set(qn("w:type"), "fixed")
    margins = tblpr.find(qn("w:tblCellMar"))
    if margins is None:  # schema order matters to Word: tblCellMar precedes tblLook
        margins = OxmlElement("w:tblCellMar")
        tblpr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")
    for side in ("w:left", "w:right"):
        _get_or_add(margins, side).set(qn("w:w"), str(CELL_MARGIN_TWIPS))
        margins.find(qn(side)).set(qn("w:type"), "dxa")


def set_caption(table, text: str) -> None:
    tblpr = table._tbl.tblPr
    cap = OxmlElement("w:tblCaption")
    cap.set(qn("w:val"), text)
    # schema order: tblCaption comes last but before tblDescription
    tblpr.append(cap)


def repeat_header(row) -> None:
    cant_split(row)
    _get_or_add(row._tr.get_or_add_trPr(), "w:tblHeader").set(qn("w:val"), "1")  # after cantSplit


def cant_split(row) -> None:
    """A row is never broken across pages (schema order: cantSplit precedes tblHeader)."""
    trpr = row._tr.get_or_add_trPr()
    if trpr.find(qn("w:cantSplit")) is None:
        trpr.insert(0, OxmlElement("w:cantSplit"))
    trpr.find(qn("w:cantSplit")).set(qn("w:val"), "1")


def _cell_plain(tc) -> str:
    return "".join(t.text or "" for t in tc.iter(_W_T)).strip()


_W_T = qn("w:t")


# --- 落款 kept with the text -----------------------------------------------------------------
def keep_signature_with_text(doc) -> int:
    """Keep each 落款 (office and date) on the page of the text it closes: keep-with-next on
    the paragraphs between the last line of text (or table row) and the 落款, and on that line.
    Returns how many paragraphs it marked."""
    sign_ids, note_ids = _style_ids(doc, (ST_SIGN,)), _style_ids(doc, (ST_ANNEX_NOTE, ST_ANNEX_NOTE_MORE))
    marked = 0
    # a paragraph's style is its pPr's pStyle: finding those is one pass in lxml, not a lookup a paragraph
    signatures = [node.getparent().getparent() for node in doc.element.body.iter(_W_PSTYLE)
                  if node.get(_W_VAL) in sign_ids]
    for par in signatures:
        if par.tag != _W_P:
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
