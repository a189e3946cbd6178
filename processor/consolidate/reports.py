"""Report contexts: one function per report, turning ledger data and findings into a plain dict.

The keys of each dict are the contract documented in :mod:`tests.report_samples`
(the templates render exactly these).  Every count in a sentence is computed
from the very list the table shows, dates are ISO strings, and no value is
``None``.

Every report of one consolidation run is dated by the run's one *as-of* day (the
``today`` each builder is given, SPEC §10): it prints "数据截至…", and every overdue
day and at-risk status is counted to it.  Re-running a night with the same data and
the same as-of day yields the same context (and the same files).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pandas as pd

from processor.common import cnfmt
from processor.common import periods as P
from processor.consolidate.findings import (AT_RISK, FAILED, LATE, MET, MISSING, NOT_DUE, ON_TIME, RETURNED, Finding,
                                            LedgerData, counted_activities, evaluate, roster_units, submission_states)
from processor.common.values import is_missing
from processor.consolidate.ledger_data import received_instant
from processor.consolidate.quality import warning_rows
from processor.record.ledger import Ledger
from schemas.form import ACTIVITY_KINDS, CONTACT_MODES, ENTERPRISE_KINDS, SHEETS_BY_KEY

SOE, PRIVATE = ENTERPRISE_KINDS  # 国企, 非公
MODE_KEYS = dict(zip(("phone", "onsite", "meeting", "other"), CONTACT_MODES, strict=True))
STATUS_LABEL = {MET: "达标", FAILED: "未达标", AT_RISK: "存在风险"}
UNASSIGNED = "未确定"
_HW_NAMES = SHEETS_BY_KEY["hardware"].names


# --- shared helpers -------------------------------------------------------------------------

def _data(ledger: Ledger | LedgerData, until: str | None = None, units=None) -> LedgerData:
    if isinstance(ledger, LedgerData):
        return ledger.restrict(until=until, units=units) if (until or units is not None) else ledger
    return LedgerData.load(ledger, until=until, units=units)


def _iso(day) -> str:
    return day.isoformat() if isinstance(day, dt.date) else ""


def _int(value) -> int:
    if is_missing(value):
        return 0
    return int(value)


def _text(value) -> str:
    if is_missing(value):
        return ""
    return str(value).strip()


def _cn_list(names: list[str]) -> str:
    return "、".join(names)


def _quarter_label(period: P.Period) -> str:
    return period.name.split("年", 1)[1]


def finding_row(f: Finding, versioned: bool = False) -> dict:
    """``versioned``: the report applies more than one rulebook version, so each row names its own."""
    problem = f"{f.staff}：{f.evidence}" if f.code == "staff-assigned" else f.evidence
    rule = f"{f.title}（{f.rule_version}）" if versioned and f.rule_version else f.title
    return {"clause": f.clause, "rule": rule, "unit": f.unit or "企业组", "site": f.site or "",
            "problem": problem, "status": STATUS_LABEL[f.status]}


def _finding_counts(rows: list[dict]) -> dict:
    return {"total": len(rows), "failed": sum(r["status"] == "未达标" for r in rows),
            "at_risk": sum(r["status"] == "存在风险" for r in rows)}


def latest_sites(data: LedgerData, units: list[str]) -> list[dict]:
    frame = data.rows("sites")
    if frame.empty:
        return []
    frame = frame[frame["month"] == frame.groupby("unit")["month"].transform("max")]
    order = {u: i for i, u in enumerate(units)}
    rows = [r for r in frame.to_dict("records") if r["unit"] in order]
    return sorted(rows, key=lambda r: (order[r["unit"]], _int(r["row"])))


def _mode_counts(contacts: list[dict]) -> dict:
    modes = Counter(c["mode"] for c in contacts)
    counts = {key: modes[mode] for key, mode in MODE_KEYS.items()}
    counts["total"] = sum(counts.values())
    return counts


def _member_sums(frame: pd.DataFrame) -> dict:
    fields = {"total": "total", "new": "new_members", "new_workers": "new_workers",
              "new_intellectuals": "new_intellectuals", "activists": "activists", "mobile": "mobile",
              "mobile_managed": "mobile_managed", "duty_zones": "duty_zones", "six_ones": "six_ones"}
    return {key: sum(_int(v) for v in frame[col]) for key, col in fields.items()}


HARDWARE_CODES = ("hardware-items", "room-area")


def _hardware_rows(findings: list[Finding], sites: list[dict]) -> list[dict]:
    """Sites whose checklist or room area falls short, with what is missing (from the findings' fields)."""
    kinds = {(s["unit"], s["site"]): s["enterprise_kind"] for s in sites}
    gaps: dict[tuple, list[str]] = {}
    area: dict[tuple, object] = {}
    for f in findings:
        key = (f.unit, f.site)
        if f.code == "hardware-items" and f.status != MET:
            gaps.setdefault(key, []).insert(0, "、".join(f.missing))
        elif f.code == "room-area":
            area[key] = f.observed
            if f.status != MET:
                what = ("未填写党员活动室面积" if f.observed is None
                        else f"党员活动室面积不足{cnfmt.plain_num(f.required)}㎡")
                gaps.setdefault(key, []).append(what)
    return [{"unit": unit, "site": site, "kind": kinds.get((unit, site), f.enterprise_kind or ""),
             "missing": "；".join(parts), "area": "" if area.get((unit, site)) is None else float(area[(unit, site)])}
            for (unit, site), parts in gaps.items()]


def _progress_texts(frame: pd.DataFrame, column: str, units: list[str]) -> list[dict]:
    order = {u: i for i, u in enumerate(units)}
    seen, out = set(), []
    for r in sorted(frame.to_dict("records"), key=lambda r: (order.get(r["unit"], 999), r["month"], _int(r["row"]))):
        text = _text(r.get(column))
        if text and (r["unit"], r["site"], text) not in seen:
            seen.add((r["unit"], r["site"], text))
            out.append({"unit": r["unit"], "site": r["site"], "text": text})
    return out


def _named_sites(findings: list[Finding]) -> list[str]:
    return list(dict.fromkeys(f"{f.unit}{f.site}" for f in findings))


def _open(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code and f.status != MET]


def _next_steps(findings: list[Finding], *, missing_units=(), late_units=(), period_end: str = "",
                rulebook=None, horizon: str = "下月") -> list[str]:
    steps = []
    if missing_units:
        steps.append(f"督促{_cn_list(list(missing_units))}尽快补报月报表。")
    if late_units:
        steps.append(f"提醒{_cn_list(list(late_units))}今后在截止日期前报送月报表。")
    no_contact = _named_sites(_open(findings, "monthly-contact"))
    if no_contact:
        steps.append(f"对未按月沟通联系的{len(no_contact)}个示范点（{_cn_list(no_contact)}），{horizon}优先开展联系。")
    no_visit = _named_sites(_open(findings, "quarterly-visit"))
    if no_visit:
        steps.append(f"企业组各成员{period_end}对尚未现场指导的{len(no_visit)}个示范点开展现场指导。")
    plans = {(f.unit, f.site) for f in _open(findings, "plan-reported")}
    if plans and rulebook is not None:
        deadline = rulebook["M-2"].date("deadline")
        steps.append(f"指导{len(plans)}个尚未按期上报工作方案的示范点完成方案制订并上报企业组"
                     f"（规定期限{cnfmt.md_date(deadline)}）。")
    lacking: dict[str, list[str]] = {}  # site -> the activities it still lacks in a period
    for f in _open(findings, "activity-frequency"):
        names = lacking.setdefault(f"{f.unit}{f.site}", [])
        names.extend(a for a in f.missing if a not in names)
    if lacking:
        named = "；".join(f"{site}（{_cn_list(names)}）" for site, names in lacking.items())
        steps.append(f"提醒{len(lacking)}个示范点按规定频次开展尚未开展的组织生活：{named}。")
    hardware = {(f.unit, f.site) for f in _open(findings, "hardware-items") + _open(findings, "room-area")}
    if hardware:
        steps.append(f"对硬件设施不达标的{len(hardware)}个示范点逐一跟踪整改。")
    overdue = [f for f in _open(findings, "problem-closed") if f.status == FAILED and f.closed_on is None]
    if overdue:
        steps.append(f"督促{len(overdue)}个超过整改时限的问题尽快整改到位。")
    if not steps:
        steps.append("继续按月做好联系指导和月报表报送工作。")
    return steps


# --- 月度汇总报告 -----------------------------------------------------------------------------

def monthly_report_context(ledger, ws, roster, month: str, today: dt.date) -> dict:
    """``today`` is the run's as-of date (SPEC §10): every output of one run prints it and counts
    overdue days to it."""
    rulebook = ws.rulebook
    data = _data(ledger, until=month)
    units = roster_units(roster, data)
    as_of = today
    findings = evaluate(data, rulebook, roster, months=[month], today=as_of)
    deadline = P.submission_deadline(month, rulebook.submission_deadline_day)
    quarter = P.period_of(month, "quarter")

    # Two bases (SPEC §10): the sites every unit has registered (its latest form up to this month),
    # and the sites with data for this month.  A site of a unit that did not report is 本月未报送.
    sites = latest_sites(data, units)
    reported = _month_sites(data, month, units)
    reported_keys = {(s["unit"], s["site"]) for s in reported}
    unreported = [{"unit": s["unit"], "site": s["site"]} for s in sites
                  if (s["unit"], s["site"]) not in reported_keys]
    contacts = data.records("contacts", months=[month])
    contacts_by_site: dict[tuple, list[dict]] = {}
    for c in contacts:
        contacts_by_site.setdefault((c["unit"], c["site"]), []).append(c)
    states = submission_states(data.files, rulebook, units, month, as_of)

    site_rows = []
    for s in reported:
        mine = contacts_by_site.get((s["unit"], s["site"]), [])
        site_rows.append({"unit": s["unit"], "site": s["site"], "kind": s["enterprise_kind"],
                          "staff": s["staff"] or UNASSIGNED, **_mode_counts(mine),
                          "last_date": _iso(max(c["date"] for c in mine)) if mine else ""})
    unit_rows = []
    for st in states:
        mine = [r for r in site_rows if r["unit"] == st.unit]
        unit_kind = roster.unit(st.unit).kind if roster is not None and roster.unit(st.unit) else ""
        status = st.state if st.state in (ON_TIME, LATE) else MISSING
        note = {LATE: f"逾期{st.days_late}天", RETURNED: "已退回待重报",
                NOT_DUE: "未到报送期限"}.get(st.state, f"已逾期{st.days_late}天" if st.days_late else "")
        if st.state in (ON_TIME, LATE) and st.returned:
            note = "；".join(filter(None, [note, "退回后重报"]))
        elif st.resubmissions:
            note = "；".join(filter(None, [note, "已更正重报"]))
        unit_rows.append({"unit": st.unit, "kind": unit_kind, "status": status, "received": _iso(st.received),
                          "sites": len(mine), "contacts": sum(r["total"] for r in mine), "note": note})
    submission = {
        "due": len(unit_rows),
        "on_time": sum(r["status"] == ON_TIME for r in unit_rows),
        "late": sum(r["status"] == LATE for r in unit_rows),
        "missing": sum(r["status"] == MISSING for r in unit_rows),
        "late_units": [r["unit"] for r in unit_rows if r["status"] == LATE],
        "missing_units": [r["unit"] for r in unit_rows if r["status"] == MISSING],
        "resubmitted_units": [st.unit for st in states if st.resubmissions and not st.returned],
        "returned_units": [{"unit": st.unit, "received": _iso(st.received)}
                           for st in states if st.returned and st.state in (ON_TIME, LATE)],
    }
    staff_rows = _staff_rows(roster, sites, contacts)
    summary = {k: sum(r[k] for r in site_rows) for k in ("total", "phone", "onsite", "meeting", "other")}
    summary["sites_contacted"] = sum(r["total"] > 0 for r in site_rows)
    summary["elsewhere"] = sum(r["elsewhere"] for r in staff_rows)
    staff_of = {(s["unit"], s["site"]): s["staff"] or UNASSIGNED for s in sites}
    no_contact = [{"unit": f.unit, "site": f.site, "staff": staff_of.get((f.unit, f.site), UNASSIGNED)}
                  for f in _open(findings, "monthly-contact")]
    no_visit = [{"unit": f.unit, "site": f.site, "staff": staff_of.get((f.unit, f.site), UNASSIGNED)}
                for f in _open(findings, "quarterly-visit") if (f.unit, f.site) in reported_keys]

    members = data.rows("members", months=[month])
    # a boolean Series, not a list: an empty list would select no columns rather than no rows
    members = members[pd.Series([(u, s) in reported_keys for u, s in zip(members["unit"], members["site"], strict=True)],
                                index=members.index, dtype=bool)]
    soe = [s for s in sites if s["enterprise_kind"] == SOE]
    private = [s for s in sites if s["enterprise_kind"] == PRIVATE]
    reported_soe = [s for s in reported if s["enterprise_kind"] == SOE]
    soe_keys = {(s["unit"], s["site"]) for s in reported_soe}
    cross = [r for r in members.to_dict("records") if (r["unit"], r["site"]) in soe_keys and _int(r["cross_posts"])]

    life, _ = counted_activities(data.rows("org_life", months=[month]), rulebook.at(month))
    life_all = data.rows("org_life", months=[month])
    by_kind = Counter(life_all["activity"])
    org_rows = [{"kind": k, "count": by_kind[k]}
                for k in sorted(by_kind, key=lambda k: (-by_kind[k], ACTIVITY_KINDS.index(k)))]

    # the month's findings on the month's basis: sites without data this month are left out, and a
    # problem closed late in an earlier month was reported then
    first = P.first_day(month)
    findings = [f for f in findings if f.site is None or f.code == "problem-closed"
                or (f.unit, f.site) in reported_keys]
    findings = [f for f in findings if not (f.code == "problem-closed" and f.closed_on and f.closed_on < first)]
    frequency_rows = _frequency_rows(findings, rulebook, month)
    hardware_keys = {(f.unit, f.site) for f in findings if f.code in HARDWARE_CODES}
    hardware_rows = _hardware_rows(findings, sites)
    finding_rows = [finding_row(f) for f in findings if f.status != MET]
    problems = [f for f in findings if f.code == "problem-closed"]
    problem_rows = [_problem_row(f) for f in problems if f.status != MET or (f.closed_on and f.closed_on >= first)]
    progress = data.rows("progress", months=[month])
    quality = warning_rows(data, rulebook, month, units)  # 数据质量 (checks across months and files)
    context = {
        "office_name": ws.office_name,
        "addressee": ws.addressee,
        "report_date": as_of.isoformat(),
        "as_of": as_of.isoformat(),
        "month": month,
        "rule_basis": rulebook.basis(month, month),
        "deadline": deadline.isoformat(),
        "quarter_label": _quarter_label(quarter),
        "quarter_end": quarter.end.isoformat(),
        "overview": {"units": len(units), "sites": len(sites), "soe_sites": len(soe), "private_sites": len(private),
                     "reported_sites": len(reported), "unreported_sites": len(unreported)},
        "submission": submission,
        "unit_rows": unit_rows,
        "contact_summary": summary,
        "staff_rows": staff_rows,
        "unassigned_sites": sum(s["staff"] in (None, "") for s in sites),
        "site_rows": site_rows,
        "unreported_sites": unreported,
        "sites_no_contact": no_contact,
        "sites_no_visit": no_visit,
        "team": {"soe_sites": len(reported_soe), "cross_sites": len(cross),
                 "cross_posts": sum(_int(r["cross_posts"]) for r in cross),
                 "private_sites": len(reported) - len(reported_soe)},
        "members": _member_sums(members),
        "org_life": {"total": len(life_all), "by_kind": org_rows},
        "frequency_rows": frequency_rows,
        "hardware": {"sites": len(hardware_keys), "complete": len(hardware_keys) - len(hardware_rows),
                     "incomplete": len(hardware_rows)},
        "hardware_rows": hardware_rows,
        "findings": finding_rows,
        "finding_counts": _finding_counts(finding_rows),
        "problem_rows": problem_rows,
        "problem_counts": _problem_counts(problem_rows),
        "quality_rows": quality,
        "quality_units": len({r["unit"] for r in quality}),
        "reported_problems": _progress_texts(progress, "issues", units),
        "progress": _grouped_texts(progress, "progress", units),
        "plans": _grouped_texts(progress, "next_plan", units),
        "next_steps": _next_steps(findings, missing_units=submission["missing_units"],
                                  late_units=submission["late_units"],
                                  period_end=f"在{_quarter_label(quarter)}结束前", rulebook=rulebook),
        "charts": {
            "chart_submission": {"kind": "bar", "title": f"{P.month_cn(month)}各单位报送情况",
                                 "labels": [ON_TIME, LATE, MISSING],
                                 "values": [submission["on_time"], submission["late"], submission["missing"]],
                                 "ylabel": "单位数（个）"},
            "chart_contacts": _contacts_chart(month, staff_rows),
        },
    }
    context["sentences"] = _monthly_sentences(context, len(life))
    return context


def _month_sites(data: LedgerData, month: str, units: list[str]) -> list[dict]:
    """The sites listed in this month's accepted forms, in roster and row order."""
    order = {u: i for i, u in enumerate(units)}
    rows = [r for r in data.records("sites", months=[month]) if r["unit"] in order and _text(r["site"])]
    return sorted(rows, key=lambda r: (order[r["unit"]], _int(r["row"])))


def _problem_row(f: Finding) -> dict:
    """One problem thread (X-2) as the report lists it: its latest deadline, an extension shown."""
    if f.closed_on is not None:
        state = "逾期办结" if f.closed_late else "已办结"
    elif f.status == FAILED:
        state = f"逾期{f.days}天未办结"
    else:
        state = "正在整改"
    limit = cnfmt.md_date(f.deadline) if f.deadline else "未定"
    if f.extended_from is not None:
        # on two unbroken lines ("由10月30日" / "延至11月30日"): the column stays narrow, no date is split
        limit = cnfmt.date_moved(f.extended_from, f.deadline, sep="\n")
    moved = f.extended_from is not None
    return {"unit": f.unit, "site": f.site or "", "problem": f.problem or "", "found": _iso(f.found_on),
            "deadline": limit, "extended": moved and f.deadline > f.extended_from,
            "shortened": moved and f.deadline < f.extended_from, "state": state,
            "overdue": f.closed_on is None and f.status == FAILED}


def _problem_counts(rows: list[dict]) -> dict:
    return {"total": len(rows), "closed": sum(r["state"] in ("已办结", "逾期办结") for r in rows),
            "closed_late": sum(r["state"] == "逾期办结" for r in rows),
            "open": sum(r["state"] == "正在整改" for r in rows), "overdue": sum(r["overdue"] for r in rows),
            "extended": sum(r["extended"] for r in rows), "shortened": sum(r["shortened"] for r in rows)}


def _grouped_texts(frame: pd.DataFrame, column: str, units: list[str]) -> list[dict]:
    """The month's texts of one column, each distinct text once with the sites that wrote it."""
    groups: dict[str, list[str]] = {}
    for r in _progress_texts(frame, column, units):
        groups.setdefault(r["text"].rstrip("。；;. "), []).append(f"{r['unit']}{r['site']}")
    return [{"text": text, "sites": _sites_named(names), "count": len(names)}
            for text, names in sorted(groups.items(), key=lambda kv: -len(kv[1]))]


SITES_NAMED = 3  # beyond this many, a merged text names its first site and the count


def _sites_named(names: list[str]) -> str:
    if len(names) <= SITES_NAMED:
        return cnfmt.join_cn(names)
    return f"{names[0]}等{len(names)}个示范点"


CHART_MAX_BARS = 30  # beyond this many people a bar each is illegible on an A4 page: one bar per group


def _contacts_chart(month: str, staff_rows: list[dict]) -> dict:
    rows, who, label = staff_rows, "企业组成员", "staff"
    if len(staff_rows) > CHART_MAX_BARS:
        rows, who, label = _group_totals(staff_rows), "企业组各组", "group"
    return {"kind": "grouped_bar", "title": f"{P.month_cn(month)}{who}联系指导次数",
            "labels": [r[label] for r in rows],
            "series": {MODE_KEYS[key]: [r[key] for r in rows] for key in ("phone", "onsite", "meeting")},
            "ylabel": "次数"}


def _group_totals(staff_rows: list[dict]) -> list[dict]:
    """The staff rows summed per group, groups in roster order."""
    groups: dict[str, dict] = {}
    for r in staff_rows:
        total = groups.setdefault(r["group"], {"group": r["group"], "phone": 0, "onsite": 0, "meeting": 0})
        for key in ("phone", "onsite", "meeting"):
            total[key] += r[key]
    return list(groups.values())


def _staff_rows(roster, sites: list[dict], contacts: list[dict]) -> list[dict]:
    """Per 企业组 member: the registered sites assigned to them, and the contacts they recorded
    (SPEC §10: a contact counts for the person written on its row), by kind, of which at sites
    not assigned to them."""
    people = [(s.group, s.name) for s in (roster.staff if roster is not None else [])]
    known = {n for _, n in people}
    others = [_text(s["staff"]) for s in sites] + [_text(c["staff"]) for c in contacts]
    people += [("未列入名册", n) for n in dict.fromkeys(others) if n and n not in known]
    assigned = {(s["unit"], s["site"]): _text(s["staff"]) for s in sites}
    by_person: dict[str, list[dict]] = {}
    for c in contacts:
        by_person.setdefault(_text(c["staff"]), []).append(c)
    rows = []
    for group, name in people:
        made = by_person.get(name, [])
        rows.append({"group": group, "staff": name, "sites": sum(v == name for v in assigned.values()),
                     **_mode_counts(made),
                     "elsewhere": sum(assigned.get((c["unit"], c["site"])) != name for c in made)})
    return rows


def _frequency_rows(findings: list[Finding], rulebook, month: str) -> list[dict]:
    """Per frequency rule: the sites of its kind reported this month (the findings are already on that
    basis), how many met it in the period that contains the month, are 待完成 or 未达标."""
    rows = []
    for rule in rulebook.frequency_rules_for(month):
        period = P.period_of(month, rule.period)
        mine = [f for f in findings if f.code == "activity-frequency" and f.clause == rule.clause
                and f.period == period.label]
        if not mine:
            continue
        met = sum(f.status == MET for f in mine)
        failed = sum(f.status == FAILED for f in mine)
        rows.append({"clause": rule.clause, "rule": rule.wording, "applies": rule.applies_to,
                     "period": period.name, "sites": len(mine), "met": met, "pending": len(mine) - met - failed,
                     "failed": failed})
    return rows


def _monthly_sentences(c: dict, counted_life: int) -> dict:
    s = c["submission"]
    named = f"（{_cn_list(s['missing_units'])}）" if s["missing_units"] else ""
    late = f"（{_cn_list(s['late_units'])}）" if s["late_units"] else ""
    cs = c["contact_summary"]
    fc = c["finding_counts"]
    return {
        "submission": f"本月应报单位{s['due']}个，按时报送{s['on_time']}个，逾期报送{s['late']}个{late}，"
                      f"未报送{s['missing']}个{named}。",
        "contacts": f"本月企业组成员共联系指导{cs['total']}次，其中电话联系{cs['phone']}次、现场指导{cs['onsite']}次、"
                    f"座谈会{cs['meeting']}次、其他{cs['other']}次，覆盖本月报送的{c['overview']['reported_sites']}个"
                    f"示范点中的{cs['sites_contacted']}个。",
        "org_life": f"各示范点本月开展组织生活{c['org_life']['total']}次。",
        "findings": f"对照实施意见，本月共发现问题{fc['total']}项，其中未达标{fc['failed']}项、存在风险{fc['at_risk']}项。",
    }


# --- 半年工作报告 ------------------------------------------------------------------------------

def half_year_context(ledger, ws, roster, half: P.Period, today: dt.date) -> dict:
    rulebook = ws.rulebook
    months = [m for m in half.months if m >= rulebook.start]  # the office's months only (calendar.start_month)
    data = _data(ledger, until=half.last)
    units = roster_units(roster, data)
    as_of = today  # the run's as-of date (SPEC §10)
    findings = evaluate(data, rulebook, roster, months=months, today=as_of)
    # a problem closed before the half began was reported in its own half (as the monthly report does)
    findings = [f for f in findings if not (f.code == "problem-closed" and f.closed_on and f.closed_on < half.start)]
    sites = latest_sites(data, units)
    # a site judged here is a registered site or one with data in the half: a site its unit listed only
    # before the half (renamed or left out since) is not judged on the year's rules in it (SPEC §10)
    judged = {(s["unit"], s["site"]) for s in sites}
    judged |= {(r["unit"], r["site"]) for r in data.records("sites", months=months)}
    findings = [f for f in findings if f.site is None or f.code == "problem-closed" or (f.unit, f.site) in judged]
    soe = [s for s in sites if s["enterprise_kind"] == SOE]
    private = [s for s in sites if s["enterprise_kind"] == PRIVATE]
    contacts = data.records("contacts", months=months)
    due_months = [m for m in months if P.submission_deadline(m, rulebook.submission_deadline_day) < as_of]
    per_month = [_mode_counts([c for c in contacts if c["month"] == m]) for m in months]
    # months not yet due and without data have not happened for the report: never plotted as zero
    shown = [i for i, m in enumerate(months) if m in due_months or per_month[i]["total"]]
    staffed = [s for s in sites if s["staff"] in _roster_staff_names(roster)]
    reported = {(f["unit"], f["month"]) for f in data.files if f["status"] in ("accepted", "superseded")
                and f["month"] in due_months and f["unit"] in units}
    states: dict[str, list] = {}
    for m in due_months:
        for st in submission_states(data.files, rulebook, units, m, as_of):
            states.setdefault(st.unit, []).append(st)
    life = data.rows("org_life", months=months)
    counted, _ = counted_activities(life, rulebook)
    members_all = data.rows("members", months=months)
    site_keys = {(s["unit"], s["site"]) for s in sites}
    soe_keys = {(s["unit"], s["site"]) for s in soe}
    latest_members = members_all.sort_values(["month", "row"]).groupby(["unit", "site"], sort=False).tail(1)
    latest_members = latest_members[[(u, s) in site_keys for u, s in zip(latest_members["unit"], latest_members["site"], strict=True)]]
    cross = [r for r in latest_members.to_dict("records") if (r["unit"], r["site"]) in soe_keys and _int(r["cross_posts"])]
    appraised = {(r["unit"], r["site"]) for r in counted.to_dict("records") if r["activity"] == "民主评议党员"}

    site_paths = _site_paths(sites, data, rulebook, half, due_months)
    compliance_rows = _compliance_rows(findings, rulebook, due_months)
    frequency = [f for f in findings if f.code == "activity-frequency"]
    hw_keys = {(f.unit, f.site) for f in findings if f.code in ("hardware-items", "room-area")}
    hw_bad = {(f.unit, f.site) for f in findings if f.code in ("hardware-items", "room-area") and f.status != MET}
    by_kind = Counter(life["activity"])
    activity_text = "、".join(f"{k}{by_kind[k]}次" for k in sorted(by_kind, key=lambda k: (-by_kind[k], ACTIVITY_KINDS.index(k))))
    with_secretary = [s for s in sites if _text(s["secretary"])]
    versioned = len(rulebook.versions_between(half.first, half.last)) > 1
    finding_rows = [{**finding_row(f, versioned), "rule": _requirement(f, versioned)}
                    for f in findings if f.status != MET]
    progress = data.rows("progress", months=months)
    full = {(p["unit"], p["site"]) for p in site_paths if p["months_reported"] == len(due_months)}
    typical = _typical_sites(findings, [s for s in sites if (s["unit"], s["site"]) in full], progress)
    label = half.name
    visits = [c["onsite"] + c["meeting"] for c in per_month]
    context = {
        "office_name": ws.office_name,
        "addressee": ws.addressee,
        "report_date": as_of.isoformat(),
        "half": half.label,
        "half_label": label,
        "next_label": _next_half_label(half),
        "rule_basis": rulebook.basis(half.first, half.last),
        "first_month": half.first,
        "last_month": half.last,
        "overview": {"units": len(units), "sites": len(sites), "soe_sites": len(soe), "private_sites": len(private),
                     "staff": len(roster.staff) if roster is not None else 0,
                     "staff_assigned": len({s["staff"] for s in staffed}), "sites_assigned": len(staffed),
                     "sites_unassigned": len(sites) - len(staffed),
                     "contacts": sum(c["total"] for c in per_month), "onsite": sum(c["onsite"] for c in per_month),
                     "meeting": sum(c["meeting"] for c in per_month), "visits": sum(visits),
                     "months_reported": len(reported), "months_due": len(units) * len(due_months)},
        "goods": [
            {"name": "班子建设好", "text": f"国企示范点中有{len(cross)}个实行“双向进入、交叉任职”，交叉任职"
                                        f"{sum(_int(r['cross_posts']) for r in cross)}人；{len(with_secretary)}个示范点"
                                        f"配齐党组织书记。"},
            {"name": "工作业绩好", "text": f"示范点所在企业党员责任区{sum(_int(v) for v in latest_members['duty_zones'])}个，"
                                        f"非公企业示范点参加“六个一”活动党员{sum(_int(v) for v in latest_members['six_ones'])}人。"},
            {"name": "群众评价好", "text": f"{label}已有{len(appraised & site_keys)}个示范点开展民主评议党员。"},
        ],
        "pillars": [
            {"name": "强有力的领导班子", "text": f"{len(sites)}个示范点中{len(with_secretary)}个党组织书记明确、班子健全。"},
            {"name": "先锋模范党员队伍",
             "text": f"{label}共发展党员{sum(_int(v) for v in members_all['new_members'])}名，其中一线工人"
                     f"{sum(_int(v) for v in members_all['new_workers'])}名；现有入党积极分子"
                     f"{sum(_int(v) for v in latest_members['activists'])}名，示范点党员合计"
                     f"{sum(_int(v) for v in latest_members['total'])}名。"},
            {"name": "有效活动机制", "text": (f"各示范点共开展组织生活{len(life)}次：{activity_text}。" if len(life)
                                          else "各示范点尚未报送组织生活记录。")},
            {"name": "一套工作制度", "text": _rate_sentence(frequency)},
            {"name": "完善的硬件设施", "text": f"{len(hw_keys) - len(hw_bad)}个示范点硬件设施达到“十二个有”或“十个一”标准，"
                                           f"{len(hw_bad)}个示范点尚未达标。"},
        ],
        "site_paths": site_paths,
        "plan_counts": {"on_time": sum(p["plan_status"] == "按期上报" for p in site_paths),
                        "late": sum(p["plan_status"] == "逾期上报" for p in site_paths),
                        "missing": sum(p["plan_status"] == "未上报" for p in site_paths)},
        "work_started": sum(p["status"] == STARTED for p in site_paths),
        "plan_deadline": _m2_dates(rulebook)[0].isoformat(),
        "work_start": _m2_dates(rulebook)[1].isoformat(),
        "compliance_rows": compliance_rows,
        "typical_sites": typical,
        "findings": finding_rows,
        "finding_counts": _finding_counts(finding_rows),
        "reported_problems": _progress_texts(progress, "issues", units),
        "next_steps": _half_year_steps(findings, sites, units, states),
        "plans": _latest_plans(progress, units),
        "charts": {
            "chart_contacts_month": {"kind": "line", "title": f"{label}各月联系指导次数" + (
                                         f"（截至{int(months[shown[-1]][5:])}月）" if shown and len(shown) < len(months)
                                         else ""),
                                     "labels": [f"{int(months[i][5:])}月" for i in shown],
                                     "series": {"联系指导合计": [per_month[i]["total"] for i in shown],
                                                "其中现场指导和座谈会": [visits[i] for i in shown]},
                                     "ylabel": "次数"},
            "chart_compliance": {"kind": "rows", "max": 100, "title": f"{label}各项要求达标率（%）",
                                 "labels": [r["rule"] for r in compliance_rows],
                                 "values": [round(r["rate"] * 100, 1) for r in compliance_rows],
                                 "ylabel": "达标率（%）"},
        },
    }
    return context


def _rate_sentence(frequency: list[Finding]) -> str:
    if not frequency:
        return "各示范点尚无可评价的组织生活制度执行记录。"
    met, failed = sum(f.status == MET for f in frequency), sum(f.status == FAILED for f in frequency)
    pending = len(frequency) - met - failed  # the period has not ended: neither met nor failed yet
    text = f"党员大会、组织生活会、党纪教育等制度共评价{len(frequency)}项次，其中达标{met}项次、未达标{failed}项次"
    if pending:
        text += f"，另有{pending}项次统计期未结束、尚待完成（附件3列为“存在风险”）"
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


def _next_half_label(half: P.Period) -> str:
    """What the report's closing section plans for: the other half of the year, or next year's first."""
    return "下半年" if half.label.endswith("H1") else "明年上半年"


def _first_date(records: list[dict]) -> dt.date | None:
    return min((r["date"] for r in records if r["date"] is not None), default=None)


def _site_paths(sites: list[dict], data: LedgerData, rulebook, half: P.Period, due_months: list[str]) -> list[dict]:
    """Each site's path from its own records: fixed, plan reported, first contact and visit,
    months reported and organisational life in the half, and since when it has been at work
    (``progress``, the annex's last column)."""
    deadline = _m2_dates(rulebook)[0]
    visit_modes = set(rulebook["M-1c"].get("onsite_modes", []))
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
        life_months = sorted({r["month"] for r in life if plan is not None and r["month"] >= P.month_of(plan)})
        start = life_months[0] if life_months else ""
        status = NO_PLAN if plan is None else STARTED if start else PLAN_ONLY
        plan_status = "未上报" if plan is None else "按期上报" if plan <= deadline else "逾期上报"
        activities = sum(r["month"] in half.months for r in life)
        row = {"unit": s["unit"], "site": s["site"], "kind": s["enterprise_kind"],
               "contact_date": _iso(s["contact_date"]), "plan_date": _iso(plan), "plan_status": plan_status,
               "first_contact": _iso(first_contact), "first_visit": _iso(first_visit),
               "months_reported": len(reported), "months_due": len(due_months), "activities": activities,
               "start_month": start, "status": status}
        row["progress"] = (f"{P.month_cn(start)}起开展工作" if start else status) + (
            "；方案逾期上报" if plan_status == "逾期上报" else "")
        out.append(row)
    return out


_PERIOD_OF_CODE = {"monthly-contact": "month", "quarterly-visit": "quarter"}
_HARDWARE_CODES = ("hardware-items", "room-area")  # one requirement (S-5 / N-5): its checklist and its room area
NO_DATA = "no_data"


_UNIT_CODES = ("site-count", "monthly-submission")  # judged per unit, not per site
STAFF_REQUIREMENT = "企业组人员"  # staff-assigned (M-1a) is judged per 企业组 member: its own line


def _requirement(f: Finding, versioned: bool = False) -> str:
    """The requirement a finding is counted under, as 附件2 and 附件3 of the half-year report name it
    (``versioned``: with the rule version, when the report applies more than one)."""
    title = STAFF_REQUIREMENT + f.title if f.code == "staff-assigned" else f.title
    return f"{title}（{f.rule_version}）" if versioned and f.rule_version else title


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
    return f"{rule.applies_to or ''}示范点"


def _compliance_rows(findings: list[Finding], rulebook, due_months=()) -> list[dict]:
    """Per requirement: how many of its subjects (sites; units for G-1 and M-4b; 企业组 members for
    staff-assigned; problem threads for X-2) met it over every period, failed or are at risk, so that
    附件2 counts exactly the lines 附件3 lists.

    A site without data for a period that is due (its unit sent no form) has not met the rule:
    it is counted as ``no_data`` (本期未报送), never as met (SPEC §10)."""
    rows = []
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        code = "hardware" if f.code in _HARDWARE_CODES else f.code
        groups.setdefault((f.clause, code, _requirement(f)), []).append(f)
    for (clause, code, title), mine in groups.items():
        kind = _PERIOD_OF_CODE.get(code) or (rulebook[clause].period if code == "activity-frequency" else None)
        due = {P.period_of(m, kind).label for m in due_months} if kind else set()
        subjects: dict[tuple, dict[str, list[str]]] = {}
        for f in mine:
            subjects.setdefault(_subject(f), {}).setdefault(f.period, []).append(f.status)
        verdict = []
        for periods in subjects.values():
            st = [x for found in periods.values() for x in found]
            verdict.append(FAILED if FAILED in st else AT_RISK if AT_RISK in st
                           else NO_DATA if due - set(periods) else MET)
        rule = rulebook[clause]
        names = list(dict.fromkeys(f.period_name for f in sorted(mine, key=lambda f: f.period)))
        rows.append({"clause": clause, "rule": title,
                     "applies": _subject_label(mine[0], rule), "period": _period_span(names),
                     "sites": len(verdict), "met": verdict.count(MET), "failed": verdict.count(FAILED),
                     "at_risk": verdict.count(AT_RISK), "no_data": verdict.count(NO_DATA),
                     "rate": verdict.count(MET) / len(verdict) if verdict else 0.0})
    return rows


def _period_span(names: list[str]) -> str:
    if len(names) <= 2:
        return "、".join(names)
    return f"{names[0]}至{names[-1]}"


TYPICAL_SENTENCES = 4  # enough to say what a site does, short enough to read as one item


def _typical_sites(findings: list[Finding], sites: list[dict], progress: pd.DataFrame) -> list[dict]:
    """Sites meeting every requirement that applies to them: their reported progress, each sentence once,
    is the practice to spread."""
    out = []
    for s in sites:
        mine = [f for f in findings if f.unit == s["unit"] and f.site == s["site"]]
        if not mine or any(f.status != MET for f in mine):
            continue
        rows = progress[(progress["unit"] == s["unit"]) & (progress["site"] == s["site"])]
        sentences = _sentences(_text(t) for t in rows.sort_values(["month", "row"])["progress"])
        if sentences:
            out.append({"unit": s["unit"], "site": s["site"],
                        "practice": "；".join(sentences[-TYPICAL_SENTENCES:]) + "。"})
    return out


def _sentences(texts) -> list[str]:
    """The sentences of some texts, each once, in order (a site repeats last month's wording)."""
    seen: dict[str, None] = {}
    for text in texts:
        for part in re.split(r"[。；;！!\n]+", text):
            part = part.strip(" ，,、")
            if part:
                seen.setdefault(part, None)
    return list(seen)


def _site_names(keys: list[tuple], limit: int = 3) -> str:
    """"甲、乙、丙等5个示范点" — the sites named, the count always said."""
    names = [f"{unit}{site}" for unit, site in keys]
    if len(names) == 1:
        return names[0]
    return f"{_cn_list(names[:limit])}等{len(names)}个示范点"


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
        steps.append(f"为{_site_names(unstaffed)}确定企业组联系人员。")
    missing = [u for u in units if any(st.state in (MISSING, RETURNED) for st in states.get(u, []))]
    if missing:
        steps.append(f"督促{_cn_list(missing)}补报未报送的月报表。")
    late = [u for u in units if u not in missing and any(st.state == LATE for st in states.get(u, []))]
    if late:
        steps.append(f"提醒{_cn_list(late)}在每月截止日期前报送月报表。")
    for codes, text in (
            (("monthly-contact",), "对{}坚持每月至少沟通联系一次。"),
            (("quarterly-visit",), "每季度至少一次深入{}现场指导或召开座谈会。"),
            (("plan-reported",), "指导{}完成工作方案制订并上报企业组。"),
            (("activity-frequency",), "督促{}按规定频次召开党员大会、组织生活会、民主生活会，开展党纪教育、民主评议和党员培训。"),
            (_HARDWARE_CODES, "对照“十二个有”“十个一”标准，跟踪{}补齐硬件设施、达到活动室面积要求。")):
        keys = open_sites(*codes)
        if keys:
            steps.append(text.format(_site_names(keys)))
    # a problem closed late is closed: only those still open past their deadline are to be put right
    overdue = [f for f in findings if f.code == "problem-closed" and f.status == FAILED and f.closed_on is None]
    if overdue:
        keys = list(dict.fromkeys((f.unit, f.site) for f in overdue))
        steps.append(f"督促{_site_names(keys)}对超过整改时限仍未办结的{len(overdue)}个问题尽快整改到位。")
    if not steps:
        steps.append("各示范点各项要求均已达标，继续按月做好联系指导和月报表报送工作。")
    return steps


def _latest_plans(progress: pd.DataFrame, units: list[str]) -> list[dict]:
    """Each site's latest 下月计划 (``progress``: the half's rows), one item per distinct plan with the
    sites that wrote it."""
    order = {u: i for i, u in enumerate(units)}
    rows = progress.sort_values(["month", "row"])
    latest: dict[tuple, str] = {}
    for r in rows.to_dict("records"):
        text = _text(r.get("next_plan"))
        if text:
            latest[(r["unit"], r["site"])] = text
    by_text: dict[str, list[tuple]] = {}
    for key in sorted(latest, key=lambda k: order.get(k[0], len(order))):
        by_text.setdefault(latest[key].rstrip("。；;"), []).append(key)
    return [{"text": text, "sites": _site_names(keys)} for text, keys in by_text.items()]


# --- 年度工作总结 ------------------------------------------------------------------------------

# Findings the yearly tables count: each is one subject (site, or unit for M-4b/G-1) in one period.
_YEAR_SKIPPED = ("staff-assigned", "problem-closed")


def year_report_context(ledger, ws, roster, year: P.Period, today: dt.date) -> dict:
    """The year's compliance per clause and per site, for the annual 述职/考核 (SPEC §10 counting).

    Every figure counts findings — one subject in one period (项次) — of periods that have begun by
    the as-of date: a period not yet due yields nothing, one still open is 待完成, only a closed one
    can be 未达标.  A site without data for a period is not counted for it (its unit's missing form
    is counted under M-4b)."""
    rulebook = ws.rulebook
    months = [m for m in year.months if m >= rulebook.start]  # the office's months only (calendar.start_month)
    data = _data(ledger, until=year.last)
    units = roster_units(roster, data)
    as_of = today  # the run's as-of date (SPEC §10)
    findings = evaluate(data, rulebook, roster, months=months, today=as_of)
    sites = latest_sites(data, units)
    soe = [s for s in sites if s["enterprise_kind"] == SOE]
    due_months = [m for m in months if P.submission_deadline(m, rulebook.submission_deadline_day) < as_of]
    shown_months = [m for m in months if m in due_months or any(f["month"] == m for f in data.files)]
    contacts = data.records("contacts", months=months)
    per_month = [_mode_counts([c for c in contacts if c["month"] == m]) for m in shown_months]
    counted = [f for f in findings if f.code not in _YEAR_SKIPPED]
    clause_rows = _year_clause_rows(counted, year)
    site_rows = _year_site_rows(counted, sites, units)
    submissions = [f for f in findings if f.code == "monthly-submission"]
    unit_rows = [{"unit": u, "due": sum(f.unit == u for f in submissions),
                  "on_time": sum(f.unit == u and f.message == "submitted" for f in submissions),
                  "late": sum(f.unit == u and f.message == "submitted-late" for f in submissions),
                  "missing": sum(f.unit == u and f.message in ("not-submitted", "returned") for f in submissions)}
                 for u in units]
    problems = [_problem_row(f) for f in findings if f.code == "problem-closed"]
    versioned = len(rulebook.versions_between(year.first, year.last)) > 1
    finding_rows = [finding_row(f, versioned) for f in findings if f.status != MET]
    totals = {key: sum(r[key] for r in clause_rows) for key in ("judged", "met", "failed", "at_risk")}
    totals["rate"] = totals["met"] / totals["judged"] if totals["judged"] else 0.0
    label = year.name  # 2026年度
    return {
        "office_name": ws.office_name,
        "addressee": ws.addressee,
        "report_date": as_of.isoformat(),
        "as_of": as_of.isoformat(),
        "year": year.label,
        "year_label": label,
        "first_month": year.first,
        "last_month": year.last,
        "rule_basis": rulebook.basis(year.first, year.last),
        "overview": {"units": len(units), "sites": len(sites), "soe_sites": len(soe),
                     "private_sites": len(sites) - len(soe), "staff": len(roster.staff) if roster is not None else 0,
                     "months_due": len(due_months),
                     "contacts": sum(c["total"] for c in per_month),
                     "onsite": sum(c["onsite"] + c["meeting"] for c in per_month)},
        "submission": {key: sum(r[key] for r in unit_rows) for key in ("due", "on_time", "late", "missing")},
        "unit_rows": unit_rows,
        "clause_rows": clause_rows,
        "totals": totals,
        "site_rows": site_rows,
        "problem_counts": _problem_counts(problems),
        "findings": finding_rows,
        "finding_counts": _finding_counts(finding_rows),
        "next_steps": _next_steps(findings, rulebook=rulebook, horizon="明年", period_end="明年第一季度内"),
        "charts": {
            "chart_contacts_month": {"kind": "line", "title": f"{label}各月联系指导次数",
                                     "labels": [f"{int(m[5:])}月" for m in shown_months],
                                     "series": {"联系指导": [c["total"] for c in per_month],
                                                "其中现场指导和座谈会": [c["onsite"] + c["meeting"] for c in per_month]},
                                     "ylabel": "次数"},
            "chart_compliance": {"kind": "rows", "max": 100, "title": f"{label}各项要求达标率（%）",
                                 "labels": [r["rule"] for r in clause_rows],
                                 "values": [round(r["rate"] * 100, 1) for r in clause_rows],
                                 "ylabel": "达标率（%）"},
        },
    }


def _year_clause_rows(findings: list[Finding], year: P.Period) -> list[dict]:
    """Per clause (and check): how many 项次 were judged, met, failed and still open; periods named
    within the year (第一季度至第四季度, 全年)."""
    within = {year.name: "全年"}
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.clause, f.code), []).append(f)
    rows = []
    for (clause, code), mine in groups.items():
        met, failed = sum(f.status == MET for f in mine), sum(f.status == FAILED for f in mine)
        names = list(dict.fromkeys(within.get(f.period_name, f.period_name.removeprefix(f"{year.label}年"))
                                   for f in sorted(mine, key=lambda f: f.period)))
        rows.append({"clause": clause, "rule": mine[0].title if code != "room-area" else "党员活动室面积",
                     "applies": _applies(clause, mine),
                     "period": _period_span(names), "judged": len(mine), "met": met, "failed": failed,
                     "at_risk": len(mine) - met - failed, "rate": met / len(mine)})
    return rows


