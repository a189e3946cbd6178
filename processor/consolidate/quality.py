"""Checks across months and files (SPEC §11): warnings for the office to look into, never rejections.

Each check compares one unit's form of a month with its form of the month before, with the
other units' forms of the same month, or with the months the unit already reported.  Like the
compliance checks it is registered once (:data:`QUALITY_CHECKS`, with a stable code), yields
:class:`~processor.consolidate.findings.Finding` records (status ``warning``) whose Chinese sentence comes
from :data:`processor.consolidate.findings.MESSAGES`, and takes every tolerance from the rulebook (``X-3``).

The accepted receipt lists a form's warnings (worked out when it is recorded, stored with the
arrival so the receipt can be written again identically), and the monthly report's 数据质量
section lists the month's.
"""

from __future__ import annotations

import functools
import operator
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator

from processor.common import periods as P
from processor.common.values import problem_key
from processor.consolidate.findings import WARNING, Check, Finding, make_finding
from processor.consolidate.ledger_data import FormRows, LedgerData
from processor.record.ledger import ACCEPTED, SUPERSEDED, Ledger
from processor.common.rulebook import Rule, Rulebook, RuleSet
from processor.schemas.layout import LAYOUT_BY_KEY

CLAUSE = "X-3"
DEFAULT_RULE = Rule(CLAUSE, "跨月份核对", "报表数据前后月份、各单位之间应当一致",
                    {"members_tolerance": 2, "copy_sheets": ["联系指导记录", "组织生活", "工作进展"]})
SHEETS = ("basic_info", "sites", "members", "contacts", "org_life", "progress")
# what a copied sheet is compared on: everything but the key columns and the dates
_IGNORED = {"file_id", "unit", "month", "row", "date"}
_KEY_BY_TITLE = {spec.title: key for key, spec in LAYOUT_BY_KEY.items()}


@dataclass
class QualityScope:
    data: LedgerData  # accepted rows of the month and the month before
    rulebook: Rulebook
    month: str
    units: list[str]  # the units whose forms are checked
    reported: dict[str, set[str]]  # unit -> months it has an accepted form for
    _rows: dict = field(default_factory=dict, repr=False, compare=False)  # sheet -> (unit, month) -> rows

    @property
    def previous(self) -> str:
        return P.add_months(self.month, -1)

    @property
    def rules(self) -> RuleSet:
        """The rules in force in the month checked."""
        return self.rulebook.at(self.month)

    @property
    def rule(self) -> Rule:
        return self.rules[CLAUSE] if CLAUSE in self.rules else DEFAULT_RULE

    def rows(self, key: str, unit: str, month: str) -> list[dict]:
        """The unit's rows of one sheet and month, in the data's order (a sheet is split by unit and
        month once; the list is shared: read it, do not change it)."""
        if key not in self._rows:
            split: dict[tuple[str, str], list[dict]] = {}
            for r in self.data.records(key):
                split.setdefault((r["unit"], r["month"]), []).append(r)
            self._rows[key] = split
        return self._rows[key].get((unit, month), [])

    def warn(self, code: str, unit: str, site: str | None, **facts) -> Finding:
        return make_finding(self.rules, self.rule, code, unit=unit, site=site,
                            period=P.period_of(self.month, "month"), status=WARNING, **facts)


def _count(value) -> int:
    return int(value) if value is not None else 0


def check_members_change(scope: QualityScope) -> Iterator[Finding]:
    """党员总数 may grow by at most 本月发展党员 and shrink by at most 转出 (其中已转出或纳入社区管理);
    a change outside that range by more than ``members_tolerance`` people is flagged."""
    tolerance = int(scope.rule.get("members_tolerance", 2))
    for unit in scope.units:
        before = {r["site"]: r for r in scope.rows("members", unit, scope.previous)}
        for r in scope.rows("members", unit, scope.month):
            last = before.get(r["site"])
            if last is None or r["total"] is None or last["total"] is None:
                continue
            change, joined, left = r["total"] - last["total"], _count(r["new_members"]), _count(r["mobile_managed"])
            unexplained = max(0, change - joined) + max(0, (joined - left) - change)
            if unexplained > tolerance:
                yield scope.warn("members-unexplained", unit, r["site"], observed=unexplained, required=tolerance,
                                 figures=(("上月", last["total"]), ("本月", r["total"]), ("发展", joined),
                                          ("转出", left)))


