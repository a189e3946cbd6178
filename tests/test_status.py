"""`processor status`: who reported on time, late, not at all, or was sent back."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import openpyxl
import pytest
from click.testing import CliRunner

from processor.cli import main
from processor.intake.run import process_inbox
from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form

TZ = dt.timezone(dt.timedelta(hours=8))


def arrive(ws, roster, unit, day, *, seed=0, break_it=False, misspell=False, tmp_path):
    path = tmp_path / f"{unit}-{seed}.xlsx"
    fill_form(path, roster=roster, rulebook=ws.rulebook, unit=unit, month="2026-10", seed=seed)
    if break_it or misspell:
        wb = openpyxl.load_workbook(path)
        if misspell:
            wb["基本信息"]["B2"] = unit + "委组织部"
        else:
            wb["组织生活"]["F2"] = -1
        wb.save(path)
    (ws.inbox / unit).mkdir(exist_ok=True)
    shutil.copyfile(path, ws.inbox / unit / path.name)
    process_inbox(ws, now=dt.datetime(2026, 11, day, 10, 0, tzinfo=TZ))


@pytest.mark.slow
def test_status_names_on_time_late_missing_and_returned_units(workspace, tmp_path):
    roster = workspace_roster(workspace)
    on_time, late, returned, misspelt = (u.name for u in roster.units[:4])
    arrive(workspace, roster, on_time, 5, tmp_path=tmp_path)
    arrive(workspace, roster, late, 9, tmp_path=tmp_path)
    arrive(workspace, roster, returned, 3, break_it=True, tmp_path=tmp_path)
    arrive(workspace, roster, misspelt, 4, misspell=True, tmp_path=tmp_path)

    result = CliRunner().invoke(main, ["-w", str(workspace.root), "status", "--month", "2026-10", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    states = {line["unit"]: line for line in report["units"]}
    assert states[on_time]["state"] == "按时报送"
    assert (states[late]["state"], states[late]["days_late"]) == ("逾期报送", 4)
    assert states[returned]["state"] == "已退回待重报" and states[returned]["rejections"] == 1
    assert states[misspelt]["state"] == "已退回待重报", "a misspelt 填报单位 still counts for its folder's unit"
    missing = [u.name for u in roster.units[4:]]
    assert all(states[u]["state"] == "未报送" for u in missing)
    assert report["summary"]["未报送"] == len(missing)
    assert report["deadline"] == "2026-11-05"


def test_status_table_is_chinese_and_rejects_a_bad_month(workspace):
    runner = CliRunner()
    ok = runner.invoke(main, ["-w", str(workspace.root), "status", "--month", "2026-10"])
    assert ok.exit_code == 0 and "报送情况" in ok.output
    rows = [line for line in ok.output.splitlines() if "罗源县" in line]
    assert len(rows) == 1 and "未报送" in rows[0], "each unit's own row names its state"
    assert "未报送 12 个" in ok.output
    bad = runner.invoke(main, ["-w", str(workspace.root), "status", "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
