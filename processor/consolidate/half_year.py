"""The half-year report (半年工作报告): each site's path, compliance per requirement, typical sites."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from processor.common import cnfmt, periods
from processor.common.values import is_missing
from processor.consolidate import signable
from processor.consolidate.blocks import (HARDWARE_CODES, PRIVATE, SOE, STAFF_REQUIREMENT, cell_text, cn_list,
                                          count_of, decided_rate, finding_counts, finding_row, iso_date, latest_sites,
                                          mode_counts, one_per_requirement, period_span, progress_texts,
                                          requirement_title, shared_sites, site_names, typical_sites)
from processor.consolidate.findings import (AT_RISK, FAILED, LATE, MET, MISSING, RETURNED, STATUS_CN, Finding,
                                            LedgerData, counted_activities, roster_units, submission_states)
from processor.consolidate.snapshot import Snapshot
from processor.schemas.vocabulary import ACTIVITY_KINDS


AT_RISK_LABEL = STATUS_CN[AT_RISK]  # a period not ended: the one word every document uses
WORST = 3  # problems past their deadline named in 七、存在问题


@dataclass
class _HalfBasis:
    """The half's months of the office, its data and units, the registered sites, the months whose
    forms are due by the run's day, and the findings judged in the half."""

    half: periods.Period
    months: list[str]
    data: LedgerData
    units: list[str]
    sites: list[dict]
    due_months: list[str]
    findings: list[Finding]

    @classmethod
    def of(cls, snapshot: Snapshot, half: periods.Period) -> _HalfBasis:
        rulebook = snapshot.rulebook
        months = [m for m in half.months if m >= rulebook.start]  # the office's months only (calendar.start_month)
        data = snapshot.view(until=half.last)
        units = roster_units(snapshot.roster, data)
        sites = latest_sites(data, units)
        due_months = [m for m in months
                      if periods.submission_deadline(m, rulebook.submission_deadline_day) < snapshot.as_of]
        # one finding per requirement, subject and period (a hardware checklist and its room area are one)
        findings = one_per_requirement(snapshot.findings(months, until=half.last))
        # a problem closed before the half began was reported in its own half (as the monthly report does)
        findings = [f for f in findings
                    if not (f.code == "problem-closed" and f.closed_on and f.closed_on < half.start)]
        # a site judged here is a registered site or one with data in the half: a site its unit listed only
        # before the half (renamed or left out since) is not judged on the year's rules in it (SPEC §10)
        judged = {(s["unit"], s["site"]) for s in sites}
        judged |= {(r["unit"], r["site"]) for r in data.records("sites", months=months)}
        findings = [f for f in findings if f.site is None or f.code == "problem-closed" or (f.unit, f.site) in judged]
        return cls(half, months, data, units, sites, due_months, findings)


def half_year_context(snapshot: Snapshot, half: periods.Period) -> dict:
    """The half-year's report as of the run's as-of date (SPEC §10)."""
    rulebook, as_of = snapshot.rulebook, snapshot.as_of
    basis = _HalfBasis.of(snapshot, half)
    contacts = basis.data.records("contacts", months=basis.months)
    per_month = [mode_counts([c for c in contacts if c["month"] == m]) for m in basis.months]
    site_paths = _site_paths(basis.sites, basis.data, rulebook, half, basis.due_months)
    compliance_rows = _compliance_rows(basis.findings, rulebook, basis.due_months)
    versioned = len(rulebook.versions_between(half.first, half.last)) > 1
    shown = [f for f in basis.findings if f.status != MET]
    finding_rows = [finding_row(f, versioned) for f in shown]
    progress = basis.data.rows("progress", months=basis.months)
    full = {(p["unit"], p["site"]) for p in site_paths if p["months_reported"] == len(basis.due_months)}
    context = {
        "office_name": snapshot.ws.office_name,
        "addressee": snapshot.ws.addressee,
        "report_date": as_of.isoformat(),
        "half": half.label,
        "half_label": half.name,
        "next_label": _next_half_label(half),
        "rule_basis": rulebook.basis(half.first, half.last),
        "first_month": half.first,
        "last_month": half.last,
        "overview": {**_overview(basis, snapshot.roster, per_month),
                     "sites_note": shared_sites(snapshot, half.last)["sites_note"]},
        **_goods_and_pillars(basis, rulebook),
        **_plan_sections(site_paths, rulebook),
        "compliance_rows": compliance_rows,
        "typical_sites": _typical_sites(basis.findings, [s for s in basis.sites if (s["unit"], s["site"]) in full],
                                        progress),
        "findings": finding_rows,
        "finding_counts": finding_counts(finding_rows),
        "reported_problems": progress_texts(progress, "issues", basis.units),
        "next_steps": _half_year_steps(basis.findings, basis.sites, basis.units, _unit_states(basis, snapshot)),
        "plans": _latest_plans(progress, basis.units),
        "charts": _charts(half, basis, per_month, compliance_rows),
    }
    # the conclusion, 阶段情况 and the one problem list, its items in the list's short form
    added = signable.half_year({**context, "findings": [{**r, "problem": _list_item(f)}
                                                        for r, f in zip(finding_rows, shown, strict=True)]})
    added["problem_list"] = _alike_joined(_sites_together(added["problem_list"]))
    return {**context, **added, "worst_problems": _worst_problems(basis.findings)}


