"""SIGKILL at every step of intake, then a restart: nothing lost, nothing counted twice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import make_workspace
from scenario_helpers import assert_consistent

from processor.common.config import DEFAULT_CONFIG_TEXT
from processor.common.faults import CRASH_ENV, POINTS
from processor.common.fsutil import sha256_file
from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form


def run_process(ws, crash_at=None):
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "process"],
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_step_then_restart(tmp_path, point):
    workspace = make_workspace(tmp_path / "ws", DEFAULT_CONFIG_TEXT.replace("stable_seconds = 2.0",
                                                                            "stable_seconds = 0.2"))
    roster = workspace_roster(workspace)
    hashes = set()
    for i, unit in enumerate(roster.units[:3]):
        path = workspace.inbox / f"{unit.name}.xlsx"
        fill_form(path, roster=roster, rulebook=workspace.rulebook, unit=unit.name, month="2026-10", seed=i)
        hashes.add(sha256_file(path))
    (workspace.inbox / "扫描件.pdf").write_bytes(b"%PDF-1.4 not a workbook")
    hashes.add(sha256_file(workspace.inbox / "扫描件.pdf"))

    crashed = run_process(workspace, crash_at=point)
    assert crashed.returncode == -9, crashed.stderr
    finished = run_process(workspace)
    assert finished.returncode == 0, finished.stderr
    assert_consistent(workspace, hashes)
    assert not any(p.is_file() for p in workspace.inbox.rglob("*"))
    assert not any(workspace.staging_dir.rglob("*.xlsx")), "no private copy outlives its file"
