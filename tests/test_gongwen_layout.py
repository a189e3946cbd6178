"""公文 layout of the rendered Word reports: 主送, 落款, tables across pages, widths, quotes."""

from __future__ import annotations

import math
import shutil
import subprocess

import pytest
from docx import Document
from docx.oxml.ns import qn

from processor.render import layout as layout
from processor.render import tables
from processor.render import documents as render
from processor.common.config import load_workspace
from docx_helpers import docx_to_pdf, docx_to_pdfs, render_report
from report_samples import REPORT_NAMES, sample_context


def _keep_next(par) -> bool:
    """Keep-with-next of a paragraph, set on it or on its style (walking basedOn)."""
    if par.paragraph_format.keep_with_next is not None:
        return par.paragraph_format.keep_with_next
    style = par.style
    while style is not None:
        if style.paragraph_format.keep_with_next is not None:
            return style.paragraph_format.keep_with_next
        style = style.base_style
    return False


def _column_mm(table, index: int) -> float:
    return int(table._tbl.tblGrid.findall(qn("w:gridCol"))[index].get(qn("w:w"))) / 56.7


def _header(doc, first: str, column: str):
    for table in doc.tables:
        titles = [c.text for c in table.rows[0].cells]
        if titles[0] == first and column in titles:
            return table, titles.index(column)
    raise AssertionError(f"no table with {first} … {column}")


# --- 主送 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["monthly_report", "half_year_report"])
def test_addressee_is_printed_flush_left_under_the_title(tmp_path, name):
    ctx = sample_context(name)
    ctx["addressee"] = "市委组织部企业组全体同志"
    doc = Document(render_report(name, ctx, tmp_path / "r.docx"))
    pars = doc.paragraphs
    assert pars[0].style.name == layout.ST_TITLE and pars[1].text == ""
    assert pars[2].text == "市委组织部企业组全体同志："
    assert pars[2].style.name == layout.ST_ADDRESSEE
    assert pars[2].style.paragraph_format.first_line_indent in (None, 0)


def test_addressee_defaults_to_the_department_and_is_configurable(tmp_path):
    assert load_workspace(tmp_path).addressee == "中共××市委组织部"
    (tmp_path / "config.toml").write_text('[report]\naddressee = "各位领导"\n', encoding="utf-8")
    assert load_workspace(tmp_path).addressee == "各位领导"


# --- tables across pages and headings --------------------------------------------------------------
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_no_table_row_breaks_across_pages_and_data_tables_repeat_their_header(rendered, name):
    doc = Document(rendered[name])
    assert doc.tables
    for table in doc.tables:
        # the problem list's rows hold a site's items, one a line, and may go on over a page (its header
        # and bands repeat what they are); every other table keeps each row whole
        listing = [c.text for c in table.rows[0].cells][:2] in (["示范点", "存在问题"], ["存在问题", "对应要求"])
        for row in (table.rows[:1] if listing else table.rows):
            trpr = row._tr.trPr
            assert trpr is not None and trpr.find(qn("w:cantSplit")) is not None, (name, row.cells[0].text)
        first = table.rows[0]._tr.trPr
        if len(table.columns) > 2:  # a data table (a cover is label | value)
            assert first.find(qn("w:tblHeader")) is not None
            # schema order: cantSplit precedes tblHeader (Word refuses the other order)
            tags = [el.tag for el in first]
            assert tags.index(qn("w:cantSplit")) < tags.index(qn("w:tblHeader"))


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_headings_keep_with_the_next_paragraph(rendered, name):
    doc = Document(rendered[name])
    headings = [p for p in doc.paragraphs
                if p.style.name in (layout.ST_TITLE, layout.ST_H1, layout.ST_H2, layout.ST_ANNEX_MARK,
                                    layout.ST_ANNEX_TITLE)]
    assert headings
    assert all(_keep_next(p) for p in headings), [p.text for p in headings if not _keep_next(p)]


# --- 落款 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_signature_is_kept_with_the_last_text(rendered, name):
    doc = Document(rendered[name])
    body = list(doc.element.body.iterchildren())
    sign = next(i for i, el in enumerate(body) if el.tag == qn("w:p")
                and el.find(f"{qn('w:pPr')}/{qn('w:pStyle')}") is not None
                and el.find(f"{qn('w:pPr')}/{qn('w:pStyle')}").get(qn("w:val")) == doc.styles[layout.ST_SIGN].style_id)
    assert doc.styles[layout.ST_SIGN].paragraph_format.keep_with_next  # office kept with the date
    notes = {doc.styles[n].style_id for n in (layout.ST_ANNEX_NOTE, layout.ST_ANNEX_NOTE_MORE)}
    i = sign - 1
    while True:  # back over blank lines and the 附件 note to the last text or table row
        el = body[i]
        if el.tag == qn("w:tbl"):
            last_row = el.findall(qn("w:tr"))[-1]
            assert all(p.find(f"{qn('w:pPr')}/{qn('w:keepNext')}") is not None for p in last_row.iter(qn("w:p")))
            break
        assert el.find(f"{qn('w:pPr')}/{qn('w:keepNext')}") is not None, (name, i)
        text = "".join(t.text or "" for t in el.iter(qn("w:t")))
        style = el.find(f"{qn('w:pPr')}/{qn('w:pStyle')}")
        if text and (style is None or style.get(qn("w:val")) not in notes):
            break
        i -= 1
    assert sign - i >= 2  # at least the blank line and one line of text go with it


