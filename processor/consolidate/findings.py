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
from collections import Counter
from dataclasses import asdict, dataclass, field
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from processor.common import cnfmt
from processor.common import periods as P
from processor.consolidate.ledger_data import LedgerData
from processor.consolidate.ledger_data import submitting_unit as submitting_unit  # for the overview
from processor.record.ledger import Ledger
from processor.common.rulebook import Rule, Rulebook, RuleSet
from processor.common.values import is_missing as _missing
from processor.consolidate.problems import problem_threads
# the monthly submission states (M-4b) are the findings' vocabulary too: importable from here
from processor.consolidate.submissions import LATE as LATE
from processor.consolidate.submissions import MISSING as MISSING
from processor.consolidate.submissions import NOT_DUE as NOT_DUE
from processor.consolidate.submissions import ON_TIME as ON_TIME
from processor.consolidate.submissions import RETURNED as RETURNED
from processor.consolidate.submissions import SubmissionState as SubmissionState
from processor.consolidate.submissions import submission_states as submission_states

if TYPE_CHECKING:  # numpy, pandas and the form models load where used: `status` needs none of them
    import pandas as pd

MET, AT_RISK, FAILED = "met", "at_risk", "failed"
WARNING = "warning"  # a check across months and files (processor.consolidate.quality): to look into, never a failure
STATUS_CN = {MET: "达标", AT_RISK: "待完成", FAILED: "未达标", WARNING: "需核实"}  # the one word of each state, in every document


_YES, _NO = "是", "否"


@dataclass(slots=True)  # a run holds tens of thousands: no per-instance __dict__
class Finding:
    """One requirement checked for one subject and period: typed facts, no prose.

    The Chinese sentence (:attr:`evidence`) is rendered from these fields by
    :data:`MESSAGES`, keyed by ``message``; reports, receipts and mails read the
    fields (``missing``, ``deadline``, ``observed`` …), never the sentence.
    """

    code: str
    clause: str
    title: str
    wording: str
    unit: str
    site: str | None
    period: str  # 2026-Q4 / 2026-10 / 2026-H2 / 2026
    period_name: str  # 2026年第四季度 …
    status: str  # met / at_risk / failed
    enterprise_kind: str | None = None
    staff: str | None = None  # the 企业组 member concerned (M-1a staff findings, site contacts)
    message: str = ""  # key of MESSAGES
    as_of: dt.date | None = None
    observed: float | int | None = None  # what was found (a count, an area)
    required: float | int | None = None  # what the rule asks
    low: int | None = None  # G-1's range
    missing: tuple[str, ...] = ()  # checklist items or activities still lacking
    counts: tuple[tuple[str, int, int], ...] = ()  # (activity, held, required) per activity
    excluded: int = 0  # 党员大会 without a quorum, not counted
    modes: tuple[str, ...] = ()  # contact modes that count (M-1c)
    deadline: dt.date | None = None  # rule deadline, submission deadline or a problem's 整改时限
    extended_from: dt.date | None = None  # a problem's first 整改时限 when a later record moved it
    on: dt.date | None = None  # the day it happened: contact fixed, plan or form received
    found_on: dt.date | None = None  # a problem: first recorded
    closed_on: dt.date | None = None  # a problem: recorded 已办结
    problem: str | None = None  # a problem's text as first recorded
    days: int = 0  # days late / overdue, counted to ``as_of``
    sites: tuple[str, ...] = ()  # a staff member's sites
    figures: tuple[tuple[str, int], ...] = ()  # named numbers a cross-month check compared
    rule_version: str = ""  # the rulebook version in force for the period (2026版)
    parts: tuple[str, ...] = ()  # the sentences of the findings merged into this one (one_per_requirement)

    @property
    def status_cn(self) -> str:
        return STATUS_CN[self.status]

    @property
    def is_open(self) -> bool:
        return self.status != MET

    @property
    def closed_late(self) -> bool:
        return self.closed_on is not None and self.deadline is not None and self.closed_on > self.deadline

    @property
    def evidence(self) -> str:
        """The Chinese sentence: what was found vs what is required."""
        return MESSAGES[self.message](self)

    def to_dict(self) -> dict:
        return {**asdict(self), "status_cn": self.status_cn, "evidence": self.evidence}


# --- the one registry of finding sentences (message key -> template) ----------------------

def _day_text(day: dt.date | None) -> str:
    """2026年10月8日 — how dates read in Chinese official text; （未填写） for a blank."""
    return cnfmt.cn_date(day) if day is not None else "（未填写）"


