"""SIGKILL stress at chosen kill points (the workload and invariants of bench/kill_stress.py, shared
through stress_helpers.py, on a small batch).

The bench kills at random moments; here every kill lands on a named step of intake or
consolidation (processor/common/faults.py) chosen from a seeded plan, so each run exercises the
same kill points however fast or busy the machine is.
"""

from __future__ import annotations

import collections
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from stress_helpers import StressReport, check_invariants, make_stress_workspace, make_submissions

from processor.common.faults import CONSOLIDATE_POINTS, CRASH_ENV, POINTS
from processor.common.fsutil import sha256_file
from processor.record.ledger import Ledger
from processor.intake.settle import zip_is_complete

pytestmark = pytest.mark.slow  # end to end: every test here runs for many seconds

MONTH = "2026-10"
# validation and archiving are skipped for an exact re-send of a recorded form (a duplicate)
NEEDS_NEW_CONTENT = {"after-validate", "after-archive"}


def run_cli(ws, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), *args],
                          env=env, capture_output=True, text=True, timeout=600)


def passes_guaranteed(point: str, batch: list[Path], unique: set[str]) -> int:
    """How often a ``process`` run certainly passes ``point`` for this batch of new files (files kept
    from earlier runs only add passes).  A truncated workbook waits in the inbox as a copy in progress."""
    complete = [p for p in batch if zip_is_complete(p)]
    if point in NEEDS_NEW_CONTENT:
        return sum(sha256_file(p) in unique for p in complete)
    return len(complete)


def test_sigkills_at_chosen_kill_points_lose_nothing_and_count_nothing_twice(tmp_path):
    rng = random.Random(11)
    root = tmp_path / "stress"
    ws = make_stress_workspace(root)
    incoming = make_submissions(root / "incoming", 24, seed=11, months=1)
    counts = collections.Counter(sha256_file(p) for p in incoming)
    unique = {sha for sha, n in counts.items() if n == 1}
    report = StressReport(files=len(incoming))
    pending = list(incoming)
    rng.shuffle(pending)
    planned: list[str] = []

    def crash(*args: str, at: str) -> bool:
        planned.append(at)
        result = run_cli(ws, *args, crash_at=at)
        if result.returncode == -9:
            report.kills += 1
            return True
        report.problems.append(f"{args[0]} not killed at {at}: exit {result.returncode} {result.stderr[-400:]}")
        return False

    # Every intake kill point twice, then consolidation killed after rendering, twice.
    for point in [*POINTS, *POINTS]:
        batch: list[Path] = []
        while pending and (not passes_guaranteed(point, batch, unique) or rng.random() < 0.3):
            batch.append(pending.pop())
        passes = passes_guaranteed(point, batch, unique)
        assert passes, f"the plan ran out of files for {point}"
        for path in batch:
            shutil.move(str(path), ws.inbox / path.name)
        report.process_runs += 1
        crash("process", "--json", at=f"{point}:{rng.randint(1, passes)}")
    for point in [*CONSOLIDATE_POINTS, *CONSOLIDATE_POINTS]:
        report.consolidate_runs += 1
        report.consolidate_kills += crash("consolidate", "--month", MONTH, "--json", at=point)

    for path in pending:
        shutil.move(str(path), ws.inbox / path.name)
    finished = run_cli(ws, "process", "--json")
    # the truncated workbooks wait out their grace in the inbox, and process says so with exit 1
    waiting = [e for e in json.loads(finished.stdout) if e.get("status") == "waiting"]
    assert finished.returncode == (1 if waiting else 0), finished.stderr
    assert all(e["reason"].startswith("文件仍在复制中") for e in waiting), waiting
    finished = run_cli(ws, "consolidate", "--month", MONTH, "--json")
    assert finished.returncode == 0, finished.stderr
    check_invariants(ws, {p.name for p in incoming}, report)

    assert report.kills == len(planned) == 2 * (len(POINTS) + len(CONSOLIDATE_POINTS)), report
    assert report.problems == [], report.problems
    assert report.files_lost == 0, report
    assert report.double_counted == 0, report
    assert report.duplicate_rows == 0, report
    assert report.partial_outputs == 0, report
    assert report.integrity_ok
    assert report.recorded >= 1
    with Ledger(ws.ledger_path) as ledger:  # the consolidation after the kills recorded what it wrote
        outputs = ledger.query("SELECT path, sha256 FROM outputs")
    assert outputs and all(sha256_file(ws.outbox / path) == sha for path, sha in outputs)


def test_recovery_removes_temp_files_a_killed_writer_left(workspace):
    from processor.intake.run import recover

    stale = workspace.receipts_dir / "榕城区" / "2026-10" / ".tmp-abc123.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("<html>half", encoding="utf-8")
    kept = stale.with_name("000001_已接收_x.html")
    kept.write_text("<html></html>", encoding="utf-8")
    recover(workspace)
    assert not stale.exists() and kept.exists()
