"""The monthly form (月报表) workbook, generated from the pandera models and the rulebook.

Every sheet title, column title, dropdown list and input prompt comes from
:mod:`processor.schemas.form`; the 填报说明 sheet is written from the rulebook; the
hidden 模板信息 sheet carries the template id, version and model fingerprint
that the validator compares, plus the roster lists the dropdowns point at.
示范点名称 in every detail sheet is a dropdown of the names registered in the
示范点 sheet (a defined name that grows with it); a protected 填写示例 sheet
shows one complete example per sheet.  Every sheet prints landscape, one page
wide, with its header row repeated.

Written with XlsxWriter, which loads in a third of openpyxl's time: a clerk asking for a template
waits for little more than the interpreter.  The annotated copies of rejected forms, which edit a
submitted workbook, use openpyxl (:mod:`processor.validate.annotate`) with the same print layout.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter

from processor.common.excel_safety import write_value
from processor.common.fsutil import atomic_path
from processor.common.periods import month_cn, submission_deadline
from processor.validate.roster import Roster
from processor.common.rulebook import Rulebook
from processor.schemas import vocabulary as kinds
# The models' columns as plain data (processor.schemas.layout, derived from the pandera models): writing
# a form needs their titles, prompts and word lists, not pandas.
from processor.schemas.layout import FORM_LAYOUT as FORM_SHEETS, LAYOUT_BY_KEY as SHEETS_BY_KEY, SheetLayout, form_rules

_FORM = form_rules()
INSTRUCTIONS_TITLE, META_SHEET_TITLE, EXAMPLE_SHEET_TITLE = (
    _FORM["instructions_title"], _FORM["meta_sheet_title"], _FORM["example_sheet_title"])
TEMPLATE_ID, TEMPLATE_VERSION, MODELS_HASH = _FORM["template_id"], _FORM["template_version"], _FORM["models_hash"]

DATA_ROWS = 200  # record rows per table sheet covered by dropdowns and prompts
FORM_HEADER = ("项目", "填写内容", "填写说明")  # 基本信息: titles in A, values in B, prompts in C
META_KEYS = {"id": "模板编号", "version": "模板版本", "hash": "模型指纹"}
META_LIST_COLUMNS = {"units": ("D", "单位名称"), "staff": ("E", "企业组人员")}
HEADER = {"bold": True, "bg_color": "#DDEBF7", "pattern": 1, "align": "center", "valign": "vcenter", "text_wrap": True}
REQUIRED = {"bold": True, "font_color": "#C00000"}
BORDERED = {"border": 1, "border_color": "#A6A6A6"}
WRAPPED = {"text_wrap": True, "valign": "top"}
NUMBER_FORMATS = {kinds.DATE: "yyyy-mm-dd", kinds.INT: "0", kinds.FLOAT: "0.00", kinds.MONTH: "@", kinds.TEXT: "@"}
ROSTER_FIELDS = {("basic_info", "unit"): "units", ("sites", "staff"): "staff", ("contacts", "staff"): "staff"}
# The registered site names, for the 示范点名称 dropdown of every detail sheet: OFFSET/COUNTA makes the
# list as long as the names typed into 示范点 (no trailing blanks), in Excel, WPS and LibreOffice alike.
SITE_LIST_NAME = "示范点名单"
SITES_TITLE = SHEETS_BY_KEY["sites"].title
SITE_LIST_FORMULA = (f"OFFSET('{SITES_TITLE}'!$A$2,0,0,MAX(1,COUNTA('{SITES_TITLE}'!$A$2:$A${DATA_ROWS + 1})),1)")
# Print titles per sheet (default: the header row); the instructions have none, the example two rows.
TITLE_ROWS = {INSTRUCTIONS_TITLE: None, EXAMPLE_SHEET_TITLE: "1:2"}
PRINT_MARGINS = {"left": 0.4, "right": 0.4, "top": 0.6, "bottom": 0.6}  # inches
A4 = 9  # the paper size code of the xlsx format
LINE_HEIGHT = 15  # points per printed line of 11-point text
DEFAULT_WIDTH = 9  # a column's width when none is set
EXAMPLE_BLANK = "（不填）"
EXAMPLE_FONT = {"font_color": "#808080", "italic": True}
EXAMPLE_VALUE = {"align": "left", **WRAPPED, **BORDERED}


def write_template(path: Path | str, *, roster: Roster, rulebook: Rulebook, unit: str | None = None,
                   month: str | None = None, previous: list[dict] | None = None,
                   submit_to: list[str] | None = None, rows: dict[str, list[dict]] | None = None) -> Path:
    """Write the fill-in form; with ``unit`` (and ``previous`` sites) it comes pre-filled.
    ``submit_to``: the ways the office takes forms (the 报送 mailbox, the share), said in 填报说明.
    ``rows``: records by sheet key, written in place of that sheet's pre-filled values (a filled form).

    A ``month`` outside the months the rulebook covers raises :class:`MonthNotCovered`."""
    if month:
        rulebook.require(month)
    with atomic_path(Path(path)) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False,
                                            "strings_to_numbers": False,
                                            "in_memory": True})  # no temporary files: a third of the time
        book = _Book(wb)
        book.sheet(INSTRUCTIONS_TITLE, _instructions(rulebook, month, submit_to))
        list_ranges, meta = _meta_sheet(roster, unit)
        wb.define_name(SITE_LIST_NAME, f"={SITE_LIST_FORMULA}")
        values = {**(_prefilled(roster, unit, month, previous or []) if unit else {}), **(rows or {})}
        for spec in FORM_SHEETS:
            build = _form_sheet if spec.layout == "form" else _table_sheet
            sheet = book.sheet(spec.title, build(spec, list_ranges, values.get(spec.key, [])))
            if spec.layout == "form":
                sheet.activate()  # open on 基本信息
        book.sheet(EXAMPLE_SHEET_TITLE, _example_sheet(roster, rulebook, unit, month)).protect()
        book.sheet(META_SHEET_TITLE, meta).hide()
        wb.close()
    return Path(path)


class _Sheet:
    """One worksheet's content before it is written: cells with their format properties, column
    widths and formats, dropdowns and merged ranges (rows and columns count from 0)."""

    def __init__(self):
        self.cells: dict[tuple[int, int], tuple[object, dict]] = {}
        self.columns: dict[int, tuple[float, dict]] = {}
        self.heights: dict[int, float] = {}
        self.validations: list[tuple[tuple[int, int, int, int], dict]] = []
        self.merged: list[tuple[int, int, int, int]] = []
        self.frozen_rows = 0

    def put(self, row: int, col: int, value, **props) -> None:
        self.cells[row, col] = (value, props)

    def column(self, col: int, width: float, **props) -> None:
        self.columns[col] = (width, props)

    def header(self, titles, widths, row: int = 0) -> None:
        for col, (title, width) in enumerate(zip(titles, widths, strict=True)):
            self.put(row, col, title, **HEADER)
            self.column(col, width + 2, **self.columns.get(col, (0, {}))[1])
        self.frozen_rows = row + 1
        self.heights[row] = 30

    def fit_row_heights(self, first_row: int) -> None:
        """Rows tall enough for their wrapped text: LibreOffice prints rows one line high."""
        lines: dict[int, int] = {}
        for (row, col), (value, props) in self.cells.items():
            if row >= first_row and isinstance(value, str) and props.get("text_wrap"):
                width = self.columns.get(col, (DEFAULT_WIDTH, {}))[0]
                lines[row] = max(lines.get(row, 1), lines_needed(value, width))
        self.heights.update({row: LINE_HEIGHT * n for row, n in lines.items() if n > 1})


class _Book:
    """Writes :class:`_Sheet` contents into an XlsxWriter workbook, each format made once."""

    def __init__(self, wb):
        self.wb = wb
        self._formats: dict[tuple, object] = {}

    def format(self, props: dict):
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format(props) if props else None
        return self._formats[key]

    def sheet(self, title: str, content: _Sheet):
        ws = self.wb.add_worksheet(title)
        for col, (width, props) in sorted(content.columns.items()):
            ws.set_column(col, col, width, self.format(props))
        for row, height in content.heights.items():
            ws.set_row(row, height)
        merged = {(r, c): (r, c, r2, c2) for r, c, r2, c2 in content.merged}
        for (row, col), (value, props) in sorted(content.cells.items()):
            if (row, col) in merged:
                ws.merge_range(*merged[row, col], "", self.format(props))
            self._write(ws, row, col, value, props)
        for (first_row, first_col, last_row, last_col), options in content.validations:
            ws.data_validation(first_row, first_col, last_row, last_col, options)
        if content.frozen_rows:
            ws.freeze_panes(content.frozen_rows, 0)
        _print_setup(ws, title)
        return ws

    def _write(self, ws, row: int, col: int, value, props: dict) -> None:
        if value is None or value == "":
            if props:
                ws.write_blank(row, col, None, self.format(props))
            return
        date_props = props if "num_format" in props else {**props, "num_format": NUMBER_FORMATS[kinds.DATE]}
        write_value(ws, row, col, value, self.format(date_props), self.format({**props, "quote_prefix": True}),
                    self.format(props))


def _print_setup(ws, title: str) -> None:
    """Landscape A4, one page wide and as many pages down as needed, the header row on every page."""
    ws.set_landscape()
    ws.set_paper(A4)
    ws.fit_to_pages(1, 0)  # 0: no limit on the pages down
    ws.set_margins(**PRINT_MARGINS)
    ws.center_horizontally()
    title_rows = TITLE_ROWS.get(title, "1:1")
    if title_rows:
        first, last = (int(n) - 1 for n in title_rows.split(":"))
        ws.repeat_rows(first, last)


def lines_needed(text: str, width: float) -> int:
    """Printed lines of a wrapped text in a column ``width`` units wide."""
    per_line = max(int(width * 1.1), 1)  # LibreOffice fits about 10% more than the width units
    return sum(-(-display_width(part) // per_line) or 1 for part in text.split("\n"))


def display_width(text: str) -> int:
    """Column-width units a text needs: CJK and full-width characters take two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _rules_shown(rulebook: Rulebook, month: str | None) -> list:
    """The rules in force for the form's month; a first-year milestone only in its own year."""
    if not month:
        return list(rulebook.rules.values())
    year = int(month[:4])
    return [r for r in rulebook.at(month).rules.values() if not r.once or r.year == year]


