"""Validation of real monthly forms: accepted, rejected with the exact code and cell, normalised."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from form_helpers import (MONTH, UNIT, cell_value, edit, filled_form, set_cells, soffice_available, soffice_convert,
                          validate)

from click.testing import CliRunner

from processor.cli import main
from processor.validate.errors import PROBLEM_TYPES
from processor.validate.template import write_template
from form_helpers import ROSTER, RULEBOOK

CJK = re.compile(r"[\u4e00-\u9fff]")


def codes_at(result):
    return {(p.code, p.sheet, p.cell) for p in result.problems}


# --- accepted forms -------------------------------------------------------------------

def test_correctly_filled_form_is_accepted_with_typed_rows(form):
    result = validate(form)
    assert result.accepted, [p.message for p in result.problems]
    assert not result.problems.items
    assert (result.unit, result.unit_kind, result.month) == (UNIT, "县市区", MONTH)
    assert len(result.frames["sites"]) == 2 and len(result.frames["contacts"]) == 8
    contacts = result.frames["contacts"]
    assert all(isinstance(d, dt.date) and d.strftime("%Y-%m") == MONTH for d in contacts["date"])
    assert list(contacts["row"]) == list(range(2, 10))
    members = result.frames["members"]
    assert all(type(v) is int for v in members["total"])
    assert set(result.frames["hardware"]["site"]) == set(result.frames["sites"]["site"])
    assert result.template_version and result.model_hash


@pytest.mark.slow
@pytest.mark.skipif(not soffice_available(), reason="LibreOffice (soffice) is not installed")
def test_form_resaved_by_libreoffice_is_accepted_with_the_same_rows(form, tmp_path):
    resaved = soffice_convert(form, "xlsx", tmp_path / "lo")
    original, result = validate(form), validate(resaved)
    assert result.accepted, [p.message for p in result.problems]
    for key, frame in original.frames.items():
        assert frame.equals(result.frames[key]), key


def test_blank_template_is_rejected_listing_required_cells(tmp_path):
    blank = write_template(tmp_path / "blank.xlsx", roster=ROSTER, rulebook=RULEBOOK)
    result = validate(blank)
    assert not result.accepted
    required = {p.location for p in result.problems if p.code == "required-cell"}
    assert {"基本信息!B2", "基本信息!B3", "基本信息!B4", "基本信息!B5", "基本信息!B8"} <= required
    assert "no-sites" in {p.code for p in result.problems}


def test_unknown_staff_is_only_a_warning(form):
    set_cells(form, "示范点", {"K2": "张三丰"})
    result = validate(form)
    assert result.accepted
    assert ("unknown-staff", "示范点", "K2") in codes_at(result)


def test_file_from_another_units_folder_is_rejected(form):
    result = validate(form, expected_unit="闽清县")
    assert ("unit-mismatch", "基本信息", "B2") in codes_at(result)
    assert validate(form, expected_unit=UNIT).accepted


# --- 30+ invalid cases, each with its exact code and cell ---------------------------------

def _copy_row(sheet, src, dest):
    def change(wb):
        ws = wb[sheet]
        for col in range(1, ws.max_column + 1):
            ws.cell(dest, col).value = ws.cell(src, col).value
    return change


def _cells(sheet, **values):
    def change(wb):
        for cell, value in values.items():
            wb[sheet][cell].value = value
    return change


def _delete_sheet(title):
    return lambda wb: wb.remove(wb[title])


def _clear_row(sheet, row):
    def change(wb):
        for cell in wb[sheet][row]:
            cell.value = None
    return change


def _attendance(wb):
    ws = wb["组织生活"]
    ws["F2"] = ws["E2"].value + 5


def _old_template(wb):
    wb["模板信息"]["B2"] = "2025.1"
    wb.remove(wb["工作进展"])


def _foreign_workbook(wb):
    wb.remove(wb["模板信息"])
    wb.remove(wb["党员队伍"])


def _drop_column(wb):
    wb["联系指导记录"].delete_cols(4)  # 方式


def _no_sites(wb):
    for title in ("示范点", "联系指导记录", "组织生活", "硬件设施", "党员队伍", "工作进展"):
        ws = wb[title]
        ws.delete_rows(2, ws.max_row)


INVALID = [
    # (case id, change, code, sheet, cell)
    ("unit-empty", _cells("基本信息", B2=None), "required-cell", "基本信息", "B2"),
    ("unit-unknown", _cells("基本信息", B2="长乐县"), "unknown-unit", "基本信息", "B2"),
    ("unit-kind-not-in-list", _cells("基本信息", B3="乡镇"), "not-in-list", "基本信息", "B3"),
    ("month-13", _cells("基本信息", B4="2026-13"), "bad-month", "基本信息", "B4"),
    ("month-words", _cells("基本信息", B4="十月份"), "bad-month", "基本信息", "B4"),
    ("month-other-year", _cells("基本信息", B4="2025-10"), "month-outside-year", "基本信息", "B4"),
    ("filler-empty", _cells("基本信息", B5="   "), "required-cell", "基本信息", "B5"),
    ("fill-date-impossible", _cells("基本信息", B8="2026-02-30"), "impossible-date", "基本信息", "B8"),
    ("fill-date-words", _cells("基本信息", B8="下周一"), "type-error", "基本信息", "B8"),
    ("enterprise-kind", _cells("示范点", C2="外企"), "not-in-list", "示范点", "C2"),
    ("org-kind", _cells("示范点", E3="党组"), "not-in-list", "示范点", "E3"),
    ("members-negative", _cells("示范点", H2=-5), "out-of-range", "示范点", "H2"),
    ("members-words", _cells("示范点", H2="三十"), "type-error", "示范点", "H2"),
    ("employees-fraction", _cells("示范点", I3=12.5), "type-error", "示范点", "I3"),
    ("contact-date-empty", _cells("示范点", L2=None), "required-cell", "示范点", "L2"),
    ("secretary-too-long", _cells("示范点", G2="张" * 41), "out-of-range", "示范点", "G2"),
    ("site-registered-twice", _copy_row("示范点", 2, 3), "duplicate-site", "示范点", "A3"),
    ("contact-in-later-month", _cells("联系指导记录", A2=dt.date(2026, 11, 1)), "date-outside-month", "联系指导记录", "A2"),
    ("contact-unknown-site", _cells("联系指导记录", B3="未登记的示范点"), "unknown-site", "联系指导记录", "B3"),
    ("contact-mode", _cells("联系指导记录", D4="微信"), "not-in-list", "联系指导记录", "D4"),
    ("contact-state", _cells("联系指导记录", I2="处理中"), "not-in-list", "联系指导记录", "I2"),
    ("contact-date-impossible", _cells("联系指导记录", A5="2026/10/32"), "impossible-date", "联系指导记录", "A5"),
    ("contact-content-empty", _cells("联系指导记录", E2=None), "required-cell", "联系指导记录", "E2"),
    ("contact-duplicate", _copy_row("联系指导记录", 2, 10), "duplicate-row", "联系指导记录", "A10"),
    ("attendance", _attendance, "attendance-exceeds", "组织生活", "F2"),
    ("activity-kind", _cells("组织生活", C3="茶话会"), "not-in-list", "组织生活", "C3"),
    ("expected-negative", _cells("组织生活", E4=-1), "out-of-range", "组织生活", "E4"),
    ("meeting-duplicate", _copy_row("组织生活", 2, 12), "duplicate-row", "组织生活", "A12"),
    ("meeting-unknown-site", _cells("组织生活", B5="榕城某公司"), "unknown-site", "组织生活", "B5"),
    ("meeting-date-text-bad", _cells("组织生活", A6="十月八日"), "type-error", "组织生活", "A6"),
    ("hardware-yesno", _cells("硬件设施", B2="有"), "not-in-list", "硬件设施", "B2"),
    ("room-area-zero", _cells("硬件设施", E2=0), "out-of-range", "硬件设施", "E2"),
    ("hardware-row-missing", _clear_row("硬件设施", 3), "missing-site-row", "硬件设施", None),
    ("new-workers-exceed", _cells("党员队伍", C2=1, D2=2, E2=0), "out-of-range", "党员队伍", "D2"),
    ("mobile-managed-exceed", _cells("党员队伍", G2=1, H2=3), "out-of-range", "党员队伍", "H2"),
    ("total-fraction", _cells("党员队伍", B2=1.5), "type-error", "党员队伍", "B2"),
    ("fund-words", _cells("党员队伍", L2="很多"), "type-error", "党员队伍", "L2"),
    ("progress-empty", _cells("工作进展", B2=None), "required-cell", "工作进展", "B2"),
    ("progress-duplicate-site", _copy_row("工作进展", 2, 3), "duplicate-row", "工作进展", "A3"),
    ("sheet-deleted", _delete_sheet("组织生活"), "missing-sheet", "组织生活", None),
    ("column-deleted", _drop_column, "missing-column", "联系指导记录", None),
    ("template-outdated", _old_template, "template-outdated", None, None),
    ("unknown-template", _foreign_workbook, "unknown-template", None, None),
    ("no-sites", _no_sites, "no-sites", "示范点", None),
]


@pytest.mark.parametrize("change, code, sheet, cell", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_form_is_rejected_at_the_exact_cell(form, change, code, sheet, cell):
    result = validate(edit(form, change))
    assert not result.accepted
    found = [p for p in result.problems.errors if p.code == code]
    assert found, f"expected {code}, got {[(p.code, p.location) for p in result.problems]}"
    assert any(p.sheet == sheet and p.cell == cell for p in found), [(p.sheet, p.cell) for p in found]
    for p in result.problems:
        assert CJK.search(p.message), p.message


def test_at_least_thirty_distinct_invalid_cases():
    assert len({c[0] for c in INVALID}) >= 30
    assert len({c[2] for c in INVALID}) >= 18


def test_missing_column_names_the_column(form):
    result = validate(edit(form, _drop_column))
    item = next(p for p in result.problems if p.code == "missing-column")
    assert item.column == "方式" and "方式" in item.message


def test_outdated_template_names_missing_sheet_and_is_the_only_error(form):
    result = validate(edit(form, _old_template))
    assert [p.code for p in result.problems.errors] == ["template-outdated"]
    assert "工作进展" in result.problems.errors[0].message and "2025.1" in result.problems.errors[0].message


def test_error_record_carries_column_title_and_value(form):
    result = validate(set_cells(form, "联系指导记录", {"D4": "微信"}))
    item = next(p for p in result.problems if p.code == "not-in-list")
    assert (item.column, item.value, item.row, item.location) == ("方式", "微信", 4, "联系指导记录!D4")
    assert "电话联系" in item.message and item.hint


# --- normalisation of what is unambiguous ------------------------------------------------

@pytest.mark.parametrize("typed", ["2026.10.8", "2026-10-08", "2026年10月8日", "2026/10/8", " 2026-10-08 ",
                                   "２０２６年１０月８日", 46303])
def test_dates_typed_as_text_or_serial_are_read(form, typed):
    def change(wb):
        cell = wb["联系指导记录"]["A2"]
        cell.value, cell.number_format = typed, "General"  # a serial without date format, or text
    result = validate(edit(form, change))
    assert result.accepted, [p.message for p in result.problems.errors]
    frame = result.frames["contacts"]
    assert frame.loc[frame["row"] == 2, "date"].item() == dt.date(2026, 10, 8)
    assert ("normalized-date", "联系指导记录", "A2") in codes_at(result)


@pytest.mark.parametrize("typed", ["2026年10月", "2026.10", "2026/10", dt.datetime(2026, 10, 1)])
def test_month_variants_are_read(form, typed):
    result = validate(set_cells(form, "基本信息", {"B4": typed}))
    assert result.accepted and result.month == "2026-10"
    assert ("normalized-date", "基本信息", "B4") in codes_at(result)


def test_full_width_digits_spaces_and_choices_are_normalised(form):
    site = cell_value(form, "示范点", "A2")
    set_cells(form, "示范点", {"H2": "１２０", "C2": " 国企　"})
    set_cells(form, "联系指导记录", {"B2": f"  {site}　"})
    result = validate(form)
    assert result.accepted, [p.message for p in result.problems.errors]
    sites, contacts = result.frames["sites"], result.frames["contacts"]
    assert sites.loc[0, "members"] == 120 and sites.loc[0, "enterprise_kind"] == "国企"
    assert contacts.loc[0, "site"] == site
    found = codes_at(result)
    assert ("normalized-number", "示范点", "H2") in found
    assert ("normalized-text", "示范点", "C2") in found
    assert ("normalized-text", "联系指导记录", "B2") in found
    assert all(not p.is_error for p in result.problems)


def test_title_row_above_header_reordered_and_extra_columns(form):
    def change(wb):
        ws = wb["组织生活"]
        ws.insert_rows(1)
        ws["A1"] = "罗源县2026年10月示范点组织生活情况"
        ws.merge_cells("A1:G1")
        ws.move_range("A2:A12", cols=9)  # 日期 column moved to the far right
        ws["H2"] = "联系人电话"
        ws["H3"] = "13800000000"
    result = validate(edit(form, change))
    assert result.accepted, [p.message for p in result.problems.errors]
    frame = result.frames["org_life"]
    assert len(frame) == 10 and list(frame["row"])[0] == 3
    assert all(isinstance(d, dt.date) for d in frame["date"])
    found = codes_at(result)
    assert ("header-offset", "组织生活", None) in found
    assert ("extra-column", "组织生活", "H2") in found


def test_renamed_sheet_and_blank_rows(form):
    def change(wb):
        wb["党员队伍"].title = " 党员队伍 "
        ws = wb["联系指导记录"]
        ws.insert_rows(5, 2)  # two empty rows between records
        ws["B20"] = "   "  # a row that only holds spaces
    result = validate(edit(form, change))
    assert result.accepted, [p.message for p in result.problems.errors]
    assert len(result.frames["contacts"]) == 8
    found = {(p.code, p.sheet) for p in result.problems}
    assert ("renamed-sheet", "党员队伍") in found and ("empty-sheet-rows", "联系指导记录") in found
    blank = next(p for p in result.problems if p.code == "empty-sheet-rows")
    assert "3" in blank.message


def test_every_problem_type_reads_in_chinese():
    for ptype in PROBLEM_TYPES.values():
        assert CJK.search(ptype.title) and CJK.search(ptype.template), ptype.code


# --- the command line ----------------------------------------------------------------------

def _cli(*args, cwd):
    """Run the real click command in-process (a subprocess per call would re-import pandas)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.delenv("PROCESSOR_WORKSPACE", raising=False)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_template_then_validate_blank_form_is_rejected(tmp_path):
    assert _cli("init", str(tmp_path / "ws"), "--start-month", "2026-01", cwd=tmp_path).exit_code == 0
    ws = tmp_path / "ws"
    made = _cli("template", "--unit", UNIT, "--month", MONTH, "-o", "f.xlsx", cwd=ws)
    assert made.exit_code == 0, made.output
    checked = _cli("validate", "f.xlsx", cwd=ws)
    assert checked.exit_code == 1
    assert "基本信息!B5" in checked.output and "退回" in checked.output
    as_json = json.loads(_cli("validate", "f.xlsx", "--json", cwd=ws).output)
    assert as_json["accepted"] is False and as_json["unit"] == UNIT
    assert {"required-cell", "no-sites"} <= {p["code"] for p in as_json["problems"]}


