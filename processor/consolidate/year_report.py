"""The yearly summary (年度工作总结): compliance per clause and per site, for the annual 述职/考核."""

from __future__ import annotations

from collections import Counter

from processor.common import cnfmt, periods
from processor.consolidate import signable
from processor.consolidate.blocks import (HARDWARE_CODES, SOE, STAFF_REQUIREMENT, cell_text, cn_list,
                                          count_of, decided_rate, finding_counts, lacking_activities, latest_sites,
                                          listed_rows, mode_counts, named_sites, next_steps, one_per_requirement,
                                          one_row_per_enterprise, open_findings, period_span, problem_counts,
                                          problem_row, requirement_title, shared_sites,
                                          sites_meeting_every_requirement, typical_sites)
from processor.consolidate.findings import FAILED, MET, Finding, LedgerData, roster_units
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
    finding_rows = listed_rows(findings, versioned, year=int(year.label))
    soe_sites = sum(s["enterprise_kind"] == SOE for s in sites)
    following = f"{int(year.label) + 1}年"  # never "明年": read in the next year it would mean the one after
    staffing = _staffing(sites, snapshot.roster)
    full_year = _full_year_sites(data, sites, due_months)
    typical = typical_sites(findings, full_year, data.rows("progress", months=due_months))
    all_met = len(sites_meeting_every_requirement(findings, full_year))
    closed = _closed(year, as_of)
    before = _last_year(snapshot, year)
    whole = closed and before is not None and len(before["months"]) == len(months) == 12
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
        "achievements": _achievements(_figures(data, months), before, whole, _totals(clause_rows),
                                      problem_counts([problem_row(f) for f in findings if f.code == "problem-closed"]),
                                      all_met),
        "typical_sites": typical,
        "weak_rules": _weak_rules(clause_rows),
        # a closed year's plan is for the named next year; a year still running plans its remaining periods
        "next_steps": (_year_steps(findings, unit_rows, staffing, year, following) if closed
                       else next_steps(findings, rulebook=rulebook, horizon="下月", period_end="本季度内")),
        "charts": _charts(year, shown_months, per_month, clause_rows),
    }
    context["overview"].update(staffing)  # only members with a site liaise (分片联系); the others said apart
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
                     "period": _WHOLE_YEAR.get(period_span(names), period_span(names)), "judged": len(mine), "met": met, "failed": failed,
                     "at_risk": len(mine) - met - failed, "rate": decided_rate(met, failed)})
    return rows


# every period of a kind in the year, said in a word: the requirement's name keeps the table's room
_WHOLE_YEAR = {"第一季度至第四季度": "各季度", "上半年、下半年": "上下半年", "1月至12月": "1至12月"}


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


# --- the summary's sections in the form the office writes: 基本情况, 主要成效, 经验做法, 存在问题, 下步打算 ---

def _staffing(sites: list[dict], roster) -> dict:
    """Who of the 企业组 liaises with a site: only members with a site of their own are counted as
    liaising (分片联系), the others and the sites without a member said apart."""
    names = [s.name for s in roster.staff] if roster is not None else []
    staffed = [s for s in sites if cell_text(s.get("staff")) in names]
    with_site = {cell_text(s["staff"]) for s in staffed}
    return {"staff_assigned": len(with_site), "sites_assigned": len(staffed),
            "sites_unassigned": len(sites) - len(staffed),
            "staff_without_site": sum(n not in with_site for n in dict.fromkeys(names))}


def _full_year_sites(data: LedgerData, sites: list[dict], due_months: list[str]) -> list[dict]:
    """The registered sites reported in every month due (a site judged on part of the year only is no example)."""
    seen: dict[tuple, set] = {}
    for r in data.records("sites", months=due_months):
        seen.setdefault((r["unit"], r["site"]), set()).add(r["month"])
    return [s for s in sites if len(seen.get((s["unit"], s["site"]), ())) == len(due_months)]


