"""Validation of one submitted monthly form: file checks, normalisation, pandera, business checks.

``validate_file`` never raises on bad input.  It returns a
:class:`ValidationResult` holding every problem found (errors reject the file,
warnings only inform) and the typed rows of every sheet.

The steps:
1. :mod:`processor.validate.readers` sniffs the file and reads cell values safely;
2. each sheet is located (tolerating renamed/full-width titles), its header row
   found (tolerating a title row above it, reordered and extra columns);
3. every cell is normalised by its field's kind (:mod:`processor.validate.normalize`);
4. each sheet's DataFrame (index = Excel row) is validated by its pandera model
   with ``lazy=True`` and the failure cases are mapped to cell problems;
5. the small cross-sheet checks in :data:`CHECKS` run on the typed records.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterable

import pandas as pd
import pandera.errors as pa_errors
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter

from processor.common.config import IntakeSettings
from processor.validate.errors import Problem, ProblemList, display_value, problem
from processor.validate.normalize import is_blank, normalize_value, title_key
from processor.common.periods import add_months, first_day, last_day, parse_month
from processor.validate.readers import FORMAT_NAMES, FileRejected, RawSheet, RawWorkbook, read_workbook
from processor.validate.roster import Roster
from processor.common.rulebook import Rulebook
from processor.common.values import problem_key
from processor.schemas import fields as kinds
from processor.schemas.form import (FORM_SHEETS, META_SHEET_TITLE, PREVIOUS_TEMPLATES, SHEETS_BY_KEY, TEMPLATE_VERSION,
                          SheetSpec, models_hash)

HEADER_SCAN_ROWS = 10  # a header further down than this is not recognised
META_VERSION_KEY, META_HASH_KEY = "模板版本", "模型指纹"
SHEET_ORDER = {s.title: i for i, s in enumerate(FORM_SHEETS)}


@dataclass
class ValidationResult:
    problems: ProblemList = field(default_factory=ProblemList)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    unit: str | None = None
    unit_kind: str | None = None
    month: str | None = None
    template_version: str | None = None
    model_hash: str | None = None

    @property
    def accepted(self) -> bool:
        return not self.problems.errors

    def to_json(self) -> dict:
        return {
            "accepted": self.accepted,
            "unit": self.unit, "unit_kind": self.unit_kind, "month": self.month,
            "template_version": self.template_version, "model_hash": self.model_hash,
            "errors": len(self.problems.errors), "warnings": len(self.problems.warnings),
            "problems": [p.to_dict() for p in self.problems],
            "rows": {key: len(frame) for key, frame in self.frames.items()},
        }


@dataclass
class SheetRead:
    """One located sheet: where its columns are and its normalised records."""

    spec: SheetSpec
    name: str  # the sheet name as found in the file
    columns: dict[str, int] = field(default_factory=dict)  # field name -> 0-based column
    form_rows: dict[str, int] = field(default_factory=dict)  # form layout: field name -> Excel row
    records: list[dict] = field(default_factory=list)  # field name -> value, plus "row"
    bad_cells: set[tuple[str, int]] = field(default_factory=set)  # (field, row) already reported
    previous_titles: dict[str, str] = field(default_factory=dict)  # old title read → field name

    def cell(self, name: str, row: int) -> str | None:
        if self.spec.layout == "form":
            return f"B{self.form_rows[name]}" if name in self.form_rows else None
        col = self.columns.get(name)
        return None if col is None else f"{get_column_letter(col + 1)}{row}"

    def at(self, code: str, name: str, row: int, value=None, **params) -> Problem:
        """A problem located at field ``name`` of record ``row``."""
        f = self.spec.field_by_name(name)
        excel_row = self.form_rows.get(name, row) if self.spec.layout == "form" else row
        return problem(code, sheet=self.spec.title, cell=self.cell(name, row), row=excel_row, column=f.title,
                       value=value, **params)


@dataclass
class Context:
    roster: Roster
    rulebook: Rulebook
    expected_unit: str | None
    result: ValidationResult
    sheets: dict[str, SheetRead] = field(default_factory=dict)

    @property
    def problems(self) -> ProblemList:
        return self.result.problems

    def records(self, key: str) -> list[dict]:
        sheet = self.sheets.get(key)
        return sheet.records if sheet else []

    @property
    def site_names(self) -> list[str]:
        return [r["site"] for r in self.records("sites") if r.get("site")]


def validate_file(path: Path | str, *, roster: Roster, rulebook: Rulebook, expected_unit: str | None = None,
                  limits: IntakeSettings | None = None) -> ValidationResult:
    """Validate one submitted form (.xlsx, .xls or .ods) against the form model and the rulebook.

    ``roster``: the units and staff a form may name; ``rulebook``: the months and rules in force;
    ``expected_unit``: the unit the form must be from (its per-unit inbox folder), if known;
    ``limits``: the intake limits checked before parsing (size, ratio, rows, columns).
    Reads only; never raises for a bad file: the result's ``problems`` say what is wrong (in
    Chinese, with sheet and cell), ``accepted`` whether it can be recorded, and its normalised
    sheets (``frames``) are what the ledger stores."""
    result = ValidationResult()
    try:
        book = read_workbook(path, limits)
    except FileRejected as exc:
        result.problems.add(exc.problem)
        return result
    ctx = Context(roster, rulebook, expected_unit, result)
    try:
        _validate_book(ctx, book)
    except MemoryError:
        raise  # the memory budget is enforced by the caller (processor.intake.sandbox)
    except Exception as exc:  # noqa: BLE001 — a defect must not stop intake; the file is rejected with a reason
        result.problems.add(problem("corrupt", detail=f"工作簿内容无法解析（{type(exc).__name__}: {exc}）"))
        result.frames = {}
    return result


def _validate_book(ctx: Context, book: RawWorkbook) -> None:
    if book.format in FORMAT_NAMES:
        ctx.problems.add(problem("other-format", detected=FORMAT_NAMES[book.format]))
    meta = _read_meta(book)
    ctx.result.template_version = meta.get(META_VERSION_KEY)
    ctx.result.model_hash = meta.get(META_HASH_KEY)
    found = _locate_sheets(ctx, book)
    missing_sheets = [s.title for s in FORM_SHEETS if s.key not in found]
    for spec in FORM_SHEETS:
        if spec.key in found:
            ctx.sheets[spec.key] = _read_sheet(ctx, spec, found[spec.key])
    missing_columns = [(s.spec.title, f.title) for s in ctx.sheets.values() for f in s.spec.fields
                       if f.required and f.name not in s.columns and f.name not in s.form_rows]
    if _template_rejected(ctx, meta, missing_sheets, missing_columns):
        return
    _note_previous_template(ctx, meta)
    for key, sheet in ctx.sheets.items():
        _note_formulas(ctx, sheet, found[key], book.formulas.get(found[key].name, []))
    for title in missing_sheets:
        ctx.problems.add(problem("missing-sheet", sheet=title))
    for sheet_title, column in missing_columns:
        ctx.problems.add(problem("missing-column", sheet=sheet_title, column=column))
    for sheet in ctx.sheets.values():
        _run_pandera(ctx, sheet)
    _read_identity(ctx)
    for check in CHECKS:
        ctx.problems.extend(check(ctx))
    ctx.result.frames = {key: _frame(sheet) for key, sheet in ctx.sheets.items()}
    ctx.problems.items.sort(key=_position)


def _position(p: Problem):
    return (p.sheet is not None, SHEET_ORDER.get(p.sheet or "", -1), p.row or 0, len(p.cell or ""), p.cell or "")


# --- structure -------------------------------------------------------------------

def _read_meta(book: RawWorkbook) -> dict[str, str]:
    sheet = next((s for n, s in book.sheets.items() if title_key(n) == title_key(META_SHEET_TITLE)), None)
    if sheet is None:
        return {}
    return {str(row[0]).strip(): str(row[1]).strip() for row in sheet.rows if len(row) >= 2 and row[0]}


def _locate_sheets(ctx: Context, book: RawWorkbook) -> dict[str, RawSheet]:
    found = {}
    for spec in FORM_SHEETS:
        if spec.title in book.sheets:
            found[spec.key] = book.sheets[spec.title]
            continue
        near = next((s for n, s in book.sheets.items() if title_key(n) == title_key(spec.title)), None)
        if near is not None:
            found[spec.key] = near
            ctx.problems.add(problem("renamed-sheet", sheet=spec.title, found=near.name))
    return found


def _template_rejected(ctx: Context, meta: dict, missing_sheets: list[str], missing_columns) -> bool:
    """A foreign or outdated workbook gets one problem naming what is missing, not hundreds."""
    if not missing_sheets and not missing_columns:
        return False
    if not meta and missing_sheets:
        ctx.problems.add(problem("unknown-template", missing="、".join(missing_sheets)))
        return True
    version, fingerprint = meta.get(META_VERSION_KEY), meta.get(META_HASH_KEY)
    if meta and (version != TEMPLATE_VERSION or fingerprint != models_hash()):
        parts = []
        if missing_sheets:
            parts.append("缺少工作表" + "、".join(f"“{t}”" for t in missing_sheets))
        if missing_columns:
            parts.append("缺少列" + "、".join(f"“{s}”表的“{c}”" for s, c in missing_columns))
        found = version or "未知"
        if version == TEMPLATE_VERSION:
            found += f"（指纹 {fingerprint}）"
        ctx.problems.add(problem("template-outdated", found=found, expected=TEMPLATE_VERSION, detail="；".join(parts)))
        return True
    return False


def _note_previous_template(ctx: Context, meta: dict) -> None:
    """A form of an earlier template version is read with that version's titles, and told so."""
    version = meta.get(META_VERSION_KEY)
    renamed = [(s.spec.title, old, s.spec.field_by_name(name).title)
               for s in ctx.sheets.values() for old, name in s.previous_titles.items()]
    if version not in PREVIOUS_TEMPLATES and not renamed:
        return
    detail = "；".join(f"“{sheet}”表的“{old}”按“{new}”读取" for sheet, old, new in renamed) or "各表表头与新版相同"
    ctx.problems.add(problem("previous-template", found=version or "未知", expected=TEMPLATE_VERSION, detail=detail))


