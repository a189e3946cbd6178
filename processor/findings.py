"""Compliance findings: every rule of the opinion that can be checked from the ledger.

Each rule is a small check function registered once in :data:`CHECKS` with a
stable code and the clause it enforces; every number it uses comes from the
rulebook.  A check yields :class:`Finding` records — data, not prose — which
every report (monthly, half-year, dossier, receipts) renders.

Scope: :func:`evaluate` looks at the accepted data of months up to the last
month asked for.  A period that has not ended on ``today`` — or that extends
past the data in scope — is "at risk" (待完成) when its requirement is not met
yet, never "failed".
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from processor import periods as P
from processor.ledger import ACCEPTED, REJECTED, SUPERSEDED, Ledger, records_frame
from processor.rulebook import Rule, Rulebook
from schemas.form import SHEETS_BY_KEY

MET, AT_RISK, FAILED = "met", "at_risk", "failed"
STATUS_CN = {MET: "符合", AT_RISK: "待完成", FAILED: "未达标"}

# Monthly submission states (M-4b), as the reports and the reminder list name them.
ON_TIME, LATE, MISSING, RETURNED, NOT_DUE = "按时报送", "逾期报送", "未报送", "已退回待重报", "未到截止日期"

_HW_NAMES = SHEETS_BY_KEY["hardware"].names  # Chinese column title -> field name
_YES, _NO = "是", "否"


@dataclass
class Finding:
    code: str
    clause: str
    title: str
    wording: str
    unit: str
    site: str | None
    period: str  # 2026-Q4 / 2026-10 / 2026-H2 / 2026
    period_name: str  # 2026年第四季度 …
    status: str  # met / at_risk / failed
    evidence: str  # Chinese sentence: what was found vs what is required
    enterprise_kind: str | None = None
    staff: str | None = None  # the 企业组 member concerned (M-1a staff findings, site contacts)

    @property
    def status_cn(self) -> str:
        return STATUS_CN[self.status]

    @property
    def is_open(self) -> bool:
        return self.status != MET

    def to_dict(self) -> dict:
        return {**asdict(self), "status_cn": self.status_cn}


# --- the data a check looks at ------------------------------------------------------------

# The sheets the checks read (a unit's evaluation loads only these).
CHECKED_SHEETS = ("sites", "contacts", "org_life", "hardware")


class LedgerData:
    """Accepted rows of every sheet (months up to ``until``) and every arrival, loaded once.

    The rows are kept as records (one dict per row, in the ledger's order, dates as
    ``datetime.date``, ``None`` for a missing value) — what the checks read.  The
    reports' DataFrames (:attr:`frames`, :meth:`rows`) are built only when asked
    for, a sheet at a time.  Data made by :meth:`restrict` takes its frames from
    its parent's (a mask, not a rebuild).
    """

    def __init__(self, records: dict[str, list[dict]], files: list[dict], until: str | None = None, *,
                 parent: tuple["LedgerData", str | None, set | None] | None = None,
                 keys: Iterable[str] | None = None):
        self.files = files
        self.until = until
        self._frames: dict[str, pd.DataFrame] = {}
        self._records: dict[str, list[dict]] = dict(records)
        self._keys = list(keys if keys is not None else records)
        self._parent = parent  # (data, until, units) this was restricted from
        self._index: dict[str, _SheetIndex] = {}

    @classmethod
    def load(cls, ledger: Ledger, *, until: str | None = None, units: Iterable[str] | None = None,
             sheets: Iterable[str] | None = None) -> "LedgerData":
        """``sheets`` loads only some sheets (for a check-only evaluation); the default is all."""
        units = list(units) if units is not None else None
        records = {key: ledger.accepted_records(key, units=units, until=until)
                   for key in (sheets or SHEETS_BY_KEY)}
        files = [dict(r) for r in ledger.files(units=units)]
        if units is not None:
            files = [f for f in files if submitting_unit(f) in units]  # the folder decides when both are set
        if until is not None:
            files = [f for f in files if f["month"] and f["month"] <= until]
        return cls(records, files, until)

    def restrict(self, *, until: str | None = None, units: Iterable[str] | None = None) -> "LedgerData":
        """The same data narrowed to months up to ``until`` and to some units."""
        units = set(units) if units is not None else None
        files = [f for f in self.files if (until is None or (f["month"] and f["month"] <= until))
                 and (units is None or f["unit"] in units)]
        limit = min(filter(None, [until, self.until]), default=None)
        # each sheet is narrowed when first read (a check-only evaluation reads four of seven)
        return LedgerData({}, files, limit, parent=(self, until, units), keys=self._keys)

    # --- records: what the checks read -------------------------------------------------
    def records(self, key: str, *, unit: str | None = None, site: str | None = None,
                months: Iterable[str] | None = None) -> list[dict]:
        """The rows of one sheet as records, in the ledger's order (the same rows as :meth:`rows`).

        The dicts are shared with this data: read them, do not change them.
        """
        if unit is None and site is None and months is None:
            return self._sheet_records(key)
        index = self._sheet_index(key)
        if months is not None:
            months = set(months)
        if unit is not None and site is not None:
            found = index.by_site.get((unit, site), [])
        elif unit is not None:
            found = index.by_unit.get(unit, [])
        elif months is not None and len(months) == 1:
            found, months = index.by_month.get(next(iter(months)), []), None
        else:
            found = self._sheet_records(key)
        if site is not None and unit is None:
            found = [r for r in found if r["site"] == site]
        if months is not None:
            found = [r for r in found if r["month"] in months]
        return found

    def site_records(self, key: str, unit: str, site: str | None) -> list[dict]:
        """The rows of one (unit, site), ``None`` being a site name like any other."""
        return self._sheet_index(key).by_site.get((unit, site), [])

    def _sheet_records(self, key: str) -> list[dict]:
        if key not in self._records:
            if key not in self._keys:
                raise KeyError(key)
            parent, until, units = self._parent  # only restricted data reads its sheets lazily
            self._records[key] = [r for r in parent._sheet_records(key) if (until is None or r["month"] <= until)
                                  and (units is None or r["unit"] in units)]
        return self._records[key]

    def _sheet_index(self, key: str) -> "_SheetIndex":
        if key not in self._index:
            self._index[key] = _SheetIndex(self._sheet_records(key))
        return self._index[key]

    # --- frames: what the reports read ---------------------------------------------------
    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        return {key: self.frame(key) for key in self._keys}

    def frame(self, key: str) -> pd.DataFrame:
        """One sheet's rows as a DataFrame of plain objects, built on first use."""
        if key not in self._frames:
            if key not in self._keys:
                raise KeyError(key)
            self._frames[key] = self._build_frame(key)
        return self._frames[key]

    def _build_frame(self, key: str) -> pd.DataFrame:
        if self._parent is None:
            return records_frame(key, self._sheet_records(key), plain=True)
        parent, until, units = self._parent
        frame = parent.frame(key)  # masking the parent's frame is cheaper than building one
        mask = pd.Series(True, index=frame.index)
        if until is not None:
            mask &= frame["month"] <= until
        if units is not None:
            mask &= frame["unit"].isin(units)
        return frame[mask].reset_index(drop=True)

    def rows(self, key: str, *, unit: str | None = None, site: str | None = None,
             months: Iterable[str] | None = None) -> pd.DataFrame:
        frame = self.frame(key)
        mask = np.ones(len(frame), dtype=bool)  # numpy masks: this runs thousands of times per consolidation
        if unit is not None:
            mask &= frame["unit"].to_numpy() == unit
        if site is not None:
            mask &= frame["site"].to_numpy() == site
        if months is not None:
            mask &= frame["month"].isin(list(months)).to_numpy()
        return frame[mask]

    def source_files(self) -> list[dict]:
        """The accepted arrivals whose rows are in this data (for manifests and dossiers)."""
        ids = set()
        for key in self._keys:
            if key in self._frames and key not in self._records:
                ids.update(self._frames[key]["file_id"].unique())
            else:
                ids.update(r["file_id"] for r in self._sheet_records(key))
        ids = {int(i) for i in ids}
        return [f for f in self.files if f["id"] in ids]


