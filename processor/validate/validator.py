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
5. the small cross-sheet checks in :data:`processor.validate.checks.CHECKS` run on the typed records.

Steps 1–3 are here; step 4 is :mod:`processor.validate.pandera_step`, step 5
:mod:`processor.validate.checks`; what they share is in :mod:`processor.validate.sheets`.
"""

from __future__ import annotations

from pathlib import Path

from processor.common.config import IntakeSettings
from processor.common.periods import parse_month
from processor.common.rulebook import Rulebook
from processor.validate.checks import CHECKS
from processor.validate.errors import Problem, display_value, problem
from processor.validate.normalize import is_blank, normalize_value, title_key
from processor.validate.pandera_step import run_pandera
from processor.validate.readers import FORMAT_NAMES, FileRejected, RawSheet, RawWorkbook, read_workbook
from processor.validate.roster import Roster, column_letter
from processor.validate.sheets import Context, SheetRead, ValidationResult, cell_position
# the form as plain data derived from the pandera models (the models load only for a sheet that needs them)
from processor.schemas.layout import FORM_LAYOUT as FORM_SHEETS, SheetLayout as SheetSpec, form_rules

_RULES = form_rules()
META_SHEET_TITLE, TEMPLATE_VERSION = _RULES["meta_sheet_title"], _RULES["template_version"]
PREVIOUS_TEMPLATES = _RULES["previous_templates"]  # the earlier versions whose forms are still read
KIND_DESCRIPTIONS = _RULES["kind_descriptions"]


def models_hash() -> str:
    """The fingerprint of the form's models (:func:`processor.schemas.form.models_hash`)."""
    return _RULES["models_hash"]

HEADER_SCAN_ROWS = 10  # a header further down than this is not recognised
META_VERSION_KEY, META_HASH_KEY = "模板版本", "模型指纹"
SHEET_ORDER = {s.title: i for i, s in enumerate(FORM_SHEETS)}


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
        result.records = {}
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
        run_pandera(ctx, sheet)
    _read_identity(ctx)
    for check in CHECKS:
        ctx.problems.extend(check(ctx))
    ctx.result.records = {key: _typed_records(sheet) for key, sheet in ctx.sheets.items()}
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
        row, col = cell_position(ref)
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
            cell = f"{column_letter(col + 1)}{header_index + 1}"
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
                                      expected=KIND_DESCRIPTIONS[f.kind]))
            sheet.bad_cells.add((f.name, excel_row))
            record[f.name] = None
            continue
        if read.notice:
            ctx.problems.add(sheet.at(read.notice, f.name, excel_row, value, normalized=read.display))
        record[f.name] = read.value
    return record


def _typed_records(sheet: SheetRead) -> list[dict]:
    """The sheet's records as the ledger stores them: every field of the model, then the Excel row."""
    names = [f.name for f in sheet.spec.fields]
    return [{**{name: record.get(name) for name in names}, "row": record["row"]} for record in sheet.records]


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
