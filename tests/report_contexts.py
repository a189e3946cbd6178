"""The contexts the production report builders make from one small real ledger: every report of
:data:`processor.render.documents.REPORT_NAMES`, for the contract and chart tests."""

from __future__ import annotations

from ledger_helpers import D, LedgerBuilder, activity, contact, hardware, progress, site
from processor.common.periods import parse_half, parse_year
from processor.consolidate import assignment, dossier, half_year, monthly, year_report
from processor.consolidate.snapshot import Snapshot

TODAY = D(2026, 11, 26)
AFTER_HALF = D(2027, 1, 10)  # the H2 report and the year's summary are written after the half


def fill_ledger(builder: LedgerBuilder) -> LedgerBuilder:
    """Three months of 榕城区 (a problem left open), one form of 鼓山区 with hardware missing, and
    闽江区's October form returned."""
    a = [site("榕城电子", "非公", plan_date=D(2026, 11, 20)), site("闽榕食品", "国企", staff="林少华")]
    for month, received in (("2026-10", D(2026, 11, 3)), ("2026-11", D(2026, 12, 2)), ("2026-12", D(2027, 1, 4))):
        m = int(month[5:])
        builder.submit("榕城区", month, sites=a, received=received, contacts=[
            contact(D(2026, m, 8), "榕城电子", mode="现场指导"),
            contact(D(2026, m, 9), "闽榕食品", problem="党员活动室缺少资料柜", deadline=D(2026, 10, 31),
                    state="未办结"),
        ], org_life=[activity(D(2026, m, 12), "榕城电子", "党员大会"), activity(D(2026, m, 13), "闽榕食品", "党课")],
            progress_rows=[progress("榕城电子", issues="倒班生产，集中学习难"), progress("闽榕食品")])
    builder.submit("鼓山区", "2026-10", sites=[site("鼓山机械", staff="黄雅琴", contact_date=D(2026, 10, 9))],
                   received=D(2026, 11, 8), hardware_rows=[hardware("鼓山机械", missing=["电脑", "照相机"])])
    builder.reject("闽江区", "2026-10", received=D(2026, 11, 4))
    return builder


def production_contexts(ledger, ws, roster) -> dict[str, dict]:
    """Every report's context, as the consolidation builds it."""
    now, later = Snapshot.of(ledger, ws, roster, TODAY), Snapshot.of(ledger, ws, roster, AFTER_HALF)
    return {
        "monthly_report": monthly.monthly_report_context(now, "2026-10"),
        "half_year_report": half_year.half_year_context(later, parse_half("2026-H2")),
        "year_report": year_report.year_report_context(later, parse_year("2026")),
        "assignment_table": assignment.assignment_context(now),
        "site_dossier": dossier.dossier_context(later, "榕城区", "榕城电子"),
        "reminder_list": monthly.reminder_context(now, "2026-10"),
    }
