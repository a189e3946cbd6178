"""Waiting for mail with IMAP IDLE: news the server gives at the edges of an IDLE is not lost.

A server may send what happened to the folder since the last command (``* 4 EXISTS``) before its ``+``
answer to IDLE, or while the IDLE is being ended.  Dovecot does either now and then, depending on when
the message lands; here a scripted server on 127.0.0.1 says it every time, so the order is played
exactly, not by luck.
"""

from __future__ import annotations

import imaplib
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from processor.intake.mailbox import Mailbox, MailboxError

GREETING = b"* OK scripted IMAP ready\r\n"


def _server(idle_opening: bytes, idle_closing: bytes):
    class Session(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(GREETING)
            idle_tag = b""
            while line := self.rfile.readline():
                tag, _, command = line.strip().partition(b" ")
                if tag.upper() == b"DONE":
                    self.wfile.write(idle_closing + idle_tag + b" OK Idle completed.\r\n")
                elif command.upper() == b"CAPABILITY":
                    self.wfile.write(b"* CAPABILITY IMAP4rev1 IDLE\r\n" + tag + b" OK done\r\n")
                elif command.upper() == b"IDLE":
                    idle_tag = tag
                    self.wfile.write(idle_opening.replace(b"TAG", tag))
                else:
                    self.wfile.write(tag + b" OK done\r\n")

    return socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)


@contextmanager
def scripted_mailbox(idle_opening: bytes, idle_closing: bytes = b"") -> Iterator[Mailbox]:
    server = _server(idle_opening, idle_closing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mailbox = Mailbox.__new__(Mailbox)  # the session only: no workspace, no login
    mailbox.client = imaplib.IMAP4("127.0.0.1", server.server_address[1], timeout=30)
    try:
        yield mailbox
    finally:
        mailbox.client.shutdown()
        server.shutdown()
        server.server_close()


def test_a_new_message_announced_before_the_idle_is_accepted_ends_the_wait():
    with scripted_mailbox(b"* 4 EXISTS\r\n* 1 RECENT\r\n+ idling\r\n") as mailbox:
        assert mailbox.idle(3600) is True


def test_a_new_message_announced_while_the_idle_ends_is_news():
    with scripted_mailbox(b"+ idling\r\n", idle_closing=b"* 5 EXISTS\r\n") as mailbox:
        assert mailbox.idle(0.05) is True


def test_an_idle_with_nothing_new_says_so_and_the_session_goes_on():
    with scripted_mailbox(b"+ idling\r\n") as mailbox:
        assert mailbox.idle(0.05) is False
        assert mailbox.client.noop()[0] == "OK"


def test_a_server_refusing_idle_is_named():
    with scripted_mailbox(b"TAG NO IDLE not allowed\r\n") as mailbox:
        with pytest.raises(MailboxError, match="不接受 IDLE"):
            mailbox.idle(1)