class _SheetIndex:
    """One sheet's records by month, by unit and by (unit, site), each list in the ledger's order;
    each index is built when first asked for."""

    def __init__(self, records: list[dict]):
        self.records = records

    def _group(self, key: Callable[[dict], object]) -> dict:
        out: dict = {}
        for r in self.records:
            out.setdefault(key(r), []).append(r)
        return out

    @functools.cached_property
    def by_month(self) -> dict[str, list[dict]]:
        return self._group(operator.itemgetter("month"))

    @functools.cached_property
    def by_unit(self) -> dict[str, list[dict]]:
        return self._group(operator.itemgetter("unit"))

    @functools.cached_property
    def by_site(self) -> dict[tuple, list[dict]]:
        return self._group(lambda r: (r["unit"], r.get("site")))


def _missing(value) -> bool:
    """None, NaN, NaT or pd.NA: what pandas' ``isna`` calls missing, for one plain value."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _row_order(r: dict):
    """Sort key of (month, row), a missing row last: as ``sort_values(["month", "row"])`` orders."""
    row = r["row"]
    return r["month"], _missing(row), 0 if _missing(row) else row


@dataclass
class Scope:
    ledger_data: LedgerData
    rulebook: Rulebook
    units: list[str]
    staff: list[str]
    months: list[str]
    today: dt.date
    _memo: dict = field(default_factory=dict, repr=False, compare=False)  # sites per months asked

    @functools.cached_property
    def last_month(self) -> str:
        return max(self.months)

    def periods(self, kind: str) -> list[P.Period]:
        if ("periods", kind) not in self._memo:  # asked by every rule of the kind
            self._memo[("periods", kind)] = P.periods_in(min(self.months), max(self.months), kind)
        return list(self._memo[("periods", kind)])

    def months_of(self, period: P.Period) -> tuple[str, ...]:
        """``period.months``, worked out once per period."""
        if ("months", period) not in self._memo:
            self._memo[("months", period)] = tuple(period.months)
        return self._memo[("months", period)]

    def is_closed(self, period: P.Period) -> bool:
        """Ended on ``today`` and wholly covered by the months in scope."""
        return period.is_closed(self.today) and period.last <= self.last_month

    def shortfall(self, period: P.Period) -> str:
        return FAILED if self.is_closed(period) else AT_RISK

    def sites_in(self, months: tuple[str, ...]) -> list[dict]:
        """Sites listed by any submission of these months: the latest row of each (unit, site).

        The records are shared with the data (and between the checks): read them, do not change them."""
        if ("sites_in", months) not in self._memo:  # every check asks again for each period
            self._memo[("sites_in", months)] = self._sites_in(months)
        return self._memo[("sites_in", months)]

    def _sites_in(self, months: tuple[str, ...]) -> list[dict]:
        rows = self.ledger_data.records("sites", months=[m for m in months if m <= self.last_month])
        order = {u: i for i, u in enumerate(self.units)}
        ranked = sorted((r for r in rows if r["unit"] in order), key=_row_order)
        last: dict[tuple, int] = {}  # (unit, site) -> position of its latest row; a missing key is no group
        for i, r in enumerate(ranked):
            if not _missing(r["site"]):
                last[(r["unit"], r["site"])] = i
        latest = [ranked[i] for i in sorted(last.values())]
        return sorted(latest, key=lambda r: (order[r["unit"]], r["row"] if r["row"] is not None else 0))

    def current_sites(self) -> list[dict]:
        """Each unit's sites as listed in its latest submission in scope (shared records, as above)."""
        if "current_sites" not in self._memo:
            self._memo["current_sites"] = self._current_sites()
        return self._memo["current_sites"]

    def _current_sites(self) -> list[dict]:
        order = {u: i for i, u in enumerate(self.units)}
        last = self.last_month
        rows = [r for r in self.ledger_data.records("sites") if r["month"] <= last and r["unit"] in order]
        latest: dict[str, str] = {}
        for r in rows:
            if r["unit"] not in latest or r["month"] > latest[r["unit"]]:
                latest[r["unit"]] = r["month"]
        rows = [r for r in rows if r["month"] == latest[r["unit"]]]
        return sorted(rows, key=lambda r: (order[r["unit"]], r["row"] or 0))