def _list_item(f: Finding) -> str:
    """One line of the problem list: what falls short, as short as it can be said with its dates whole (the
    report's as-of day, the submission deadline and the problem's first record are said once elsewhere)."""
    if f.code == "problem-closed" and f.status == FAILED:
        problem = cnfmt.quote_cn(f.problem or "")
        moved = f"（整改时限由{cnfmt.cn_date(f.extended_from)}延至{cnfmt.cn_date(f.deadline)}）" if (
            f.extended_from is not None and f.deadline is not None and f.deadline > f.extended_from) else ""
        if f.closed_on is not None and f.deadline is not None:  # closed, later than its deadline
            return f"{problem}逾期{(f.closed_on - f.deadline).days}天办结{moved}"
        if f.closed_on is None:  # the days counted to the report's as-of day, which its opening states
            return f"{problem}超过整改时限仍未办结，逾期{f.days}天{moved}"
    if f.message == "submitted-late":
        return f"{f.period_name}报表逾期{f.days}天报送"
    if f.message in ("not-submitted", "returned"):
        what = "未报送" if f.message == "not-submitted" else "被退回后尚未重新报送"
        return f"{f.period_name}报表{what}" + (f"，已逾期{f.days}天" if f.days else "")
    return finding_row(f)["problem"]


_NAMED_LINE = re.compile(r"^([^：\n]{1,8})：(.+)$")


def _alike_joined(rows: list[dict]) -> list[dict]:
    """The problem list with a row's lines that say the same of different people made one line
    ("方丽君、潘雪芳：没有联系的示范点（…）"): each person is still named, the row reads in a glance."""
    out = []
    for row in rows:
        lines = row["problem"].split("\n")
        named = [_NAMED_LINE.match(line) for line in lines]
        if len(lines) < 2 or not all(named):
            out.append(row)
            continue
        by_text: dict[str, list[str]] = {}
        for m in named:
            by_text.setdefault(m.group(2), []).append(m.group(1))
        out.append({**row, "problem": "\n".join(f"{'、'.join(who)}：{text}" for text, who in by_text.items())})
    return out


def _sites_together(rows: list[dict]) -> list[dict]:
    """The list's rows with each site's rows together under its unit (the list prints a band per site), the sites
    in the order of their most serious item (a problem past its deadline first)."""
    first: dict[tuple, int] = {}
    for i, r in enumerate(rows):
        first.setdefault((r["unit"], r["site"]), i)
    units: dict[str, int] = {}
    for r in rows:
        units.setdefault(r["unit"], len(units))
    return sorted(rows, key=lambda r: (units[r["unit"]], first[(r["unit"], r["site"])]))


def _worst_problems(findings: list[Finding]) -> list[str]:
    """The problems longest past their deadline and still open, by name (七、存在问题)."""
    overdue = [f for f in findings if f.code == "problem-closed" and f.status == FAILED and f.closed_on is None]
    overdue.sort(key=lambda f: -f.days)
    return [f"{f.unit}{f.site}{cnfmt.quote_cn(f.problem or '')}逾期{f.days}天" for f in overdue[:WORST]]


