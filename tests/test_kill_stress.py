"""A short randomised SIGKILL stress (the same function as bench/kill_stress.py, smaller)."""

from __future__ import annotations

import sys

from processor.paths import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from kill_stress import run_kill_stress  # noqa: E402


def test_random_sigkills_lose_nothing_and_count_nothing_twice(tmp_path):
    report = run_kill_stress(tmp_path / "stress", files=18, kills=10, seed=11, months=1, consolidate_every=5,
                             final_consolidate=False, log=None)
    assert report.kills >= 10, report
    assert report.files_lost == 0, report
    assert report.double_counted == 0, report
    assert report.duplicate_rows == 0, report
    assert report.partial_outputs == 0, report
    assert report.integrity_ok
    assert report.problems == []
    assert report.recorded + report.still_in_inbox >= 1


def test_recovery_removes_temp_files_a_killed_writer_left(workspace):
    from processor.intake import recover

    stale = workspace.receipts_dir / "榕城区" / "2026-10" / ".tmp-abc123.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("<html>half", encoding="utf-8")
    kept = stale.with_name("000001_已接收_x.html")
    kept.write_text("<html></html>", encoding="utf-8")
    recover(workspace)
    assert not stale.exists() and kept.exists()
