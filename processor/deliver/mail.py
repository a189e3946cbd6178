"""Delivery: email the reports that are new or changed since the last send.

Each report version (outbox path + sha256) is delivered once to the current
recipient list.  The ledger table ``deliveries`` is the record:

* ``pending``  — queued; the last attempt failed, ``next_attempt_at`` says when to retry
  (the delay doubles per attempt, so retries survive restarts and back off);
* ``sent``     — the server accepted the message (set only after it did);
* ``failed``   — given up after ``smtp.max_attempts`` attempts, or superseded by a newer version;
* ``dry-run``  — written as an ``.eml`` file into ``outbox/邮件/`` instead of being sent.

All reports due in one run travel in one message, so the 企业组 gets one mail
per night.  Nothing but the configured SMTP host is ever contacted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
import socket
import sqlite3
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from collections.abc import Callable

from filelock import FileLock, Timeout as LockTimeout

from processor.common.clock import local_date, office_now
from processor.common.config import ConfigError, Workspace
from processor.common.faults import checkpoint
from processor.common.fsutil import atomic_write_bytes, safe_name, sha256_file, storage_error
from processor.record.ledger import Ledger, now_iso
from processor.common.outputs import display_name, edited_original
from processor.deliver.message import build_message, month_summary, summary_month

LOG = logging.getLogger(__name__)

MAIL_FOLDER = "邮件"
BACKOFF_FIRST = dt.timedelta(minutes=5)
BACKOFF_MAX = dt.timedelta(hours=12)
SMTP_TIMEOUT = 30
SEND_LOCK = ".processor-send.lock"
NO_RECIPIENTS_WARNING = ("未配置收件人（config.toml 的 [smtp] recipients 为空）：邮件的收件人一栏为空"
                         "（undisclosed-recipients），真正发送前请先填写收件人")
SEND_LOCK_WAIT = 600  # seconds another send may take before we give up waiting


@dataclass
class SendResult:
    sent: list[str] = field(default_factory=list)          # outbox-relative paths delivered now
    queued: list[str] = field(default_factory=list)        # waiting for a retry
    failed: list[str] = field(default_factory=list)        # given up
    dry_run_files: list[Path] = field(default_factory=list)
    error: str | None = None                                # the last SMTP/connection error, in words
    dry_run: bool = False                                   # nothing was (or would have been) sent
    warnings: list[str] = field(default_factory=list)       # for the operator, in Chinese
    sent_to: list[str] = field(default_factory=list)        # who got a message now

    @property
    def ok(self) -> bool:
        return not self.queued and not self.failed


# --- what is due ------------------------------------------------------------------------

def recipients_key(ws: Workspace) -> str:
    """The recipient list as stored in the ledger: normalised, sorted, comma-joined."""
    return ",".join(_addresses(ws))


def _addresses(ws: Workspace) -> list[str]:
    """The configured recipients, normalised (lower case) and sorted."""
    return sorted({r.strip().lower() for r in ws.smtp.recipients if r.strip()})


@dataclass
class _Mail:
    """One message due: the recipients whose undelivered reports are the same, and those reports."""

    addresses: list[str]      # normalised; [""] for a rehearsal without recipients
    outputs: list
    deliveries: dict          # output path -> its delivery row to these recipients (or None)

    @property
    def key(self) -> str:
        return ",".join(self.addresses)


def _plan(ledger: Ledger, ws: Workspace, *, dry_run: bool = False, retry_given_up: bool = False) -> list[_Mail]:
    """Who is due which report.  Each recipient is owed every report of a kind in ``smtp.reports``
    whose current version has not yet reached that recipient (nor been given up on, unless
    ``retry_given_up``); recipients owed the same reports share one message, so a recipient
    added to the config gets the current reports once and the others get nothing.

    A delivery row names the recipients of its message (comma-joined), so what reached a
    recipient in a message to several counts for that recipient.  In dry-run mode a version
    already written as ``.eml`` also counts as done."""
    kinds = list(ws.smtp.reports)
    if not kinds:
        return []
    done = {"sent", "dry-run"} if dry_run else {"sent"}
    if not retry_given_up or dry_run:
        done.add("failed")
    # a version rebuilt only because the as-of date moved has the basis of one already delivered
    delivered = {"sent", "dry-run"} if dry_run else {"sent"}
    outputs = ledger.query(f"SELECT * FROM outputs WHERE kind IN ({', '.join('?' * len(kinds))})", kinds)
    # a report a person changed goes as the new version beside it, never as its own (changed) file
    beside = {edited_original(r["path"]) for r in ledger.query("SELECT path FROM outputs")} - {None}
    outputs = [o for o in outputs if o["path"] not in beside]
    if not ws.smtp.partial_periods:  # a half-year or a year only just begun is not reported yet
        outputs = [o for o in outputs if not barely_begun(o["period"], o["built_at"], ws)]
    rows: dict[str, list] = {}
    for d in ledger.query(f"SELECT d.* FROM deliveries d JOIN outputs o ON o.path = d.output_path "
                          f"WHERE o.kind IN ({', '.join('?' * len(kinds))}) ORDER BY d.id", kinds):
        rows.setdefault(d["output_path"], []).append(d)

    def reached(o, address: str) -> bool:
        if any(address in (d["recipients"] or "").split(",") and (
                (d["output_sha256"] == o["sha256"] and d["status"] in done)
                or (d["basis_hash"] is not None and d["basis_hash"] == o["basis_hash"] and d["status"] in delivered))
                for d in rows.get(o["path"], ())):
            return True
        # a new version beside a changed report, built from what the office already got under the
        # report's own name (only the as-of date moved), is not mailed again
        original = edited_original(o["path"])
        return original is not None and o["basis_hash"] is not None and any(
            address in (d["recipients"] or "").split(",") and d["basis_hash"] == o["basis_hash"]
            and d["status"] in delivered for d in rows.get(original, ()))

    owed: dict[tuple, list[str]] = {}
    for address in _addresses(ws) or [""]:
        paths = tuple(o["path"] for o in outputs if not reached(o, address))
        if paths:
            owed.setdefault(paths, []).append(address)
    by_path = {o["path"]: o for o in outputs}
    mails = []
    for paths, addresses in owed.items():
        due = _in_mail_order([by_path[p] for p in paths])
        mail = _Mail(addresses, due, {})
        mail.deliveries = {o["path"]: _delivery(ledger, o, mail.key) for o in due}
        mails.append(mail)
    return mails


def barely_begun(label: str | None, built_at: str | None, ws: Workspace) -> bool:
    """Whether an output of the period ``label`` (2027-H1, 2027, 2027-01) was built before half of the
    period had passed (a half-year report after one month): a 阶段情况, not a report to mail."""
    from processor.common.clock import local_date
    from processor.common.periods import MONTH_RE, parse_half, parse_year, period_of

    if not label or not built_at:
        return False
    text = str(label)
    try:
        period = (period_of(text, "month") if MONTH_RE.match(text) else
                  parse_half(text) if "-H" in text.upper() else parse_year(text))
        built = local_date(built_at, ws)
    except ValueError:
        return False
    return (built - period.start).days * 2 < (period.end - period.start).days + 1


def _in_mail_order(outputs) -> list:
    # attachments in the order of the kinds' Chinese names, as the office has always received them
    return sorted(outputs, key=lambda o: (o["period"] is not None, o["period"] or "", display_name(o["kind"]),
                                          o["path"]))


def pending_outputs(ledger: Ledger, ws: Workspace, *, dry_run: bool = False) -> list:
    """Outputs of a kind listed in ``smtp.reports`` whose current version has not yet been
    delivered to one of the current recipients (nor given up on)."""
    found = {o["path"]: o for mail in _plan(ledger, ws, dry_run=dry_run) for o in mail.outputs}
    return _in_mail_order(found.values())


def _delivery(ledger: Ledger, output, recipients: str):
    rows = ledger.query("SELECT * FROM deliveries WHERE output_path = ? AND output_sha256 = ? AND recipients = ?",
                        (output["path"], output["sha256"], recipients))
    return rows[0] if rows else None


def _is_due(delivery, now: dt.datetime) -> bool:
    if delivery is None or delivery["status"] != "pending" or not delivery["next_attempt_at"]:
        return True
    return dt.datetime.fromisoformat(delivery["next_attempt_at"]) <= now


def due_retries(ws: Workspace, now: dt.datetime) -> list[str]:
    """Queued deliveries to the current recipients whose back-off delay has passed."""
    with Ledger(ws.ledger_path) as ledger:
        mails = _plan(ledger, ws)
    return [path for mail in mails for path, d in mail.deliveries.items()
            if d is not None and d["status"] == "pending" and _is_due(d, now)]


def waiting_reason(last_error: str | None, next_attempt_at: str | None) -> str:
    """Why a queued mail has not gone yet, in Chinese: the last attempt's reason and when it is retried."""
    reason = (last_error or "").split("；原始信息：")[0].strip() or "上次发送未完成"
    when = ""
    if next_attempt_at:
        with contextlib.suppress(ValueError):
            when = f"，{dt.datetime.fromisoformat(next_attempt_at):%Y-%m-%d %H:%M} 后自动重试"
    return f"上次发送失败（{reason}），正在等待重试{when}"


