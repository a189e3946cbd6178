"""The monthly form (月报表) workbook, generated from the pandera models and the rulebook.

Every sheet title, column title, dropdown list and input prompt comes from
:mod:`schemas.form`; the 填报说明 sheet is written from the rulebook; the
hidden 模板信息 sheet carries the template id, version and model fingerprint
that the validator compares, plus the roster lists the dropdowns point at.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from processor.excel_safety import escape_cell_text
from processor.fsutil import atomic_path
from processor.periods import month_cn, submission_deadline
from processor.roster import Roster
from processor.rulebook import Rulebook
from schemas import fields as kinds
from schemas.form import (FORM_SHEETS, INSTRUCTIONS_TITLE, META_SHEET_TITLE, TEMPLATE_ID, TEMPLATE_VERSION,
                          SheetSpec, models_hash)

DATA_ROWS = 200  # record rows per table sheet covered by dropdowns and prompts
FORM_HEADER = ("项目", "填写内容", "填写说明")  # 基本信息: titles in A, values in B, prompts in C
META_KEYS = {"id": "模板编号", "version": "模板版本", "hash": "模型指纹"}
META_LIST_COLUMNS = {"units": ("D", "单位名称"), "staff": ("E", "企业组人员")}
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REQUIRED_FONT = Font(bold=True, color="C00000")
THIN = Side(style="thin", color="A6A6A6")
NUMBER_FORMATS = {kinds.DATE: "yyyy-mm-dd", kinds.INT: "0", kinds.FLOAT: "0.00", kinds.MONTH: "@", kinds.TEXT: "@"}
ROSTER_FIELDS = {("basic_info", "unit"): "units", ("sites", "staff"): "staff", ("contacts", "staff"): "staff"}


def write_template(path: Path | str, *, roster: Roster, rulebook: Rulebook, unit: str | None = None,
                   month: str | None = None, previous: list[dict] | None = None) -> Path:
    """Write the fill-in form; with ``unit`` (and ``previous`` sites) it comes pre-filled.

    A ``month`` outside the months the rulebook covers raises :class:`MonthNotCovered`."""
    if month:
        rulebook.require(month)
    wb = Workbook()
    wb.remove(wb.active)
    _instructions(wb.create_sheet(INSTRUCTIONS_TITLE), rulebook, month)
    list_ranges = _meta_sheet(wb, roster)
    for spec in FORM_SHEETS:
        ws = wb.create_sheet(spec.title)
        if spec.layout == "form":
            _form_sheet(ws, spec, list_ranges)
        else:
            _table_sheet(ws, spec, list_ranges)
    wb.move_sheet(META_SHEET_TITLE, offset=len(wb.sheetnames))
    wb.active = 1  # open on 基本信息
    if unit:
        _prefill(wb, roster, unit, month, previous or [])
    with atomic_path(Path(path)) as tmp:
        wb.save(tmp)
    return Path(path)


def _instructions(ws, rulebook: Rulebook, month: str | None) -> None:
    ws.column_dimensions["A"].width = 110
    deadline = (f"{month_cn(month)}的报表请于 {submission_deadline(month, rulebook.submission_deadline_day):%Y年%m月%d日} 前报送。"
                if month else f"每月报表请于次月 {rulebook.submission_deadline_day} 日前报送。")
    lines: list[tuple[str, Font | None]] = [
        (f"{TEMPLATE_ID}（模板版本 {TEMPLATE_VERSION}）", Font(bold=True, size=16)),
        ("", None),
        ("一、报送要求", Font(bold=True, size=12)),
        (f"1. {deadline}", None),
        ("2. 请勿增删、重命名工作表，勿修改表头；红色表头为必填项，灰色说明见各单元格的输入提示。", None),
        ("3. 日期按 2026-10-08 格式填写；报送月份按 2026-10 格式填写；人数填整数。", None),
        ("4. 有下拉列表的单元格请从列表中选择；“示范点名称”须与“示范点”表中登记的名称完全一致。", None),
        ("5. 填好后保存为 Excel 工作簿（.xlsx），不要设置密码，不要另存为含宏的工作簿。", None),
        ("", None),
        ("二、各工作表", Font(bold=True, size=12)),
    ]
    for i, spec in enumerate(FORM_SHEETS, start=1):
        lines.append((f"{i}. {spec.title}：{spec.description}", None))
    lines += [("", None), ("三、《关于企业组成员联系党建示范点建设的实施意见》主要要求", Font(bold=True, size=12))]
    for rule in _rules_shown(rulebook, month):
        lines.append((f"【{rule.clause}】{rule.title}：{rule.wording}", None))
    for row, (text, font) in enumerate(lines, start=1):
        cell = ws.cell(row, 1, text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if font:
            cell.font = font


def _rules_shown(rulebook: Rulebook, month: str | None) -> list:
    """The rules in force for the form's month; a first-year milestone only in its own year."""
    if not month:
        return list(rulebook.rules.values())
    year = int(month[:4])
    return [r for r in rulebook.at(month).rules.values() if not r.once or r.year == year]


