"""示范点档案 (M-4a) read back from the .docx a consolidation writes, checked against the ledger with plain SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from docx_helpers import paragraphs, section, sql, table_with_header
from ledger_helpers import D, LedgerBuilder, activity, contact, hardware, site
from processor.consolidate.run import consolidate

ACCEPTED = "JOIN files f ON f.id = x.file_id WHERE f.status = 'accepted'"
RUN_DAY = D(2026, 11, 30)
SMALL, SOE = "榕城电子", "闽榕食品"


@pytest.fixture
def run(workspace):
    """榕城区 reports July to September (its 非公 site's room is 45㎡, every item present; a problem found
    in September is due 10-30 and still open) and sends nothing for October; 鼓山区 reports October late
    (11-12), which dates the run.
    Then the October consolidation runs on 11-30."""
    lb = LedgerBuilder(workspace.ledger_path)
    sites = [site(SMALL, "非公", plan_date=D(2026, 11, 20)), site(SOE, plan_date=D(2026, 11, 20))]
    for month in ("2026-07", "2026-08", "2026-09"):
        m = int(month[5:])
        lb.submit("榕城区", month, sites=sites,
                  contacts=[contact(D(2026, m, 8), SMALL, mode="现场指导",
                                    problem="党员活动室面积不足" if m == 9 else None,
                                    deadline=D(2026, 10, 30) if m == 9 else None, state="未办结" if m == 9 else None),
                            contact(D(2026, m, 9), SOE)],
                  org_life=[activity(D(2026, m, 12), SMALL, "党员大会")],
                  hardware_rows=[hardware(SMALL, area=45.0), hardware(SOE)])
    lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械", staff="黄雅琴")], received=D(2026, 11, 12))  # late
    lb.ledger.close()
    consolidate(workspace, month="2026-10", today=RUN_DAY)
    return workspace


def dossier(ws, unit: str, name: str) -> Path:
    return ws.outbox / "示范点档案" / unit / f"{name}.docx"


def monthly(ws) -> Path:
    return next((ws.outbox / "月度汇总报告" / "2026-10").glob("*.docx"))


def hardware_lines(path: Path) -> dict[str, str]:
    """month heading -> that month's 硬件设施 line."""
    texts, out, month = paragraphs(path), {}, None
    for t in texts:
        if t.startswith("2026年") and t.endswith("月"):
            month = t
        elif t.startswith("硬件设施：") and month:
            out[month] = t
    return out


def test_hardware_sentence_follows_the_room_area_rule(run):
    (area,), = sql(run.ledger_path, f"SELECT x.room_area FROM hardware x {ACCEPTED} AND x.site=? AND x.month='2026-07'",
                   SMALL)
    assert area < 50
    line = hardware_lines(dossier(run, "榕城区", SMALL))["2026年7月"]
    assert f"党员活动室{area:g}㎡，不足50㎡" in line and "齐全" not in line and "未达标" in line
    soe = hardware_lines(dossier(run, "榕城区", SOE))["2026年7月"]
    assert "15项硬件设施齐全" in soe  # the SOE checklist sets no area


def test_one_compliance_line_per_requirement_and_period(run):
    rows = table_with_header(dossier(run, "榕城区", SMALL), "要求", "统计期")
    keys = [(r[0], r[1]) for r in rows if r[0] != "问题整改跟踪"]
    assert len(keys) == len(set(keys))
    hardware_rows = [r for r in rows if r[0] == "非公硬件设施"]
    assert len(hardware_rows) == 1 and hardware_rows[0][2] == "未达标"
    assert "45平方米" in hardware_rows[0][3]


def test_a_month_not_reported_is_shown_and_named(run):
    reported = {m for (m,) in sql(run.ledger_path, "SELECT month FROM files WHERE unit='榕城区' AND status='accepted'")}
    due = ["2026-07", "2026-08", "2026-09", "2026-10"]
    missing = [m for m in due if m not in reported]
    assert missing == ["2026-10"]
    texts = paragraphs(dossier(run, "榕城区", SMALL))
    assert section(texts, "2026年10月", "二、") == ["本月未报送。"]
    assert any("榕城区2026年10月的月报表未报送" in t for t in texts)


def test_dossier_of_a_unit_that_stopped_reporting_speaks_for_the_run(run):
    """Dated like the monthly report of the same run, so the September problem due 10-30 is overdue in both."""
    texts = paragraphs(dossier(run, "榕城区", SMALL))
    report = paragraphs(monthly(run))
    signed = [t for t in texts if t.startswith("2026年") and t.endswith("日")][-1]
    assert signed == [t for t in report if t.startswith("2026年") and t.endswith("日")][-1]
    rows = table_with_header(dossier(run, "榕城区", SMALL), "要求", "统计期")
    problem = next(r for r in rows if r[0] == "问题整改跟踪")
    assert problem[2] == "未达标" and "党员活动室面积不足" in problem[3]