def _applies(clause: str, findings: list[Finding]) -> str:
    if clause in ("M-4b", "G-1"):
        return "各单位"
    kinds = {f.enterprise_kind for f in findings}
    return kinds.pop() if clause[0] in "SN" and len(kinds) == 1 and None not in kinds else "全部"


def _year_site_rows(findings: list[Finding], sites: list[dict], units: list[str] = ()) -> list[dict]:
    """Per site: its 项次 judged, met, failed, still open, and the requirements it fell short of.

    Every registered site, and every other site judged in the year (one its unit listed only in earlier
    months): the rows sum to the site 项次 of the per-clause table, no site is dropped (SPEC §10)."""
    sites = list(sites)
    listed = {(s["unit"], s["site"]) for s in sites}
    kinds: dict[tuple, str | None] = {}
    for f in findings:
        key = (f.unit, f.site)
        if f.site is not None and key not in listed:
            kinds[key] = kinds.get(key) or f.enterprise_kind
    if kinds:
        order = {u: i for i, u in enumerate(units)}
        sites += [{"unit": u, "site": s, "enterprise_kind": k or ""} for (u, s), k in kinds.items()]
        sites.sort(key=lambda s: order.get(s["unit"], len(order)))  # stable: each unit's listed sites first
    rows = []
    for s in sites:
        mine = [f for f in findings if f.unit == s["unit"] and f.site == s["site"]]
        met, failed = sum(f.status == MET for f in mine), sum(f.status == FAILED for f in mine)
        short = list(dict.fromkeys(f.title for f in mine if f.status == FAILED))
        rows.append({"unit": s["unit"], "site": s["site"], "kind": s["enterprise_kind"], "judged": len(mine),
                     "met": met, "failed": failed, "at_risk": len(mine) - met - failed,
                     "rate": met / len(mine) if mine else 0.0, "short": "、".join(short) or "无"})
    return rows