def _limit(f: Finding) -> str:
    if f.deadline is None:
        return "未定整改时限"
    if f.extended_from is not None:
        return f"整改时限{cnfmt.date_moved(f.extended_from, f.deadline)}"
    return f"整改时限{_day_text(f.deadline)}"


def _activities(f: Finding) -> str:
    held = "、".join(f"{name}{n}次" for name, n, _ in f.counts)
    needs = "、".join(f"{name}至少{need}次" for name, _, need in f.counts)
    text = f"{f.period_name}{held}（要求{needs}）"
    if f.excluded:
        text += f"；另有{f.excluded}次党员大会实到人数未超过应到人数一半，不计入"
    return text


_DUE = "截止日期"
MESSAGES: dict[str, Callable[[Finding], str]] = {
    "site-count": lambda f: f"{cnfmt.month_cn(f.period)}报送示范点{f.observed}个（要求{f.low}至{f.required}个）",
    "contact-fixed": lambda f: f"{_day_text(f.on)}确定由{f.staff}联系（要求{_day_text(f.deadline)}前确定）",
    "contact-fixed-late": lambda f: f"{_day_text(f.on)}才确定由{f.staff}联系（要求{_day_text(f.deadline)}前确定）",
    "contact-unfixed": lambda f: f"尚未确定联系的企业组人员（要求{_day_text(f.deadline)}前确定）",
    "staff-assigned": lambda f: f"联系示范点{len(f.sites)}个（{'、'.join(f.sites)}）",
    "staff-assigned-late": lambda f: (f"{_day_text(f.deadline)}前没有确定联系的示范点（{'、'.join(f.sites)}"
                                      f"于{_day_text(f.on)}才确定）"),
    "staff-unassigned": lambda f: f"没有联系的示范点（要求{_day_text(f.deadline)}前确定）",
    "monthly-contact": lambda f: f"{f.period_name}沟通联系{f.observed}次（要求至少{f.required}次）",
    "quarterly-visit": lambda f: (f"{f.period_name}{'或'.join(f.modes)}{f.observed}次"
                                  f"（要求至少{f.required}次）"),
    "plan-reported": lambda f: f"工作方案{_day_text(f.on)}上报（要求{_day_text(f.deadline)}前上报）",
    "plan-missing": lambda f: f"工作方案尚未上报（要求{_day_text(f.deadline)}前上报）",
    "activity-frequency": _activities,
    "hardware-missing": lambda f: (f"缺少{'、'.join(f.missing)}（共{len(f.missing)}项；"
                                   f"要求{f.required}项齐全）"),
    "hardware-complete": lambda f: f"{f.required}项硬件设施齐全",
    "room-area": lambda f: f"党员活动室面积{cnfmt.plain_num(f.observed)}平方米（要求不少于{cnfmt.plain_num(f.required)}平方米）",
    "room-area-blank": lambda f: f"未填写党员活动室面积（要求不少于{cnfmt.plain_num(f.required)}平方米）",
    "submitted": lambda f: f"{f.period_name}报表{_day_text(f.on)}按时报送（{_DUE}{_day_text(f.deadline)}）",
    "submitted-late": lambda f: f"{f.period_name}报表{_day_text(f.on)}报送，逾期{f.days}天（{_DUE}{_day_text(f.deadline)}）",
    "not-submitted": lambda f: (f"{f.period_name}报表未报送（{_DUE}{_day_text(f.deadline)}"
                                + (f"，截至{_day_text(f.as_of)}已逾期{f.days}天）" if f.days else "）")),
    "returned": lambda f: (f"{f.period_name}报表被退回后尚未重新报送（{_DUE}{_day_text(f.deadline)}"
                           + (f"，截至{_day_text(f.as_of)}已逾期{f.days}天）" if f.days else "）")),
    "problem-closed": lambda f: (f"{_day_text(f.found_on)}发现的问题{cnfmt.quote_cn(f.problem)}已于{_day_text(f.closed_on)}办结"
                                 f"（{_limit(f)}）"),
    "problem-closed-late": lambda f: (f"{_day_text(f.found_on)}发现的问题{cnfmt.quote_cn(f.problem)}于{_day_text(f.closed_on)}"
                                      f"逾期办结（{_limit(f)}）"),
    "problem-overdue": lambda f: (f"{_day_text(f.found_on)}发现的问题{cnfmt.quote_cn(f.problem)}超过整改时限仍未办结"
                                  f"（{_limit(f)}，截至{_day_text(f.as_of)}逾期{f.days}天）"),
    "problem-open": lambda f: f"{_day_text(f.found_on)}发现的问题{cnfmt.quote_cn(f.problem)}正在整改（{_limit(f)}）",
    "merged": lambda f: "；".join(f.parts),
    # checks across months and files (processor.consolidate.quality)
    "members-unexplained": lambda f: (
        "党员总数由上月{上月}人变为{本月}人，本月发展党员{发展}人、转出或纳入社区管理{转出}人，".format(**dict(f.figures))
        + f"有{f.observed}人的变化无法解释（允许相差{f.required}人）"),
    "site-dropped": lambda f: f"上月报送的示范点{cnfmt.quote_cn(f.site)}本月未报送，基本信息中也没有变更说明",
    "site-shared": lambda f: f"示范点{cnfmt.quote_cn(f.site)}同时由{'、'.join(f.sites)}登记",
    "copied-sheet": lambda f: (f"“{'、'.join(f.missing)}”表与上月内容完全相同（日期除外），疑似照抄上月"),
    "contact-reported-month": lambda f: (f"联系指导记录的日期{_day_text(f.on)}在{cnfmt.month_cn(f.on)}，"
                                         f"该月报表已经报送，这条记录却填在{f.period_name}报表中"),
}


