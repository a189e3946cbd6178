"""Calendar arithmetic on reporting periods: months, quarters, half-years, years.

Months are ``"YYYY-MM"`` strings throughout the product; a period is a
``(kind, label, first_month, last_month)`` span with a Chinese name.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from processor.common import cnfmt

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
PERIOD_KINDS = ("month", "quarter", "half", "year")
PERIOD_NAMES = {"month": "月", "quarter": "季度", "half": "半年", "year": "年度"}


def parse_month(text: str) -> tuple[int, int]:
    match = MONTH_RE.match(str(text).strip())
    if not match:
        raise ValueError(f"月份应为 YYYY-MM 格式（如 2026-10），而不是“{text}”")
    return int(match.group(1)), int(match.group(2))


def month_str(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def month_index(month: str) -> int:
    """The month's place in a count of months (consecutive months differ by one)."""
    year, m = parse_month(month)
    return year * 12 + m - 1


def month_at(index: int) -> str:
    """The month at ``index`` of :func:`month_index`'s count."""
    return month_str(index // 12, index % 12 + 1)


def add_months(month: str, n: int) -> str:
    return month_at(month_index(month) + n)


def month_range(first: str, last: str) -> list[str]:
    out, cur = [], first
    if cur <= last:
        index = month_index(first)  # counted on, not parsed again for each month
        while cur <= last:
            out.append(cur)
            index += 1
            cur = month_at(index)
    return out


def first_day(month: str) -> dt.date:
    y, m = parse_month(month)
    return dt.date(y, m, 1)


def last_day(month: str) -> dt.date:
    y, m = parse_month(month)
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def month_of(day: dt.date) -> str:
    return month_str(day.year, day.month)


def month_cn(month: str) -> str:
    parse_month(month)  # a bad month is an error here, not a blank
    return cnfmt.month_cn(month)


@dataclass(frozen=True, order=True)
class Period:
    first: str
    last: str
    kind: str
    label: str  # 2026-Q4, 2026-H2, 2026, 2026-10

    @property
    def months(self) -> list[str]:
        return month_range(self.first, self.last)

    @property
    def start(self) -> dt.date:
        return first_day(self.first)

    @property
    def end(self) -> dt.date:
        return last_day(self.last)

    @property
    def name(self) -> str:
        """Chinese name: 2026年第四季度, 2026年下半年, 2026年度, 2026年10月."""
        y, m = parse_month(self.first)
        if self.kind == "month":
            return month_cn(self.first)
        if self.kind == "quarter":
            return f"{y}年第{'一二三四'[(m - 1) // 3]}季度"
        if self.kind == "half":
            return f"{y}年{'上' if m <= 6 else '下'}半年"
        return f"{y}年度"

    def is_closed(self, today: dt.date) -> bool:
        return today > self.end

    def contains(self, month: str) -> bool:
        return self.first <= month <= self.last


def period_of(month: str, kind: str) -> Period:
    y, m = parse_month(month)
    if kind == "month":
        return Period(month, month, kind, month)
    if kind == "quarter":
        q = (m - 1) // 3
        return Period(month_str(y, q * 3 + 1), month_str(y, q * 3 + 3), kind, f"{y}-Q{q + 1}")
    if kind == "half":
        h = (m - 1) // 6
        return Period(month_str(y, h * 6 + 1), month_str(y, h * 6 + 6), kind, f"{y}-H{h + 1}")
    if kind == "year":
        return Period(month_str(y, 1), month_str(y, 12), kind, str(y))
    raise ValueError(f"未知的周期：{kind}")


def periods_in(first: str, last: str, kind: str) -> list[Period]:
    """Every period of ``kind`` that overlaps the months first..last, in order."""
    seen: dict[str, Period] = {}
    for month in month_range(first, last):
        p = period_of(month, kind)
        seen.setdefault(p.label, p)
    return list(seen.values())


def parse_half(text: str) -> Period:
    """``2026-H2`` → the second half of 2026."""
    match = re.match(r"^(\d{4})-H([12])$", str(text).strip(), re.I)
    if not match:
        raise ValueError(f"半年应写作 2026-H1 或 2026-H2，而不是“{text}”")
    y, h = int(match.group(1)), int(match.group(2))
    return period_of(month_str(y, 1 if h == 1 else 7), "half")


def parse_year(text: str) -> Period:
    """``2026`` → the year 2026."""
    match = re.match(r"^(\d{4})$", str(text).strip())
    if not match:
        raise ValueError(f"年度应写作四位数字（如 2026），而不是“{text}”")
    return period_of(month_str(int(match.group(1)), 1), "year")


def submission_deadline(month: str, day: int) -> dt.date:
    """The date by which the form for ``month`` is due: ``day`` of the next month."""
    nxt = first_day(add_months(month, 1))
    return nxt.replace(day=min(day, calendar.monthrange(nxt.year, nxt.month)[1]))


def last_due_month(today: dt.date, deadline_day: int) -> str:
    """The latest month whose submission deadline has passed on ``today`` (on 2026-11-26 → 2026-10)."""
    month = add_months(month_of(today), -1)
    while submission_deadline(month, deadline_day) >= today:
        month = add_months(month, -1)
    return month
