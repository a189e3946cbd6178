"""Shared fixtures: a real workspace folder with config, roster and rulebook."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from processor.common.config import DEFAULT_CONFIG_TEXT, load_workspace
from processor.record.ledger import Ledger

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
WAIT_SECONDS = 60.0  # a bound for a stuck test on a busy machine, never a measurement


def wait_until(condition, timeout: float = WAIT_SECONDS, what: str = "条件成立"):
    """Poll ``condition`` until it returns something true and return that; fail the test after ``timeout``
    seconds.  Tests wait on what they need to see happen, never for a fixed time."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"等待超时（{timeout:g} 秒）：{what}")
        time.sleep(0.02)
    return value


def make_workspace(root: Path, config_text: str = DEFAULT_CONFIG_TEXT):
    """A fresh workspace in ``root``: the given config.toml, the sample roster, empty inbox/outbox."""
    from processor.validate.roster import sample_roster, write_roster

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


DEMO_TODAY = __import__("datetime").date(2026, 11, 30)


@pytest.fixture(scope="session")
def demo_year(tmp_path_factory):
    """The full demo workspace (every unit, a year of forms) processed as of DEMO_TODAY; about a minute,
    so built once per session and only read by the tests."""
    from processor.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo-year") / "ws", today=DEMO_TODAY)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI every tool a test needs is installed (``make test``), so a skipped test there is a failure:
    only a test marked ``platform`` (what this operating system cannot do) may skip."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") and item.get_closest_marker("platform") is None:
        report.outcome = "failed"
        report.longrepr = f"在 CI 中不应跳过（缺少测试所需的软件？）：{report.longrepr}"
