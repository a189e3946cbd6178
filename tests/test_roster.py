"""The roster workbook: sample data, round trip, and clear errors for a broken file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from form_helpers import filled_form
from openpyxl import load_workbook

from processor.cli import main
from processor.common.config import load_workspace
from processor.validate.roster import RosterError, load_roster, sample_roster, workspace_roster, write_roster
from processor.schemas.roster import ROSTER_SHEETS


def test_sample_roster_is_a_realistic_city():
    roster = sample_roster()
    kinds = [u.kind for u in roster.units]
    assert 10 <= len(roster.units) <= 14 and kinds.count("系统党委") >= 3
    assert 18 <= len(roster.staff) <= 22 and 4 <= len(roster.groups) <= 5
    assert all(1 <= len(units) <= 4 for units in roster.groups.values())
    assert all(roster.group_of_unit(u) for u in roster.unit_names)  # every unit is liaised with
    group = roster.group_of_unit("罗源县")
    assert {s.group for s in roster.staff_of_group(group)} == {group}


def test_round_trip_through_the_workbook(tmp_path):
    path = write_roster(sample_roster(), tmp_path / "roster.xlsx")
    assert load_roster(path) == sample_roster()
    wb = load_workbook(path)
    assert wb.sheetnames == [s.title for s in ROSTER_SHEETS]
    units = wb["单位"]
    assert [c.value for c in units[1]] == ROSTER_SHEETS[0].titles
    assert units.freeze_panes == "A2" and units["A1"].font.b
    assert any("县市区" in dv.formula1 for dv in units.data_validations.dataValidation)


def test_lookup_tolerates_spaces_and_full_width():
    roster = sample_roster()
    assert roster.unit(" 罗源县 ").name == "罗源县"
    assert roster.unit("不存在县") is None


def _broken(tmp_path, sheet, cell, value):
    path = write_roster(sample_roster(), tmp_path / "roster.xlsx")
    wb = load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)
    return path


@pytest.mark.parametrize("sheet, cell, value, words", [
    ("单位", "C3", "乡镇", ["单位", "C3", "单位类型"]),
    ("单位", "B4", None, ["单位", "B4", "不能为空"]),
    ("分片联系", "B2", "长乐县", ["分片联系", "B2", "长乐县"]),
    ("企业组人员", "A3", "陈立新", ["陈立新", "重复"]),
])
def test_broken_roster_names_sheet_and_cell(tmp_path, sheet, cell, value, words):
    with pytest.raises(RosterError) as info:
        load_roster(_broken(tmp_path, sheet, cell, value))
    for word in words:
        assert word in str(info.value)


def _break_roster(path, how: str) -> None:
    if how == "missing":
        path.unlink()
    elif how == "empty file":
        path.write_bytes(b"")
    elif how == "no units":
        wb = load_workbook(path)
        wb["单位"].delete_rows(2, wb["单位"].max_row)
        wb["分片联系"].delete_rows(2, wb["分片联系"].max_row)
        wb.save(path)
    elif how == "unreadable":  # a folder where the file should be: reading it fails even for root
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize("how", ["missing", "empty file", "no units", "unreadable"])
def test_without_a_usable_roster_process_stops_and_leaves_the_inbox_alone(workspace, how):
    with pytest.raises(RosterError, match="不存在"):
        load_roster(workspace.root / "none.xlsx")
    _break_roster(workspace.roster_path, how)
    workspace.archive.rmdir()  # made by the fixture; the refused command must not make it again
    form = filled_form(workspace.inbox / "罗源县月报表.xlsx")
    before, ledger = form.read_bytes(), workspace.ledger_path.read_bytes()
    result = CliRunner().invoke(main, ["-w", str(workspace.root), "process"])
    message = result.output.replace("\n", "")
    assert result.exit_code == 2, result.output
    assert str(workspace.roster_path) in message and "名册" in message and "备份" in message
    assert form.read_bytes() == before, "the inbox is untouched"
    assert workspace.ledger_path.read_bytes() == ledger and not workspace.archive.exists()
    assert not list(workspace.receipts_dir.rglob("*.html"))
    with pytest.raises(RosterError):
        workspace_roster(load_workspace(workspace.root))


# --- the roster remembered in the workspace once checked --------------------------------------------

def _with_remembered_parts(tmp_path):
    roster = sample_roster()
    units = [roster.units[0].__class__(**{**roster.units[0].__dict__, "former_names": ("榕城县", "老榕城")}),
             *roster.units[1:]]
    staff = [roster.staff[0].__class__(**{**roster.staff[0].__dict__, "email": "不是地址"}), *roster.staff[1:]]
    return write_roster(type(roster)(units, staff, roster.groups), tmp_path / "roster.xlsx")


def test_a_remembered_roster_equals_the_checked_one_warnings_included(tmp_path, caplog):
    path = _with_remembered_parts(tmp_path)
    cache = tmp_path / ".processor-roster.json"
    checked = load_roster(path)
    assert checked.warnings and checked.aliases == {"榕城县": "榕城区", "老榕城": "榕城区"}
    assert load_roster(path, cache=cache) == checked and cache.exists()
    caplog.clear()
    again = load_roster(path, cache=cache)
    assert again == checked and again.warnings == checked.warnings
    assert again.units[0].former_names == ("榕城县", "老榕城")
    assert [r.getMessage() for r in caplog.records] == checked.warnings  # logged as a full load logs them


def test_a_remembered_roster_is_not_used_for_other_bytes_or_a_damaged_record(tmp_path, monkeypatch):
    path = write_roster(sample_roster(), tmp_path / "roster.xlsx")
    cache = tmp_path / ".processor-roster.json"
    load_roster(path, cache=cache)
    wb = load_workbook(path)
    wb["单位"]["C3"] = "乡镇"
    wb.save(path)
    with pytest.raises(RosterError, match="C3"):
        load_roster(path, cache=cache)
    write_roster(sample_roster(), path)
    cache.write_text("{not json", encoding="utf-8")
    assert load_roster(path, cache=cache) == sample_roster()
    # the code that checks the roster changed (a new column, a new rule): the record is not trusted
    import processor.validate.roster as roster_module

    class CheckedAgain(Exception):
        pass

    def check_again(_path):
        raise CheckedAgain

    monkeypatch.setattr(roster_module, "_load_roster", check_again)
    assert load_roster(path, cache=cache) == sample_roster()  # same bytes, same code: remembered
    monkeypatch.setattr(roster_module, "_ROSTER_SOURCES", (*roster_module._ROSTER_SOURCES, tmp_path / "roster.xlsx"))
    with pytest.raises(CheckedAgain):
        load_roster(path, cache=cache)