# --- 分组情况一览表 ------------------------------------------------------------------------------

def assignment_context(ledger, ws, roster, today: dt.date, *, until: str | None = None) -> dict:
    rulebook = ws.rulebook
    data = _data(ledger, until=until)
    units = roster_units(roster, data)
    sites = latest_sites(data, units)
    deadline = rulebook["M-1a"].date("deadline")
    after = today >= deadline
    staff = [(s.group, s.name) for s in (roster.staff if roster is not None else [])]
    known = {n for _, n in staff}
    late_keys = _contacts_fixed_late(data, sites, rulebook["M-1a"])
    rows, staff_without = [], []
    for group, name in staff:
        mine = [s for s in sites if s["staff"] == name]
        for s in mine:
            late = (s["unit"], s["site"]) in late_keys
            rows.append(_assignment_row(group, name, s, "确定联系晚于规定时间" if late else ""))
        if not mine:
            staff_without.append({"group": group, "staff": name})
            rows.append({"group": group, "staff": name, "unit": "", "site": "", "kind": "", "secretary": "",
                         "members": "", "contact_date": "",
                         "note": "未确定联系示范点" if after else f"尚未确定联系示范点（{cnfmt.md_date(deadline)}前确定）"})
    sites_without = []
    for s in sites:
        if s["staff"] in known:
            continue
        sites_without.append({"unit": s["unit"], "site": s["site"]})
        note = "未确定企业组联系人员" if not _text(s["staff"]) else f"联系人员“{s['staff']}”不在企业组名册中"
        rows.append(_assignment_row("未分组", UNASSIGNED, s, note))
    late = [{"staff": s["staff"], "unit": s["unit"], "site": s["site"], "contact_date": _iso(s["contact_date"])}
            for s in sites if s["staff"] in known and (s["unit"], s["site"]) in late_keys]
    return {
        "office_name": ws.office_name,
        "report_date": today.isoformat(),  # the run's as-of date, like every output of the run (SPEC §10)
        "year": rulebook.year,
        "deadline": deadline.isoformat(),
        "rows": rows,
        "counts": {"groups": len({g for g, _ in staff}), "staff": len(staff), "units": len({s["unit"] for s in sites}),
                   "sites": len(sites), "assigned_sites": len(sites) - len(sites_without)},
        "staff_without_site": staff_without if after else [],
        "sites_without_staff": sites_without,
        "late_contacts": late,
    }


