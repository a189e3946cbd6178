"""Shared by the mailbox tests: a workspace reading its own user on the session's Dovecot, and a
form mailed the way county clerks' clients send it."""

from __future__ import annotations

import contextlib
import threading
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from deliver_helpers import make_workspace, smtp_server
from imap_helpers import PASSWORD, PASSWORD_ENV, imap_config
from processor.common.config import load_workspace
from processor.deliver.replies import fetch_mail
from processor.record.ledger import Ledger

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
LUOYUAN = "dj350123@example.gov.cn"  # 罗源县 in the sample roster


@pytest.fixture
def mailbox(dovecot, tmp_path, monkeypatch):
    """A workspace reading its own mailbox user on the session's Dovecot, answering through aiosmtpd."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    user = dovecot.new_user()
    with smtp_server() as (replies, port):
        ws = make_workspace(tmp_path / "ws", port=port, extra=imap_config(dovecot, user))
        ws = load_workspace(ws.root)
        yield Box(dovecot, user, ws, replies)


class Box:
    def __init__(self, server, user, ws, replies):
        self.server, self.user, self.ws, self.replies = server, user, ws, replies

    def deliver(self, message) -> None:
        self.server.append(self.user, message)

    def fetch(self, **options):
        return fetch_mail(self.ws, **options)

    def answers(self) -> list[EmailMessage]:
        return [m for _, m in self.replies.messages]

    def ledger_rows(self, sql: str, params=()):
        with Ledger(self.ws.ledger_path) as ledger:
            return [dict(r) for r in ledger.query(sql, params)]


def form_mail(sender: str, forms: list[tuple[str, bytes]], *, subject: str = "罗源县10月份月报表",
              message_id: str | None = None) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = "baosong@example.gov.cn"
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="county.example.gov.cn")
    message.set_content("请查收本单位10月份月报表。")
    for name, data in forms:
        message.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename=name)
    return message


@contextlib.contextmanager
def serving(ws):
    """``serve`` running in a thread on ``ws`` (its nightly run an hour away), stopped and joined on leaving."""
    from processor.deliver.serve import serve

    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(ws,), kwargs={"stop_event": stop, "schedule_override": "3600"})
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not thread.is_alive(), "serve 未能停止"
