"""The assignment table (企业组人员联系示范点分组情况一览表): who is in contact with which site."""

from __future__ import annotations

from processor.common import cnfmt
from processor.common import periods
from processor.consolidate.blocks import UNASSIGNED, cell_text, count_of, iso_date, latest_sites
from processor.consolidate.findings import roster_units
from processor.consolidate.snapshot import Snapshot


def assignment_context(snapshot: Snapshot, *, until: str | None = None) -> dict:
    """Who is in contact with which site, from each unit's latest form up to ``until``, as of the
    run's day: before M-1a's deadline a member without a site is still to be assigned one."""
    rulebook, roster, today = snapshot.rulebook, snapshot.roster, snapshot.as_of
    data = snapshot.view(until=until)
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
        note = "未确定企业组联系人员" if not cell_text(s["staff"]) else f"联系人员“{s['staff']}”不在企业组名册中"
        rows.append(_assignment_row("未分组", UNASSIGNED, s, note))
    late = [{"staff": s["staff"], "unit": s["unit"], "site": s["site"], "contact_date": iso_date(s["contact_date"])}
            for s in sites if s["staff"] in known and (s["unit"], s["site"]) in late_keys]
    return {
        "office_name": snapshot.ws.office_name,
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
    deadline, last_month = rule.date("deadline"), periods.month_str(rule.year, 12)

    def first_listed(s: dict) -> str:
        return min((r["month"] for r in data.site_records("sites", s["unit"], s["site"])), default=s["month"])

    return {(s["unit"], s["site"]) for s in sites
            if first_listed(s) <= last_month and (s["contact_date"] is None or s["contact_date"] >= deadline)}


def _assignment_row(group: str, staff: str, s: dict, note: str) -> dict:
    return {"group": group, "staff": staff, "unit": s["unit"], "site": s["site"], "kind": s["enterprise_kind"],
            "secretary": cell_text(s["secretary"]), "members": count_of(s["members"]),
            "contact_date": iso_date(s["contact_date"]), "note": note}
