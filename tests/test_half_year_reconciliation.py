"""Reconciliation of the half-year report (M-4c): every figure it prints equals a plain-SQL recount of the
ledger (half_year_recount.py), on both halves of the demo year and on a scenario built for SPEC §10."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from conftest import DEMO_TODAY, make_workspace
from form_helpers import scenario_form
from half_year_recount import follow_renames, half_mismatches, printed_half, recount_half
from scenario_helpers import TZ, build_scenario, problem, quiet
from processor.consolidate.snapshot import Snapshot
from processor.consolidate.run import consolidate
from processor.intake.run import Intake
from processor.record.ledger import Ledger
from processor.common.periods import parse_half
from processor.validate.roster import workspace_roster

HALF, AS_OF = "2026-H2", dt.date(2026, 11, 20)


def half_report(ws, half: str) -> Path:
    (path,) = (ws.outbox / "半年工作报告" / half).glob("*.docx")
    return path


def _names(ws) -> tuple[list[str], list[str]]:
    roster = workspace_roster(ws)
    return [u.name for u in roster.units], [s.name for s in roster.staff]


def _chart(ws, half: str, as_of: dt.date) -> tuple:
    """The contacts chart's source figures (its image cannot be read back)."""
    from processor.consolidate import half_year

    with Ledger(ws.ledger_path) as ledger:
        context = half_year.half_year_context(Snapshot.of(ledger, ws, workspace_roster(ws), as_of), parse_half(half))
    chart = context["charts"]["chart_contacts_month"]
    return chart["labels"], chart["series"]["联系指导合计"], chart["series"]["其中现场指导和座谈会"]


def reconcile(ws, half: str, as_of: dt.date) -> tuple[dict, list[str]]:
    units, staff = _names(ws)
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "ledger.sqlite"
        source, target = sqlite3.connect(f"file:{ws.ledger_path}?mode=ro", uri=True), sqlite3.connect(ledger)
        source.backup(target)
        source.close()
        target.close()
        follow_renames(ledger)
        expected = recount_half(ledger, units, staff, half, as_of)
    shown = printed_half(half_report(ws, half))
    shown["chart_contacts"] = _chart(ws, half, as_of)
    return expected, half_mismatches(expected, shown)


# --- the scenario: the monthly reconciliation's forms, and a problem closed late before the half ----------

def _rongcheng_may(rows):
    quiet(rows)
    problem(rows, 0, dt.date(2026, 5, 6), "支部台账不完整", dt.date(2026, 5, 10), "未办结")
    problem(rows, 0, dt.date(2026, 5, 20), "支部台账不完整", dt.date(2026, 5, 10), "已办结")  # late, in H1


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("half-reconcile")
    ws = make_workspace(root / "ws")
    build_scenario(ws, root)
    staged = scenario_form(root / "may.xlsx", "榕城区", "2026-05", _rongcheng_may, seed=len("榕城区"))
    target = ws.inbox / "榕城区" / "榕城区5月报表.xlsx"
    shutil.copyfile(staged, target)
    intake = Intake(ws)
    try:
        intake.clock = lambda: dt.datetime(2026, 6, 3, 9, 0, tzinfo=TZ)
        intake.handle(target)
    finally:
        intake.close()
    consolidate(ws, half=HALF, today=AS_OF)
    return ws


def test_scenario_half_year_report_equals_the_ledger_recount(scenario):
    expected, found = reconcile(scenario, HALF, AS_OF)
    # what the scenario holds, read from the recount: months due without data, a unit not reporting
    # October, a problem closed late within the half and one closed late before it (not listed)
    assert expected["chart_contacts"][0] == ["7月", "8月", "9月", "10月"]
    assert any(v[5] for v in expected["annex2"].values())  # 本期未报送 subjects
    problems = [k for k, _ in expected["annex3"] if k[2] == "问题整改跟踪"]
    assert any("流动党员管理台账未建立" == k[4] for k in problems)
    assert not any(k[4] == "支部台账不完整" for k in problems)
    assert expected["rate"][3]  # frequency periods still running (待完成): not counted as unmet
    assert found == []


@pytest.mark.parametrize("half", ["2026-H1", "2026-H2"])
def test_demo_half_year_report_equals_the_ledger_recount(demo_year, half):
    expected, found = reconcile(demo_year.workspace, half, DEMO_TODAY)
    assert expected["findings"][0] > 0 and expected["overview"][8] > 0
    assert found == []


def test_a_wrong_half_year_count_is_caught(scenario, tmp_path, monkeypatch):
    """Break one count of the half-year report: the reconciliation names the figure that is off."""
    shutil.copytree(scenario.root, tmp_path / "ws")
    from processor.consolidate import half_year
    from processor.common.config import load_workspace

    ws = load_workspace(tmp_path / "ws")
    honest = half_year._site_paths

    def one_month_too_many(*args, **kwargs):
        rows = honest(*args, **kwargs)
        rows[0]["months_reported"] += 1
        return rows

    monkeypatch.setattr(half_year, "_site_paths", one_month_too_many)
    consolidate(ws, half=HALF, today=AS_OF)
    _, found = reconcile(ws, HALF, AS_OF)
    assert any(line.startswith("annex1:") for line in found), found
