"""Intake end to end on a real workspace: ledger, archive, receipts, duplicates, supersession."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
from pathlib import Path

import openpyxl
import pytest

from conftest import wait_until
from processor.common.fsutil import sha256_file
from processor.intake.run import Intake, process_inbox
from processor.record.ledger import Ledger
from processor.validate.samples import fill_form

MONTH = "2026-10"


@pytest.fixture
def unit(roster):
    return roster.units[0].name


def make_form(ws, roster, unit, tmp_path, *, seed=0, name=None, month=MONTH) -> Path:
    path = tmp_path / (name or f"{unit}-{month}-{seed}.xlsx")
    fill_form(path, roster=roster, rulebook=ws.rulebook, unit=unit, month=month, seed=seed)
    return path


def drop(ws, source: Path, *, folder: str | None = None, name: str | None = None) -> Path:
    target_dir = ws.inbox / folder if folder else ws.inbox
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / (name or source.name)
    shutil.copyfile(source, target)
    return target


def set_cell(path: Path, sheet: str, cell: str, value) -> None:
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


def test_accepted_file_is_recorded_archived_answered_and_removed(workspace, roster, unit, tmp_path):
    form = make_form(workspace, roster, unit, tmp_path)
    dropped = drop(workspace, form)
    outcomes = process_inbox(workspace)

    assert [o.status for o in outcomes] == ["accepted"]
    assert not dropped.exists(), "an accepted file leaves the inbox"
    with Ledger(workspace.ledger_path) as ledger:
        row = ledger.files()[0]
        assert (row["unit"], row["month"], row["status"]) == (unit, MONTH, "accepted")
        archived = workspace.archive / row["archive_path"]
        assert sha256_file(archived) == sha256_file(form) == row["sha256"]
        assert not archived.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), "archive is read-only"
        contacts = ledger.accepted_rows("contacts")
    wb = openpyxl.load_workbook(form, read_only=True)
    filled_contacts = sum(1 for r in wb["联系指导记录"].iter_rows(min_row=2, values_only=True) if any(r))
    assert len(contacts) == filled_contacts > 0

    receipt = workspace.outbox / row["receipt_path"]
    assert receipt.parent == workspace.receipts_dir / unit / MONTH
    html = receipt.read_text(encoding="utf-8")
    assert "已接收" in html and unit in html and row["sha256"] in html
    data = json.loads(receipt.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["status"] == "accepted" and data["rows"]["contacts"] == filled_contacts


def _synchronous_at_commits(statements: list[str]) -> list[tuple[str, list[str]]]:
    """Each committed transaction's (synchronous level in force at its COMMIT, its statements)."""
    level, current, out = "FULL", [], []
    for statement in statements:
        if statement.startswith("PRAGMA synchronous="):
            level = statement.split("=", 1)[1]
        elif statement == "COMMIT":
            out.append((level, current))
            current = []
        else:
            current.append(statement)
    return out


def test_a_form_is_on_disk_before_it_leaves_the_inbox_and_only_the_finishing_mark_does_not_wait_for_it(
        workspace, roster, unit, tmp_path):
    """The recording commits with SQLite's FULL sync (it survives a power cut before the inbox file is
    removed); the mark that the receipt is written and the file removed, which recovery redoes when a
    power cut loses it, commits without waiting for the disk; the connection is FULL again after it."""
    dropped = drop(workspace, make_form(workspace, roster, unit, tmp_path))
    intake = Intake(workspace)
    statements: list[str] = []
    intake.ledger.conn.set_trace_callback(statements.append)
    try:
        assert intake.handle(dropped).status == "accepted"
        assert intake.ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        intake.close()
    commits = _synchronous_at_commits(statements)
    recording = [level for level, body in commits if any(s.startswith("INSERT INTO files ") for s in body)]
    finishing = [level for level, body in commits if any("receipt_path" in s for s in body)]
    assert recording == ["FULL"] and finishing == ["NORMAL"]
    assert not dropped.exists()
    with Ledger(workspace.ledger_path) as ledger:  # committed all the same: another process sees it
        row = ledger.files()[0]
        assert row["inbox_removed"] == 1 and (workspace.outbox / row["receipt_path"]).is_file()