def _instructions(rulebook: Rulebook, month: str | None, submit_to: list[str] | None = None) -> _Sheet:
    sheet = _Sheet()
    sheet.column(0, 110)
    deadline = (f"{month_cn(month)}的报表请于 {submission_deadline(month, rulebook.submission_deadline_day):%Y年%m月%d日} 前报送。"
                if month else f"每月报表请于次月 {rulebook.submission_deadline_day} 日前报送。")
    heading = {"bold": True, "font_size": 12}
    lines: list[tuple[str, dict]] = [
        (f"{TEMPLATE_ID}（模板版本 {TEMPLATE_VERSION}）", {"bold": True, "font_size": 16}),
        ("", {}),
        ("一、报送要求", heading),
        (f"1. {deadline}", {}),
        ("2. 请勿增删、重命名工作表，勿修改表头；红色表头为必填项，灰色说明见各单元格的输入提示。", {}),
        ("3. 日期按 2026-10-08 格式填写；报送月份按 2026-10 格式填写；人数填整数。", {}),
        ("4. 有下拉列表的单元格请从列表中选择；“示范点名称”须与“示范点”表中登记的名称完全一致。", {}),
        ("5. 填好后保存为 Excel 工作簿（.xlsx），不要设置密码，不要另存为含宏的工作簿。", {}),
        *([(f"6. 报送方式：{'；或'.join(submit_to)}。用邮件报送的，回执会回复到发件邮箱；"
            "被退回的报表附有批注副本，改好后直接回复该邮件即可。", {})] if submit_to else []),
        ("", {}),
        ("二、各工作表", heading),
    ]
    for i, spec in enumerate(FORM_SHEETS, start=1):
        lines.append((f"{i}. {spec.title}：{spec.description}", {}))
    lines += [("", {}), ("三、《关于企业组成员联系党建示范点建设的实施意见》主要要求", heading)]
    for rule in _rules_shown(rulebook, month):
        lines.append((f"【{rule.clause}】{rule.title}：{rule.wording}", {}))
    for row, (text, font) in enumerate(lines):
        sheet.put(row, 0, text, **WRAPPED, **font)
    sheet.fit_row_heights(first_row=2)
    return sheet


