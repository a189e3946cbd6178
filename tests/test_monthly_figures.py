"""The monthly report's figures on the bases SPEC §10 sets (issue 15, defects 1–6, 9, 10)."""

from __future__ import annotations


from ledger_helpers import D, activity, contact, hardware, progress, site
from processor.consolidate.snapshot import Snapshot
from processor.consolidate import half_year
from processor.consolidate import monthly as monthly_report
from processor.consolidate.findings import evaluate
from processor.common.periods import parse_half

TODAY = D(2026, 11, 20)


def monthly(lb, ws, roster, today=TODAY):
    return monthly_report.monthly_report_context(Snapshot.of(lb.ledger, ws, roster, today), "2026-10")


def test_contacts_count_for_the_person_recorded_not_the_sites_liaison(lb, workspace, roster):
    lb.submit("榕城区", "2026-10", sites=[site("甲", staff="陈立新"), site("乙", staff="林少华")], contacts=[
        contact(D(2026, 10, 8), "甲", staff="陈立新", mode="现场指导"),
        contact(D(2026, 10, 9), "甲", staff="黄雅琴", mode="座谈会"),
        contact(D(2026, 10, 10), "乙", staff="陈立新", mode="电话联系"),
    ])
    c = monthly(lb, workspace, roster)
    rows = {r["staff"]: r for r in c["staff_rows"]}
    assert (rows["陈立新"]["sites"], rows["陈立新"]["total"], rows["陈立新"]["elsewhere"]) == (1, 2, 1)
    assert (rows["林少华"]["sites"], rows["林少华"]["total"]) == (1, 0)
    assert (rows["黄雅琴"]["sites"], rows["黄雅琴"]["meeting"], rows["黄雅琴"]["elsewhere"]) == (0, 1, 1)
    chart = c["charts"]["chart_contacts"]
    assert chart["series"]["座谈会"][chart["labels"].index("黄雅琴")] == 1
    assert c["contact_summary"]["elsewhere"] == 2


def test_hardware_and_meeting_counts_use_only_the_sites_reported_this_month(lb, workspace, roster):
    lb.submit("鼓山区", "2026-09", sites=[site("丙", "非公")], hardware_rows=[hardware("丙", area=45.0)])
    lb.submit("榕城区", "2026-10", sites=[site("甲"), site("乙", "非公")],
              hardware_rows=[hardware("甲", missing=["电脑"]), hardware("乙")],
              org_life=[activity(D(2026, 10, 12), "乙", "党员大会")])
    c = monthly(lb, workspace, roster)
    assert c["overview"]["sites"] == 3 and c["overview"]["reported_sites"] == 2
    assert c["unreported_sites"] == [{"unit": "鼓山区", "site": "丙"}]
    assert c["hardware"] == {"sites": 2, "complete": 1, "incomplete": 1}  # September's 45㎡ is not October's
    assert [r["site"] for r in c["hardware_rows"]] == ["甲"]
    private = [r for r in c["frequency_rows"] if r["applies"] == "非公"]
    soe = [r for r in c["frequency_rows"] if r["applies"] == "国企"]
    assert private and all(r["sites"] == 1 for r in private) and all(r["sites"] == 1 for r in soe)
    assert next(r for r in private if r["clause"] == "N-4a")["met"] == 1
    assert all(r["site"] != "丙" for r in c["site_rows"]) and "鼓山区" not in {f["unit"] for f in c["findings"]
                                                                             if f["site"]}


def test_next_steps_name_the_sites_and_only_the_meetings_they_still_lack(lb, workspace, roster):
    lb.submit("榕城区", "2026-10", sites=[site("甲"), site("乙", "非公")], contacts=[
        contact(D(2026, 10, 8), "甲", mode="现场指导"), contact(D(2026, 10, 8), "乙", mode="现场指导")],
        org_life=[activity(D(2026, 10, 12), "甲", "党员大会"), activity(D(2026, 10, 13), "乙", "党员大会")])
    c = monthly(lb, workspace, roster)
    step = next(s for s in c["next_steps"] if "组织生活" in s)
    named = dict(part.rstrip("）").split("（", 1) for part in step.split("：", 1)[1].rstrip("。").split("；"))
    assert {"组织生活会", "党纪教育"} <= set(named["榕城区甲"].split("、"))
    assert "党员大会" not in named["榕城区甲"] and "党员大会" not in named["榕城区乙"]


