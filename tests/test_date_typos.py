"""A typo year in a date cell (2926 for 2026) is one error at that cell, not a file that cannot be read."""

from __future__ import annotations

import datetime as dt

import pytest

from form_helpers import filled_form, set_cells, validate
from processor.validate.errors import PROBLEM_TYPES


@pytest.mark.parametrize("sheet, cell, typed", [
    ("联系指导记录", "A2", dt.datetime(2926, 12, 30)),   # a date cell, as Excel stores it
    ("联系指导记录", "A3", "2926-12-30"),                # typed as text
    ("组织生活", "A2", dt.datetime(2926, 10, 8)),
    ("基本信息", "B8", dt.datetime(2926, 11, 1)),        # 填报日期
    ("示范点", "L2", "1026-09-05"),                      # 确定联系日期, a year too early (typed: Excel has no such date)
])
def test_a_typo_year_is_one_cell_error(tmp_path, sheet, cell, typed):
    path = set_cells(filled_form(tmp_path / "月报表.xlsx"), sheet, {cell: typed})
    result = validate(path)
    assert not result.accepted
    [error] = result.problems.errors
    assert (error.code, error.sheet, error.cell) == ("date-out-of-range", sheet, cell)
    year = (typed if isinstance(typed, str) else typed.isoformat())[:4]
    assert f"{sheet}!{cell}" in error.message and year in error.message
    assert "无法打开" not in error.message


def test_the_code_is_declared_with_a_chinese_title():
    declared = PROBLEM_TYPES["date-out-of-range"]
    assert declared.title == "日期年份有误" and "{cell}" in declared.template and "{value}" in declared.template