# --- the data a check looks at ------------------------------------------------------------

# The sheets the checks read (a unit's evaluation loads only these).
CHECKED_SHEETS = ("sites", "contacts", "org_life", "hardware")


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

    def rules(self, period: P.Period | str) -> RuleSet:
        """The rules in force for a period (those in force in its first month) or a month."""
        return self.rulebook.at(period.first if isinstance(period, P.Period) else period)

    def milestone_period(self, rule: Rule) -> P.Period | None:
        """A one-time milestone's year, when the months in scope reach into it; else None (a
        milestone of the first year is not judged again in later years)."""
        year = P.period_of(P.month_str(rule.year, 1), "year")
        return year if min(self.months) <= year.last and self.last_month >= year.first else None

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


def make_finding(rules: RuleSet, rule: Rule, code: str, *, unit: str, site: str | None, period: P.Period,
             status: str, message: str | None = None, kind: str | None = None, staff: str | None = None,
             **facts) -> Finding:
    """``rules``: the version ``rule`` comes from; ``message``: the sentence's key in MESSAGES (the
    code by default); ``facts``: Finding's typed fields."""
    return Finding(code, rule.clause, rule.title, rule.wording, unit, site, period.label, _period_name(period),
                   status, kind, staff, message or code, rule_version=rules.label, **facts)


_finding = make_finding  # the rules below use the short name


@functools.lru_cache(maxsize=256)
def _period_name(period: P.Period) -> str:
    return period.name  # worked out once: a province's findings name the same few periods thousands of times


# --- checks --------------------------------------------------------------------------------

def check_site_count(scope: Scope) -> Iterator[Finding]:
    """G-1: each unit cultivates between min_sites and max_sites sites (its latest submission)."""
    sites = scope.current_sites()
    for unit in scope.units:
        listed = [s for s in sites if s["unit"] == unit]
        if not listed:
            continue  # nothing submitted yet: M-4b reports it
        month = listed[0]["month"]
        rules = scope.rules(month)
        rule = rules["G-1"]
        low, high = rule.get("min_sites", 1), rule.get("max_sites", 2)
        n = len(listed)
        status = MET if low <= n <= high else FAILED
        yield _finding(rules, rule, "site-count", unit=unit, site=None, period=P.period_of(month, "month"),
                       status=status, observed=n, low=low, required=high, as_of=scope.today)


def check_contact_fixed(scope: Scope) -> Iterator[Finding]:
    """M-1a: every site's 企业组 contact is fixed before the deadline."""
    rule = scope.rulebook["M-1a"]
    year = scope.milestone_period(rule)
    if year is None:
        return
    deadline = rule.date("deadline")
    for site in scope.current_sites():
        fixed = site["contact_date"]
        staff = site["staff"] or ""
        if fixed is not None and fixed < deadline and staff:
            status, message = MET, "contact-fixed"
        elif fixed is None or not staff:
            status = FAILED if scope.today >= deadline else AT_RISK
            message = "contact-unfixed"
        else:
            status, message = FAILED, "contact-fixed-late"
        yield _finding(scope.rules(year), rule, "contact-fixed", unit=site["unit"], site=site["site"], period=year,
                       status=status, message=message, kind=site["enterprise_kind"], staff=staff or None,
                       on=fixed, deadline=deadline, as_of=scope.today)


