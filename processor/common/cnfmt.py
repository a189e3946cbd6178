"""Chinese number and date formatting: the one definition every report, receipt and mail uses.

Dates follow the 公文 convention (Arabic numerals, no leading zeros: 2026年11月6日).
Every function accepts ``None`` or "" and returns "" (a template never prints "None").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10])
    return value


def cn_date(value) -> str:
    """2026-11-06 -> 2026年11月6日."""
    if value in (None, ""):
        return ""
    day = _as_date(value)
    return f"{day.year}年{day.month}月{day.day}日"


def md_date(value) -> str:
    """2026-10-21 -> 10月21日 (inside one year: narrow table columns, extensions)."""
    if value in (None, ""):
        return ""
    day = _as_date(value)
    return f"{day.month}月{day.day}日"


def date_moved(old, new, new_format=md_date, sep: str = "") -> str:
    """A deadline a later record changed: "由10月30日延至11月30日" when it is later,
    "由5月30日提前至3月30日" when it is earlier (only a later date is an extension);
    ``sep`` goes between the old date and the verb ("\n": two lines in a table cell)."""
    if old in (None, "") or new in (None, ""):
        return ""
    verb = "延至" if _as_date(new) > _as_date(old) else "提前至"
    return f"由{md_date(old)}{sep}{verb}{new_format(new)}"


def month_cn(value) -> str:
    """2026-10 -> 2026年10月."""
    if value in (None, ""):
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return f"{value.year}年{value.month}月"
    text = str(value).strip()
    return f"{int(text[:4])}年{int(text[5:7])}月"


def month_short(value) -> str:
    """2026-10 -> 10月 (chart axes inside one year)."""
    if value in (None, ""):
        return ""
    return f"{int(str(value)[5:7])}月"


def pct(value, digits: int = 1) -> str:
    """0.8333 -> 83.3%; 1 -> 100%."""
    if value in (None, ""):
        return ""
    number = float(value) * 100
    text = f"{number:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{number:.0f}"
    return text + "%"


def num(value, digits: int = 1) -> str:
    """Integers without decimals, other numbers with ``digits``; no thousands separators (1322名, as
    an office writes counts in Chinese text)."""
    if value in (None, ""):
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int) or (isinstance(value, (float, Decimal)) and float(value).is_integer()):
        return f"{int(value)}"
    return f"{float(value):.{digits}f}"


def plain_num(value) -> str:
    """45.0 -> 45, 45.5 -> 45.5 (areas and counts inside a sentence, no separators)."""
    if value in (None, ""):
        return ""
    return f"{float(value):g}"


def join_cn(values, sep: str = "、") -> str:
    """['榕城区', '罗源县'] -> 榕城区、罗源县 (顿号)."""
    if values in (None, ""):
        return ""
    if isinstance(values, str):
        return values
    return sep.join(str(v) for v in values if v not in (None, ""))


def quote_cn(text: str) -> str:
    """Text in “”; quotes already inside become ‘’ (GB/T 15834 nesting)."""
    inner = str(text).replace("“", "‘").replace("”", "’")
    return f"“{inner}”"