def _contacts_fixed_late(data, sites: list[dict], rule) -> set[tuple]:
    """(unit, site) of the sites whose contact was not fixed before M-1a's deadline.  M-1a is a
    milestone of its year: a site first listed after that year (a new site in year two) is not
    held to it."""
    deadline, last_month = rule.date("deadline"), P.month_str(rule.year, 12)

    def first_listed(s: dict) -> str:
        return min((r["month"] for r in data.site_records("sites", s["unit"], s["site"])), default=s["month"])

    return {(s["unit"], s["site"]) for s in sites
            if first_listed(s) <= last_month and (s["contact_date"] is None or s["contact_date"] >= deadline)}


def _assignment_row(group: str, staff: str, s: dict, note: str) -> dict:
    return {"group": group, "staff": staff, "unit": s["unit"], "site": s["site"], "kind": s["enterprise_kind"],
            "secretary": _text(s["secretary"]), "members": _int(s["members"]),
            "contact_date": _iso(s["contact_date"]), "note": note}


# --- 示范点档案 ----------------------------------------------------------------------------------

def dossier_span(data: LedgerData, rulebook, unit: str, site: str, as_of: dt.date) -> list[str]:
    """The months a dossier covers: from the site's first month to the last month due by the run's
    as-of day, so a month its unit did not report is shown as such instead of ending the dossier early.
    """
    months = sorted(r["month"] for r in data.site_records("sites", unit, site))
    if not months:
        raise KeyError(f"台账中没有{unit}的示范点“{site}”")
    last = max(months[-1], data.until or P.last_due_month(as_of, rulebook.submission_deadline_day))
    due = [m for m in P.month_range(months[0], last)
           if P.submission_deadline(m, rulebook.submission_deadline_day) < as_of]
    return P.month_range(months[0], max([months[-1], *due]))


