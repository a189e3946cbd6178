"""The Excel outputs: 汇总数据.xlsx, the 分组情况一览表 workbook and the 催报名单 workbook.

The writers take their columns as plain data (:class:`Column`, built from the
models by :mod:`processor.render.columns`) and import only the xlsx writers: they run
in the render workers, which never load pandas or the models.  汇总数据, tens
of thousands of rows, is streamed by XlsxWriter; the two small tables are built
with openpyxl.  Every string from a submission passes
through :mod:`processor.common.excel_safety` and is written as text.  The bytes are
deterministic: the document properties carry a timestamp derived from the
inputs and the zip entries a fixed date, so the same inputs always give the
same file.  No workbook has merged cells: every record is one complete row
under a frozen, filterable header, so sorting and filtering never blank a cell.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import NamedTuple

import xlsxwriter
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from processor.common.excel_safety import append_row, write_value
from processor.common.fsutil import fixed_zip_entry
from processor.common.values import is_missing

HEADER_COLOR, FLAG_COLOR, BORDER_COLOR = "DDEBF7", "FCE4D6", "999999"
HEADER_FILL = PatternFill("solid", fgColor=HEADER_COLOR)
FLAG_FILL = PatternFill("solid", fgColor=FLAG_COLOR)
TITLE_FONT = Font(bold=True, size=14)
THIN = Side(style="thin", color=BORDER_COLOR)
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
DATE_FORMAT = "yyyy-mm-dd"
CREATOR = "企业组"  # the workbooks' author property
ASSIGNMENT_TITLE = "企业组人员联系示范点分组情况一览表"


class Column(NamedTuple):
    key: str  # the record's (or context row's) key
    title: str
    width: int
    date: bool = False


class Sheet(NamedTuple):
    title: str
    columns: list[Column]
    rows: list[dict]


# --- 汇总数据.xlsx ---------------------------------------------------------------------------

def summary_workbook(sheets: list[Sheet], stamp: dt.datetime) -> bytes:
    """All accepted rows of the period (the ledger's records per sheet), one sheet per form sheet,
    unit and month first.

    Written with XlsxWriter in constant-memory mode: the rows stream to the file (a province's
    half-year is tens of thousands of rows), in half the time openpyxl's write-only mode takes."""
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"constant_memory": True})
    wb.set_properties({"author": CREATOR, "created": stamp.replace(tzinfo=None, microsecond=0)})
    header = wb.add_format({"bold": True, "bg_color": f"#{HEADER_COLOR}", "border": 1,
                            "border_color": f"#{BORDER_COLOR}", "align": "center", "valign": "vcenter",
                            "text_wrap": True})
    date = wb.add_format({"num_format": DATE_FORMAT})
    quoted = wb.add_format({"quote_prefix": True})  # formula-like text stays text when a cell is edited
    for sheet in sheets:
        ws = wb.add_worksheet(sheet.title)
        columns = sheet.columns
        for col, column in enumerate(columns):
            ws.set_column(col, col, max(column.width, len(column.title) * 2) + 2)
            ws.write_string(0, col, column.title, header)
        ws.freeze_panes(1, 2)
        ws.autofilter(0, 0, max(0, len(sheet.rows)), len(columns) - 1)
        ws.set_paper(9)  # A4, landscape, one page wide, the header on every page
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
        keys = [column.key for column in columns]
        for row, record in enumerate(sheet.rows, start=1):
            for col, key in enumerate(keys):
                write_value(ws, row, col, _cell_value(record.get(key)), date, quoted)
    wb.close()
    return out.getvalue()


# --- 企业组人员联系示范点分组情况一览表 ------------------------------------------------------------

def assignment_workbook(context: dict, columns: list[Column], stamp: dt.datetime) -> bytes:
    """The staff-assignment table: one complete row per site (group and staff on every row, so a
    filter or a sort keeps them), flagged rows filled."""
    wb = Workbook()
    ws = wb.active
    ws.title = "分组情况"
    _title(ws, f"{context['year']}年{ASSIGNMENT_TITLE}")
    _header(ws, columns, row=2)
    rows = context["rows"]
    for r in rows:
        append_row(ws, [_cell_value(r.get(c.key)) for c in columns])
    for i, r in enumerate(rows, start=3):
        for col in range(1, len(columns) + 1):
            cell = ws.cell(i, col)
            cell.border = BORDER
            cell.alignment = Alignment(vertical="center", wrap_text=True)
            if r.get("note"):
                cell.fill = FLAG_FILL
            if columns[col - 1].date:
                cell.number_format = DATE_FORMAT
    _table_view(ws, columns, len(rows))
    _print_setup(ws, landscape=True)
    return workbook_bytes(wb, stamp)


# --- 催报名单 ----------------------------------------------------------------------------------

def reminder_workbook(context: dict, columns: list[Column], stamp: dt.datetime) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "催报名单"
    y, m = context["month"].split("-")
    as_of = dt.date.fromisoformat(context["as_of"])
    _title(ws, f"{int(y)}年{int(m)}月月报表催报名单（逾期天数截至{as_of.year}年{as_of.month}月{as_of.day}日）")
    _header(ws, columns, row=2)
    for r in context["rows"]:
        append_row(ws, [_cell_value(r[c.key]) for c in columns])
    for col, column in enumerate(columns, start=1):
        if column.date:
            for (cell,) in ws.iter_rows(min_row=3, min_col=col, max_col=col):
                cell.number_format = DATE_FORMAT
    _table_view(ws, columns, len(context["rows"]))
    _print_setup(ws, landscape=False)
    return workbook_bytes(wb, stamp)


# --- plumbing ------------------------------------------------------------------------------------

def _title(ws, text: str) -> None:
    """The title in A1, not merged across the columns (it overflows into the empty cells)."""
    ws.append([text])
    ws.cell(1, 1).font = TITLE_FONT


def _table_view(ws, columns: list[Column], count: int) -> None:
    """Header row 2 frozen and filterable over every record."""
    ws.freeze_panes = "A3"
    ws.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{count + 2}"


def _print_setup(ws, *, landscape: bool) -> None:
    """Printed as the office prints: on A4, every column on one page wide (as many pages long as it
    takes), the header row at the top of every page, centred."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages long as it takes
    ws.print_title_rows = "2:2"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6


def _header(ws, columns: list[Column], *, row: int) -> None:
    for col, (_, title, width, _) in enumerate(columns, start=1):
        cell = ws.cell(row, col, title)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = max(width, len(title) * 2) + 2


def _cell_value(value):
    """A value openpyxl writes as the right cell type: ISO strings of dates become dates."""
    if is_missing(value):
        return None
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def workbook_bytes(wb: Workbook, stamp: dt.datetime) -> bytes:
    """Save with fixed document times and zip dates: same content, same bytes."""
    stamp = stamp.replace(tzinfo=None, microsecond=0)
    wb.properties.creator = CREATOR
    wb.properties.created = stamp
    buf = io.BytesIO()
    wb.save(buf)
    return _normalized_zip(buf.getvalue(), stamp)


def _normalized_zip(data: bytes, stamp: dt.datetime) -> bytes:
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + iso.encode() + rb"\g<2>", body)
            dst.writestr(fixed_zip_entry(info.filename), body)
    return out.getvalue()
