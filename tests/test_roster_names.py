"""Roster unit names are compared the way the checks across units compare names: two names that
differ only in spaces (full-width ones too), character width or punctuation are one name, refused
at load instead of splitting a unit's data in two."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from processor.validate.roster import RosterError, load_roster, sample_roster, write_roster


def _roster_with_another_unit(tmp_path, name: str):
    """The sample roster and one more unit row (a clerk adding 榕城区 again, typed differently)."""
    path = write_roster(sample_roster(), tmp_path / "roster.xlsx")
    wb = load_workbook(path)
    units = wb["单位"]
    units.append(["350199", name, "县市区", "陈建华", "0591-83301234", "dj350199@example.gov.cn"])
    wb.save(path)
    return path


@pytest.mark.parametrize("twin", ["榕城 区", "榕城\u3000区", "榕城区。", "（榕城区）"])
def test_a_unit_name_that_differs_only_in_spaces_width_or_punctuation_is_refused(tmp_path, twin):
    first = load_workbook(write_roster(sample_roster(), tmp_path / "probe.xlsx"))["单位"]["B2"].value
    assert first == "榕城区"
    path = _roster_with_another_unit(tmp_path, twin)
    with pytest.raises(RosterError) as info:
        load_roster(path)
    message = str(info.value)
    assert "“榕城区”" in message and "同一个" in message


def test_the_same_name_twice_is_still_called_a_duplicate(tmp_path):
    with pytest.raises(RosterError, match="名册中单位名称“榕城区”重复"):
        load_roster(_roster_with_another_unit(tmp_path, "榕城区"))


def test_names_that_really_differ_load(tmp_path):
    names = load_roster(write_roster(sample_roster(), tmp_path / "roster.xlsx")).unit_names
    assert len(names) == len(set(names)) > 1
