"""Normalisation of what submitters type: unambiguous variants are read, ambiguous ones rejected.

Each function takes a raw cell value as python-calamine returns it (str, float,
int, bool, date, datetime, ``""`` for empty) and returns a :class:`Normalized`:
the typed value, an optional warning code when the cell was rewritten, or an
error code when it cannot be read as the column's kind.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from processor.common.values import text_key  # noqa: F401 — one definition, re-exported for validate
from processor.schemas import vocabulary as kinds

# Full-width ASCII (！ … ～) and the ideographic space map to their ASCII forms.
_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_HALFWIDTH[0x3000] = 0x20
# Inside free text only digits, letters and spaces are folded: （）、，are proper Chinese punctuation.
_HALFWIDTH_ALNUM = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F) if chr(code - 0xFEE0).isalnum()}
_HALFWIDTH_ALNUM[0x3000] = 0x20
_SPACES = re.compile(r"[ \t\u00a0\u2002\u2003\u2009\u200b]+")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*[日号]?$")
_MONTH_TEXT = re.compile(r"^(\d{4})\s*[-./年]\s*(\d{1,2})\s*月?$")
_INT_TEXT = re.compile(r"^[-+]?\d+(\.0+)?$")
_FLOAT_TEXT = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Normalized:
    value: Any
    notice: str | None = None  # warning code, e.g. "normalized-date"
    error: str | None = None  # "type-error", "impossible-date" or "date-out-of-range"

    @property
    def display(self) -> str:
        if isinstance(self.value, dt.date):
            return self.value.isoformat()
        return "" if self.value is None else str(self.value)


def title_key(text) -> str:
    """How a sheet or column title is compared: NFKC, no whitespace, lower case."""
    text = str(text or "")
    return _short_title_key(text) if len(text) <= TITLE_CACHE_CHARS else _title_key(text)


def _title_key(text: str) -> str:
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


# Every header cell of every form asks for the same few dozen titles; only short texts are kept
# (a hostile sheet's long cells would fill the cache, bounded as it is, with nothing reused).
TITLE_CACHE_CHARS = 64
_WHITESPACE = re.compile(r"\s+")
_short_title_key = functools.lru_cache(maxsize=4096)(_title_key)


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not clean_text(value))


# Invisible control characters (Excel stores them as _x0007_) would be carried into the
# ledger and break the XML of every report built from it; they carry no meaning.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Drop control characters, fold full-width digits/letters/spaces, collapse runs of spaces, strip."""
    text = _CONTROL_CHARS.sub("", unicodedata.normalize("NFC", text)).translate(_HALFWIDTH_ALNUM)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.strip().splitlines())
    return text.strip()


def normalize_value(raw, kind: str, options: list[str] | None = None) -> Normalized:
    if raw is None or raw == "":
        return Normalized(None)
    reader = _READERS.get(kind, _text)
    return reader(raw, options) if kind in (kinds.CHOICE, kinds.YESNO) else reader(raw)


def _text(raw) -> Normalized:
    if isinstance(raw, bool):
        return Normalized("是" if raw else "否")
    if isinstance(raw, float) and raw.is_integer():
        return Normalized(str(int(raw)))  # phone numbers typed as numbers
    if isinstance(raw, (int, float)):
        return Normalized(str(raw))
    if isinstance(raw, dt.datetime):
        return Normalized(raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat(" "))
    if isinstance(raw, dt.date):
        return Normalized(raw.isoformat())
    text = str(raw)
    cleaned = clean_text(text)
    if not cleaned:
        return Normalized(None)
    return Normalized(cleaned, "normalized-text" if cleaned != text else None)


def _choice(raw, options) -> Normalized:
    read = _text(raw)
    if read.value is None or not options:
        return read
    if read.value in options:
        return read
    key = title_key(read.value)
    match = next((opt for opt in options if title_key(opt) == key), None)
    if match is not None:
        return Normalized(match, "normalized-text")
    return Normalized(read.value)  # pandera reports not-in-list


