"""The monthly form (月报表) workbook, generated from the pandera models and the rulebook.

Every sheet title, column title, dropdown list and input prompt comes from
:mod:`processor.schemas.form`; the 填报说明 sheet is written from the rulebook; the
hidden 模板信息 sheet carries the template id, version and model fingerprint
that the validator compares, plus the roster lists the dropdowns point at.
示范点名称 in every detail sheet is a dropdown of the names registered in the
示范点 sheet (a defined name that grows with it); a protected 填写示例 sheet
shows one complete example per sheet.  Every sheet prints landscape, one page
wide, with its header row repeated.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties

from processor.common.excel_safety import set_cell
from processor.common.fsutil import atomic_path
from processor.common.periods import month_cn, submission_deadline
from processor.validate.roster import Roster
from processor.common.rulebook import Rulebook
from processor.schemas import fields as kinds
from processor.schemas.form import (EXAMPLE_SHEET_TITLE, FORM_SHEETS, INSTRUCTIONS_TITLE, META_SHEET_TITLE, SHEETS_BY_KEY,
                          TEMPLATE_ID, TEMPLATE_VERSION, SheetSpec, models_hash)

DATA_ROWS = 200  # record rows per table sheet covered by dropdowns and prompts
FORM_HEADER = ("项目", "填写内容", "填写说明")  # 基本信息: titles in A, values in B, prompts in C
META_KEYS = {"id": "模板编号", "version": "模板版本", "hash": "模型指纹"}
META_LIST_COLUMNS = {"units": ("D", "单位名称"), "staff": ("E", "企业组人员")}
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REQUIRED_FONT = Font(bold=True, color="C00000")
THIN = Side(style="thin", color="A6A6A6")
NUMBER_FORMATS = {kinds.DATE: "yyyy-mm-dd", kinds.INT: "0", kinds.FLOAT: "0.00", kinds.MONTH: "@", kinds.TEXT: "@"}
ROSTER_FIELDS = {("basic_info", "unit"): "units", ("sites", "staff"): "staff", ("contacts", "staff"): "staff"}
# The registered site names, for the 示范点名称 dropdown of every detail sheet: OFFSET/COUNTA makes the
# list as long as the names typed into 示范点 (no trailing blanks), in Excel, WPS and LibreOffice alike.
SITE_LIST_NAME = "示范点名单"
SITES_TITLE = SHEETS_BY_KEY["sites"].title
SITE_LIST_FORMULA = (f"OFFSET('{SITES_TITLE}'!$A$2,0,0,MAX(1,COUNTA('{SITES_TITLE}'!$A$2:$A${DATA_ROWS + 1})),1)")
# Print titles per sheet (default: the header row); the instructions have none, the example two rows.
TITLE_ROWS = {INSTRUCTIONS_TITLE: None, EXAMPLE_SHEET_TITLE: "1:2"}
LINE_HEIGHT = 15  # points per printed line of 11-point text
EXAMPLE_BLANK = "（不填）"
EXAMPLE_FONT = Font(color="808080", italic=True)


def write_template(path: Path | str, *, roster: Roster, rulebook: Rulebook, unit: str | None = None,
                   month: str | None = None, previous: list[dict] | None = None,
                   submit_to: list[str] | None = None) -> Path:
    """Write the fill-in form; with ``unit`` (and ``previous`` sites) it comes pre-filled.
    ``submit_to``: the ways the office takes forms (the 报送 mailbox, the share), said in 填报说明.

    A ``month`` outside the months the rulebook covers raises :class:`MonthNotCovered`."""
    if month:
        rulebook.require(month)
    wb = Workbook()
    wb.remove(wb.active)
    _instructions(wb.create_sheet(INSTRUCTIONS_TITLE), rulebook, month, submit_to)
    list_ranges = _meta_sheet(wb, roster, unit)
    wb.defined_names[SITE_LIST_NAME] = DefinedName(SITE_LIST_NAME, attr_text=SITE_LIST_FORMULA)
    for spec in FORM_SHEETS:
        ws = wb.create_sheet(spec.title)
        if spec.layout == "form":
            _form_sheet(ws, spec, list_ranges)
        else:
            _table_sheet(ws, spec, list_ranges)
    _example_sheet(wb.create_sheet(EXAMPLE_SHEET_TITLE), roster, rulebook, unit, month)
    wb.move_sheet(META_SHEET_TITLE, offset=len(wb.sheetnames))
    wb.active = 1  # open on 基本信息
    if unit:
        _prefill(wb, roster, unit, month, previous or [])
    for ws in wb.worksheets:
        print_setup(ws)
    with atomic_path(Path(path)) as tmp:
        wb.save(tmp)
    return Path(path)


def _instructions(ws, rulebook: Rulebook, month: str | None, submit_to: list[str] | None = None) -> None:
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
        *([(f"6. 报送方式：{'；或'.join(submit_to)}。用邮件报送的，回执会回复到发件邮箱；"
            "被退回的报表附有批注副本，改好后直接回复该邮件即可。", None)] if submit_to else []),
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
    fit_row_heights(ws, first_row=3)


def print_setup(ws) -> None:
    """Landscape A4, one page wide and as many pages down as needed, the header row on every page."""
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0  # 0: no limit on the pages down
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.print_options.horizontalCentered = True
    title_rows = TITLE_ROWS.get(ws.title, "1:1")
    if title_rows:
        ws.print_title_rows = title_rows


def fit_row_heights(ws, first_row: int = 1) -> None:
    """Rows tall enough for their wrapped text: LibreOffice prints openpyxl's rows one line high."""
    widths = {letter: dim.width for letter, dim in ws.column_dimensions.items() if dim.width}
    for row in ws.iter_rows(min_row=first_row):
        lines = 1
        for cell in row:
            if isinstance(cell.value, str) and cell.alignment.wrap_text:
                width = widths.get(cell.column_letter, 9)
                per_line = max(int(width * 1.1), 1)  # LibreOffice fits about 10% more than the width units
                lines = max(lines, sum(-(-_display_width(part) // per_line) or 1
                                       for part in cell.value.split("\n")))
        if lines > 1:
            ws.row_dimensions[row[0].row].height = LINE_HEIGHT * lines


def _display_width(text: str) -> int:
    """Column-width units a text needs: CJK and full-width characters take two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _rules_shown(rulebook: Rulebook, month: str | None) -> list:
    """The rules in force for the form's month; a first-year milestone only in its own year."""
    if not month:
        return list(rulebook.rules.values())
    year = int(month[:4])
    return [r for r in rulebook.at(month).rules.values() if not r.once or r.year == year]


def _meta_sheet(wb, roster: Roster, unit: str | None) -> dict[str, str]:
    """The hidden sheet: template identity, plus the roster lists dropdowns refer to.

    A unit's own form lists only the staff of the unit's group (all staff if it has none)."""
    ws = wb.create_sheet(META_SHEET_TITLE)
    for row, (key, value) in enumerate(
            [(META_KEYS["id"], TEMPLATE_ID), (META_KEYS["version"], TEMPLATE_VERSION),
             (META_KEYS["hash"], models_hash())], start=1):
        ws.cell(row, 1, key)
        ws.cell(row, 2, value)
    ranges = {}
    group_staff = [s.name for s in roster.staff_of_group(roster.group_of_unit(unit))] if unit else []
    for key, (letter, title) in META_LIST_COLUMNS.items():
        names = roster.unit_names if key == "units" else (group_staff or roster.staff_names)
        ws[f"{letter}1"] = title
        for i, name in enumerate(names, start=2):
            set_cell(ws[f"{letter}{i}"], name)
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
        ws.cell(row, 3, ("（必填）" if f.required else "（选填）") + spec.input_prompt(f)).alignment = \
            Alignment(wrap_text=True, vertical="top")
        _validation(ws, spec, f, f"B{row}", list_ranges)
    fit_row_heights(ws, first_row=2)


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


def _header(ws, titles, widths, row: int = 1) -> None:
    for col, (title, width) in enumerate(zip(titles, widths, strict=True), start=1):
        cell = ws.cell(row, col, title)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width + 2
    ws.freeze_panes = f"A{row + 1}"
    ws.row_dimensions[row].height = 30


def _validation(ws, spec: SheetSpec, f, cells: str, list_ranges: dict[str, str]) -> None:
    roster_list = ROSTER_FIELDS.get((spec.key, f.name))
    prompt = spec.input_prompt(f)[:250]
    if roster_list:
        dv = DataValidation(type="list", formula1=list_ranges[roster_list], errorStyle="warning",
                            error="不在名册中，请从下拉列表选择")
    elif f.name == "site" and spec.key != "sites":
        dv = DataValidation(type="list", formula1=SITE_LIST_NAME,
                            error=f"请从下拉列表选择“{SITES_TITLE}”表中登记的示范点")
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
            set_cell(ws.cell(row, 2), values[f.name])
    sites = [p for p in previous if p.get("site")]
    for spec in FORM_SHEETS:
        if spec.key == "sites":
            rows = [{f.name: p.get(f.name) for f in spec.fields} for p in sites]
        elif spec.one_row_per_site:
            rows = [{"site": p["site"]} for p in sites]
        else:
            continue
        write_rows(wb[spec.title], spec, rows)


def _example_sheet(ws, roster: Roster, rulebook: Rulebook, unit: str | None, month: str | None) -> None:
    """填写示例: one complete, correct record of every sheet, read-only; the validator never reads it."""
    from processor.validate.samples import example_records  # samples builds on this module

    month = month or rulebook.months[0]
    unit = unit or (roster.unit_names[0] if roster.unit_names else "")
    ws.append([f"填写示例（{month_cn(month)}，仅供参照，本表不用填写，报送时也不读取）"])
    ws["A1"].font = Font(bold=True, size=14)
    _header(ws, ("工作表", "列（表头）", "示例", "填写说明"), [12, 30, 40, 60], row=2)
    records = example_records(roster=roster, rulebook=rulebook, unit=unit, month=month)
    for spec in FORM_SHEETS:
        first = ws.max_row + 1
        for f in spec.fields:
            value = records[spec.key].get(f.name)
            ws.append([spec.title, f.title, None, ("（必填）" if f.required else "（选填）") + spec.input_prompt(f)])
            cell = ws.cell(ws.max_row, 3)
            if value is None or value == "":
                cell.value, cell.font = EXAMPLE_BLANK, EXAMPLE_FONT
            else:
                set_cell(cell, value).number_format = NUMBER_FORMATS.get(f.kind, "General")
            cell.alignment = Alignment(horizontal="left", wrap_text=True, vertical="top")
            ws.cell(ws.max_row, 2).font = REQUIRED_FONT if f.required else Font()
            ws.cell(ws.max_row, 4).alignment = Alignment(wrap_text=True, vertical="top")
            for cell in ws[ws.max_row]:
                cell.border = Border(THIN, THIN, THIN, THIN)
        ws.merge_cells(start_row=first, start_column=1, end_row=ws.max_row, end_column=1)
        ws.cell(first, 1).font = Font(bold=True)
        ws.cell(first, 1).alignment = Alignment(vertical="center", horizontal="center", wrap_text=True)
    fit_row_heights(ws, first_row=3)
    ws.protection.sheet = True  # read-only: a clerk copies from it, never types into it


def write_rows(ws, spec: SheetSpec, rows: list[dict], first_row: int = 2) -> None:
    """Write record dicts (English field names) under the header of a table sheet."""
    for r, record in enumerate(rows, start=first_row):
        for c, f in enumerate(spec.fields, start=1):
            value = record.get(f.name)
            if value is not None and value != "":
                set_cell(ws.cell(r, c), value)