def _overview(basis: _HalfBasis, roster, per_month: list[dict]) -> dict:
    sites, units = basis.sites, basis.units
    staffed = [s for s in sites if s["staff"] in _roster_staff_names(roster)]
    reported = {(f["unit"], f["month"]) for f in basis.data.files if f["status"] in ("accepted", "superseded")
                and f["month"] in basis.due_months and f["unit"] in units}
    return {"units": len(units), "sites": len(sites), "soe_sites": sum(s["enterprise_kind"] == SOE for s in sites),
            "private_sites": sum(s["enterprise_kind"] == PRIVATE for s in sites),
            "staff": len(roster.staff) if roster is not None else 0,
            "staff_assigned": len({s["staff"] for s in staffed}), "sites_assigned": len(staffed),
            "sites_unassigned": len(sites) - len(staffed),
            "contacts": sum(c["total"] for c in per_month), "onsite": sum(c["onsite"] for c in per_month),
            "meeting": sum(c["meeting"] for c in per_month),
            "visits": sum(c["onsite"] + c["meeting"] for c in per_month),
            "months_reported": len(reported), "months_due": len(units) * len(basis.due_months)}


def _unit_states(basis: _HalfBasis, snapshot: Snapshot) -> dict[str, list]:
    """Each unit's submission states of the months due."""
    states: dict[str, list] = {}
    for m in basis.due_months:
        for st in submission_states(basis.data.files, snapshot.rulebook, basis.units, m, snapshot.as_of):
            states.setdefault(st.unit, []).append(st)
    return states


def _latest_members(basis: _HalfBasis, site_keys: set[tuple]) -> pd.DataFrame:
    """Each registered site's latest member figures of the half."""
    members = basis.data.rows("members", months=basis.months)
    latest = members.sort_values(["month", "row"]).groupby(["unit", "site"], sort=False).tail(1)
    return latest[[(u, s) in site_keys for u, s in zip(latest["unit"], latest["site"], strict=True)]]


def _goods_and_pillars(basis: _HalfBasis, rulebook) -> dict:
    """The "三个好" and the "五个一" of 固本强基, each a sentence of the half's figures."""
    sites, findings, label = basis.sites, basis.findings, basis.half.name
    site_keys = {(s["unit"], s["site"]) for s in sites}
    soe_keys = {(s["unit"], s["site"]) for s in sites if s["enterprise_kind"] == SOE}
    members_all = basis.data.rows("members", months=basis.months)
    latest_members = _latest_members(basis, site_keys)
    cross = [r for r in latest_members.to_dict("records")
             if (r["unit"], r["site"]) in soe_keys and count_of(r["cross_posts"])]
    life = basis.data.rows("org_life", months=basis.months)
    counted, _ = counted_activities(life, rulebook)
    appraised = {(r["unit"], r["site"]) for r in counted.to_dict("records") if r["activity"] == "民主评议党员"}
    hw_keys = {(f.unit, f.site) for f in findings if f.code in HARDWARE_CODES}
    hw_bad = {(f.unit, f.site) for f in findings if f.code in HARDWARE_CODES and f.status != MET}
    by_kind = Counter(life["activity"])
    activity_text = "、".join(f"{k}{by_kind[k]}次"
                              for k in sorted(by_kind, key=lambda k: (-by_kind[k], ACTIVITY_KINDS.index(k))))
    with_secretary = [s for s in sites if cell_text(s["secretary"])]
    # member figures are a state, not a half-year's sum: each site's latest form of the half, and said so
    as_at = _as_at(sorted(set(latest_members["month"])))

    def total(frame: pd.DataFrame, column: str) -> int:
        return sum(count_of(v) for v in frame[column])

    return {
        "goods": [
            {"name": "班子建设好", "text": f"{as_at}，国企示范点中有{len(cross)}个实行“双向进入、交叉任职”，交叉任职"
                                        f"{sum(count_of(r['cross_posts']) for r in cross)}人；{len(with_secretary)}个示范点"
                                        f"配齐党组织书记。"},
            {"name": "工作业绩好", "text": f"{as_at}，示范点所在企业党员责任区{total(latest_members, 'duty_zones')}个，"
                                        f"非公企业示范点参加“六个一”活动党员{total(latest_members, 'six_ones')}人。"},
            {"name": "群众评价好", "text": f"{label}已有{len(appraised & site_keys)}个示范点开展民主评议党员。"},
        ],
        "pillars": [
            {"name": "强有力的领导班子", "text": f"{len(sites)}个示范点中{len(with_secretary)}个党组织书记明确、班子健全。"},
            {"name": "先锋模范党员队伍",
             "text": f"{label}共发展党员{total(members_all, 'new_members')}名，其中一线工人"
                     f"{total(members_all, 'new_workers')}名；{as_at}，现有入党积极分子"
                     f"{total(latest_members, 'activists')}名，示范点党员合计"
                     f"{total(latest_members, 'total')}名。"},
            {"name": "有效活动机制", "text": (f"各示范点共开展组织生活{len(life)}次：{activity_text}。" if len(life)
                                          else "各示范点尚未报送组织生活记录。")},
            {"name": "一套工作制度", "text": _rate_sentence([f for f in findings if f.code == "activity-frequency"])},
            {"name": "完善的硬件设施", "text": f"{len(hw_keys) - len(hw_bad)}个示范点硬件设施达到“十二个有”或“十个一”标准，"
                                           f"{len(hw_bad)}个示范点尚未达标。"},
        ],
    }


