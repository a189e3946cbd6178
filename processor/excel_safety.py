"""Escaping of untrusted strings before they are written into xlsx or docx.

A submitter's text such as ``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` must
never become a live formula in a workbook the office opens, and control
characters must never break the XML of a generated document.
"""

from __future__ import annotations

import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def strip_xml_illegal(text: str) -> str:
    """Remove characters that XML 1.0 cannot carry (they would corrupt the file)."""
    return _XML_ILLEGAL.sub("", text)


def escape_cell_text(value):
    """Make a value safe to write into a generated worksheet cell.

    Strings that a spreadsheet would treat as a formula get a leading
    apostrophe-like quote prefix; numbers and dates pass through unchanged.
    """
    if not isinstance(value, str):
        return value
    text = strip_xml_illegal(value)
    if text.startswith(FORMULA_TRIGGERS) and not _is_plain_number(text):
        return "'" + text
    return text


def _is_plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