def backoff_delay(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failed ones: 5 min, 10, 20, … up to 12 h."""
    return min(BACKOFF_FIRST * (2 ** max(0, attempts - 1)), BACKOFF_MAX)


def _retire_old_versions(ledger: Ledger, now: dt.datetime) -> None:
    """A queued delivery whose report has since been rebuilt is dropped: the new version goes instead."""
    with ledger.atomic() as conn:
        conn.execute(
            "UPDATE deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL "
            "WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM outputs o "
            "WHERE o.path = deliveries.output_path AND o.sha256 = deliveries.output_sha256)",
            (f"报告已更新，改发新版本（{now_iso(now)}）",))


def _retire_superseded(ledger: Ledger, ws: Workspace, now: dt.datetime) -> None:
    """A queued message none of whose current recipients is still owed its report (the report
    reached them in another message, or they were taken off ``smtp.recipients``) is not retried."""
    owed = {(path, a) for mail in _plan(ledger, ws) for path in mail.deliveries for a in mail.addresses}
    configured = set(_addresses(ws))
    stale = [d["id"] for d in ledger.query("SELECT * FROM deliveries WHERE status = 'pending'")
             if not any((d["output_path"], a) in owed for a in set(d["recipients"].split(",")) & configured)]
    if stale:
        with ledger.atomic() as conn:
            conn.executemany("UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = ? "
                             "WHERE id = ?", [(f"收件人已变更，不再重试（{now_iso(now)}）", i) for i in stale])


# --- sending ----------------------------------------------------------------------------------

class SmtpDeadlineExceeded(TimeoutError):
    """The server did not finish the conversation within ``smtp.deadline_seconds``."""

    def __init__(self, seconds: float):
        super().__init__(f"SMTP conversation exceeded its deadline of {seconds:g} s")
        self.seconds = seconds


class _Deadline:
    """One time limit for a whole SMTP conversation: connect, greeting, TLS, login, message, QUIT.

    A socket timeout limits each read only, and a server that sends its greeting a byte at a time
    never trips it.  When the limit passes, the connection is shut down under the client, which then
    fails at once, whatever it was waiting for."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def watch(self, sock: socket.socket) -> None:
        """Keep a duplicate of the connection's socket: shutting it down ends the connection even
        after TLS has wrapped (and detached) the original."""
        copy = sock.dup()
        with self._lock:
            self._sockets.append(copy)
            if self.expired:
                _shut_down(copy)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


class _Client(smtplib.SMTP):
    """``smtplib.SMTP`` (plain, STARTTLS, or implicit TLS like ``SMTP_SSL``) whose connection a
    :class:`_Deadline` watches from the moment it exists, TLS handshake included."""

    def __init__(self, host: str, deadline: _Deadline, tls_context: ssl.SSLContext | None, timeout: float):
        self._deadline = deadline
        self._tls_context = tls_context
        super().__init__(timeout=timeout)  # no host: connect() comes once the deadline is in place
        self._host = host  # the name TLS verifies (implicit TLS and STARTTLS)

    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        self._deadline.watch(sock)
        if self._tls_context is not None:
            sock = self._tls_context.wrap_socket(sock, server_hostname=self._host)
        return sock


def _smtp_send(ws: Workspace, message: EmailMessage, to_addrs: list[str] | None = None) -> dict:
    """Hand ``message`` to the configured server; returns refused recipients (empty when all took it).
    ``to_addrs``: the envelope recipients (the configured ``smtp.recipients`` by default).

    The whole conversation has ``smtp.deadline_seconds``; past it, :class:`SmtpDeadlineExceeded`."""
    s = ws.smtp
    context = ssl.create_default_context()
    with _Deadline(s.deadline_seconds) as deadline:
        try:
            with _Client(s.host, deadline, context if s.security == "ssl" else None,
                         timeout=min(SMTP_TIMEOUT, s.deadline_seconds)) as client:
                code, reply = client.connect(s.host, s.port)
                if code != 220:
                    raise smtplib.SMTPConnectError(code, reply)
                client.ehlo()
                if s.security == "starttls":
                    client.starttls(context=context)
                    client.ehlo()
                if s.user:
                    client.login(s.user, s.password)
                return client.send_message(message, from_addr=s.sender or s.user, to_addrs=list(to_addrs if to_addrs is not None else s.recipients))
        except (OSError, smtplib.SMTPException) as exc:
            if deadline.expired:
                raise SmtpDeadlineExceeded(s.deadline_seconds) from exc
            raise


def check_smtp_config(ws: Workspace, *, to_office: bool = True) -> None:
    """Refuse to try a real send with a config that cannot work (named key, in Chinese).
    ``to_office``: the mail goes to ``smtp.recipients`` (reminders go to the units instead)."""
    s = ws.smtp
    if to_office and not recipients_key(ws):
        raise ConfigError("配置项 smtp.recipients（收件人）为空，请在 config.toml 的 [smtp] 中填写")
    if not (s.sender or s.user):
        raise ConfigError("配置项 smtp.sender（发件人地址）为空，请在 config.toml 的 [smtp] 中填写")
    if s.user and not s.password:
        raise ConfigError(f"已配置 smtp.user，但环境变量 {s.password_env} 中没有邮箱密码（配置项 smtp.password_env）")
    if not (s.user + s.password).isascii():
        raise ConfigError(f"smtp.user 或环境变量 {s.password_env} 中的密码含有中文等非 ASCII 字符，邮件服务器登录不支持")


def _write_eml(ws: Workspace, message: EmailMessage, now: dt.datetime) -> Path:
    name = safe_name(f"{now:%Y%m%d-%H%M%S}-{message['Subject']}", extension=".eml")
    target = ws.outbox / MAIL_FOLDER / name
    counter = 1
    while target.exists():
        counter += 1
        target = target.with_name(f"{Path(name).stem}-{counter}.eml")
    atomic_write_bytes(target, message.as_bytes())
    return target


def _record(ledger: Ledger, outputs, recipients: str, now: dt.datetime, **values) -> None:
    """Create or update the delivery row of each output version."""
    with ledger.atomic() as conn:
        for o in outputs:
            conn.execute("INSERT OR IGNORE INTO deliveries (output_path, output_sha256, basis_hash, recipients, "
                         "status, created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
                         (o["path"], o["sha256"], o["basis_hash"], recipients, now_iso(now)))
            keys = list(values)
            conn.execute(f"UPDATE deliveries SET {', '.join(f'{k} = ?' for k in keys)} "
                         "WHERE output_path = ? AND output_sha256 = ? AND recipients = ?",
                         [*values.values(), o["path"], o["sha256"], recipients])


def _intact(ws: Workspace, outputs) -> list:
    """Only outputs whose file is in the outbox with exactly the recorded bytes."""
    ready = []
    for o in outputs:
        path = ws.outbox / o["path"]
        if path.is_file() and sha256_file(path) == o["sha256"]:
            ready.append(o)
        else:
            LOG.warning("报告 %s 不存在或与台账记录不符（可能正在重新生成），本次不发送", o["path"])
    return ready


def send_pending(ws: Workspace, *, dry_run: bool = False, now: dt.datetime | None = None,
                 ignore_backoff: bool = False,
                 summary_fallback: Callable[[Workspace, Ledger, str | None, dt.date], str] | None = None) -> SendResult:
    """Email every report not yet delivered (one message per set of recipients owed the same
    reports: normally one), or write it as ``.eml`` when ``dry_run`` or no SMTP host is configured.

    The body's summary comes from ``outbox/manifest.json``; when the manifest has none,
    ``summary_fallback(ws, ledger, month, today)`` makes it (the command line passes
    :func:`processor.consolidate.mail_summary.ledger_summary`, which counts from the ledger as of
    ``today``, the day of ``now`` on the office's clock: one clock for the whole message).

    ``ignore_backoff`` retries queued and given-up deliveries immediately (an operator's
    explicit ``processor send``); otherwise a queued one waits for its ``next_attempt_at``.

    A message keeps the Message-ID it was given when first queued for as long as it carries the
    same reports to the same recipients: a retry, or a send after a crash between the server's
    acceptance and the record, is the same message to the recipients' mail programs.
    """
    now = now or office_now(ws)
    dry_run = dry_run or not ws.smtp.host
    recipients = recipients_key(ws)
    if not dry_run:
        check_smtp_config(ws)
    result = SendResult(dry_run=dry_run)
    if dry_run and not recipients:
        result.warnings.append(NO_RECIPIENTS_WARNING)
        LOG.warning(NO_RECIPIENTS_WARNING)
    # One sender at a time per workspace (serve's nightly run vs. an operator's `send`):
    # two concurrent runs would both see the same report as unsent.
    lock = FileLock(str(Path(ws.root) / SEND_LOCK), timeout=max(SEND_LOCK_WAIT, ws.smtp.deadline_seconds + 60))
    with _failures_said(ws, lock.timeout), lock, Ledger(ws.ledger_path) as ledger:
        _retire_old_versions(ledger, now)
        for mail in _plan(ledger, ws, dry_run=dry_run, retry_given_up=ignore_backoff):
            _send_one(ws, ledger, mail, now, result, dry_run=dry_run, ignore_backoff=ignore_backoff,
                      summary_fallback=summary_fallback)
        if not dry_run:
            _retire_superseded(ledger, ws, now)
    result.sent = list(dict.fromkeys(result.sent))
    result.queued = [p for p in dict.fromkeys(result.queued) if p not in result.sent]
    result.failed = [p for p in dict.fromkeys(result.failed) if p not in result.sent]
    return result


def _send_one(ws: Workspace, ledger: Ledger, mail: _Mail, now: dt.datetime, result: SendResult, *,
              dry_run: bool, ignore_backoff: bool, summary_fallback) -> None:
    deliveries = mail.deliveries
    if not dry_run and not ignore_backoff and not any(_is_due(deliveries[o["path"]], now) for o in mail.outputs):
        result.queued += [o["path"] for o in mail.outputs]
        waiting = max((d for d in deliveries.values() if d is not None), key=lambda d: d["next_attempt_at"] or "")
        result.error = result.error or waiting_reason(waiting["last_error"], waiting["next_attempt_at"])
        return
    outputs = _intact(ws, mail.outputs)
    if not outputs:
        return
    to = [_original_address(ws, a) for a in mail.addresses if a]
    summary = month_summary(ws, ledger, summary_month(outputs), summary_fallback, today=local_date(now, ws))
    message = build_message(ws, outputs, summary, to=to, now=now,
                            message_id=None if dry_run else _queued_message_id(ledger, outputs, mail.key))
    if dry_run:
        eml = _write_eml(ws, message, now)
        fresh = [o for o in outputs if deliveries[o["path"]] is None]
        _record(ledger, fresh, mail.key, now, status="dry-run", message_id=message["Message-ID"],
                last_error=f"已写入 {eml.relative_to(ws.outbox).as_posix()}")
        result.dry_run_files.append(eml)
        LOG.info("未发送邮件（%s），已写入 %s", "未配置邮件服务器" if not ws.smtp.host else "演练模式", eml)
        return
    _attempt(ws, ledger, message, outputs, deliveries, mail.key, to, now, result)


def _original_address(ws: Workspace, address: str) -> str:
    """A normalised address as the config spells it (for the To: line)."""
    return next((r.strip() for r in ws.smtp.recipients if r.strip().lower() == address), address)


def _queued_message_id(ledger: Ledger, outputs, recipients: str) -> str | None:
    """The Message-ID of the queued message carrying exactly these report versions to these
    recipients, if there is one (a retry); None for a new message."""
    rows = [_delivery(ledger, o, recipients) for o in outputs]
    ids = {r["message_id"] for r in rows if r is not None}
    if len(ids) != 1 or None in ids or any(r is None or r["status"] not in ("pending", "failed") for r in rows):
        return None
    [message_id] = ids
    carried = {(r["output_path"], r["output_sha256"], r["recipients"])
               for r in ledger.query("SELECT * FROM deliveries WHERE message_id = ?", (message_id,))}
    return message_id if carried == {(o["path"], o["sha256"], recipients) for o in outputs} else None


class SendBusy(RuntimeError):
    """Another send kept the workspace's send lock for longer than we wait; the message is for the operator."""


@contextlib.contextmanager
def _failures_said(ws: Workspace, lock_wait: float):
    """A full or read-only disk (outbox or ledger), or a send lock that never came free, ends the run
    with one Chinese line; the details go to the log.  Deliveries are recorded row by row, so what
    was recorded before stays true."""
    try:
        yield
    except LockTimeout as exc:
        raise SendBusy(f"另一个发送（processor send 或 serve 的夜间发送）{lock_wait:g} 秒后仍未结束，本次未发送；"
                       "请稍后重新运行 processor send") from exc
    except (OSError, sqlite3.Error) as exc:
        error = storage_error(exc, outbox=ws.outbox, kept="本次发送未完成（已记录的发送不受影响）",
                              command="processor send")
        if error is None:
            raise
        LOG.error("发送中止：%s", error, exc_info=exc)
        raise error from exc


def _attempt(ws, ledger, message, outputs, deliveries, recipients, to, now, result: SendResult) -> None:
    paths = [o["path"] for o in outputs]
    # the rows, with the message's Message-ID, exist before we connect: a retry reuses it
    _record(ledger, outputs, recipients, now, message_id=message["Message-ID"])
    try:
        refused = _smtp_send(ws, message, to)
    except (OSError, smtplib.SMTPException) as exc:
        error, detail = _describe(exc)
        result.error = error
        for o in outputs:
            attempts = (deliveries[o["path"]]["attempts"] if deliveries[o["path"]] else 0) + 1
            gave_up = attempts >= ws.smtp.max_attempts
            _record(ledger, [o], recipients, now, attempts=attempts, last_error=f"{error}；原始信息：{detail}",
                    status="failed" if gave_up else "pending",
                    next_attempt_at=None if gave_up else now_iso(now + backoff_delay(attempts)))
            (result.failed if gave_up else result.queued).append(o["path"])
        LOG.warning("邮件发送失败（%s；原始信息：%s），%d 份报告将稍后重试", error, detail, len(result.queued))
        return
    checkpoint("send-after-smtp")  # the server has the message; the ledger does not know yet
    note = f"部分收件人被服务器拒收：{'、'.join(refused)}" if refused else None
    for o in outputs:
        attempts = (deliveries[o["path"]]["attempts"] if deliveries[o["path"]] else 0) + 1
        _record(ledger, [o], recipients, now, status="sent", attempts=attempts, sent_at=now_iso(now),
                next_attempt_at=None, last_error=note)
    result.sent += paths
    result.sent_to += [a for a in to if a not in result.sent_to]
    LOG.info("已发送邮件“%s”给 %s，附件 %d 个", message["Subject"], "、".join(to), len(paths))


# What went wrong, in the operator's words; the first matching class wins (subclasses first).
_ERRORS_CN: list[tuple[type[BaseException], object]] = [
    (SmtpDeadlineExceeded, lambda e: f"邮件服务器在 {e.seconds:g} 秒内没有完成收信（连接、加密、登录或发送过慢），"
                                     "已断开"),
    (ConnectionRefusedError, "无法连接邮件服务器（连接被拒绝）"),
    (socket.gaierror, "找不到邮件服务器（服务器名称无法解析），请检查配置项 smtp.host 和网络"),
    (ssl.SSLCertVerificationError, "与邮件服务器建立加密连接失败：服务器证书未通过验证"),
    (ssl.SSLError, "与邮件服务器建立加密连接失败，请检查配置项 smtp.security 和 smtp.port"),
    (TimeoutError, "连接邮件服务器超时"),
    (smtplib.SMTPAuthenticationError, "邮件服务器拒绝了用户名或密码"),
    (smtplib.SMTPRecipientsRefused, lambda e: f"邮件服务器拒收全部收件人：{'、'.join(e.recipients)}"),
    (smtplib.SMTPSenderRefused, lambda e: f"邮件服务器拒绝了发件人地址 {e.sender}"),
    (smtplib.SMTPDataError, "邮件服务器拒收了这封邮件（可能是附件过大或内容被拦截）"),
    (smtplib.SMTPConnectError, "邮件服务器拒绝了连接"),
    (smtplib.SMTPHeloError, "邮件服务器不接受本机的问候（HELO/EHLO）"),
    (smtplib.SMTPNotSupportedError, "邮件服务器不支持所需的加密或登录方式，请检查配置项 smtp.security 和 smtp.port"),
    (smtplib.SMTPServerDisconnected, "邮件服务器意外断开了连接"),
    (smtplib.SMTPResponseException, lambda e: f"邮件服务器返回错误（代码 {e.smtp_code}）"),
    (ConnectionError, "与邮件服务器的连接中断"),
    (OSError, "无法连接邮件服务器（网络错误）"),
]


def _describe(exc: BaseException) -> tuple[str, str]:
    """What went wrong, in Chinese, and the server's or the system's own words (kept in the log and
    the ledger for whoever looks after the mail server)."""
    message = next((words(exc) if callable(words) else words for kind, words in _ERRORS_CN
                    if isinstance(exc, kind)), "与邮件服务器通信失败")
    return message, _original_words(exc.__cause__ if isinstance(exc, SmtpDeadlineExceeded) and exc.__cause__
                                    else exc)


def _original_words(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "；".join(f"{address} {code} {_text(reply)}" for address, (code, reply) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
