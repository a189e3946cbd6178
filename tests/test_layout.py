"""公文 layout of the Word templates (GB/T 9704-2012), checked with python-docx."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from processor.render import layout as layout
from processor.render import tables
from processor.common.paths import TEMPLATES_DIR
from processor.render.documents import template_variables

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import build_templates  # noqa: E402 — the offline builder is a script in tools/, not part of the package

TEMPLATES = sorted(build_templates.BUILDERS)
THEME_ATTRS = ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("templates")
    build_templates.build_all(out)
    return out


def _mm(length) -> float:
    return round(length / Mm(1), 1)


@pytest.mark.parametrize("name", TEMPLATES)
def test_page_is_a4_with_official_margins_and_one_line_grid(name):
    doc = Document(TEMPLATES_DIR / f"{name}.docx")
    section = doc.sections[0]
    landscape = name == "assignment_table"
    page = layout.LANDSCAPE if landscape else layout.PORTRAIT
    assert section.orientation == (WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT)
    assert (_mm(section.page_width), _mm(section.page_height)) == ((297, 210) if landscape else (210, 297))
    assert (_mm(section.top_margin), _mm(section.bottom_margin)) == (page["top"], page["bottom"])
    assert (_mm(section.left_margin), _mm(section.right_margin)) == (page["left"], page["right"])
    grids = section._sectPr.findall(qn("w:docGrid"))
    assert len(grids) == 1, "the default template's docGrid must be changed, not duplicated"
    assert grids[0].get(qn("w:linePitch")) == "579"
    assert grids[0].get(qn("w:type")) in ("lines", "linesAndChars")


@pytest.mark.parametrize("name", TEMPLATES)
def test_styles_name_east_asian_fonts_and_no_theme_fonts(name):
    path = TEMPLATES_DIR / f"{name}.docx"
    doc = Document(path)
    normal = doc.styles["Normal"]
    rfonts = normal.element.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
    assert rfonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert normal.font.size == Pt(16)
    pf = normal.paragraph_format
    assert pf.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert pf.line_spacing.twips == 579
    assert pf.space_before == 0 and pf.space_after == 0
    ind = normal.element.find(f"{qn('w:pPr')}/{qn('w:ind')}")
    assert ind.get(qn("w:firstLineChars")) == "200"
    title = doc.styles[layout.ST_TITLE]
    assert title.font.size == Pt(22)
    assert title.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert layout.style_font(doc, title.style_id) == "方正小标宋简体"
    assert layout.style_font(doc, doc.styles[layout.ST_H1].style_id) == "黑体"
    assert layout.style_font(doc, doc.styles[layout.ST_H2].style_id) == "楷体_GB2312"
    assert layout.style_font(doc, doc.styles[layout.ST_ANNEX_MARK].style_id) == "黑体"
    assert doc.styles[layout.ST_ANNEX_MARK].paragraph_format.page_break_before
    styles_xml = zipfile.ZipFile(path).read("word/styles.xml").decode()
    for attr in THEME_ATTRS:
        assert f"w:{attr}=" not in styles_xml
    # every run written into the template names its East-Asian font
    for run in doc.element.body.iter(qn("w:r")):
        assert run.find(f"{qn('w:rPr')}/{qn('w:rFonts')}").get(qn("w:eastAsia"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_carry_only_the_styles_they_use_and_the_projects_own(name):
    path = TEMPLATES_DIR / f"{name}.docx"
    doc = Document(path)
    ids = {s.style_id for s in doc.styles}
    used = set()
    for tag in ("w:pStyle", "w:rStyle", "w:tblStyle"):
        used |= {el.get(qn("w:val")) for el in doc.element.iter(qn(tag))}
    assert used <= ids
    assert {layout.ST_TITLE, layout.ST_H1, layout.ST_H2, layout.ST_ANNEX_MARK} <= ids  # offered to whoever edits it
    assert "LightShading-Accent1" not in ids and "Quote" not in ids  # python-docx's unused built-ins are gone
    with zipfile.ZipFile(path) as zf:
        assert "word/stylesWithEffects.xml" not in zf.namelist()
        assert len(zf.read("word/styles.xml")) < 60_000


@pytest.mark.parametrize("name", TEMPLATES)
def test_page_numbers_are_dash_page_dash_odd_right_even_left(name):
    doc = Document(TEMPLATES_DIR / f"{name}.docx")
    assert doc.settings.odd_and_even_pages_header_footer
    section = doc.sections[0]
    for footer, align, side in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right"),
                                (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left")):
        par = footer.paragraphs[0]
        assert par.alignment == align
        indent = par.paragraph_format.right_indent if side == "right" else par.paragraph_format.left_indent
        assert indent == Pt(14)
        runs = par._p.findall(qn("w:r"))
        kinds = [r.find(qn("w:fldChar")).get(qn("w:fldCharType")) for r in runs if r.find(qn("w:fldChar")) is not None]
        assert kinds == ["begin", "separate", "end"]
        instr = [r.find(qn("w:instrText")).text for r in runs if r.find(qn("w:instrText")) is not None]
        assert instr == [" PAGE "]
        assert par.text.startswith("— ") and par.text.endswith(" —")
        for run in runs:
            rpr = run.find(qn("w:rPr"))
            assert rpr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "宋体"
            assert rpr.find(qn("w:sz")).get(qn("w:val")) == "28"  # 14pt in half-points


@pytest.mark.slow
def test_builder_is_deterministic_and_matches_committed_templates(built, tmp_path):
    again = tmp_path / "again"
    build_templates.build_all(again)
    for name in TEMPLATES:
        assert (built / f"{name}.docx").read_bytes() == (again / f"{name}.docx").read_bytes()
        # staff may restyle the committed files in Word, but the data they ask for must stay
        assert template_variables(built / f"{name}.docx") == template_variables(TEMPLATES_DIR / f"{name}.docx")


def test_tables_repeat_header_row_and_use_small_font():
    doc = Document(TEMPLATES_DIR / "monthly_report.docx")
    assert doc.tables
    for table in doc.tables:
        header = table.rows[0]._tr
        assert header.trPr.find(qn("w:tblHeader")) is not None
        assert table.rows[0].cells[0].paragraphs[0].style.name == layout.ST_TABLE_HEAD
    assert doc.styles[layout.ST_TABLE].font.size == Pt(12)


def _plain_table(rows):
    doc = layout.new_document()
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    for r, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(r.cells, values, strict=True):
            cell.text = value
    return doc, table


def test_groups_print_once_as_bands_and_a_staff_member_with_several_sites_in_one_merged_cell():
    """The 一览表's groups: a band over each group's rows (never its name repeated in grey on every row),
    a staff member's repeated cells merged within the group, a name in a new group printed again."""
    doc, table = _plain_table([
        ["组别", "人员", "示范点"],
        ["第一组", "陈明", "甲"],
        ["第一组", "陈明", "乙"],
        ["第一组", "林晓华", "丙"],
        ["第二组", "林晓华", "丁"],
    ])
    groups = tables.take_group_column(table, 0)
    assert groups == ["第一组", "第一组", "第一组", "第二组"]
    assert tables.band_groups(table, groups, merge=(0,)) == 2
    rows = table._tbl.tr_lst
    spans = [tr.find(f".//{qn('w:gridSpan')}") for tr in rows]
    texts = ["".join(t.text for t in tr.iter(qn("w:t"))) for tr in rows]
    assert [t for t, s in zip(texts, spans, strict=True) if s is not None] == ["第一组", "第二组"]
    assert texts == ["人员示范点", "第一组", "陈明甲", "乙", "林晓华丙", "第二组", "林晓华丁"]
    merges = [[m.get(qn("w:val")) for m in tr.iter(qn("w:vMerge"))] for tr in rows]
    assert merges == [[], [], ["restart"], [None], [], [], []]
    assert not list(table._tbl.iter(qn("w:color")))  # no grey text


def test_enforce_east_asian_fonts_uses_the_paragraph_style_font():
    doc = layout.new_document()
    plain = doc.add_paragraph("正文", style=doc.styles["Normal"]).runs[0]
    head = doc.add_paragraph("一、标题", style=doc.styles[layout.ST_H1]).runs[0]
    named = doc.add_paragraph("", style=doc.styles["Normal"]).add_run("宋体文字")
    named.font.name = "宋体"
    layout.enforce_east_asian_fonts(doc)
    fonts = [r._element.find(f"{qn('w:rPr')}/{qn('w:rFonts')}").get(qn("w:eastAsia")) for r in (plain, head, named)]
    assert fonts == ["仿宋_GB2312", "黑体", "宋体"]
