"""The half-year report (M-4c) read back from the rendered .docx and recounted from the ledger with plain SQL."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from half_year_recount import follow_renames

from conftest import DEMO_TODAY
from docx_helpers import paragraphs, render_report, section, sql, table_with_header
from ledger_helpers import D, LedgerBuilder, activity, contact, progress, site
from processor.consolidate.snapshot import Snapshot
from processor.consolidate import half_year
from processor.common.periods import parse_half
from processor.validate.roster import sample_roster, workspace_roster

VISIT_MODES = ("现场指导", "座谈会")
ACCEPTED = "JOIN files f ON f.id = x.file_id WHERE f.status = 'accepted'"


def half_report(demo_year, half: str) -> Path:
    return next((demo_year.workspace.outbox / "半年工作报告" / half).glob("*.docx"))


def due_months(half: str) -> list[str]:
    """Months of the half whose form was due (the 5th of the next month) before the demo's day."""
    out = []
    for month in parse_half(half).months:
        y, m = int(month[:4]), int(month[5:])
        if D(y + m // 12, m % 12 + 1, 5) < DEMO_TODAY:
            out.append(month)
    return out


@pytest.mark.parametrize("half", ["2026-H1", "2026-H2"])
def test_visits_figure_counts_onsite_guidance_and_meetings(demo_year, half):
    months = parse_half(half).months
    counts = dict(sql(demo_year.workspace.ledger_path,
                      f"SELECT x.mode, COUNT(*) FROM contacts x {ACCEPTED} AND x.month BETWEEN ? AND ? GROUP BY x.mode",
                      months[0], months[-1]))
    text = "".join(paragraphs(half_report(demo_year, half)))
    found = re.search(r"共联系指导(\d+)次，其中现场指导和座谈会(\d+)次（现场指导(\d+)次、座谈会(\d+)次）", text)
    assert found, "the figure says what it counts: 现场指导和座谈会"
    total, visits, onsite, meetings = (int(g) for g in found.groups())
    assert total == sum(counts.values())
    assert (onsite, meetings) == (counts["现场指导"], counts["座谈会"])
    assert visits == counts["现场指导"] + counts["座谈会"] > counts["现场指导"]


def test_staff_are_counted_by_the_sites_assigned_to_them(demo_year):
    ws = demo_year.workspace
    latest = sql(ws.ledger_path, f"""
        SELECT x.unit, x.site, x.staff FROM sites x {ACCEPTED} AND x.month = (
            SELECT MAX(s2.month) FROM sites s2 JOIN files f2 ON f2.id = s2.file_id
            WHERE f2.status = 'accepted' AND s2.unit = x.unit AND s2.month <= '2026-12')""")
    roster = {s.name for s in workspace_roster(ws).staff}
    staffed = [r for r in latest if r[2] in roster]
    text = "".join(paragraphs(half_report(demo_year, "2026-H2")))
    found = re.search(r"企业组(\d+)名同志中(\d+)名分片联系(\d+)个示范点", text)
    assert found
    assert [int(g) for g in found.groups()] == [len(roster), len({r[2] for r in staffed}), len(staffed)]
    assert len({r[2] for r in staffed}) < len(roster)  # the demo has staff without a site: the old sentence hid them


def test_each_site_path_comes_from_its_records(demo_year, tmp_path):
    ws = demo_year.workspace
    ledger = tmp_path / "ledger.sqlite"  # a renamed site's records under its latest name (SPEC §10, Identity)
    with sqlite3.connect(f"file:{ws.ledger_path}?mode=ro", uri=True) as source, sqlite3.connect(ledger) as target:
        source.backup(target)
    follow_renames(ledger)
    months = parse_half("2026-H2").months
    due = due_months("2026-H2")
    rows = table_with_header(half_report(demo_year, "2026-H2"), "序号", "单位")
    assert len(rows) == 24
    for _, unit, name, fixed_plan, first_visit, months_reported, life_count, progress_cell in rows:
        fixed, plan = fixed_plan.split("\n")
        first, visit = first_visit.split("\n")
        (expected_fixed,), = sql(ledger, f"SELECT x.contact_date FROM sites x {ACCEPTED} AND x.unit=? "
                                                 "AND x.site=? ORDER BY x.month DESC LIMIT 1", unit, name)
        # the plan date its latest form gives (a date left blank there is blank, SPEC §10)
        (expected_plan,), = sql(ledger, f"SELECT x.plan_date FROM sites x {ACCEPTED} AND x.unit=? "
                                                "AND x.site=? ORDER BY x.month DESC LIMIT 1", unit, name)
        (expected_first,), = sql(ledger, f"SELECT MIN(x.date) FROM contacts x {ACCEPTED} AND x.unit=? "
                                                 "AND x.site=?", unit, name)
        (expected_visit,), = sql(ledger, f"SELECT MIN(x.date) FROM contacts x {ACCEPTED} AND x.unit=? "
                                                 "AND x.site=? AND x.mode IN (?, ?)", unit, name, *VISIT_MODES)
        (reported,), = sql(ledger, f"SELECT COUNT(DISTINCT x.month) FROM sites x {ACCEPTED} AND x.unit=? "
                                           f"AND x.site=? AND x.month IN ({','.join('?' * len(due))})",
                           unit, name, *due)
        (life,), = sql(ledger, f"SELECT COUNT(*) FROM org_life x {ACCEPTED} AND x.unit=? AND x.site=? "
                                       "AND x.month BETWEEN ? AND ?", unit, name, months[0], months[-1])
        (started,), = sql(ledger, f"SELECT MIN(x.month) FROM org_life x {ACCEPTED} AND x.unit=? "
                                          "AND x.site=? AND x.month >= substr(?, 1, 7)", unit, name, expected_plan)
        assert [fixed, plan, first, visit] == [(d or "")[:10] for d in (expected_fixed, expected_plan, expected_first,
                                                                      expected_visit)], name
        assert months_reported == f"{reported}/{len(due)}" and life_count == str(life), name
        if expected_plan is None:
            assert progress_cell == "尚未上报工作方案", name
        else:
            assert progress_cell == f"{int(started[:4])}年{int(started[5:])}月起开展工作", name


def test_closing_section_plans_for_the_period_that_follows(demo_year):
    assert "八、2026年下半年工作打算" in paragraphs(half_report(demo_year, "2026-H1"))
    assert "八、2027年上半年工作打算" in paragraphs(half_report(demo_year, "2026-H2"))


def test_contacts_chart_leaves_out_months_not_yet_due(demo_year):
    ws = demo_year.workspace
    due = due_months("2026-H2")
    assert due == ["2026-07", "2026-08", "2026-09", "2026-10"]
    per_month = dict(sql(ws.ledger_path, f"SELECT x.month, COUNT(*) FROM contacts x {ACCEPTED} "
                                         "AND x.month BETWEEN '2026-07' AND '2026-12' GROUP BY x.month"))
    from processor.record.ledger import Ledger

    with Ledger(ws.ledger_path) as ledger:
        c = half_year.half_year_context(Snapshot.of(ledger, ws, workspace_roster(ws), DEMO_TODAY), parse_half("2026-H2"))
    chart = c["charts"]["chart_contacts_month"]
    assert chart["labels"] == [f"{int(m[5:])}月" for m in due]
    assert chart["series"]["联系指导合计"] == [per_month[m] for m in due]


# --- 典型做法 on a purpose-built ledger ----------------------------------------------------------

GOOD, WEAK = "榕城电子", "闽榕食品"
GOOD_TEXTS = ["建立党员责任区，党员挂牌上岗。开展技能比武", "建立党员责任区，党员挂牌上岗。结对帮扶困难职工",
              "开展技能比武；结对帮扶困难职工"]


def _quarter_life(month: str, name: str) -> list[dict]:
    y, m = int(month[:4]), int(month[5:])
    kinds = ["党员大会", "组织生活会", "党纪教育"]
    if m == 7:
        kinds += ["民主生活会", "民主评议党员", "党员培训"]
    return [activity(D(y, m, 10 + i), name, kind) for i, kind in enumerate(kinds)]


@pytest.fixture
def typical(workspace, tmp_path):
    """Two SOE sites of one unit over 2026-H2: one meets every requirement, the other lacks a 电脑."""
    from ledger_helpers import hardware

    lb = LedgerBuilder(workspace.ledger_path)
    sites = [site(GOOD, plan_date=D(2026, 11, 20)), site(WEAK, plan_date=D(2026, 11, 20), staff="林少华")]
    for i, month in enumerate(parse_half("2026-H2").months):
        y, m = int(month[:4]), int(month[5:])
        life = _quarter_life(month, GOOD) + _quarter_life(month, WEAK) if m in (7, 10) else []
        lb.submit("榕城区", month, sites=sites, org_life=life,
                  contacts=[contact(D(y, m, 8), GOOD, mode="现场指导"),
                            contact(D(y, m, 9), WEAK, mode="现场指导", staff="林少华")],
                  hardware_rows=[hardware(GOOD), hardware(WEAK, missing=["电脑"])],
                  progress_rows=[progress(GOOD, text=GOOD_TEXTS[i % 3], plan=f"第{i + 1}项计划"),
                                 progress(WEAK, text="按计划推进", plan="补齐党员活动室电脑")])
    context = half_year.half_year_context(Snapshot.of(lb.ledger, workspace, sample_roster(), D(2027, 1, 20)), parse_half("2026-H2"))
    out = render_report("half_year_report", context, tmp_path / "half.docx")
    yield workspace, out
    lb.ledger.close()


def test_typical_practice_quotes_the_progress_of_sites_meeting_every_requirement(typical):
    ws, out = typical
    items = section(paragraphs(out), "六、典型做法", "七、")
    assert len(items) == 1 and items[0].startswith(f"1. 榕城区{GOOD}：")
    texts = [t for (t,) in sql(ws.ledger_path, f"SELECT x.progress FROM progress x {ACCEPTED} AND x.site=? "
                                               "ORDER BY x.month", GOOD)]
    sentences = list(dict.fromkeys(p for t in texts for p in re.split("[。；]", t) if p))
    assert len(sentences) == 3  # six months of reports, three different things done
    for sentence in sentences:
        assert items[0].count(sentence) == 1, sentence


def test_typical_practice_is_written_in_the_sites_own_sentences_with_their_punctuation(typical):
    """Finding 5 of the signable reports: months of progress stitched into one run-on clause list lost the
    sites' full stops; each sentence a site wrote now ends as it did."""
    _ws, out = typical
    [item] = section(paragraphs(out), "六、典型做法", "七、")
    practice = item.split("：", 1)[1]
    assert practice == "建立党员责任区，党员挂牌上岗。开展技能比武。结对帮扶困难职工。"


PRIVATE_ITEMS = ("activity_room", "party_flag", "party_board", "vcd", "tv", "telephone", "camera", "file_cabinet",
                 "bookcase", "outdoor_board")  # N-5 "十个一", the room's area checked beside them


def test_private_hardware_row_counts_the_room_area_with_the_checklist(demo_year):
    ws = demo_year.workspace
    latest_sites = sql(ws.ledger_path, f"""
        SELECT x.unit, x.site FROM sites x {ACCEPTED} AND x.enterprise_kind = '非公' AND x.month = (
            SELECT MAX(s2.month) FROM sites s2 JOIN files f2 ON f2.id = s2.file_id
            WHERE f2.status = 'accepted' AND s2.unit = x.unit AND s2.month <= '2026-12')""")
    met = failed = 0
    for unit, name in latest_sites:
        row = sql(ws.ledger_path, f"SELECT x.room_area, {', '.join('x.' + c for c in PRIVATE_ITEMS)} FROM hardware x "
                                  f"{ACCEPTED} AND x.unit=? AND x.site=? AND x.month <= '2026-12' "
                                  "ORDER BY x.month DESC LIMIT 1", unit, name)
        if row:
            area, *items = row[0]
            ok = area is not None and area >= 50 and all(v == "是" for v in items)
            met, failed = met + ok, failed + (not ok)
    rows = table_with_header(half_report(demo_year, "2026-H2"), "要求", "适用对象")
    hardware_rows = [r for r in rows if r[0] == "非公硬件设施"]
    assert len(hardware_rows) == 1 and not any(r[0] == "党员活动室面积" for r in rows)
    assert hardware_rows[0][3:6] == [str(met + failed), str(met), str(failed)]
    assert failed > 0  # the demo's 45㎡ rooms: the old annex showed 100% beside annex 3's failures


def test_next_half_year_work_names_the_sites_and_quotes_their_plans(typical):
    ws, out = typical
    texts = paragraphs(out)
    assert "八、2027年上半年工作打算" in texts
    items = section(texts, "八、2027年上半年工作打算", "附件：")
    assert any(f"榕城区{WEAK}" in t and "硬件设施" in t for t in items)
    assert not any(f"榕城区{GOOD}" in t and "硬件设施" in t for t in items)
    plans = sql(ws.ledger_path, f"SELECT x.site, x.next_plan FROM progress x {ACCEPTED} AND x.month = "
                                "(SELECT MAX(month) FROM progress)")
    assert len(plans) == 2
    for name, plan in plans:
        assert any(t.endswith(f"{plan}（榕城区{name}）。") for t in items), plan
    assert not any("第1项计划" in t for t in items)  # an earlier month's plan is not the next half-year's


def test_site_path_annex_is_a_landscape_table_that_gives_names_their_room(demo_year, tmp_path):
    """附件1 has ten facts a site: on a landscape page, dates two to a cell, no name squeezed to a character."""
    import subprocess

    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn

    from processor.render import layout, tables
    from docx_helpers import docx_to_pdf

    path = half_report(demo_year, "2026-H2")
    doc = Document(path)
    table = next(t for t in doc.tables if [c.text for c in t.rows[0].cells][:3] == ["序号", "单位", "示范点"])
    widths = [int(c.get(qn("w:w"))) / 56.7 for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    room = [(w - 2 * layout.CELL_MARGIN_TWIPS / 56.7) / tables.TABLE_CHAR_MM for w in widths]  # in characters
    for row in table.rows[1:]:
        for text, chars in zip((c.text for c in row.cells), room, strict=True):
            for line in text.split("\n"):
                if re.fullmatch(r"[\d\-/]+", line):  # dates and figures on one line
                    assert chars >= tables.text_width_em(line), (line, chars)
                else:  # a name or text: at least four characters a line
                    assert chars >= min(4, tables.text_width_em(line)), (line, chars)
    assert any(s.orientation == WD_ORIENT.LANDSCAPE for s in doc.sections)
    pdf = docx_to_pdf(path, tmp_path)
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    first = next(i for i, p in enumerate(pages) if re.search(r"^附件\s*1\s*$", p, re.M))
    last = next(i for i, p in enumerate(pages) if re.search(r"^附件\s*2\s*$", p, re.M))
    assert last - first <= 4, f"附件1 runs over {last - first} pages for 24 sites"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`processor demo` as it is run, on its own day (2027-02-08): the 2026-H2 report written after its half."""
    from demo_helpers import demo_copy

    return demo_copy(tmp_path_factory)


@pytest.mark.slow
def test_the_second_half_report_of_the_demo_prints_on_at_most_fourteen_pages_with_one_problem_list(demo, tmp_path):
    """Finding 3 of the signable reports: the H2 report printed 22 pages, 附件3 listing every finding a second
    time beside the problem list.  One list now (failures only, a band per unit and site, what is still
    running counted in the body), the steps naming what the list shows by count: at most 14 pages."""
    import shutil
    import subprocess

    from docx import Document

    from docx_helpers import docx_to_pdf

    if not (shutil.which("soffice") and shutil.which("pdfinfo")):
        pytest.skip("LibreOffice and poppler are needed to lay out pages")
    path = half_report(demo, "2026-H2")
    doc = Document(path)
    headers = [[c.text for c in t.rows[0].cells] for t in doc.tables]
    assert sum("存在问题" in h for h in headers) == 1  # one problem list, in the annex
    assert not any("状态" in h for h in headers)  # no second list of every finding with its status
    texts = paragraphs(path)
    assert "3. 示范点未达标事项清单" in texts
    pdf = docx_to_pdf(path, tmp_path)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages <= 14, f"2026年下半年报告共{pages}页"