def _note_formulas(ctx: Context, sheet: SheetRead, raw: RawSheet, cells: list[str]) -> None:
    """A live formula is read as the result the spreadsheet saved with it, and the clerk is told so."""
    by_column = {col: sheet.spec.field_by_name(name).title for name, col in sheet.columns.items()}
    by_row = {row: sheet.spec.field_by_name(name).title for name, row in sheet.form_rows.items()}
    for ref in cells:
        col, row = coordinate_from_string(ref)
        col = column_index_from_string(col) - 1
        cells_row = raw.rows[row - 1] if row <= len(raw.rows) else []
        value = cells_row[col] if col < len(cells_row) else None
        title = by_row.get(row) if sheet.spec.layout == "form" and col == 1 else by_column.get(col)
        result = "（空，未保存计算结果）" if is_blank(value) else f"“{display_value(_whole(value))}”"
        ctx.problems.add(problem("formula-ignored", sheet=sheet.spec.title, cell=ref, row=row, column=title,
                                 value=value, result=result))


def _whole(value):
    """12.0 as 12: how a spreadsheet shows a whole number."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _titles(spec: SheetSpec) -> dict[str, str]:
    """Normalised column title → field name: the current titles, then those of earlier versions."""
    wanted = {title_key(title): name for title, (name, _) in spec.previous_titles.items()}
    wanted.update({title_key(f.title): f.name for f in spec.fields})
    return wanted


def _remember_title(sheet: SheetRead, title, name: str) -> None:
    if title_key(title) != title_key(sheet.spec.field_by_name(name).title):
        sheet.previous_titles[str(title).strip()] = name


def _read_sheet(ctx: Context, spec: SheetSpec, raw: RawSheet) -> SheetRead:
    sheet = SheetRead(spec, raw.name)
    if spec.layout == "form":
        rows = _read_form(ctx, sheet, raw)
    else:
        rows = _read_table(ctx, sheet, raw)
    for excel_row, values in rows:
        sheet.records.append(_normalize_record(ctx, sheet, excel_row, values))
    return sheet


def _read_form(ctx: Context, sheet: SheetRead, raw: RawSheet) -> list[tuple[int, dict]]:
    """基本信息: the field title in column A, its value in column B."""
    wanted = _titles(sheet.spec)
    values = {}
    for i, row in enumerate(raw.rows):
        name = wanted.get(title_key(row[0])) if row else None
        if name and name not in sheet.form_rows:
            sheet.form_rows[name] = i + 1
            _remember_title(sheet, row[0], name)
            values[name] = row[1] if len(row) > 1 else None
    first = min(sheet.form_rows.values(), default=2)
    return [(first, values)]


def _read_table(ctx: Context, sheet: SheetRead, raw: RawSheet) -> list[tuple[int, dict]]:
    spec = sheet.spec
    wanted = _titles(spec)
    header_index = _find_header(raw.rows, wanted)
    if header_index is None:
        return []
    header = raw.rows[header_index]
    for col, title in enumerate(header):
        name = wanted.get(title_key(title))
        if name and name not in sheet.columns:
            sheet.columns[name] = col
            _remember_title(sheet, title, name)
        elif not is_blank(title) and name is None:
            cell = f"{get_column_letter(col + 1)}{header_index + 1}"
            ctx.problems.add(problem("extra-column", sheet=spec.title, cell=cell, row=header_index + 1,
                                     column=str(title).strip()))
    if header_index > 0:
        ctx.problems.add(problem("header-offset", sheet=spec.title, row=header_index + 1))
    return _records_below(ctx, sheet, raw.rows, header_index)


def _find_header(rows: list[list], wanted: dict[str, str]) -> int | None:
    best, best_score = None, 0
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        score = len({title_key(v) for v in row if isinstance(v, str)} & wanted.keys())
        if score > best_score:
            best, best_score = i, score
    return best if best_score >= min(2, len(wanted)) else None


def _records_below(ctx: Context, sheet: SheetRead, rows: list[list], header_index: int):
    records, blank_rows, last_data = [], [], header_index
    for i in range(header_index + 1, len(rows)):
        row = rows[i]
        values = {name: (row[col] if col < len(row) else None) for name, col in sheet.columns.items()}
        if all(is_blank(v) for v in values.values()):
            if any(v != "" and v is not None for v in row):
                blank_rows.append(i)  # whitespace-only cells: a row that looks filled but is not
            else:
                blank_rows.append(-i)  # truly empty: only counts when records follow it
            continue
        records.append((i + 1, values))
        last_data = i
    noticed = [i for i in blank_rows if i > 0 or -i < last_data]
    if noticed:
        ctx.problems.add(problem("empty-sheet-rows", sheet=sheet.spec.title, count=len(noticed)))
    return records


def _normalize_record(ctx: Context, sheet: SheetRead, excel_row: int, raw: dict) -> dict:
    record = {"row": excel_row}
    for f in sheet.spec.fields:
        value = raw.get(f.name)
        read = normalize_value(value, f.kind, f.options)
        if read.error:
            ctx.problems.add(sheet.at(read.error, f.name, excel_row, value,
                                      expected=kinds.KIND_DESCRIPTIONS[f.kind]))
            sheet.bad_cells.add((f.name, excel_row))
            record[f.name] = None
            continue
        if read.notice:
            ctx.problems.add(sheet.at(read.notice, f.name, excel_row, value, normalized=read.display))
        record[f.name] = read.value
    return record


# --- pandera -----------------------------------------------------------------------

def _pandera_frame(sheet: SheetRead) -> pd.DataFrame:
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


def _run_pandera(ctx: Context, sheet: SheetRead) -> None:
    if not sheet.records or _plainly_valid(sheet):
        return
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
    """Per field: (name, kind, nullable, value tests) built from the sheet's pandera schema once."""
    if key not in _PLANS:
        _PLANS[key] = _build_plan(SHEETS_BY_KEY[key])
    return _PLANS[key]


