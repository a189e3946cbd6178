"""The findings engine: each rule of the opinion on a real ledger, with its boundary cases."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from processor.consolidate.findings import (AT_RISK, CHECKS, FAILED, MET, counted_activities, evaluate,
                                            split_activities)
from processor.consolidate.ledger_data import LedgerData
from processor.common.rulebook import load_rulebook
from processor.common.paths import RULEBOOK_PATH
from ledger_helpers import D, activity, contact, hardware, site

Q4 = ["2026-10", "2026-11", "2026-12"]
AFTER_Q4 = D(2027, 1, 10)


@pytest.fixture
def book():
    return load_rulebook()


def pick(findings, code, *, unit=None, site=None, period=None, clause=None, staff=None):
    out = [f for f in findings if f.code == code and (unit is None or f.unit == unit)
           and (site is None or f.site == site) and (period is None or f.period == period)
           and (clause is None or f.clause == clause) and (staff is None or f.staff == staff)]
    return out


def one(findings, code, **kw):
    found = pick(findings, code, **kw)
    assert len(found) == 1, (code, kw, found)
    return found[0]


def submit_quarter(lb, unit, sites, *, org_life_by_month=None, contacts_by_month=None, **kw):
    for month in Q4:
        lb.submit(unit, month, sites=sites, org_life=(org_life_by_month or {}).get(month, ()),
                  contacts=(contacts_by_month or {}).get(month, ()), **kw)


def test_every_check_has_a_code_and_clause_in_the_rulebook(book):
    codes = [c.code for c in CHECKS]
    assert len(codes) == len(set(codes))
    for check in CHECKS:
        for clause in check.clause.replace("S-4/N-4", "S-4a").replace("S-5/N-5", "S-5").split("/"):
            assert clause in book, check


def test_only_party_congress_on_last_day_of_quarter_counts(lb, book, roster):
    s = site("闽兴科技", "非公")
    submit_quarter(lb, "榕城区", [s], org_life_by_month={"2026-12": [activity(D(2026, 12, 31), "闽兴科技", "党员大会")]})
    submit_quarter(lb, "鼓山区", [site("鼓山电子", "非公")])
    findings = evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4)
    met = one(findings, "activity-frequency", unit="榕城区", clause="N-4a", period="2026-Q4")
    assert met.status == MET and "党员大会1次" in met.evidence
    missed = one(findings, "activity-frequency", unit="鼓山区", clause="N-4a", period="2026-Q4")
    assert missed.status == FAILED
    assert missed.evidence == "2026年第四季度党员大会0次（要求党员大会至少1次）"


def test_state_owned_and_private_sites_get_different_rule_lists(lb, book, roster):
    congress = lambda name: [activity(D(2026, 11, 10), name, "党员大会")]  # noqa: E731
    submit_quarter(lb, "榕城区", [site("国企甲", "国企")], org_life_by_month={"2026-11": congress("国企甲")},
                   hardware_rows=[hardware("国企甲", missing=["电脑"])])
    submit_quarter(lb, "鼓山区", [site("民企乙", "非公")], org_life_by_month={"2026-11": congress("民企乙")},
                   hardware_rows=[hardware("民企乙", missing=["电脑"])])
    findings = evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4)
    soe = {f.clause for f in findings if f.unit == "榕城区" and f.code == "activity-frequency"}
    private = {f.clause for f in findings if f.unit == "鼓山区" and f.code == "activity-frequency"}
    assert soe == {"S-4a", "S-4b", "S-4c", "S-4d"}
    assert private == {"N-4a", "N-4b", "N-4c", "N-4d"}
    # The same single 党员大会: enough for 非公 (N-4a), not for 国企 (S-4b also wants 组织生活会 and 党纪教育).
    assert one(findings, "activity-frequency", unit="鼓山区", clause="N-4a").status == MET
    s4b = one(findings, "activity-frequency", unit="榕城区", clause="S-4b")
    assert s4b.status == FAILED and "组织生活会0次" in s4b.evidence
    # 电脑 is on the 国企 checklist only.
    assert one(findings, "hardware-items", unit="榕城区").status == FAILED
    assert "电脑" in one(findings, "hardware-items", unit="榕城区").evidence
    assert one(findings, "hardware-items", unit="鼓山区").status == MET
    assert one(findings, "hardware-items", unit="鼓山区").clause == "N-5"
    assert not pick(findings, "room-area", unit="榕城区")  # no area rule for 国企


@pytest.mark.parametrize("area, status", [(49.9, FAILED), (50.0, MET), (None, FAILED)])
def test_private_activity_room_area_boundary(lb, book, roster, area, status):
    lb.submit("榕城区", "2026-10", sites=[site("民企", "非公")], hardware_rows=[hardware("民企", area=area)])
    finding = one(evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 11, 6)), "room-area")
    assert finding.status == status and finding.clause == "N-5"
    if area:
        assert f"{area:g}平方米" in finding.evidence


def test_room_area_limit_comes_from_the_rulebook(lb, roster, tmp_path):
    text = RULEBOOK_PATH.read_text(encoding="utf-8").replace("min_room_area = 50.0", "min_room_area = 60.0")
    (tmp_path / "rules.toml").write_text(text, encoding="utf-8")
    stricter = load_rulebook(tmp_path / "rules.toml")
    lb.submit("榕城区", "2026-10", sites=[site("民企", "非公")], hardware_rows=[hardware("民企", area=55)])
    assert one(evaluate(lb.ledger, load_rulebook(), roster, months=["2026-10"], today=D(2026, 11, 6)),
               "room-area").status == MET
    assert one(evaluate(lb.ledger, stricter, roster, months=["2026-10"], today=D(2026, 11, 6)),
               "room-area").status == FAILED


@pytest.mark.parametrize("plan_date, today, status", [
    (D(2026, 11, 30), D(2026, 12, 6), MET),
    (D(2026, 12, 1), D(2026, 12, 6), FAILED),
    (None, D(2026, 11, 30), AT_RISK),
    (None, D(2026, 12, 1), FAILED),
])
def test_work_plan_deadline(lb, book, roster, plan_date, today, status):
    lb.submit("榕城区", "2026-11", sites=[site("甲", plan_date=plan_date)])
    finding = one(evaluate(lb.ledger, book, roster, months=["2026-11"], today=today), "plan-reported")
    assert finding.status == status and finding.clause == "M-2"


def test_plan_date_left_blank_in_a_later_form_is_blank(lb, book, roster):
    """SPEC §10: a field left blank in a later form is blank, not inherited from an older form."""
    lb.submit("榕城区", "2026-11", sites=[site("甲", plan_date=D(2026, 11, 20))])
    lb.submit("榕城区", "2026-12", sites=[site("甲", plan_date=None)])
    november = one(evaluate(lb.ledger, book, roster, months=["2026-11"], today=D(2027, 1, 6)), "plan-reported")
    assert november.status == MET and "2026年11月20日" in november.evidence
    december = one(evaluate(lb.ledger, book, roster, months=["2026-12"], today=D(2027, 1, 6)), "plan-reported")
    assert december.status == FAILED and december.message == "plan-missing" and "2026年11月20日" not in december.evidence


def test_staff_without_a_site_on_october_first(lb, book, roster):
    lb.submit("榕城区", "2026-10", sites=[site("甲", staff="陈立新", contact_date=D(2026, 9, 30)),
                                         site("乙", staff="林少华", contact_date=D(2026, 10, 1))])
    findings = evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 11, 6))
    assert one(findings, "staff-assigned", staff="陈立新").status == MET
    late = one(findings, "staff-assigned", staff="林少华")
    assert late.status == FAILED and "2026年10月1日" in late.evidence
    nobody = one(findings, "staff-assigned", staff="黄雅琴")
    assert nobody.status == FAILED and nobody.evidence == "没有联系的示范点（要求2026年10月1日前确定）"
    assert len(pick(findings, "staff-assigned")) == len(roster.staff)
    assert one(findings, "contact-fixed", site="甲").status == MET
    assert one(findings, "contact-fixed", site="乙").status == FAILED
    # Before the deadline, a member without a site is only at risk.
    early = evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 9, 30))
    assert one(early, "staff-assigned", staff="黄雅琴").status == AT_RISK


def test_open_quarter_is_at_risk_and_closed_quarter_failed(lb, book, roster):
    for month in Q4:
        lb.submit("榕城区", month, sites=[site("甲")], contacts=[contact(D(int(month[:4]), int(month[5:]), 3), "甲")])
    in_october = evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 11, 6))
    visit = one(in_october, "quarterly-visit", period="2026-Q4")
    assert visit.status == AT_RISK and visit.evidence == "2026年第四季度现场指导或座谈会0次（要求至少1次）"
    # October's data alone cannot fail a quarter even when looked at after it ended.
    assert one(evaluate(lb.ledger, book, roster, months=["2026-10"], today=AFTER_Q4),
               "quarterly-visit").status == AT_RISK
    assert one(evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4), "quarterly-visit").status == FAILED
    # Phone calls every month meet M-1b.
    monthly = pick(evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4), "monthly-contact")
    assert [f.status for f in monthly] == [MET, MET, MET]


def test_an_onsite_visit_meets_the_quarter(lb, book, roster):
    lb.submit("榕城区", "2026-10", sites=[site("甲")])
    lb.submit("榕城区", "2026-11", sites=[site("甲")], contacts=[contact(D(2026, 11, 12), "甲", mode="座谈会")])
    lb.submit("榕城区", "2026-12", sites=[site("甲")])
    findings = evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4)
    assert one(findings, "quarterly-visit").status == MET
    assert [f.status for f in pick(findings, "monthly-contact")] == [FAILED, MET, FAILED]


@pytest.mark.parametrize("present, counts", [(5, False), (6, True)])
def test_party_congress_needs_more_than_half_present(lb, book, roster, present, counts):
    submit_quarter(lb, "榕城区", [site("民企", "非公")], org_life_by_month={
        "2026-10": [activity(D(2026, 10, 20), "民企", "党员大会", expected=10, present=present)]})
    finding = one(evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4), "activity-frequency", clause="N-4a")
    assert finding.status == (MET if counts else FAILED)
    assert ("不计入" in finding.evidence) is (not counts)


def test_quorum_rule_can_be_switched_off(lb, roster, tmp_path):
    text = RULEBOOK_PATH.read_text(encoding="utf-8").replace("enabled = true", "enabled = false")
    (tmp_path / "rules.toml").write_text(text, encoding="utf-8")
    submit_quarter(lb, "榕城区", [site("民企", "非公")], org_life_by_month={
        "2026-10": [activity(D(2026, 10, 20), "民企", "党员大会", expected=10, present=3)]})
    finding = one(evaluate(lb.ledger, load_rulebook(tmp_path / "rules.toml"), roster, months=Q4, today=AFTER_Q4),
                  "activity-frequency", clause="N-4a")
    assert finding.status == MET


def test_superseded_submission_rows_are_not_counted(lb, book, roster):
    lb.submit("榕城区", "2026-10", sites=[site("民企", "非公")],
              org_life=[activity(D(2026, 10, 20), "民企", "党员大会")])
    lb.submit("榕城区", "2026-11", sites=[site("民企", "非公")])
    lb.submit("榕城区", "2026-12", sites=[site("民企", "非公")])
    assert one(evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4), "activity-frequency",
               clause="N-4a").status == MET
    lb.submit("榕城区", "2026-10", sites=[site("民企", "非公")])  # corrected form without the meeting
    assert one(evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4), "activity-frequency",
               clause="N-4a").status == FAILED


@pytest.mark.parametrize("n_sites, status", [(1, MET), (2, MET), (3, FAILED)])
def test_site_count_per_unit(lb, book, roster, n_sites, status):
    lb.submit("榕城区", "2026-10", sites=[site(f"点{i}") for i in range(n_sites)])
    finding = one(evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 11, 6)), "site-count")
    assert finding.status == status and f"报送示范点{n_sites}个" in finding.evidence


def test_monthly_submission_on_time_late_missing_returned(lb, book, roster):
    lb.submit("榕城区", "2026-10", sites=[site("甲")], received=D(2026, 11, 5))  # deadline day itself
    lb.submit("鼓山区", "2026-10", sites=[site("乙")], received=D(2026, 11, 6))
    lb.reject("闽江区", "2026-10", received=D(2026, 11, 4))
    findings = evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 11, 9))
    by_unit = {f.unit: f for f in pick(findings, "monthly-submission")}
    assert set(by_unit) == set(roster.unit_names)
    assert by_unit["榕城区"].status == MET
    assert by_unit["鼓山区"].status == FAILED and "逾期1天" in by_unit["鼓山区"].evidence
    assert by_unit["闽江区"].status == FAILED and "退回" in by_unit["闽江区"].evidence
    assert by_unit["罗源县"].status == FAILED and by_unit["罗源县"].evidence.endswith("截至2026年11月9日已逾期4天）")
    before = {f.unit: f for f in pick(evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 11, 5)),
                                      "monthly-submission")}
    # SPEC §10: a month not yet due yields no finding at all, neither for a missing nor a returned form
    assert "罗源县" not in before and "闽江区" not in before and before["榕城区"].status == MET


def test_a_resubmission_keeps_the_first_arrival_date(lb, book, roster):
    lb.submit("榕城区", "2026-10", sites=[site("甲")], received=D(2026, 11, 3))
    lb.submit("榕城区", "2026-10", sites=[site("甲")], received=D(2026, 11, 20))
    finding = one(evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 11, 21)),
                  "monthly-submission", unit="榕城区")
    assert finding.status == MET


def test_problem_tracking(lb, book, roster):
    lb.submit("榕城区", "2026-10", sites=[site("甲"), site("乙")], contacts=[
        contact(D(2026, 10, 8), "甲", problem="党建宣传栏内容陈旧", deadline=D(2026, 10, 31), state="未办结"),
        contact(D(2026, 10, 9), "乙", problem="台账不全", deadline=D(2026, 11, 30), state="未办结"),
    ])
    lb.submit("榕城区", "2026-11", sites=[site("甲"), site("乙")], contacts=[
        contact(D(2026, 11, 10), "乙", problem="台账不全", state="已办结")])
    october = evaluate(lb.ledger, book, roster, months=["2026-10"], today=D(2026, 11, 6))
    assert one(october, "problem-closed", site="甲").status == FAILED
    assert one(october, "problem-closed", site="乙").status == AT_RISK
    november = evaluate(lb.ledger, book, roster, months=["2026-11"], today=D(2026, 12, 6))
    assert one(november, "problem-closed", site="乙").status == MET
    assert "2026年11月10日办结" in one(november, "problem-closed", site="乙").evidence
    assert "逾期36天" in one(november, "problem-closed", site="甲").evidence


def test_findings_carry_clause_wording_and_chinese_period(lb, book, roster):
    submit_quarter(lb, "榕城区", [site("甲")])
    for f in evaluate(lb.ledger, book, roster, months=Q4, today=AFTER_Q4):
        assert f.wording == book[f.clause].wording and f.title == book[f.clause].title
        assert f.status in (MET, AT_RISK, FAILED)
        assert f.period_name and "None" not in f.evidence and f.evidence
        assert not any(c.isascii() and c.isalpha() for c in f.evidence.replace("VCD", ""))


# --- one unit's findings and the province's agree, whatever the data is read from -----------------

def busy_quarter(lb):
    """Three units over Q4: a site replaced mid-quarter, a corrected resubmission, a meeting without a
    quorum, problems open and closed, a missing hardware item, a late form and a rejected one; and a
    September visit that Q4 must not count."""
    lb.submit("榕城区", "2026-09", sites=[site("甲", "非公"), site("乙")],
              contacts=[contact(D(2026, 9, 20), "甲", mode="现场指导")])
    lb.submit("榕城区", "2026-10", sites=[site("甲", "非公", plan_date=D(2026, 10, 20)), site("乙")],
              contacts=[contact(D(2026, 10, 8), "甲", problem="台账不全", deadline=D(2026, 10, 31), state="未办结"),
                        contact(D(2026, 10, 9), "乙", mode="现场指导")],
              org_life=[activity(D(2026, 10, 20), "甲", "党员大会", expected=10, present=5),
                        activity(D(2026, 10, 21), "乙", "党员大会")],
              hardware_rows=[hardware("甲", missing=["电脑"], area=40.0), hardware("乙")])
    lb.submit("榕城区", "2026-11", sites=[site("甲", "非公"), site("丙", staff="林少华")],
              contacts=[contact(D(2026, 11, 10), "甲", problem="台账不全", state="已办结")],
              org_life=[activity(D(2026, 11, 5), "甲", "党员大会", expected=10, present=6)])
    lb.submit("鼓山区", "2026-10", sites=[site("丁", "非公", contact_date=D(2026, 10, 8))], received=D(2026, 11, 9))
    lb.submit("鼓山区", "2026-11", sites=[site("丁", "非公")],
              contacts=[contact(D(2026, 11, 3), "丁", problem="制度未上墙", deadline=D(2026, 11, 20))])
    lb.submit("鼓山区", "2026-11", sites=[site("丁", "非公"), site("戊")],  # corrected form replaces the first
              contacts=[contact(D(2026, 11, 4), "戊", problem="制度未上墙", deadline=D(2026, 12, 20))])
    lb.reject("闽江区", "2026-11")
    lb.submit("闽江区", "2026-12", sites=[site("己", plan_date=D(2026, 12, 15))],
              org_life=[activity(D(2026, 12, 1), "己", "党课")])


def per_unit(data: LedgerData, unit: str) -> LedgerData:
    """One unit's data alone."""
    return data.restrict(units=[unit])


