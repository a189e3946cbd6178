"""Shared fixtures: a real workspace folder with config, roster and rulebook."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from processor.config import DEFAULT_CONFIG_TEXT, load_workspace

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture
def workspace(tmp_path: Path):
    """A fresh workspace: config.toml with the defaults, the sample roster, empty inbox/outbox."""
    from processor.roster import sample_roster, write_roster

    root = tmp_path / "ws"
    root.mkdir()
    (root / "config.toml").write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
    write_roster(sample_roster(), root / "roster.xlsx")
    ws = load_workspace(root)
    ws.ensure_folders()
    return ws