def _finding(rule: Rule, code: str, *, unit: str, site: str | None, period: P.Period | None,
             status: str, evidence: str, kind: str | None = None, staff: str | None = None,
             year: int | None = None) -> Finding:
    if period is None:
        label, name = str(year), f"{year}年度"
    else:
        label, name = period.label, _period_name(period)
    return Finding(code, rule.clause, rule.title, rule.wording, unit, site, label, name, status,
                   evidence, kind, staff)


@functools.lru_cache(maxsize=256)
def _period_name(period: P.Period) -> str:
    return period.name  # worked out once: a province's findings name the same few periods thousands of times


def _year_period(scope: Scope) -> P.Period:
    return P.period_of(P.month_str(scope.rulebook.year, 1), "year")


# --- checks --------------------------------------------------------------------------------

def check_site_count(scope: Scope) -> Iterator[Finding]:
    """G-1: each unit cultivates between min_sites and max_sites sites (its latest submission)."""
    rule = scope.rulebook["G-1"]
    low, high = rule.get("min_sites", 1), rule.get("max_sites", 2)
    sites = scope.current_sites()
    for unit in scope.units:
        listed = [s for s in sites if s["unit"] == unit]
        if not listed:
            continue  # nothing submitted yet: M-4b reports it
        month = listed[0]["month"]
        n = len(listed)
        status = MET if low <= n <= high else FAILED
        yield _finding(rule, "site-count", unit=unit, site=None, period=P.period_of(month, "month"),
                       status=status, evidence=f"{P.month_cn(month)}报送示范点{n}个（要求{low}至{high}个）")


