"""The operation torture bench (bench/torture.py), short: `processor serve` runs while other processes
drop forms and run the office's commands beside it, and is SIGKILLed a few times.

Whatever the interleaving, every dropped file ends in the ledger exactly once, every receipt belongs to
its row, no receipt number is used twice, `check` passes and no command fails.
"""

from __future__ import annotations

import contextlib
import io
import sys

import pytest

from processor.common.paths import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from torture import print_report, run_torture  # noqa: E402

pytestmark = pytest.mark.slow  # about 75 s of operation, then the drain and the checks

KILLS = 4


@pytest.mark.timeout(1200)
def test_serve_killed_under_daily_operation_keeps_every_file_exactly_once(tmp_path):
    report = run_torture(tmp_path / "torture", minutes=1.25, seed=7, kills=KILLS, night_every=10, units=4,
                         months=2, quiet_timeout=300, log=None)
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        print_report(report, shown_per_category=10)
    assert report.kills == KILLS, summary.getvalue()
    assert report.serve_runs >= KILLS + 1
    assert report.files_dropped and sum(report.operations.values()), summary.getvalue()
    assert report.ok, summary.getvalue()
