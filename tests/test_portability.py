"""The Windows code path, run on this machine: workers started with ``spawn`` (Windows has no fork
server) and no ``resource`` module (no per-file memory cap).  Intake and consolidation must give the
same results, and a file over its time budget must still be rejected.

The other intake and consolidation tests can be run the same way:
``PROCESSOR_START_METHOD=spawn PYTHONPATH=tests/windows_like .venv/bin/python -m pytest tests/test_intake.py``
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_workspace
from form_helpers import set_cells
from scenario_helpers import TODAY, fill_consolidation_ledger

from processor.common import forkserver
from processor.intake import sandbox
from processor.common.config import DEFAULT_CONFIG_TEXT
from processor.consolidate.run import consolidate
from processor.record.ledger import Ledger
from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form

HIDE_RESOURCE = Path(__file__).resolve().parent / "windows_like"  # its resource.py raises ImportError
MONTH = "2026-10"

pytestmark = pytest.mark.slow  # every worker is a fresh interpreter: seconds to start each


@pytest.fixture
def windows_like(monkeypatch):
    """spawn, and no ``resource``: here, in the processes started from here, and in their workers."""
    monkeypatch.setenv(forkserver.START_METHOD_ENV, "spawn")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HIDE_RESOURCE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(HIDE_RESOURCE))  # a spawned worker gets this process's module path
    monkeypatch.setitem(sys.modules, "resource", None)  # `import resource` now fails here too
    monkeypatch.setattr(sandbox, "resource", None)  # as if imported without it
    started = []
    context = forkserver.context

    def recording(preload):
        ctx = context(preload)
        started.append(ctx.get_start_method())
        return ctx

    monkeypatch.setattr(forkserver, "context", recording)
    return started


def address_space_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            return line.split()[3]
    raise AssertionError("no address-space line")


def test_without_fork_server_or_resource_files_are_validated_and_an_overlong_one_is_rejected(
        windows_like, workspace, tmp_path):
    roster = workspace_roster(workspace)
    form = fill_form(tmp_path / "ok.xlsx", roster=roster, rulebook=workspace.rulebook, unit=roster.units[0].name,
                     month=MONTH)
    wrong = set_cells(fill_form(tmp_path / "wrong.xlsx", roster=roster, rulebook=workspace.rulebook,
                                unit=roster.units[1].name, month=MONTH, seed=2), "组织生活", {"F2": -3})
    checker = sandbox.Sandbox(roster, workspace.rulebook, workspace.intake)
    try:
        assert checker.validate(form).accepted
        assert not checker.validate(wrong).accepted
        [worker] = [p for p in multiprocessing.active_children() if p.name == "processor-validate"]
        if sys.platform.startswith("linux"):
            assert address_space_limit(worker.pid) == "unlimited", "no cap where the platform has none"
        checker.limits = dataclasses.replace(checker.limits, timeout_seconds=0.001)
        assert [p.code for p in checker.validate(form).problems] == ["timeout"]
        checker.limits = dataclasses.replace(checker.limits, timeout_seconds=120)
        assert checker.validate(form).accepted, "a fresh worker takes over after the killed one"
    finally:
        checker.close()
    assert windows_like and set(windows_like) == {"spawn"}


def test_process_command_without_fork_server_or_resource(windows_like, tmp_path):
    ws = make_workspace(tmp_path / "ws", DEFAULT_CONFIG_TEXT.replace("stable_seconds = 2.0", "stable_seconds = 0.1"))
    roster = workspace_roster(ws)
    for i, unit in enumerate(roster.units[:2]):
        fill_form(ws.inbox / f"{unit.name}.xlsx", roster=roster, rulebook=ws.rulebook, unit=unit.name,
                  month=MONTH, seed=i)
    set_cells(ws.inbox / f"{roster.units[1].name}.xlsx", "组织生活", {"F2": -3})
    (ws.inbox / "扫描件.pdf").write_bytes(b"%PDF-1.4 not a workbook")

    run = subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "process", "--jobs", "2"],
                         capture_output=True, text=True, timeout=600)

    assert run.returncode in (0, 1), run.stderr  # 1: rejections need the office's attention
    assert "Traceback" not in run.stderr, run.stderr
    log = ws.root / "logs" / "processor.log"
    said = run.stderr + (log.read_text(encoding="utf-8") if log.exists() else "")
    assert "不支持限制单个文件的内存用量" in said, "the operator is told the memory limit does not apply"
    with Ledger(ws.ledger_path) as ledger:
        statuses = sorted(r["status"] for r in ledger.files())
    assert statuses == ["accepted", "rejected", "rejected"]
    assert not any(p.is_file() for p in ws.inbox.rglob("*"))


def test_consolidation_workers_without_fork_server_or_resource_write_what_one_process_writes(
        windows_like, workspace, monkeypatch):
    import processor.consolidate.run as consolidation

    lb = fill_consolidation_ledger(workspace)
    lb.ledger.close()

    def outputs():
        return {p.relative_to(workspace.outbox).as_posix(): p.read_bytes() for p in workspace.outbox.rglob("*")
                if p.is_file() and p.name != "manifest.json" and "回执" not in p.parts}

    monkeypatch.setattr(consolidation, "PARALLEL_MIN_DOSSIERS", 10_000)
    consolidate(workspace, month=MONTH, today=TODAY)
    in_process = outputs()
    for rel in in_process:
        (workspace.outbox / rel).unlink()
    monkeypatch.setattr(consolidation, "PARALLEL_MIN_DOSSIERS", 1)
    result = consolidate(workspace, month=MONTH, today=TODAY)
    assert windows_like == ["spawn"], "the render workers were spawned"
    assert {".docx", ".xlsx", ".png"} <= {Path(rel).suffix for rel in in_process}
    assert outputs() == in_process
    assert not result.skipped and len(result.written) == len(in_process)


def test_an_unknown_start_method_is_refused_in_words(monkeypatch):
    from processor.common.config import ConfigError

    monkeypatch.setenv(forkserver.START_METHOD_ENV, "fork")
    with pytest.raises(ConfigError, match=forkserver.START_METHOD_ENV):
        forkserver.context([])
