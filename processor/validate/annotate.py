"""The annotated copy returned to a unit whose form was rejected.

It is the submitter's own workbook (values untouched) with every cell that
has an error filled red and carrying a comment, and a first sheet 错误清单
listing every problem with a hyperlink to its cell.  A form sent as .xls or
.ods comes back as .xlsx holding its values.  Every sheet prints landscape,
one page wide, with its header row repeated.

The copy is mailed to a unit as its own workbook, so nothing of the submission
that reaches outside the cells comes back: no hyperlinks, no links to other
workbooks, no pictures, charts or pivot tables, no names or drop-down lists
pointing at another file (embedded OLE objects and macros are not even read).

Building it can be expensive for a hostile workbook (a thousand overlapping
merged ranges), so the intake builds it in its sandbox under the validation's
time and memory limits (``processor.intake.sandbox``); a workbook over them
gets no copy, and its receipt says :data:`TOO_COMPLEX`.
"""

from __future__ import annotations

import re
from pathlib import Path

from processor.validate.errors import Problem
from processor.common.fsutil import atomic_path
from processor.validate.readers import XLSX, RawWorkbook, file_format, read_workbook

# openpyxl, and the template's page setup, load with the first copy (in the sandbox): a receipt of an
# accepted form, and the process that records it, need neither.

LIST_TITLE = "错误清单"
LIST_HEADER = ("位置", "工作表", "列", "填写内容", "问题", "修改方法")
LIST_WIDTHS = (16, 12, 14, 16, 50, 30)  # about one landscape A4 page wide
ERROR_COLOR, HEADER_COLOR = "FF9999", "F4B084"
COMMENT_AUTHOR = "报表校验"
TOO_COMPLEX = "文件过于复杂，无法生成批注副本"
"""What a receipt says instead of naming the annotated copy when building it ran over the limits."""


class TooComplex(Exception):
    """The annotated copy could not be built within the time and memory limits of the sandbox."""


# A file rejected for one of these was never parsed, and must not be now: openpyxl has no
# size, ratio or row limits, so a zip bomb or a million-row sheet would hang or exhaust memory.
UNOPENED_CODES = frozenset({"empty-file", "not-xlsx", "corrupt", "encrypted", "macro-enabled", "too-large",
                            "timeout", "unsafe-content"})


def write_annotated_copy(src: Path | str, problems: list[Problem], dest: Path | str) -> Path | None:
    """Write the annotated copy to ``dest`` atomically; None if ``src`` cannot be opened as a workbook."""
    problems = list(problems)
    if any(p.code in UNOPENED_CODES for p in problems):
        return None
    from openpyxl import load_workbook

    try:
        wb = load_workbook(src) if file_format(src) == XLSX else _values_workbook(read_workbook(src))
    except Exception:  # noqa: BLE001 — any unreadable workbook simply gets no annotated copy
        return None
    _defuse_formulas(wb)
    _strip_outside_references(wb)
    _mark_cells(wb, problems)
    _problem_list(wb, problems)
    for ws in wb.worksheets:
        print_setup(ws)
    with atomic_path(Path(dest)) as tmp:
        wb.save(tmp)
    return Path(dest)


