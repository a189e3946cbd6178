"""示范点档案 as a leader reads it: the site at a glance on page 1, months found by their headings,
labels in bold, every month due accounted for, and sentences that read as written Chinese."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document

from docx_helpers import docx_to_pdf, paragraphs, section, table_with_header
from ledger_helpers import D, LedgerBuilder, activity, contact, hardware, progress, site
from processor.consolidate.run import consolidate

RUN_DAY = D(2026, 11, 30)
SITE = "榕城电子"
PROBLEM = "党员活动室面积不足"
LABELS = ("联系指导：", "组织生活：", "党员队伍：", "硬件设施：", "工作进展：", "存在问题：")


@pytest.fixture
def run(workspace):
    """榕城区 reports July to September and nothing for October (due 11-05). In September its site holds
    a 党员大会 and a 党纪教育, writes its progress without a closing full stop (and a visit's content with
    one), and names under 存在问题 the problem the 企业组 member also recorded on his visit. 鼓山区's late October form dates the run."""
    lb = LedgerBuilder(workspace.ledger_path)
    sites = [site(SITE, "非公", plan_date=D(2026, 11, 20))]
    for m in (7, 8, 9):
        lb.submit("榕城区", f"2026-{m:02d}", sites=sites,
                  contacts=[contact(D(2026, m, 8), SITE, mode="现场指导", content="查看党员活动室。",
                                    problem=PROBLEM if m == 9 else None,
                                    deadline=D(2026, 10, 30) if m == 9 else None,
                                    state="未办结" if m == 9 else None)],
                  org_life=[activity(D(2026, m, 12), SITE, "党员大会")]
                  + ([activity(D(2026, m, 20), SITE, "党纪教育")] if m == 9 else []),
                  hardware_rows=[hardware(SITE, area=45.0)],
                  progress_rows=[progress(SITE, text="完成党员责任区划分，推进党员示范岗创建",
                                          issues=PROBLEM if m == 9 else None)])
    lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械", staff="黄雅琴")], received=D(2026, 11, 12))
    lb.ledger.close()
    consolidate(workspace, month="2026-10", today=RUN_DAY)
    return workspace


def dossier(ws) -> Path:
    return ws.outbox / "示范点档案" / "榕城区" / f"{SITE}.docx"


def test_month_headings_are_outline_headings_and_labels_are_bold(run):
    doc = Document(dossier(run))
    months = [p for p in doc.paragraphs if p.text.startswith("2026年") and p.text.endswith("月")]
    assert [p.text for p in months] == ["2026年7月", "2026年8月", "2026年9月", "2026年10月"]
    for p in months:  # a heading of the outline (the navigation pane lists it), set apart from the text in bold
        assert p.style.element.pPr.find(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}outlineLvl") is not None
        assert all(r.bold for r in p.runs if r.text)
    labelled = [p for p in doc.paragraphs if p.text.startswith(LABELS)]
    assert len(labelled) == 3 * len(LABELS)  # three months reported
    for p in labelled:
        bold = "".join(r.text for r in p.runs if r.bold)
        assert bold in LABELS and p.text.startswith(bold)


def test_a_month_not_reported_is_stated_in_the_compliance_table(run):
    rows = table_with_header(dossier(run), "要求", "统计期")
    october = [r for r in rows if r[1] == "2026年10月"]
    assert october and all(r[2] == "本月未报送" for r in october)
    assert "每月沟通联系" in {r[0] for r in october}
    texts = paragraphs(dossier(run))
    assert section(texts, "2026年10月", "二、") == ["本月未报送。"]


def test_activities_take_their_verb_progress_ends_with_a_full_stop_and_a_problem_is_named_once(run):
    texts = paragraphs(dossier(run))
    september = section(texts, "2026年9月", "2026年10月")
    org_life = next(t for t in september if t.startswith("组织生活："))
    assert "召开党员大会" in org_life and "开展党纪教育" in org_life and "召开党纪教育" not in org_life
    for month in ("2026年7月", "2026年8月", "2026年9月"):
        line = next(t for t in section(texts, month, "2026年") if t.startswith("工作进展："))
        assert line == "工作进展：完成党员责任区划分，推进党员示范岗创建。"
    contacts = next(t for t in september if t.startswith("联系指导："))
    assert contacts.endswith("现场指导，查看党员活动室。")  # the unit's own full stop is not doubled
    problems = next(t for t in september if t.startswith("存在问题："))
    assert problems.count(PROBLEM) == 1 and problems.endswith("。")


def test_the_summary_comes_first(run):
    texts = [t for t in paragraphs(dossier(run)) if t]
    assert texts[0] == f"{SITE}档案"
    first = texts[1:5]
    assert first[0] == "概况：截至2026年11月30日，建档4个月，已报送3个月，2026年10月未报送。"
    assert first[1].startswith("执行要求：") and "未达标" in first[1] and "非公硬件设施" in first[1]
    assert first[2] == f"待办问题：尚未办结1个：{PROBLEM}。"
    assert first[3] == ("报送月份：2026年7月（已报送）；2026年8月（已报送）；2026年9月（已报送）；"
                        "2026年10月（本月未报送）。")
    assert texts.index("一、工作记录") > 4


needs_office = pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext")),
                                  reason="LibreOffice and poppler are needed to render the dossier")


@pytest.mark.slow
@needs_office
def test_page_one_is_the_summary_and_the_record_starts_on_a_new_page(run, tmp_path):
    pdf = docx_to_pdf(dossier(run), tmp_path)
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    first = pages[0]
    assert "概况" in first and "待办问题" in first and "示范点名称" in first
    assert "一、工作记录" not in first
    assert "一、工作记录" in pages[1]