def _build_plan(spec: SheetSpec) -> list | None:
    schema = spec.schema
    if schema.checks or schema.strict or schema.unique or schema.index is not None:
        return None
    plan = []
    for f in spec.fields:
        column = schema.columns.get(f.title)
        if column is None or column.unique or column.regex or column.coerce:
            return None
        expected_dtype = {kinds.INT: "Int64", kinds.FLOAT: "float64", kinds.DATE: "datetime64[ns]"}.get(f.kind)
        if str(column.dtype) != (expected_dtype or str(column.dtype)) or (
                expected_dtype is None and "str" not in str(column.dtype)):
            return None
        tests = []
        for check in column.checks:
            test = _value_test(check.name, dict(check.statistics or {}))
            if test is None:
                return None
            tests.append(test)
        plan.append((f.name, f.kind, bool(column.nullable), tests))
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
        return sheet.at(code, f.name, row, value, expected=kinds.KIND_DESCRIPTIONS[f.kind])
    rule = _range_rule(check)
    if rule:
        return sheet.at("out-of-range", f.name, row, value, rule=rule)
    return sheet.at("type-error", f.name, row, value, expected=kinds.KIND_DESCRIPTIONS[f.kind])


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


def _frame(sheet: SheetRead) -> pd.DataFrame:
    """Typed records with English column names and the Excel row (what the ledger stores)."""
    names = [f.name for f in sheet.spec.fields]
    frame = pd.DataFrame({n: [r.get(n) for r in sheet.records] for n in names}, columns=names, dtype=object)
    frame["row"] = pd.Series([r["row"] for r in sheet.records], dtype="int64")
    return frame


