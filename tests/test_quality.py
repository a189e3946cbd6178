"""Checks across months and files: one case that triggers each, one just below its threshold."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from processor.intake.run import Intake
from processor.record.ledger import Ledger
from processor.consolidate.quality import quality_warnings
from processor.common.rulebook import load_rulebook
from form_helpers import scenario_form
from ledger_helpers import LedgerBuilder, contact, members, progress, site

D = dt.date
RULEBOOK = load_rulebook()
SEP, OCT = "2026-09", "2026-10"


def _codes(builder, month=OCT, unit=None):
    found = quality_warnings(builder.ledger, RULEBOOK, month, units=[unit] if unit else None)
    return [(w.code, w.unit, w.site) for w in found], found


def _two_months(builder, unit="罗源县", *, sep=None, oct=None):
    """A unit's September and October forms; ``sep``/``oct`` override submit() arguments."""
    base = dict(sites=[site("甲公司")], contacts=[contact(D(2026, 9, 10), "甲公司")],
                progress_rows=[progress("甲公司", text="九月推进")])
    builder.submit(unit, SEP, **{**base, **(sep or {})})
    october = dict(sites=[site("甲公司")], contacts=[contact(D(2026, 10, 10), "甲公司", content="十月联系")],
                   progress_rows=[progress("甲公司", text="十月推进")])
    builder.submit(unit, OCT, **{**october, **(oct or {})})


@pytest.mark.parametrize("total, flagged", [(24, True), (23, False), (16, True), (17, False)])
def test_member_total_change_beyond_new_members_and_transfers_is_flagged(lb, total, flagged):
    # September 20 members; October: 1 new member, 2 transferred out -> 19..21 explained, tolerance 2.
    _two_months(lb, sep={"members_rows": [members("甲公司", total=20)]},
                oct={"members_rows": [dict(members("甲公司", total=total, new=1, mobile=2), mobile_managed=2)]})
    codes, found = _codes(lb)
    assert (("members-unexplained", "罗源县", "甲公司") in codes) is flagged
    if flagged:
        text = next(w for w in found if w.code == "members-unexplained").evidence
        assert "由上月20人变为" in text and "允许相差2人" in text


def test_a_site_missing_without_change_note_is_flagged_and_with_one_is_not(lb, tmp_path):
    _two_months(lb, sep={"sites": [site("甲公司"), site("乙公司")]})
    codes, found = _codes(lb)
    assert ("site-dropped", "罗源县", "乙公司") in codes
    assert "乙公司" in next(w for w in found if w.code == "site-dropped").evidence

    explained = LedgerBuilder(tmp_path / "other.sqlite")
    _two_months(explained, sep={"sites": [site("甲公司"), site("乙公司")]})
    with explained.ledger.atomic() as conn:
        conn.execute("UPDATE basic_info SET change_note = '乙公司改制，不再作为示范点' WHERE month = ?", (OCT,))
    assert "site-dropped" not in [c for c, _, _ in _codes(explained)[0]]
    explained.ledger.close()


def test_one_site_name_in_two_units_is_flagged_for_both_and_a_similar_name_is_not(lb):
    lb.submit("罗源县", OCT, sites=[site("福州华光机械有限公司")])
    lb.submit("闽清县", OCT, sites=[site("福州华光机械 有限公司")])  # a space does not make it another site
    lb.submit("连江县", OCT, sites=[site("福州华光机械二厂")])
    codes, found = _codes(lb)
    shared = sorted((u, s) for c, u, s in codes if c == "site-shared")
    assert shared == [("罗源县", "福州华光机械有限公司"), ("闽清县", "福州华光机械 有限公司")]
    assert "罗源县、闽清县" in next(w for w in found if w.code == "site-shared").evidence


def test_detail_sheets_identical_to_last_month_are_flagged_and_one_changed_cell_is_not(lb, tmp_path):
    same = dict(contacts=[contact(D(2026, 9, 10), "甲公司", content="电话了解进展")],
                progress_rows=[progress("甲公司", text="按计划推进")])
    _two_months(lb, sep=same, oct=dict(contacts=[contact(D(2026, 10, 12), "甲公司", content="电话了解进展")],
                                         progress_rows=[progress("甲公司", text="按计划推进")]))
    codes, found = _codes(lb)
    copied = next(w for w in found if w.code == "copied-sheet")
    assert copied.missing == ("联系指导记录", "工作进展") and "疑似照抄上月" in copied.evidence

    changed = LedgerBuilder(tmp_path / "other.sqlite")
    _two_months(changed, sep=same, oct=dict(contacts=[contact(D(2026, 10, 12), "甲公司", content="电话了解进展。")],
                                            progress_rows=[progress("甲公司", text="按计划推进，完成阵地建设")]))
    assert "copied-sheet" not in [c for c, _, _ in _codes(changed)[0]]
    changed.ledger.close()