def _values_workbook(book: RawWorkbook):
    """An .xls or .ods form as an xlsx workbook of its cell values (what the clerk typed)."""
    from openpyxl import Workbook

    from processor.common.excel_safety import set_cell

    wb = Workbook()
    wb.remove(wb.active)
    for sheet in book.sheets.values():
        ws = wb.create_sheet(sheet.name[:31])
        for r, row in enumerate(sheet.rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None and value != "":
                    set_cell(ws.cell(r, c), value)
        if sheet.hidden:
            ws.sheet_state = "hidden"
    return wb


def _defuse_formulas(wb) -> None:
    """The submitter's formulas come back as their text in a text cell: shown, never run."""
    from processor.common.excel_safety import strip_xml_illegal

    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    formula = getattr(cell.value, "text", cell.value)  # ArrayFormula keeps its text in .text
                    cell.value = strip_xml_illegal(str(formula or ""))
                    cell.data_type = "s"  # after the assignment, which would make "=…" a formula again


_OUTSIDE = re.compile(r"\[|://|\\\\|^\s*=?\s*'?[a-z]:\\", re.I)  # [1]Sheet!A1, [book.xlsx], URLs, UNC and drive paths


def _strip_outside_references(wb) -> None:
    """Drop what could lead a reader of the copy elsewhere: hyperlinks (the 错误清单's own, added
    afterwards, point inside the copy), external workbook links, pictures, charts, pivot tables,
    and names or drop-down lists whose formula names another file."""
    wb._external_links = []
    _drop_outside_names(wb.defined_names)
    for ws in wb.worksheets:
        ws._hyperlinks = []
        for cell in ws._cells.values():  # the cells the file has, without creating the empty ones
            if cell.hyperlink is not None:
                cell.hyperlink = None
        ws._images, ws._charts, ws._pivots = [], [], []
        _drop_outside_names(getattr(ws, "defined_names", {}))
        validations = ws.data_validations.dataValidation
        validations[:] = [dv for dv in validations
                          if not any(_OUTSIDE.search(str(f or "")) for f in (dv.formula1, dv.formula2))]


def _drop_outside_names(names) -> None:
    for name in [n for n, d in names.items() if _OUTSIDE.search(str(d.value or ""))]:
        del names[name]


def _mark_cells(wb, problems: list[Problem]) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    from processor.common.excel_safety import strip_xml_illegal

    notes: dict[tuple[str, str], list[str]] = {}
    for p in problems:
        if p.is_error and p.sheet in wb.sheetnames and p.cell:
            notes.setdefault((p.sheet, p.cell), []).append(p.message + (f"（{p.hint}）" if p.hint else ""))
    for (sheet, cell), messages in notes.items():
        target = _writable(wb[sheet], wb[sheet][cell])
        target.fill = PatternFill("solid", fgColor=ERROR_COLOR)
        text = strip_xml_illegal("\n".join(messages))  # a comment is never evaluated
        comment = Comment(text, COMMENT_AUTHOR)
        comment.width, comment.height = 320, 40 + 40 * len(messages)
        target.comment = comment


def _writable(ws, cell):
    """A cell inside a merged range cannot carry a comment: use the range's top-left cell."""
    from openpyxl.cell.cell import MergedCell

    if isinstance(cell, MergedCell):
        for merged in ws.merged_cells.ranges:
            if cell.coordinate in merged:
                return ws.cell(merged.min_row, merged.min_col)
    return cell


def _problem_list(wb, problems: list[Problem]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink

    from processor.common.excel_safety import set_cell

    title = LIST_TITLE if LIST_TITLE not in wb.sheetnames else LIST_TITLE + "（本次）"
    ws = wb.create_sheet(title, 0)
    for col, (name, width) in enumerate(zip(LIST_HEADER, LIST_WIDTHS, strict=True), start=1):
        cell = ws.cell(1, col, name)
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor=HEADER_COLOR)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"
    ordered = [p for p in problems if p.is_error] + [p for p in problems if not p.is_error]
    for row, p in enumerate(ordered, start=2):
        values = (p.location or "（整个文件）", p.sheet or "", p.column or "", _shown(p.value),
                  ("" if p.is_error else "【提示】") + p.message, p.hint)
        for col, value in enumerate(values, start=1):
            cell = set_cell(ws.cell(row, col), value)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        if p.sheet in wb.sheetnames:
            link = ws.cell(row, 1)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{p.sheet}'!{p.cell or 'A1'}",
                                       display=link.value)
            link.font = Font(color="0563C1", underline="single")
    fit_row_heights(ws, first_row=2)
    wb.active = 0


def print_setup(ws) -> None:
    """The template's print layout (:mod:`processor.validate.template`) on an openpyxl sheet:
    landscape A4, one page wide, the header row on every page."""
    from openpyxl.worksheet.page import PageMargins
    from openpyxl.worksheet.properties import PageSetupProperties

    from processor.validate import template

    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0  # 0: no limit on the pages down
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins = PageMargins(**template.PRINT_MARGINS)
    ws.print_options.horizontalCentered = True
    title_rows = template.TITLE_ROWS.get(ws.title, "1:1")
    if title_rows:
        ws.print_title_rows = title_rows


def fit_row_heights(ws, first_row: int = 1) -> None:
    """Rows tall enough for their wrapped text (as the template's): LibreOffice prints rows one line high."""
    from processor.validate import template

    widths = {letter: dim.width for letter, dim in ws.column_dimensions.items() if dim.width}
    for row in ws.iter_rows(min_row=first_row):
        lines = 1
        for cell in row:
            if isinstance(cell.value, str) and cell.alignment.wrap_text:
                lines = max(lines, template.lines_needed(cell.value, widths.get(cell.column_letter,
                                                                                 template.DEFAULT_WIDTH)))
        if lines > 1:
            ws.row_dimensions[row[0].row].height = template.LINE_HEIGHT * lines


def _shown(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value)