def check_staff_assigned(scope: Scope) -> Iterator[Finding]:
    """M-1a: every 企业组 member of the roster has at least one site fixed before the deadline."""
    rule = scope.rulebook["M-1a"]
    year = scope.milestone_period(rule)
    if year is None:
        return
    deadline = rule.date("deadline")
    sites = scope.current_sites()
    for name in scope.staff:
        mine = [s for s in sites if s["staff"] == name]
        in_time = [s for s in mine if s["contact_date"] is not None and s["contact_date"] < deadline]
        fixed = [s["contact_date"] for s in mine if s["contact_date"]]
        if in_time:
            status, message = MET, "staff-assigned"
        else:
            status = FAILED if scope.today >= deadline else AT_RISK
            message = "staff-assigned-late" if mine else "staff-unassigned"
        yield _finding(scope.rules(year), rule, "staff-assigned", unit="", site=None, period=year, status=status, message=message,
                       staff=name, sites=tuple(s["site"] for s in mine), on=min(fixed) if fixed else None,
                       deadline=deadline, as_of=scope.today)


def _site_counts(records: Iterable[dict]) -> Counter:
    """How many rows each (unit, site) has: one count instead of a filter per site."""
    return Counter((r["unit"], r["site"]) for r in records)


def _contact_counts(scope: Scope, months: Iterable[str], modes: tuple[str, ...] | None = None) -> Counter:
    """Contact rows (of ``modes``; of any mode without) per (unit, site) in ``months``: each month's
    counts, counted once for the data (every evaluation of the view adds the same months)."""
    total: Counter = Counter()
    for month in months:
        total.update(scope.ledger_data.derived(("contact counts", month, modes), functools.partial(
            _month_contacts, scope.ledger_data, month, modes)))
    return total


def _month_contacts(data: LedgerData, month: str, modes: tuple[str, ...] | None) -> Counter:
    return _site_counts(c for c in data.records("contacts", months=[month]) if modes is None or c["mode"] in modes)


def check_monthly_contact(scope: Scope) -> Iterator[Finding]:
    """M-1b: at least min_contacts contact records per site per month."""
    for month in scope.months:
        period = P.period_of(month, "month")
        rules = scope.rules(period)
        rule = rules["M-1b"]
        need = rule.get("min_contacts", 1)
        counts = _contact_counts(scope, (month,))
        for site in scope.sites_in((month,)):
            if site["month"] != month:
                continue
            n = counts.get((site["unit"], site["site"]), 0)
            status = MET if n >= need else scope.shortfall(period)
            yield _finding(rules, rule, "monthly-contact", unit=site["unit"], site=site["site"], period=period,
                           status=status, observed=n, required=need, as_of=scope.today,
                           kind=site["enterprise_kind"], staff=site["staff"])


def check_quarterly_visit(scope: Scope) -> Iterator[Finding]:
    """M-1c: at least min_visits on-site contacts (modes in onsite_modes) per site per quarter."""
    for quarter in scope.periods("quarter"):
        rules = scope.rules(quarter)
        rule = rules["M-1c"]
        need = rule.get("min_visits", 1)
        modes = list(rule.get("onsite_modes", []))
        counts = _contact_counts(scope, scope.months_of(quarter), tuple(modes))
        for site in scope.sites_in(scope.months_of(quarter)):
            n = counts.get((site["unit"], site["site"]), 0)
            status = MET if n >= need else scope.shortfall(quarter)
            yield _finding(rules, rule, "quarterly-visit", unit=site["unit"], site=site["site"], period=quarter,
                           status=status, observed=n, required=need, modes=tuple(modes), as_of=scope.today,
                           kind=site["enterprise_kind"], staff=site["staff"])


def check_plan_reported(scope: Scope) -> Iterator[Finding]:
    """M-2: the site's work plan is reported to the 企业组 by the deadline."""
    rule = scope.rulebook["M-2"]
    year = scope.milestone_period(rule)
    if year is None:
        return
    deadline = rule.date("deadline")
    for site in scope.current_sites():
        # the site's latest form says when its plan was reported: a date left blank there is blank,
        # not taken from an older form (SPEC §10)
        reported = None if _missing(site["plan_date"]) else site["plan_date"]
        if reported is not None:
            status, message = (MET if reported <= deadline else FAILED), "plan-reported"
        else:
            status, message = (FAILED if scope.today > deadline else AT_RISK), "plan-missing"
        yield _finding(scope.rules(year), rule, "plan-reported", unit=site["unit"], site=site["site"], period=year,
                       status=status, message=message, kind=site["enterprise_kind"], on=reported,
                       deadline=deadline, as_of=scope.today)


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
    import numpy as np

    no_quorum = np.array([_lacks_quorum(*values) for values in zip(
        frame["activity"].tolist(), frame["expected"].tolist(), frame["present"].tolist(), strict=True)], dtype=bool)
    return frame[~no_quorum], frame[no_quorum]


