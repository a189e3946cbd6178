"""A real SMTP server on 127.0.0.1 (aiosmtpd) and workspaces whose outbox holds reports."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import hashlib
import itertools
import json
import shutil
import socket
import ssl
import subprocess
import threading
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from processor.common.config import DEFAULT_CONFIG_TEXT, load_workspace
from processor.record.ledger import Ledger, now_iso
from processor.validate.roster import sample_roster, write_roster

HOST = "127.0.0.1"
USER, PASSWORD = "qyz@example.gov.cn", "s3cret-Pa55"
PASSWORD_ENV = "PROCESSOR_SMTP_PASSWORD"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every accepted message (envelope + parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[object, email.message.EmailMessage]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append((envelope, parsed))
        self.arrived.set()
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
        and auth_data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@contextlib.contextmanager
def smtp_server(port: int | None = None, *, security: str = "none", certs: tuple[Path, Path] | None = None,
                auth: bool = False):
    """Run a real SMTP server on 127.0.0.1 for the duration of the block; yields (Inbox, port)."""
    handler = Inbox()
    port = port or free_port()
    kwargs: dict = {}
    if security in ("ssl", "starttls"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certs[0]), str(certs[1]))
        if security == "ssl":
            kwargs["ssl_context"] = context
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    if auth:
        # Implicit TLS is invisible to aiosmtpd's session, so only STARTTLS can demand it before AUTH.
        kwargs.update(authenticator=_authenticator, auth_require_tls=security == "starttls",
                      auth_exclude_mechanism=["LOGIN"])
    controller = Controller(handler, hostname=HOST, port=port, **kwargs)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (IP SAN), made with the openssl CLI."""
    if not shutil.which("openssl"):
        import pytest

        pytest.skip("openssl 命令不可用，无法生成测试证书")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def make_workspace(root: Path, *, port: int | None, security: str = "none", user: str = "",
                   recipients=("qyz@example.gov.cn", "leader@example.gov.cn"), max_attempts: int = 8,
                   extra: str = ""):
    """A workspace with the default config but [smtp] pointed at 127.0.0.1:port (or no host)."""
    root.mkdir(parents=True, exist_ok=True)
    smtp = (f'\n[smtp]\nhost = "{HOST if port else ""}"\nport = {port or 25}\nsecurity = "{security}"\n'
            f'user = "{user}"\nsender = "processor@example.gov.cn"\n'
            f'recipients = {json.dumps(list(recipients), ensure_ascii=False)}\n'
            f'max_attempts = {max_attempts}\n')
    config = DEFAULT_CONFIG_TEXT.split("[smtp]")[0] + smtp + extra
    # forms are dropped in the inbox root here, their 填报单位 saying whose they are
    config = config.replace("require_unit_folder = true", "require_unit_folder = false")
    (root / "config.toml").write_text(config, encoding="utf-8")
    if not (root / "roster.xlsx").exists():
        write_roster(sample_roster(), root / "roster.xlsx")
    ws = load_workspace(root)
    ws.ensure_folders()
    Ledger.create(ws.ledger_path).close()
    return ws


def add_output(ws, relative: str, kind: str, period: str, data: bytes, *, version: int = 1) -> str:
    """Put a report file into the outbox and record it in ``outputs`` (as consolidation does)."""
    target = ws.outbox / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    with Ledger(ws.ledger_path) as ledger, ledger.atomic() as conn:
        conn.execute("INSERT OR REPLACE INTO outputs (path, kind, period, sha256, inputs_hash, version, built_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (relative, kind, period, sha, "inputs-" + sha[:8], version,
                                                     now_iso(dt.datetime(2026, 11, 5, 22, 30).astimezone())))
    return relative


def attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def deliveries(ws) -> list[dict]:
    with Ledger(ws.ledger_path) as ledger:
        return [dict(r) for r in ledger.query("SELECT * FROM deliveries ORDER BY id")]


@contextlib.contextmanager
def raw_server(talk):
    """A bare TCP server on 127.0.0.1 misbehaving as no SMTP library would: ``talk(connection, stop)``
    runs for each client on its own thread.  Yields the port."""
    listener = socket.create_server((HOST, 0))
    stop = threading.Event()

    def one(connection):
        with connection:
            talk(connection, stop)

    def accept():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener was closed: the block is over
                return
            threading.Thread(target=one, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (closing alone does not, on Linux)
        listener.close()
        thread.join(timeout=10)


def drip_greeting(connection, stop):
    """A greeting that never ends: one byte every 0.2 s, never the end of a line."""
    for byte in itertools.cycle(b"220-"):
        if stop.wait(0.2):
            return
        try:
            connection.sendall(bytes([byte]))
        except OSError:  # the client hung up
            return


def hang_up(connection, stop):
    """Accept the connection and close it without a word."""