def _pdf_pages(docx, outdir) -> list[str]:
    pdf = docx_to_pdf(docx, outdir)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return [p for p in text.split("\f") if p.strip()]


needs_office = pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext")),
                                  reason="LibreOffice and poppler are needed to lay out pages")


@pytest.mark.slow
@needs_office
def test_last_page_never_holds_only_the_signature(tmp_path):
    """The 一览表 with rows enough to fill its pages up to the explanation: the 落款 goes with text."""
    ctx = sample_context("assignment_table")
    base = list(ctx["rows"])
    office = ctx["office_name"]
    docs = []
    for extra in range(0, 8):  # several lengths: one of them puts the page break just before the 落款
        ctx["rows"] = base + base[:extra]
        docs.append(render_report("assignment_table", ctx, tmp_path / f"a{extra}.docx"))
    for extra, pdf in enumerate(docx_to_pdfs(docs, tmp_path / "pdf")):  # one LibreOffice run lays out all
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        last = [p for p in text.split("\f") if p.strip()][-1]
        lines = [ln.strip() for ln in last.splitlines() if ln.strip() and not ln.strip().startswith("—")]
        assert any(office in ln for ln in lines)
        assert len(lines) > 2, (extra, lines)  # office and date are not alone


# --- column widths from content ----------------------------------------------------------------------
def _one_line_mm(text: str) -> float:
    return tables.text_width_em(text) * tables.TABLE_CHAR_MM + 2 * layout.CELL_MARGIN_TWIPS / 56.7


def test_dates_and_phone_numbers_never_wrap(rendered):
    for name, first, column in (("reminder_list", "序号", "电话"),
                                ("assignment_table", "企业组联系人员", "确定联系日期"),
                                ("monthly_report", "制度要求", "统计期")):  # 2026年第四季度, 2026年下半年
        table, index = _header(Document(rendered[name]), first, column)
        for row in table.rows[1:]:
            for line in row.cells[index].text.split("\n"):
                assert _column_mm(table, index) >= _one_line_mm(line), (name, line)


def _lines(text: str, width_mm: float) -> int:
    room = int((width_mm - 2 * layout.CELL_MARGIN_TWIPS / 56.7) / tables.TABLE_CHAR_MM)
    return max(1, math.ceil(tables.text_width_em(text) / room))


def test_long_text_columns_get_the_room_and_no_column_is_squeezed(rendered):
    doc = Document(rendered["monthly_report"])
    table, problem = _header(doc, "示范点", "存在问题")
    widths = [_column_mm(table, i) for i in range(len(table.columns))]
    assert widths[problem] == max(widths)
    assert abs(sum(widths) - 225) < 1  # the table keeps the text width of its landscape page
    for row in table.rows[1:]:  # no cell wraps to more lines than the row's long text needs
        cells = [c.text for c in row.cells]
        tallest = max(_lines(text, w) for text, w in zip(cells, widths, strict=True) if text)
        assert all(_lines(text, w) <= tallest for text, w in zip(cells, widths, strict=True)), cells
        assert len(set(cells)) == 1 or _lines(cells[0], widths[0]) == 1, cells  # a band, or a site on one line


def test_share_keeps_narrow_columns_whole_and_fills_the_width():
    columns = [tables._Column(["序号"], [["1"], ["12"]]),
               tables._Column(["日期"], [["2026年10月12日"], ["2026年9月2日"]]),
               tables._Column(["存在问题"], [["很长的问题描述" * 6], ["短"]])]
    widths = tables.share_width(30, columns)
    assert abs(sum(widths) - 30) < 1e-6
    assert widths[1] >= tables.text_width_em("2026年10月12日")
    assert widths[0] >= 2 and widths[2] > widths[1]


def test_names_stay_on_one_line_while_long_text_wraps():
    """Finding 8: a unit or site name is never broken while a text column could give up room; the
    status (逾期284天未办结) and a short title (已完成) are words, kept whole too."""
    site = "市国资委党委福州港务集团有限公司党建示范点"
    columns = [tables._Column(["单位"], [["市国资委党委"], ["罗源县"]]),
               tables._Column(["示范点"], [[site], ["罗源县某公司党支部"]]),
               tables._Column(["存在问题"], [["党员活动室面积不足，未设立党员责任区，组织生活记录不规范" * 2], ["短"]]),
               tables._Column(["状态"], [["逾期284天未办结"], ["已完成"]])]
    widths = tables.share_width(60, columns)
    for i, text in ((0, "市国资委党委"), (1, site), (3, "逾期284天未办结")):
        assert tables.lines_at(widths[i], tables.text_width_em(text)) == 1, (text, widths)
    assert widths[2] == max(widths) or widths[2] >= 12  # the long text keeps a readable column