def _figures(data: LedgerData, months: list[str]) -> dict:
    """The year's work in counts: contacts, visits, sites contacted, 组织生活 by kind, members developed."""
    contacts = data.records("contacts", months=months)
    modes = mode_counts(contacts)
    life = data.records("org_life", months=months)
    members = data.records("members", months=months)
    return {"contacts": modes["total"], "visits": modes["onsite"] + modes["meeting"],
            "sites_contacted": len({(c["unit"], c["site"]) for c in contacts}), "life": len(life),
            "life_kinds": Counter(r["activity"] for r in life),
            "new_members": sum(count_of(r.get("new_members")) for r in members),
            "new_workers": sum(count_of(r.get("new_workers")) for r in members)}


def _last_year(snapshot: Snapshot, year: periods.Period) -> dict | None:
    """Last year's figures when the ledger has them: its months the office covers and has forms of,
    their counts and their rate of what was decided; ``None`` without (the summary then says no comparison)."""
    rulebook = snapshot.rulebook
    before = periods.parse_year(str(int(year.label) - 1))
    months = [m for m in before.months if rulebook.covers(m)]
    data = snapshot.view(until=before.last)
    months = [m for m in months if any(f["month"] == m and f["status"] in ("accepted", "superseded")
                                       for f in data.files)]
    if not months:
        return None
    findings = one_per_requirement(snapshot.findings(months, until=before.last))
    met, failed = sum(f.status == MET for f in findings), sum(f.status == FAILED for f in findings)
    return {**_figures(data, months), "rate": decided_rate(met, failed), "months": months,
            "span": f"{periods.month_cn(months[0])}至{int(months[-1][5:])}月"}


def _against(now, before: dict | None, key: str, unit: str, whole: bool) -> str:
    """"，比上年增加12次" when both years are whole; "（上年2026年9月至12月为30次）" when last year is part."""
    if before is None:
        return ""
    then = before[key]
    if not whole:
        return f"（上年{before['span']}为{then}{unit}）"
    if now == then:
        return "，与上年持平"
    return f"，比上年{'增加' if now > then else '减少'}{abs(now - then)}{unit}"


def _rate_against(rate, before: dict | None, whole: bool) -> str:
    if before is None or before["rate"] == "" or rate == "":
        return ""
    if not whole:
        return f"（上年{before['span']}为{cnfmt.pct(before['rate'])}）"
    points = round((rate - before["rate"]) * 100, 1)
    if points == 0:
        return "，与上年持平"
    return f"，比上年{'提高' if points > 0 else '降低'}{cnfmt.plain_num(abs(points))}个百分点"


def _achievements(now: dict, before: dict | None, whole: bool, totals: dict, problems: dict,
                  all_met: int) -> list[dict]:
    """主要成效: each line of work in the year's figures, against last year's where the ledger has last year
    (``whole``: both years have every month, so the figures compare as they are)."""
    kinds = now["life_kinds"]
    top = "、".join(f"{k}{kinds[k]}次" for k in sorted(kinds, key=lambda k: (-kinds[k], k))[:3])
    life = (f"各示范点全年开展组织生活{now['life']}次{_against(now['life'], before, 'life', '次', whole)}，"
            f"其中{top}。" if now["life"] else "各示范点全年未报送组织生活记录。")
    decided = totals["met"] + totals["failed"]
    rules = (f"对照实施意见各项要求，已有结论的{decided}项次中达标{totals['met']}项次，达标率"
             f"{cnfmt.pct(totals['rate'])}{_rate_against(totals['rate'], before, whole)}；"
             if decided else "对照实施意见各项要求，全年尚无已有结论的项次；")
    rules += f"{all_met}个示范点全年各项要求全部达标。" if all_met else "尚没有全年各项要求全部达标的示范点。"
    items = [
        {"name": "联系指导", "text": f"企业组成员全年联系指导示范点{now['contacts']}次"
                                 f"{_against(now['contacts'], before, 'contacts', '次', whole)}，其中现场指导和座谈会"
                                 f"{now['visits']}次{_against(now['visits'], before, 'visits', '次', whole)}，"
                                 f"联系到{now['sites_contacted']}个示范点。"},
        {"name": "组织生活", "text": life},
        {"name": "党员队伍", "text": f"各示范点全年发展党员{now['new_members']}名"
                                 f"{_against(now['new_members'], before, 'new_members', '名', whole)}，其中一线工人"
                                 f"{now['new_workers']}名。"},
        {"name": "制度落实", "text": rules},
    ]
    if problems["total"]:
        items.append({"name": "问题整改", "text": f"联系指导中发现并跟踪问题{problems['total']}个，已办结"
                                              f"{problems['closed']}个。"})
    if before is None:
        items[0]["text"] += "（上年未纳入统计，不作比较。）"
    return items


