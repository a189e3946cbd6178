"""A file that is certainly not a workbook in transit is answered at once; only a zip whose end
is missing waits for the copy grace.  Names starting with a dot are submissions like any other."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from form_helpers import filled_form, ole_file

from processor.cli import main
from processor.record.ledger import Ledger
from processor.intake.watch import INCOMPLETE_GRACE_SECONDS, StabilityTracker

ENCRYPTED = ole_file({"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + bytes(200),
                      "EncryptedPackage": bytes(1024)})


def run_process(ws):
    return CliRunner().invoke(main, ["-w", str(ws.root), "process", "--json"])


def answered(ws) -> dict[str, dict]:
    with Ledger(ws.ledger_path) as ledger:
        rows = ledger.files()
    return {row["original_name"]: {"status": row["status"], "receipt": row["receipt_path"],
                                   "codes": [p["code"] for p in json.loads(row["problems_json"] or "[]")]}
            for row in rows}


@pytest.mark.slow
def test_pdf_encrypted_text_and_empty_files_are_answered_by_one_process_run(workspace, tmp_path):
    assert INCOMPLETE_GRACE_SECONDS == 300.0  # the default a clerk would otherwise wait out
    (workspace.inbox / "扫描件.xlsx").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
    (workspace.inbox / "加密的月报表.xlsx").write_bytes(ENCRYPTED)
    (workspace.inbox / "记事本.xlsx").write_text("填报单位：罗源县\n报送月份：2026-10\n", encoding="utf-8")
    (workspace.inbox / "空的.xlsx").write_bytes(b"")

    result = run_process(workspace)

    assert result.exit_code == 0, result.output
    files = answered(workspace)
    assert files["扫描件.xlsx"]["codes"] == ["not-xlsx"]
    assert files["加密的月报表.xlsx"]["codes"] == ["encrypted"]
    assert files["记事本.xlsx"]["codes"] == ["not-xlsx"]
    assert files["空的.xlsx"]["codes"] == ["empty-file"]
    for name, row in files.items():
        assert row["status"] == "rejected" and (workspace.outbox / row["receipt"]).is_file(), name
    receipt = (workspace.outbox / files["加密的月报表.xlsx"]["receipt"]).read_text(encoding="utf-8")
    assert "取消打开密码后重新报送" in receipt
    assert "PDF" in (workspace.outbox / files["扫描件.xlsx"]["receipt"]).read_text(encoding="utf-8")
    assert list(workspace.inbox.iterdir()) == []


def test_only_a_zip_without_its_end_waits_and_is_listed_with_its_reason(workspace, tmp_path):
    data = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    (workspace.inbox / "复制中.xlsx").write_bytes(data[: len(data) // 2])
    (workspace.inbox / "文本.xlsx").write_text("不是工作簿", encoding="utf-8")

    result = run_process(workspace)

    assert result.exit_code == 1, result.output
    lines = json.loads(result.stdout)
    waiting = {line["file"]: line["reason"] for line in lines if line["status"] == "waiting"}
    assert list(waiting) == ["复制中.xlsx"] and "仍在复制中" in waiting["复制中.xlsx"]
    assert [line["file"] for line in lines if line["status"] == "rejected"] == ["文本.xlsx"]
    status = CliRunner().invoke(main, ["-w", str(workspace.root), "status", "--month", "2026-10", "--json"])
    assert [w["file"] for w in json.loads(status.stdout)["inbox"]] == ["复制中.xlsx"]


def test_the_watcher_hands_over_non_zip_content_without_the_grace(tmp_path):
    now = [0.0]
    tracker = StabilityTracker(1.0, clock=lambda: now[0], incomplete_grace_seconds=300)
    pdf, locked, truncated = tmp_path / "扫描件.xlsx", tmp_path / "加密.xlsx", tmp_path / "复制中.xlsx"
    pdf.write_bytes(b"%PDF-1.7\n%%EOF\n")
    locked.write_bytes(ENCRYPTED)
    data = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    for path in (pdf, locked, truncated):
        tracker.observe(path)
    now[0] += 1.1
    assert sorted(tracker.ready()) == sorted([pdf, locked])
    now[0] += 300
    assert truncated in tracker.ready()  # a broken zip is answered in the end, as before


def test_a_dot_name_gets_a_receipt_while_lock_and_system_files_are_left_alone(workspace, tmp_path):
    form = filled_form(tmp_path / "月报表.xlsx")
    (workspace.inbox / ".罗源县.xlsx").write_bytes(form.read_bytes())
    for junk in ("~$月报表.xlsx", ".~lock.月报表.xlsx#", "._月报表.xlsx", ".DS_Store", ".tmp-abc.xlsx"):
        (workspace.inbox / junk).write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    (workspace.inbox / ".snapshot").mkdir()
    (workspace.inbox / ".snapshot" / "旧的.xlsx").write_bytes(form.read_bytes())

    result = run_process(workspace)

    assert result.exit_code == 0, result.output
    files = answered(workspace)
    assert list(files) == [".罗源县.xlsx"]
    assert (workspace.outbox / files[".罗源县.xlsx"]["receipt"]).is_file()
    left = sorted(p.name for p in workspace.inbox.iterdir())
    assert left == sorted([".snapshot", "~$月报表.xlsx", ".~lock.月报表.xlsx#", "._月报表.xlsx", ".DS_Store",
                           ".tmp-abc.xlsx"])
