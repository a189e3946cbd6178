"""Rendering the Word reports from templates/ with the sample contexts."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zipfile

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm

from processor.render import documents as render
from docx_helpers import docx_to_pdf, font_environment, pdf_page_png, render_report
from report_samples import REPORT_NAMES, sample_context

NS_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _xml_parts(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n).decode("utf-8") for n in zf.namelist() if n.endswith(".xml")}


def _all_text(path) -> str:
    doc = Document(path)
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def _table_with_header(doc, first_titles):
    for table in doc.tables:
        titles = [c.text for c in table.rows[0].cells]
        if titles[: len(first_titles)] == first_titles:
            return table
    raise AssertionError(f"no table starting with {first_titles}")


def _body_rows(table):
    return [[c.text for c in row.cells] for row in table.rows[1:]]


# --- filters -----------------------------------------------------------------
def test_filters_format_dates_numbers_and_lists_the_chinese_way():
    env = render.jinja_env()
    f = env.filters
    assert f["cn_date"]("2026-11-06") == "2026年11月6日"
    assert f["cn_date"](dt.date(2026, 1, 9)) == "2026年1月9日"
    assert f["cn_date"]("") == ""
    assert f["md_date"]("2026-10-21") == "10月21日"
    assert f["month_cn"]("2026-03") == "2026年3月"
    assert f["pct"](5 / 6) == "83.3%" and f["pct"](1) == "100%"
    assert f["num"](1234567) == "1234567" and f["num"](56.0) == "56" and f["num"](42.25) == "42.2"
    assert f["join_cn"](["榕城区", "罗源县"]) == "榕城区、罗源县" and f["join_cn"]([]) == ""
    assert env.from_string("{{ x }}").render(x="<a&b>") == "&lt;a&amp;b&gt;"  # autoescaped XML


# --- the contract --------------------------------------------------------------
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_sample_context_supplies_every_template_variable(name):
    context = sample_context(name)
    supplied = set(context) | set(context.get("charts", {}))
    needed = render.template_variables(render.template_path(name))
    assert needed, "a template without variables cannot be a report"
    assert needed <= supplied, f"缺少：{needed - supplied}"


def test_missing_variable_is_an_error_naming_it(tmp_path):
    context = sample_context("reminder_list")
    del context["counts"]
    with pytest.raises(ValueError, match="counts"):
        render.render_docx("reminder_list", context, tmp_path / "x.docx")
    assert not (tmp_path / "x.docx").exists()
    assert not list(tmp_path.iterdir()), "no temp file left behind"


# --- what the rendered documents contain ---------------------------------------
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_no_template_tag_left_and_every_run_has_an_east_asian_font(rendered, name):
    parts = _xml_parts(rendered[name])
    for part, xml in parts.items():
        assert "{{" not in xml and "{%" not in xml and "%}" not in xml, part
    doc = Document(rendered[name])
    roots = [doc.element.body, doc.sections[0].footer._element, doc.sections[0].even_page_footer._element]
    for root in roots:
        for run in root.iter(qn("w:r")):
            rfonts = run.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
            assert rfonts is not None and rfonts.get(qn("w:eastAsia")), "run without an East-Asian font"
            assert rfonts.get(qn("w:asciiTheme")) is None
    section = doc.sections[0]
    assert {round(section.page_width / Mm(1)), round(section.page_height / Mm(1))} == {210, 297}


@pytest.mark.parametrize("name", [n for n in REPORT_NAMES if n != "site_dossier"])
def test_reports_read_in_chinese_without_placeholders(rendered, name):
    text = _all_text(rendered[name]).replace("VCD机", "")  # the opinion's own word for the item
    assert not re.search(r"[A-Za-z]{2,}", text), re.findall(r"[A-Za-z]{2,}", text)[:5]
    assert "None" not in text and "N/A" not in text


def test_monthly_report_text_and_tables_agree_with_the_context(rendered):
    ctx = sample_context("monthly_report")
    doc = Document(rendered["monthly_report"])
    paragraphs = [p.text for p in doc.paragraphs]
    s = ctx["submission"]
    sentence = next(p for p in paragraphs if p.startswith("本月应报单位"))
    assert sentence.startswith(f"本月应报单位{s['due']}个，按时报送{s['on_time']}个，逾期报送{s['late']}个（闽江县），"
                               f"未报送{s['missing']}个（罗源县）。")
    assert paragraphs[0].startswith("关于2026年10月企业组联系党建示范点")
    # 附件1: one row per unit, same status and count as the sentence
    units = _body_rows(_table_with_header(doc, ["序号", "单位", "单位类型"]))
    assert [r[1] for r in units] == [u["unit"] for u in ctx["unit_rows"]]
    assert sum(r[3] == "按时报送" for r in units) == s["on_time"]
    assert [r[0] for r in units] == [str(i) for i in range(1, len(units) + 1)]
    # staff table totals
    staff = _body_rows(_table_with_header(doc, ["组别", "企业组人员"]))
    assert [(r[1], int(r[7])) for r in staff] == [(x["staff"], x["total"]) for x in ctx["staff_rows"]]
    assert sum(int(r[-1]) for r in staff) + 0 <= ctx["contact_summary"]["total"]
    # 附件2: the one problem list, the failures under a band for their unit, items not yet due counted apart
    table = _table_with_header(doc, ["示范点", "存在问题", "对应要求"])
    rows = [[c.text for c in row.cells] for row in table.rows[1:]]
    listed = [(r[0], r[1], r[2]) for r in rows if len(set(r)) > 1]
    assert listed == [(f["site"], f["problem"], f["rule"]) for f in ctx["problem_list"]]
    failed = sum(f["status"] == "未达标" for f in ctx["findings"])
    late_or_missing = sum(f["status"] == "未达标" and f["clause"] == "M-4b" for f in ctx["findings"])
    assert sum(r["items"] for r in ctx["problem_list"]) == failed - late_or_missing  # those are in 附件1
    counted = next(p for p in paragraphs if p.startswith("对照实施意见"))
    not_due = sum(f["status"] == "待完成" for f in ctx["findings"])
    assert f"本月未达标事项{failed}项" in counted and f"另有{not_due}项统计期尚未结束" in counted
    # attachments start on a new page with 附件N in 黑体; closing with office and date
    marks = [p for p in doc.paragraphs if re.fullmatch(r"附件\d", p.text)]
    assert [p.text for p in marks] == ["附件1", "附件2"]
    assert all(p.style.paragraph_format.page_break_before for p in marks)
    assert "中共榕城市委组织部企业组" in paragraphs and "2026年11月6日" in paragraphs
    # two charts embedded as pictures
    assert len(doc.inline_shapes) == 2


def test_assignment_table_prints_each_group_as_a_band_and_merges_a_staff_members_sites(rendered):
    """Finding 9: no light-grey repeats that look like a printing fault; each group is a shaded band over
    its rows, a staff member's sites share one merged cell."""
    ctx = sample_context("assignment_table")
    doc = Document(rendered["assignment_table"])
    assert doc.sections[0].page_width > doc.sections[0].page_height  # landscape
    table = doc.tables[0]
    trs = table._tbl.tr_lst[1:]
    assert not list(table._tbl.iter(qn("w:color")))
    bands = [tr for tr in trs if tr.find(f".//{qn('w:gridSpan')}") is not None]
    groups = list(dict.fromkeys(x["group"] for x in ctx["rows"]))
    assert ["".join(t.text or "" for t in tr.iter(qn("w:t"))) for tr in bands] == groups
    assert all(tr.find(f".//{qn('w:shd')}") is not None for tr in bands)
    rows = [tr for tr in trs if tr not in bands]
    assert len(rows) == len(ctx["rows"])
    sites = [["".join(t.text or "" for t in tc.iter(qn("w:t"))) for tc in tr.tc_lst][2] for tr in rows]
    assert sites == [x["site"] for x in ctx["rows"]]
    # a staff member's name once per block of his sites: the other cells are merged into it
    staff = [["".join(t.text or "" for t in tc.iter(qn("w:t"))) for tc in tr.tc_lst][0] for tr in rows]
    expected = [x["staff"] if i == 0 or (x["group"], x["staff"]) != (ctx["rows"][i - 1]["group"],
                                                                    ctx["rows"][i - 1]["staff"]) else ""
                for i, x in enumerate(ctx["rows"])]
    assert staff == expected
    assert len(table._tbl.findall(f".//{qn('w:vMerge')}")) == sum(
        1 for i, x in enumerate(ctx["rows"])
        if (i and (x["group"], x["staff"]) == (ctx["rows"][i - 1]["group"], ctx["rows"][i - 1]["staff"]))
        or (i + 1 < len(ctx["rows"]) and (x["group"], x["staff"]) == (ctx["rows"][i + 1]["group"],
                                                                     ctx["rows"][i + 1]["staff"])))
    text = _all_text(rendered["assignment_table"])
    assert "刘洋（第三组）" in text and "榕城机电设备公司党支部" in text


