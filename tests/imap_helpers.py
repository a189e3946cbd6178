"""A real IMAP server for the mailbox tests: Dovecot from Debian, unprivileged, on 127.0.0.1.

One server per test session (:func:`dovecot`), with a temporary config: a static passdb (any user
name, one password), maildirs under a temporary folder, IMAPS and STARTTLS with a certificate of a
test CA made by openssl.  Each test gets its own mailbox user (:meth:`Dovecot.new_user`), so tests
never see each other's mail.  Messages are put in with IMAP APPEND, as a mail server delivers them.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import os
import pwd
import grp
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
PASSWORD = "imap-Pa55"
PASSWORD_ENV = "PROCESSOR_IMAP_PASSWORD"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
_users = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def make_ca_and_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca-key.pem", "ca.pem", "key.pem", "server.csr", "cert.pem"))
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(ca_key), "-out", str(ca),
        "-subj", "/CN=Test Mail CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-out", str(cert), "-extfile", str(ext))
    return ca, cert, key


@dataclass
class Dovecot:
    root: Path
    imap_port: int
    imaps_port: int
    ca: Path
    process: subprocess.Popen

    def new_user(self) -> str:
        return f"baosong{next(_users)}@example.gov.cn"

    def client(self, user: str) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.ca))
        client = imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=context, timeout=30)
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, message: bytes | object, folder: str = "INBOX") -> None:
        """Deliver a message into the user's folder (IMAP APPEND)."""
        data = message if isinstance(message, bytes) else message.as_bytes()
        with contextlib.closing(_Session(self, user)) as session:
            typ, said = session.client.append(_quoted(folder), None, None, data.replace(b"\r\n", b"\n")
                                              .replace(b"\n", b"\r\n"))
            assert typ == "OK", said

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        with contextlib.closing(_Session(self, user)) as session:
            typ, _ = session.client.select(_quoted(folder), readonly=True)
            if typ != "OK":
                return []
            _, data = session.client.uid("SEARCH", None, "ALL")
            return [int(u) for u in (data[0] or b"").split()]

    def count(self, user: str, folder: str = "INBOX") -> int:
        return len(self.uids(user, folder))

    def renumber(self, user: str, folder: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY, as a server does after its index is rebuilt: the maildir's
        uidlist and index are removed, so every message gets a new UID under a new UIDVALIDITY."""
        base = self.root / "mail" / user
        sub = base if folder == "INBOX" else base / f".{folder}"
        for name in ("dovecot-uidlist", "dovecot.index", "dovecot.index.cache", "dovecot.index.log"):
            with contextlib.suppress(FileNotFoundError):
                (sub / name).unlink()
        subprocess.run(["doveadm", "-c", str(self.root / "dovecot.conf"), "kick", user], capture_output=True)


class _Session:
    def __init__(self, server: Dovecot, user: str):
        self.client = server.client(user)

    def close(self):
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.client.logout()


def _quoted(name: str) -> str:
    from processor.intake.mailbox import imap_utf7

    return '"' + imap_utf7(name) + '"'


def _unprivileged() -> tuple[int, int, str, str] | None:
    """Run as: the current user, or ``nobody`` when the tests run as root (Dovecot's login processes
    refuse root)."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("nobody")
    return user.pw_uid, user.pw_gid, user.pw_name, grp.getgrgid(user.pw_gid).gr_name


def start_dovecot(root: Path) -> Dovecot:
    """Start Dovecot with a temporary config under ``root``; wait until it answers."""
    root.mkdir(parents=True, exist_ok=True)
    ca, cert, key = make_ca_and_cert(root)
    imap_port, imaps_port = _free_port(), _free_port()
    drop = _unprivileged()
    uid, gid = (drop[0], drop[1]) if drop else (os.getuid(), os.getgid())
    user = drop[2] if drop else pwd.getpwuid(uid).pw_name
    group = drop[3] if drop else grp.getgrgid(gid).gr_name
    config = root / "dovecot.conf"
    config.write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = processor-test-{imap_port}
protocols = imap
listen = {HOST}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
first_valid_gid = {gid}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""", encoding="utf-8")
    if drop:
        for path in [root, *root.rglob("*")]:
            os.chown(path, uid, gid)
        command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", DOVECOT, "-F", "-c", str(config)]
        os.chmod(root.parent, 0o711)  # the server must reach its folder
    else:
        command = [DOVECOT, "-F", "-c", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Dovecot(root, imap_port, imaps_port, ca, process)
    deadline = time.monotonic() + 60
    while True:  # a bound for a broken install, never a measurement
        if process.poll() is not None:
            raise RuntimeError(f"Dovecot 未能启动：{process.stderr.read().decode(errors='replace')}"
                               f"{(root / 'dovecot.log').read_text(errors='replace') if (root / 'dovecot.log').exists() else ''}")
        try:
            server.client("probe@example.gov.cn").logout()
            return server
        except (OSError, imaplib.IMAP4.error):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def stop_dovecot(server: Dovecot) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def imap_config(server: Dovecot, user: str, *, security: str = "ssl", extra: str = "") -> str:
    """The ``[imap]`` section pointing a workspace at the test server (its CA trusted)."""
    port = server.imaps_port if security == "ssl" else server.imap_port
    return (f'\n[imap]\nhost = "{HOST}"\nport = {port}\nsecurity = "{security}"\nuser = "{user}"\n'
            f'address = "{user}"\nca_file = "{server.ca}"\n{extra}')


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory):
    """One Dovecot for the test session (Debian's ``dovecot-imapd``, installed by ``make test``)."""
    if not os.path.exists(DOVECOT) or not shutil.which("openssl"):
        pytest.skip("dovecot 或 openssl 未安装（make test 会安装 dovecot-imapd）")
    # not below pytest's own temporary folder: pytest keeps that private to its user (0700), and the
    # server runs as another user when the tests run as root
    root = Path(tempfile.mkdtemp(prefix="processor-test-dovecot-"))
    server = start_dovecot(root / "server")
    try:
        yield server
    finally:
        stop_dovecot(server)
        shutil.rmtree(root, ignore_errors=True)
