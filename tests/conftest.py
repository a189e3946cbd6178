"""Shared fixtures: a real workspace folder with config, roster and rulebook."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from processor.common.config import DEFAULT_CONFIG_TEXT, load_workspace
from processor.record.ledger import Ledger
from imap_helpers import dovecot  # noqa: F401 — the session's IMAP server, for the mailbox tests
from mailbox_helpers import mailbox  # noqa: F401 — a workspace reading its own mailbox user

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


UNIT_FOLDERS_ONLY = "require_unit_folder = true"


def make_workspace(root: Path, config_text: str = DEFAULT_CONFIG_TEXT, *, unit_folders_only: bool = False):
    """A fresh workspace in ``root``: the given config.toml, the sample roster, empty inbox/outbox.

    Most tests drop forms in the inbox root and let the form's 填报单位 say whose it is, so their
    workspaces set ``require_unit_folder = false``; ``unit_folders_only`` keeps the default (only a
    unit's own folder speaks for it)."""
    from processor.validate.roster import sample_roster, write_roster

    if not unit_folders_only:
        config_text = config_text.replace(UNIT_FOLDERS_ONLY, "require_unit_folder = false")
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


@pytest.fixture
def roster():
    """The sample roster: the one every test workspace is given."""
    from processor.validate.roster import sample_roster

    return sample_roster()


@pytest.fixture
def form(tmp_path: Path) -> Path:
    """A correctly filled monthly form of 罗源县 for 2026-10 (form_helpers.filled_form)."""
    from form_helpers import filled_form

    return filled_form(tmp_path / "月报表.xlsx")


@pytest.fixture
def lb(workspace):
    """Submissions written straight into the workspace's ledger (ledger_helpers.LedgerBuilder)."""
    from ledger_helpers import LedgerBuilder

    builder = LedgerBuilder(workspace.ledger_path)
    yield builder
    builder.ledger.close()


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """Every report rendered once from its sample context (charts included): {name: .docx path}."""
    from docx_helpers import render_report
    from report_samples import REPORT_NAMES, sample_context

    out = tmp_path_factory.mktemp("rendered")
    return {name: render_report(name, sample_context(name), out / f"{name}.docx") for name in REPORT_NAMES}


DEMO_TODAY = __import__("datetime").date(2026, 11, 30)


@pytest.fixture(scope="session")
def demo_year(tmp_path_factory):
    """The full demo workspace (every unit, a year of forms) processed as of DEMO_TODAY; a minute or more,
    so built once per session for every worker (demo_helpers.demo_copy) and copied for this one."""
    from demo_helpers import demo_copy

    return demo_copy(tmp_path_factory, today=DEMO_TODAY)


# The fixtures that copy a demo build (demo_helpers.demo_copy) and the day of the build each reads
# (None: the demo's own day, processor.demo.DEMO_TODAY); every build is of the whole roster.
DEMO_FIXTURES = {"demo_year": DEMO_TODAY, "demo_workspace": DEMO_TODAY, "demo_ws": DEMO_TODAY,
                 "demo_into_2027": None, "demo": None}
# A test reading a demo may build one, or wait for another worker's build, in its setup: its time
# limit bounds a stuck build, not the suite's 300 s for one test.
DEMO_BUILD_TIMEOUT = 1800


def pytest_configure(config):
    """The demo cache's key, taken once by the run's first process and inherited by its xdist workers."""
    from demo_helpers import DIGEST_ENV, code_digest

    os.environ.setdefault(DIGEST_ENV, code_digest())


# The test files that take longest on the 2-core machine (setup included: the demo builds, LibreOffice,
# real servers), longest first.  xdist hands out whole files in collection order (``--dist loadfile``
# with ``--no-loadscope-reorder``, in addopts): these go first, so the run ends on short files and no
# worker waits idle while the other finishes a long one.  A file missing here only starts later.
# The first two each read a demo at their first test, one of each day: the two builds start at once, one on
# each worker (demo_helpers builds the other demo while a worker waits).
LONGEST_FILES = (
    "test_half_year.py", "test_demo.py", "test_invariants.py", "test_fast_paths.py", "test_mailbox_crash.py",
    "test_signable.py", "test_kill_stress.py", "test_crash_recovery.py", "test_torture.py", "test_heavy_files.py",
    "test_edited_outputs.py", "test_late_corrections.py", "test_hostile.py", "test_gongwen_layout.py",
    "test_inbox_races.py", "test_template.py", "test_watcher_survival.py", "test_import_cost.py",
    "test_check_backup.py", "test_deliver.py", "test_install.py", "test_mailbox.py", "test_ledger_safety.py",
    "test_validate.py", "test_intake_parallel.py", "test_consolidate.py", "test_serve.py", "test_office_clock.py",
    "test_untrusted_text.py", "test_year_report.py", "test_portability.py", "test_sandbox.py", "test_render.py",
    "test_reconciliation.py", "test_library_api.py",
)


def _longest_first(items) -> None:
    rank = {name: k for k, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order


def pytest_collection_modifyitems(items):
    """A test that reads the demo year (``demo_year``, a minute or more to build) is end to end: slow.
    The longest files are run first (LONGEST_FILES)."""
    _longest_first(items)
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "demo_year" in names:
            item.add_marker(pytest.mark.slow)
        if set(names) & DEMO_FIXTURES.keys():
            item.add_marker(pytest.mark.timeout(DEMO_BUILD_TIMEOUT))


def pytest_collection_finish(session):
    """The demo builds the tests of this run read (after -m and -k took theirs out) are noted, so a worker
    waiting for one builds another meanwhile."""
    from demo_helpers import note_needed
    from processor.demo import DEMO_TODAY as DEMOS_OWN_DAY

    for item in session.items:
        for name in set(getattr(item, "fixturenames", ())) & DEMO_FIXTURES.keys():
            note_needed(DEMO_FIXTURES[name] or DEMOS_OWN_DAY)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI every tool a test needs is installed (``make test``), so a skipped test there is a failure:
    only a test marked ``platform`` (what this operating system cannot do) may skip."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") and item.get_closest_marker("platform") is None:
        report.outcome = "failed"
        report.longrepr = f"在 CI 中不应跳过（缺少测试所需的软件？）：{report.longrepr}"
