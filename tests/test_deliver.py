"""Delivery by email, against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import email
import json
import logging
import os
import re
import subprocess
import sys
import urllib.parse
from email import policy
from email.header import decode_header, make_header

import pytest

from processor.common.config import ConfigError, load_workspace
from processor.consolidate.mail_summary import ledger_summary
from processor.deliver.mail import pending_outputs, send_pending
from processor.deliver.message import build_message, month_summary
from processor.record.ledger import Ledger
from deliver_helpers import (PASSWORD, PASSWORD_ENV, USER, add_output, attachments, deliveries, drip_greeting,
                             free_port, hang_up, make_workspace, raw_server, self_signed_cert, smtp_server)

T0 = dt.datetime(2026, 11, 5, 22, 30).astimezone()
SUBJECT = "企业组示范点联系指导工作报告（2026年10月）"
REPORT = "报告/2026-10/2026年10月示范点联系指导工作月度汇总报告.docx"
DATA = "汇总数据/2026-10/2026年10月汇总数据.xlsx"
DOSSIER = "档案/示范点档案-某某公司.docx"


def _outputs(ws):
    add_output(ws, REPORT, "monthly_report", "2026-10", b"PK\x03\x04 report bytes \x00\xff" * 50)
    add_output(ws, DATA, "summary_data", "2026-10", os.urandom(3000))
    add_output(ws, DOSSIER, "site_dossier", "2026-10", b"not mailed")  # kind not in smtp.reports


def _outbox_bytes(ws, relative):
    return (ws.outbox / relative).read_bytes()


def test_reports_arrive_once_with_their_attachments_and_chinese_names(tmp_path):
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port)
        _outputs(ws)
        result = send_pending(ws, now=T0)
        assert sorted(result.sent) == sorted([REPORT, DATA]) and not result.queued
        assert len(inbox.messages) == 1
        envelope, message = inbox.messages[0]
        assert sorted(envelope.rcpt_tos) == ["leader@example.gov.cn", "qyz@example.gov.cn"]
        assert message["Subject"] == SUBJECT
        got = attachments(message)
        assert got == {"2026年10月示范点联系指导工作月度汇总报告.docx": _outbox_bytes(ws, REPORT),
                       "2026年10月汇总数据.xlsx": _outbox_bytes(ws, DATA)}
        body = message.get_body(("plain",)).get_content()
        assert "2026年10月" in body and "2026年10月汇总数据.xlsx" in body

        # A second send finds nothing new and contacts nobody.
        again = send_pending(ws, now=T0 + dt.timedelta(days=1))
        assert again.sent == [] and again.queued == [] and again.dry_run_files == []
        assert len(inbox.messages) == 1
    rows = deliveries(ws)
    assert {(r["output_path"], r["status"], r["attempts"]) for r in rows} == {(REPORT, "sent", 1), (DATA, "sent", 1)}


def test_chinese_names_decode_in_python_and_as_common_clients_read_them(tmp_path):
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port)
        _outputs(ws)
        send_pending(ws, now=T0)
        envelope, _ = inbox.messages[0]
    raw = envelope.original_content.decode("ascii")  # all headers are 7-bit: nothing raw UTF-8 on the wire
    # Subject: RFC 2047 encoded words, decodable by the classic API too.
    subject_line = re.search(r"^Subject: (.*?)\r?\n(?![ \t])", raw, re.M | re.S).group(1)
    assert str(make_header(decode_header(subject_line))) == SUBJECT
    # Attachments: a single unfolded RFC 2231 filename*= (no *0*/*1* continuations) ...
    names = [urllib.parse.unquote(v) for v in re.findall(r"filename\*=utf-8''([^;\s]+)", raw)]
    assert sorted(names) == sorted(["2026年10月示范点联系指导工作月度汇总报告.docx", "2026年10月汇总数据.xlsx"])
    assert "filename*0" not in raw
    # ... and an RFC 2047 name= on Content-Type, which older Outlook/Foxmail read.
    encoded = re.findall(r'name="(=\?utf-8\?b\?[^"]+\?=)"', raw)
    assert sorted(str(make_header(decode_header(v))) for v in encoded) == sorted(names)
    # The legacy (compat32) parser gets the same names.
    legacy = email.message_from_string(raw)
    assert sorted(p.get_filename() for p in legacy.walk() if p.get_filename()) == sorted(names)


def test_attachment_names_carry_the_month_and_are_never_two_alike(tmp_path):
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port)
        add_output(ws, "催报名单/2026-09/催报名单.docx", "reminder_list", "2026-09", b"september")
        add_output(ws, "催报名单/2026-10/催报名单.docx", "reminder_list", "2026-10", b"october")
        add_output(ws, "分组情况一览表/一览表.xlsx", "assignment_table", "2026", b"year")
        add_output(ws, "x/2026-10/汇总数据.xlsx", "summary_data", "2026-10", b"a")
        add_output(ws, "y/2026-10/汇总数据.xlsx", "summary_data", "2026-10", b"b")
        send_pending(ws, now=T0)
        _, message = inbox.messages[0]
    assert attachments(message) == {"2026年9月催报名单.docx": b"september", "2026年10月催报名单.docx": b"october",
                                    "一览表.xlsx": b"year", "2026年10月汇总数据.xlsx": b"a",
                                    "2026年10月汇总数据（2）.xlsx": b"b"}
    assert message["Subject"] == SUBJECT  # the latest month


def test_changed_report_is_sent_again_as_update_and_unchanged_one_is_not(tmp_path):
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port)
        _outputs(ws)
        send_pending(ws, now=T0)
        add_output(ws, REPORT, "monthly_report", "2026-10", b"a rebuilt report", version=2)
        result = send_pending(ws, now=T0 + dt.timedelta(hours=1))
        assert result.sent == [REPORT]
        assert len(inbox.messages) == 2
        _, message = inbox.messages[1]
        assert message["Subject"] == SUBJECT + "（更新）"
        assert attachments(message) == {"2026年10月示范点联系指导工作月度汇总报告.docx": b"a rebuilt report"}


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_encrypted_connection_with_login_password_from_environment(tmp_path, monkeypatch, security):
    certs = self_signed_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certs[0]))  # trust the test certificate, verification stays on
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with smtp_server(security=security, certs=certs, auth=True) as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port, security=security, user=USER)
        _outputs(ws)
        result = send_pending(ws, now=T0)
        assert sorted(result.sent) == sorted([REPORT, DATA])
        assert len(inbox.messages) == 1 and inbox.messages[0][1]["Subject"] == SUBJECT

        # A wrong password is a failed attempt, queued for retry, with a readable reason.
        monkeypatch.setenv(PASSWORD_ENV, "wrong")
        add_output(ws, REPORT, "monthly_report", "2026-10", b"version two", version=2)
        failed = send_pending(ws, now=T0 + dt.timedelta(hours=1))
        assert failed.queued == [REPORT] and "用户名或密码" in failed.error
        assert len(inbox.messages) == 1


def test_untrusted_certificate_is_refused_not_ignored(tmp_path, monkeypatch):
    certs = self_signed_cert(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with smtp_server(security="ssl", certs=certs) as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port, security="ssl")
        _outputs(ws)
        result = send_pending(ws, now=T0)
        assert result.sent == [] and len(result.queued) == 2 and "加密连接" in result.error
        assert inbox.messages == []


@pytest.mark.slow
def test_server_down_queues_then_delivers_exactly_once_after_restart(tmp_path):
    port = free_port()  # nothing listens here yet
    ws = make_workspace(tmp_path / "ws", port=port)
    _outputs(ws)
    result = send_pending(ws, now=T0)
    assert result.sent == [] and sorted(result.queued) == sorted([REPORT, DATA])
    assert "连接被拒绝" in result.error
    for row in deliveries(ws):
        assert row["status"] == "pending" and row["attempts"] == 1
        assert dt.datetime.fromisoformat(row["next_attempt_at"]) > T0

    with smtp_server(port) as (inbox, _):
        # Before the back-off delay has passed nothing is tried, even though the server is back.
        early = send_pending(ws, now=T0 + dt.timedelta(minutes=1))
        assert early.sent == [] and len(early.queued) == 2 and inbox.messages == []
        assert all(r["attempts"] == 1 for r in deliveries(ws))

        # A fresh process (new ledger connection) after the delay delivers once.
        late = T0 + dt.timedelta(minutes=6)
        code = subprocess.run([sys.executable, "-c",
                               "import datetime as dt, sys; from processor.common.config import load_workspace; "
                               "from processor.deliver.mail import send_pending; "
                               f"r = send_pending(load_workspace(sys.argv[1]), now=dt.datetime.fromisoformat('{late.isoformat()}')); "
                               "sys.exit(0 if len(r.sent) == 2 else 1)", str(ws.root)], timeout=60).returncode
        assert code == 0
        assert len(inbox.messages) == 1
        assert {r["status"] for r in deliveries(ws)} == {"sent"}
        assert all(r["attempts"] == 2 for r in deliveries(ws))

        # The CLI's `send` afterwards sends nothing.
        run = subprocess.run([sys.executable, "-m", "processor", "--workspace", str(ws.root), "send"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert "没有需要发送" in run.stdout
        assert len(inbox.messages) == 1


def test_two_sends_at_once_deliver_each_report_once(tmp_path):
    import threading

    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port)
        _outputs(ws)
        results = []
        threads = [threading.Thread(target=lambda: results.append(send_pending(load_workspace(ws.root), now=T0)))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(inbox.messages) == 1
    assert sorted(p for r in results for p in r.sent) == sorted([REPORT, DATA])


def test_backoff_doubles_and_gives_up_after_max_attempts(tmp_path):
    ws = make_workspace(tmp_path / "ws", port=free_port(), max_attempts=3)
    add_output(ws, REPORT, "monthly_report", "2026-10", b"report")
    now, delays = T0, []
    for _ in range(3):
        result = send_pending(ws, now=now)
        row = deliveries(ws)[0]
        if row["status"] == "pending":
            delays.append(dt.datetime.fromisoformat(row["next_attempt_at"]) - now)
            now = dt.datetime.fromisoformat(row["next_attempt_at"])
    assert delays == [dt.timedelta(minutes=5), dt.timedelta(minutes=10)]
    assert result.failed == [REPORT] and row["status"] == "failed" and row["attempts"] == 3
    # Given up: the nightly run no longer tries; an operator's explicit send does.
    with Ledger(ws.ledger_path) as ledger:
        assert pending_outputs(ledger, ws) == []
    with smtp_server(ws.smtp.port) as (inbox, _):
        assert send_pending(ws, now=now + dt.timedelta(days=1)).sent == []
        assert send_pending(ws, now=now + dt.timedelta(days=1), ignore_backoff=True).sent == [REPORT]
        assert len(inbox.messages) == 1


def test_dry_run_writes_parseable_eml_and_real_send_still_happens_later(tmp_path):
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port)
        _outputs(ws)
        result = send_pending(ws, dry_run=True, now=T0)
        assert inbox.messages == [] and result.sent == []
        [eml] = result.dry_run_files
        assert eml.parent == ws.outbox / "邮件" and eml.suffix == ".eml"
        assert not [p for p in eml.parent.iterdir() if p.name.startswith(".tmp-")]
        message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert message["Subject"] == SUBJECT
        assert attachments(message)["2026年10月汇总数据.xlsx"] == _outbox_bytes(ws, DATA)
        assert {r["status"] for r in deliveries(ws)} == {"dry-run"}
        # A second dry run has nothing new to write.
        assert send_pending(ws, dry_run=True, now=T0).dry_run_files == []
        # A real send still delivers (a rehearsal is not a delivery).
        assert sorted(send_pending(ws, now=T0).sent) == sorted([REPORT, DATA])
        assert len(inbox.messages) == 1


def test_no_smtp_host_writes_eml_instead_of_sending(tmp_path):
    ws = make_workspace(tmp_path / "ws", port=None)
    _outputs(ws)
    result = send_pending(ws, now=T0)
    assert len(result.dry_run_files) == 1 and result.dry_run_files[0].is_file()
    assert send_pending(ws, now=T0).dry_run_files == []


def test_body_summarises_month_from_consolidation_manifest(tmp_path):
    ws = make_workspace(tmp_path / "ws", port=None)
    _outputs(ws)
    (ws.outbox / "manifest.json").write_text(json.dumps({"summary": {
        "month": "2026-10", "on_time": 5, "late": 2, "missing": ["甲县委组织部", "乙系统党委"],
        "findings": {"未达标": 3, "有风险": 4}}}, ensure_ascii=False), encoding="utf-8")
    with Ledger(ws.ledger_path) as ledger:
        rows = pending_outputs(ledger, ws)
        assert sorted(r["path"] for r in rows) == sorted([REPORT, DATA])
        message = build_message(ws, rows, month_summary(ws, ledger, "2026-10"))
    body = message.get_body(("plain",)).get_content()
    assert "按时报送 5 个单位" in body and "逾期报送 2 个单位" in body and "未报送 2 个单位" in body
    assert "甲县委组织部、乙系统党委" in body and "未达标 3 项" in body


def test_body_summary_falls_back_to_ledger_and_roster(workspace):
    from processor.validate.roster import workspace_roster

    units = workspace_roster(workspace).unit_names[:2]
    with Ledger(workspace.ledger_path) as ledger, ledger.atomic() as conn:
        for i, (unit, received) in enumerate(zip(units, ["2026-11-03T09:00:00+08:00", "2026-11-20T09:00:00+08:00"], strict=True)):
            ledger.insert_file(conn, dict(sha256=f"{i}" * 64, original_name=f"{unit}.xlsx", inbox_path=f"{unit}.xlsx",
                                          size=1, received_at=received, status="accepted", unit=unit,
                                          month="2026-10", archive_path=f"x/{i}"))
    with Ledger(workspace.ledger_path) as ledger:
        text = month_summary(workspace, ledger, "2026-10", ledger_summary)
    total = len(workspace_roster(workspace).units)
    assert "2026年10月报送情况" in text
    assert "按时报送 1 个单位" in text and "逾期报送 1 个" in text and f"未报送 {total - 2} 个" in text
    assert "对照《意见》各项要求" in text


def test_config_that_cannot_send_is_refused_with_the_key_named(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path / "a", port=free_port(), recipients=())
    with pytest.raises(ConfigError, match="smtp.recipients"):
        send_pending(ws)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    ws = make_workspace(tmp_path / "b", port=free_port(), user=USER)
    with pytest.raises(ConfigError, match=PASSWORD_ENV):
        send_pending(ws)
    assert load_workspace(ws.root).smtp.password == ""
    monkeypatch.setenv(PASSWORD_ENV, "密码")
    with pytest.raises(ConfigError, match="非 ASCII"):
        send_pending(ws)


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.timeout(60)  # before the total deadline, this send hung for the better part of an hour
def test_a_server_that_drips_its_greeting_is_given_up_at_the_deadline_and_queued(tmp_path):
    from click.testing import CliRunner

    from processor.cli import main

    with raw_server(drip_greeting) as port:
        ws = make_workspace(tmp_path / "ws", port=port, extra="deadline_seconds = 2\n")
        add_output(ws, REPORT, "monthly_report", "2026-10", b"report")
        started = dt.datetime.now().astimezone()
        run = CliRunner().invoke(main, ["--workspace", str(ws.root), "send"])
    assert run.exit_code == 1, run.output
    assert "Traceback" not in run.output
    said = run.output.replace("\n", "")  # the console wraps long lines
    assert "发送失败：邮件服务器" in said and "已排队" in said
    [row] = deliveries(ws)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert dt.datetime.fromisoformat(row["next_attempt_at"]) > started  # retried later, with back-off
    assert _has_chinese(row["last_error"])


def test_smtp_failures_read_in_chinese_and_keep_the_original_words_in_the_ledger(tmp_path):
    with raw_server(hang_up) as port:
        ws = make_workspace(tmp_path / "ws", port=port)
        add_output(ws, REPORT, "monthly_report", "2026-10", b"report")
        result = send_pending(ws, now=T0)
    assert result.queued == [REPORT]
    assert result.error == "邮件服务器意外断开了连接"
    [row] = deliveries(ws)
    assert row["last_error"].startswith(result.error) and "Connection unexpectedly closed" in row["last_error"]


@pytest.mark.slow
def test_a_report_rebuilt_only_for_a_later_as_of_date_is_not_mailed_again(tmp_path):
    """Each night's consolidation prints that night's as-of date, so the month's report is rebuilt
    every night; the 企业组 gets it again only when the submissions it is built from change."""
    from ledger_helpers import D, LedgerBuilder, site

    from processor.consolidate.run import consolidate

    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port)
        lb = LedgerBuilder(ws.ledger_path)
        lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公")], received=D(2026, 11, 3))

        def night(day: dt.date) -> set[str]:
            written = consolidate(ws, month="2026-10", today=day).written
            send_pending(ws, now=dt.datetime.combine(day, dt.time(22, 30)).astimezone())
            return {p.relative_to(ws.outbox).as_posix() for p in written}

        assert any("月度汇总报告" in path for path in night(D(2026, 11, 26)))
        assert len(inbox.messages) == 1
        assert any("月度汇总报告" in path for path in night(D(2026, 11, 27)))  # rebuilt: a new as-of date
        assert len(inbox.messages) == 1  # ... but nothing new to tell
        lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械", staff="林少华")], received=D(2026, 11, 28))
        night(D(2026, 11, 28))
        assert len(inbox.messages) == 2
        _, message = inbox.messages[1]
        assert "（更新）" in message["Subject"]
        lb.ledger.close()


def test_a_config_naming_reports_in_chinese_still_mails_them_and_says_the_new_names(tmp_path, caplog):
    old_line = 'reports = ["月度汇总报告", "半年工作报告", "分组情况一览表", "催报名单", "汇总数据"]\n'
    ws = make_workspace(tmp_path / "ws", port=None, extra=old_line)  # in [smtp], as configs said before
    with caplog.at_level(logging.WARNING, logger="processor.common.config"):
        reports = ws.smtp.reports
    assert reports == ("monthly_report", "half_year_report", "assignment_table", "reminder_list", "summary_data")
    assert any("smtp.reports" in r.getMessage() and '"monthly_report"' in r.getMessage() for r in caplog.records)
    add_output(ws, REPORT, "monthly_report", "2026-10", b"report")
    with Ledger(ws.ledger_path) as ledger:
        assert [r["path"] for r in pending_outputs(ledger, ws)] == [REPORT]


def test_one_clock_for_the_whole_mail_the_nights_own(tmp_path, monkeypatch):
    """serve's night passes its own time to the send: the mail's Date, the month of its subject (no
    report names one) and the summary counted from the ledger are all of that time, however the clock
    (here PROCESSOR_NOW, set to a later day) reads meanwhile."""
    from email.utils import parsedate_to_datetime

    from processor.validate.roster import workspace_roster

    monkeypatch.setenv("PROCESSOR_NOW", "2026-12-20T02:00:00+00:00")
    night = dt.datetime.fromisoformat("2026-11-03T21:30:00+08:00")  # before October's deadline (5 November)
    ws = make_workspace(tmp_path / "ws", port=None)
    unit = workspace_roster(ws).unit_names[0]
    with Ledger(ws.ledger_path) as ledger, ledger.atomic() as conn:
        ledger.insert_file(conn, dict(sha256="0" * 64, original_name=f"{unit}.xlsx", inbox_path=f"{unit}.xlsx", size=1,
                                      received_at="2026-11-02T09:00:00+08:00", status="accepted", unit=unit,
                                      month="2026-10", archive_path="x/0"))
    add_output(ws, "年度工作总结/2026年度工作总结.docx", "year_report", "2026", b"PK year")
    [eml] = send_pending(ws, dry_run=True, now=night, summary_fallback=ledger_summary).dry_run_files
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert parsedate_to_datetime(message["Date"]) == night and message["Date"].endswith("+0800")
    assert message["Subject"].endswith("（2026年11月）")
    body = message.get_body(("plain",)).get_content()
    assert "2026年10月报送情况：按时报送 1 个单位" in body and "未报送 0 个" in body, body
    assert eml.name.startswith("20261103-213000")


def test_a_rehearsal_at_a_fixed_processor_now_writes_the_same_mail(tmp_path):
    """Two rehearsals at the same PROCESSOR_NOW write the same mail (but for its Message-ID and MIME
    boundaries, which are unique by design)."""
    mails = []
    for name in ("first", "second"):
        ws = make_workspace(tmp_path / name, port=None)
        add_output(ws, REPORT, "monthly_report", "2026-10", b"PK\x03\x04 report")
        add_output(ws, DATA, "summary_data", "2026-10", b"PK\x03\x04 data")
        env = {**os.environ, "PROCESSOR_NOW": "2026-11-06T01:30:00+00:00"}
        run = subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "send", "--dry-run"],
                             capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr
        [eml] = (ws.outbox / "邮件").glob("*.eml")
        raw = re.sub(rb"Message-ID: <[^>]+>", b"", eml.read_bytes())
        mails.append((eml.name, re.sub(rb"=+_?[0-9]+==", b"BOUNDARY", raw)))
    assert mails[0] == mails[1]
    assert b"Date: Fri, 06 Nov 2026 09:30:00 +0800" in mails[0][1]