def _height_counted_cell_by_cell(columns, widths):
    """The table's cost as the width search defines it, recounted from every cell: the tallest
    cell of each row (header first) plus a twentieth of a line for every line and the penalty of
    every wrapped name or word."""
    total = 0.0
    for r, weight in enumerate([1, *columns[0].weights]):
        cells = []
        for column, width in zip(columns, widths, strict=True):
            lines = column.title if r == 0 else column.rows[r - 1]
            n = sum(tables.lines_at(width, w) for w in lines)
            if r == 0:
                over = any(tables.lines_at(width, w) > allowed
                           for w, allowed in zip(column.title, column.title_lines_allowed, strict=True))
                penalty = max(column.penalty, tables.WORD_PENALTY) if over else 0.0
            else:
                penalty = column.penalty if n > len(lines) else 0.0
            cells.append((n, penalty))
        total += weight * (max(n for n, _ in cells) + sum(p + 0.05 * n for n, p in cells))
    return total


def test_the_width_search_measures_a_trial_column_as_the_whole_table_would():
    """The search re-measures only the column it tries at another width: for every column and
    every width it may take, that gives the height the whole table has, cell by cell."""
    import random

    rng = random.Random(7)
    words = ["罗源县", "市国资委党委", "2026年10月12日", "已完成", "逾期284天未办结", "党员活动室面积不足，未设立党员责任区",
             "13900001111", "", "“三会一课”记录不全，组织生活会未按期召开"]
    for _ in range(40):
        n_columns = rng.randint(1, 6)
        rows = [[[rng.choice(words) for _ in range(rng.randint(1, 2))] for _ in range(n_columns)]
                for _ in range(rng.randint(1, 9))]
        titles = [rng.choice(["单位", "示范点", "存在问题", "状态", "日期", "联系\n方式"]) for _ in range(n_columns)]
        weights = [rng.randint(1, 3) for _ in rows]  # how often each row stands in the table
        columns = [tables._Column(titles[i].split("\n"), [row[i] for row in rows], weights) for i in range(n_columns)]
        widths = [rng.choice(c.points) for c in columns]
        heights = tables._Heights(columns, widths)
        assert heights.cost() == pytest.approx(_height_counted_cell_by_cell(columns, widths), abs=1e-9)
        for i, column in enumerate(columns):
            for width in column.points:
                trial = [width if j == i else w for j, w in enumerate(widths)]
                assert heights.cost_with(i, width) == pytest.approx(_height_counted_cell_by_cell(columns, trial),
                                                                    abs=1e-9)


# --- nested quotes -------------------------------------------------------------------------------------
def test_a_quotation_inside_a_quotation_takes_single_quotes(tmp_path):
    ctx = sample_context("monthly_report")
    ctx["problem_list"][0]["problem"] = "2026年10月9日发现的问题““三会一课”记录不够规范”正在整改"
    ctx["reported_problems"][0]["text"] = "“三会一课”记录不全"  # a quotation alone stays double
    doc = Document(render_report("monthly_report", ctx, tmp_path / "q.docx"))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    assert "2026年10月9日发现的问题“‘三会一课’记录不够规范”正在整改" in cells
    assert not any("““" in c for c in cells)
    assert any("“三会一课”记录不全" in p.text for p in doc.paragraphs)


def test_nested_quotes_alternate_and_leave_stray_marks():
    assert render.nested_quotes("问题““三会一课”记录”") == "问题“‘三会一课’记录”"
    assert render.nested_quotes("“甲“乙“丙”乙”甲”") == "“甲‘乙“丙”乙’甲”"
    assert render.nested_quotes("“甲”和“乙”") == "“甲”和“乙”"
    assert render.nested_quotes("”“") == "”“"


# --- 催报名单 ---------------------------------------------------------------------------------------
def test_reminder_list_without_missing_units_prints_a_sentence_not_an_empty_table(tmp_path):
    ctx = sample_context("reminder_list")
    ctx["rows"] = []
    ctx["counts"].update(submitted=ctx["counts"]["due"], missing=0, rejected=0, late=0)
    doc = Document(render_report("reminder_list", ctx, tmp_path / "r.docx"))
    assert not doc.tables
    assert "本月各单位均已按时报送。" in [p.text for p in doc.paragraphs]
    ctx["counts"]["late"] = 2
    doc = Document(render_report("reminder_list", ctx, tmp_path / "r2.docx"))
    assert "本月各单位均已报送，其中逾期报送2个。" in [p.text for p in doc.paragraphs]


def test_reminder_list_overdue_days_name_their_as_of_date(rendered):
    doc = Document(rendered["reminder_list"])
    titles = [c.text for c in doc.tables[0].rows[0].cells]
    assert titles[-1] == "逾期天数"  # one word in its narrow column: the day is named in the sentence above
    assert any("逾期天数算至2026年11月9日" in p.text for p in doc.paragraphs)