# --- identity: unit and month ----------------------------------------------------------

def _read_identity(ctx: Context) -> None:
    info = (ctx.records("basic_info") or [{}])[0]
    unit_name = info.get("unit")
    known = ctx.roster.unit_now_or_formerly(unit_name) if unit_name else None  # recorded under its name now
    ctx.result.unit = known.name if known else unit_name
    ctx.result.unit_kind = known.kind if known else info.get("unit_kind")
    month = info.get("month")
    try:
        parse_month(month)
        ctx.result.month = month
    except (ValueError, TypeError):
        ctx.result.month = None


# --- cross-sheet and business checks ----------------------------------------------------

Check = Callable[[Context], Iterable[Problem]]


def check_unit(ctx: Context) -> Iterable[Problem]:
    info = (ctx.records("basic_info") or [{}])[0]
    unit = info.get("unit")
    if not unit:
        return
    sheet = ctx.sheets["basic_info"]
    known = ctx.roster.unit_now_or_formerly(unit)
    if known is None:
        yield sheet.at("unknown-unit", "unit", info["row"], unit)
    elif ctx.roster.unit(unit) is None:
        yield sheet.at("former-unit-name", "unit", info["row"], unit, current=known.name)
    elif known.name != unit:
        yield sheet.at("normalized-text", "unit", info["row"], unit, normalized=known.name)
    folder = ctx.roster.unit_now_or_formerly(ctx.expected_unit) if ctx.expected_unit else None
    named = known.name if known else unit
    if ctx.expected_unit and title_key(folder.name if folder else ctx.expected_unit) != title_key(named):
        yield sheet.at("unit-mismatch", "unit", info["row"], unit, folder=ctx.expected_unit)