def _weak_rules(clause_rows: list[dict]) -> str:
    """The requirements most often not met, with their counts: 每季度现场指导3项次、每月沟通联系2项次."""
    rows = sorted((r for r in clause_rows if r["failed"]), key=lambda r: -r["failed"])[:3]
    return "、".join(f"{r['rule']}{r['failed']}项次" for r in rows)


def _closed(year: periods.Period, as_of) -> bool:
    """Whether every period of the year has ended by the run's day (nothing of it can still be done)."""
    return as_of > year.end


def _year_steps(findings: list[Finding], unit_rows: list[dict], staffing: dict, year: periods.Period,
                following: str) -> list[str]:
    """下步打算 for the named next year, drawn from what fell short in a closed year: what is to be
    done better from now on, never activities "still to be held" in periods that are over."""
    label = f"{year.label}年"
    steps = []
    if staffing["sites_unassigned"]:
        steps.append(f"{following}年初为尚未确定企业组联系人员的{staffing['sites_unassigned']}个示范点明确联系人员。")
    late = [r["unit"] for r in unit_rows if r["late"] or r["missing"]]
    if late:
        named = cn_list(late) if len(late) <= 3 else f"{cn_list(late[:3])}等{len(late)}个单位"
        steps.append(f"督促{named}在{following}每月截止日期前报送月报表。")
    no_contact = named_sites(open_findings(findings, "monthly-contact"))
    if no_contact:
        steps.append(f"{following}坚持每月与每个示范点至少沟通联系一次，{label}有月份未联系的"
                     f"{site_list(no_contact)}列为重点。")
    no_visit = named_sites(open_findings(findings, "quarterly-visit"))
    if no_visit:
        steps.append(f"{following}每季度至少一次深入示范点现场指导或召开座谈会，{label}有季度未现场指导的"
                     f"{site_list(no_visit)}优先安排。")
    plans = named_sites(open_findings(findings, "plan-reported"))
    if plans:
        steps.append(f"指导{site_list(plans)}按期制订并上报{following}工作方案。")
    lacking = {site: names for site, names in lacking_activities(findings).items() if names}
    if lacking:
        named = "；".join(f"{site}（{cn_list(names)}）" for site, names in lacking.items())
        steps.append(f"{label}有{len(lacking)}个示范点组织生活未达到规定频次：{named}。{following}年初督促其制订全年"
                     f"组织生活计划，按规定频次开展。")
    hardware = named_sites(open_findings(findings, "hardware-items") + open_findings(findings, "room-area"))
    if hardware:
        steps.append(f"对照“十二个有”“十个一”标准，跟踪{site_list(hardware)}补齐硬件设施。")
    overdue = [f for f in open_findings(findings, "problem-closed") if f.status == FAILED and f.closed_on is None]
    if overdue:
        steps.append(f"督促{len(overdue)}个超过整改时限仍未办结的问题尽快整改到位，逐个销号。")
    if not steps:
        steps.append(f"{following}继续按月做好联系指导和月报表报送工作。")
    return steps


def site_list(names: list[str], limit: int = 3) -> str:
    """"甲、乙、丙等5个示范点" from site names already joined with their unit."""
    if len(names) == 1:
        return names[0]
    return f"{cn_list(names[:limit])}{'等' if len(names) > limit else '共'}{len(names)}个示范点"