def _as_at(months: list[str]) -> str:
    """When the member figures stood: 截至2026年12月, or, when the sites' latest forms are of several
    months, 截至各示范点本半年最近一次报送（2026年10月至12月）."""
    if not months:
        return "本半年各示范点未报送党员队伍情况"
    if len(months) == 1:
        return f"截至{periods.month_cn(months[0])}"
    return f"截至各示范点本半年最近一次报送（{periods.month_cn(months[0])}至{periods.month_cn(months[-1])}）"


def _plan_sections(site_paths: list[dict], rulebook) -> dict:
    """Each site's path, how many reported their work plan on time, late or not, and the M-2 dates."""
    plan_deadline, work_start = _m2_dates(rulebook)
    return {"site_paths": site_paths,
            "plan_counts": {"on_time": sum(p["plan_status"] == "按期上报" for p in site_paths),
                            "late": sum(p["plan_status"] == "逾期上报" for p in site_paths),
                            "missing": sum(p["plan_status"] == "未上报" for p in site_paths)},
            "work_started": sum(p["status"] == STARTED for p in site_paths),
            "plan_deadline": plan_deadline.isoformat(),
            "work_start": work_start.isoformat()}


def _charts(half: periods.Period, basis: _HalfBasis, per_month: list[dict], compliance_rows: list[dict]) -> dict:
    months, label = basis.months, half.name
    visits = [c["onsite"] + c["meeting"] for c in per_month]
    # months not yet due and without data have not happened for the report: never plotted as zero
    shown = [i for i, m in enumerate(months) if m in basis.due_months or per_month[i]["total"]]
    return {
        "chart_contacts_month": {"kind": "line", "title": f"{label}各月联系指导次数" + (
                                     f"（截至{int(months[shown[-1]][5:])}月）" if shown and len(shown) < len(months)
                                     else ""),
                                 "labels": [f"{int(months[i][5:])}月" for i in shown],
                                 "series": {"联系指导合计": [per_month[i]["total"] for i in shown],
                                            "其中现场指导和座谈会": [visits[i] for i in shown]},
                                 "ylabel": "次数"},
        # a requirement with nothing decided yet has no rate: it is not plotted as 0
        "chart_compliance": {"kind": "rows", "max": 100, "title": f"{label}各项要求达标率（%）",
                             "labels": [r["rule"] for r in compliance_rows if r["rate"] != ""],
                             "values": [round(r["rate"] * 100, 1) for r in compliance_rows if r["rate"] != ""],
                             "ylabel": "达标率（%）"},
    }


def _rate_sentence(frequency: list[Finding]) -> str:
    if not frequency:
        return "各示范点尚无可评价的组织生活制度执行记录。"
    met, failed = sum(f.status == MET for f in frequency), sum(f.status == FAILED for f in frequency)
    pending = len(frequency) - met - failed  # the period has not ended: neither met nor failed yet
    text = f"党员大会、组织生活会、党纪教育等制度共评价{len(frequency)}项次，其中达标{met}项次、未达标{failed}项次"
    if pending:
        text += f"，另有{pending}项次统计期未结束、{AT_RISK_LABEL}，不计为未达标"
    if met + failed:  # the rate of the periods already decided, not of those still running
        text += f"，已有结论的{met + failed}项次中执行率为{met / (met + failed) * 100:.1f}%"
    return text + "。"