def check_unit_kind(ctx: Context) -> Iterable[Problem]:
    info = (ctx.records("basic_info") or [{}])[0]
    known = ctx.roster.unit_now_or_formerly(info.get("unit") or "")
    if known and info.get("unit_kind") and info["unit_kind"] != known.kind:
        yield ctx.sheets["basic_info"].at("unit-kind-mismatch", "unit_kind", info["row"], info["unit_kind"],
                                          unit=known.name, expected=known.kind)


def check_month_in_year(ctx: Context) -> Iterable[Problem]:
    month = ctx.result.month
    if month and not ctx.rulebook.covers(month):
        info = ctx.records("basic_info")[0]
        yield ctx.sheets["basic_info"].at("month-outside-year", "month", info["row"], month,
                                          first=ctx.rulebook.start, last=ctx.rulebook.last)


def check_dates_in_month(ctx: Context) -> Iterable[Problem]:
    month = ctx.result.month
    if not month:
        return
    start, end = first_day(month), last_day(month)
    # a contact of one of the twelve months before, reported late, is accepted with a warning (the
    # receipt's checks across months say whether that month's form was already in)
    year_start = first_day(max(add_months(month, -11), ctx.rulebook.months[0]))
    for key, sheet in ctx.sheets.items():
        for name in sheet.spec.dates_in_month:
            for r in sheet.records:
                day = r.get(name)
                if isinstance(day, dt.date) and not start <= day <= end:
                    late_record = key == "contacts" and year_start <= day < start
                    yield sheet.at("contact-earlier-month" if late_record else "date-outside-month", name,
                                   r["row"], day, month=month)


