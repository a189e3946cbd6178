"""One consolidation at a time: an operator's `consolidate` beside another (or beside serve's
nightly run) waits for it, and the manifest keeps what both wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until
from ledger_helpers import D, LedgerBuilder, site
from processor.common.faults import PAUSE_ENV
from processor.common.lock import ConsolidationBusy, ConsolidationLock
from processor.consolidate.run import consolidate
from processor.record.ledger import Ledger

WAITING = "另一个汇总正在运行"


def two_months(ws) -> None:
    lb = LedgerBuilder(ws.ledger_path)
    lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公")], received=D(2026, 11, 3))
    lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械")], received=D(2026, 11, 4))
    lb.submit("榕城区", "2026-11", sites=[site("榕城电子", "非公")], received=D(2026, 12, 2))
    lb.ledger.close()


def start(ws, month: str, out: Path, err: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "processor", "-w", str(ws.root), "consolidate", "--month", month,
                             "--json"], stdout=out.open("w"), stderr=err.open("w"), env=env)


@pytest.mark.slow
def test_two_consolidations_at_once_take_turns_and_the_manifest_keeps_both_runs(workspace, tmp_path):
    ws = workspace
    two_months(ws)
    # each run stops just after reading the manifest until the test creates the release file
    release = tmp_path / "release"
    arrived = lambda: sorted(tmp_path.glob("release.*.arrived"))  # noqa: E731
    env = {**os.environ, PAUSE_ENV: f"consolidate-manifest-read:{release}"}
    logs = {name: tmp_path / name for name in ("a.json", "a.err", "b.json", "b.err")}
    first = start(ws, "2026-10", logs["a.json"], logs["a.err"], env)
    second = None
    try:
        wait_until(lambda: len(arrived()) == 1, what="第一个汇总读完清单")
        second = start(ws, "2026-11", logs["b.json"], logs["b.err"], env)
        # the second either says it waits (the lock) or gets in beside the first (no lock)
        wait_until(lambda: WAITING in logs["b.err"].read_text(encoding="utf-8") or len(arrived()) == 2,
                   what="第二个汇总等待或进入")
        release.touch()
        assert first.wait(timeout=300) == 0, logs["a.err"].read_text(encoding="utf-8")
        assert second.wait(timeout=300) == 0, logs["b.err"].read_text(encoding="utf-8")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    runs = [json.loads(logs[name].read_text(encoding="utf-8")) for name in ("a.json", "b.json")]
    produced = {Path(p).relative_to(ws.outbox).as_posix() for run in runs for p in run["written"] + run["unchanged"]}
    assert any(p.startswith("月度汇总报告/2026-10/") for p in produced)
    assert any(p.startswith("月度汇总报告/2026-11/") for p in produced)
    manifest = json.loads((ws.outbox / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    assert produced <= set(manifest), sorted(produced - set(manifest))
    with Ledger(ws.ledger_path) as ledger:
        recorded = {r["path"] for r in ledger.query("SELECT path FROM outputs")}
    assert set(manifest) == recorded
    said = logs["b.err"].read_text(encoding="utf-8")
    assert WAITING in said and "等它结束后再开始本次汇总" in said


def test_a_consolidation_that_may_not_wait_says_another_is_running(workspace):
    two_months(workspace)
    with ConsolidationLock(workspace):
        with pytest.raises(ConsolidationBusy) as busy:
            consolidate(workspace, month="2026-10", today=D(2026, 11, 26), wait=False)
    assert str(busy.value).startswith(f"{WAITING}（进程 {os.getpid()}")
    assert not (workspace.outbox / "manifest.json").exists()
    result = consolidate(workspace, month="2026-10", today=D(2026, 11, 26), wait=False)  # free again
    assert result.written and (workspace.outbox / "manifest.json").is_file()