def check_contact_fixed(scope: Scope) -> Iterator[Finding]:
    """M-1a: every site's 企业组 contact is fixed before the deadline."""
    rule = scope.rulebook["M-1a"]
    deadline = scope.rulebook.date_in_year(rule.get("deadline", "10-01"))
    year = _year_period(scope)
    for site in scope.current_sites():
        fixed = site["contact_date"]
        staff = site["staff"] or ""
        if fixed is not None and fixed < deadline and staff:
            status = MET
            evidence = f"{_d(fixed)}确定由{staff}联系（要求{_d(deadline)}前确定）"
        elif fixed is None or not staff:
            status = FAILED if scope.today >= deadline else AT_RISK
            evidence = f"尚未确定联系的企业组人员（要求{_d(deadline)}前确定）"
        else:
            status = FAILED
            evidence = f"{_d(fixed)}才确定由{staff}联系（要求{_d(deadline)}前确定）"
        yield _finding(rule, "contact-fixed", unit=site["unit"], site=site["site"], period=year,
                       status=status, evidence=evidence, kind=site["enterprise_kind"], staff=staff or None)


def check_staff_assigned(scope: Scope) -> Iterator[Finding]:
    """M-1a: every 企业组 member of the roster has at least one site fixed before the deadline."""
    rule = scope.rulebook["M-1a"]
    deadline = scope.rulebook.date_in_year(rule.get("deadline", "10-01"))
    year = _year_period(scope)
    sites = scope.current_sites()
    for name in scope.staff:
        mine = [s for s in sites if s["staff"] == name]
        in_time = [s for s in mine if s["contact_date"] is not None and s["contact_date"] < deadline]
        if in_time:
            status = MET
            evidence = f"联系示范点{len(mine)}个（{'、'.join(s['site'] for s in mine)}）"
        else:
            status = FAILED if scope.today >= deadline else AT_RISK
            if mine:
                evidence = (f"{_d(deadline)}前没有确定联系的示范点（{'、'.join(s['site'] for s in mine)}"
                            f"于{_d(min(s['contact_date'] for s in mine if s['contact_date']))}才确定）")
            else:
                evidence = f"没有联系的示范点（要求{_d(deadline)}前确定）"
        yield _finding(rule, "staff-assigned", unit="", site=None, period=year, status=status,
                       evidence=evidence, staff=name)


def _site_counts(records: Iterable[dict]) -> Counter:
    """How many rows each (unit, site) has: one count instead of a filter per site."""
    return Counter((r["unit"], r["site"]) for r in records)


def check_monthly_contact(scope: Scope) -> Iterator[Finding]:
    """M-1b: at least min_contacts contact records per site per month."""
    rule = scope.rulebook["M-1b"]
    need = rule.get("min_contacts", 1)
    for month in scope.months:
        period = P.period_of(month, "month")
        counts = _site_counts(scope.ledger_data.records("contacts", months=[month]))
        for site in scope.sites_in((month,)):
            if site["month"] != month:
                continue
            n = counts.get((site["unit"], site["site"]), 0)
            status = MET if n >= need else scope.shortfall(period)
            yield _finding(rule, "monthly-contact", unit=site["unit"], site=site["site"], period=period,
                           status=status, evidence=f"{period.name}沟通联系{n}次（要求至少{need}次）",
                           kind=site["enterprise_kind"], staff=site["staff"])


def check_quarterly_visit(scope: Scope) -> Iterator[Finding]:
    """M-1c: at least min_visits on-site contacts (modes in onsite_modes) per site per quarter."""
    rule = scope.rulebook["M-1c"]
    need = rule.get("min_visits", 1)
    modes = list(rule.get("onsite_modes", []))
    for quarter in scope.periods("quarter"):
        contacts = scope.ledger_data.records("contacts", months=scope.months_of(quarter))
        counts = _site_counts(c for c in contacts if c["mode"] in modes)
        for site in scope.sites_in(scope.months_of(quarter)):
            n = counts.get((site["unit"], site["site"]), 0)
            status = MET if n >= need else scope.shortfall(quarter)
            yield _finding(rule, "quarterly-visit", unit=site["unit"], site=site["site"], period=quarter,
                           status=status,
                           evidence=f"{quarter.name}{'或'.join(modes)}{n}次（要求至少{need}次）",
                           kind=site["enterprise_kind"], staff=site["staff"])


