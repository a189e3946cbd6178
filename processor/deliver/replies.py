"""Answers to the 报送 mailbox: each message taken is answered once, by reply (SPEC §12).

:func:`fetch_mail` reads the mailbox once (:mod:`processor.intake.mailbox`) and queues one answer
per message BEFORE the message is moved to the processed folder; :func:`send_replies` sends the
queued answers through the same SMTP path as report mail and reminders (deadline, back-off,
``mail_replies`` in the ledger: the row and its Message-ID exist before the server is contacted,
``sent`` only after it took the mail, so a retry is the same message).

The answer is a reply: ``Re:`` subject, ``In-Reply-To`` and ``References``, ``Reply-To`` the
报送 mailbox (a corrected form sent as a reply comes back to it and is taken as a resubmission);
for each form its receipt (HTML, with a plain-text part), and a rejected form's annotated copy
attached.  The same receipts are in ``outbox/回执``.  A sender not in the roster gets one polite
answer a day, whatever they send; a held message (failed SPF/DKIM/DMARC), an auto-reply, a
bounce or list mail (RFC 3834) gets none, so two robots never answer each other in a loop.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from filelock import FileLock

from processor.common.clock import office_now
from processor.common.config import ConfigError, Workspace
from processor.common.faults import checkpoint
from processor.common.fsutil import StorageError
from processor.deliver.message import MAIL_POLICY, attachment_part, sender
from processor.deliver.mail import (SEND_LOCK, SEND_LOCK_WAIT, SendBusy, _describe,
                                    _failures_said, _smtp_send, _write_eml, backoff_delay,
                                    check_smtp_config)
from processor.intake import mailbox as mb
from processor.record.ledger import REJECTED, STATUS_CN, Ledger, now_iso, receipt_number
from processor.validate.errors import Problem

LOG = logging.getLogger(__name__)
MAX_PROBLEMS = 30  # problems listed per form in the text; the annotated copy has them all


@dataclass
class ReplyResult:
    sent: list[str] = field(default_factory=list)       # addresses answered now
    queued: list[str] = field(default_factory=list)     # failed now, retried later
    failed: list[str] = field(default_factory=list)
    dry_run_files: list[Path] = field(default_factory=list)
    error: str | None = None


@dataclass
class FetchResult:
    report: mb.FetchReport
    replies: ReplyResult


def fetch_mail(ws: Workspace, *, dry_run: bool = False, now: dt.datetime | None = None, intake=None,
               roster=None) -> FetchResult:
    """Take every message of the 报送 mailbox once and answer each (``dry_run``: only list them)."""
    report = mb.fetch_once(ws, intake=intake, dry_run=dry_run, now=now, roster=roster,
                           on_taken=lambda ledger, mail_id: queue_reply(ws, ledger, mail_id, now=now))
    replies = ReplyResult() if dry_run else send_replies(ws, now=now, roster=roster)
    return FetchResult(report, replies)


# --- the queue ----------------------------------------------------------------------------------

def queue_reply(ws: Workspace, ledger: Ledger, mail_id: int, *, now: dt.datetime | None = None) -> bool:
    """Queue the answer to one message (idempotent); False when it gets none (held, or a sender not in
    the roster answered already today)."""
    row = mb.mail_row(ledger, mail_id)
    if row is None or row["verdict"] == mb.HELD or not row["sender"] or row["automatic"]:
        return False  # held for a person; or an auto-reply or bounce, which an answer could loop with
    if row["verdict"] == mb.UNKNOWN_SENDER and row["note"]:
        return False  # a stranger whose address the office's server could not verify: likely forged
    if row["sender"] in {a.strip().lower() for a in (ws.imap.user, ws.imap.mailbox_address, ws.smtp.sender) if a}:
        return False  # never answer ourselves
    now = now or office_now(ws)
    if row["verdict"] == mb.UNKNOWN_SENDER and ledger.query(
            "SELECT 1 FROM mail_replies r JOIN mail_messages m ON m.id = r.mail_id WHERE m.sender = ? "
            "AND m.verdict = ? AND r.mail_id != ? AND r.created_at >= ? LIMIT 1",
            (row["sender"], mb.UNKNOWN_SENDER, mail_id, now_iso(now - dt.timedelta(days=1)))):
        return False
    domain = (ws.smtp.sender or ws.smtp.user or "processor.local").rpartition("@")[2] or "processor.local"
    with ledger.atomic() as conn:
        conn.execute("INSERT OR IGNORE INTO mail_replies (mail_id, address, status, created_at, message_id) "
                     "VALUES (?, ?, 'pending', ?, ?)", (mail_id, row["sender"], now_iso(now),
                                                        make_msgid(domain=domain)))
    return True


def _due(ledger: Ledger, now: dt.datetime) -> list:
    return [r for r in ledger.query("SELECT * FROM mail_replies WHERE status = 'pending' ORDER BY id")
            if not r["next_attempt_at"] or dt.datetime.fromisoformat(r["next_attempt_at"]) <= now]


def send_replies(ws: Workspace, *, now: dt.datetime | None = None, roster=None) -> ReplyResult:
    """Send every queued answer that is due (``.eml`` files in ``outbox/邮件`` when no SMTP host)."""
    from processor.validate.roster import workspace_roster

    now = now or office_now(ws)
    dry_run = not ws.smtp.host
    if not dry_run:
        check_smtp_config(ws, to_office=False)
    result = ReplyResult()
    roster = roster or workspace_roster(ws)
    lock = FileLock(str(Path(ws.root) / SEND_LOCK), timeout=max(SEND_LOCK_WAIT, ws.smtp.deadline_seconds + 60))
    with _failures_said(ws, lock.timeout), lock, Ledger(ws.ledger_path) as ledger:
        for reply in _due(ledger, now):
            message = build_reply(ws, ledger, roster, reply)
            if message is None:
                continue  # a receipt not yet written (a crash): the next run sends it
            if dry_run:
                eml = _write_eml(ws, message, now)
                _update(ledger, reply["id"], status="dry-run", last_error=f"已写入 {eml.relative_to(ws.outbox)}")
                result.dry_run_files.append(eml)
                continue
            _attempt(ws, ledger, reply, message, now, result)
    return result


def _update(ledger: Ledger, reply_id: int, **values) -> None:
    with ledger.atomic() as conn:
        conn.execute(f"UPDATE mail_replies SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                     [*values.values(), reply_id])


def _attempt(ws: Workspace, ledger: Ledger, reply, message: EmailMessage, now: dt.datetime,
             result: ReplyResult) -> None:
    attempts = reply["attempts"] + 1
    try:
        _smtp_send(ws, message, [reply["address"]])
    except (OSError, smtplib.SMTPException) as exc:
        error, detail = _describe(exc)
        result.error = error
        gave_up = attempts >= ws.smtp.max_attempts
        _update(ledger, reply["id"], attempts=attempts, last_error=f"{error}；原始信息：{detail}",
                status="failed" if gave_up else "pending",
                next_attempt_at=None if gave_up else now_iso(now + backoff_delay(attempts)))
        (result.failed if gave_up else result.queued).append(reply["address"])
        LOG.warning("给 %s 的回复邮件发送失败（%s；原始信息：%s）", reply["address"], error, detail)
        return
    checkpoint("reply-after-smtp")  # the server has the answer; the ledger does not know yet
    _update(ledger, reply["id"], status="sent", attempts=attempts, sent_at=now_iso(now), next_attempt_at=None,
            last_error=None)
    result.sent.append(reply["address"])
    LOG.info("已回复 %s：%s", reply["address"], message["Subject"])


# --- the message --------------------------------------------------------------------------------

def reply_subject(subject: str) -> str:
    subject = (subject or "").strip()
    if not subject:
        return "Re: 月报表回执"
    return subject if re.match(r"(?i)^(re|回复|答复)\s*[:：]", subject) else f"Re: {subject}"


def _form_lines(row, problems: list[Problem], annotated: Path | None) -> list[str]:
    lines = [f"文件：{row['original_name']}", f"  回执编号：{receipt_number(row)}",
             f"  结果：{STATUS_CN.get(row['status'], row['status'])}",
             f"  单位：{row['unit'] or row['folder_unit'] or '—'}", f"  月份：{row['month'] or '—'}"]
    errors = [p for p in problems if p.is_error]
    warnings = [p for p in problems if not p.is_error]
    if row["status"] == REJECTED:
        lines.append(f"  有 {len(errors)} 处问题需要修改后重新报送：")
        lines += [f"    {i}. {(p.location + '：') if p.location else ''}{_by_mail(p, row)}"
                  for i, p in enumerate(errors[:MAX_PROBLEMS], 1)]
        if len(errors) > MAX_PROBLEMS:
            lines.append(f"    ……（其余 {len(errors) - MAX_PROBLEMS} 处见附件）")
        if annotated is not None:
            lines.append(f"  附件“{annotated.name}”是报表的副本，出错的单元格已标红并加了批注。"
                         "改正后直接回复本邮件、附上改好的报表即可。")
    elif warnings:
        lines.append(f"  另有 {len(warnings)} 处提醒（不影响接收），详见回执。")
    return lines


def _by_mail(p: Problem, row) -> str:
    """A problem as a clerk who sent the form by email reads it: the unit is the sender's, not a folder's."""
    if p.code == "unit-mismatch":
        from processor.record.receipts import as_mailed

        mailed = as_mailed(p, row["folder_unit"])
        return mailed.message + mailed.hint
    return p.message


def _intro(ws: Workspace, row, parts) -> list[str]:
    verdict = row["verdict"]
    address = ws.imap.mailbox_address
    others = [p for p in parts if p["kind"] != "form"]
    found = "、".join(f"{p['name']}（{p['note']}）" if p["note"] else p["name"] for p in others)
    how = (f"请把填好的月报表（用企业组下发的模板填写，保存为 .xlsx 文件）作为附件发送到"
           f"{address or '本邮箱'}。")
    if verdict == mb.UNKNOWN_SENDER:
        return [f"您好！本邮箱是{ws.office_name}接收示范点联系指导月报表的邮箱。",
                f"您的邮箱地址（{row['sender']}）不在各单位的报送名册中，邮件中的附件未予收取。",
                "如您代表某单位报送，请用名册中登记的本单位邮箱发送；或请本单位联系企业组，在名册中登记您的邮箱。"]
    if verdict == mb.NO_ATTACHMENT:
        return ["未找到报表附件：您的邮件中没有附件，未收到月报表。", how]
    if verdict == mb.NO_FORM:
        return [f"附件中没有月报表。收到的附件：{found}。", how]
    if verdict == mb.TOO_LARGE:
        return [f"邮件过大（超过 {ws.imap.max_message_mb:g} MB），未予收取。", how]
    if verdict == mb.TOO_MANY:
        return [f"邮件的附件过多（超过 {ws.imap.max_attachments} 个），未予收取。请每封邮件只附本单位的月报表。"]
    lines = [f"{row['unit']}：", "", f"收到您{'的邮件' if not row['subject'] else '的邮件“' + row['subject'] + '”'}，"
             f"其中的月报表已处理，回执如下。"]
    if others:
        lines.append(f"以下附件不是月报表，未予处理：{found}。")
    return lines


def _receipt_body(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    match = re.search(r"<body[^>]*>(.*)</body>", text, re.S | re.I)
    return match.group(1) if match else text


def _receipt_style(path: Path) -> str:
    match = re.search(r"<style[^>]*>.*?</style>", path.read_text(encoding="utf-8"), re.S | re.I)
    return match.group(0) if match else ""


def build_reply(ws: Workspace, ledger: Ledger, roster, reply) -> EmailMessage | None:
    """The answer to one message; None while one of its forms has no receipt yet."""
    from processor.record.receipts import annotated_copy_path

    row = mb.mail_row(ledger, reply["mail_id"])
    parts = mb.mail_parts(ledger, row["id"])
    forms = []
    for part in parts:
        if part["kind"] != "form" or part["file_id"] is None:
            continue
        file_row = ledger.file(part["file_id"])
        if file_row is None or not file_row["receipt_path"]:
            return None
        problems = [Problem.from_dict(p) for p in json.loads(file_row["problems_json"] or "[]")]
        copy = annotated_copy_path(ws, file_row, roster) if file_row["status"] == REJECTED else None
        forms.append((file_row, problems, copy if copy is not None and copy.is_file() else None))
    intro = _intro(ws, row, parts)
    text = list(intro)
    for file_row, problems, copy in forms:
        text += [""] + _form_lines(file_row, problems, copy)
    text += ["", "回执也已存入报送文件夹的“回执”文件夹。本邮件由月报表处理程序自动发送；如有疑问请联系企业组。",
             ws.office_name, ""]
    html_parts = [f"<p>{html.escape(line)}</p>" for line in intro if line]
    style = ""
    for file_row, _, _ in forms:
        receipt = ws.outbox / file_row["receipt_path"]
        if receipt.is_file():
            style = style or _receipt_style(receipt)
            html_parts.append("<hr>" + _receipt_body(receipt))
    html_parts.append(f"<p>{html.escape(ws.office_name)}</p>")

    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = reply_subject(row["subject"])
    message["From"] = sender(ws)
    message["To"] = reply["address"]
    if ws.imap.mailbox_address:
        message["Reply-To"] = ws.imap.mailbox_address
    message["Date"] = format_datetime(office_now(ws))  # the answer's time on the office's clock
    message["Message-ID"] = reply["message_id"]
    if row["message_id"]:
        message["In-Reply-To"] = row["message_id"]
        message["References"] = " ".join(x for x in (row["references_"], row["message_id"]) if x)
    message["Auto-Submitted"] = "auto-replied"  # RFC 3834: an auto-responder on the other side stays quiet
    message.set_content("\n".join(text))
    message.add_alternative(f"<html><head><meta charset=\"utf-8\">{style}</head><body>{''.join(html_parts)}"
                            "</body></html>", subtype="html")
    copies = [copy for _, _, copy in forms if copy is not None]
    if copies:
        message.make_mixed()  # the text and HTML stay one alternative; the copies go beside it
    for copy in copies:
        message.attach(attachment_part(copy, copy.name))
    return message


def watch_mailbox(ws: Workspace, stop, *, intake=None, clock=None) -> None:
    """``serve``'s mailbox thread: take and answer what is in the mailbox, then wait for the next
    message — IMAP IDLE where the server offers it (a message is taken as it arrives), else
    ``imap.poll_interval`` — until ``stop`` is set.  A failure is logged and tried again after the
    interval; it never stops the service."""
    interval = ws.imap.poll_interval
    LOG.info("开始收取报送邮箱 %s（每 %g 秒查看一次；服务器支持 IDLE 时新邮件一到即收取）", mb.mailbox_label(ws), interval)
    looked_at = None
    while not stop.is_set():
        try:
            result = fetch_mail(ws, intake=intake, now=clock() if clock else None,
                                roster=intake.roster if intake is not None else None)
            if result.replies.queued:
                LOG.warning("%d 封回复邮件发送失败，稍后重试：%s", len(result.replies.queued), result.replies.error)
            looked_at = result.report.looked_at
        except (mb.MailboxError, ConfigError, StorageError, SendBusy) as exc:
            LOG.error("收取报送邮箱失败：%s；%g 秒后重试", exc, interval)
            stop.wait(interval)
            continue
        except Exception:  # noqa: BLE001 — logged; the next round tries again, the service goes on
            LOG.exception("收取报送邮箱时出错；%g 秒后重试", interval)
            stop.wait(interval)
            continue
        _wait_for_mail(ws, stop, interval, looked_at)


IDLE_SLICE_SECONDS = 5.0  # how soon a waiting IDLE notices that the service is stopping


def _wait_for_mail(ws: Workspace, stop, interval: float, looked_at: tuple[int, frozenset] | None = None) -> None:
    """Wait for the next message.  IDLE reports only what arrives after it starts: a message that came
    between the last fetch and this wait (``looked_at``: the folder as that fetch saw it) ends the wait
    at once."""
    import time

    until = time.monotonic() + interval
    try:
        mailbox = mb.Mailbox(ws, readonly=True)
    except (mb.MailboxError, ConfigError):
        stop.wait(interval)
        return
    try:
        if not mailbox.offers_idle:
            stop.wait(interval)
            return
        if looked_at is not None and _arrived_since(mailbox, *looked_at):
            return  # it came while the last round was being answered
        while not stop.is_set() and (left := until - time.monotonic()) > 0:
            if mailbox.idle(min(IDLE_SLICE_SECONDS, left)):
                return
    except (mb.MailboxError, OSError) as exc:
        LOG.debug("IDLE ended: %r", exc)
        stop.wait(max(0.0, until - time.monotonic()))
    finally:
        mailbox.close()


def _arrived_since(mailbox, uidvalidity: int, seen: frozenset) -> bool:
    return mailbox.uidvalidity != uidvalidity or not set(mailbox.uids()) <= seen


def replies_of(ledger: Ledger) -> list[dict]:
    return [dict(r) for r in ledger.query("SELECT * FROM mail_replies ORDER BY id")]


__all__ = ["FetchResult", "ReplyResult", "build_reply", "fetch_mail", "queue_reply", "send_replies"]