def check_attendance(ctx: Context) -> Iterable[Problem]:
    sheet = ctx.sheets.get("org_life")
    for r in ctx.records("org_life"):
        if r.get("present") is not None and r.get("expected") is not None and r["present"] > r["expected"]:
            yield sheet.at("attendance-exceeds", "present", r["row"], r["present"], expected=r["expected"])


def check_member_subsets(ctx: Context) -> Iterable[Problem]:
    """A "其中" count (the schema's ``part_of``) cannot exceed the count it is part of."""
    for sheet in ctx.sheets.values():
        for r in sheet.records:
            for part, whole in sheet.spec.parts:
                if r.get(part) is not None and r.get(whole) is not None and r[part] > r[whole]:
                    whole_title = sheet.spec.field_by_name(whole).title
                    yield sheet.at("out-of-range", part, r["row"], r[part],
                                   rule=f"不能大于“{whole_title}”（{r[whole]}）")


def check_sites_listed(ctx: Context) -> Iterable[Problem]:
    """Every record's 示范点名称 must be one of the sites registered in 示范点."""
    if "sites" not in ctx.sheets:
        return
    listed = {title_key(s): s for s in ctx.site_names}
    for key, sheet in ctx.sheets.items():
        if key == "sites" or "site" not in sheet.spec.names.values():
            continue
        for r in sheet.records:
            site = r.get("site")
            if not site or site in listed.values():
                continue
            canonical = listed.get(title_key(site))
            if canonical:
                yield sheet.at("normalized-text", "site", r["row"], site, normalized=canonical)
                r["site"] = canonical
            else:
                yield sheet.at("unknown-site", "site", r["row"], site)


def check_duplicate_sites(ctx: Context) -> Iterable[Problem]:
    seen: dict[str, int] = {}
    sheet = ctx.sheets.get("sites")
    for r in ctx.records("sites"):
        site = r.get("site")
        if not site:
            continue
        if site in seen:
            yield sheet.at("duplicate-site", "site", r["row"], site, first_row=seen[site])
        else:
            seen[site] = r["row"]


def check_duplicate_rows(ctx: Context) -> Iterable[Problem]:
    for key, sheet in ctx.sheets.items():
        if key == "sites" or not sheet.spec.unique_on:
            continue
        seen: dict[tuple, int] = {}
        for r in sheet.records:
            identity = tuple(r.get(n) for n in sheet.spec.unique_on)
            if all(v is None for v in identity):
                continue
            if identity in seen:
                first = sheet.spec.unique_on[0]
                yield problem("duplicate-row", sheet=sheet.spec.title, cell=sheet.cell(first, r["row"]),
                              row=r["row"], column=sheet.spec.field_by_name(first).title,
                              value=r.get(first), first_row=seen[identity])
            else:
                seen[identity] = r["row"]


def check_site_rows(ctx: Context) -> Iterable[Problem]:
    for spec in FORM_SHEETS:
        sheet = ctx.sheets.get(spec.key)
        if not spec.one_row_per_site or sheet is None:
            continue
        present = {r.get("site") for r in sheet.records}
        for site in ctx.site_names:
            if site not in present:
                yield problem("missing-site-row", sheet=spec.title, value=site)


def check_no_sites(ctx: Context) -> Iterable[Problem]:
    if "sites" in ctx.sheets and not ctx.records("sites"):
        yield problem("no-sites", sheet=SHEETS_BY_KEY["sites"].title)


def check_staff(ctx: Context) -> Iterable[Problem]:
    staff = set(ctx.roster.staff_names)
    for key in ("sites", "contacts"):
        sheet = ctx.sheets.get(key)
        for r in ctx.records(key):
            if r.get("staff") and r["staff"] not in staff:
                yield sheet.at("unknown-staff", "staff", r["row"], r["staff"])


# --- records that cannot be true (SPEC §10) ---------------------------------------------

# Dates that lie ahead by their nature: a 整改时限 is set for the future.
DATES_AHEAD = {("contacts", "deadline")}