def _meta_sheet(roster: Roster, unit: str | None) -> tuple[dict[str, str], _Sheet]:
    """The hidden sheet: template identity, plus the roster lists dropdowns refer to (their ranges).

    A unit's own form lists only the staff of the unit's group (all staff if it has none)."""
    sheet = _Sheet()
    for row, (key, value) in enumerate(
            [(META_KEYS["id"], TEMPLATE_ID), (META_KEYS["version"], TEMPLATE_VERSION),
             (META_KEYS["hash"], MODELS_HASH)]):
        sheet.put(row, 0, key)
        sheet.put(row, 1, value)
    ranges = {}
    group_staff = [s.name for s in roster.staff_of_group(roster.group_of_unit(unit))] if unit else []
    for key, (letter, title) in META_LIST_COLUMNS.items():
        names = roster.unit_names if key == "units" else (group_staff or roster.staff_names)
        col = ord(letter) - ord("A")
        sheet.put(0, col, title)
        for row, name in enumerate(names, start=1):
            sheet.put(row, col, name)
        ranges[key] = f"'{META_SHEET_TITLE}'!${letter}$2:${letter}${max(len(names), 1) + 1}"
    return ranges, sheet


def _form_sheet(spec: SheetLayout, list_ranges: dict[str, str], values: list[dict]) -> _Sheet:
    sheet = _Sheet()
    sheet.header(FORM_HEADER, [16, 32, 56])
    given = values[0] if values else {}
    for row, f in enumerate(spec.fields, start=1):
        sheet.put(row, 0, f.title, **(REQUIRED if f.required else {"bold": True}))
        sheet.put(row, 1, given.get(f.name), num_format=NUMBER_FORMATS.get(f.kind, "General"), **BORDERED)
        sheet.put(row, 2, ("（必填）" if f.required else "（选填）") + spec.input_prompt(f), **WRAPPED)
        sheet.validations.append(((row, 1, row, 1), _validation(spec, f, list_ranges)))
    sheet.fit_row_heights(first_row=1)
    return sheet