def _number_text(raw) -> tuple[str, bool]:
    text = str(raw)
    folded = re.sub(r"\s+", "", text.translate(_HALFWIDTH))
    return folded, folded != text


def _int(raw) -> Normalized:
    if isinstance(raw, bool) or isinstance(raw, (dt.date, dt.time, dt.timedelta)):
        return Normalized(raw, error="type-error")
    if isinstance(raw, int):
        return Normalized(raw)
    if isinstance(raw, float):
        return Normalized(int(raw)) if raw.is_integer() else Normalized(raw, error="type-error")
    text, _ = _number_text(raw)
    if not text:
        return Normalized(None)
    if _INT_TEXT.match(text):
        return Normalized(int(float(text)), "normalized-number")
    return Normalized(str(raw), error="type-error")


def _float(raw) -> Normalized:
    if isinstance(raw, bool) or isinstance(raw, (dt.date, dt.time, dt.timedelta)):
        return Normalized(raw, error="type-error")
    if isinstance(raw, (int, float)):
        return Normalized(float(raw))
    text, _ = _number_text(raw)
    if not text:
        return Normalized(None)
    if _FLOAT_TEXT.match(text):
        return Normalized(float(text), "normalized-number")
    return Normalized(str(raw), error="type-error")


# The years a date cell may hold: a typo year (2926) is the cell's error, never a file that cannot be read.
DATE_RANGE = (dt.date(1900, 1, 1), dt.date(2099, 12, 31))


def _date(raw) -> Normalized:
    read = _any_date(raw)
    if isinstance(read.value, dt.date) and not read.error and not DATE_RANGE[0] <= read.value <= DATE_RANGE[1]:
        return Normalized(raw, error="date-out-of-range")
    return read


def _any_date(raw) -> Normalized:
    if isinstance(raw, dt.datetime):
        return Normalized(raw.date())
    if isinstance(raw, dt.date):
        return Normalized(raw)
    if isinstance(raw, bool) or isinstance(raw, (dt.time, dt.timedelta)):
        return Normalized(raw, error="type-error")
    if isinstance(raw, (int, float)):
        return _serial(raw)
    text, _ = _number_text(raw)
    if not text:
        return Normalized(None)
    match = _DATE_TEXT.match(text)
    if not match:
        return Normalized(str(raw), error="type-error")
    try:
        return Normalized(dt.date(*(int(g) for g in match.groups())), "normalized-date")
    except ValueError:
        return Normalized(str(raw), error="impossible-date")


def _serial(number) -> Normalized:
    """An Excel date serial left as a plain number (a date cell without date format)."""
    if float(number).is_integer() and 1 <= number <= 2958465:
        return Normalized(_EXCEL_EPOCH + dt.timedelta(days=int(number)), "normalized-date")
    return Normalized(number, error="type-error")


def _month(raw) -> Normalized:
    """报送月份 as "YYYY-MM"; Excel often turns a typed "2026-10" into the date 2026-10-01."""
    if isinstance(raw, (dt.date, dt.datetime)):
        return Normalized(f"{raw.year:04d}-{raw.month:02d}", "normalized-date")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        day = _serial(raw)
        if day.error:
            return Normalized(_text(raw).value)  # pandera reports bad-month
        return Normalized(f"{day.value.year:04d}-{day.value.month:02d}", "normalized-date")
    text, _ = _number_text(raw)
    if not text:
        return Normalized(None)
    match = _MONTH_TEXT.match(text)
    if match and 1 <= int(match.group(2)) <= 12:
        value = f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"
        return Normalized(value, None if value == raw else "normalized-date")
    return Normalized(clean_text(str(raw)))  # pandera reports bad-month


_READERS = {
    kinds.TEXT: _text,
    kinds.CHOICE: _choice,
    kinds.YESNO: _choice,
    kinds.INT: _int,
    kinds.FLOAT: _float,
    kinds.DATE: _date,
    kinds.MONTH: _month,
}