def check_plan_reported(scope: Scope) -> Iterator[Finding]:
    """M-2: the site's work plan is reported to the 企业组 by the deadline."""
    rule = scope.rulebook["M-2"]
    deadline = scope.rulebook.date_in_year(rule.get("deadline", "11-30"))
    year = _year_period(scope)
    for site in scope.current_sites():
        # every unit's rows up to the last month; a missing site name matches nothing (as in pandas)
        rows = [] if _missing(site["site"]) else scope.ledger_data.site_records("sites", site["unit"], site["site"])
        dates = [r["plan_date"] for r in rows if r["month"] <= scope.last_month and r["plan_date"] is not None]
        reported = min(dates) if dates else None
        if reported is not None:
            status = MET if reported <= deadline else FAILED
            evidence = f"工作方案{_d(reported)}上报（要求{_d(deadline)}前上报）"
        else:
            status = FAILED if scope.today > deadline else AT_RISK
            evidence = f"工作方案尚未上报（要求{_d(deadline)}前上报）"
        yield _finding(rule, "plan-reported", unit=site["unit"], site=site["site"], period=year,
                       status=status, evidence=evidence, kind=site["enterprise_kind"])


_CONGRESS = "党员大会"  # the one activity X-1 concerns


def _lacks_quorum(activity, expected, present) -> bool:
    """X-1: a 党员大会 counts only when more than half of its expected members were present."""
    if activity != _CONGRESS:
        return False
    if not (type(expected) is int and type(present) is int) and (_missing(expected) or _missing(present)):
        return False
    return int(present) * 2 <= int(expected)


def _quorum_rule_on(rulebook: Rulebook) -> bool:
    return rulebook["X-1"].get("enabled", True)


def split_activities(records: list[dict], rulebook: Rulebook) -> tuple[list[dict], list[dict]]:
    """Split 组织生活 records into those that count and 党员大会 without a quorum (X-1)."""
    if not _quorum_rule_on(rulebook):
        return records, []
    counted, excluded = [], []
    for r in records:  # the cheap test first: most rows are other activities
        if r["activity"] == _CONGRESS and _lacks_quorum(r["activity"], r["expected"], r["present"]):
            excluded.append(r)
        else:
            counted.append(r)
    return counted, excluded


def counted_activities(frame: pd.DataFrame, rulebook: Rulebook) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`split_activities` for a frame of 组织生活 rows."""
    if not _quorum_rule_on(rulebook) or frame.empty:
        return frame, frame.iloc[0:0]
    no_quorum = np.array([_lacks_quorum(*values) for values in zip(
        frame["activity"].tolist(), frame["expected"].tolist(), frame["present"].tolist())], dtype=bool)
    return frame[~no_quorum], frame[no_quorum]


def _tally(records: list[dict]) -> Counter:
    """How many rows each (unit, site, activity) has."""
    return Counter((r["unit"], r["site"], r["activity"]) for r in records)


def check_activity_frequency(scope: Scope) -> Iterator[Finding]:
    """S-4a..d / N-4a..d: activities per site per period, by enterprise kind (X-1 applied)."""
    book = scope.rulebook
    tallies: dict[str, tuple[dict, dict]] = {}  # period label -> (counted, excluded) per (unit, site, activity)
    for rule in book.frequency_rules():
        for period in scope.periods(rule.period):
            if period.label not in tallies:
                life = scope.ledger_data.records("org_life", months=scope.months_of(period))
                tallies[period.label] = tuple(_tally(part) for part in split_activities(life, book))
            counted, excluded = tallies[period.label]
            for site in scope.sites_in(scope.months_of(period)):
                if site["enterprise_kind"] != rule.applies_to:
                    continue
                key = (site["unit"], site["site"])
                counts = {name: counted.get((*key, name), 0) for name in rule.params["activities"]}
                met = all(counts[name] >= need for name, need in rule.params["activities"].items())
                parts = "、".join(f"{name}{n}次" for name, n in counts.items())
                needs = "、".join(f"{name}至少{need}次" for name, need in rule.params["activities"].items())
                evidence = f"{period.name}{parts}（要求{needs}）"
                dropped = sum(excluded.get((*key, name), 0) for name in rule.params["activities"])
                if dropped:
                    evidence += f"；另有{dropped}次党员大会实到人数未超过应到人数一半，不计入"
                yield _finding(rule, "activity-frequency", unit=site["unit"], site=site["site"],
                               period=period, status=MET if met else scope.shortfall(period),
                               evidence=evidence, kind=site["enterprise_kind"])


def _latest_hardware(scope: Scope) -> list[tuple[dict, dict]]:
    """(site row, latest 硬件设施 row) for each current site that has one."""
    out = []
    for s in scope.current_sites():
        rows = [r for r in scope.ledger_data.site_records("hardware", s["unit"], s["site"])
                if r["month"] <= scope.last_month]
        if rows:
            out.append((s, sorted(rows, key=_row_order)[-1]))  # the last of equals, as a stable sort leaves it
    return out


def check_hardware_items(scope: Scope) -> Iterator[Finding]:
    """S-5 / N-5: every item of the kind's hardware checklist is present."""
    for site, row in _latest_hardware(scope):
        rule = scope.rulebook.hardware_rule(site["enterprise_kind"])
        if rule is None:
            continue
        missing = [item for item in rule.params["items"] if row.get(_HW_NAMES[item]) != _YES]
        period = P.period_of(row["month"], "month")
        if missing:
            evidence = f"缺少{'、'.join(missing)}（共{len(missing)}项；要求{len(rule.params['items'])}项齐全）"
        else:
            evidence = f"{len(rule.params['items'])}项硬件设施齐全"
        yield _finding(rule, "hardware-items", unit=site["unit"], site=site["site"], period=period,
                       status=FAILED if missing else MET, evidence=evidence, kind=site["enterprise_kind"])


