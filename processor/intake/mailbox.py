"""The office's 报送 mailbox as a second inbox (SPEC §12), read over IMAP.

Each message is taken exactly once, across crashes:

1. the message is fetched (``BODY.PEEK[]``: it stays unread for the office's own mail client)
   and parsed (:mod:`processor.intake.mail_parse`);
2. ONE ledger transaction records it (mailbox, UIDVALIDITY, UID, Message-ID, the attachments'
   hashes, the sender's unit) before anything else happens — a message seen again is
   recognised by its UID, or, when the server renumbered the folder (a new UIDVALIDITY), by its
   Message-ID and attachments;
3. each form is put into the sender's unit folder of the inbox (a hidden per-message folder
   that the watcher does not enter) and taken by the same intake as a file dropped there: same
   validation, ledger, archive and receipt; a 填报单位 that is not the sender's unit is refused
   as for a wrong folder;
4. the caller's ``on_taken(mail_id)`` queues the answer (:mod:`processor.deliver.replies`);
5. the message is moved to the processed folder, then noted as moved.

A kill at any step leaves the message in the folder, recorded or not: the next run takes it
again, finds its row, and finishes only what is missing; a form already in the ledger is found by
its inbox path, never recorded twice.  Named points (``mail-recorded``, ``mail-ingested``,
``mail-reply-queued``, ``mail-moved``) let the tests kill the process at each step.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import imaplib
import logging
import re
import select
import socket
import ssl
from dataclasses import dataclass, field
from collections.abc import Callable

from processor.common.clock import office_now
from processor.common.config import ConfigError, Workspace
from processor.common.faults import checkpoint
from processor.common.fsutil import atomic_path, safe_name
from processor.intake import mail_parse
from processor.intake.mail_parse import FORM, Limits, ParsedMail
from processor.record.ledger import Ledger, now_iso

log = logging.getLogger(__name__)

MAIL_FOLDER = ".邮件"  # inside a unit's inbox folder; hidden, so the watcher leaves it to the mailbox
IMAP_TIMEOUT = 60

# verdicts: what became of a message
FORMS, UNKNOWN_SENDER, NO_ATTACHMENT, NO_FORM, HELD, TOO_LARGE, TOO_MANY = (
    "forms", "unknown-sender", "no-attachment", "no-form", "held", "too-large", "too-many")
VERDICT_CN = {FORMS: "已收取报表", UNKNOWN_SENDER: "发件人不在名册中，未收取", NO_ATTACHMENT: "未找到报表附件",
              NO_FORM: "附件中没有月报表", HELD: "发件人验证未通过，暂不处理，待人工核对",
              TOO_LARGE: "邮件过大，未收取", TOO_MANY: "附件过多，未收取"}


class MailboxError(RuntimeError):
    """The mailbox could not be read (connection, TLS, login, folder); the message is Chinese."""


@dataclass
class TakenMail:
    """One message of the folder, as this run found it (or would, in a dry run)."""
    uid: int
    sender: str
    unit: str | None
    subject: str
    verdict: str
    forms: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    file_ids: list[int] = field(default_factory=list)
    mail_id: int | None = None
    again: bool = False          # recorded by an earlier run (a crash, or a renumbered folder)
    auth_failure: str | None = None

    @property
    def verdict_cn(self) -> str:
        return VERDICT_CN[self.verdict]


@dataclass
class FetchReport:
    mailbox: str
    taken: list[TakenMail] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)   # messages held for a person to look at (all so far)
    dry_run: bool = False
    looked_at: tuple[int, frozenset] = (0, frozenset())  # the folder's UIDVALIDITY and the UIDs this run saw


# --- the server -------------------------------------------------------------------------------

def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3): 已处理 → &XfJZBFkE-."""
    out, pending = [], []

    def flush():
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + encoded.replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def _quoted(name: str) -> str:
    text = imap_utf7(name)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_label(ws: Workspace) -> str:
    s = ws.imap
    return f"{s.user}@{s.host}/{s.folder}"