def _tally(records: list[dict]) -> Counter:
    """How many rows each (unit, site, activity) has."""
    return Counter((r["unit"], r["site"], r["activity"]) for r in records)


def check_activity_frequency(scope: Scope) -> Iterator[Finding]:
    """S-4a..d / N-4a..d: activities per site per period, by enterprise kind (X-1 applied)."""
    tallies: dict[str, tuple[dict, dict]] = {}  # period label -> (counted, excluded) per (unit, site, activity)
    for rule, rules, period in _frequency_periods(scope):
        if period.label not in tallies:
            tallies[period.label] = _period_tallies(scope, period, rules)
        counted, excluded = tallies[period.label]
        for site in scope.sites_in(scope.months_of(period)):
            if site["enterprise_kind"] != rule.applies_to:
                continue
            key = (site["unit"], site["site"])
            counts = tuple((name, counted.get((*key, name), 0), need)
                           for name, need in rule.params["activities"].items())
            lacking = tuple(name for name, held, need in counts if held < need)
            dropped = sum(excluded.get((*key, name), 0) for name in rule.params["activities"])
            yield _finding(rules, rule, "activity-frequency", unit=site["unit"], site=site["site"],
                           period=period, status=scope.shortfall(period) if lacking else MET,
                           counts=counts, missing=lacking, excluded=dropped, as_of=scope.today,
                           kind=site["enterprise_kind"])


def _period_tallies(scope: Scope, period: P.Period, rules: RuleSet) -> tuple[Counter, Counter]:
    """(counted, excluded) 组织生活 rows per (unit, site, activity) of the period, X-1 as ``rules`` have it:
    the sums of its months' tallies, each month tallied once for the data (:func:`_contact_counts`)."""
    counted, excluded = Counter(), Counter()
    for month in scope.months_of(period):
        tallies = scope.ledger_data.derived(("org_life tallies", month, _quorum_rule_on(rules)), lambda m=month: tuple(
            _tally(part) for part in split_activities(scope.ledger_data.records("org_life", months=[m]), rules)))
        counted.update(tallies[0])
        excluded.update(tallies[1])
    return counted, excluded


def _frequency_periods(scope: Scope) -> Iterator[tuple[Rule, RuleSet, P.Period]]:
    """(rule, its version, period) for every frequency rule and period in scope, each period judged
    by the rules in force in its first month; rules in the rulebook's clause order."""
    order = {clause: i for i, clause in enumerate(scope.rulebook.rules)}
    found = []
    for kind in scope.rulebook.frequency_periods:
        for period in scope.periods(kind):
            rules = scope.rules(period)
            found += [(rule, rules, period) for rule in rules.frequency_rules() if rule.period == kind]
    return iter(sorted(found, key=lambda x: (order.get(x[0].clause, 99), x[2])))


def _latest_hardware(scope: Scope) -> list[tuple[dict, dict]]:
    """(site row, latest 硬件设施 row of the months in scope) for each current site that has one.

    A site whose unit sent no form in those months has no row: it is neither met nor failed (SPEC §10)."""
    out = []
    months = set(scope.months)
    for s in scope.current_sites():
        rows = [r for r in scope.ledger_data.site_records("hardware", s["unit"], s["site"])
                if r["month"] in months]
        if rows:
            out.append((s, sorted(rows, key=_row_order)[-1]))  # the last of equals, as a stable sort leaves it
    return out


def check_hardware_items(scope: Scope) -> Iterator[Finding]:
    """S-5 / N-5: every item of the kind's hardware checklist is present."""
    from processor.schemas.layout import LAYOUT_BY_KEY

    hardware_names = LAYOUT_BY_KEY["hardware"].names  # Chinese column title -> field name
    for site, row in _latest_hardware(scope):
        period = P.period_of(row["month"], "month")
        rules = scope.rules(period)
        rule = rules.hardware_rule(site["enterprise_kind"])
        if rule is None:
            continue
        missing = [item for item in rule.params["items"] if row.get(hardware_names[item]) != _YES]
        yield _finding(rules, rule, "hardware-items", unit=site["unit"], site=site["site"], period=period,
                       status=FAILED if missing else MET,
                       message="hardware-missing" if missing else "hardware-complete",
                       missing=tuple(missing), required=len(rule.params["items"]),
                       observed=len(rule.params["items"]) - len(missing), as_of=scope.today,
                       kind=site["enterprise_kind"])


