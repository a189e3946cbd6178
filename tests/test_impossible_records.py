"""Records that cannot be true (SPEC §10) are refused at intake, cell by cell; live formulas are
read as their saved results and the clerk is told so."""

from __future__ import annotations

import datetime as dt
import zipfile

from form_helpers import edit, filled_form, set_cells, validate

D = dt.datetime
CONTACTS, SITES, INFO = "联系指导记录", "示范点", "基本信息"
# the master form (罗源县, 2026-10): 联系指导记录 row 7 records a problem of 福顺 found 2026-10-29 by
# 杨晓红 (the site's liaison), 整改时限 2026-11-30, 未办结; 填报日期 2026-11-01 (基本信息!B8)
PROBLEM = "“三会一课”记录不够规范"
FUSHUN = "罗源福顺鞋业党建示范点"


def found(result, code):
    return [p for p in result.problems if p.code == code]


def add_contact(path, row, values):
    """Write one 联系指导记录 row (A..I)."""
    return set_cells(path, CONTACTS, {f"{col}{row}": v for col, v in zip("ABCDEFGHI", values, strict=False)})


# --- a 整改时限 before the problem was found ----------------------------------------------------

def test_deadline_moved_before_the_day_the_problem_was_found_is_refused_at_its_cell(tmp_path):
    form = filled_form(tmp_path / "f.xlsx")
    # the same problem (typed a little differently) closed two days later with a deadline before it was found
    add_contact(form, 10, [D(2026, 10, 31), FUSHUN, "杨晓红", "电话联系", "回访整改落实情况",
                           "三会一课记录不够规范。", "按统一格式补全会议记录", D(2026, 9, 30), "已办结"])
    result = validate(form)
    [p] = found(result, "deadline-before-found")
    assert not result.accepted and p.is_error
    assert (p.sheet, p.cell, p.row, p.column, p.clause) == (CONTACTS, "H10", 10, "整改时限", "X-2")
    assert p.message == ("“整改时限”2026-09-30（联系指导记录!H10）早于该问题的发现日期 2026-10-29"
                         "（第 7 行记录该问题未办结，整改时限 2026-11-30）。")


def test_an_overdue_problem_of_an_earlier_month_reported_again_is_accepted(tmp_path):
    """Its first record in this form is already past its 整改时限: it was found in an earlier form."""
    form = filled_form(tmp_path / "f.xlsx")
    add_contact(form, 10, [D(2026, 10, 5), FUSHUN, "杨晓红", "电话联系", "回访整改落实情况",
                           "党员台账未更新", "更新台账", D(2026, 9, 30), "未办结"])
    add_contact(form, 11, [D(2026, 10, 30), FUSHUN, "杨晓红", "电话联系", "回访整改落实情况",
                           "党员台账未更新", "更新台账", D(2026, 9, 30), "已办结"])
    result = validate(form)
    assert result.accepted, [p.message for p in result.problems]
    assert not found(result, "deadline-before-found")


def test_a_problem_found_again_after_it_was_closed_is_a_new_problem(tmp_path):
    form = filled_form(tmp_path / "f.xlsx")
    add_contact(form, 10, [D(2026, 10, 2), FUSHUN, "杨晓红", "电话联系", "回访", "党员台账未更新", "更新台账",
                           D(2026, 10, 20), "未办结"])
    add_contact(form, 11, [D(2026, 10, 15), FUSHUN, "杨晓红", "电话联系", "回访", "党员台账未更新", "更新台账",
                           D(2026, 10, 20), "已办结"])
    # found again later with a deadline after the new finding: nothing impossible
    add_contact(form, 12, [D(2026, 10, 30), FUSHUN, "杨晓红", "电话联系", "回访", "党员台账未更新", "更新台账",
                           D(2026, 11, 30), "未办结"])
    assert not found(validate(form), "deadline-before-found")


# --- a date after the form was filled in -----------------------------------------------------

def test_record_dated_after_the_fill_date_raises_future_date_with_the_fill_date(tmp_path):
    form = filled_form(tmp_path / "f.xlsx")
    set_cells(form, INFO, {"B8": D(2026, 10, 30)})  # filled in on the 30th: the 31st's contact is later
    set_cells(form, SITES, {"M3": D(2026, 10, 31)})  # and a plan "reported" on the 31st
    result = validate(form)
    future = {(p.sheet, p.cell): p for p in found(result, "future-date")}
    assert set(future) == {(CONTACTS, "A9"), (SITES, "M3")}, [p.message for p in result.problems]
    p = future[(CONTACTS, "A9")]
    assert p.is_error and p.clause == "M-4b" and p.column == "日期"
    assert p.message == "“日期”2026-10-31（联系指导记录!A9）晚于本表的填报日期 2026-10-30。"
    assert not result.accepted