STARTED, PLAN_ONLY, NO_PLAN = "已开展工作", "方案已上报，尚未开展组织生活", "尚未上报工作方案"


def _m2_dates(rulebook) -> tuple[dt.date, dt.date]:
    """M-2: the day work plans are due by, and the day work is to be under way."""
    rule = rulebook["M-2"]
    deadline = rule.date("deadline")
    return deadline, rule.date("work_start") if "work_start" in rule.params else deadline + dt.timedelta(days=1)


def _roster_staff_names(roster) -> set[str]:
    return {s.name for s in (roster.staff if roster is not None else [])}


def _next_half_label(half: periods.Period) -> str:
    """What the report's closing section plans for: the other half of the year, or next year's first."""
    year = int(half.label[:4])
    return f"{year}年下半年" if half.label.endswith("H1") else f"{year + 1}年上半年"


def _first_date(records: list[dict]) -> dt.date | None:
    return min((r["date"] for r in records if r["date"] is not None), default=None)


def _site_paths(sites: list[dict], data: LedgerData, rulebook, half: periods.Period, due_months: list[str]) -> list[dict]:
    """Each site's path from its own records: fixed, plan reported, first contact and visit,
    months reported and organisational life in the half, and since when it has been at work
    (``progress``, the annex's last column)."""
    deadline = _m2_dates(rulebook)[0]
    visit_modes = set(rulebook["M-1c"].get("onsite_modes", []))
    half_months = set(half.months)
    out = []
    for s in sites:
        key = (s["unit"], s["site"])
        contacts = data.site_records("contacts", *key)
        life = data.site_records("org_life", *key)
        reported = sorted({r["month"] for r in data.site_records("sites", *key) if r["month"] in due_months})
        plan = None if is_missing(s["plan_date"]) else s["plan_date"]  # as its latest form says: blank is blank
        first_contact = _first_date(contacts)
        first_visit = _first_date([c for c in contacts if c["mode"] in visit_modes])
        # work has started with the first 组织生活 the site records once its plan is reported
        life_months = sorted({r["month"] for r in life if plan is not None and r["month"] >= periods.month_of(plan)})
        start = life_months[0] if life_months else ""
        status = NO_PLAN if plan is None else STARTED if start else PLAN_ONLY
        plan_status = "未上报" if plan is None else "按期上报" if plan <= deadline else "逾期上报"
        activities = sum(r["month"] in half_months for r in life)
        row = {"unit": s["unit"], "site": s["site"], "kind": s["enterprise_kind"],
               "contact_date": iso_date(s["contact_date"]), "plan_date": iso_date(plan), "plan_status": plan_status,
               "first_contact": iso_date(first_contact), "first_visit": iso_date(first_visit),
               "months_reported": len(reported), "months_due": len(due_months), "activities": activities,
               "start_month": start, "status": status}
        row["progress"] = (f"{periods.month_cn(start)}起开展工作" if start else status) + (
            "；方案逾期上报" if plan_status == "逾期上报" else "")
        out.append(row)
    return out


_PERIOD_OF_CODE = {"monthly-contact": "month", "quarterly-visit": "quarter"}
NO_DATA = "no_data"


_UNIT_CODES = ("site-count", "monthly-submission")  # judged per unit, not per site
_requirement = requirement_title  # 附件2 and 附件3 name a requirement as every report does


def _subject(f: Finding) -> tuple:
    """What one line of 附件2 counts once: a unit, a site, a 企业组 member or a problem thread."""
    if f.code == "staff-assigned":
        return (f.staff,)
    if f.code == "problem-closed":
        return (f.unit, f.site, f.problem, f.found_on)
    return (f.unit, f.site)


def _subject_label(f: Finding, rule) -> str:
    if f.code in _UNIT_CODES:
        return "单位"
    if f.code == "staff-assigned":
        return STAFF_REQUIREMENT
    if f.code == "problem-closed":
        return "问题"
    return rule.applies_to or "示范点"  # 国企 / 非公: the requirement's name says it is of those sites


