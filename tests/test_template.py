"""The generated monthly form: sheets, headers, dropdowns, prompts, formats, hidden version, pre-fill."""

from __future__ import annotations

from form_helpers import ROSTER, RULEBOOK
from openpyxl import load_workbook

from processor.samples import form_rows, site_rows
from processor.template import DATA_ROWS, write_template
from schemas.form import FORM_SHEETS, INSTRUCTIONS_TITLE, META_SHEET_TITLE, TEMPLATE_VERSION, models_hash


def _validations(ws):
    return {str(rng): dv for dv in ws.data_validations.dataValidation for rng in dv.sqref.ranges}


def test_sheets_and_headers_come_from_the_models(tmp_path):
    wb = load_workbook(write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK))
    assert wb.sheetnames == [INSTRUCTIONS_TITLE, *(s.title for s in FORM_SHEETS), META_SHEET_TITLE]
    for spec in FORM_SHEETS:
        ws = wb[spec.title]
        assert ws.freeze_panes == "A2" and ws["A1"].font.b
        if spec.layout == "form":
            assert [ws.cell(r, 1).value for r in range(2, len(spec.fields) + 2)] == spec.titles
        else:
            assert [c.value for c in ws[1]] == spec.titles
            assert ws.column_dimensions["A"].width == spec.fields[0].width + 2


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
