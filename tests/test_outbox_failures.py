"""A full or read-only outbox during ``consolidate``, ``send`` and ``serve``: one Chinese line, no
traceback, the details in ``logs/processor.log``, exit code 1, and an outbox and ledger that agree.

Tests run as root in CI, where a ``chmod 0o555`` outbox stops no write: the failures are produced
by making the real ``os.replace`` (every outbox file goes through it) raise what the kernel would,
ENOSPC for a full disk and EROFS for a read-only one."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from deliver_helpers import add_output, deliveries, make_workspace
from ledger_helpers import D, LedgerBuilder, site
from processor.cli import main
from processor.common.fsutil import sha256_file
from processor.record.ledger import Ledger

FAILURES = {
    "disk full": (errno.ENOSPC, "No space left on device", "发件箱所在磁盘已满"),
    "read-only": (errno.EROFS, "Read-only file system", "发件箱只读或没有写入权限"),
}
REAL_REPLACE = os.replace


def fail_outbox_writes(monkeypatch, ws, failure: str, *, after: int = 0) -> None:
    """Every file replaced into the outbox fails with ``failure`` once ``after`` of them succeeded."""
    code, text, _ = FAILURES[failure]
    done = []

    def replace(src, dst, *args, **kwargs):
        if Path(dst).is_relative_to(ws.outbox) and len(done) >= after:
            raise OSError(code, text, str(dst))
        done.append(dst)
        return REAL_REPLACE(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def said(run) -> str:
    return run.output.replace("\n", "")  # the console wraps long lines


def log_text(ws) -> str:
    return (ws.root / "logs" / "processor.log").read_text(encoding="utf-8")


def assert_outbox_agrees_with_ledger(ws) -> None:
    assert not [p for p in ws.outbox.rglob(".tmp-*")], "a half-written file was left"
    with Ledger(ws.ledger_path) as ledger:
        for row in ledger.query("SELECT path, sha256 FROM outputs"):
            target = ws.outbox / row["path"]
            assert target.is_file() and sha256_file(target) == row["sha256"], row["path"]


@pytest.mark.slow
@pytest.mark.parametrize("failure", FAILURES)
def test_consolidate_on_a_full_or_read_only_outbox_says_so_in_one_line_and_keeps_it_consistent(
        workspace, monkeypatch, failure):
    lb = LedgerBuilder(workspace.ledger_path)
    lb.submit("榕城区", "2026-10", sites=[site("榕城电子"), site("榕城机械")], received=D(2026, 11, 3))
    lb.ledger.close()
    command = ["--workspace", str(workspace.root), "consolidate", "--month", "2026-10"]
    fail_outbox_writes(monkeypatch, workspace, failure, after=3)
    run = CliRunner().invoke(main, command)
    assert run.exit_code == 1 and isinstance(run.exception, SystemExit), run.output
    assert FAILURES[failure][2] in said(run) and "processor consolidate" in said(run)
    assert "Traceback" not in run.output and FAILURES[failure][1] not in run.output
    assert FAILURES[failure][2] in log_text(workspace) and FAILURES[failure][1] in log_text(workspace)
    assert_outbox_agrees_with_ledger(workspace)

    monkeypatch.setattr(os, "replace", REAL_REPLACE)  # space freed / write access back
    again = CliRunner().invoke(main, command)
    assert again.exit_code == 0, again.output
    assert_outbox_agrees_with_ledger(workspace)
    with Ledger(workspace.ledger_path) as ledger:
        recorded = {r["path"] for r in ledger.query("SELECT path FROM outputs")}
    on_disk = {p.relative_to(workspace.outbox).as_posix() for p in workspace.outbox.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert recorded == on_disk


@pytest.mark.parametrize("failure", FAILURES)
def test_send_on_a_full_or_read_only_outbox_says_so_in_one_line_and_records_nothing(tmp_path, monkeypatch, failure):
    ws = make_workspace(tmp_path / "ws", port=None)  # no mail server: the mail is written as .eml
    add_output(ws, "月度汇总报告/2026-10/报告.docx", "monthly_report", "2026-10", b"report")
    command = ["--workspace", str(ws.root), "send"]
    fail_outbox_writes(monkeypatch, ws, failure)
    run = CliRunner().invoke(main, command)
    assert run.exit_code == 1 and isinstance(run.exception, SystemExit), run.output
    assert FAILURES[failure][2] in said(run) and "processor send" in said(run)
    assert "Traceback" not in run.output
    assert FAILURES[failure][1] in log_text(ws)
    assert deliveries(ws) == [], "a mail that was not written is not recorded"
    assert not [p for p in ws.outbox.rglob(".tmp-*")]

    monkeypatch.setattr(os, "replace", REAL_REPLACE)
    again = CliRunner().invoke(main, command)
    assert again.exit_code == 0, again.output
    [row] = deliveries(ws)
    assert row["status"] == "dry-run" and len(list((ws.outbox / "邮件").glob("*.eml"))) == 1


@pytest.mark.slow
def test_serve_logs_a_full_outbox_in_chinese_and_the_watcher_goes_on(tmp_path, monkeypatch):
    from processor.validate.roster import sample_roster, workspace_roster, write_roster
    from processor.validate.samples import fill_form
    from processor.deliver.serve import serve

    ws = make_workspace(tmp_path / "ws", port=None)
    config = (ws.root / "config.toml").read_text(encoding="utf-8")
    for old, new in {"stable_seconds = 2.0": "stable_seconds = 0.3", "poll_interval = 2.0": "poll_interval = 0.3",
                     "rescan_seconds = 60": "rescan_seconds = 2"}.items():
        config = config.replace(old, new)
    (ws.root / "config.toml").write_text(config, encoding="utf-8")
    write_roster(sample_roster(), ws.root / "roster.xlsx")
    roster = workspace_roster(ws)
    LedgerBuilder(ws.ledger_path).ledger.close()  # a ledger, so that a night has something to consolidate
    log = ws.root / "logs" / "processor.log"

    def wait_for(condition, what: str, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        pytest.fail(f"等待超时：{what}\n{log.read_text(encoding='utf-8')[-3000:] if log.exists() else ''}")

    stop = threading.Event()
    codes = []
    fail_outbox_writes(monkeypatch, ws, "disk full")
    thread = threading.Thread(target=lambda: codes.append(serve(ws, stop_event=stop, schedule_override="1")))
    thread.start()
    try:
        wait_for(lambda: log.exists() and "夜间汇总失败：发件箱所在磁盘已满" in log.read_text(encoding="utf-8"),
                 "磁盘已满的夜间汇总")
        monkeypatch.setattr(os, "replace", REAL_REPLACE)  # space freed: the watcher takes the next file
        staged = fill_form(tmp_path / "staged.xlsx", roster=roster, rulebook=ws.rulebook,
                           unit=roster.unit_names[0], month="2026-10", seed=1)
        os.replace(staged, ws.inbox / "报表.xlsx")
        wait_for(lambda: any(p.suffix == ".html" for p in ws.receipts_dir.rglob("*")), "回执")
    finally:
        stop.set()
        thread.join(timeout=120)
    assert codes == [0]