def _compliance_rows(findings: list[Finding], rulebook, due_months=()) -> list[dict]:
    """Per requirement: how many of its subjects (sites; units for G-1 and M-4b; 企业组 members for
    staff-assigned; problem threads for X-2) met it over every period, failed or are at risk, so that
    附件2 counts exactly the lines 附件3 lists.

    A site without data for a period that is due (its unit sent no form) has not met the rule:
    it is counted as ``no_data`` (本期未报送), never as met (SPEC §10).  The rate is of the subjects
    decided: 待完成 and 本期未报送 are in neither its numerator nor its denominator, as in the yearly
    summary."""
    rows = []
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        code = "hardware" if f.code in HARDWARE_CODES else f.code
        groups.setdefault((f.clause, code, _requirement(f)), []).append(f)
    for (clause, code, title), mine in groups.items():
        kind = _PERIOD_OF_CODE.get(code) or (rulebook[clause].period if code == "activity-frequency" else None)
        due = {periods.period_of(m, kind).label for m in due_months} if kind else set()
        subjects: dict[tuple, dict[str, list[str]]] = {}
        for f in mine:
            subjects.setdefault(_subject(f), {}).setdefault(f.period, []).append(f.status)
        verdict = []
        for statuses in subjects.values():
            st = [x for found in statuses.values() for x in found]
            verdict.append(FAILED if FAILED in st else AT_RISK if AT_RISK in st
                           else NO_DATA if due - set(statuses) else MET)
        rule = rulebook[clause]
        names = list(dict.fromkeys(f.period_name for f in sorted(mine, key=lambda f: f.period)))
        rows.append({"clause": clause, "rule": title,
                     "applies": _subject_label(mine[0], rule), "period": _within_year(period_span(names)),
                     "sites": len(verdict), "met": verdict.count(MET), "failed": verdict.count(FAILED),
                     "at_risk": verdict.count(AT_RISK), "no_data": verdict.count(NO_DATA),
                     "rate": decided_rate(verdict.count(MET), verdict.count(FAILED))})
    return rows


def _within_year(span: str) -> str:
    """A period of 附件2 without the year its title names once when it is all of one year ("2026年7月至2026年12月"
    -> "7月至12月", "2026年度" -> "全年"): the column stays narrow, the requirement keeps its room."""
    years = set(re.findall(r"(\d{4})年", span))
    if len(years) != 1:
        return span
    short = span.replace(f"{years.pop()}年", "")
    return "全年" if short == "度" else short.replace("季度、第", "、")  # 第三季度、第四季度 -> 第三、四季度


def _typical_sites(findings: list[Finding], sites: list[dict], progress: pd.DataFrame) -> list[dict]:
    """Sites meeting every requirement that applies to them, their practice in their own words
    (:func:`blocks.typical_sites`, as in the yearly summary's 经验做法)."""
    return typical_sites(findings, sites, progress)