def check_room_area(scope: Scope) -> Iterator[Finding]:
    """N-5: the 党员活动室 is at least min_room_area square metres."""
    for site, row in _latest_hardware(scope):
        rules = scope.rules(row["month"])
        rule = rules.hardware_rule(site["enterprise_kind"])
        if rule is None or "min_room_area" not in rule.params:
            continue
        need = float(rule.params["min_room_area"])
        area = row.get("room_area")
        area = None if _missing(area) else float(area)
        status = MET if area is not None and area >= need else FAILED
        yield _finding(rules, rule, "room-area", unit=site["unit"], site=site["site"],
                       period=P.period_of(row["month"], "month"), status=status,
                       message="room-area" if area is not None else "room-area-blank",
                       observed=area, required=need, as_of=scope.today, kind=site["enterprise_kind"])


def check_monthly_submission(scope: Scope) -> Iterator[Finding]:
    """M-4b: each unit's monthly form arrives by the deadline.

    A month whose deadline is after the as-of day yields nothing unless a form already came
    (SPEC §10: not yet due is "未到报送期限", never "尚未报送")."""
    for month in scope.months:
        period = P.period_of(month, "month")
        rules = scope.rules(period)
        rule = rules["M-4b"]
        for s in submission_states(scope.ledger_data.files, scope.rulebook, scope.units, month, scope.today):
            if s.state in (ON_TIME, LATE):
                status = MET if s.state == ON_TIME else FAILED
                message = "submitted" if s.state == ON_TIME else "submitted-late"
            elif s.deadline >= scope.today:
                continue  # not yet due (a returned form may still be resubmitted in time)
            else:
                status, message = FAILED, "returned" if s.state == RETURNED else "not-submitted"
            yield _finding(rules, rule, "monthly-submission", unit=s.unit, site=None, period=period,
                           status=status, message=message, on=s.received, deadline=s.deadline,
                           days=s.days_late, as_of=scope.today)


def check_problem_closed(scope: Scope) -> Iterator[Finding]:
    """X-2: a problem is closed by its (latest) 整改时限; still open past it is overdue,
    closed after it is 逾期办结.

    The problems listed are those found by the last month in scope; each one's status is its status
    as of the run's day, from every record of the snapshot (SPEC §10): a problem of December closed in
    the January form is closed in the December and half-year reports of a February run too."""
    units, last, data = frozenset(scope.units), scope.last_month, scope.ledger_data
    contacts = data.derived(("snapshot contacts", units),
                            lambda: [c for c in data.snapshot_records("contacts") if c["unit"] in units])
    months = tuple(sorted({c["month"] for c in contacts if c["month"] <= last}))
    kinds = {(s["unit"], s["site"]): s["enterprise_kind"] for s in scope.sites_in(months)}
    for p in data.derived(("problem threads", units), lambda: problem_threads(contacts)):
        if p.month > last:
            continue  # found after the period: listed in the reports of its own month
        deadline, closed = p.deadline, p.closed_on
        if closed is not None:
            late = deadline is not None and closed > deadline
            status, message, days = (FAILED, "problem-closed-late", (closed - deadline).days) if late \
                else (MET, "problem-closed", 0)
        elif deadline is not None and deadline < scope.today:
            status, message, days = FAILED, "problem-overdue", (scope.today - deadline).days
        else:
            status, message, days = AT_RISK, "problem-open", 0
        first = p.first_deadline
        rules = scope.rules(p.month)
        yield _finding(rules, rules["X-2"], "problem-closed", unit=p.unit, site=p.site, period=P.period_of(p.month, "month"),
                       status=status, message=message, kind=kinds.get((p.unit, p.site)), staff=p.staff or None,
                       problem=p.problem, found_on=p.found, closed_on=closed, deadline=deadline,
                       extended_from=first if first is not None and deadline is not None and first != deadline else None,
                       days=days, as_of=scope.today)


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
    # nothing before the first month the office collects is judged (config.toml [calendar] start_month)
    months = sorted({m for m in months if m >= rulebook.start}) or sorted(set(months))
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