def check_room_area(scope: Scope) -> Iterator[Finding]:
    """N-5: the 党员活动室 is at least min_room_area square metres."""
    for site, row in _latest_hardware(scope):
        rule = scope.rulebook.hardware_rule(site["enterprise_kind"])
        if rule is None or "min_room_area" not in rule.params:
            continue
        need = float(rule.params["min_room_area"])
        area = row.get("room_area")
        area = None if _missing(area) else float(area)
        if area is None:
            status, evidence = FAILED, f"未填写党员活动室面积（要求不少于{_num(need)}平方米）"
        else:
            status = MET if area >= need else FAILED
            evidence = f"党员活动室面积{_num(area)}平方米（要求不少于{_num(need)}平方米）"
        yield _finding(rule, "room-area", unit=site["unit"], site=site["site"],
                       period=P.period_of(row["month"], "month"), status=status, evidence=evidence,
                       kind=site["enterprise_kind"])


@dataclass
class SubmissionState:
    """How one unit's form for one month stands (M-4b)."""

    unit: str
    month: str
    deadline: dt.date
    state: str  # ON_TIME / LATE / MISSING / RETURNED / NOT_DUE
    received: dt.date | None = None  # first accepted arrival
    days_late: int = 0
    resubmissions: int = 0  # accepted arrivals after the first
    file_ids: list[int] = field(default_factory=list)


def submitting_unit(file: dict) -> str | None:
    """The unit an arrival counts for: its per-unit inbox folder is authoritative (a file there
    counts for that unit even when its 填报单位 was misspelt and rejected for it)."""
    return file.get("folder_unit") or file.get("unit")


def submission_states(files: list[dict], rulebook: Rulebook, units: list[str], month: str,
                      today: dt.date) -> list[SubmissionState]:
    """On time / late / missing / returned for every unit, as of ``today``."""
    deadline = P.submission_deadline(month, rulebook.submission_deadline_day)
    by_unit: dict[str | None, list[dict]] = {}  # one pass over the arrivals, not one per unit
    for f in files:
        if f["month"] == month:
            by_unit.setdefault(submitting_unit(f), []).append(f)
    out = []
    for unit in units:
        mine = by_unit.get(unit, [])
        valid = sorted((f for f in mine if f["status"] in (ACCEPTED, SUPERSEDED)), key=lambda f: f["id"])
        if valid:
            received = dt.date.fromisoformat(valid[0]["received_at"][:10])
            late = (received - deadline).days
            out.append(SubmissionState(unit, month, deadline, ON_TIME if late <= 0 else LATE, received,
                                       max(late, 0), len(valid) - 1, [f["id"] for f in mine]))
        else:
            overdue = (today - deadline).days
            returned = any(f["status"] == REJECTED for f in mine)
            if returned:
                state = RETURNED
            else:
                state = MISSING if overdue > 0 else NOT_DUE
            out.append(SubmissionState(unit, month, deadline, state, None, max(overdue, 0), 0,
                                       [f["id"] for f in mine]))
    return out