def test_reminder_list_rows_and_counts(rendered):
    ctx = sample_context("reminder_list")
    doc = Document(rendered["reminder_list"])
    rows = _body_rows(doc.tables[0])
    assert [(r[1], r[5], r[6]) for r in rows] == [(x["unit"], x["status"], str(x["overdue_days"])) for x in ctx["rows"]]
    assert f"未报送{ctx['counts']['missing']}个" in _all_text(rendered["reminder_list"])


def test_site_dossier_cover_timeline_and_sources(rendered):
    ctx = sample_context("site_dossier")
    doc = Document(rendered["site_dossier"])
    cover = {r.cells[0].text: r.cells[1].text for r in doc.tables[0].rows}
    assert cover["示范点名称"] == ctx["site"]["name"]
    assert cover["确定联系日期"] == "2026年9月8日"
    assert cover["建档期间"] == "2026年9月至2026年11月"
    headings = [p.text for p in doc.paragraphs if p.style.name == "二级标题"]
    assert headings == ["2026年9月", "2026年10月", "2026年11月"]
    # a month the unit did not report says so, under its heading
    texts = [p.text for p in doc.paragraphs]
    assert texts[texts.index("2026年11月") + 1] == "本月未报送。"
    sources = _body_rows(_table_with_header(doc, ["序号", "文件名"]))
    assert [r[1] for r in sources] == [s["file_name"] for s in ctx["sources"]]


