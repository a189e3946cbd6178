"""The office's clock: arrival dates, deadlines and days overdue are read in ``[calendar] timezone``
(Asia/Shanghai by default), whatever time zone the server is set to."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from conftest import make_workspace
from processor.common.clock import local_date
from processor.common.config import DEFAULT_CONFIG_TEXT
from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form

UNIT = "罗源县"
# 04:30 on 6 December in Beijing: the November form (due 5 December) is one day late, wherever the server is
INSTANT = "2026-12-05T20:30:00+00:00"


def _cli(ws, *args, zone: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TZ": zone, "PROCESSOR_NOW": INSTANT}
    return subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), *args],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("server_zone", ["UTC", "Asia/Shanghai", "America/New_York"])
def test_the_same_instant_is_one_day_late_whatever_zone_the_server_is_in(tmp_path, server_zone):
    ws = make_workspace(tmp_path / "ws")
    roster = workspace_roster(ws)
    (ws.inbox / UNIT).mkdir()
    fill_form(ws.inbox / UNIT / "十一月.xlsx", roster=roster, rulebook=ws.rulebook, unit=UNIT, month="2026-11")

    processed = _cli(ws, "process", "--json", zone=server_zone)
    assert processed.returncode == 0, processed.stderr
    [outcome] = json.loads(processed.stdout)
    assert outcome["status"] == "accepted"

    shown = _cli(ws, "status", "--month", "2026-11", "--json", zone=server_zone)
    assert shown.returncode == 0, shown.stderr
    line = next(u for u in json.loads(shown.stdout)["units"] if u["unit"] == UNIT)
    assert (line["state"], line["received"], line["days_late"]) == ("逾期报送", "2026-12-06", 1)

    receipt = json.loads(next((ws.receipts_dir / UNIT).rglob("*.json")).read_text(encoding="utf-8"))
    assert "逾期1天" in receipt["timeliness"]
    assert receipt["received_at"].endswith("+08:00"), "arrival times are written on the office's clock"


def test_a_time_stored_with_another_offset_is_dated_on_the_office_calendar(workspace):
    """A ledger row written by a server in UTC (received_at 2026-12-05T20:30:00+00:00) still came on
    6 December for a Beijing office: one day late, in status, in the receipt and in M-4b."""
    from processor.consolidate.findings import evaluate
    from processor.intake.run import process_inbox
    from processor.record.ledger import Ledger

    roster = workspace_roster(workspace)
    (workspace.inbox / UNIT).mkdir()
    fill_form(workspace.inbox / UNIT / "十一月.xlsx", roster=roster, rulebook=workspace.rulebook, unit=UNIT,
              month="2026-11")
    [outcome] = process_inbox(workspace, now=dt.datetime(2026, 12, 5, 20, 30, tzinfo=dt.UTC))
    assert outcome.status == "accepted"
    receipt = json.loads(next((workspace.receipts_dir / UNIT).rglob("*.json")).read_text(encoding="utf-8"))
    assert receipt["received_at"] == INSTANT, "the stored time keeps its offset"
    assert "逾期1天" in receipt["timeliness"]

    from processor.workspace import Workspace

    status = Workspace(workspace).status("2026-11", today=dt.date(2026, 12, 7))
    line = next(u for u in status["units"] if u["unit"] == UNIT)
    assert (line["state"], line["received"], line["days_late"]) == ("逾期报送", "2026-12-06", 1)
    with Ledger(workspace.ledger_path) as ledger:
        [m4b] = [f for f in evaluate(ledger, workspace.rulebook, roster, months=["2026-11"], today=dt.date(2026, 12, 7))
                 if f.clause == "M-4b" and f.unit == UNIT]
    assert m4b.status == "failed" and m4b.days == 1


def test_a_stored_time_is_dated_in_the_office_zone():
    assert local_date("2026-12-05T20:30:00+00:00", "Asia/Shanghai") == dt.date(2026, 12, 6)
    assert local_date("2026-12-05T20:30:00+00:00", "America/New_York") == dt.date(2026, 12, 5)
    assert local_date("2026-12-06T04:30:00+08:00", "Asia/Shanghai") == dt.date(2026, 12, 6)


def test_an_unknown_time_zone_is_refused_naming_the_key(tmp_path):
    config = DEFAULT_CONFIG_TEXT.replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"')
    ws = make_workspace(tmp_path / "ws", config)
    run = subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "status"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "calendar.timezone" in run.stderr and "Asia/Beijing" in run.stderr
