"""What one consolidation works out once and shares between its outputs (a month's activity tallies,
the problem threads, the quality warnings, a sheet split by unit and month, a month's frame) is
exactly what each output would have worked out on its own, from a real ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from ledger_helpers import LedgerBuilder, activity, contact, progress, site

from processor.common import periods
from processor.common.rulebook import load_rulebook
from processor.consolidate import dossier, findings, quality
from processor.consolidate.ledger_data import LedgerData
from processor.consolidate.snapshot import Snapshot

D = dt.date
RULEBOOK = load_rulebook()
AS_OF = D(2027, 1, 20)
MONTHS = [f"2026-{m:02d}" for m in range(7, 13)]
UNITS = ("罗源县", "连江县", "闽清县")


def _month_day(month: str, day: int) -> D:
    return D(int(month[:4]), int(month[5:]), day)


def _fill(lb: LedgerBuilder) -> None:
    """Three units over six months: meetings with and without a quorum, problems found, extended
    and closed across months, a unit that skips a month, and 联系指导记录 copied from the month before."""
    for u, unit in enumerate(UNITS):
        for i, month in enumerate(MONTHS):
            if unit == "闽清县" and month == "2026-09":
                continue  # a month not reported
            names = ["甲公司", "乙公司"] if u != 1 else ["丙公司"]
            life = [activity(_month_day(month, 5 + k), name, kind, expected=10, present=present)
                    for k, (name, kind, present) in enumerate(
                        [(names[0], "党员大会", 8), (names[0], "党员大会", 4 + i % 3), (names[-1], "支委会", 5),
                         (names[-1], "党课", 9), (names[0], "主题党日", 7)][: 3 + (i + u) % 3])]
            problem = {"problem": "党员活动室台账不全", "deadline": _month_day(month, 28),
                       "state": "已办结" if (i + u) % 3 == 2 else "未办结"} if (i + u) % 2 else {}
            talks = [contact(_month_day(month, 10), name, content=f"{month}走访{name}",
                             mode="实地走访" if (i + k) % 2 else "电话联系", **(problem if k == 0 else {}))
                     for k, name in enumerate(names)]
            if unit == "连江县" and month in ("2026-11", "2026-12"):  # November's contacts again in December
                talks = [contact(_month_day(month, 12 + k), names[0], content="了解示范点建设进展", mode=mode)
                         for k, mode in enumerate(("电话联系", "实地走访"))]
                if month == "2026-12":
                    talks.reverse()  # the same rows in another order are a copy all the same
            lb.submit(unit, month, sites=[site(n) for n in names], contacts=talks, org_life=life,
                      progress_rows=[progress(n, text=f"{month}推进") for n in names])


@pytest.fixture
def snapshot(workspace, roster):
    lb = LedgerBuilder(workspace.ledger_path)
    _fill(lb)
    data = LedgerData.load(lb.ledger, as_of=AS_OF, timezone=RULEBOOK.timezone)
    yield Snapshot(data, workspace, roster, AS_OF)
    lb.ledger.close()


def _fresh(snapshot: Snapshot) -> LedgerData:
    """The same data with nothing worked out yet."""
    data = snapshot.data
    return LedgerData({key: data.records(key) for key in data._keys}, data.files, data.until)


def test_a_periods_activity_tallies_are_the_sums_of_its_months(snapshot):
    view = snapshot.view(until="2026-12")
    scope = findings.make_scope(view, RULEBOOK, snapshot.roster, months=MONTHS, today=AS_OF)
    compared = 0
    for kind in ("month", "quarter", "half", "year"):
        for period in scope.periods(kind):
            rules = scope.rules(period)
            life = view.records("org_life", months=period.months)
            expected = tuple(findings._tally(part) for part in findings.split_activities(life, rules))
            assert findings._period_tallies(scope, period, rules) == expected
            compared += bool(expected[1])
    assert compared  # some periods do have meetings left out for want of a quorum


def test_evaluations_sharing_one_view_find_what_each_finds_on_its_own(snapshot):
    view = snapshot.view(until="2026-12")
    asked = [(MONTHS, None), (["2026-12"], None), (MONTHS[1:], None), (MONTHS, ["连江县"]),
             (["2026-11", "2026-12"], ["罗源县", "闽清县"])]
    shared = [findings.evaluate(view, RULEBOOK, snapshot.roster, months=m, today=AS_OF, units=u) for m, u in asked]
    for (months, units), found in zip(asked, shared, strict=True):
        alone = findings.evaluate(_fresh(snapshot), RULEBOOK, snapshot.roster, months=months, today=AS_OF,
                                  units=units)
        assert [f.to_dict() for f in found] == [f.to_dict() for f in alone]
    codes = {f.code for f in shared[0]}
    assert {"problem-closed", "activity-frequency"} <= codes


def test_the_runs_quality_warnings_are_those_of_the_month_worked_out_alone(snapshot):
    units = list(UNITS)
    seen = set()
    for month in MONTHS[1:]:
        for until in sorted({month, "2026-12"}):
            kept = snapshot.quality_warnings(month, until=until, units=units)
            assert kept is snapshot.quality_warnings(month, until=until, units=units)  # worked out once
            alone = quality.quality_warnings(_fresh(snapshot).restrict(until=until), RULEBOOK, month, units=units)
            assert [w.to_dict() for w in kept] == [w.to_dict() for w in alone]
            seen.update((w.code, w.unit, month) for w in kept)
    # the same contacts in another order, dates aside, are a copy; a month's own contacts are not
    assert ("copied-sheet", "连江县", "2026-12") in seen
    assert ("copied-sheet", "连江县", "2026-10") not in seen


def test_copied_rows_are_the_same_rows_as_multisets(snapshot):
    rows = snapshot.view().records("contacts", unit="连江县")
    nov = [r for r in rows if r["month"] == "2026-11"]
    dec = [r for r in rows if r["month"] == "2026-12"]
    assert quality._same_content(dec, nov) and quality._same_content(nov, dec)
    assert not quality._same_content(dec, nov[:1])  # fewer rows
    changed = [{**nov[0], "content": "另一次联系"}, *nov[1:]]
    assert not quality._same_content(dec, changed)
    twice = [nov[0], nov[0]]
    assert not quality._same_content([nov[0], {**nov[0], "mode": "会议"}], twice)


def test_a_months_frame_holds_the_rows_the_whole_frame_holds_for_it(snapshot):
    view = snapshot.view(until="2026-12")
    for key, options in (("org_life", {"months": ["2026-10"]}), ("members", {"months": MONTHS[2:]}),
                         ("progress", {"unit": "罗源县"}), ("contacts", {"unit": "罗源县", "site": "乙公司"})):
        framed = view.rows(key, **options)  # framed on its own: the sheet's frame was never built
        assert key not in view._frames
        whole = _fresh(snapshot).restrict(until="2026-12").rows(key)
        masked = whole
        if "unit" in options:
            masked = masked[masked["unit"] == options["unit"]]
        if "site" in options:
            masked = masked[masked["site"] == options["site"]]
        if "months" in options:
            masked = masked[masked["month"].isin(options["months"])]
        assert len(framed) > 0
        assert list(framed.columns) == list(masked.columns)
        assert framed.to_dict("records") == masked.to_dict("records")
        assert list(framed.dtypes) == list(masked.dtypes)


def test_a_dossier_reads_its_sites_rows_and_arrivals_as_its_units_own_data_holds_them(snapshot):
    until = "2026-12"
    view = snapshot.view(until=until)
    for unit, name in dict.fromkeys((r["unit"], r["site"]) for r in view.records("sites")):
        own = view.restrict(units=[unit])  # the unit's own data, narrowed apart from the shared view
        assert snapshot.unit_files(unit, until=until) == own.files
        for key in ("sites", "contacts", "org_life", "hardware", "members", "progress"):
            assert view.site_records(key, unit, name) == own.site_records(key, unit, name)
        assert (dossier.dossier_span(view, RULEBOOK, unit, name, AS_OF)
                == dossier.dossier_span(own, RULEBOOK, unit, name, AS_OF))
    gap = dossier.dossier_context(snapshot, "闽清县", "甲公司", until=until)
    assert periods.month_cn("2026-09") in gap["missing_note"]
