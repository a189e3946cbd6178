"""Exactly once across crashes: ``processor fetch`` killed (SIGKILL) at each named point, then run
again: every message's forms are in the ledger once, every message recorded once, every sender
answered once (a kill after the SMTP server took the answer sends it again under the same
Message-ID, which the clerk's mail program shows as one message)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deliver_helpers import make_workspace, smtp_server
from form_helpers import filled_form, scenario_form
from imap_helpers import PASSWORD, PASSWORD_ENV, imap_config
from processor.common.faults import CRASH_ENV, MAILBOX_POINTS, POINTS
from processor.record.ledger import Ledger
from mailbox_helpers import LUOYUAN, form_mail

pytestmark = pytest.mark.slow


def run_fetch(ws, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    env[PASSWORD_ENV] = PASSWORD
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "fetch"], env=env,
                          capture_output=True, text=True, timeout=600)


# every point of the intake, once per message's first form, and every point of the mailbox
@pytest.mark.parametrize("point", [*MAILBOX_POINTS, *POINTS, "after-commit:2"])
def test_kill_at_each_point_then_restart_takes_every_form_once_and_answers_once(dovecot, tmp_path, point):
    user = dovecot.new_user()
    with smtp_server() as (replies, port):
        ws = make_workspace(tmp_path / "ws", port=port, extra=imap_config(dovecot, user))
        october = filled_form(tmp_path / "十月.xlsx").read_bytes()
        september = scenario_form(tmp_path / "九月.xlsx", "罗源县", "2026-09").read_bytes()
        first = form_mail(LUOYUAN, [("十月.xlsx", october), ("九月.xlsx", september)])
        second = form_mail("stranger@example.com", [("十月.xlsx", october)], subject="报表")
        dovecot.append(user, first)
        dovecot.append(user, second)

        crashed = run_fetch(ws, point)
        assert crashed.returncode == -9, f"{point} 未被经过：{crashed.stdout}{crashed.stderr}"
        again = run_fetch(ws)
        assert again.returncode == 0, again.stdout + again.stderr

        with Ledger(ws.ledger_path) as ledger:
            files = [dict(r) for r in ledger.query("SELECT * FROM files ORDER BY id")]
            mails = [dict(r) for r in ledger.query("SELECT * FROM mail_messages ORDER BY id")]
            parts = [dict(r) for r in ledger.query("SELECT * FROM mail_parts WHERE kind = 'form'")]
        assert sorted((f["unit"], f["month"], f["status"]) for f in files) == \
            [("罗源县", "2026-09", "accepted"), ("罗源县", "2026-10", "accepted")]
        assert all(f["receipt_path"] and f["inbox_removed"] == 1 for f in files)
        assert [m["state"] for m in mails] == ["moved", "moved"]
        assert sorted(p["file_id"] for p in parts if p["file_id"]) == [f["id"] for f in files]
        assert dovecot.count(user) == 0 and dovecot.count(user, "已处理") == 2
        assert not any(p.is_file() for p in ws.inbox.rglob("*")), "no form left behind in the inbox"
        answered = {}
        for _, message in replies.messages:
            answered.setdefault(message["To"], set()).add(message["Message-ID"])
        assert answered.keys() == {LUOYUAN, "stranger@example.com"}
        assert all(len(ids) == 1 for ids in answered.values()), answered
        if point != "reply-after-smtp":
            assert len(replies.messages) == 2


def test_a_renumbered_folder_is_recognised_by_message_id_and_attachments(dovecot, tmp_path):
    """A kill before the move, then the server gives the folder a new UIDVALIDITY (every UID new): the
    message is recognised by its Message-ID and its attachments' hashes, not taken again."""
    user = dovecot.new_user()
    with smtp_server() as (replies, port):
        ws = make_workspace(tmp_path / "ws", port=port, extra=imap_config(dovecot, user))
        form = filled_form(tmp_path / "十月.xlsx").read_bytes()
        dovecot.append(user, form_mail(LUOYUAN, [("十月.xlsx", form)]))
        assert run_fetch(ws, "mail-reply-queued").returncode == -9
        with Ledger(ws.ledger_path) as ledger:
            [before] = ledger.query("SELECT uidvalidity, uid FROM mail_messages")
            before = tuple(before)

        dovecot.renumber(user)
        dovecot.append(user, form_mail(LUOYUAN, [("十月.xlsx", form)], subject="再发一次"))  # a new message

        again = run_fetch(ws)
        assert again.returncode == 0, again.stdout + again.stderr
        with Ledger(ws.ledger_path) as ledger:
            mails = [dict(r) for r in ledger.query("SELECT * FROM mail_messages ORDER BY id")]
            files = [dict(r) for r in ledger.query("SELECT status FROM files ORDER BY id")]
        assert len(mails) == 2, "the renumbered message is the same row, the new one a second"
        assert (mails[0]["uidvalidity"], mails[0]["uid"]) != before
        assert [f["status"] for f in files] == ["accepted", "duplicate"]
        assert sorted(m["Subject"] for _, m in replies.messages) == ["Re: 再发一次", "Re: 罗源县10月份月报表"]
        assert dovecot.count(user) == 0