def check_monthly_submission(scope: Scope) -> Iterator[Finding]:
    """M-4b: each unit's monthly form arrives by the deadline."""
    rule = scope.rulebook["M-4b"]
    for month in scope.months:
        period = P.period_of(month, "month")
        for s in submission_states(scope.ledger_data.files, scope.rulebook, scope.units, month, scope.today):
            due = f"截止日期{_d(s.deadline)}"
            if s.state == ON_TIME:
                status, evidence = MET, f"{period.name}报表{_d(s.received)}按时报送（{due}）"
            elif s.state == LATE:
                status, evidence = FAILED, f"{period.name}报表{_d(s.received)}报送，逾期{s.days_late}天（{due}）"
            elif s.state == NOT_DUE:
                status, evidence = AT_RISK, f"{period.name}报表尚未报送（{due}）"
            else:
                overdue = s.days_late > 0
                status = FAILED if overdue else AT_RISK
                what = "报表被退回后尚未重新报送" if s.state == RETURNED else "报表未报送"
                evidence = f"{period.name}{what}（{due}" + (f"，已逾期{s.days_late}天）" if overdue else "）")
            yield _finding(rule, "monthly-submission", unit=s.unit, site=None, period=period,
                           status=status, evidence=evidence)


def _problem_order(r: dict):
    """Sort key of (month, date, row), a missing value last: as ``sort_values`` orders them."""
    date, row = r["date"], r["row"]
    if type(date) is dt.date and type(row) is int:
        return r["month"], False, date, False, row
    return (r["month"], _missing(date), dt.date.min if _missing(date) else date,
            _missing(row), 0 if _missing(row) else row)


@dataclass
class ProblemRecord:
    """A problem found during liaison (X-2) and where it stands."""

    unit: str
    site: str
    month: str
    found: dt.date
    problem: str
    suggestion: str
    deadline: dt.date | None
    closed_on: dt.date | None
    staff: str


def tracked_problems(contacts: list[dict]) -> list[ProblemRecord]:
    """Problems recorded 未办结, each closed by a later record of the same site and text marked 已办结.

    ``contacts``: 联系指导记录 records.
    """
    # only rows with a problem text take part; sorting them alone keeps their order among all rows
    records = sorted((c for c in contacts if (c.get("problem") or "").strip()), key=_problem_order)
    closed: dict[tuple, list] = {}  # (unit, site, text) -> dates marked 已办结 (one pass, not one per problem)
    for c in records:
        text = (c.get("problem") or "").strip()
        if text and c.get("state") == "已办结":
            closed.setdefault((c["unit"], c["site"], text), []).append(c["date"])
    out = []
    for r in records:
        text = (r.get("problem") or "").strip()
        if not text or r.get("state") == "已办结":
            continue
        closures = [d for d in closed.get((r["unit"], r["site"], text), ()) if d >= r["date"]]
        out.append(ProblemRecord(r["unit"], r["site"], r["month"], r["date"], text, r.get("suggestion") or "",
                                 r.get("deadline"), min(closures) if closures else None, r.get("staff") or ""))
    # A problem repeated in later months while still open is one problem: keep its first record.
    unique: dict[tuple, ProblemRecord] = {}
    for p in out:
        unique.setdefault((p.unit, p.site, p.problem, p.closed_on), p)
    return list(unique.values())


def check_problem_closed(scope: Scope) -> Iterator[Finding]:
    """X-2: a problem still 未办结 past its 整改时限 is overdue."""
    rule = scope.rulebook["X-2"]
    units, last = set(scope.units), scope.last_month
    contacts = [c for c in scope.ledger_data.records("contacts") if c["month"] <= last and c["unit"] in units]
    months = tuple(sorted({c["month"] for c in contacts}))
    kinds = {(s["unit"], s["site"]): s["enterprise_kind"] for s in scope.sites_in(months)}
    for p in tracked_problems(contacts):
        period = P.period_of(p.month, "month")
        limit = f"整改时限{_d(p.deadline)}" if p.deadline else "未定整改时限"
        if p.closed_on is not None:
            status, evidence = MET, f"{_d(p.found)}发现的问题“{p.problem}”已于{_d(p.closed_on)}办结（{limit}）"
        elif p.deadline is not None and p.deadline < scope.today:
            status = FAILED
            evidence = (f"{_d(p.found)}发现的问题“{p.problem}”超过整改时限{_d(p.deadline)}仍未办结"
                        f"（逾期{(scope.today - p.deadline).days}天）")
        else:
            status, evidence = AT_RISK, f"{_d(p.found)}发现的问题“{p.problem}”正在整改（{limit}）"
        yield _finding(rule, "problem-closed", unit=p.unit, site=p.site, period=period, status=status,
                       evidence=evidence, kind=kinds.get((p.unit, p.site)), staff=p.staff or None)


