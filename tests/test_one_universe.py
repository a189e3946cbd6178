"""One universe per table (SPEC §10): a requirement has one value per period in every document of a
run, every total says what it covers and its rows add up to it, and every rate is of what is decided."""

from __future__ import annotations

import datetime as dt

from ledger_helpers import D, contact, hardware, site

from processor.common import periods as P
from processor.consolidate import half_year, year_report
from processor.consolidate.ledger_data import LedgerData
from processor.consolidate.snapshot import Snapshot

RUN_DAY = dt.date(2027, 2, 8)
H2 = [f"2026-{m:02d}" for m in range(7, 13)]
SOE_SITE, PRIVATE_SITE = "罗源机械", "罗源电子"
PROBLEM = "党员活动室制度未上墙"


def _snapshot(lb, workspace, roster, day: dt.date = RUN_DAY) -> Snapshot:
    return Snapshot.of(LedgerData.load(lb.ledger, as_of=day), workspace, roster, day)


def _small_room_and_an_overdue_problem(lb) -> None:
    """罗源县, July–December: its 非公 site has every item of "十个一" but a 30㎡ room (N-5 asks ≥50㎡);
    its 国企 site has a problem found in October, due by October 31 and never closed."""
    for month in H2:
        first = P.first_day(month)
        contacts = [contact(first + dt.timedelta(days=9), s, mode="现场指导") for s in (SOE_SITE, PRIVATE_SITE)]
        if month == "2026-10":
            contacts.append(contact(D(2026, 10, 12), SOE_SITE, problem=PROBLEM, suggestion="限期整改",
                                    deadline=D(2026, 10, 31), state="未办结"))
        lb.submit("罗源县", month, sites=[site(SOE_SITE), site(PRIVATE_SITE, "非公")], contacts=contacts,
                  hardware_rows=[hardware(SOE_SITE), hardware(PRIVATE_SITE, area=30.0)])


def test_private_hardware_has_one_value_in_every_table_and_no_site_row_hides_an_annex_failure(lb, workspace,
                                                                                               roster):
    """The 30㎡ room fails 非公硬件设施 (N-5): the yearly per-clause table, the yearly per-site table, both
    annexes and the H2 report say so alike — one requirement, one row, 0 % — not 100 % in one table and
    "未达标" in another; and the site whose problem is overdue does not read "未达标0" in the per-site
    table while the annex lists that problem.  The per-site rows add up to the total they state, and the
    annex lists exactly the 项次 the per-clause table counts as 未达标 or 待完成."""
    _small_room_and_an_overdue_problem(lb)
    snapshot = _snapshot(lb, workspace, roster)
    year = year_report.year_report_context(snapshot, P.parse_year("2026"))
    half = half_year.half_year_context(snapshot, P.parse_half("2026-H2"))

    (n5,) = [r for r in year["clause_rows"] if r["clause"] == "N-5"]
    assert (n5["rule"], n5["judged"], n5["met"], n5["failed"], n5["rate"]) == ("非公硬件设施", 1, 0, 1, 0.0)
    (h2_n5,) = [r for r in half["compliance_rows"] if r["clause"] == "N-5"]
    assert (h2_n5["rule"], h2_n5["failed"], h2_n5["rate"]) == ("非公硬件设施", 1, 0.0)

    sites = {r["site"]: r for r in year["site_rows"]}
    assert "非公硬件设施" in sites[PRIVATE_SITE]["short"] and sites[PRIVATE_SITE]["failed"] >= 1
    assert "问题整改跟踪" in sites[SOE_SITE]["short"] and sites[SOE_SITE]["failed"] >= 1
    for report in (year, half):  # each site's annex lines are the 未达标 and 待完成 its table row counts
        for name in (SOE_SITE, PRIVATE_SITE):
            annex = [r for r in report["findings"] if r["site"] == name]
            assert sum(r["rule"] == "非公硬件设施" for r in annex) == (name == PRIVATE_SITE)
            if report is year:
                assert len(annex) == sites[name]["failed"] + sites[name]["at_risk"], (name, annex)

    totals = year["totals"]
    assert year["finding_counts"]["total"] == totals["failed"] + totals["at_risk"] == len(year["findings"])
    per_site = sum(r["judged"] for r in year["clause_rows"] if r["applies"] not in ("各单位", "企业组人员"))
    assert year["site_totals"]["judged"] == sum(r["judged"] for r in year["site_rows"]) == per_site
    assert year["site_totals"]["failed"] == sum(r["failed"] for r in year["site_rows"])
