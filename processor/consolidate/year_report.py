"""The yearly summary (年度工作总结): compliance per clause and per site, for the annual 述职/考核."""

from __future__ import annotations

from processor.common import periods
from processor.consolidate import signable
from processor.consolidate.blocks import (HARDWARE_CODES, SOE, STAFF_REQUIREMENT, decided_rate, finding_counts,
                                          finding_row, latest_sites, mode_counts, next_steps, one_per_requirement,
                                          one_row_per_enterprise, period_span, problem_counts, problem_row,
                                          requirement_title, shared_sites)
from processor.consolidate.findings import FAILED, MET, Finding, roster_units
from processor.consolidate.snapshot import Snapshot


# Requirements judged per unit and per 企业组 member: in the per-clause table, not in the per-site one.
_UNIT_CODES = ("site-count", "monthly-submission")
_NOT_PER_SITE = (*_UNIT_CODES, "staff-assigned")


def year_report_context(snapshot: Snapshot, year: periods.Period) -> dict:
    """The year's compliance per clause and per site, for the annual 述职/考核 (SPEC §10 counting).

    Every figure counts findings — one subject in one period (项次) — of periods that have begun by
    the run's as-of date: a period not yet due yields nothing, one still open is 待完成, only a closed
    one can be 未达标.  A site without data for a period is not counted for it (its unit's missing form
    is counted under M-4b)."""
    rulebook, as_of = snapshot.rulebook, snapshot.as_of
    months = [m for m in year.months if m >= rulebook.start]  # the office's months only (calendar.start_month)
    data = snapshot.view(until=year.last)
    units = roster_units(snapshot.roster, data)
    # one finding per requirement, subject and period (a hardware checklist and its room area are one)
    findings = one_per_requirement(snapshot.findings(months, until=year.last))
    sites = latest_sites(data, units)
    due_months = [m for m in months if periods.submission_deadline(m, rulebook.submission_deadline_day) < as_of]
    shown_months = [m for m in months if m in due_months or any(f["month"] == m for f in data.files)]
    contacts = data.records("contacts", months=months)
    per_month = [mode_counts([c for c in contacts if c["month"] == m]) for m in shown_months]
    # one universe (SPEC §10): the per-clause table counts every finding of the year — each subject in each
    # period, problems found in liaison and 企业组 members included; the annex lists every one not met, the
    # per-site table the sites' share of them
    clause_rows = _year_clause_rows(findings, year)
    shared = shared_sites(snapshot, year.last)  # one enterprise registered by two units: one row, both named
    site_rows = _year_site_rows([f for f in findings if f.code not in _NOT_PER_SITE], sites, units,
                                shared["shared_sites"])
    unit_rows = _unit_rows(findings, units)
    versioned = len(rulebook.versions_between(year.first, year.last)) > 1
    finding_rows = [finding_row(f, versioned) for f in findings if f.status != MET]
    soe_sites = sum(s["enterprise_kind"] == SOE for s in sites)
    following = f"{int(year.label) + 1}年"  # never "明年": read in the next year it would mean the one after
    context = {
        "office_name": snapshot.ws.office_name,
        "addressee": snapshot.ws.addressee,
        "report_date": as_of.isoformat(),
        "as_of": as_of.isoformat(),
        "year": year.label,
        "year_label": year.name,  # 2026年度
        "first_month": year.first,
        "last_month": year.last,
        "rule_basis": rulebook.basis(year.first, year.last),
        "overview": {"units": len(units), "sites": len(sites), "soe_sites": soe_sites,
                     "private_sites": len(sites) - soe_sites, "sites_note": shared["sites_note"],
                     "staff": len(snapshot.roster.staff) if snapshot.roster is not None else 0,
                     "months_due": len(due_months),
                     "contacts": sum(c["total"] for c in per_month),
                     "onsite": sum(c["onsite"] + c["meeting"] for c in per_month)},
        "submission": {key: sum(r[key] for r in unit_rows) for key in ("due", "on_time", "late", "missing")},
        "unit_rows": unit_rows,
        "clause_rows": clause_rows,
        "totals": _totals(clause_rows),
        "site_rows": site_rows,
        "site_totals": {"sites": len(site_rows), "shared": sum(r["shared"] for r in site_rows),
                        **{key: sum(r[key] for r in site_rows) for key in ("judged", "met", "failed", "at_risk")}},
        "problem_counts": problem_counts([problem_row(f) for f in findings if f.code == "problem-closed"]),
        "findings": finding_rows,
        "finding_counts": finding_counts(finding_rows),
        "next_steps": next_steps(findings, rulebook=rulebook, horizon=following, period_end=f"{following}第一季度内"),
        "charts": _charts(year, shown_months, per_month, clause_rows),
    }
    return {**context, **signable.year(context)}  # the conclusion, the one problem list, 阶段情况