def dossier_context(ledger, ws, roster, unit: str, site: str, today: dt.date, *,
                    findings_cache: dict | None = None) -> dict:
    """One site's dossier as of ``today`` (the run's as-of day).  ``findings_cache`` (one dict for the
    dossiers built from the same data) lets the sites of one unit share the unit's findings instead
    of evaluating them once per site."""
    rulebook = ws.rulebook
    data = ledger if _only_unit(ledger, unit) else _data(ledger, units=[unit])
    rows = sorted(data.site_records("sites", unit, site), key=lambda r: r["month"])
    if not rows:
        raise KeyError(f"台账中没有{unit}的示范点“{site}”")
    as_of = today  # the run's as-of date (SPEC §10)
    span = dossier_span(data, rulebook, unit, site, as_of)
    latest = rows[-1]
    key = (unit, tuple(span), as_of)
    if findings_cache is not None and key in findings_cache:
        findings = findings_cache[key]
    else:
        findings = evaluate(data, rulebook, roster, months=span, today=as_of, units=[unit])
        if findings_cache is not None:
            findings_cache[key] = findings
    # the site's rows of each sheet, split by month once (not one filtered list per month and sheet)
    by_month = {key: _records_by_month(data.site_records(key, unit, site), by_date)
                for key, by_date in (("hardware", False), ("progress", False), ("members", False),
                                     ("contacts", True), ("org_life", True))}
    listed = {r["month"] for r in rows}
    gaps = _unreported(data.files, unit, [m for m in span if m not in listed])
    timeline, previous_hw = [], None
    for month in span:
        if month in gaps:
            timeline.append({**_EMPTY_MONTH, "month": month, "missing": gaps[month]})
            continue
        hw = by_month["hardware"].get(month, [])
        hw_text, previous_hw = _hardware_sentence(hw[0] if hw else None, previous_hw, latest["enterprise_kind"],
                                                  rulebook.at(month))
        progress = by_month["progress"].get(month, [])
        contacts = by_month["contacts"].get(month, [])
        problems = [_text(p["issues"]) for p in progress if _text(p["issues"])]
        problems += [f"联系指导发现：{_text(c['problem'])}（{_text(c['state']) or '未办结'}）"
                     for c in contacts if _text(c["problem"])]
        members = by_month["members"].get(month, [])
        timeline.append({
            "month": month,
            "missing": "",
            "contacts": [{"date": _iso(c["date"]), "staff": _text(c["staff"]), "mode": _text(c["mode"]),
                          "content": _text(c["content"])} for c in contacts],
            "org_life": [{"date": _iso(r["date"]), "kind": r["activity"], "present": _int(r["present"]),
                          "expected": _int(r["expected"])}
                         for r in by_month["org_life"].get(month, [])],
            "members": _members_sentence(members[0]) if members else "本月未报送党员队伍情况。",
            "hardware": hw_text,
            "progress": _text(progress[0]["progress"]) if progress else "",
            "problems": "；".join(problems),
        })
    compliance = _dossier_compliance([f for f in findings if f.site == site])
    ids = {r["file_id"] for r in rows}  # the submissions that list this site
    sources = [{"file_name": f["original_name"], "month": f["month"],
                "received": ws.rulebook.local_date(f["received_at"]).isoformat(), "digest": f["sha256"][:12]}
               for f in sorted(data.files, key=lambda f: (received_instant(f, ws.rulebook.timezone), f["id"]))
               if f["id"] in ids]
    missing_months = [m for m in span if gaps.get(m) == NOT_REPORTED]
    return {
        "office_name": ws.office_name,
        "report_date": as_of.isoformat(),
        "site": {"name": site, "enterprise": _text(latest["enterprise"]), "kind": latest["enterprise_kind"],
                 "unit": unit, "org_name": _text(latest["org_name"]), "org_kind": _text(latest["org_kind"]),
                 "formation": _text(latest["formation"]), "secretary": _text(latest["secretary"]),
                 "members": _int(latest["members"]), "employees": _int(latest["employees"]),
                 "level": _text(latest["level"]), "staff": _text(latest["staff"]) or UNASSIGNED,
                 "contact_date": _iso(latest["contact_date"]), "plan_date": _iso(latest["plan_date"])},
        "first_month": span[0],
        "last_month": span[-1],
        "missing_months": missing_months,
        "missing_note": (f"{unit}{'、'.join(P.month_cn(m) for m in missing_months)}的月报表未报送，"
                         f"档案中{'该月' if len(missing_months) == 1 else '这些月份'}记为“本月未报送”。"
                         if missing_months else ""),
        "timeline": timeline,
        "compliance_rows": compliance,
        "sources": sources,
    }


