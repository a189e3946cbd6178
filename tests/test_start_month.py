"""An office that starts collecting mid-year: `init --start-month` writes `[calendar] start_month`, and
nothing before that month is counted anywhere (status, M-4b, the year's summary, the 总览 grid)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tomllib

from processor.consolidate.snapshot import Snapshot
from processor.common.periods import month_range
from processor.consolidate.findings import evaluate
from processor.consolidate.ledger_data import LedgerData
from processor.consolidate.overview import overview_context
from processor.consolidate.year_report import year_report_context
from processor.common.periods import parse_year
from processor.record.ledger import Ledger
from processor.validate.roster import workspace_roster
from processor.workspace import Workspace

AS_OF = dt.date(2027, 1, 10)  # December's forms were due on 5 January: every unit has missed it
EARLIER = month_range("2026-01", "2026-11")


def _processor(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PROCESSOR_NOW": "2027-01-10T09:00:00+08:00"}
    env.pop("PROCESSOR_WORKSPACE", None)
    return subprocess.run([sys.executable, "-m", "processor", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_a_workspace_started_in_december_counts_nothing_before_december(tmp_path):
    made = _processor("init", "ws", "--start-month", "2026-12", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "2026-12" in made.stdout
    config = tomllib.loads((tmp_path / "ws" / "config.toml").read_text(encoding="utf-8"))
    assert config["calendar"]["start_month"] == "2026-12"

    ws = Workspace.open(tmp_path / "ws").config
    roster = workspace_roster(ws)
    units = roster.unit_names

    status = _processor("status", "--json", cwd=tmp_path / "ws")  # the month due by now: December
    assert status.returncode == 0, status.stderr
    assert '"month": "2026-12"' in status.stdout
    earlier = _processor("status", "--month", "2026-11", cwd=tmp_path / "ws")
    assert earlier.returncode == 2 and "start_month" in earlier.stderr and "未报送" not in earlier.stdout

    with Ledger(ws.ledger_path) as ledger:
        findings = evaluate(ledger, ws.rulebook, roster, months=month_range("2026-01", "2026-12"), today=AS_OF)
        m4b = [f for f in findings if f.clause == "M-4b"]
        assert m4b and {f.period for f in m4b} == {"2026-12"}, "M-4b judges December only"
        assert not [f for f in findings if any(m in str(f.period) for m in EARLIER)]

        year = year_report_context(Snapshot.of(ledger, ws, roster, AS_OF), parse_year("2026"))
        assert year["submission"]["due"] == len(units)  # one month due per unit, not twelve
        assert year["submission"]["missing"] == len(units)

        overview = overview_context(LedgerData.load(ledger), ws, roster, AS_OF, "2026-12", [])
    assert [m["month"] for m in overview["months"]] == ["2026-12", "2027-01"]  # the months up to the day's
    totals = {t["state"]: t["count"] for t in overview["state_totals"]}
    assert totals["未报送"] == len(units) and totals["未到截止日期"] == len(units) and sum(totals.values()) == 2 * len(units)


def test_init_without_a_start_month_takes_the_month_being_collected(tmp_path):
    made = _processor("init", "ws", cwd=tmp_path)  # on 10 January 2027 December's forms are overdue: January's are collected
    assert made.returncode == 0, made.stderr
    config = tomllib.loads((tmp_path / "ws" / "config.toml").read_text(encoding="utf-8"))
    assert config["calendar"]["start_month"] == "2027-01"


def test_a_bad_start_month_is_refused(tmp_path):
    made = _processor("init", "ws", "--start-month", "2026-13", cwd=tmp_path)
    assert made.returncode == 2 and "--start-month" in made.stderr
    assert not (tmp_path / "ws").exists()