def test_accepted_receipt_previews_what_the_opinion_still_asks(workspace, roster, unit, tmp_path):
    form = tmp_path / "few-meetings.xlsx"
    fill_form(form, roster=roster, rulebook=workspace.rulebook, unit=unit, month=MONTH, seed=3, org_life=2)
    drop(workspace, form)
    process_inbox(workspace, now=dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    with Ledger(workspace.ledger_path) as ledger:
        row = ledger.files()[0]
    data = json.loads((workspace.outbox / row["receipt_path"]).with_suffix(".json").read_text(encoding="utf-8"))
    clauses = {p["clause"] for p in data["preview"]}
    assert clauses & {"S-4a", "S-4b", "N-4a", "N-4b"}, "too few meetings are pointed out"
    assert all(p["status"] == "待完成" for p in data["preview"] if p["clause"].startswith(("S-4", "N-4"))), \
        "the quarter and half-year are still open on 2 November: at risk, not failed"
    html = (workspace.outbox / row["receipt_path"]).read_text(encoding="utf-8")
    assert "对照《实施意见》的提示" in html


def test_same_bytes_twice_is_one_accepted_and_one_duplicate(workspace, roster, unit, tmp_path):
    form = make_form(workspace, roster, unit, tmp_path)
    drop(workspace, form, name="第一次.xlsx")
    process_inbox(workspace)
    drop(workspace, form, name="又发了一次.xlsx")
    outcomes = process_inbox(workspace)

    assert [o.status for o in outcomes] == ["duplicate"]
    with Ledger(workspace.ledger_path) as ledger:
        statuses = [r["status"] for r in ledger.files()]
        assert statuses == ["accepted", "duplicate"]
        once = len(ledger.accepted_rows("contacts"))
        dup = ledger.files(status="duplicate")[0]
        receipt = (workspace.outbox / dup["receipt_path"]).read_text(encoding="utf-8")
    assert "重复报送" in receipt and "第一次.xlsx" in receipt
    assert once == len(ledger_rows_of_first(workspace)), "nothing counted twice"
    assert list(workspace.inbox.iterdir()) == []


def ledger_rows_of_first(ws):
    with Ledger(ws.ledger_path) as ledger:
        first = ledger.files()[0]["id"]
        return ledger.query("SELECT * FROM contacts WHERE file_id = ?", (first,))


def test_corrected_resubmission_supersedes_the_earlier_one(workspace, roster, unit, tmp_path):
    first = make_form(workspace, roster, unit, tmp_path, seed=1)
    second = make_form(workspace, roster, unit, tmp_path, seed=2)
    drop(workspace, first)
    process_inbox(workspace)
    drop(workspace, second)
    process_inbox(workspace)

    with Ledger(workspace.ledger_path) as ledger:
        old, new = ledger.files()
        assert (old["status"], old["superseded_by"]) == ("superseded", new["id"])
        assert (new["status"], new["replaces"]) == ("accepted", old["id"])
        current = ledger.accepted_rows("contacts")
        assert set(current["file_id"]) == {new["id"]}, "reports use the latest submission only"
        history = ledger.query("SELECT COUNT(*) FROM contacts WHERE file_id = ?", (old["id"],))[0][0]
        assert history > 0, "the earlier submission's rows are kept as history"
        receipt = (workspace.outbox / new["receipt_path"]).read_text(encoding="utf-8")
    assert "替换" in receipt and first.name in receipt


def test_rejected_file_gets_problem_list_and_annotated_copy(workspace, roster, unit, tmp_path):
    form = make_form(workspace, roster, unit, tmp_path)
    set_cell(form, "组织生活", "F2", -3)  # 应到人数 negative
    drop(workspace, form)
    [outcome] = process_inbox(workspace)

    assert outcome.status == "rejected"
    with Ledger(workspace.ledger_path) as ledger:
        row = ledger.files()[0]
        assert ledger.accepted_rows("contacts").empty, "a rejected file adds no data"
    receipt = workspace.outbox / row["receipt_path"]
    html = receipt.read_text(encoding="utf-8")
    assert "已退回" in html and "组织生活!F2" in html
    annotated = list(receipt.parent.glob("*_批注.xlsx"))
    assert len(annotated) == 1
    wb = openpyxl.load_workbook(annotated[0])
    assert wb.sheetnames[0] == "错误清单"
    assert wb["组织生活"]["F2"].comment is not None


def test_file_in_another_units_folder_is_rejected(workspace, roster, unit, tmp_path):
    other = roster.units[1].name
    form = make_form(workspace, roster, unit, tmp_path)
    drop(workspace, form, folder=other)
    [outcome] = process_inbox(workspace)
    assert outcome.status == "rejected"
    assert any(p.code == "unit-mismatch" for p in outcome.problems)
    assert (workspace.inbox / other).is_dir(), "the per-unit folder itself is kept"


def test_non_excel_file_gets_a_rejection_receipt_and_is_archived(workspace, tmp_path):
    junk = workspace.inbox / "扫描件.pdf"
    junk.write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n")
    [outcome] = process_inbox(workspace)
    assert outcome.status == "rejected"
    assert outcome.problems[0].code == "not-xlsx"
    with Ledger(workspace.ledger_path) as ledger:
        row = ledger.files()[0]
    assert (workspace.archive / row["archive_path"]).exists()
    assert "PDF" in (workspace.outbox / row["receipt_path"]).read_text(encoding="utf-8")
    assert not junk.exists()


def test_simulated_clock_sets_received_time(workspace, roster, unit, tmp_path):
    moment = dt.datetime(2026, 11, 3, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    drop(workspace, make_form(workspace, roster, unit, tmp_path))
    process_inbox(workspace, now=moment)
    with Ledger(workspace.ledger_path) as ledger:
        assert ledger.files()[0]["received_at"] == "2026-11-03T09:30:00+08:00"


def test_receipt_names_cannot_escape_the_outbox(workspace, tmp_path):
    # Backslashes are legal in Linux names but are separators when the share is opened on Windows.
    evil = workspace.inbox / "x\\..\\..\\..\\evil:name.xlsx"
    evil.write_bytes(b"not a zip")
    process_inbox(workspace)
    with Ledger(workspace.ledger_path) as ledger:
        row = ledger.files()[0]
    receipt = (workspace.outbox / row["receipt_path"]).resolve()
    assert receipt.is_relative_to(workspace.receipts_dir.resolve())
    assert "\\" not in receipt.name and ":" not in receipt.name


def test_intake_object_survives_a_vanished_file(workspace):
    intake = Intake(workspace)
    try:
        assert intake.handle(workspace.inbox / "已经不在了.xlsx") is None
    finally:
        intake.close()


GBK_NAME = b"\xc2\xde\xd4\xb4\xb1\xa8\xb1\xed.xlsx"  # “罗源报表.xlsx” in GBK, as an old Windows share names it


def drop_bytes_named(folder: Path, name: bytes, source: Path) -> bytes:
    """Put ``source`` into ``folder`` under a name that is not valid UTF-8; returns the full path as bytes."""
    target = os.fsencode(folder) + b"/" + name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(source.read_bytes())
    return target


def test_a_gbk_file_name_is_recorded_exactly_and_answered(workspace, roster, unit, tmp_path):
    from click.testing import CliRunner

    from processor.cli import main

    gbk = drop_bytes_named(workspace.inbox, GBK_NAME, make_form(workspace, roster, unit, tmp_path, seed=1))
    plain = drop(workspace, make_form(workspace, roster, roster.units[1].name, tmp_path, seed=2))
    result = CliRunner().invoke(main, ["-w", str(workspace.root), "process"])
    assert result.exit_code == 0, result.output
    assert "罗源报表.xlsx" in result.output

    assert not os.path.exists(gbk) and not plain.exists()
    with Ledger(workspace.ledger_path) as ledger:
        rows = {r["id"]: dict(r) for r in ledger.files()}
    assert [r["status"] for r in rows.values()] == ["accepted", "accepted"]
    row = next(r for r in rows.values() if r["original_name"] == "罗源报表.xlsx")
    assert row["inbox_path"] == GBK_NAME, "the exact bytes of the name are kept"
    archived = workspace.archive / row["archive_path"]
    assert sha256_file(archived) == row["sha256"]
    receipt = workspace.outbox / row["receipt_path"]
    assert receipt.exists() and receipt.with_suffix(".json").exists()
    assert "罗源报表" in receipt.name
    assert json.loads(receipt.with_suffix(".json").read_text(encoding="utf-8"))["file_name"] == "罗源报表.xlsx"


def test_the_watcher_answers_a_gbk_named_file_once(workspace, roster, unit, tmp_path):
    import threading

    from processor.intake.watch import InboxWatcher

    intake = Intake(workspace)
    errors = []
    watcher = InboxWatcher(workspace.inbox, intake.handle, stable_seconds=0.2, rescan_seconds=1,
                           retry_seconds=0.2, retry_max_seconds=0.4, on_error=lambda p, e: errors.append(e))
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        gbk = drop_bytes_named(workspace.inbox, GBK_NAME, make_form(workspace, roster, unit, tmp_path))
        wait_until(lambda: not os.path.exists(gbk) or errors, what="GBK 文件名的文件被处理")
    finally:
        stop.set()
        watcher.wake()
        thread.join(timeout=10)
        intake.close()
    assert errors == [] and not os.path.exists(gbk)
    with Ledger(workspace.ledger_path) as ledger:
        rows = [dict(r) for r in ledger.files()]
    assert [(r["status"], r["original_name"], r["inbox_path"]) for r in rows] == [
        ("accepted", "罗源报表.xlsx", GBK_NAME)]
    assert (workspace.outbox / rows[0]["receipt_path"]).exists()