NOT_REPORTED, RETURNED_NOTE, NOT_LISTED = "本月未报送。", "本月报表已被退回，尚未重新报送。", "本月报表未列入该示范点。"
_EMPTY_MONTH = {"contacts": [], "org_life": [], "members": "", "hardware": "", "progress": "", "problems": ""}


def _unreported(files: list[dict], unit: str, months: list[str]) -> dict[str, str]:
    """Why each month without a row for the site has none: not reported, returned, or the site left out."""
    out = {}
    for month in months:
        mine = [f for f in files if f["month"] == month and f["unit"] == unit]
        if any(f["status"] in ("accepted", "superseded") for f in mine):
            out[month] = NOT_LISTED
        elif any(f["status"] == "rejected" for f in mine):
            out[month] = RETURNED_NOTE
        else:
            out[month] = NOT_REPORTED
    return out


def _status_label(f: Finding) -> str:
    return STATUS_LABEL.get(f.status) or f.status_cn


_WORST = ("未达标", "存在风险", "达标")


def _dossier_compliance(findings: list[Finding]) -> list[dict]:
    """One line per requirement and period: a hardware checklist and its room area are one requirement,
    so they share a line, the worse status deciding it."""
    rows, merged = [], {}
    for f in findings:
        row = {"clause": f.clause, "rule": f.title, "period": f.period_name, "status": _status_label(f),
               "evidence": f.evidence}
        if f.code not in _HARDWARE_CODES:
            rows.append(row)
            continue
        key = (f.clause, f.period)
        if key not in merged:
            merged[key] = row
            rows.append(row)
            continue
        line = merged[key]
        line["evidence"] = f"{line['evidence']}；{f.evidence}"
        if line["status"] in _WORST and row["status"] in _WORST:
            line["status"] = min(line["status"], row["status"], key=_WORST.index)
    return rows


