"""The generated monthly form: sheets, headers, dropdowns, prompts, formats, hidden version, pre-fill."""

from __future__ import annotations

import re
import subprocess

import pytest
from form_helpers import (ROSTER, RULEBOOK, edit, filled_form, soffice_available, soffice_convert, soffice_convert_all,
                          validate)
from openpyxl import load_workbook

from processor.validate.samples import fill_form, form_rows, site_rows
from processor.validate.template import DATA_ROWS, SITE_LIST_NAME, write_template
from processor.schemas.form import (EXAMPLE_SHEET_TITLE, FORM_SHEETS, INSTRUCTIONS_TITLE, META_SHEET_TITLE, TEMPLATE_VERSION,
                          models_hash)


def pdf_pages(pdf) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def _validations(ws):
    return {str(rng): dv for dv in ws.data_validations.dataValidation for rng in dv.sqref.ranges}


def test_sheets_and_headers_come_from_the_models(tmp_path):
    wb = load_workbook(write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK))
    assert wb.sheetnames == [INSTRUCTIONS_TITLE, *(s.title for s in FORM_SHEETS), EXAMPLE_SHEET_TITLE,
                             META_SHEET_TITLE]
    for spec in FORM_SHEETS:
        ws = wb[spec.title]
        assert ws.freeze_panes == "A2" and ws["A1"].font.b
        if spec.layout == "form":
            assert [ws.cell(r, 1).value for r in range(2, len(spec.fields) + 2)] == spec.titles
        else:
            assert [c.value for c in ws[1]] == spec.titles
            # the width the model gives (+2), as Excel shows it (the file stores it with the cell padding)
            assert abs(ws.column_dimensions["A"].width - (spec.fields[0].width + 2)) < 1


def test_dropdowns_prompts_and_formats(tmp_path):
    wb = load_workbook(write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK))
    contacts = wb["联系指导记录"]
    dvs = _validations(contacts)
    mode = dvs[f"D2:D{DATA_ROWS + 1}"]
    assert mode.type == "list" and mode.formula1 == '"电话联系,现场指导,座谈会,其他"'
    staff = dvs[f"C2:C{DATA_ROWS + 1}"]
    assert staff.formula1.startswith(f"'{META_SHEET_TITLE}'!$E$2")
    meta = wb[META_SHEET_TITLE]
    listed = [meta.cell(r, 5).value for r in range(2, len(ROSTER.staff) + 2)]
    assert listed == ROSTER.staff_names
    assert dvs[f"A2:A{DATA_ROWS + 1}"].prompt and contacts.column_dimensions["A"].number_format == "yyyy-mm-dd"
    assert _validations(wb["组织生活"])[f"E2:E{DATA_ROWS + 1}"].type == "whole"
    basic = wb["基本信息"]
    unit = _validations(basic)["B2"]
    assert unit.formula1.startswith(f"'{META_SHEET_TITLE}'!$D$2")
    assert basic["C4"].value.startswith("（必填）") and basic["B4"].number_format == "@"


def test_hidden_sheet_carries_version_and_hash(tmp_path):
    wb = load_workbook(write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK))
    meta = wb[META_SHEET_TITLE]
    assert meta.sheet_state == "hidden"
    assert meta["B2"].value == TEMPLATE_VERSION and meta["B3"].value == models_hash()


def test_instructions_come_from_the_rulebook(tmp_path):
    wb = load_workbook(write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK, month="2026-10"))
    text = "\n".join(str(c.value) for c in wb[INSTRUCTIONS_TITLE]["A"] if c.value)
    assert "2026年11月05日" in text
    for clause in ("G-1", "M-1b", "S-4b", "N-5"):
        assert f"【{clause}】{RULEBOOK[clause].title}" in text
    for spec in FORM_SHEETS:
        assert f"{spec.title}：{spec.description}" in text


