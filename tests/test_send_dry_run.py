"""`processor send --dry-run` says what it wrote, never "sent", and warns when nobody would get the mail."""

from __future__ import annotations

import email
from email import policy

from click.testing import CliRunner

from deliver_helpers import add_output, make_workspace
from processor.cli import main

REPORT = "报告/2026-10/2026年10月示范点联系指导工作月度汇总报告.docx"


def send(ws, *args):
    return CliRunner().invoke(main, ["-w", str(ws.root), "send", *args])


def test_dry_run_twice_says_what_was_written_then_that_nothing_is_new(tmp_path):
    ws = make_workspace(tmp_path / "ws", port=None)
    add_output(ws, REPORT, "monthly_report", "2026-10", b"PK\x03\x04 report" * 20)

    first = send(ws, "--dry-run")
    assert first.exit_code == 0, first.output
    assert "已生成 1 封邮件（未发送，演练模式）" in first.stdout
    assert "警告" not in first.output

    second = send(ws, "--dry-run")
    assert second.exit_code == 0, second.output
    assert "都已发送过" not in second.output and "已发送" not in second.output
    assert "没有新的或有更新的报告，未生成新的邮件（未发送，演练模式）" in second.stdout


def test_dry_run_without_recipients_warns_and_the_mail_still_reads_sensibly(tmp_path):
    ws = make_workspace(tmp_path / "ws", port=None, recipients=())
    add_output(ws, REPORT, "monthly_report", "2026-10", b"PK\x03\x04 report" * 20)

    result = send(ws)

    assert result.exit_code == 0, result.output
    assert "已生成 1 封邮件（未发送，未配置邮件服务器）" in result.stdout
    assert "警告：" in result.stderr and "recipients" in result.stderr
    [eml] = (ws.outbox / "邮件").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "undisclosed-recipients:;"
    log = (ws.root / "logs" / "processor.log").read_text(encoding="utf-8")
    assert "未配置收件人" in log
