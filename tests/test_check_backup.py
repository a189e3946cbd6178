"""`processor check` and `processor backup`: the record is verified, and a backup restores it."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from form_helpers import filled_form
from conftest import DEMO_TODAY, wait_until
from processor.common.faults import CRASH_ENV, PAUSE_ENV
from processor.cli import main
from processor.intake.run import process_inbox

NOW = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def run(ws_root: Path, *args: str):
    return CliRunner().invoke(main, ["-w", str(ws_root), *args])


@pytest.fixture
def processed(workspace):
    """A workspace whose intake took a valid form and a file that is no workbook."""
    filled_form(workspace.inbox / "罗源县10月.xlsx")
    (workspace.inbox / "说明.txt").write_text("不是报表", encoding="utf-8")
    outcomes = process_inbox(workspace, now=NOW)
    assert sorted(o.status for o in outcomes) == ["accepted", "rejected"]
    return workspace


def archived(ws) -> list[Path]:
    return sorted(p for p in ws.archive.rglob("*") if p.is_file())


def test_check_passes_on_a_processed_workspace(processed):
    result = run(processed.root, "check")
    assert result.exit_code == 0, result.output
    assert "检查通过" in result.output
    report = json.loads(run(processed.root, "check", "--json").output)
    assert report["ok"] is True and report["problems"] == []


def test_check_names_every_damaged_or_stray_file(processed):
    ws = processed
    deleted, changed = archived(ws)
    deleted.chmod(0o644)
    deleted.unlink()
    changed.chmod(0o644)
    changed.write_bytes(b"edited afterwards")
    receipt_json = next(ws.receipts_dir.rglob("*.json"))
    receipt_json.unlink()
    stray_archive = ws.archive / "ff" / "stray.xlsx"
    stray_archive.parent.mkdir()
    stray_archive.write_bytes(b"x")
    stray_receipt = ws.receipts_dir / "旧回执.html"
    stray_receipt.write_text("旧", encoding="utf-8")
    conn = sqlite3.connect(ws.ledger_path)  # rows of a file whose record is gone (foreign keys off, as old tools do)
    conn.execute("INSERT INTO sites (file_id, unit, month, row, site) VALUES (77, '罗源县', '2026-10', 2, '无主')")
    conn.commit()
    conn.close()

    result = run(ws.root, "check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for path in (deleted, changed, receipt_json, stray_archive, stray_receipt):
        assert sum(str(path) in line for line in lines) == 1, path
    assert any("第 77 号来件" in line and "sites" in line for line in lines)
    codes = sorted(p["code"] for p in json.loads(run(ws.root, "check", "--json").output)["problems"])
    assert codes == ["archive-changed", "archive-missing", "orphan-archive", "orphan-receipt", "orphan-rows",
                     "receipt-missing"]


def test_check_reports_a_corrupt_ledger_as_a_problem(processed):
    processed.ledger_path.write_bytes(b"not a database" * 300)
    result = run(processed.root, "check")
    assert result.exit_code == 1
    assert str(processed.ledger_path) in result.output and "已损坏" in result.output
    assert "Traceback" not in result.output


def test_backup_and_restore_round_trip(processed, tmp_path):
    ws = processed
    dest = tmp_path / "备份" / "2026-11-03"
    result = run(ws.root, "backup", str(dest))
    assert result.exit_code == 0, result.output
    assert "备份完成并已校验" in result.output
    assert not list(dest.rglob("*-wal")), "the copied ledger is one self-contained file"

    restored = tmp_path / "restored"
    shutil.copytree(dest, restored)  # restore = copy the backup's files back into a workspace folder
    status = [json.loads(run(root, "status", "--month", "2026-10", "--json").output) for root in (ws.root, restored)]
    assert status[0] == status[1]
    assert any(u["state"] != "未报送" for u in status[1]["units"])
    assert run(restored, "check").exit_code == 0
    assert [p.relative_to(restored / "archive") for p in sorted((restored / "archive").rglob("*.*"))] == \
        [p.relative_to(ws.archive) for p in archived(ws)]


def test_backup_refuses_a_folder_that_is_not_empty(processed, tmp_path):
    dest = tmp_path / "old-backup"
    dest.mkdir()
    (dest / "ledger.sqlite").write_bytes(b"an earlier backup")
    result = run(processed.root, "backup", str(dest))
    assert result.exit_code == 2
    assert "不是空文件夹" in result.output
    assert (dest / "ledger.sqlite").read_bytes() == b"an earlier backup"


def test_backup_help_says_how_to_restore():
    result = CliRunner().invoke(main, ["backup", "--help"])
    assert result.exit_code == 0 and "恢复" in result.output and "复制回工作区" in result.output


# --- the demo workspace ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    from demo_helpers import demo_copy

    # the demo year of the session (demo_year's build), consolidated again as of 26 November
    return demo_copy(tmp_path_factory, today=DEMO_TODAY, as_of=dt.date(2026, 11, 26)).workspace


@pytest.mark.slow
def test_check_passes_on_the_demo_workspace_and_names_a_deleted_archived_file(demo_ws, tmp_path):
    assert run(demo_ws.root, "check").exit_code == 0
    copy = tmp_path / "ws"
    shutil.copytree(demo_ws.root, copy)
    victim = sorted((copy / "archive").rglob("*.xlsx"))[3]
    victim.chmod(0o644)
    victim.unlink()
    result = run(copy, "check")
    assert result.exit_code == 1
    assert [line for line in result.output.splitlines() if str(victim) in line]


# --- check beside a processor at work -----------------------------------------------------------
def _process_paused_at(ws, point: str, release: Path, crash: bool = False) -> subprocess.Popen:
    env = {**os.environ, (CRASH_ENV if crash else PAUSE_ENV): point if crash else f"{point}:{release}"}
    return subprocess.Popen([sys.executable, "-m", "processor", "-w", str(ws.root), "process"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after-archive", "after-commit"])
def test_check_beside_a_processor_at_work_counts_the_file_in_flight_and_passes(workspace, tmp_path, point):
    """An original archived before its row is committed, or recorded before its receipt is written, is
    work in progress while the processor runs: check passes and says so; once the processor has
    finished, nothing is left to note."""
    filled_form(workspace.inbox / "罗源县10月.xlsx")
    release = tmp_path / "release"
    proc = _process_paused_at(workspace, point, release)
    try:
        wait_until(lambda: any(tmp_path.glob("release.*.arrived")), what=f"处理程序停在 {point}")
        beside = json.loads(run(workspace.root, "check", "--json").output)
        assert beside["ok"] is True, beside["problems"]
        assert any("正在处理中" in note and f"进程 {proc.pid}" in note for note in beside["notes"]), beside["notes"]
        release.touch()
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    after = json.loads(run(workspace.root, "check", "--json").output)
    assert after["ok"] is True and not any("正在处理中" in note for note in after["notes"])


@pytest.mark.slow
@pytest.mark.parametrize(("point", "code"), [("after-archive", "orphan-archive"), ("after-commit", "receipt-pending")])
def test_what_a_killed_processor_left_unfinished_is_a_problem_once_no_processor_runs(workspace, point, code, tmp_path):
    filled_form(workspace.inbox / "罗源县10月.xlsx")
    proc = _process_paused_at(workspace, point, tmp_path / "unused", crash=True)
    assert proc.wait(timeout=300) == -9
    result = run(workspace.root, "check")
    assert result.exit_code == 1
    codes = [p["code"] for p in json.loads(run(workspace.root, "check", "--json").output)["problems"]]
    assert codes == [code]