def _table_sheet(spec: SheetLayout, list_ranges: dict[str, str], rows: list[dict]) -> _Sheet:
    sheet = _Sheet()
    for col, f in enumerate(spec.fields):
        # A column format formats every row the clerk types into, without thousands of empty styled
        # cells (which would make every later open/save of the workbook several times slower).
        sheet.column(col, f.width, num_format=NUMBER_FORMATS.get(f.kind, "General"))
    sheet.header(spec.titles, [f.width for f in spec.fields])
    for col, f in enumerate(spec.fields):
        if f.required:
            sheet.put(0, col, f.title, **{**HEADER, **REQUIRED})
        sheet.validations.append(((1, col, DATA_ROWS, col), _validation(spec, f, list_ranges)))
    for row, record in enumerate(rows, start=1):
        for col, f in enumerate(spec.fields):
            if record.get(f.name) not in (None, ""):
                sheet.put(row, col, record[f.name])
    return sheet


def _validation(spec: SheetLayout, f, list_ranges: dict[str, str]) -> dict:
    """The cell's dropdown or type check, with the field's input prompt."""
    roster_list = ROSTER_FIELDS.get((spec.key, f.name))
    if roster_list:
        check = {"validate": "list", "source": f"={list_ranges[roster_list]}", "error_type": "warning",
                 "error_message": "不在名册中，请从下拉列表选择"}
    elif f.name == "site" and spec.key != "sites":
        check = {"validate": "list", "source": f"={SITE_LIST_NAME}",
                 "error_message": f"请从下拉列表选择“{SITES_TITLE}”表中登记的示范点"}
    elif f.options:
        check = {"validate": "list", "source": list(f.options), "error_message": ("只能填写：" + "、".join(f.options))[:250]}
    elif f.kind == kinds.INT:
        check = {"validate": "integer", "criteria": ">=", "value": 0, "error_message": "请填写不小于 0 的整数"}
    elif f.kind == kinds.FLOAT:
        check = {"validate": "decimal", "criteria": ">=", "value": 0, "error_message": "请填写数字"}
    elif f.kind == kinds.DATE:
        check = {"validate": "date", "criteria": ">", "value": dt.date(2000, 1, 1), "error_type": "warning",
                 "error_message": "请按 2026-10-08 的格式填写日期"}
    else:
        check = {"validate": "any", "show_error": False}
    prompt = spec.input_prompt(f)[:250]
    check.update(ignore_blank=True, input_title=f.title[:32], input_message=prompt, show_input=bool(prompt))
    if check["validate"] != "any":
        check["error_title"] = "填写有误"
    return check