def test_empty_lists_render_a_sentence_instead_of_an_empty_table(tmp_path):
    ctx = sample_context("monthly_report")
    for key in ("findings", "hardware_rows", "reported_problems", "plans", "sites_no_contact", "sites_no_visit",
                "problem_list"):
        ctx[key] = []
    ctx["finding_counts"] = {"total": 0, "failed": 0, "at_risk": 0}
    ctx["hardware"] = {"sites": 14, "complete": 14, "incomplete": 0}
    out = render_report("monthly_report", ctx, tmp_path / "empty.docx")
    doc = Document(out)
    text = [p.text for p in doc.paragraphs]
    assert "本月未发现未达标事项。" in text
    assert "本月各单位未反映问题。" in text
    assert any("本月报送的示范点均已沟通联系" in p for p in text)
    assert not any("存在问题" in [c.text for c in t.rows[0].cells] for t in doc.tables)


def test_untrusted_text_is_escaped_and_cleaned(tmp_path):
    ctx = sample_context("reminder_list")
    ctx["rows"][0]["unit"] = "罗源县<b>&\x07\x1b“测试”"
    out = render.render_docx("reminder_list", ctx, tmp_path / "r.docx")
    doc = Document(out)
    assert doc.tables[0].rows[1].cells[1].text == "罗源县<b>&“测试”"


