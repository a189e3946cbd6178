"""The monthly report (月度汇总报告) and the reminder list (催报名单) of one month."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from processor.common import cnfmt
from processor.common import periods
from processor.consolidate import signable
from processor.consolidate.blocks import (HARDWARE_CODES, MODE_KEYS, PRIVATE, SOE, UNASSIGNED, cell_text, cn_list,
                                          count_of, finding_counts, iso_date, listed_rows, latest_sites, mode_counts,
                                          next_steps, one_per_requirement, open_findings, problem_counts, problem_row,
                                          progress_texts, quarter_label, shared_sites)
from processor.consolidate.findings import (FAILED, LATE, MET, MISSING, NOT_DUE, ON_TIME, RETURNED, Finding,
                                            LedgerData, SubmissionState, roster_units,
                                            submission_states)
from processor.consolidate.quality import warning_rows
from processor.consolidate.snapshot import Snapshot
from processor.schemas.vocabulary import ACTIVITY_KINDS


@dataclass
class _MonthBasis:
    """Two bases (SPEC §10): the sites every unit has registered (its latest form up to this month),
    and the sites with data for this month.  A site of a unit that did not report is 本月未报送."""

    data: LedgerData
    units: list[str]
    sites: list[dict]
    reported: list[dict]
    reported_keys: set[tuple]
    contacts: list[dict]

    @classmethod
    def of(cls, snapshot: Snapshot, month: str) -> _MonthBasis:
        data = snapshot.view(until=month)
        units = roster_units(snapshot.roster, data)
        reported = _month_sites(data, month, units)
        return cls(data, units, latest_sites(data, units), reported, {(s["unit"], s["site"]) for s in reported},
                   data.records("contacts", months=[month]))

    @functools.cached_property
    def unreported(self) -> list[dict]:
        return [{"unit": s["unit"], "site": s["site"]} for s in self.sites
                if (s["unit"], s["site"]) not in self.reported_keys]


def monthly_report_context(snapshot: Snapshot, month: str) -> dict:
    """The month's report as of the run's as-of date (SPEC §10): every output of one run prints it
    and counts overdue days to it."""
    rulebook, as_of = snapshot.rulebook, snapshot.as_of
    basis = _MonthBasis.of(snapshot, month)
    quarter = periods.period_of(month, "quarter")
    states = submission_states(basis.data.files, rulebook, basis.units, month, as_of)
    site_rows = _site_rows(basis)
    unit_rows = _unit_rows(states, site_rows, snapshot.roster)
    submission = _submission(unit_rows, states)
    staff_rows = _staff_rows(snapshot.roster, basis.sites, basis.contacts, basis.reported_keys)
    all_findings = snapshot.findings([month], until=month)
    findings = _on_month_basis(all_findings, basis.reported_keys, month)
    context = {
        "office_name": snapshot.ws.office_name,
        "addressee": snapshot.ws.addressee,
        "report_date": as_of.isoformat(),
        "as_of": as_of.isoformat(),
        "month": month,
        "rule_basis": rulebook.basis(month, month),
        "deadline": periods.submission_deadline(month, rulebook.submission_deadline_day).isoformat(),
        "quarter_label": quarter_label(quarter),
        "quarter_end": quarter.end.isoformat(),
        "overview": {"units": len(basis.units), "sites": len(basis.sites),
                     "soe_sites": sum(s["enterprise_kind"] == SOE for s in basis.sites),
                     "private_sites": sum(s["enterprise_kind"] == PRIVATE for s in basis.sites),
                     "reported_sites": len(basis.reported), "unreported_sites": len(basis.unreported),
                     **shared_sites(snapshot, month)},
        "submission": submission,
        "unit_rows": unit_rows,
        **_contact_sections(basis, site_rows, staff_rows, all_findings),
        **_team_and_members(basis, month),
        **_org_life(basis.data, month),
        **_compliance_sections(findings, basis.sites, rulebook, month),
        **_text_sections(basis, month, rulebook,
                         snapshot.quality_warnings(month, until=month, units=basis.units)),
        "next_steps": _next_steps(findings, submission, quarter, rulebook),
        "charts": _charts(month, submission, staff_rows),
    }
    context["sentences"] = _monthly_sentences(context)
    context.update(signable.monthly(context))  # the conclusion that opens it, and its one problem list
    return context


def _next_steps(findings: list[Finding], submission: dict, quarter, rulebook) -> list[str]:
    """下步工作 from the open findings; the sites still lacking meetings of a period are named when they are
    few, and counted by meeting when they are many (each site's meetings are in its dossier)."""
    lacking: dict[tuple, list[str]] = {}
    for f in open_findings(findings, "activity-frequency"):
        names = lacking.setdefault((f.unit, f.site), [])
        names.extend(a for a in f.missing if a not in names)
    lacking = {key: names for key, names in lacking.items() if names}
    many = len(lacking) > SITES_NAMED
    kept = [f for f in findings if not (many and f.code == "activity-frequency")]
    steps = next_steps(kept, missing_units=submission["missing_units"], late_units=submission["late_units"],
                       period_end=f"在{quarter_label(quarter)}结束前", rulebook=rulebook)
    if many:
        meetings = Counter(a for names in lacking.values() for a in names)
        counted = "、".join(f"{a}{n}个" for a, n in sorted(meetings.items(), key=lambda kv: -kv[1]))
        step = f"提醒{len(lacking)}个示范点按规定频次开展尚未开展的组织生活（{counted}）。"
        steps = [s for s in steps if not s.startswith("继续按月做好")]  # the step said when nothing else is
        # where next_steps puts it: before the hardware and the overdue problems
        at = next((i for i, s in enumerate(steps) if s.startswith("对硬件设施") or "超过整改时限" in s), len(steps))
        steps.insert(at, step)
    return steps


def _site_rows(basis: _MonthBasis) -> list[dict]:
    """Per site reported this month: its contacts by kind (whoever made them), of which made by the site's
    assigned liaison (``by_staff``, SPEC §10 attribution), and the last contact's date."""
    contacts_by_site: dict[tuple, list[dict]] = {}
    for c in basis.contacts:
        contacts_by_site.setdefault((c["unit"], c["site"]), []).append(c)
    rows = []
    for s in basis.reported:
        mine = contacts_by_site.get((s["unit"], s["site"]), [])
        rows.append({"unit": s["unit"], "site": s["site"], "kind": s["enterprise_kind"],
                     "staff": s["staff"] or UNASSIGNED, **mode_counts(mine),
                     "by_staff": sum(bool(cell_text(s["staff"])) and cell_text(c["staff"]) == cell_text(s["staff"])
                                     for c in mine),
                     "last_date": iso_date(max(c["date"] for c in mine)) if mine else ""})
    return rows


def _unit_rows(states: list[SubmissionState], site_rows: list[dict], roster) -> list[dict]:
    """Per unit: how its form arrived (or did not), its sites reported and their contacts."""
    rows = []
    for st in states:
        mine = [r for r in site_rows if r["unit"] == st.unit]
        unit_kind = roster.unit(st.unit).kind if roster is not None and roster.unit(st.unit) else ""
        status = st.state if st.state in (ON_TIME, LATE) else MISSING
        rows.append({"unit": st.unit, "kind": unit_kind, "status": status, "received": iso_date(st.received),
                     "sites": len(mine), "contacts": sum(r["total"] for r in mine), "note": _unit_note(st)})
    return rows


def _unit_note(st: SubmissionState) -> str:
    note = {LATE: f"逾期{st.days_late}天", RETURNED: "已退回待重报",
            NOT_DUE: "未到报送期限"}.get(st.state, f"已逾期{st.days_late}天" if st.days_late else "")
    if st.state in (ON_TIME, LATE) and st.returned:
        note = "；".join(filter(None, [note, "退回后重报"]))
    elif st.resubmissions:
        note = "；".join(filter(None, [note, "已更正重报"]))
    return note


def _submission(unit_rows: list[dict], states: list[SubmissionState]) -> dict:
    return {
        "due": len(unit_rows),
        "on_time": sum(r["status"] == ON_TIME for r in unit_rows),
        "late": sum(r["status"] == LATE for r in unit_rows),
        "missing": sum(r["status"] == MISSING for r in unit_rows),
        "late_units": [r["unit"] for r in unit_rows if r["status"] == LATE],
        "missing_units": [r["unit"] for r in unit_rows if r["status"] == MISSING],
        "resubmitted_units": [st.unit for st in states if st.resubmissions and not st.returned],
        "returned_units": [{"unit": st.unit, "received": iso_date(st.received)}
                           for st in states if st.returned and st.state in (ON_TIME, LATE)],
    }


def _contact_sections(basis: _MonthBasis, site_rows: list[dict], staff_rows: list[dict],
                      findings: list[Finding]) -> dict:
    """The month's contacts: in sum, per 企业组 member, per site, and the sites left without one (or
    without data this month)."""
    summary = {k: sum(r[k] for r in site_rows) for k in ("total", "phone", "onsite", "meeting", "other")}
    summary["sites_contacted"] = sum(r["total"] > 0 for r in site_rows)
    summary["elsewhere"] = sum(r["elsewhere"] for r in staff_rows)
    staff_of = {(s["unit"], s["site"]): s["staff"] or UNASSIGNED for s in basis.sites}
    no_contact = [{"unit": f.unit, "site": f.site, "staff": staff_of.get((f.unit, f.site), UNASSIGNED)}
                  for f in open_findings(findings, "monthly-contact")]
    no_visit = [{"unit": f.unit, "site": f.site, "staff": staff_of.get((f.unit, f.site), UNASSIGNED)}
                for f in open_findings(findings, "quarterly-visit") if (f.unit, f.site) in basis.reported_keys]
    return {"contact_summary": summary, "staff_rows": staff_rows,
            "unassigned_sites": sum(s["staff"] in (None, "") for s in basis.sites), "site_rows": site_rows,
            "unreported_sites": basis.unreported, "sites_no_contact": no_contact, "sites_no_visit": no_visit}


def _team_and_members(basis: _MonthBasis, month: str) -> dict:
    """The 班子 of the state-owned sites reported (cross posts) and the month's member figures."""
    members = basis.data.rows("members", months=[month])
    # a boolean Series, not a list: an empty list would select no columns rather than no rows
    members = members[pd.Series([(u, s) in basis.reported_keys
                                 for u, s in zip(members["unit"], members["site"], strict=True)],
                                index=members.index, dtype=bool)]
    reported_soe = [s for s in basis.reported if s["enterprise_kind"] == SOE]
    soe_keys = {(s["unit"], s["site"]) for s in reported_soe}
    cross = [r for r in members.to_dict("records") if (r["unit"], r["site"]) in soe_keys and count_of(r["cross_posts"])]
    return {"team": {"soe_sites": len(reported_soe), "cross_sites": len(cross),
                     "cross_posts": sum(count_of(r["cross_posts"]) for r in cross),
                     "private_sites": len(basis.reported) - len(reported_soe)},
            "members": _member_sums(members)}


def _org_life(data: LedgerData, month: str) -> dict:
    life_all = data.rows("org_life", months=[month])
    by_kind = Counter(life_all["activity"])
    org_rows = [{"kind": k, "count": by_kind[k]}
                for k in sorted(by_kind, key=lambda k: (-by_kind[k], ACTIVITY_KINDS.index(k)))]
    return {"org_life": {"total": len(life_all), "by_kind": org_rows}}


def _on_month_basis(findings: list[Finding], reported_keys: set[tuple], month: str) -> list[Finding]:
    """The month's findings on the month's basis: sites without data this month are left out, and a
    problem closed late in an earlier month was reported then."""
    first = periods.first_day(month)
    findings = [f for f in findings if f.site is None or f.code == "problem-closed"
                or (f.unit, f.site) in reported_keys]
    return [f for f in findings if not (f.code == "problem-closed" and f.closed_on and f.closed_on < first)]


def _compliance_sections(findings: list[Finding], sites: list[dict], rulebook, month: str) -> dict:
    """The rules' verdicts: frequency, hardware, every open finding, the problems and their state."""
    first = periods.first_day(month)
    hardware_keys = {(f.unit, f.site) for f in findings if f.code in HARDWARE_CODES}
    hardware_rows = _hardware_rows(findings, sites)
    # one line per requirement, site and period (a hardware checklist and its room area are one)
    finding_rows = listed_rows(one_per_requirement(findings))
    problems = [f for f in findings if f.code == "problem-closed"]
    problem_rows = [problem_row(f) for f in problems if f.status != MET or (f.closed_on and f.closed_on >= first)]
    return {"frequency_rows": _frequency_rows(findings, rulebook, month),
            "hardware": {"sites": len(hardware_keys), "complete": len(hardware_keys) - len(hardware_rows),
                         "incomplete": len(hardware_rows)},
            "hardware_rows": hardware_rows,
            "hardware_gaps": _hardware_gaps(hardware_rows),
            "findings": finding_rows,
            "finding_counts": finding_counts(finding_rows),
            "problem_rows": problem_rows,
            "problem_counts": problem_counts(problem_rows)}


def _text_sections(basis: _MonthBasis, month: str, rulebook, warnings: list[Finding]) -> dict:
    """What the units wrote: data-quality warnings (``warnings``: the month's, of ``basis.units``),
    problems reported, progress and plans."""
    progress = basis.data.rows("progress", months=[month])
    # 数据质量 (checks across months and files)
    quality = warning_rows(basis.data, rulebook, month, basis.units, found=warnings)
    return {"quality_rows": quality,
            "quality_units": len({r["unit"] for r in quality}),
            "reported_problems": progress_texts(progress, "issues", basis.units),
            "progress": _grouped_texts(progress, "progress", basis.units),
            "plans": _grouped_texts(progress, "next_plan", basis.units)}


def _charts(month: str, submission: dict, staff_rows: list[dict]) -> dict:
    return {
        "chart_submission": {"kind": "bar", "title": f"{periods.month_cn(month)}各单位报送情况",
                             "labels": [ON_TIME, LATE, MISSING],
                             "values": [submission["on_time"], submission["late"], submission["missing"]],
                             "ylabel": "单位数（个）"},
        "chart_contacts": _contacts_chart(month, staff_rows),
    }


def _month_sites(data: LedgerData, month: str, units: list[str]) -> list[dict]:
    """The sites listed in this month's accepted forms, in roster and row order."""
    order = {u: i for i, u in enumerate(units)}
    rows = [r for r in data.records("sites", months=[month]) if r["unit"] in order and cell_text(r["site"])]
    return sorted(rows, key=lambda r: (order[r["unit"]], count_of(r["row"])))


def _grouped_texts(frame: pd.DataFrame, column: str, units: list[str]) -> list[dict]:
    """The month's texts of one column, each distinct text once with the sites that wrote it."""
    groups: dict[str, list[str]] = {}
    for r in progress_texts(frame, column, units):
        groups.setdefault(r["text"].rstrip("。；;. "), []).append(f"{r['unit']}{r['site']}")
    return [{"text": text, "sites": _sites_named(names), "count": len(names)}
            for text, names in sorted(groups.items(), key=lambda kv: -len(kv[1]))]


SITES_NAMED = 2  # beyond this many, a merged text gives the count of the sites that wrote it


def _sites_named(names: list[str]) -> str:
    if len(names) <= SITES_NAMED:
        return cnfmt.join_cn(names)
    return f"{len(names)}个示范点"


CHART_MAX_BARS = 30  # beyond this many people a bar each is illegible on an A4 page: one bar per group


def _contacts_chart(month: str, staff_rows: list[dict]) -> dict:
    rows, who, label = staff_rows, "企业组成员", "staff"
    if len(staff_rows) > CHART_MAX_BARS:
        rows, who, label = _group_totals(staff_rows), "企业组各组", "group"
    return {"kind": "grouped_bar", "title": f"{periods.month_cn(month)}{who}联系指导次数",
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


def _staff_rows(roster, sites: list[dict], contacts: list[dict], reported_keys: set[tuple]) -> list[dict]:
    """Per 企业组 member: the registered sites assigned to them, of which without data this month
    (``unreported``: their unit sent no form, so no contact there can be counted), and the contacts
    they recorded in this month's forms (SPEC §10: a contact counts for the person written on its row),
    by kind, of which at sites not assigned to them.  One universe, the registered sites, its part
    without data stated on every row."""
    people = [(s.group, s.name) for s in (roster.staff if roster is not None else [])]
    known = {n for _, n in people}
    others = [cell_text(s["staff"]) for s in sites] + [cell_text(c["staff"]) for c in contacts]
    people += [("未列入名册", n) for n in dict.fromkeys(others) if n and n not in known]
    assigned = {(s["unit"], s["site"]): cell_text(s["staff"]) for s in sites}
    by_person: dict[str, list[dict]] = {}
    for c in contacts:
        by_person.setdefault(cell_text(c["staff"]), []).append(c)
    rows = []
    for group, name in people:
        made = by_person.get(name, [])
        mine = [key for key, v in assigned.items() if v == name]
        rows.append({"group": group, "staff": name, "sites": len(mine),
                     "unreported": sum(key not in reported_keys for key in mine), **mode_counts(made),
                     "elsewhere": sum(assigned.get((c["unit"], c["site"])) != name for c in made)})
    return rows


def _frequency_rows(findings: list[Finding], rulebook, month: str) -> list[dict]:
    """Per frequency rule: the sites of its kind reported this month (the findings are already on that
    basis), how many met it in the period that contains the month, are 待完成 or 未达标."""
    rows = []
    for rule in rulebook.frequency_rules_for(month):
        period = periods.period_of(month, rule.period)
        mine = [f for f in findings if f.code == "activity-frequency" and f.clause == rule.clause
                and f.period == period.label]
        if not mine:
            continue
        met = sum(f.status == MET for f in mine)
        failed = sum(f.status == FAILED for f in mine)
        rows.append({"clause": rule.clause, "rule": rule.wording, "title": rule.title, "applies": rule.applies_to,
                     "period": period.name, "sites": len(mine), "met": met, "pending": len(mine) - met - failed,
                     "failed": failed})
    return rows


def _monthly_sentences(c: dict) -> dict:
    s = c["submission"]
    named = f"（{cn_list(s['missing_units'])}）" if s["missing_units"] else ""
    late = f"（{cn_list(s['late_units'])}）" if s["late_units"] else ""
    cs = c["contact_summary"]
    fc = c["finding_counts"]
    return {
        "submission": f"本月应报单位{s['due']}个，按时报送{s['on_time']}个，逾期报送{s['late']}个{late}，"
                      f"未报送{s['missing']}个{named}。",
        "contacts": f"本月企业组成员共联系指导{cs['total']}次，其中电话联系{cs['phone']}次、现场指导{cs['onsite']}次、"
                    f"座谈会{cs['meeting']}次、其他{cs['other']}次，覆盖本月报送的{c['overview']['reported_sites']}个"
                    f"示范点中的{cs['sites_contacted']}个。",
        "org_life": f"各示范点本月开展组织生活{c['org_life']['total']}次。",
        "findings": f"对照实施意见，本月共发现问题{fc['total']}项，其中未达标{fc['failed']}项、待完成{fc['at_risk']}项。",
    }


def _member_sums(frame: pd.DataFrame) -> dict:
    fields = {"total": "total", "new": "new_members", "new_workers": "new_workers",
              "new_intellectuals": "new_intellectuals", "activists": "activists", "mobile": "mobile",
              "mobile_managed": "mobile_managed", "duty_zones": "duty_zones", "six_ones": "six_ones"}
    return {key: sum(count_of(v) for v in frame[col]) for key, col in fields.items()}


def _hardware_gaps(hardware_rows: list[dict]) -> str:
    """What the sites short of hardware lack, each gap with its count of sites, the most common first
    ("缺少组合音响的3个，党员活动室面积不足50㎡的3个"): the body's summary, the annex lists each site."""
    gaps: Counter = Counter()
    for r in hardware_rows:
        for part in r["missing"].split("；"):
            if part.startswith(("党员活动室", "未填写")):
                gaps[part] += 1
            else:
                gaps.update(f"缺少{item}" for item in part.split("、") if item)
    return "，".join(f"{what}的{n}个" for what, n in sorted(gaps.items(), key=lambda kv: -kv[1]))


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


def reminder_context(snapshot: Snapshot, month: str) -> dict:
    """The units whose form for ``month`` is missing or returned, as of the run's day."""
    rulebook, roster, today = snapshot.rulebook, snapshot.roster, snapshot.as_of
    units = snapshot.units(until=month)
    data = snapshot.view(until=month)
    states = submission_states(data.files, rulebook, units, month, today)
    deadline = periods.submission_deadline(month, rulebook.submission_deadline_day)
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
        "office_name": snapshot.ws.office_name,
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