def _prefilled(roster: Roster, unit: str, month: str | None, previous: list[dict]) -> dict[str, list[dict]]:
    """A unit's form: its name, kind and month, and the sites it reported last (each detail sheet
    that has a row per site lists them)."""
    info = roster.unit(unit)
    form = next(s for s in FORM_SHEETS if s.layout == "form")
    values = {form.key: [{"unit": info.name if info else unit, "unit_kind": info.kind if info else None,
                          "month": month}]}
    sites = [p for p in previous if p.get("site")]
    for spec in FORM_SHEETS:
        if spec.key == "sites":
            values[spec.key] = [{f.name: p.get(f.name) for f in spec.fields} for p in sites]
        elif spec.one_row_per_site:
            values[spec.key] = [{"site": p["site"]} for p in sites]
    return values


def _example_sheet(roster: Roster, rulebook: Rulebook, unit: str | None, month: str | None) -> _Sheet:
    """填写示例: one complete, correct record of every sheet, read-only; the validator never reads it."""
    from processor.validate.samples import example_records  # samples builds on this module

    sheet = _Sheet()
    month = month or rulebook.months[0]
    unit = unit or (roster.unit_names[0] if roster.unit_names else "")
    sheet.put(0, 0, f"填写示例（{month_cn(month)}，仅供参照，本表不用填写，报送时也不读取）", bold=True, font_size=14)
    sheet.header(("工作表", "列（表头）", "示例", "填写说明"), [12, 30, 40, 60], row=1)
    records = example_records(roster=roster, rulebook=rulebook, unit=unit, month=month)
    row = 2
    for spec in FORM_SHEETS:
        first = row
        for f in spec.fields:
            value = records[spec.key].get(f.name)
            sheet.put(row, 0, spec.title, **BORDERED)
            sheet.put(row, 1, f.title, **(REQUIRED if f.required else {}), **BORDERED)
            if value is None or value == "":
                sheet.put(row, 2, EXAMPLE_BLANK, **EXAMPLE_FONT, **EXAMPLE_VALUE)
            else:
                sheet.put(row, 2, value, num_format=NUMBER_FORMATS.get(f.kind, "General"), **EXAMPLE_VALUE)
            sheet.put(row, 3, ("（必填）" if f.required else "（选填）") + spec.input_prompt(f), **WRAPPED, **BORDERED)
            row += 1
        sheet.put(first, 0, spec.title, bold=True, align="center", valign="vcenter", text_wrap=True, **BORDERED)
        if row - 1 > first:
            sheet.merged.append((first, 0, row - 1, 0))
            for r in range(first + 1, row):
                del sheet.cells[r, 0]  # covered by the merged cell
    sheet.fit_row_heights(first_row=2)
    return sheet