def _meta_sheet(wb, roster: Roster) -> dict[str, str]:
    """The hidden sheet: template identity, plus the roster lists dropdowns refer to."""
    ws = wb.create_sheet(META_SHEET_TITLE)
    for row, (key, value) in enumerate(
            [(META_KEYS["id"], TEMPLATE_ID), (META_KEYS["version"], TEMPLATE_VERSION),
             (META_KEYS["hash"], models_hash())], start=1):
        ws.cell(row, 1, key)
        ws.cell(row, 2, value)
    ranges = {}
    for key, (letter, title) in META_LIST_COLUMNS.items():
        names = roster.unit_names if key == "units" else roster.staff_names
        ws[f"{letter}1"] = title
        for i, name in enumerate(names, start=2):
            ws[f"{letter}{i}"] = escape_cell_text(name)
        ranges[key] = f"'{META_SHEET_TITLE}'!${letter}$2:${letter}${max(len(names), 1) + 1}"
    ws.sheet_state = "hidden"
    return ranges


def _form_sheet(ws, spec: SheetSpec, list_ranges: dict[str, str]) -> None:
    _header(ws, FORM_HEADER, [16, 32, 56])
    for row, f in enumerate(spec.fields, start=2):
        title = ws.cell(row, 1, f.title)
        title.font = REQUIRED_FONT if f.required else Font(bold=True)
        value = ws.cell(row, 2)
        value.number_format = NUMBER_FORMATS.get(f.kind, "General")
        value.border = Border(THIN, THIN, THIN, THIN)
        ws.cell(row, 3, ("（必填）" if f.required else "（选填）") + f.prompt).alignment = Alignment(wrap_text=True)
        _validation(ws, spec, f, f"B{row}", list_ranges)


def _table_sheet(ws, spec: SheetSpec, list_ranges: dict[str, str]) -> None:
    _header(ws, spec.titles, [f.width for f in spec.fields])
    for col, f in enumerate(spec.fields, start=1):
        if f.required:
            ws.cell(1, col).font = REQUIRED_FONT
        letter = get_column_letter(col)
        # A column style formats every row the clerk types into, without thousands of empty styled cells
        # (which would make every later open/save of the workbook several times slower).
        ws.column_dimensions[letter].number_format = NUMBER_FORMATS.get(f.kind, "General")
        _validation(ws, spec, f, f"{letter}2:{letter}{DATA_ROWS + 1}", list_ranges)


def _header(ws, titles, widths) -> None:
    for col, (title, width) in enumerate(zip(titles, widths), start=1):
        cell = ws.cell(1, col, title)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width + 2
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 30


def _validation(ws, spec: SheetSpec, f, cells: str, list_ranges: dict[str, str]) -> None:
    roster_list = ROSTER_FIELDS.get((spec.key, f.name))
    prompt = (f.prompt or "")[:250]
    if roster_list:
        dv = DataValidation(type="list", formula1=list_ranges[roster_list], errorStyle="warning",
                            error="不在名册中，请从下拉列表选择")
    elif f.options:
        dv = DataValidation(type="list", formula1='"' + ",".join(f.options) + '"',
                            error=("只能填写：" + "、".join(f.options))[:250])
    elif f.kind == kinds.INT:
        dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", error="请填写不小于 0 的整数")
    elif f.kind == kinds.FLOAT:
        dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", error="请填写数字")
    elif f.kind == kinds.DATE:
        dv = DataValidation(type="date", operator="greaterThan", formula1="36526", errorStyle="warning",
                            error="请按 2026-10-08 的格式填写日期")
    else:
        dv = DataValidation()
    dv.allow_blank = True
    dv.showInputMessage = bool(prompt)
    dv.showErrorMessage = dv.type is not None
    dv.promptTitle, dv.prompt = f.title[:32], prompt
    dv.errorTitle = "填写有误"
    dv.add(cells)
    ws.add_data_validation(dv)


def _prefill(wb, roster: Roster, unit: str, month: str | None, previous: list[dict]) -> None:
    info = roster.unit(unit)
    form = next(s for s in FORM_SHEETS if s.layout == "form")
    ws = wb[form.title]
    values = {"unit": info.name if info else unit, "unit_kind": info.kind if info else None, "month": month}
    for row, f in enumerate(form.fields, start=2):
        if values.get(f.name):
            ws.cell(row, 2, escape_cell_text(values[f.name]))
    sites = [p for p in previous if p.get("site")]
    for spec in FORM_SHEETS:
        if spec.key == "sites":
            rows = [{f.name: p.get(f.name) for f in spec.fields} for p in sites]
        elif spec.one_row_per_site:
            rows = [{"site": p["site"]} for p in sites]
        else:
            continue
        write_rows(wb[spec.title], spec, rows)


def write_rows(ws, spec: SheetSpec, rows: list[dict], first_row: int = 2) -> None:
    """Write record dicts (English field names) under the header of a table sheet."""
    for r, record in enumerate(rows, start=first_row):
        for c, f in enumerate(spec.fields, start=1):
            value = record.get(f.name)
            if value is not None and value != "":
                ws.cell(r, c, escape_cell_text(value))


def previous_sites(ledger_path: Path | str, unit: str, before: str | None = None) -> list[dict]:
    """The unit's sites as in its latest accepted submission before ``before`` (a month; any month when
    None), for a pre-filled form: January's form takes December's sites.  [] if none."""
    from processor.ledger import Ledger  # the ledger module is only needed for a pre-filled form

    with Ledger(ledger_path) as ledger:
        frame = ledger.accepted_rows("sites", units=[unit])
    if before is not None and not frame.empty:
        frame = frame[frame["month"] < before]
    if frame.empty:
        return []
    latest = frame[frame["month"] == frame["month"].max()]
    return [{k: (None if v != v else v) for k, v in rec.items()} for rec in latest.to_dict("records")]