def test_prefilled_for_a_unit_with_its_previous_sites(tmp_path):
    previous = site_rows(ROSTER, "罗源县", seed=1, month="2026-09")
    path = write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK, unit="罗源县", month="2026-10",
                          previous=previous)
    wb = load_workbook(path)
    assert [wb["基本信息"][f"B{r}"].value for r in (2, 3, 4)] == ["罗源县", "县市区", "2026-10"]
    names = [s["site"] for s in previous]
    assert [wb["示范点"][f"A{r}"].value for r in (2, 3)] == names
    assert wb["示范点"]["C2"].value == previous[0]["enterprise_kind"]
    for title in ("硬件设施", "党员队伍", "工作进展"):
        assert [wb[title][f"A{r}"].value for r in (2, 3)] == names
        assert wb[title]["B2"].value is None
    assert wb["联系指导记录"]["A2"].value is None


def test_sample_rows_are_deterministic_and_inside_the_month():
    one = form_rows(roster=ROSTER, rulebook=RULEBOOK, unit="闽清县", month="2026-11", seed=4)
    assert one == form_rows(roster=ROSTER, rulebook=RULEBOOK, unit="闽清县", month="2026-11", seed=4)
    assert one != form_rows(roster=ROSTER, rulebook=RULEBOOK, unit="闽清县", month="2026-11", seed=5)
    assert all(r["date"].strftime("%Y-%m") == "2026-11" for r in one["contacts"] + one["org_life"])
    group = ROSTER.group_of_unit("闽清县")
    assert {r["staff"] for r in one["contacts"]} <= {s.name for s in ROSTER.staff_of_group(group)}
    assert {s["enterprise_kind"] for s in one["sites"]} == {"国企", "非公"}


# --- a form a clerk gets right the first time ------------------------------------------

def _prompts(ws):
    return {c.value: _validations(ws)[f"{c.column_letter}2:{c.column_letter}{DATA_ROWS + 1}"].prompt for c in ws[1]}


def test_members_parts_say_what_they_are_part_of_in_title_and_prompt(tmp_path):
    ws = load_workbook(write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK))["党员队伍"]
    prompts = _prompts(ws)
    for part, whole in [("本月发展党员中：一线工人", "本月发展党员"), ("本月发展党员中：知识分子/技术骨干", "本月发展党员"),
                        ("流动党员中：已转出或纳入社区管理", "流动党员"), ("本月发展党员", "党员总数")]:
        assert f"不能超过“{whole}”" in prompts[part], part
    assert not [title for title in prompts if title.startswith("其中")], "no title leaves its whole unsaid"


def test_site_names_are_a_dropdown_of_the_sites_sheet_in_every_detail_sheet(tmp_path):
    wb = load_workbook(write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK))
    detail = [s for s in FORM_SHEETS if s.key != "sites" and "site" in s.names.values()]
    assert {s.title for s in detail} == {"联系指导记录", "组织生活", "硬件设施", "党员队伍", "工作进展"}
    for spec in detail:
        col = next(c.column_letter for c in wb[spec.title][1] if c.value == "示范点名称")
        dv = _validations(wb[spec.title])[f"{col}2:{col}{DATA_ROWS + 1}"]
        assert dv.type == "list" and dv.formula1 == SITE_LIST_NAME and dv.showErrorMessage
    names = wb.defined_names[SITE_LIST_NAME].attr_text
    assert names.startswith("OFFSET('示范点'!$A$2") and f"COUNTA('示范点'!$A$2:$A${DATA_ROWS + 1})" in names


def test_staff_dropdown_lists_only_the_units_group_when_made_for_a_unit(tmp_path):
    group = [s.name for s in ROSTER.staff_of_group(ROSTER.group_of_unit("罗源县"))]
    assert 0 < len(group) < len(ROSTER.staff)
    for unit, expected in [("罗源县", group), (None, ROSTER.staff_names)]:
        wb = load_workbook(write_template(tmp_path / f"{unit}.xlsx", roster=ROSTER, rulebook=RULEBOOK, unit=unit))
        staff = _validations(wb["联系指导记录"])[f"C2:C{DATA_ROWS + 1}"]
        last = int(staff.formula1.rsplit("$", 1)[1])
        assert [wb[META_SHEET_TITLE].cell(r, 5).value for r in range(2, last + 1)] == expected
        assert _validations(wb["示范点"])[f"K2:K{DATA_ROWS + 1}"].formula1 == staff.formula1