class Mailbox:
    """One IMAP session on the configured folder (TLS verified unless ``security = "none"``)."""

    def __init__(self, ws: Workspace, *, readonly: bool = False):
        s = ws.imap
        if not s.enabled:
            raise ConfigError("未配置报送邮箱：请在 config.toml 的 [imap] 中填写 host 和 user")
        if not s.password:
            raise ConfigError(f"环境变量 {s.password_env} 中没有报送邮箱的密码（配置项 imap.password_env）")
        self.settings = s
        try:
            context = ssl.create_default_context(cafile=s.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"配置项 imap.ca_file 指定的证书文件无法读取（{s.ca_file}：{exc}）") from None
        try:
            if s.security == "ssl":
                self.client = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=context, timeout=IMAP_TIMEOUT)
            else:
                self.client = imaplib.IMAP4(s.host, s.port, timeout=IMAP_TIMEOUT)
                if s.security == "starttls":
                    self.client.starttls(ssl_context=context)
            self.client.login(s.user, s.password)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(_describe(exc, s)) from exc
        self.readonly = readonly
        self.uidvalidity = self._select(s.folder, readonly)

    def _select(self, folder: str, readonly: bool) -> int:
        typ, data = self.client.select(_quoted(folder), readonly=readonly)
        if typ != "OK":
            raise MailboxError(f"报送邮箱中没有邮件夹“{folder}”（配置项 imap.folder）：{_said(data)}")
        _, value = self.client.response("UIDVALIDITY")
        return int(value[0]) if value and value[0] else 0

    def uids(self) -> list[int]:
        typ, data = self.client.uid("SEARCH", None, "ALL")
        if typ != "OK":
            raise MailboxError(f"无法列出报送邮箱中的邮件：{_said(data)}")
        return sorted(int(u) for u in (data[0] or b"").split())

    def size(self, uid: int) -> int | None:
        typ, data = self.client.uid("FETCH", str(uid), "(RFC822.SIZE)")
        match = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(d for d in data if isinstance(d, bytes)))
        return int(match.group(1)) if typ == "OK" and match else None

    def fetch(self, uid: int, *, header_only: bool = False) -> bytes | None:
        """The message's bytes (or its header), leaving it unread; None when it is gone meanwhile."""
        what = "(BODY.PEEK[HEADER])" if header_only else "(BODY.PEEK[])"
        typ, data = self.client.uid("FETCH", str(uid), what)
        if typ != "OK":
            raise MailboxError(f"无法读取报送邮箱中的邮件（UID {uid}）：{_said(data)}")
        for item in data:
            if isinstance(item, tuple):
                return item[1]
        return None

    def move(self, uid: int, folder: str) -> None:
        """Move the message to ``folder`` (made when missing): MOVE, or COPY + \\Deleted + EXPUNGE."""
        target = _quoted(folder)
        self.client.create(target)  # "already exists" is fine
        if "MOVE" in self.client.capabilities:
            typ, data = self.client.uid("MOVE", str(uid), target)
        else:
            typ, data = self.client.uid("COPY", str(uid), target)
            if typ == "OK":
                self.client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
                if "UIDPLUS" in self.client.capabilities:
                    self.client.uid("EXPUNGE", str(uid))
                else:
                    self.client.expunge()
        if typ != "OK":
            raise MailboxError(f"无法把邮件移入邮件夹“{folder}”（配置项 imap.processed_folder）：{_said(data)}")

    @property
    def offers_idle(self) -> bool:
        return "IDLE" in self.client.capabilities

    def idle(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the server to say the folder changed (IMAP IDLE, RFC 2177);
        True when it did.  Only for a server that :attr:`offers_idle`.

        A server may report what happened since the last command (``* 4 EXISTS``) before it answers
        IDLE with ``+``, or while the IDLE is being ended: either is news, not an error or noise."""
        tag = self.client._new_tag()  # imaplib has no IDLE of its own (before Python 3.14)
        self.client.send(tag + b" IDLE\r\n")
        changed = False
        while not (line := self._line()).startswith(b"+"):
            if line.startswith(tag):
                raise MailboxError("报送邮箱服务器不接受 IDLE 命令")
            changed = changed or _reports_new_mail(line)
        if not changed:
            sock = self.client.socket()
            changed = bool(getattr(sock, "pending", lambda: 0)()) or bool(select.select([sock], [], [], seconds)[0])
        self.client.send(b"DONE\r\n")
        while not (line := self._line()).startswith(tag):  # untagged news, up to the tagged end of the IDLE
            changed = changed or _reports_new_mail(line)
        return changed

    def _line(self) -> bytes:
        if not (line := self.client.readline()):
            raise MailboxError("报送邮箱服务器断开了连接")
        return line

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            if not self.readonly:
                self.client.close()
            self.client.logout()


def _reports_new_mail(line: bytes) -> bool:
    """``* 4 EXISTS`` / ``* 1 RECENT``: the folder holds a message it did not hold before."""
    return line.startswith(b"* ") and line.rstrip().upper().endswith((b" EXISTS", b" RECENT"))


def _said(data) -> str:
    return " ".join(d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in (data or []) if d)


def _describe(exc: BaseException, s) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"无法与报送邮箱服务器 {s.host}:{s.port} 建立加密连接：服务器证书未通过验证"
                f"（自签名证书请在配置项 imap.ca_file 中指明其 CA 证书）")
    if isinstance(exc, ssl.SSLError):
        return f"无法与报送邮箱服务器 {s.host}:{s.port} 建立加密连接，请检查配置项 imap.security 和 imap.port"
    if isinstance(exc, ConnectionRefusedError):
        return f"无法连接报送邮箱服务器 {s.host}:{s.port}（连接被拒绝）"
    if isinstance(exc, socket.gaierror):
        return f"找不到报送邮箱服务器 {s.host}（服务器名称无法解析），请检查配置项 imap.host"
    if isinstance(exc, TimeoutError):
        return f"连接报送邮箱服务器 {s.host}:{s.port} 超时"
    if isinstance(exc, imaplib.IMAP4.error):
        return f"报送邮箱服务器拒绝了登录（用户名 {s.user}，或环境变量 {s.password_env} 中的密码不对）：{exc}"
    return f"与报送邮箱服务器 {s.host}:{s.port} 通信失败：{exc}"


# --- who sent it ------------------------------------------------------------------------------

def sender_units(roster) -> dict[str, str]:
    """Every roster address (lower case) → its unit: its 电子邮箱 and its 其他报送邮箱 (a unit may send
    from several addresses)."""
    found: dict[str, str] = {}
    for unit in roster.units:
        for address in (unit.email, *getattr(unit, "senders", ())):
            if address and "@" in address:
                found.setdefault(address.strip().lower(), unit.name)
    return found


def limits_of(ws: Workspace) -> Limits:
    return Limits(max_attachments=ws.imap.max_attachments,
                  max_file_bytes=int(ws.intake.max_file_mb * 1048576),
                  max_uncompressed_bytes=int(ws.intake.max_uncompressed_mb * 1048576),
                  max_ratio=ws.intake.max_ratio)


def verdict_of(ws: Workspace, parsed: ParsedMail, unit: str | None, *, too_large: bool = False) -> str:
    if unit is None:
        return UNKNOWN_SENDER
    if parsed.auth_failure and ws.imap.check_authentication:
        return HELD
    if too_large:
        return TOO_LARGE
    if len(parsed.attachments) > ws.imap.max_attachments:
        return TOO_MANY
    if parsed.forms:
        return FORMS
    return NO_FORM if parsed.attachments else NO_ATTACHMENT


# --- the ledger -------------------------------------------------------------------------------

def mail_row(ledger: Ledger, mail_id: int):
    rows = ledger.query("SELECT * FROM mail_messages WHERE id = ?", (mail_id,))
    return rows[0] if rows else None


def mail_parts(ledger: Ledger, mail_id: int):
    return ledger.query("SELECT * FROM mail_parts WHERE mail_id = ? ORDER BY seq", (mail_id,))


def _known(ledger: Ledger, mailbox: str, uidvalidity: int, uid: int):
    rows = ledger.query("SELECT * FROM mail_messages WHERE mailbox = ? AND uidvalidity = ? AND uid = ?",
                        (mailbox, uidvalidity, uid))
    return rows[0] if rows else None


def _known_by_content(ledger: Ledger, mailbox: str, key: str):
    rows = ledger.query("SELECT * FROM mail_messages WHERE mailbox = ? AND content_key = ? ORDER BY id LIMIT 1",
                        (mailbox, key))
    return rows[0] if rows else None


def _record(ledger: Ledger, mailbox: str, uidvalidity: int, uid: int, parsed: ParsedMail, unit: str | None,
            verdict: str, received: dt.datetime) -> int:
    """Step 2: the message and its attachments, in one transaction; returns its id."""
    state = "held" if verdict == HELD else "taken"
    with ledger.atomic() as conn:
        cursor = conn.execute(
            "INSERT INTO mail_messages (mailbox, uidvalidity, uid, message_id, content_key, sender, unit, subject, "
            "references_, received_at, verdict, state, note, automatic) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (mailbox, uidvalidity, uid, parsed.message_id, parsed.content_key(), parsed.sender, unit,
             parsed.subject, parsed.references, now_iso(received), verdict, state, parsed.auth_failure,
             int(parsed.automatic)))
        mail_id = cursor.lastrowid
        for seq, a in enumerate(parsed.attachments, 1):
            place = None
            if a.kind == FORM and verdict == FORMS:
                place = f"{unit}/{MAIL_FOLDER}/{mail_id}-{seq}/{safe_name(a.name)}"
            conn.execute("INSERT INTO mail_parts (mail_id, seq, name, sha256, size, kind, inbox_path, note) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (mail_id, seq, a.name, a.sha, len(a.data), a.kind, place, a.note))
    return mail_id


def _set(ledger: Ledger, mail_id: int, **values) -> None:
    with ledger.atomic() as conn:
        conn.execute(f"UPDATE mail_messages SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                     [*values.values(), mail_id])


# --- one pass ---------------------------------------------------------------------------------

def fetch_once(ws: Workspace, *, intake=None, on_taken: Callable[[Ledger, int], None] | None = None,
               dry_run: bool = False, now: dt.datetime | None = None, roster=None) -> FetchReport:
    """Read the folder once and take every message in it (see the module's steps).

    ``intake``: the :class:`processor.intake.run.Intake` to hand forms to (``serve`` passes its own;
    made on the first form otherwise).  ``on_taken(ledger, mail_id)``: queues the answer, before the
    message is moved.  ``dry_run``: the folder is only looked at (read-only); nothing is recorded."""
    from processor.validate.roster import workspace_roster

    roster = roster or (intake.roster if intake is not None else workspace_roster(ws))
    senders = sender_units(roster)
    label = mailbox_label(ws)
    report = FetchReport(label, dry_run=dry_run)
    made = []

    def the_intake():
        if intake is not None:
            return intake
        if not made:
            from processor.intake.run import Intake

            made.append(Intake(ws, roster=roster))
        return made[0]

    mailbox = Mailbox(ws, readonly=dry_run)
    try:
        with Ledger(ws.ledger_path) as ledger:  # a dry run only reads it
            uids = mailbox.uids()
            report.looked_at = (mailbox.uidvalidity, frozenset(uids))
            if not dry_run:
                if ledger.unfinished():  # a form a crash left without its receipt: finished before any reply
                    the_intake().recover()
                clear_mail_folders(ws)
                _note_moved_meanwhile(ledger, label, mailbox.uidvalidity, set(uids))
            for uid in uids:
                try:
                    taken = _take(ws, mailbox, ledger, label, uid, senders, limits_of(ws), dry_run=dry_run,
                                  now=now, on_taken=on_taken, intake=the_intake)
                except (MailboxError, imaplib.IMAP4.abort, ConnectionError, ConfigError):
                    raise  # the mailbox itself: the next run starts again
                except _stopping():
                    raise  # serve is stopping: the message is taken again at the next start
                except Exception as exc:  # noqa: BLE001 — one message never stops the others; it stays in the folder
                    log.error("报送邮箱中的邮件（UID %s）本次未能处理完：%s。邮件留在邮箱中，下次收取时继续。",
                              uid, exc)
                    log.debug("处理报送邮件失败的详细信息", exc_info=exc)
                    continue
                if taken is not None:
                    report.taken.append(taken)
            if not dry_run:
                report.held = [dict(r) for r in ledger.query(
                    "SELECT * FROM mail_messages WHERE mailbox = ? AND state = 'held' ORDER BY id", (label,))]
    finally:
        mailbox.close()
        for made_here in made:
            made_here.close()
    return report


def _stopping() -> type[BaseException]:
    from processor.intake.sandbox import SandboxInterrupted

    return SandboxInterrupted


def _take(ws, mailbox: Mailbox, ledger: Ledger, label: str, uid: int, senders: dict[str, str], limits: Limits, *,
          dry_run: bool, now, on_taken, intake) -> TakenMail | None:
    row = _known(ledger, label, mailbox.uidvalidity, uid)
    if row is not None and row["state"] in ("held", "moved"):
        if row["state"] == "moved" and not dry_run:  # the move did not happen after all: again
            mailbox.move(uid, ws.imap.processed_folder)
        return None
    size = mailbox.size(uid)
    too_large = size is not None and size > ws.imap.max_message_bytes
    raw = mailbox.fetch(uid, header_only=too_large)
    if raw is None:
        return None  # expunged meanwhile by someone else
    parsed = mail_parse.parse_mail(raw, limits)
    unit = senders.get(parsed.sender)
    verdict = verdict_of(ws, parsed, unit, too_large=too_large)
    taken = TakenMail(uid, parsed.sender, unit, parsed.subject, verdict,
                      forms=[a.name for a in parsed.forms],
                      others=[a.name for a in parsed.attachments if a.kind != FORM],
                      auth_failure=parsed.auth_failure)
    if row is None:
        row = _known_by_content(ledger, label, parsed.content_key())
        if row is not None and not dry_run:  # the folder was renumbered (new UIDVALIDITY): the same message
            log.info("报送邮箱中的邮件（发件人 %s，主题“%s”）已于 %s 收取过（邮件夹编号已变更），不再重复收取",
                     parsed.sender, parsed.subject, row["received_at"])
            _set(ledger, row["id"], uidvalidity=mailbox.uidvalidity, uid=uid)
            row = mail_row(ledger, row["id"])
    if dry_run:
        taken.again = row is not None
        taken.mail_id = row["id"] if row is not None else None
        return taken
    if row is None:
        mail_id = _record(ledger, label, mailbox.uidvalidity, uid, parsed, unit, verdict,
                          now or office_now(ws))
        checkpoint("mail-recorded")
        row = mail_row(ledger, mail_id)
        log.info("收到报送邮件：发件人 %s（%s），主题“%s”，%s", parsed.sender, unit or "不在名册中", parsed.subject,
                 VERDICT_CN[verdict])
    else:
        taken.again = True
        taken.verdict = row["verdict"]
    taken.mail_id = row["id"]
    if row["state"] == "held":
        log.warning("报送邮件（发件人 %s，主题“%s”）%s：%s，暂不处理，请人工核对", parsed.sender, parsed.subject,
                        row["note"] or "", VERDICT_CN[HELD])
        return taken
    if row["state"] == "taken":
        taken.file_ids = _ingest(ws, ledger, row, parsed, intake)
        _set(ledger, row["id"], state="ingested")
        checkpoint("mail-ingested")
    else:
        taken.file_ids = [p["file_id"] for p in mail_parts(ledger, row["id"]) if p["file_id"]]
    if on_taken is not None:
        on_taken(ledger, row["id"])
    checkpoint("mail-reply-queued")
    mailbox.move(uid, ws.imap.processed_folder)
    checkpoint("mail-moved")
    _set(ledger, row["id"], state="moved", moved_at=now_iso(now or office_now(ws)))
    return taken


def take_message(ws: Workspace, ledger: Ledger, intake, parsed: ParsedMail, *, roster, mailbox: str,
                 uidvalidity: int, uid: int, now: dt.datetime) -> int:
    """Record one message already read and take its forms through ``intake``, as :func:`fetch_once`
    does for a message of the server (the demo's mail arrives this way, without a mail server).
    Returns the message's id in the ledger."""
    unit = sender_units(roster).get(parsed.sender)
    verdict = verdict_of(ws, parsed, unit)
    mail_id = _record(ledger, mailbox, uidvalidity, uid, parsed, unit, verdict, now)
    if verdict != HELD:
        _ingest(ws, ledger, mail_row(ledger, mail_id), parsed, lambda: intake)
        _set(ledger, mail_id, state="moved", moved_at=now_iso(now))
    return mail_id


def _ingest(ws: Workspace, ledger: Ledger, row, parsed: ParsedMail, intake) -> list[int]:
    """Step 3: each form of the message through the intake, once (a form recorded before a crash is
    found by its inbox path)."""
    data = {a.sha: a.data for a in parsed.attachments if a.kind == FORM}
    file_ids = []
    for part in mail_parts(ledger, row["id"]):
        if part["kind"] != FORM or not part["inbox_path"]:
            continue
        file_id = part["file_id"] or _recorded(ledger, part["inbox_path"])
        if file_id is None:
            path = ws.inbox / part["inbox_path"]
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(path) as tmp:
                    tmp.write_bytes(data[part["sha256"]])
            outcome = intake().handle(path)
            file_id = outcome.file_id if outcome is not None else _recorded(ledger, part["inbox_path"])
        if file_id is not None:
            with ledger.atomic() as conn:
                conn.execute("UPDATE mail_parts SET file_id = ? WHERE id = ?", (file_id, part["id"]))
            file_ids.append(file_id)
    for part in mail_parts(ledger, row["id"]):  # the per-message folders, emptied by the intake
        if part["inbox_path"]:
            with contextlib.suppress(OSError):
                (ws.inbox / part["inbox_path"]).parent.rmdir()
    return file_ids


def _recorded(ledger: Ledger, inbox_path: str) -> int | None:
    rows = ledger.query("SELECT id FROM files WHERE inbox_path = ? ORDER BY id DESC LIMIT 1", (inbox_path,))
    return rows[0]["id"] if rows else None


def _note_moved_meanwhile(ledger: Ledger, label: str, uidvalidity: int, present: set[int]) -> None:
    """A message answered and moved whose "moved" note a crash prevented: no longer in the folder."""
    for row in ledger.query("SELECT id, uid FROM mail_messages WHERE mailbox = ? AND uidvalidity = ? "
                            "AND state = 'ingested'", (label, uidvalidity)):
        if row["uid"] not in present:
            _set(ledger, row["id"], state="moved")


def clear_mail_folders(ws: Workspace) -> None:
    """Remove empty per-message folders left by a crash (their forms are in the ledger)."""
    for folder in ws.inbox.glob(f"*/{MAIL_FOLDER}"):
        for sub in folder.iterdir():
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            folder.rmdir()