def test_a_deadline_after_the_fill_date_is_no_future_date(tmp_path):
    """整改时限 lies ahead by its nature (the master form's is 2026-11-30, filled 2026-11-01)."""
    result = validate(filled_form(tmp_path / "f.xlsx"))
    assert result.accepted and not found(result, "future-date")


def test_a_date_after_the_month_is_reported_once_as_outside_the_month(tmp_path):
    form = filled_form(tmp_path / "f.xlsx")
    set_cells(form, CONTACTS, {"A9": D(2026, 11, 20)})
    result = validate(form)
    assert [p.cell for p in found(result, "date-outside-month")] == ["A9"]
    assert not found(result, "future-date")


# --- a contact before the site's liaison was fixed --------------------------------------------

def test_liaison_contact_before_the_sites_contact_date_is_refused(tmp_path):
    form = filled_form(tmp_path / "f.xlsx")
    set_cells(form, SITES, {"L3": D(2026, 10, 30)})  # 福顺's liaison 杨晓红 fixed only on 10-30
    result = validate(form)
    items = found(result, "contact-before-assigned")
    # 杨晓红's two contacts of 10-29 at 福顺; 张国强's contacts at 福顺 are another member's, not judged
    assert [(p.cell, p.clause) for p in items] == [("A7", "M-1a"), ("A8", "M-1a")]
    assert items[0].is_error and not result.accepted
    assert items[0].message == ("联系指导记录!A7 记录 杨晓红 于 2026-10-29 联系示范点“罗源福顺鞋业党建示范点”，"
                                "早于“示范点”表确定由其联系的日期 2026-10-30（L3）。")


# --- live formulas -------------------------------------------------------------------------------

def test_live_formulas_are_named_cell_by_cell_as_warnings(tmp_path):
    form = filled_form(tmp_path / "f.xlsx")

    def formulas(wb):
        wb["党员队伍"]["B2"] = "=40+2"  # 党员总数 computed (openpyxl saves no cached result)
        wb[CONTACTS]["E3"] = '=CONCATENATE("督促","报送")'
        wb[INFO]["B5"] = '="张"&"美玲"'
    edit(form, formulas)
    result = validate(form)
    items = {p.location: p for p in found(result, "formula-ignored")}
    assert set(items) == {"党员队伍!B2", "联系指导记录!E3", "基本信息!B5"}
    assert all(not p.is_error for p in items.values())
    assert items["党员队伍!B2"].column == "党员总数" and items["基本信息!B5"].column == "填报人"
    assert items["党员队伍!B2"].message == "党员队伍!B2 含有公式，系统不计算公式，只读取其保存的结果：（空，未保存计算结果）。"


def test_a_formula_is_read_as_its_saved_result_and_named_with_it(tmp_path):
    form = filled_form(tmp_path / "f.xlsx")
    part = _sheet_part(form, CONTACTS)
    with zipfile.ZipFile(form) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    xml = members[part].decode()
    start = xml.index('<c r="E3"')
    end = xml.index("</c>", start) + 4
    members[part] = (xml[:start] + '<c r="E3" t="str"><f>"督促"&amp;"报送"</f><v>督促报送</v></c>' + xml[end:]).encode()
    with zipfile.ZipFile(form, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    result = validate(form)
    [p] = found(result, "formula-ignored")
    assert p.message == "联系指导记录!E3 含有公式，系统不计算公式，只读取其保存的结果：“督促报送”。"
    assert p.column == "内容"
    assert result.accepted
    assert "督促报送" in list(result.frames["contacts"]["content"])


def test_formula_scan_costs_nothing_noticeable_on_a_form_without_formulas(tmp_path):
    """The formula scan rides on the row count that already streams every sheet; a form without
    formulas is not read again (the cells are looked up only in parts that have an <f>)."""
    from processor.validate import readers

    form = filled_form(tmp_path / "f.xlsx")
    calls = []
    original = readers._formula_cells
    readers._formula_cells = lambda *a: calls.append(a) or original(*a)
    try:
        book = readers.read_workbook(form)
    finally:
        readers._formula_cells = original
    assert calls == [] and book.formulas == {}


def _sheet_part(path, title):
    from processor.validate.readers import _sheet_parts

    with zipfile.ZipFile(path) as z:
        return next(part for part, name in _sheet_parts(z).items() if name == title)