def check_site_dropped(scope: QualityScope) -> Iterator[Finding]:
    """A site of last month's form missing from this month's, with no 变更说明."""
    for unit in scope.units:
        now = scope.rows("sites", unit, scope.month)
        if not now:
            continue
        notes = [r["change_note"] for r in scope.rows("basic_info", unit, scope.month)]
        if any((n or "").strip() for n in notes):
            continue
        listed = {problem_key(r["site"]) for r in now}
        for r in scope.rows("sites", unit, scope.previous):
            if problem_key(r["site"]) not in listed:
                yield scope.warn("site-dropped", unit, r["site"])


def check_site_shared(scope: QualityScope) -> Iterator[Finding]:
    """One site name (spaces, width and punctuation aside) in the forms of two units of the month."""
    units_of: dict[str, list[str]] = {}
    names: dict[tuple[str, str], str] = {}
    for r in scope.data.records("sites", months=[scope.month]):
        key = problem_key(r["site"])
        if r["unit"] not in units_of.setdefault(key, []):
            units_of[key].append(r["unit"])
            names[(key, r["unit"])] = r["site"]
    for unit in scope.units:
        for r in scope.rows("sites", unit, scope.month):
            others = units_of[problem_key(r["site"])]
            if len(others) > 1:
                yield scope.warn("site-shared", unit, r["site"], sites=tuple(others))


def _row_content(r: dict) -> tuple:
    """What a row says, the ignored columns left out: (its columns compared, in name order; their
    values in that order).  Two rows say the same when their (column, value) pairs are the same; the
    columns and how to read them are worked out once per set of columns, not once per row."""
    names = tuple(r)
    known = _CONTENT_ORDER.get(names)
    if known is None:
        order = tuple(sorted(k for k in names if k not in _IGNORED))
        known = _CONTENT_ORDER[names] = (order, operator.itemgetter(*order) if len(order) > 1
                                         else (lambda row, _o=order: tuple(row[k] for k in _o)))
    order, values = known
    return order, values(r)


def _content(rows: list[dict]) -> Counter:
    """The rows as a multiset of their contents (:func:`_row_content`)."""
    return Counter(map(_row_content, rows))


def _same_content(rows: list[dict], others: list[dict]) -> bool:
    """Whether both lists hold the same rows (dates aside) as multisets: ``_content(rows) ==
    _content(others)``, found without the second multiset (most sheets differ in their first row)."""
    if len(rows) != len(others):
        return False
    left = _content(rows)
    for r in others:
        content = _row_content(r)
        if not left.get(content):
            return False
        left[content] -= 1
    return True


_CONTENT_ORDER: dict[tuple, tuple] = {}  # a row's columns -> (the columns compared, sorted; their getter)


def check_copied_sheets(scope: QualityScope) -> Iterator[Finding]:
    """Detail sheets whose rows (dates aside) are exactly last month's: 疑似照抄上月."""
    titles = list(scope.rule.get("copy_sheets", []))
    for unit in scope.units:
        copied = []
        for title in titles:
            key = _KEY_BY_TITLE[title]
            now = scope.rows(key, unit, scope.month)
            if not now:
                continue
            if _same_content(now, scope.rows(key, unit, scope.previous)):
                copied.append(title)
        if copied:
            yield scope.warn("copied-sheet", unit, None, missing=tuple(copied))


def check_contact_in_reported_month(scope: QualityScope) -> Iterator[Finding]:
    """A contact dated in an earlier month for which the unit's form was already accepted."""
    for unit in scope.units:
        for r in scope.rows("contacts", unit, scope.month):
            day = r["date"]
            if day is not None and P.month_of(day) != scope.month and P.month_of(day) in scope.reported.get(unit, ()):
                yield scope.warn("contact-reported-month", unit, r["site"], on=day)


QUALITY_CHECKS: list[Check] = [
    Check("members-unexplained", CLAUSE, check_members_change),
    Check("site-dropped", CLAUSE, check_site_dropped),
    Check("site-shared", CLAUSE, check_site_shared),
    Check("copied-sheet", CLAUSE, check_copied_sheets),
    Check("contact-reported-month", CLAUSE, check_contact_in_reported_month),
]