def _only_unit(ledger, unit: str) -> bool:
    """Data already narrowed to this one unit (the consolidation splits it once for all dossiers)."""
    if not isinstance(ledger, LedgerData) or any(f["unit"] != unit for f in ledger.files):
        return False
    return all(r["unit"] == unit for key in SHEETS_BY_KEY for r in ledger.records(key))


def _records_by_month(records: list[dict], by_date: bool) -> dict[str, list[dict]]:
    """Records grouped by month, each month in ledger order (or by date, then row)."""
    if by_date:
        records = sorted(records, key=lambda r: (r["date"] is None, r["date"] or dt.date.min, r["row"]))
    out: dict[str, list[dict]] = {}
    for record in records:
        out.setdefault(record["month"], []).append(record)
    return out


def _members_sentence(r: dict) -> str:
    text = (f"党员{_int(r['total'])}名，本月发展党员{_int(r['new_members'])}名（其中一线工人{_int(r['new_workers'])}名、"
            f"知识分子/技术骨干{_int(r['new_intellectuals'])}名），入党积极分子{_int(r['activists'])}名，"
            f"流动党员{_int(r['mobile'])}名（其中已转出或纳入社区管理{_int(r['mobile_managed'])}名）。")
    return text


def _hardware_sentence(row: dict | None, previous: dict | None, kind: str, rulebook) -> tuple[str, dict | None]:
    """The month's hardware as the rule (S-5 / N-5) judges it: the checklist and, where the rule sets
    one, the room's minimum area."""
    if row is None:
        return "本月未报送硬件设施情况。", previous
    rule = rulebook.hardware_rule(kind)
    items = rule.params["items"] if rule else []
    state = {item: row.get(_HW_NAMES[item]) for item in items}
    area = row.get("room_area")
    area = None if area is None or pd.isna(area) else float(area)
    snapshot = {"state": state, "area": area}
    if previous is not None and previous == snapshot:
        return "无变化。", snapshot
    missing = [i for i, v in state.items() if v != "是"]
    need = float(rule.params["min_room_area"]) if rule and "min_room_area" in rule.params else None
    small = need is not None and (area is None or area < need)
    area_text = f"党员活动室{area:g}㎡" if area is not None else "未填写党员活动室面积"
    if small:
        area_text += f"，不足{need:g}㎡的要求" if area is not None else f"（要求不少于{need:g}㎡）"
    if not missing and not small:
        return f"{area_text}，{len(items)}项硬件设施齐全。", snapshot
    if small and not missing:
        return f"{area_text}；清单其余项目均已配备，硬件设施未达标。", snapshot
    return f"{area_text}；缺少{'、'.join(missing)}，硬件设施未达标。", snapshot