def test_rendering_is_deterministic_and_sensitive_to_the_context(tmp_path):
    ctx = sample_context("monthly_report")
    a = render_report("monthly_report", ctx, tmp_path / "a.docx")
    b = render_report("monthly_report", sample_context("monthly_report"), tmp_path / "b.docx")
    assert a.read_bytes() == b.read_bytes()
    ctx["unit_rows"][0]["note"] = "已重报"
    c = render_report("monthly_report", ctx, tmp_path / "c.docx")
    assert c.read_bytes() != a.read_bytes()
    doc = Document(a)
    assert doc.core_properties.created.replace(tzinfo=None) == dt.datetime(2026, 11, 6)  # the report date
    with zipfile.ZipFile(a) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_consecutive_renders_do_not_leak_into_each_other(tmp_path):
    """Renders reuse the parsed template: each document must still be built from the pristine one."""
    first = sample_context("site_dossier")
    other = sample_context("site_dossier")
    other["site"]["name"] = "另一示范点"
    a = render.render_docx("site_dossier", first, tmp_path / "a.docx")
    render_report("monthly_report", sample_context("monthly_report"), tmp_path / "m.docx")  # adds images
    b = render.render_docx("site_dossier", other, tmp_path / "b.docx")
    again = render.render_docx("site_dossier", first, tmp_path / "again.docx")
    assert again.read_bytes() == a.read_bytes()
    assert "另一示范点" in _all_text(b) and "另一示范点" not in _all_text(again)
    with zipfile.ZipFile(again) as zf:
        assert not [n for n in zf.namelist() if n.startswith("word/media/")]


def test_a_line_break_in_submitted_text_becomes_a_line_break_in_word(tmp_path):
    ctx = sample_context("site_dossier")
    ctx["timeline"][0]["progress"] = "完成党群活动室改造\n启动党员积分管理"
    out = render.render_docx("site_dossier", ctx, tmp_path / "d.docx")
    body = _xml_parts(out)["word/document.xml"]
    assert re.search(r"完成党群活动室改造</w:t>\s*<w:br/>\s*<w:t[^>]*>启动党员积分管理", body)


def test_a_template_edited_in_word_is_used_on_the_next_render(tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES_DIR, templates)
    monkeypatch.setattr(render, "TEMPLATES_DIR", templates)
    ctx = sample_context("reminder_list")
    before = render.render_docx("reminder_list", ctx, tmp_path / "before.docx")
    assert "请各单位于收到通知后尽快报送" not in _all_text(before)
    edited = Document(templates / "reminder_list.docx")
    edited.add_paragraph("请各单位于收到通知后尽快报送。")
    edited.save(templates / "reminder_list.docx")
    after = render.render_docx("reminder_list", ctx, tmp_path / "after.docx")
    assert "请各单位于收到通知后尽快报送" in _all_text(after)
    for run in Document(after).element.body.iter(qn("w:r")):  # the paragraph Word added has no font of its own
        rfonts = run.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
        assert rfonts is not None and rfonts.get(qn("w:eastAsia")), "run without an East-Asian font"


def test_a_long_running_service_keeps_one_parsed_copy_of_a_template_edited_again_and_again(tmp_path, monkeypatch):
    """``serve`` runs for weeks while the office edits its templates: each edit is read afresh and the
    copy before it is forgotten, and the remembered per-part work stays bounded."""
    templates = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES_DIR, templates)
    monkeypatch.setattr(render, "TEMPLATES_DIR", templates)
    ctx = sample_context("reminder_list")
    path = templates / "reminder_list.docx"
    for edit in range(4):
        document = Document(path)
        document.add_paragraph(f"第{edit + 1}次修改。")
        document.save(path)
        out = render.render_docx("reminder_list", ctx, tmp_path / f"edit{edit}.docx")
        assert f"第{edit + 1}次修改" in _all_text(out)
    assert [key for key in render._Template._packages if str(path) in str(key)] == [str(path)]
    for n in range(3 * render.CACHED_TEMPLATE_PARTS):  # parts of as many different templates
        render._Template._patched.remember(f"<w:t>{n}</w:t>", lambda n=n: f"<w:t>{n}</w:t>")
        render.jinja_env().from_string(f"第{n}段")
    assert len(render._Template._patched) <= render.CACHED_TEMPLATE_PARTS
    assert len(render.jinja_env()._compiled) <= render.CACHED_TEMPLATE_PARTS