def test_example_sheet_is_read_only_complete_and_ignored_by_validation(tmp_path):
    path = fill_form(tmp_path / "月报表.xlsx", roster=ROSTER, rulebook=RULEBOOK, unit="罗源县", month="2026-10")
    ws = load_workbook(path)[EXAMPLE_SHEET_TITLE]
    assert ws.protection.sheet
    shown, sheet = [], None
    for title, column, value, _ in ws.iter_rows(min_row=3, values_only=True):
        sheet = title or sheet  # the sheet title is merged over its block
        shown.append((sheet, column))
        field = next(s for s in FORM_SHEETS if s.title == sheet).field_by_title(column)
        assert value is not None and (value != "（不填）" or not field.required), column
    assert shown == [(s.title, f.title) for s in FORM_SHEETS for f in s.fields]
    result = validate(path)
    assert result.accepted and not result.problems.items
    assert all(EXAMPLE_SHEET_TITLE not in (p.sheet or "") + p.message for p in result.problems)
    assert len(result.frames["contacts"]) == 8 and len(result.frames["sites"]) == 2


def test_every_sheet_prints_landscape_one_page_wide_with_its_header_repeated(tmp_path):
    wb = load_workbook(write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK))
    for ws in wb.worksheets:
        setup = ws.page_setup
        fit_width = 1 if setup.fitToWidth is None else setup.fitToWidth  # absent: the format's default, 1
        assert (setup.orientation, fit_width, setup.fitToHeight) == ("landscape", 1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
    for spec in FORM_SHEETS:
        assert wb[spec.title].print_title_rows.replace("$", "") == "1:1"
    assert wb[EXAMPLE_SHEET_TITLE].print_title_rows.replace("$", "") == "1:2"
    instructions = wb[INSTRUCTIONS_TITLE]
    long_lines = [c for c in instructions["A"] if c.value and len(c.value) > 60]
    assert long_lines and all(c.alignment.wrap_text and instructions.row_dimensions[c.row].height for c in long_lines)


@pytest.mark.slow
@pytest.mark.skipif(not soffice_available(), reason="LibreOffice (soffice) is not installed")
def test_libreoffice_keeps_the_site_dropdown_and_it_grows_with_the_sites_sheet(tmp_path):
    path = filled_form(tmp_path / "月报表.xlsx")
    probe = tmp_path / "probe.xlsx"

    def add_site_and_probe(wb):
        wb["示范点"]["A4"] = "新增示范点"
        ws = wb.create_sheet("probe")
        ws["A1"], ws["B1"] = f"=ROWS({SITE_LIST_NAME})", f"=INDEX({SITE_LIST_NAME},ROWS({SITE_LIST_NAME}))"
    edit(path, add_site_and_probe).rename(probe)
    saved = load_workbook(soffice_convert(probe, "xlsx", tmp_path / "lo"))
    dv = _validations(saved["党员队伍"])[f"A2:A{DATA_ROWS + 1}"]
    assert dv.type == "list" and dv.formula1 == SITE_LIST_NAME
    assert "OFFSET" in saved.defined_names[SITE_LIST_NAME].attr_text
    values = load_workbook(tmp_path / "lo" / "probe.xlsx", data_only=True)["probe"]
    assert (values["A1"].value, values["B1"].value) == (3, "新增示范点")


@pytest.mark.slow
@pytest.mark.skipif(not soffice_available(), reason="LibreOffice (soffice) is not installed")
def test_blank_template_prints_one_page_per_short_sheet(tmp_path):
    path = write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK)
    wb = load_workbook(path)
    short = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible" and ws.max_row <= 20]
    assert len(short) == len(FORM_SHEETS)
    singles = []
    for k, title in enumerate(short):  # one sheet a workbook: the others hidden (LibreOffice prints visible sheets only)
        single = load_workbook(path)
        for ws in single.worksheets:
            ws.sheet_state = "visible" if ws.title == title else "hidden"
        single.active = single.sheetnames.index(title)
        single.save(tmp_path / f"one-{k}.xlsx")
        singles.append(tmp_path / f"one-{k}.xlsx")
    for title, pdf in zip(short, soffice_convert_all(singles, "pdf", tmp_path / "pdf"), strict=True):
        assert pdf_pages(pdf) == 1, title