@pytest.mark.parametrize("months, today", [(["2026-11"], D(2026, 12, 6)), (Q4, AFTER_Q4)])
def test_a_units_own_findings_equal_the_province_findings_for_that_unit(lb, book, roster, months, today):
    busy_quarter(lb)
    province = evaluate(LedgerData.load(lb.ledger), book, roster, months=months, today=today)
    assert {f.unit for f in province} >= {"榕城区", "鼓山区", "闽江区", ""}
    assert one(province, "quarterly-visit", unit="榕城区", site="甲").status != MET  # September's is Q3's
    assert one(province, "quarterly-visit", unit="榕城区", site="乙").status == MET
    whole = LedgerData.load(lb.ledger)
    for unit in roster.unit_names:
        expected = [f.to_dict() for f in province if f.unit == unit]
        alone = evaluate(lb.ledger, book, roster, months=months, today=today, units=[unit])  # the receipt's call
        assert [f.to_dict() for f in alone] == expected, unit
        split = evaluate(per_unit(whole, unit), book, roster, months=months, today=today, units=[unit])
        assert [f.to_dict() for f in split] == expected, unit
    assert [f.to_dict() for f in evaluate(lb.ledger, book, roster, months=months, today=today)] == \
        [f.to_dict() for f in province]


def test_ledger_data_records_and_frames_hold_the_same_rows(lb):
    busy_quarter(lb)
    data = LedgerData.load(lb.ledger, until="2026-11")
    for key in data.frames:
        ledger_rows = lb.ledger.accepted_rows(key, plain=True)
        ledger_rows = ledger_rows[ledger_rows["month"] <= "2026-11"].reset_index(drop=True)
        pd.testing.assert_frame_equal(data.frames[key], ledger_rows)
        assert data.records(key) == ledger_rows.to_dict("records")
    contacts = data.records("contacts", unit="榕城区")
    assert [c["date"] for c in contacts] == [D(2026, 9, 20), D(2026, 10, 8), D(2026, 10, 9), D(2026, 11, 10)]
    assert contacts[0]["problem"] is None and isinstance(contacts[1]["deadline"], dt.date)
    for key in ("sites", "contacts", "org_life"):
        for unit, where, months in [(None, None, None), ("榕城区", None, None), ("鼓山区", "丁", None),
                                    (None, "甲", ["2026-10"]), (None, None, ["2026-09", "2026-11"]),
                                    ("榕城区", None, ["2026-10", "2026-11"]), (None, None, [])]:
            frame = data.rows(key, unit=unit, site=where, months=months)
            assert data.records(key, unit=unit, site=where, months=months) == frame.to_dict("records")
    narrowed = data.restrict(until="2026-10", units=["榕城区", "鼓山区"])
    for key in ("sites", "contacts", "org_life"):
        assert narrowed.records(key) == narrowed.frames[key].to_dict("records")
        assert set(narrowed.frames[key]["month"]) <= {"2026-09", "2026-10"}
        assert set(narrowed.frames[key]["unit"]) <= {"榕城区", "鼓山区"}
    assert {f["unit"] for f in narrowed.source_files()} == {"榕城区", "鼓山区"}


def test_reports_and_findings_split_meetings_without_a_quorum_alike(lb, book):
    busy_quarter(lb)
    data = LedgerData.load(lb.ledger)
    counted, excluded = counted_activities(data.rows("org_life"), book)
    assert excluded[["site", "present"]].values.tolist() == [["甲", 5]]  # exactly half is not a quorum
    kept, dropped = split_activities(data.records("org_life"), book)
    assert (kept, dropped) == (counted.to_dict("records"), excluded.to_dict("records"))