def _custom_template(tmp_path, monkeypatch, build) -> str:
    templates = tmp_path / "templates"
    templates.mkdir()
    monkeypatch.setattr(render, "TEMPLATES_DIR", templates)
    doc = Document()
    build(doc)
    doc.save(templates / "custom.docx")
    return "custom"


def test_a_column_loop_gets_as_many_grid_columns_as_it_makes_cells(tmp_path, monkeypatch):
    def build(doc):
        table = doc.add_table(rows=2, cols=4)
        for row, first, cell in ((0, "月份", "{{ m }}"), (1, "报表", "{{ counts[m] }}")):
            texts = [first, "{%tc for m in months %}", cell, "{%tc endfor %}"]
            for col, text in enumerate(texts):
                table.cell(row, col).text = text

    name = _custom_template(tmp_path, monkeypatch, build)
    for months in (["1月", "2月", "3月", "4月", "5月"], ["1月"]):
        out = render.render_docx(name, {"months": months, "counts": {m: 3 for m in months}}, tmp_path / "t.docx")
        table = Document(out).tables[0]
        grid = table._tbl.find(qn("w:tblGrid")).findall(qn("w:gridCol"))
        assert [len(tr.tc_lst) for tr in table._tbl.tr_lst] == [1 + len(months)] * 2
        assert len(grid) == 1 + len(months)
        assert [c.text for c in table.rows[0].cells] == ["月份", *months]


def test_template_syntax_in_a_header_is_rendered_and_a_plain_footer_kept(tmp_path, monkeypatch):
    def build(doc):
        doc.sections[0].header.paragraphs[0].text = "{{ office_name }}（内部资料）"
        doc.sections[0].footer.paragraphs[0].text = "第一页"
        doc.add_paragraph("{{ title }}")

    name = _custom_template(tmp_path, monkeypatch, build)
    out = render.render_docx(name, {"office_name": "企业组", "title": "报告"}, tmp_path / "t.docx")
    section = Document(out).sections[0]
    assert section.header.paragraphs[0].text == "企业组（内部资料）"
    assert section.footer.paragraphs[0].text == "第一页"


# --- LibreOffice: fonts really used, first page image ----------------------------
needs_office = pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdffonts")),
                                  reason="LibreOffice/poppler not installed")


def test_font_aliases_map_official_names_to_installed_cjk_fonts():
    if not shutil.which("fc-match"):
        pytest.skip("fontconfig tools not installed")
    env = font_environment()
    for name, expected in (("仿宋_GB2312", "Noto Serif CJK SC"), ("方正小标宋简体", "Noto Serif CJK SC"),
                           ("黑体", "Noto Sans CJK SC"), ("楷体_GB2312", "Noto Serif CJK SC"), ("宋体", "Noto Serif CJK SC")):
        found = subprocess.run(["fc-match", "-f", "%{family[0]}", name], env=env, capture_output=True,
                               text=True, check=True).stdout
        assert found == expected, (name, found)


@pytest.mark.slow
@needs_office
def test_monthly_report_pdf_uses_cjk_fonts_and_first_page_shows_text(rendered, tmp_path):
    pdf = docx_to_pdf(rendered["monthly_report"], tmp_path)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    font_names = [line.split()[0] for line in fonts.splitlines()[2:] if line.strip()]
    assert any("CJK" in f for f in font_names), fonts
    assert not any(re.search("DejaVu|Liberation", f) for f in font_names), fonts
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = text.split("\f")
    first = pages[0]
    assert "一、报送情况" in first and "— 1 —" in first.replace("—1—", "— 1 —")
    # 28 characters per body line: the opening paragraph's second line is a full line
    lines = [ln.strip() for ln in first.splitlines() if ln.strip()]
    full = next(ln for ln in lines if ln.startswith("求，现将"))
    assert len(full.replace(" ", "")) in range(27, 33)
    png = pdf_page_png(pdf, tmp_path / "page1.png", page=1, dpi=60)
    from PIL import Image

    with Image.open(png) as im:
        gray = im.convert("L")
        assert gray.size[0] < gray.size[1]  # portrait A4
        dark = sum(gray.histogram()[:128])
        assert dark > 2000, "the first page should show text"