# --- 催报名单 ------------------------------------------------------------------------------------

def reminder_context(ledger, ws, roster, month: str, today: dt.date) -> dict:
    rulebook = ws.rulebook
    data = _data(ledger, until=month)
    units = roster_units(roster, data)
    states = submission_states(data.files, rulebook, units, month, today)
    deadline = P.submission_deadline(month, rulebook.submission_deadline_day)
    rows = []
    for st in states:
        if st.state in (ON_TIME, LATE):
            continue
        info = roster.unit(st.unit) if roster is not None else None
        rows.append({"unit": st.unit, "kind": info.kind if info else "", "contact": info.contact if info else "",
                     "phone": info.phone if info else "", "deadline": deadline.isoformat(),
                     "status": RETURNED if st.state == RETURNED else MISSING,
                     "overdue_days": max((today - deadline).days, 0)})
    return {
        "office_name": ws.office_name,
        "report_date": today.isoformat(),
        "month": month,
        "deadline": deadline.isoformat(),
        "as_of": today.isoformat(),
        "rows": rows,
        "counts": {"due": len(units), "submitted": len(units) - len(rows),
                   "late": sum(st.state == LATE for st in states),
                   "missing": sum(r["status"] == MISSING for r in rows),
                   "rejected": sum(r["status"] == RETURNED for r in rows)},
    }
