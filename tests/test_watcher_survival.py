"""A running `processor watch` survives the hostile sample and still answers a valid file."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import make_workspace
from hostile import IGNORE, copy_into, generate
from processor.common.config import DEFAULT_CONFIG_TEXT
from processor.record.ledger import Ledger
from processor.validate.roster import sample_roster
from processor.validate.samples import fill_form
from processor.intake.settle import copy_may_be_unfinished

FAST_CONFIG = (DEFAULT_CONFIG_TEXT.replace("stable_seconds = 2.0", "stable_seconds = 0.3")
               .replace("rescan_seconds = 60", "rescan_seconds = 3"))


@pytest.fixture
def fast_workspace(tmp_path):
    return make_workspace(tmp_path / "ws", FAST_CONFIG)


@pytest.fixture
def watcher(fast_workspace, tmp_path):
    log = open(tmp_path / "watch.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "processor", "-w", str(fast_workspace.root), "watch"],
                            stdout=log, stderr=subprocess.STDOUT)
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()


def recorded(ws) -> dict[str, dict]:
    if not ws.ledger_path.exists():
        return {}
    with Ledger(ws.ledger_path) as ledger:
        return {r["original_name"]: dict(r) for r in ledger.files()}


def wait_for(condition, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the watcher died (exit {proc.returncode}) while waiting for {what}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_watch_survives_the_hostile_sample_then_answers_a_valid_file(fast_workspace, watcher, tmp_path):
    ws = fast_workspace
    corpus = generate(tmp_path / "corpus", per_category=1, seed=3)
    copy_into(ws.inbox, corpus)  # dropped while the watcher runs, the way a share receives them
    # A zip whose directory is unreadable may still be being copied: the watcher waits
    # (incomplete_grace_seconds, 5 minutes) before answering it, so it is checked as still waiting.
    # Anything else (a PDF or text named .xlsx, an encrypted workbook) is answered at once.
    waiting = {h.path.name for h in corpus if h.expect != IGNORE and not h.path.is_symlink()
               and h.path.is_file() and copy_may_be_unfinished(h.path)}
    expected = {h.path.name for h in corpus if h.expect != IGNORE} - waiting
    wait_for(lambda: expected <= set(recorded(ws)), 120, "every hostile file to be answered", watcher)

    valid = tmp_path / "正常报表.xlsx"
    fill_form(valid, roster=sample_roster(), rulebook=ws.rulebook, unit=sample_roster().units[5].name,
              month=f"{ws.rulebook.year}-10", seed=42)
    shutil.copyfile(valid, ws.inbox / valid.name)
    row = wait_for(lambda: recorded(ws).get(valid.name), 120, "the valid file's receipt", watcher)
    assert row["status"] == "accepted"
    wait_for(lambda: (ws.outbox / row["receipt_path"]).is_file() and ws.outbox / row["receipt_path"]
                       if row["receipt_path"] else recorded(ws)[valid.name]["receipt_path"], 60, "the receipt")
    assert watcher.poll() is None, "the watcher must still be running"

    rows = recorded(ws)
    ignored = {h.path.name for h in corpus if h.expect == IGNORE}
    assert not ignored & set(rows), "lock files, symlinks and folders are never taken"
    for name in ignored:
        assert (ws.inbox / name).is_symlink() or (ws.inbox / name).exists()
    assert all(r["receipt_path"] for r in rows.values())
    assert waiting and all((ws.inbox / name).exists() for name in waiting), "incomplete zips wait in the inbox"
    assert not waiting & set(rows)


@pytest.mark.slow
def test_a_file_still_being_copied_is_taken_once_complete(fast_workspace, watcher, tmp_path):
    """A slow copy: partial for several stability windows, then complete → one accepted record."""
    ws = fast_workspace
    valid = tmp_path / "慢慢复制.xlsx"
    fill_form(valid, roster=sample_roster(), rulebook=ws.rulebook, unit=sample_roster().units[3].name,
              month=f"{ws.rulebook.year}-10", seed=7)
    data = valid.read_bytes()
    target = ws.inbox / valid.name
    with open(target, "wb") as fh:
        for k in range(8):
            fh.write(data[k * len(data) // 8:(k + 1) * len(data) // 8])
            fh.flush()
            time.sleep(0.5 if k < 4 else 0.1)
        # a pause longer than stable_seconds with a half-written file: must not be rejected
    row = wait_for(lambda: recorded(ws).get(valid.name), 120, "the copied file", watcher)
    assert row["status"] == "accepted"
    # once it has left the inbox nothing can record it again
    wait_for(lambda: not target.exists(), 60, "the file to leave the inbox", watcher)
    assert [r["status"] for r in recorded(ws).values()] == ["accepted"]
