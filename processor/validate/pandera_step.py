"""Step 4 of a validation: each sheet's records checked by its pandera model (the source of truth for
the form's columns and checks), with a plain-Python proof that skips pandera for a sheet it passes.

``tests/test_fast_paths.py`` checks the proof against pandera itself on random mutations of a form:
wherever the proof says "valid", pandera finds nothing either.  The proof reads the columns' checks as
plain data (:func:`processor.schemas.layout.form_rules`), so pandas and pandera load only when a sheet
needs them: the first time one fails the proof in a process.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from processor.validate.errors import Problem
from processor.validate.sheets import Context, SheetRead
from processor.schemas import vocabulary as kinds
from processor.schemas.layout import form_rules

if TYPE_CHECKING:
    import pandas as pd

# Called around the first import of pandas and pandera in a process, with a function doing it: the
# validation sandbox sets it to lift its memory cap for the import (the libraries are ours, not the file's).
library_import_guard: Callable[[Callable[[], None]], None] = lambda load: load()  # noqa: E731


_LOADED = False


def _libraries():
    """pandas and pandera.errors, imported on first use (under :data:`library_import_guard`)."""
    global _LOADED
    if not _LOADED:
        def load() -> None:
            import pandas  # noqa: F401
            import pandera.errors  # noqa: F401

            from processor.schemas.form import FORM_SHEETS
            for spec in FORM_SHEETS:
                spec.schema  # noqa: B018 — built here, inside the guard
        library_import_guard(load)
        _LOADED = True
    import pandas as pd
    import pandera.errors as pa_errors

    return pd, pa_errors


def _pandera_frame(sheet: SheetRead) -> pd.DataFrame:
    pd, _ = _libraries()
    index = [r["row"] for r in sheet.records]
    columns = {}
    for f in sheet.spec.fields:
        values = [r[f.name] for r in sheet.records]
        if f.kind == kinds.DATE:
            columns[f.title] = pd.Series(pd.to_datetime(values), index=index, dtype="datetime64[ns]")
        elif f.kind == kinds.INT:
            columns[f.title] = pd.Series(values, index=index, dtype="Int64")
        elif f.kind == kinds.FLOAT:
            columns[f.title] = pd.Series([float("nan") if v is None else v for v in values], index=index,
                                         dtype="float64")
        else:
            columns[f.title] = pd.Series(values, index=index, dtype=object)
    return pd.DataFrame(columns, index=index)


def run_pandera(ctx: Context, sheet: SheetRead) -> None:
    """Problems of the sheet's cells that its pandera model finds, added to ``ctx``."""
    if not sheet.records or _plainly_valid(sheet):
        return
    pd, pa_errors = _libraries()
    try:
        sheet.spec.schema.validate(_pandera_frame(sheet), lazy=True)
    except pa_errors.SchemaErrors as exc:
        for case in exc.failure_cases.to_dict("records"):
            item = _failure_problem(sheet, case)
            if item is not None:
                ctx.problems.add(item)


# Pandera's per-column machinery costs ~20 ms a sheet even when every cell is fine, and nearly
# every submitted sheet is fine.  The same schema's checks, run over the few records in plain
# Python, prove that; anything they cannot prove (a failing cell, a check or column option not
# understood here, a value pandas could not hold) goes to pandera, which reports exactly as before.
_RANGE_CHECKS = {
    "greater_than_or_equal_to": lambda v, s: v >= s["min_value"],
    "less_than_or_equal_to": lambda v, s: v <= s["max_value"],
    "greater_than": lambda v, s: v > s["min_value"],
    "less_than": lambda v, s: v < s["max_value"],
}
_NS_DATES = (dt.date(1678, 1, 2), dt.date(2262, 4, 10))  # what datetime64[ns] can hold
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _plainly_valid(sheet: SheetRead) -> bool:
    """True only when pandera is certain to pass this sheet (see the note above)."""
    plan = _column_plans(sheet.spec.key)
    if plan is None:
        return False
    for name, kind, nullable, tests in plan:
        for record in sheet.records:
            value = record[name]
            # only what pandera takes as null in every column kind: a NaT or pd.NA in a number
            # column makes pandera raise, so it goes to pandera (not is_missing)
            if value is None or (isinstance(value, float) and value != value):
                if nullable:
                    continue
                return False
            if not _kind_ok(kind, value) or not all(test(value) for test in tests):
                return False
    return True