def test_problems_follow_their_latest_record_and_are_listed_once(lb, workspace, roster):
    lb.submit("榕城区", "2026-09", sites=[site("甲"), site("乙")], contacts=[
        contact(D(2026, 9, 8), "甲", problem="活动室资料柜缺失", deadline=D(2026, 10, 30), state="未办结"),
        contact(D(2026, 9, 9), "乙", problem="台账不规范", deadline=D(2026, 10, 10), state="未办结")])
    lb.submit("榕城区", "2026-10", sites=[site("甲"), site("乙")], contacts=[
        contact(D(2026, 10, 8), "甲", problem="活动室资料柜缺失。", deadline=D(2026, 11, 30), state="未办结"),
        contact(D(2026, 10, 9), "甲", problem="活动室 资料柜缺失", deadline=D(2026, 11, 30), state="未办结"),
        contact(D(2026, 10, 20), "乙", problem="台账不规范", deadline=D(2026, 10, 10), state="已办结")])
    c = monthly(lb, workspace, roster)
    rows = {r["site"]: r for r in c["problem_rows"]}
    assert len(c["problem_rows"]) == 2
    assert rows["甲"]["deadline"] == "由10月30日\n延至11月30日" and rows["甲"]["state"] == "正在整改"
    assert rows["乙"]["state"] == "逾期办结"
    assert c["problem_counts"] == {"total": 2, "closed": 1, "closed_late": 1, "open": 1, "overdue": 0, "extended": 1,
                                   "shortened": 0}
    x2 = [f for f in evaluate(lb.ledger, workspace.rulebook, roster, months=["2026-10"], today=TODAY)
          if f.code == "problem-closed"]
    assert sorted(f.status for f in x2) == ["at_risk", "failed"]
    assert any("整改时限由10月30日延至11月30日" in f.evidence for f in x2)


def test_an_earlier_deadline_is_worded_as_brought_forward_not_extended(lb, workspace, roster):
    lb.submit("榕城区", "2026-09", sites=[site("甲")], contacts=[
        contact(D(2026, 9, 8), "甲", problem="活动室资料柜缺失", deadline=D(2026, 11, 30), state="未办结")])
    lb.submit("榕城区", "2026-10", sites=[site("甲")], contacts=[
        contact(D(2026, 10, 8), "甲", problem="活动室资料柜缺失", deadline=D(2026, 10, 30), state="未办结")])
    c = monthly(lb, workspace, roster)
    (row,) = c["problem_rows"]
    assert row["deadline"] == "由11月30日\n提前至10月30日" and row["state"] == "逾期21天未办结"
    assert (c["problem_counts"]["extended"], c["problem_counts"]["shortened"]) == (0, 1)
    (x2,) = [f for f in evaluate(lb.ledger, workspace.rulebook, roster, months=["2026-10"], today=TODAY)
             if f.code == "problem-closed"]
    assert "整改时限由11月30日提前至10月30日" in x2.evidence and "延至" not in x2.evidence


def test_rejection_resubmission_progress_and_merged_plans_are_reported(lb, workspace, roster):
    lb.reject("闽清县", "2026-10", received=D(2026, 11, 2))
    lb.submit("闽清县", "2026-10", sites=[site("甲"), site("乙")], received=D(2026, 11, 4),
              progress_rows=[progress("甲", text="完善党员活动室", plan="召开党员大会"),
                             progress("乙", text="划分党员责任区", plan="召开党员大会。")])
    c = monthly(lb, workspace, roster)
    assert c["submission"]["returned_units"] == [{"unit": "闽清县", "received": "2026-11-04"}]
    assert next(r for r in c["unit_rows"] if r["unit"] == "闽清县")["note"] == "退回后重报"
    assert [p["text"] for p in c["progress"]] == ["完善党员活动室", "划分党员责任区"]
    assert c["plans"] == [{"text": "召开党员大会", "sites": "闽清县甲、闽清县乙", "count": 2}]


def test_the_report_and_the_reminder_count_overdue_days_to_the_same_day(lb, workspace, roster):
    lb.submit("榕城区", "2026-10", sites=[site("甲")])
    today = D(2026, 11, 30)
    c = monthly(lb, workspace, roster, today)
    reminder = monthly_report.reminder_context(Snapshot.of(lb.ledger, workspace, roster, today), "2026-10")
    assert c["as_of"] == c["report_date"] == reminder["as_of"] == "2026-11-30"
    days = {r["unit"]: r["overdue_days"] for r in reminder["rows"]}
    assert days["罗源县"] == 25
    assert next(r for r in c["unit_rows"] if r["unit"] == "罗源县")["note"] == "已逾期25天"


def test_months_not_yet_due_yield_nothing_and_are_not_charted(lb, workspace, roster):
    for month in ("2026-07", "2026-08", "2026-09", "2026-10"):
        lb.submit("榕城区", month, sites=[site("甲")])
    c = half_year.half_year_context(Snapshot.of(lb.ledger, workspace, roster, D(2026, 11, 30)), parse_half("2026-H2"))
    assert not any("尚未报送" in f["problem"] for f in c["findings"])
    assert not any(f["problem"].startswith(("2026年11月", "2026年12月")) for f in c["findings"]
                   if f["clause"] == "M-4b")
    assert c["charts"]["chart_contacts_month"]["labels"] == ["7月", "8月", "9月", "10月"]


def test_sites_without_data_for_a_period_are_not_counted_as_meeting_it(lb, workspace, roster):
    for month in ("2026-07", "2026-08", "2026-09"):
        m = int(month[5:])
        lb.submit("榕城区", month, sites=[site("甲")], contacts=[contact(D(2026, m, 8), "甲", mode="现场指导")])
    c = half_year.half_year_context(Snapshot.of(lb.ledger, workspace, roster, D(2026, 11, 30)), parse_half("2026-H2"))
    monthly_contact = next(r for r in c["compliance_rows"] if r["clause"] == "M-1b")
    assert monthly_contact["met"] == 0  # October came in no form: not "met" over the half-year
