"""Report contexts built from a real ledger: the templates' contract, consistent numbers, clean Chinese."""

from __future__ import annotations

import re

import pytest
from docx import Document

from docx_helpers import render_report
from ledger_helpers import D, LedgerBuilder
from processor.consolidate.snapshot import Snapshot
from processor.consolidate import assignment, dossier, half_year, monthly
from processor.common.periods import parse_half
from processor.render.documents import template_variables
from report_contexts import fill_ledger, production_contexts
from report_samples import sample_context

TODAY = D(2026, 11, 26)
# Values that are codes by contract (clause IDs, chart kinds, the half label, file digests).
CODE_KEYS = {"clause", "kind", "half", "digest", "file_name"}


@pytest.fixture
def lb(workspace):
    builder = fill_ledger(LedgerBuilder(workspace.ledger_path))
    yield builder
    builder.ledger.close()


def contexts(lb, ws, roster):
    return production_contexts(lb.ledger, ws, roster)


def shape(value):
    """The keys of a context, recursively (list rows by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [shape(value[0])]
    return None


def covers(ours, contract, where="") -> list[str]:
    missing = []
    if isinstance(contract, dict):
        for key, sub in contract.items():
            if not isinstance(ours, dict) or key not in ours:
                missing.append(f"{where}.{key}")
            elif key != "series":  # a chart's series are named by its data (联系指导合计 …), not by the contract
                missing += covers(ours[key], sub, f"{where}.{key}")
    elif isinstance(contract, list) and contract and isinstance(ours, list) and ours:
        missing += covers(ours[0], contract[0], where + "[]")
    return missing


def strings(value, key=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v, key)
    else:
        yield key, value


def test_every_context_supplies_the_contract_and_the_template(lb, workspace, roster):
    for name, context in contexts(lb, workspace, roster).items():
        assert covers(shape(context), shape(sample_context(name))) == [], name
        assert template_variables(name) <= set(context) | set(context.get("charts", {})), name


def test_no_none_english_or_placeholders_in_contexts(lb, workspace, roster):
    for name, context in contexts(lb, workspace, roster).items():
        for key, value in strings(context):
            assert value is not None, (name, key)
            if isinstance(value, str) and key not in CODE_KEYS:
                assert "N/A" not in value and "None" not in value and "nan" not in value, (name, key, value)
                assert not re.search(r"[A-Za-z]", value.replace("VCD", "")), (name, key, value)


def test_monthly_numbers_in_sentences_equal_the_tables(lb, workspace, roster):
    c = monthly.monthly_report_context(Snapshot.of(lb.ledger, workspace, roster, TODAY), "2026-10")
    units = c["unit_rows"]
    s = c["submission"]
    assert s["due"] == len(units) == len(roster.units)
    assert (s["on_time"], s["late"], s["missing"]) == (1, 1, len(roster.units) - 2)
    assert s["late_units"] == ["鼓山区"] and "闽江区" in s["missing_units"]
    assert c["sentences"]["submission"].startswith(
        f"本月应报单位{len(units)}个，按时报送{sum(r['status'] == '按时报送' for r in units)}个，"
        f"逾期报送{sum(r['status'] == '逾期报送' for r in units)}个（鼓山区），"
        f"未报送{sum(r['status'] == '未报送' for r in units)}个（闽江区、")
    assert next(r for r in units if r["unit"] == "闽江区")["note"] == "已退回待重报"
    assert next(r for r in units if r["unit"] == "鼓山区")["note"] == "逾期3天"
    # contacts: sentence = site table = staff table
    total = sum(r["total"] for r in c["site_rows"])
    assert c["contact_summary"]["total"] == total == sum(r["total"] for r in c["staff_rows"]) == 2
    assert f"共联系指导{total}次" in c["sentences"]["contacts"]
    assert c["contact_summary"]["onsite"] == 1 and c["contact_summary"]["phone"] == 1
    assert {(r["unit"], r["site"]) for r in c["sites_no_contact"]} == {("鼓山区", "鼓山机械")}
    assert {(r["unit"], r["site"]) for r in c["sites_no_visit"]} == {("榕城区", "闽榕食品"), ("鼓山区", "鼓山机械")}
    assert c["finding_counts"]["total"] == len(c["findings"])
    assert f"共发现问题{len(c['findings'])}项" in c["sentences"]["findings"]
    assert c["org_life"]["total"] == sum(r["count"] for r in c["org_life"]["by_kind"]) == 2
    assert c["hardware"]["incomplete"] == len(c["hardware_rows"]) == 1
    assert c["hardware_rows"][0]["missing"].startswith("电脑、照相机")
    assert c["reported_problems"] == [{"unit": "榕城区", "site": "榕城电子", "text": "倒班生产，集中学习难"}]
    assert any("鼓山区" in step for step in c["next_steps"])


def test_staff_chart_has_a_bar_per_person_or_per_group_when_too_many_to_read(lb, workspace, roster):
    from processor.validate.roster import Roster, StaffInfo

    c = monthly.monthly_report_context(Snapshot.of(lb.ledger, workspace, roster, TODAY), "2026-10")
    chart = c["charts"]["chart_contacts"]
    assert chart["labels"] == [r["staff"] for r in c["staff_rows"]] and "企业组成员" in chart["title"]

    extra = [StaffInfo(f"增补人员{i}", roster.staff[i % len(roster.staff)].group, "企业组组员", "", "")
             for i in range(monthly.CHART_MAX_BARS)]
    province = Roster(roster.units, roster.staff + extra, roster.groups)
    c = monthly.monthly_report_context(Snapshot.of(lb.ledger, workspace, province, TODAY), "2026-10")
    chart = c["charts"]["chart_contacts"]
    assert len(c["staff_rows"]) > monthly.CHART_MAX_BARS
    assert chart["labels"] == list(dict.fromkeys(r["group"] for r in c["staff_rows"])) and "各组" in chart["title"]
    summary = c["contact_summary"]
    assert sum(sum(values) for values in chart["series"].values()) == summary["phone"] + summary["onsite"] + \
        summary["meeting"] == 2


def test_monthly_report_renders_with_the_data_in_its_tables(lb, workspace, roster, tmp_path):
    c = monthly.monthly_report_context(Snapshot.of(lb.ledger, workspace, roster, TODAY), "2026-10")
    out = render_report("monthly_report", c, tmp_path / "report.docx")
    doc = Document(out)
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = [cell.text for t in doc.tables for row in t.rows for cell in row.cells]
    assert "{{" not in text and "{%" not in text and not any("{{" in x for x in cells)
    assert c["sentences"]["submission"][:20] in text.replace("\n", "")
    assert "鼓山机械" in cells and "榕城电子" in cells
    assert "逾期报送" in cells


def test_assignment_flags_after_the_deadline(lb, workspace, roster):
    c = assignment.assignment_context(Snapshot.of(lb.ledger, workspace, roster, TODAY))
    assert {r["staff"] for r in c["late_contacts"]} == {"黄雅琴"}
    assert len(c["staff_without_site"]) == len(roster.staff) - 3
    rows = {r["site"]: r for r in c["rows"] if r["site"]}
    assert rows["鼓山机械"]["note"] == "确定联系晚于规定时间" and rows["榕城电子"]["note"] == ""
    assert rows["榕城电子"]["group"] == "第一组"
    early = assignment.assignment_context(Snapshot.of(lb.ledger, workspace, roster, D(2026, 9, 20)))
    assert early["staff_without_site"] == []


def test_half_year_counts_match_their_lists(lb, workspace, roster):
    c = half_year.half_year_context(Snapshot.of(lb.ledger, workspace, roster, D(2027, 1, 10)), parse_half("2026-H2"))
    paths = {p["site"]: p for p in c["site_paths"]}
    # work starts with the first 组织生活 recorded once the plan is reported (2026-11-20)
    assert paths["榕城电子"]["plan_status"] == "按期上报" and paths["榕城电子"]["start_month"] == "2026-11"
    assert paths["鼓山机械"]["plan_status"] == "未上报"
    assert sum(c["plan_counts"].values()) == len(c["site_paths"])
    for row in c["compliance_rows"]:
        assert row["met"] + row["failed"] + row["at_risk"] + row["no_data"] == row["sites"]
    assert c["overview"]["contacts"] == 6 and c["overview"]["onsite"] == 3
    assert c["charts"]["chart_contacts_month"]["series"]["联系指导合计"] == [0, 0, 0, 2, 2, 2]


def test_dossier_has_the_whole_history_and_its_sources(lb, workspace, roster):
    c = dossier.dossier_context(Snapshot.of(lb.ledger, workspace, roster, D(2027, 1, 10)), "榕城区", "榕城电子")
    assert [t["month"] for t in c["timeline"]] == ["2026-10", "2026-11", "2026-12"]
    assert [len(t["contacts"]) for t in c["timeline"]] == [1, 1, 1]
    assert c["timeline"][1]["hardware"] == "无变化。"
    assert len(c["sources"]) == 3 and all(len(s["digest"]) == 12 for s in c["sources"])
    clauses = {r["clause"] for r in c["compliance_rows"]}
    assert {"M-1b", "M-1c", "N-4a", "N-5"} <= clauses and not clauses & {"S-4b", "S-5"}
    assert c["site"]["plan_date"] == "2026-11-20"


def test_reminder_lists_missing_and_returned_units(lb, workspace, roster):
    c = monthly.reminder_context(Snapshot.of(lb.ledger, workspace, roster, TODAY), "2026-10")
    by_unit = {r["unit"]: r for r in c["rows"]}
    assert by_unit["闽江区"]["status"] == "已退回待重报" and by_unit["罗源县"]["status"] == "未报送"
    assert "榕城区" not in by_unit and "鼓山区" not in by_unit
    assert by_unit["罗源县"]["overdue_days"] == 21
    assert c["counts"] == {"due": 12, "submitted": 2, "late": 1, "missing": 9, "rejected": 1}