def test_cli_validate_accepts_filled_form_and_init_refuses_overwrite(tmp_path):
    assert _cli("init", "ws", "--start-month", "2026-01", cwd=tmp_path).exit_code == 0
    ws = tmp_path / "ws"
    assert (ws / "roster.xlsx").exists() and (ws / "inbox").is_dir() and (ws / "outbox").is_dir()
    again = _cli("init", "ws", cwd=tmp_path)
    assert again.exit_code == 2 and "已存在" in again.output
    form = filled_form(ws / "月报表.xlsx")
    checked = _cli("validate", str(form), cwd=ws)
    assert checked.exit_code == 0 and "通过" in checked.output


def test_a_form_of_the_previous_template_version_is_read_with_its_old_titles_and_a_warning(form):
    expected = validate(form).frames["members"].to_dict("records")
    old_titles = {"本月发展党员中：一线工人": "其中一线工人", "本月发展党员中：知识分子/技术骨干": "其中知识分子/技术骨干",
                  "流动党员中：已转出或纳入社区管理": "其中已转出或纳入社区管理"}

    def make_it_2026_1(wb):
        for cell in wb["党员队伍"][1]:
            cell.value = old_titles.get(cell.value, cell.value)
        wb["模板信息"]["B2"], wb["模板信息"]["B3"] = "2026.1", "0b8acf24fe2d0de9"
    result = validate(edit(form, make_it_2026_1))
    assert result.accepted, [p.message for p in result.problems]
    assert result.frames["members"].to_dict("records") == expected
    [warning] = result.problems.items
    assert warning.code == "previous-template" and warning.message.startswith("本表使用旧版模板（版本 2026.1）")
    assert "“其中一线工人”按“本月发展党员中：一线工人”读取" in warning.message


