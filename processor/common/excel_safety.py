"""Escaping of untrusted strings before they are written into xlsx or docx.

A submitter's text such as ``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` must
never become a live formula in a workbook the office opens, and control
characters must never break the XML of a generated document.

Such text is written as a string cell carrying the quote-prefix style (what
Excel stores when someone types ``'=1+1``): the reader sees ``=1+1`` or
``+86 591 …`` exactly as submitted, and Excel, WPS and LibreOffice keep it as
text even when the cell is edited.  No apostrophe is added to the text itself.
"""

from __future__ import annotations

import datetime as dt
import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def strip_xml_illegal(text: str) -> str:
    """Remove characters that XML 1.0 cannot carry (they would corrupt the file)."""
    return _XML_ILLEGAL.sub("", text)


def formula_like(value) -> bool:
    """True for a string a spreadsheet would take for a formula (plain numbers such as -3 are not)."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _is_plain_number(value)


def cell_text(value):
    """A value ready for a cell: strings lose XML-illegal characters; numbers and dates pass unchanged.

    Only for writers that store strings as text whatever they start with (XlsxWriter's
    ``write_string``); openpyxl writers use :func:`set_cell` / :func:`append_row`."""
    return strip_xml_illegal(value) if isinstance(value, str) else value


def set_cell(cell, value):
    """Write ``value`` into an openpyxl cell; formula-like text stays text, shown as typed."""
    value = cell_text(value)
    cell.value = value
    if formula_like(value):
        cell.data_type = "s"  # after the assignment, which makes "=…" a formula
        cell.quotePrefix = True
    return cell


def append_row(ws, values) -> None:
    """``ws.append`` for untrusted values (see :func:`set_cell`)."""
    from openpyxl.cell.cell import Cell

    ws.append([set_cell(Cell(ws), v) if formula_like(v) else cell_text(v) for v in values])


def write_value(ws, row: int, col: int, value, date_format=None, quoted_format=None, cell_format=None) -> None:
    """One XlsxWriter cell by its value's type; a string is always text (never a formula or a link),
    shown as submitted (formula-like text carries ``quoted_format``, a format with ``quote_prefix``)."""
    if value is None:
        return
    if isinstance(value, str):
        ws.write_string(row, col, cell_text(value), quoted_format if formula_like(value) else cell_format)
    elif isinstance(value, (dt.date, dt.datetime)):
        ws.write_datetime(row, col, value, date_format)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, cell_format)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, cell_format)
    else:
        ws.write_string(row, col, cell_text(str(value)), cell_format)


def _is_plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