def check_future_dates(ctx: Context) -> Iterable[Problem]:
    """M-4b: the form reports what happened up to its 填报日期; no record of it is dated later.
    A record date already reported outside 报送月份 is not reported twice."""
    info = (ctx.records("basic_info") or [{}])[0]
    filled = info.get("fill_date")
    if not isinstance(filled, dt.date):
        return
    month_end = last_day(ctx.result.month) if ctx.result.month else None
    for key, sheet in ctx.sheets.items():
        for f in sheet.spec.fields:
            if f.kind != kinds.DATE or f.name == "fill_date" or (key, f.name) in DATES_AHEAD:
                continue
            for r in sheet.records:
                day = r.get(f.name)
                if not isinstance(day, dt.date) or day <= filled:
                    continue
                if f.name in sheet.spec.dates_in_month and month_end and day > month_end:
                    continue  # date-outside-month says it already
                yield sheet.at("future-date", f.name, r["row"], day, clause="M-4b", fill_date=filled.isoformat())


def check_deadline_after_found(ctx: Context) -> Iterable[Problem]:
    """X-2: a problem's 整改时限 cannot be earlier than the day it was found.

    A problem is told by its site and its text, as consolidation threads it; a record 未办结
    after one 已办结 starts it anew.  The form shows the day a problem was found only where its
    first record in the form is 未办结 with a 整改时限 not before that record's date: otherwise
    the problem may have been found in an earlier month's form (an overdue problem reported
    again is not refused).  Every later record of that problem in the form is held to it."""
    sheet = ctx.sheets.get("contacts")
    rows = [r for r in ctx.records("contacts") if (r.get("problem") or "").strip()]
    rows.sort(key=lambda r: (r["date"] if isinstance(r.get("date"), dt.date) else dt.date.max, r["row"]))
    threads: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r.get("site"), problem_key(r["problem"]))
        thread = threads.get(key)
        if thread is None or (thread[-1].get("state") == "已办结" and r.get("state") != "已办结"):
            threads[key] = [r]
            continue
        thread.append(r)
        opening, deadline = _found_record(thread[0]), r.get("deadline")
        if opening is None or not isinstance(deadline, dt.date) or deadline >= opening["date"]:
            continue
        yield sheet.at("deadline-before-found", "deadline", r["row"], deadline, clause="X-2",
                       found=opening["date"].isoformat(), found_row=opening["row"],
                       set_deadline=opening["deadline"].isoformat())


def _found_record(r: dict) -> dict | None:
    """The record, if it reads as the day its problem was found: 未办结 with a 整改时限 ahead of it."""
    day, deadline = r.get("date"), r.get("deadline")
    if r.get("state") == "未办结" and isinstance(day, dt.date) and isinstance(deadline, dt.date) and deadline >= day:
        return r
    return None


def check_contact_after_assigned(ctx: Context) -> Iterable[Problem]:
    """M-1a: a site's liaison contacts it as its liaison from the day the contact was fixed
    (确定联系日期), not before.  Contacts by other 企业组 members are not judged: the site may well
    have existed and been visited before its liaison was fixed."""
    sites, sheet = ctx.sheets.get("sites"), ctx.sheets.get("contacts")
    assigned = {r["site"]: r for r in ctx.records("sites")
                if r.get("site") and r.get("staff") and isinstance(r.get("contact_date"), dt.date)}
    for r in ctx.records("contacts"):
        site = assigned.get(r.get("site"))
        day = r.get("date")
        if site is None or r.get("staff") != site["staff"] or not isinstance(day, dt.date):
            continue
        if day < site["contact_date"]:
            yield sheet.at("contact-before-assigned", "date", r["row"], day, clause="M-1a", staff=site["staff"],
                           site=site["site"], assigned=site["contact_date"].isoformat(),
                           assigned_cell=sites.cell("contact_date", site["row"]))


CHECKS: list[Check] = [
    check_unit, check_unit_kind, check_month_in_year, check_dates_in_month, check_attendance,
    check_member_subsets, check_sites_listed, check_duplicate_sites, check_duplicate_rows, check_site_rows,
    check_no_sites, check_staff, check_future_dates, check_deadline_after_found, check_contact_after_assigned,
]