def _kind_ok(kind: str, value) -> bool:
    if kind == kinds.DATE:
        return type(value) is dt.date and _NS_DATES[0] <= value <= _NS_DATES[1]
    if kind == kinds.INT:
        return type(value) is int and _INT64[0] <= value <= _INT64[1]
    if kind == kinds.FLOAT:
        return type(value) in (float, int) and value not in (float("inf"), float("-inf"))
    return type(value) is str


_PLANS: dict[str, list | None] = {}


def _column_plans(key: str) -> list | None:
    """Per field: (name, kind, nullable, value tests) built once from the sheet's checks as plain data."""
    if key not in _PLANS:
        _PLANS[key] = _build_plan(key)
    return _PLANS[key]


def _build_plan(key: str) -> list | None:
    rules = form_rules()["sheets"].get(key)
    if rules is None or rules["checks"] is None:
        return None
    from processor.schemas.layout import LAYOUT_BY_KEY

    spec = LAYOUT_BY_KEY[key]
    if len(rules["checks"]) != len(spec.fields):
        return None
    plan = []
    for f, (kind, nullable, dtype, checks) in zip(spec.fields, rules["checks"], strict=True):
        expected_dtype = {kinds.INT: "Int64", kinds.FLOAT: "float64", kinds.DATE: "datetime64[ns]"}.get(f.kind)
        if kind != f.kind or dtype != (expected_dtype or dtype) or (expected_dtype is None and "str" not in dtype):
            return None
        tests = []
        for name, stats in checks:
            test = _value_test(name, dict(stats))
            if test is None:
                return None
            tests.append(test)
        plan.append((f.name, f.kind, bool(nullable), tests))
    return plan


def _value_test(name: str, stats: dict):
    if name == "isin":
        allowed = frozenset(stats["allowed_values"])
        return lambda v: v in allowed
    if name == "str_matches":
        pattern = re.compile(stats["pattern"])
        return lambda v: pattern.match(v) is not None
    if name == "str_length":
        low, high, exact = stats.get("min_value"), stats.get("max_value"), stats.get("exact_value")
        return lambda v: ((low is None or len(v) >= low) and (high is None or len(v) <= high)
                          and (exact is None or len(v) == exact))
    if name in _RANGE_CHECKS:
        compare = _RANGE_CHECKS[name]
        return lambda v: compare(v, stats)
    return None


def _failure_problem(sheet: SheetRead, case: dict) -> Problem | None:
    pd, _ = _libraries()
    title, check, index = case.get("column"), str(case.get("check")), case.get("index")
    if title not in sheet.spec.names or index is None or pd.isna(index):
        return None
    f = sheet.spec.field_by_title(title)
    row = int(index)
    if (f.name, row) in sheet.bad_cells:
        return None
    if f.name not in sheet.columns and f.name not in sheet.form_rows:
        return None  # the whole column is missing: reported once as missing-column
    value = next((r[f.name] for r in sheet.records if r["row"] == row), case.get("failure_case"))
    if check == "not_nullable":
        return sheet.at("required-cell", f.name, row)
    if check.startswith("isin"):
        return sheet.at("not-in-list", f.name, row, value, allowed="、".join(f.options or []))
    if check.startswith("str_matches"):
        code = "bad-month" if f.kind == kinds.MONTH else "type-error"
        return sheet.at(code, f.name, row, value, expected=_kind_description(f.kind))
    rule = _range_rule(check)
    if rule:
        return sheet.at("out-of-range", f.name, row, value, rule=rule)
    return sheet.at("type-error", f.name, row, value, expected=_kind_description(f.kind))


def _range_rule(check: str) -> str | None:
    """``greater_than_or_equal_to(0)`` → ``应不小于 0`` (what the clerk reads)."""
    arg = check[check.find("(") + 1:check.rfind(")")] if "(" in check else ""
    arg = arg[:-2] if arg.endswith(".0") else arg
    if check.startswith("greater_than_or_equal_to"):
        return f"应不小于 {arg}"
    if check.startswith("less_than_or_equal_to"):
        return f"应不大于 {arg}"
    if check.startswith("greater_than"):
        return f"应大于 {arg}"
    if check.startswith("less_than"):
        return f"应小于 {arg}"
    if check.startswith("str_length"):
        return f"不能超过 {arg.split(',')[-1].strip()} 个字"
    return None


def _kind_description(kind: str) -> str:
    return form_rules()["kind_descriptions"][kind]