def test_a_contact_dated_in_a_month_already_reported_is_flagged_and_one_of_an_unreported_month_is_not(lb):
    lb.submit("罗源县", SEP, sites=[site("甲公司")])
    lb.submit("罗源县", OCT, sites=[site("甲公司")],
                contacts=[contact(D(2026, 9, 28), "甲公司"), contact(D(2026, 8, 20), "甲公司", content="八月")])
    codes, found = _codes(lb)
    flagged = [w for w in found if w.code == "contact-reported-month"]
    assert [w.on for w in flagged] == [D(2026, 9, 28)]  # August was never reported: no warning
    assert "2026年9月28日" in flagged[0].evidence and "2026年9月" in flagged[0].evidence


def test_the_accepted_receipt_lists_the_warnings_of_a_real_form(workspace, tmp_path):
    def shrink(rows):
        for r in rows["members"]:  # far below September's figure, with nobody transferred out
            r.update(total=3, new_members=0, new_workers=0, new_intellectuals=0, mobile_managed=0)
    intake = Intake(workspace, clock=lambda: dt.datetime(2026, 11, 2, 9, 0).astimezone())
    try:
        september = scenario_form(workspace.inbox / "9月.xlsx", "罗源县", SEP, seed=3)
        assert intake.handle(september).status == "accepted"
        october = scenario_form(workspace.inbox / "10月.xlsx", "罗源县", OCT, shrink, seed=4)
        outcome = intake.handle(october)
    finally:
        intake.close()
    assert outcome.status == "accepted"
    with Ledger(workspace.ledger_path) as ledger:
        row = ledger.file(outcome.file_id)
    receipt_json = json.loads((workspace.outbox / row["receipt_path"]).with_suffix(".json").read_text("utf-8"))
    codes = {c["code"] for c in receipt_json["checks"]}
    assert "members-unexplained" in codes
    html = (workspace.outbox / row["receipt_path"]).read_text("utf-8")
    assert "需要核实的情况" in html and "党员总数由上月" in html


def test_a_contact_of_an_earlier_month_is_accepted_with_a_warning_and_a_later_one_is_rejected(tmp_path):
    from form_helpers import filled_form, set_cells, validate

    earlier = validate(set_cells(filled_form(tmp_path / "a.xlsx"), "联系指导记录", {"A2": D(2026, 9, 30)}))
    assert earlier.accepted
    assert [(p.code, p.cell) for p in earlier.problems.warnings if p.code == "contact-earlier-month"] == \
        [("contact-earlier-month", "A2")]
    later = validate(set_cells(filled_form(tmp_path / "b.xlsx"), "联系指导记录", {"A2": D(2026, 11, 1)}))
    assert not later.accepted and "date-outside-month" in [p.code for p in later.problems.errors]


def test_a_receipts_checks_read_only_its_units_rows_and_find_what_the_months_checks_find(lb, monkeypatch):
    """The checks of one form (its receipt's) read that unit's rows of the two months and the
    month's sites of every unit, not every unit's rows, and find for the unit exactly what the
    checks of the whole month find for it (a site in two units' forms included)."""
    for unit, name in (("罗源县", "福州华光机械有限公司"), ("闽清县", "福州华光机械 有限公司"), ("连江县", "连江一厂")):
        _two_months(lb, unit, sep={"sites": [site(name), site("乙公司")], "members_rows": [members(name, total=20)]},
                    oct={"sites": [site(name)], "members_rows": [members(name, total=30)]})
    whole = quality_warnings(lb.ledger, RULEBOOK, OCT)
    assert {w.code for w in whole} >= {"site-shared", "site-dropped"}
    read: list[tuple[str, str]] = []
    accepted_records = lb.ledger.accepted_records

    def counted(key, **kwargs):
        rows = accepted_records(key, **kwargs)
        read.extend((key, r["unit"]) for r in rows)
        return rows

    monkeypatch.setattr(lb.ledger, "accepted_records", counted)
    for unit in ("罗源县", "闽清县", "连江县"):
        read.clear()
        found = quality_warnings(lb.ledger, RULEBOOK, OCT, units=[unit])
        assert [(w.code, w.site, w.evidence) for w in found] == \
            [(w.code, w.site, w.evidence) for w in whole if w.unit == unit]
        assert {u for key, u in read if key != "sites"} == {unit}, "only the unit's own rows"
        assert {u for key, u in read if key == "sites"} == {"罗源县", "闽清县", "连江县"}
