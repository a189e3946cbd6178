"""An unreadable inbox file, a read-only outbox, a full disk: logged in Chinese, the file
stays in the inbox for a retry, the other files go on, and nothing is recorded twice.

Tests run as root in CI, where chmod 000 stops nothing: the failures are
produced by making the real calls fail (FIFOs, folders, patched writes)."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
from pathlib import Path

import pytest

from conftest import wait_until
from processor.common import fsutil
from processor.common.faults import fault_action
from processor.intake import run as intake_module
from processor.common.fsutil import sha256_file
from processor.intake.run import Intake, process_inbox
from processor.record.ledger import Ledger
from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form
from processor.intake.watch import InboxWatcher


def make_forms(ws, tmp_path, count: int) -> list[Path]:
    roster = workspace_roster(ws)
    forms = []
    for i in range(count):
        path = tmp_path / f"报表{i}.xlsx"
        fill_form(path, roster=roster, rulebook=ws.rulebook, unit=roster.units[i].name,
                  month=f"{ws.rulebook.year}-10", seed=i)
        forms.append(path)
    return forms


def drop(ws, forms) -> list[Path]:
    placed = []
    for form in forms:
        target = ws.inbox / form.name
        shutil.copyfile(form, target)
        placed.append(target)
    return placed


def ledger_rows(ws) -> list[dict]:
    with Ledger(ws.ledger_path) as ledger:
        assert ledger.integrity_ok()
        return [dict(r) for r in ledger.files()]


def assert_exactly_once(ws, forms):
    rows = ledger_rows(ws)
    assert sorted(r["sha256"] for r in rows) == sorted(sha256_file(f) for f in forms)
    assert all(r["inbox_removed"] == 1 and r["receipt_path"] for r in rows)
    assert not [p for p in ws.inbox.rglob("*") if p.is_file()]
    assert not [p for p in ws.outbox.rglob("*") if p.name.startswith(".tmp-")]


def chinese_error_logged(caplog, name: str) -> bool:
    return any(name in r.getMessage() and any("\u4e00" <= ch <= "\u9fff" for ch in r.getMessage())
               and r.levelno >= logging.WARNING for r in caplog.records)


def test_a_fifo_and_a_folder_named_xlsx_are_left_alone(workspace, tmp_path):
    os.mkfifo(workspace.inbox / "管道.xlsx")           # opening it for reading would block forever
    (workspace.inbox / "文件夹.xlsx").mkdir()
    forms = make_forms(workspace, tmp_path, 1)
    drop(workspace, forms)
    done = []
    worker = threading.Thread(target=lambda: done.append(process_inbox(workspace)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert done, "intake hung on a FIFO"
    assert [o.status for o in done[0]] == ["accepted"]
    assert (workspace.inbox / "管道.xlsx").exists() and (workspace.inbox / "文件夹.xlsx").is_dir()


@pytest.mark.slow
def test_an_unreadable_file_stays_for_a_retry_and_the_others_go_on(workspace, tmp_path, monkeypatch, caplog):
    forms = make_forms(workspace, tmp_path, 3)
    placed = drop(workspace, forms)
    unreadable = placed[1]
    real_open = open

    def guarded_open(file, *args, **kwargs):
        if Path(str(file)).name == unreadable.name and Path(str(file)).parent == workspace.inbox:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def refused(path):  # intake reads each inbox file through one descriptor
        if Path(path) == unreadable:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("builtins.open", guarded_open)
    caplog.set_level(logging.WARNING)
    with fault_action("inbox-opened", refused):
        outcomes = process_inbox(workspace)
    assert sorted(o.name for o in outcomes) == sorted([placed[0].name, placed[2].name])
    assert unreadable.exists(), "the unreadable file stays in the inbox"
    assert len(ledger_rows(workspace)) == 2
    assert chinese_error_logged(caplog, unreadable.name)

    monkeypatch.setattr("builtins.open", real_open)   # permissions fixed: the next run takes it
    process_inbox(workspace)
    assert_exactly_once(workspace, forms)


def test_a_read_only_outbox_leaves_the_file_for_a_retry(workspace, tmp_path, monkeypatch, caplog):
    forms = make_forms(workspace, tmp_path, 2)
    placed = drop(workspace, forms)
    real_replace = os.replace
    outbox = str(workspace.outbox)

    def read_only_outbox(src, dst, *args, **kwargs):
        if str(dst).startswith(outbox):
            raise PermissionError(errno.EROFS, "Read-only file system", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(fsutil.os, "replace", read_only_outbox)
    caplog.set_level(logging.WARNING)
    process_inbox(workspace)
    assert all(p.exists() for p in placed), "without a receipt the file must stay in the inbox"
    assert not [p for p in workspace.outbox.rglob("*") if p.name.startswith(".tmp-")]
    assert chinese_error_logged(caplog, placed[0].name)

    monkeypatch.setattr(fsutil.os, "replace", real_replace)
    process_inbox(workspace)
    assert_exactly_once(workspace, forms)


@pytest.mark.slow
def test_a_full_disk_keeps_the_file_and_the_watcher_lives_on(workspace, tmp_path, monkeypatch, caplog):
    """ENOSPC while archiving: nothing recorded, the file stays; once space is back it is taken."""
    forms = make_forms(workspace, tmp_path, 1)
    full = threading.Event()
    full.set()
    real_atomic_path = intake_module.atomic_path

    def disk_full(target):
        if full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real_atomic_path(target)

    monkeypatch.setattr(intake_module, "atomic_path", disk_full)
    caplog.set_level(logging.WARNING)
    intake = Intake(workspace)
    watcher = InboxWatcher(workspace.inbox, intake.handle, stable_seconds=0.2, rescan_seconds=1,
                           retry_seconds=0.5, retry_max_seconds=1)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        placed = drop(workspace, forms)[0]
        wait_until(lambda: any("No space" in r.getMessage() or "空间" in r.getMessage() for r in caplog.records),
                   what="磁盘已满的警告写入日志")
        assert placed.exists(), "a file that could not be archived stays in the inbox"
        assert ledger_rows(workspace) == []
        assert thread.is_alive(), "the watcher lives on"
        full.clear()   # space freed: the retry takes it
        wait_until(lambda: not placed.exists(), what="腾出空间后文件被处理")
    finally:
        stop.set()
        watcher.wake()
        thread.join(timeout=60)
        intake.close()
    assert_exactly_once(workspace, forms)
    assert any(r.levelno >= logging.WARNING and any("\u4e00" <= ch <= "\u9fff" for ch in r.getMessage())
               for r in caplog.records)



def test_a_full_disk_while_answering_is_finished_on_retry_not_taken_as_a_duplicate(workspace, tmp_path,
                                                                                   monkeypatch):
    """ENOSPC after the ledger commit (the receipt's JSON twin): the watcher's retry finishes that arrival;
    the file is never recorded as a duplicate of itself and no receipt is left without its twin."""
    from processor.record import receipts

    forms = make_forms(workspace, tmp_path, 1)
    real_write = receipts.atomic_write_text
    failed = []

    def full_once(target, text, **options):
        if Path(target).suffix == ".json" and not failed:
            failed.append(target)
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real_write(target, text, **options)

    monkeypatch.setattr(receipts, "atomic_write_text", full_once)
    intake = Intake(workspace)
    watcher = InboxWatcher(workspace.inbox, intake.handle, stable_seconds=0.2, rescan_seconds=1,
                           retry_seconds=0.2, retry_max_seconds=0.4)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        placed = drop(workspace, forms)[0]
        wait_until(lambda: not placed.exists() and failed, what="写满磁盘一次后文件仍被处理")
    finally:
        stop.set()
        watcher.wake()
        thread.join(timeout=10)
        intake.close()
    assert failed, "the disk-full write happened"
    rows = ledger_rows(workspace)
    assert [r["status"] for r in rows] == ["accepted"]
    assert_exactly_once(workspace, forms)
    pages = sorted(p.stem for p in workspace.receipts_dir.rglob("*.html"))
    twins = sorted(p.stem for p in workspace.receipts_dir.rglob("*.json"))
    assert len(pages) == 1 and pages == twins


@pytest.mark.slow
def test_process_lists_every_file_it_left_in_the_inbox_and_exits_1(workspace, tmp_path, monkeypatch):
    import datetime as dt

    from click.testing import CliRunner

    from processor.cli import main

    forms = make_forms(workspace, tmp_path, 3)
    fine, unreadable, no_space = drop(workspace, forms)
    copying = workspace.inbox / "复制中.xlsx"
    copying.write_bytes(forms[0].read_bytes()[:3000])  # a copy in progress: no zip directory yet
    no_space_sha = sha256_file(no_space)
    real_open, real_atomic_path = open, intake_module.atomic_path

    def guarded_open(file, *args, **kwargs):
        if str(file) == str(unreadable):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def full_for_one(target):
        if no_space_sha in str(target):
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real_atomic_path(target)

    def refused(path):  # intake reads each inbox file through one descriptor
        if str(path) == str(unreadable):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("builtins.open", guarded_open)
    monkeypatch.setattr(intake_module, "atomic_path", full_for_one)
    with fault_action("inbox-opened", refused):
        result = CliRunner().invoke(main, ["-w", str(workspace.root), "process"])
    assert result.exit_code == 1, result.output
    until = dt.datetime.fromtimestamp(copying.stat().st_ctime + 300)
    lines = result.output.replace("\n  ", "\n").splitlines()
    assert "收件箱中仍有 3 个文件未处理：" in result.output and "收件箱中没有待处理的文件" not in result.output
    assert f"{unreadable.name}：无读取权限" in lines
    assert f"{no_space.name}：磁盘已满" in lines
    assert f"{copying.name}：文件仍在复制中（等待至 {until:%H:%M}）" in lines
    assert "Traceback" not in result.output
    assert not fine.exists() and [r["original_name"] for r in ledger_rows(workspace)] == [fine.name]
    assert "No space left" in (workspace.root / "logs" / "processor.log").read_text(encoding="utf-8")

    status = CliRunner().invoke(main, ["-w", str(workspace.root), "status", "--json"])
    assert status.exit_code == 0, status.output
    left = {w["file"]: w["reason"] for w in json.loads(status.output)["inbox"]}
    assert left.keys() == {unreadable.name, no_space.name, copying.name}
    assert left[unreadable.name] == "无读取权限"


def test_a_read_only_workspace_stops_process_with_one_chinese_line(workspace, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from processor.cli import main

    placed = drop(workspace, make_forms(workspace, tmp_path, 1))[0]

    def read_only(folder, **_):
        raise OSError(errno.EROFS, "Read-only file system", str(folder))

    monkeypatch.setattr(intake_module, "remove_stale_temp_files", read_only)
    result = CliRunner().invoke(main, ["-w", str(workspace.root), "process"])
    assert result.exit_code == 1, result.output
    message = result.output.replace("\n", "")
    assert "文件夹是只读的" in message and "logs/processor.log" in message
    assert isinstance(result.exception, SystemExit), "a message, not an exception"
    assert "Traceback" not in result.output
    assert placed.exists()
    assert "Traceback" in (workspace.root / "logs" / "processor.log").read_text(encoding="utf-8")
