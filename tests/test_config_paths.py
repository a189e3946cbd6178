"""Inbox, outbox, archive and ledger are separate places: a config that puts one inside another, or
the inbox on the workspace folder itself, is refused at load, before anything is taken or deleted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import make_workspace
from processor.common.config import DEFAULT_CONFIG_TEXT


def _with_paths(**paths) -> str:
    text = DEFAULT_CONFIG_TEXT
    for key, value in paths.items():
        start = text.index(f"\n{key} = ") + 1
        end = text.index("#", start)
        text = text[:start] + f'{key} = "{value}"'.ljust(end - start) + text[end:]
    return text


@pytest.mark.parametrize("paths, named", [
    ({"inbox": "."}, ["paths.inbox"]),
    ({"inbox": "shared", "outbox": "shared/outbox"}, ["paths.outbox", "paths.inbox"]),
    ({"archive": "inbox/archive"}, ["paths.archive", "paths.inbox"]),
    ({"inbox": "box", "outbox": "box"}, ["paths.inbox", "paths.outbox"]),
    ({"ledger": "archive/ledger.sqlite"}, ["paths.ledger", "paths.archive"]),
    ({"roster": "inbox/roster.xlsx"}, ["paths.roster", "paths.inbox"]),
])
def test_overlapping_paths_are_refused_and_nothing_is_touched(tmp_path, paths, named):
    ws = make_workspace(tmp_path / "ws", _with_paths(**paths))
    before = sorted(p.relative_to(ws.root) for p in ws.root.rglob("*"))

    run = subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "process"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    [line] = run.stderr.strip().splitlines()
    assert all(key in line for key in named), line
    assert "config.toml" in line
    assert sorted(p.relative_to(ws.root) for p in ws.root.rglob("*")) == before
    assert (ws.root / "roster.xlsx").is_file() and (ws.root / "config.toml").is_file()


def test_separate_folders_outside_the_workspace_are_fine(tmp_path):
    ws = make_workspace(tmp_path / "ws", _with_paths(inbox="../share/inbox", outbox="../share/outbox"))
    run = subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "process"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
