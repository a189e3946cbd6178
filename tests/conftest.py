"""Shared fixtures: a real workspace folder with config, roster and rulebook."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from processor.config import DEFAULT_CONFIG_TEXT, load_workspace

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def make_workspace(root: Path, config_text: str = DEFAULT_CONFIG_TEXT):
    """A fresh workspace in ``root``: the given config.toml, the sample roster, empty inbox/outbox."""
    from processor.roster import sample_roster, write_roster

    root.mkdir(parents=True)
    (root / "config.toml").write_text(config_text, encoding="utf-8")
    write_roster(sample_roster(), root / "roster.xlsx")
    ws = load_workspace(root)
    ws.ensure_folders()
    return ws


@pytest.fixture
def workspace(tmp_path: Path):
    """A fresh workspace with the default config."""
    return make_workspace(tmp_path / "ws")


DEMO_TODAY = __import__("datetime").date(2026, 11, 30)


@pytest.fixture(scope="session")
def demo_year(tmp_path_factory):
    """The full demo workspace (every unit, a year of forms) processed as of DEMO_TODAY; about a minute,
    so built once per session and only read by the tests."""
    from processor.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo-year") / "ws", today=DEMO_TODAY)