@dataclass(frozen=True)
class Check:
    code: str
    clause: str  # the clause ID, or the family ("S-4/N-4") for checks driven by several rulebook entries
    run: Callable[[Scope], Iterable[Finding]]


CHECKS: list[Check] = [
    Check("site-count", "G-1", check_site_count),
    Check("contact-fixed", "M-1a", check_contact_fixed),
    Check("staff-assigned", "M-1a", check_staff_assigned),
    Check("monthly-contact", "M-1b", check_monthly_contact),
    Check("quarterly-visit", "M-1c", check_quarterly_visit),
    Check("plan-reported", "M-2", check_plan_reported),
    Check("activity-frequency", "S-4/N-4", check_activity_frequency),
    Check("hardware-items", "S-5/N-5", check_hardware_items),
    Check("room-area", "N-5", check_room_area),
    Check("monthly-submission", "M-4b", check_monthly_submission),
    Check("problem-closed", "X-2", check_problem_closed),
]


def roster_units(roster, data: LedgerData | None = None) -> list[str]:
    """Unit names in roster order; without a roster, the units found in the ledger."""
    if roster is not None and getattr(roster, "units", None):
        return [u.name for u in roster.units]
    names = {f["unit"] for f in (data.files if data else []) if f["unit"]}
    return sorted(names)


def roster_staff(roster) -> list[str]:
    return [s.name for s in getattr(roster, "staff", None) or []]


def make_scope(ledger: Ledger | LedgerData, rulebook: Rulebook, roster, *, months: list[str],
               today: dt.date, units: list[str] | None = None, sheets: Iterable[str] | None = None) -> Scope:
    """``sheets``: the sheets to load when ``ledger`` is a Ledger (all by default)."""
    if not months:
        raise ValueError("至少需要一个月份")
    months = sorted(set(months))
    # a unit's findings read only its own rows: a receipt must not load the whole ledger
    data = (ledger if isinstance(ledger, LedgerData)
            else LedgerData.load(ledger, until=max(months), units=units, sheets=sheets))
    if data.until is None or data.until > max(months):
        data = data.restrict(until=max(months))
    all_units = roster_units(roster, data)
    return Scope(data, rulebook, [u for u in all_units if units is None or u in units],
                 roster_staff(roster) if units is None else [], months, today)


def evaluate(ledger: Ledger | LedgerData, rulebook: Rulebook, roster, *, months: list[str],
             today: dt.date, units: list[str] | None = None) -> list[Finding]:
    """Every finding for the months given (data up to the last of them), as of ``today``.

    ``units`` narrows the evaluation to some units (staff findings are then left out).
    """
    scope = make_scope(ledger, rulebook, roster, months=months, today=today, units=units, sheets=CHECKED_SHEETS)
    out: list[Finding] = []
    for check in CHECKS:
        out.extend(check.run(scope))
    return sort_findings(out, scope.units)


_CLAUSE_ORDER = ["G-1", "M-1a", "M-1b", "M-1c", "M-2", "S-4a", "S-4b", "S-4c", "S-4d", "N-4a", "N-4b",
                 "N-4c", "N-4d", "S-5", "N-5", "M-4b", "X-2"]


def sort_findings(findings: list[Finding], units: list[str]) -> list[Finding]:
    unit_order = {u: i for i, u in enumerate(units)}
    clause_order = {c: i for i, c in enumerate(_CLAUSE_ORDER)}
    site_order: dict[tuple, int] = {}
    for f in findings:  # checks emit sites in the order the units listed them
        site_order.setdefault((f.unit, f.site or ""), len(site_order))
    return sorted(findings, key=lambda f: (unit_order.get(f.unit, -1), site_order[(f.unit, f.site or "")],
                                           clause_order.get(f.clause, 99), f.period, f.code, f.staff or ""))


def _d(day: dt.date | None) -> str:
    """2026年10月8日 — how dates read in Chinese official text."""
    if day is None:
        return "（未填写）"
    return f"{day.year}年{day.month}月{day.day}日"


def _num(value: float) -> str:
    return f"{value:g}"


date_cn = _d
number_cn = _num