def _unit_rows(findings: list[Finding], units: list[str]) -> list[dict]:
    """Per unit: its forms due in the year, on time, late and missing (from the M-4b findings)."""
    submissions = [f for f in findings if f.code == "monthly-submission"]
    return [{"unit": u, "due": sum(f.unit == u for f in submissions),
             "on_time": sum(f.unit == u and f.message == "submitted" for f in submissions),
             "late": sum(f.unit == u and f.message == "submitted-late" for f in submissions),
             "missing": sum(f.unit == u and f.message in ("not-submitted", "returned") for f in submissions)}
            for u in units]


def _totals(clause_rows: list[dict]) -> dict:
    totals = {key: sum(r[key] for r in clause_rows) for key in ("judged", "met", "failed", "at_risk")}
    totals["rate"] = decided_rate(totals["met"], totals["failed"])
    return totals


def _charts(year: periods.Period, shown_months: list[str], per_month: list[dict], clause_rows: list[dict]) -> dict:
    label = year.name
    return {
        "chart_contacts_month": {"kind": "line", "title": f"{label}各月联系指导次数",
                                 "labels": [f"{int(m[5:])}月" for m in shown_months],
                                 "series": {"联系指导": [c["total"] for c in per_month],
                                            "其中现场指导和座谈会": [c["onsite"] + c["meeting"] for c in per_month]},
                                 "ylabel": "次数"},
        # a requirement with nothing decided yet has no rate: it is not plotted as 0
        "chart_compliance": {"kind": "rows", "max": 100, "title": f"{label}各项要求达标率（%）",
                             "labels": [r["rule"] for r in clause_rows if r["rate"] != ""],
                             "values": [round(r["rate"] * 100, 1) for r in clause_rows if r["rate"] != ""],
                             "ylabel": "达标率（%）"},
    }


def _year_clause_rows(findings: list[Finding], year: periods.Period) -> list[dict]:
    """Per requirement: how many 项次 were judged, met, failed and still open; periods named within the
    year (第一季度至第四季度, 全年).  A requirement is named as in every other table (a hardware checklist
    and its room area are one); the rate is of the 项次 decided (待完成 left out)."""
    within = {year.name: "全年"}
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        code = "hardware" if f.code in HARDWARE_CODES else f.code
        groups.setdefault((f.clause, code, requirement_title(f)), []).append(f)
    rows = []
    for (clause, _code, title), mine in groups.items():
        met, failed = sum(f.status == MET for f in mine), sum(f.status == FAILED for f in mine)
        names = list(dict.fromkeys(within.get(f.period_name, f.period_name.removeprefix(f"{year.label}年"))
                                   for f in sorted(mine, key=lambda f: f.period)))
        rows.append({"clause": clause, "rule": title, "applies": _applies(clause, mine),
                     "period": period_span(names), "judged": len(mine), "met": met, "failed": failed,
                     "at_risk": len(mine) - met - failed, "rate": decided_rate(met, failed)})
    return rows


def _applies(clause: str, findings: list[Finding]) -> str:
    if findings[0].code in _UNIT_CODES:
        return "各单位"
    if findings[0].code == "staff-assigned":
        return STAFF_REQUIREMENT
    if findings[0].code == "problem-closed":
        return "问题"
    kinds = {f.enterprise_kind for f in findings}
    return kinds.pop() if clause[0] in "SN" and len(kinds) == 1 and None not in kinds else "全部"


def _year_site_rows(findings: list[Finding], sites: list[dict], units: list[str] = (),
                    shared: list[dict] = ()) -> list[dict]:
    """Per site: its 项次 judged, met, failed, still open (its problems found in liaison included), and
    the requirements it fell short of.  An enterprise ``shared`` by two units is one row naming both
    (SPEC §10, Identity), its 项次 under either unit added up.

    Every registered site, and every other site judged in the year (one its unit listed only in earlier
    months): the rows sum to the per-clause table's 项次 less those judged per unit or per 企业组 member,
    no site is dropped (SPEC §10)."""
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
        rows.append({"unit": s["unit"], "site": s["site"], "kind": s["enterprise_kind"], "judged": len(mine),
                     "met": met, "failed": failed, "at_risk": len(mine) - met - failed,
                     "short": [requirement_title(f) for f in mine if f.status == FAILED]})
    rows = one_row_per_enterprise(rows, list(shared), sums=("judged", "met", "failed", "at_risk", "short"))
    return [{**r, "rate": decided_rate(r["met"], r["failed"]), "short": "、".join(dict.fromkeys(r["short"])) or "无"}
            for r in rows]
