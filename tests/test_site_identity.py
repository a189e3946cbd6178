"""A site keeps its identity across a rename (SPEC §10, Identity): a unit's form that drops one site
of its previous form, brings one new site and says why in its 变更说明 renamed that site."""

from __future__ import annotations

import datetime as dt

from ledger_helpers import D, LedgerBuilder, contact, site

from processor.consolidate.ledger_data import LedgerData, as_reported
from processor.consolidate.problems import problem_threads
from processor.consolidate.run import consolidate
from processor.record.ledger import Ledger

UNIT = "鼓山区"
OLD, NEW = "鼓山福顺鞋业", "鼓山供电"
PROBLEM = "党员活动室未挂牌"


def _year(lb: LedgerBuilder, *, note: str | None) -> None:
    """March under the old name, with a problem due 30 April; from April the new name (with or
    without a 变更说明), the problem closed in May by a contact at the new name."""
    lb.submit(UNIT, "2026-03", sites=[site(OLD, "非公", staff="林少华")], received=D(2026, 4, 2),
              contacts=[contact(D(2026, 3, 10), OLD, staff="林少华", problem=PROBLEM, suggestion="尽快挂牌",
                                deadline=D(2026, 4, 30), state="未办结")])
    lb.submit(UNIT, "2026-04", sites=[site(NEW, "非公", staff="林少华")], received=D(2026, 5, 2), change_note=note,
              contacts=[contact(D(2026, 4, 12), NEW, staff="林少华")])
    lb.submit(UNIT, "2026-05", sites=[site(NEW, "非公", staff="林少华")], received=D(2026, 6, 2),
              contacts=[contact(D(2026, 5, 8), NEW, staff="林少华", problem=PROBLEM, deadline=D(2026, 4, 30),
                                state="已办结")])


def test_a_site_renamed_with_a_change_note_is_one_site_whose_problems_continue(workspace):
    lb = LedgerBuilder(workspace.ledger_path)
    try:
        _year(lb, note="示范点调整为鼓山供电党建示范点")
    finally:
        lb.ledger.close()
    with Ledger(workspace.ledger_path) as ledger:
        data = LedgerData.load(ledger, as_of=D(2026, 6, 8))
    # one site in every month and sheet, under the name of its latest form
    assert {(r["unit"], r["site"]) for r in data.records("sites")} == {(UNIT, NEW)}
    assert {r["site"] for r in data.records("contacts")} == {NEW}
    # March's problem continues under the new name and is closed by May's contact there
    [thread] = problem_threads(data.records("contacts"))
    assert thread.site == NEW and thread.closed_on == D(2026, 5, 8)

    consolidate(workspace, month="2026-05", as_of=D(2026, 6, 8))
    dossiers = sorted(p.name for p in (workspace.outbox / "示范点档案").rglob("*.docx"))
    assert dossiers == [f"{NEW}.docx"]  # one dossier, following the site
    # 汇总数据 and the like keep what each form said
    assert [as_reported(r)["site"] for r in data.records("sites", months=["2026-03"])] == [OLD]


def test_without_a_change_note_a_new_name_is_another_site(workspace):
    lb = LedgerBuilder(workspace.ledger_path)
    try:
        _year(lb, note=None)
    finally:
        lb.ledger.close()
    with Ledger(workspace.ledger_path) as ledger:
        data = LedgerData.load(ledger, as_of=D(2026, 6, 8))
    assert {r["site"] for r in data.records("sites")} == {OLD, NEW}
    threads = problem_threads(data.records("contacts"))
    assert sorted((t.site, t.closed_on) for t in threads) == [(NEW, D(2026, 5, 8)), (OLD, None)]
    assert dt.date(2026, 6, 8) > threads[0].deadline  # the old one is overdue: nobody said it was renamed


def test_the_demo_site_renamed_in_april_stays_renamed_into_the_next_year(tmp_path):
    """The demo's unit that renames a site in April (with a 变更说明 naming the old and the new site)
    lists it under the new name in every later form, January of the next year included: one site."""
    from processor.demo import plan_year, prepare_folder
    from processor.validate.roster import workspace_roster

    ws = prepare_folder(tmp_path / "demo", units_limit=5)
    _, jobs = plan_year(ws, tmp_path, D(2027, 2, 8))
    unit = [u.name for u in workspace_roster(ws).units][3]
    forms = {month: rows for (_path, rows, _roster, _book, u, month) in jobs if u == unit}  # the last form wins
    year = ws.rulebook.year
    note = forms[f"{year}-04"]["basic_info"][0]["change_note"]
    march = [s["site"] for s in forms[f"{year}-03"]["sites"]]
    april = [s["site"] for s in forms[f"{year}-04"]["sites"]]
    [old] = [s for s in march if s not in april]
    [new] = [s for s in april if s not in march]
    assert old in note and new in note
    later = [month for month in forms if month >= f"{year}-04"]
    assert f"{year + 1}-01" in later
    for month in later:
        names = [s["site"] for s in forms[month]["sites"]]
        assert new in names and old not in names, month


def test_one_site_registered_by_two_units_is_flagged_with_both_units(workspace):
    """榕城区 and 鼓山区 both register 榕城新锐软件: the month's report says the site count holds one
    enterprise twice and names both units (and its 数据质量 section flags it)."""
    from processor.consolidate.monthly import monthly_report_context
    from processor.consolidate.snapshot import Snapshot
    from processor.validate.roster import workspace_roster

    lb = LedgerBuilder(workspace.ledger_path)
    try:
        lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公"), site("榕城新锐软件", "非公")])
        lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械"), site("榕城 新锐软件", "非公")])
    finally:
        lb.ledger.close()
    with Ledger(workspace.ledger_path) as ledger:
        data = LedgerData.load(ledger, as_of=D(2026, 11, 8))
    snapshot = Snapshot(data, workspace, workspace_roster(workspace), D(2026, 11, 8))
    [shared] = snapshot.shared_sites(until="2026-10")
    assert shared["site"] == "榕城新锐软件" and sorted(shared["units"]) == ["榕城区", "鼓山区"]
    context = monthly_report_context(snapshot, "2026-10")
    assert context["overview"]["sites"] == 4
    assert context["overview"]["sites_note"] == "（其中1家由两个单位重复登记）"
    flagged = {r["unit"] for r in context["quality_rows"] if r["code"] == "site-shared"}
    assert flagged == {"榕城区", "鼓山区"}


def test_an_old_name_listed_again_beside_the_new_one_is_two_sites(workspace):
    """A form listing the old and the new name side by side says they are two sites: no rename."""
    lb = LedgerBuilder(workspace.ledger_path)
    try:
        _year(lb, note="示范点调整为鼓山供电党建示范点")
        lb.submit(UNIT, "2026-06", sites=[site(OLD, "非公", staff="林少华"), site(NEW, "非公", staff="林少华")],
                  received=D(2026, 7, 2))
    finally:
        lb.ledger.close()
    with Ledger(workspace.ledger_path) as ledger:
        data = LedgerData.load(ledger, as_of=D(2026, 7, 8))
    assert sorted(r["site"] for r in data.records("sites", months=["2026-06"])) == sorted([OLD, NEW])
    assert {r["site"] for r in data.records("sites", months=["2026-03"])} == {OLD}