def quality_warnings(source: Ledger | LedgerData, rulebook: Rulebook, month: str, *,
                     units: Iterable[str] | None = None, before_file: int | None = None) -> list[Finding]:
    """The warnings of the month's current forms (of ``units``; by default every unit that sent one).

    ``source``: the ledger, or data already loaded from it (a consolidation's).  ``before_file``:
    the months a unit "already reported" are those of its accepted arrivals recorded before that
    file (a receipt's view when the file came)."""
    months = [P.add_months(month, -1), month]
    if isinstance(source, Ledger) and units is not None:
        units = list(units)
        records = _units_records(source, months, units)
        files = [dict(f) for f in source.files(units=units)]
    elif isinstance(source, Ledger):
        records = {key: source.accepted_records(key, months=months) for key in SHEETS}
        files = [dict(f) for f in source.files(units=units)]
    else:  # each month's rows from the data's index by month (the checks read a unit's rows of one month)
        records = {key: [r for m in months for r in source.records(key, months=[m])] for key in SHEETS}
        files = source.files
    units = sorted({r["unit"] for r in records["basic_info"] if r["month"] == month}) if units is None \
        else list(units)
    return _warnings(records, files, rulebook, month, units, before_file)


def form_warnings(rows: FormRows, rulebook: Rulebook, *, before_file: int | None = None) -> list[Finding]:
    """``quality_warnings(ledger, rulebook, rows.month, units=[rows.unit], before_file=…)`` from the rows
    of the unit read once for its new form (:class:`FormRows`): the same warnings, in the same order.

    Of the other units' sites of the month, only those named like one of the unit's own sites of the
    month are looked at: no other row can make a site shared."""
    records = {key: rows.two_months(key) for key in SHEETS}
    own = {r["unit"] for r in records["sites"]}
    names = {_site_key(r["site"]) for r in records["sites"] if r["month"] == rows.month}
    others = [{"unit": unit, "month": rows.month, "row": i, "site": name}
              for i, (unit, name) in enumerate(rows.month_sites)
              if unit not in own and _site_key(name) in names]
    if others:
        records["sites"] = sorted(records["sites"] + others, key=lambda r: (r["unit"], r["month"], r["row"]))
    return _warnings(records, rows.files, rulebook, rows.month, [rows.unit], before_file)


@functools.lru_cache(maxsize=8192)
def _site_key(name: str) -> str:
    """:func:`problem_key` of a site name (the same few hundred names come with every form of a month)."""
    return problem_key(name)


def _warnings(records: dict[str, list[dict]], files: Iterable, rulebook: Rulebook, month: str, units: list[str],
              before_file: int | None) -> list[Finding]:
    data = LedgerData(records, [])
    reported: dict[str, set[str]] = {}
    for f in files:
        if f["status"] in (ACCEPTED, SUPERSEDED) and f["month"] and (before_file is None or f["id"] < before_file):
            reported.setdefault(f["unit"], set()).add(f["month"])
    scope = QualityScope(data, rulebook, month, units, reported)
    return [w for check in QUALITY_CHECKS for w in check.run(scope)]


def _units_records(ledger: Ledger, months: list[str], units: list[str]) -> dict[str, list[dict]]:
    """The rows the checks of ``units`` read: their own rows of both months, and every unit's sites
    of the month checked (one site in two units' forms); in the ledger's order (unit, month, row).
    A receipt's checks read one unit's rows, not the whole month's."""
    records = {key: ledger.accepted_records(key, months=months, units=units) for key in SHEETS}
    read = {r["unit"] for r in records["sites"]}
    others = [r for r in ledger.accepted_records("sites", months=months[1:]) if r["unit"] not in read]
    if others:
        records["sites"] = sorted(records["sites"] + others, key=lambda r: (r["unit"], r["month"], r["row"]))
    return records


def warning_rows(source: Ledger | LedgerData, rulebook: Rulebook, month: str, units: list[str], *,
                 found: list[Finding] | None = None) -> list[dict]:
    """The month's warnings of ``units`` as :func:`warning_record` rows, in the order of ``units``
    (the roster's): what the monthly report's 数据质量 section and the 总览 page list.  ``found``:
    the month's :func:`quality_warnings` of ``units`` when already worked out."""
    order = {u: i for i, u in enumerate(units)}
    if found is None:
        found = quality_warnings(source, rulebook, month, units=units)
    return [warning_record(w) for w in sorted(found, key=lambda w: order[w.unit])]


def warning_record(f: Finding) -> dict:
    """What a receipt, the report and JSON show of one warning."""
    return {"code": f.code, "unit": f.unit, "site": f.site or "", "title": QUALITY_TITLES[f.code],
            "message": f.evidence}


QUALITY_TITLES = {
    "members-unexplained": "党员总数变化无法解释",
    "site-dropped": "示范点未说明即未报送",
    "site-shared": "示范点被两个单位登记",
    "copied-sheet": "疑似照抄上月",
    "contact-reported-month": "联系记录日期在已报送月份",
}