@pytest.mark.slow
@pytest.mark.platform
@pytest.mark.skipif(not __import__("processor.intake.sandbox", fromlist=["x"]).can_cap_memory(),
                    reason="本系统不能限制进程内存（Windows）：只有处理时限起作用")
def test_a_sheet_pandera_must_check_is_checked_under_a_small_memory_budget(workspace, tmp_path):
    """The validation process loads pandas and pandera only for the first sheet the plain checks
    cannot pass; under the smallest memory budget that load is not taken for the file's own use:
    the form is told its real problem (not 内存不足), and the next valid form is still accepted."""
    import dataclasses

    from form_helpers import edit

    from processor.common.config import IntakeSettings
    from processor.intake.sandbox import Sandbox
    from processor.validate.roster import workspace_roster
    from processor.validate.samples import fill_form

    roster = workspace_roster(workspace)

    def form(name):
        return fill_form(tmp_path / name, roster=roster, rulebook=workspace.rulebook, unit=roster.units[0].name,
                         month="2026-10")

    def negative_total(wb):
        wb["党员队伍"]["B2"] = -3

    bad = edit(form("负数.xlsx"), negative_total)
    box = Sandbox(roster, workspace.rulebook, dataclasses.replace(IntakeSettings(), memory_mb=64))
    try:
        assert box.validate(form("先.xlsx")).accepted
        result = box.validate(bad)
        found = {(p.code, p.cell): p.message for p in result.problems.errors}
        assert "应不小于 0" in found[("out-of-range", "B2")], found
        assert "too-large" not in {code for code, _ in found}
        assert box.validate(form("后.xlsx")).accepted
    finally:
        box.close()
