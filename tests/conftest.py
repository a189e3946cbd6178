"""Shared fixtures: a real workspace folder with config, roster and rulebook."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from processor.config import DEFAULT_CONFIG_TEXT, load_workspace
from processor.ledger import Ledger

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def make_workspace(root: Path, config_text: str = DEFAULT_CONFIG_TEXT):
    """A fresh workspace in ``root``: the given config.toml, the sample roster, empty inbox/outbox."""
    from processor.roster import sample_roster, write_roster

    root.mkdir(parents=True)
    (root / "config.toml").write_text(config_text, encoding="utf-8")
    write_roster(sample_roster(), root / "roster.xlsx")
    ws = load_workspace(root)
    ws.ensure_folders()
    Ledger.create(ws.ledger_path).close()
    return ws


@pytest.fixture
def workspace(tmp_path: Path):
    """A fresh workspace with the default config."""
    return make_workspace(tmp_path / "ws")
