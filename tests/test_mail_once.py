"""Report mail exactly once as far as SMTP allows: one Message-ID per message for every retry and
after a crash between the server's acceptance and the record; a new recipient gets the current
reports alone; a mail waiting for its retry says why."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from deliver_helpers import add_output, attachments, deliveries, free_port, make_workspace, smtp_server
from processor.common.faults import CRASH_ENV
from processor.deliver.mail import send_pending
from processor.deliver.remind import send_reminders

T0 = dt.datetime(2026, 11, 5, 22, 30).astimezone()
REPORT = "报告/2026-10/2026年10月示范点联系指导工作月度汇总报告.docx"
DATA = "汇总数据/2026-10/2026年10月汇总数据.xlsx"
OFFICE = ("qyz@example.gov.cn", "leader@example.gov.cn")


def _outputs(ws):
    add_output(ws, REPORT, "monthly_report", "2026-10", b"PK\x03\x04 report " * 40)
    add_output(ws, DATA, "summary_data", "2026-10", os.urandom(2000))


def _send_in_process(ws, *, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    code = ("import datetime as dt, sys; from processor.common.config import load_workspace; "
            "from processor.deliver.mail import send_pending; "
            f"r = send_pending(load_workspace(sys.argv[1]), now=dt.datetime.fromisoformat('{T0.isoformat()}')); "
            "print(len(r.sent))")
    return subprocess.run([sys.executable, "-c", code, str(ws.root)], capture_output=True, text=True, env=env,
                          timeout=120)


def test_a_send_killed_after_the_server_took_the_mail_resends_it_with_the_same_message_id(tmp_path):
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port, recipients=OFFICE)
        _outputs(ws)
        killed = _send_in_process(ws, crash_at="send-after-smtp")
        assert killed.returncode == -9, killed.stderr  # killed at the fault point: after the 250, before the record
        assert len(inbox.messages) == 1
        assert {r["status"] for r in deliveries(ws)} == {"pending"}  # the ledger never heard of the 250

        again = _send_in_process(ws)
        assert again.returncode == 0 and again.stdout.strip() == "2", again.stderr
        assert len(inbox.messages) == 2  # SMTP cannot tell: the mail is sent again ...
        first, second = (message for _, message in inbox.messages)
        # ... as the same message, which the recipients' mail programs show once
        assert second["Message-ID"] == first["Message-ID"]
        assert attachments(second) == attachments(first)
        rows = deliveries(ws)
        assert {r["status"] for r in rows} == {"sent"} and {r["message_id"] for r in rows} == {first["Message-ID"]}

        assert _send_in_process(ws).stdout.strip() == "0"  # and then nothing more
        assert len(inbox.messages) == 2


def test_a_queued_mail_keeps_the_message_id_it_was_given_when_first_queued(tmp_path):
    port = free_port()  # nothing listens yet
    ws = make_workspace(tmp_path / "ws", port=port, recipients=OFFICE)
    _outputs(ws)
    assert send_pending(ws, now=T0).queued
    [queued_id] = {r["message_id"] for r in deliveries(ws)}
    assert queued_id
    assert send_pending(ws, now=T0 + dt.timedelta(minutes=6)).queued  # still down: retried, still queued
    assert {r["message_id"] for r in deliveries(ws)} == {queued_id}
    with smtp_server(port) as (inbox, _):
        assert sorted(send_pending(ws, now=T0 + dt.timedelta(hours=1)).sent) == sorted([REPORT, DATA])
    [(_, message)] = inbox.messages
    assert message["Message-ID"] == queued_id


def test_a_recipient_added_to_the_config_gets_the_current_reports_and_no_one_else_gets_anything(tmp_path):
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port, recipients=OFFICE)
        _outputs(ws)
        assert len(send_pending(ws, now=T0).sent) == 2 and len(inbox.messages) == 1

        newcomer = "Deputy@Example.gov.cn"
        ws = make_workspace(tmp_path / "ws", port=port, recipients=(*OFFICE, newcomer))
        result = send_pending(ws, now=T0 + dt.timedelta(days=1))
        assert sorted(result.sent) == sorted([REPORT, DATA]) and result.sent_to == [newcomer]
        assert len(inbox.messages) == 2
        envelope, message = inbox.messages[1]
        assert envelope.rcpt_tos == [newcomer] and message["To"] == newcomer
        assert set(attachments(message)) == set(attachments(inbox.messages[0][1]))

        # later nights send nothing to anyone; a rebuilt report goes to all three in one message
        assert send_pending(ws, now=T0 + dt.timedelta(days=2)).sent == []
        add_output(ws, REPORT, "monthly_report", "2026-10", b"rebuilt", version=2)
        assert send_pending(ws, now=T0 + dt.timedelta(days=3)).sent == [REPORT]
        assert len(inbox.messages) == 3
        assert sorted(inbox.messages[2][0].rcpt_tos) == sorted([*OFFICE, newcomer])


def test_a_mail_waiting_for_its_retry_says_the_reason_not_unknown(tmp_path):
    ws = make_workspace(tmp_path / "ws", port=free_port(), recipients=OFFICE)
    _outputs(ws)
    first = send_pending(ws, now=T0)
    assert "连接被拒绝" in first.error
    waiting = send_pending(ws, now=T0 + dt.timedelta(minutes=1))  # before the back-off has passed
    assert sorted(waiting.queued) == sorted([REPORT, DATA])
    assert waiting.error and "连接被拒绝" in waiting.error and "重试" in waiting.error


def test_a_reminder_waiting_for_its_retry_says_the_reason_not_unknown(tmp_path):
    extra = "\n[remind]\nenabled = true\ndays_before = 2\nrepeat_days = 3\n"
    ws = make_workspace(tmp_path / "ws", port=free_port(), recipients=OFFICE, extra=extra)
    now = dt.datetime(2026, 11, 20, 9, 0).astimezone()
    first = send_reminders(ws, now=now)  # the server is down: every reminder waits
    assert first.queued and "连接被拒绝" in first.error
    waiting = send_reminders(ws, now=now + dt.timedelta(minutes=1))  # before the back-off has passed
    assert len(waiting.queued) == len(first.queued) and not waiting.sent
    assert waiting.error and "连接被拒绝" in waiting.error and "重试" in waiting.error


def test_a_reminder_killed_after_the_server_took_it_is_resent_with_the_same_message_id(tmp_path):
    extra = "\n[remind]\nenabled = true\ndays_before = 2\nrepeat_days = 3\n"
    now = dt.datetime(2026, 11, 20, 9, 0).astimezone()
    code = ("import datetime as dt, sys; from processor.common.config import load_workspace; "
            "from processor.deliver.remind import send_reminders; "
            f"r = send_reminders(load_workspace(sys.argv[1]), now=dt.datetime.fromisoformat('{now.isoformat()}')); "
            "print(len(r.sent))")
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port, recipients=OFFICE, extra=extra)
        env = {**{k: v for k, v in os.environ.items() if k != CRASH_ENV}, CRASH_ENV: "remind-after-smtp"}
        killed = subprocess.run([sys.executable, "-c", code, str(ws.root)], env=env, capture_output=True, timeout=120)
        assert killed.returncode == -9 and len(inbox.messages) == 1
        [(first_envelope, first)] = inbox.messages
        env.pop(CRASH_ENV)
        again = subprocess.run([sys.executable, "-c", code, str(ws.root)], env=env, capture_output=True, text=True,
                               timeout=120)
        assert again.returncode == 0, again.stderr
    resent = [m for e, m in inbox.messages[1:] if e.rcpt_tos == first_envelope.rcpt_tos]
    assert [m["Message-ID"] for m in resent] == [first["Message-ID"]]
    assert len(inbox.messages) == 1 + int(again.stdout.strip())  # every other unit once


def test_a_recipient_removed_while_a_mail_is_queued_is_not_mailed_and_nothing_stays_queued(tmp_path):
    from processor.deliver.mail import due_retries

    port = free_port()
    ws = make_workspace(tmp_path / "ws", port=port, recipients=OFFICE)
    _outputs(ws)
    assert send_pending(ws, now=T0).queued  # the server is down
    ws = make_workspace(tmp_path / "ws", port=port, recipients=OFFICE[:1])  # leader taken off the list
    later = T0 + dt.timedelta(hours=1)
    with smtp_server(port) as (inbox, _):
        assert sorted(send_pending(ws, now=later).sent) == sorted([REPORT, DATA])
        assert [envelope.rcpt_tos for envelope, _ in inbox.messages] == [[OFFICE[0]]]
        assert due_retries(ws, later + dt.timedelta(days=1)) == []
        assert send_pending(ws, now=later + dt.timedelta(days=1)).sent == []
    assert not [r for r in deliveries(ws) if r["status"] == "pending"]