def _half_year_steps(findings: list[Finding], sites: list[dict], units: list[str], states: dict[str, list]) -> list[str]:
    """The next half-year's work: one step per kind of open finding, naming the sites concerned;
    ``states``: each unit's submission states of the months due."""
    current = {(s["unit"], s["site"]) for s in sites}

    def open_sites(*codes) -> list[tuple]:
        keys = dict.fromkeys((f.unit, f.site) for f in findings if f.code in codes and f.status != MET)
        return [k for k in keys if k in current]

    steps = []
    unstaffed = [k for k in dict.fromkeys((f.unit, f.site) for f in findings
                                          if f.code == "contact-fixed" and not f.staff) if k in current]
    if unstaffed:
        steps.append(f"为{site_names(unstaffed)}确定企业组联系人员。")
    missing = [u for u in units if any(st.state in (MISSING, RETURNED) for st in states.get(u, []))]
    if missing:
        steps.append(f"督促{cn_list(missing)}补报未报送的月报表。")
    # every unit late in the half, however else it fell short (one also missing a month is late too)
    late = {u: sum(st.state == LATE for st in states.get(u, [])) for u in units}
    late = {u: n for u, n in late.items() if n}
    if late:
        steps.append(f"提醒{cn_list([f'{u}（逾期{n}次）' if n > 1 else u for u, n in late.items()])}"
                     f"在每月截止日期前报送月报表。")
    for codes, text in (
            (("monthly-contact",), "对{}坚持每月至少沟通联系一次。"),
            (("quarterly-visit",), "每季度至少一次深入{}现场指导或召开座谈会。"),
            (("plan-reported",), "指导{}完成工作方案制订并上报企业组。")):
        keys = open_sites(*codes)
        if keys:
            steps.append(text.format(site_names(keys)))
    lacking = _lacking_activities(findings, current)
    if lacking:  # each site with what it lacks, never an activity it held; many sites: counted, the list names them
        named = "；".join(f"{unit}{site}（{cn_list(names)}）" for (unit, site), names in lacking.items())
        steps.append(f"督促{len(lacking)}个示范点按规定频次补上尚未达到要求的组织生活：{named}。" if len(lacking) <= FEW
                     else f"督促{len(lacking)}个示范点按规定频次补上尚未达到要求的组织生活（示范点及所缺活动见附件3）。")
    hardware = {(f.unit, f.site): f.missing for f in findings  # merged: the checklist's gaps and the room's
                if f.code in HARDWARE_CODES and f.status != MET and (f.unit, f.site) in current}
    if hardware:  # each site with what it lacks; many sites: counted, the problem list (附件3) names them
        named = "；".join(f"{unit}{site}（{cn_list(list(missing))}）" if missing else f"{unit}{site}"
                         for (unit, site), missing in hardware.items())
        steps.append(f"对照“十二个有”“十个一”标准，跟踪{len(hardware)}个示范点补齐硬件设施：{named}。" if len(hardware) <= FEW
                     else f"对照“十二个有”“十个一”标准，跟踪{len(hardware)}个示范点补齐硬件设施（示范点及所缺项目见附件3）。")
    # a problem closed late is closed: only those still open past their deadline are to be put right
    overdue = [f for f in findings if f.code == "problem-closed" and f.status == FAILED and f.closed_on is None]
    if overdue:
        keys = list(dict.fromkeys((f.unit, f.site) for f in overdue))
        steps.append(f"督促{_few_named(keys)}对超过整改时限仍未办结的{len(overdue)}个问题尽快整改到位（见附件3）。")
    if not steps:
        steps.append("各示范点各项要求均已达标，继续按月做好联系指导和月报表报送工作。")
    return steps


def _lacking_activities(findings: list[Finding], current: set[tuple]) -> dict[tuple, list[str]]:
    """Each registered site's activities (组织生活) held less often than required in a period of the half."""
    lacking: dict[tuple, list[str]] = {}
    for f in findings:
        if f.code == "activity-frequency" and f.status != MET and (f.unit, f.site) in current:
            names = lacking.setdefault((f.unit, f.site), [])
            names.extend(a for a in f.missing if a not in names)
    return {key: names for key, names in lacking.items() if names}


def _latest_plans(progress: pd.DataFrame, units: list[str]) -> list[dict]:
    """Each site's latest 下月计划 (``progress``: the half's rows), one item per distinct plan with the
    sites that wrote it."""
    order = {u: i for i, u in enumerate(units)}
    rows = progress.sort_values(["month", "row"])
    latest: dict[tuple, str] = {}
    for r in rows.to_dict("records"):
        text = cell_text(r.get("next_plan"))
        if text:
            latest[(r["unit"], r["site"])] = text
    by_text: dict[str, list[tuple]] = {}
    for key in sorted(latest, key=lambda k: order.get(k[0], len(order))):
        by_text.setdefault(latest[key].rstrip("。；;"), []).append(key)
    return [{"text": text, "sites": _few_named(keys)} for text, keys in by_text.items()]


FEW = 2  # sites a step names (with what each lacks); more are counted, the problem list (附件3) naming them


def _few_named(keys: list[tuple]) -> str:
    """One or two sites by name; more by their count, for a step whose sites the problem list (附件3) names
    with what each lacks: the body says each thing once."""
    if len(keys) <= FEW:
        return cn_list([f"{unit}{site}" for unit, site in keys])
    return f"{len(keys)}个示范点"
