"""One enterprise registered by two units is listed once with both units and flagged in every table that
counts it as a site (SPEC §10, Identity), and the monthly staff table states its one universe (SPEC §10,
One universe per table): the registered sites, those without data this month said per person."""

from __future__ import annotations

import datetime as dt

from docx import Document
from docx_helpers import render_report
from ledger_helpers import D, contact, site

from processor.common import periods as P
from processor.consolidate import half_year, monthly, year_report
from processor.consolidate.blocks import one_per_requirement
from processor.consolidate.ledger_data import LedgerData
from processor.consolidate.snapshot import Snapshot

RUN_DAY = dt.date(2027, 2, 8)
H2 = [f"2026-{m:02d}" for m in range(7, 13)]
SHARED = "榕城新锐软件"


def _snapshot(lb, workspace, roster, day: dt.date = RUN_DAY) -> Snapshot:
    return Snapshot.of(LedgerData.load(lb.ledger, as_of=day), workspace, roster, day)


def _paragraphs(path) -> str:
    return "\n".join(p.text for p in Document(path).paragraphs)


def _rows_under(path, *titles: str) -> list[list[str]]:
    for table in Document(path).tables:
        header = [c.text for c in table.rows[0].cells]
        if header[:len(titles)] == list(titles):
            return [[c.text for c in row.cells] for row in table.rows[1:]]
    raise AssertionError(f"no table headed {titles}")


def test_an_enterprise_two_units_register_is_one_row_naming_both_in_the_yearly_and_flagged_in_the_half(
        lb, workspace, roster, tmp_path):
    """榕城区 and 鼓山区 both list 榕城新锐软件 (one of them with a space in the name) from July to
    December: the yearly summary and the H2 report say their site count holds one enterprise twice, as
    the monthly report does; the yearly per-site table lists it once, naming both units, its 项次 under
    either unit added up, and its rows still add up to the total it states."""
    for month in H2:
        day = P.first_day(month) + dt.timedelta(days=9)
        lb.submit("榕城区", month, sites=[site("榕城电子"), site(SHARED, "非公")],
                  contacts=[contact(day, "榕城电子", mode="现场指导"), contact(day, SHARED, mode="现场指导")])
        lb.submit("鼓山区", month, sites=[site("鼓山机械"), site("榕城 新锐软件", "非公", staff="林少华")],
                  contacts=[contact(day, "鼓山机械", mode="现场指导")])
    snapshot = _snapshot(lb, workspace, roster)
    year = year_report.year_report_context(snapshot, P.parse_year("2026"))
    half = half_year.half_year_context(snapshot, P.parse_half("2026-H2"))
    dec = monthly.monthly_report_context(snapshot, "2026-12")

    note = "（其中1家由两个单位重复登记）"
    assert dec["overview"]["sites_note"] == year["overview"]["sites_note"] == half["overview"]["sites_note"] == note
    assert dec["overview"]["sites"] == year["overview"]["sites"] == half["overview"]["sites"] == 4

    rows = year["site_rows"]
    shared = [r for r in rows if r["shared"]]
    assert [(r["unit"], r["site"]) for r in shared] == [("榕城区、鼓山区", SHARED)]
    assert [r["site"] for r in rows] == ["榕城电子", SHARED, "鼓山机械"]  # once, at its first unit's place
    both = [f for f in one_per_requirement(snapshot.findings([f"2026-{m:02d}" for m in range(1, 13)],
                                                             until="2026-12"))
            if f.site in (SHARED, "榕城 新锐软件") and f.code != "staff-assigned"]
    assert {f.unit for f in both} == {"榕城区", "鼓山区"}
    assert shared[0]["judged"] == len(both) and shared[0]["judged"] > 0
    # 鼓山区 never contacted its copy: the shared row carries that failure as well
    assert "每月沟通联系" in shared[0]["short"] and shared[0]["failed"] > 0
    # the annex lists each unit's copy under its unit; the one row stands for both and counts their lines
    assert shared[0]["subjects"] == [["榕城区", SHARED], ["鼓山区", "榕城 新锐软件"]]
    annex = [f for f in year["findings"] if [f["unit"], f["site"]] in shared[0]["subjects"]]
    assert len(annex) == shared[0]["failed"] + shared[0]["at_risk"]
    totals = year["site_totals"]
    assert totals["sites"] == len(rows) == 3 and totals["shared"] == 1
    for key in ("judged", "met", "failed", "at_risk"):
        assert totals[key] == sum(r[key] for r in rows)

    # what a leader reads
    year_doc = render_report("year_report", year, tmp_path / "year.docx")
    text = _paragraphs(year_doc)
    assert f"共确定示范点4个{note}，其中国企" in text
    assert "1家示范点由两个单位重复登记，列为一行并列出两个单位，项次合并计算" in text
    printed = _rows_under(year_doc, "单位", "示范点", "评价项次")
    assert [r[:2] for r in printed if SHARED in r[1]] == [["榕城区、鼓山区", SHARED]]
    half_doc = render_report("half_year_report", half, tmp_path / "half.docx")
    assert f"共确定示范点4个{note}，其中国企" in _paragraphs(half_doc)


def test_the_staff_table_counts_registered_sites_and_says_which_have_no_data_this_month(lb, workspace, roster,
                                                                                        tmp_path):
    """陈立新 liaises with 榕城区's 甲 (reported in October, contacted once) and 鼓山区's 丙 (鼓山区 sent
    no October form): his row counts both sites and says one of them has no data this month, so his one
    contact is not read as one contact over two sites; the paragraph above the table states both bases."""
    lb.submit("鼓山区", "2026-09", sites=[site("丙", staff="陈立新")],
              contacts=[contact(D(2026, 9, 10), "丙", staff="陈立新")])
    lb.submit("榕城区", "2026-10", sites=[site("甲", staff="陈立新"), site("乙", staff="林少华")],
              contacts=[contact(D(2026, 10, 10), "甲", staff="陈立新")])
    c = monthly.monthly_report_context(_snapshot(lb, workspace, roster, D(2026, 11, 20)), "2026-10")
    rows = {r["staff"]: r for r in c["staff_rows"]}
    assert (rows["陈立新"]["sites"], rows["陈立新"]["unreported"], rows["陈立新"]["total"]) == (2, 1, 1)
    assert (rows["林少华"]["sites"], rows["林少华"]["unreported"]) == (1, 0)
    assert sum(r["unreported"] for r in c["staff_rows"]) == c["overview"]["unreported_sites"] == 1

    doc = render_report("monthly_report", c, tmp_path / "monthly.docx")
    assert ("分工联系示范点按已确定的3个示范点统计；联系次数为本月报送数据的2个示范点的联系记录，另有1个示范点"
            "所在单位本月未报送、无联系记录") in _paragraphs(doc)
    printed = {r[1]: r for r in _rows_under(doc, "组别", "企业组人员", "分工联系示范点")}
    header = [c.text for c in next(t for t in Document(doc).tables
                                   if t.rows[0].cells[1].text == "企业组人员").rows[0].cells]
    at = header.index("分工示范点中本月未报送")
    assert (printed["陈立新"][2], printed["陈立新"][at], printed["陈立新"][header.index("合计")]) == ("2", "1", "1")
