"""催报 reminders: mail each unit whose monthly form is not in (SPEC §11).

Three kinds, each for one unit and one form month:

* ``提醒`` — from ``remind.days_before`` days before the deadline, the form has not come;
* ``催报`` — after the deadline, the form has still not come (again every ``remind.repeat_days``);
* ``退回`` — the form was rejected and not yet resubmitted: the rejection reasons in the text,
  the annotated copy attached (once per rejected file before the deadline, then once per
  interval like 催报).

Each (unit, month, kind, interval) is one row of the ledger table ``reminders`` (UNIQUE), so a
reminder goes out at most once per interval, however often ``remind`` runs and across restarts.
The row is written before the server is contacted and marked ``sent`` only after it took the mail;
a failed send waits with the same back-off as report mail and is retried by a later run.  A unit
that submits gets no more reminders, and a queued one for it is cancelled.  Mail goes through
the same SMTP path as report mail (:mod:`processor.deliver`); dry-run writes ``.eml`` files.
"""

from __future__ import annotations

import datetime as dt
import email
import email.errors
import json
import logging
import smtplib
from dataclasses import dataclass, field
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path

from filelock import FileLock

from processor.common import cnfmt
from processor.common.clock import local_date, office_now
from processor.common import periods as P
from processor.common.config import Workspace
from processor.common.faults import checkpoint
from processor.deliver.mail import (SEND_LOCK, SEND_LOCK_WAIT, _describe, _failures_said, _smtp_send, _write_eml,
                                    backoff_delay, check_smtp_config, waiting_reason)
from processor.deliver.message import MAIL_POLICY, RAW_POLICY, attachment_part, sender
from processor.validate.errors import Problem
from processor.consolidate.findings import LATE, ON_TIME, RETURNED, submission_states
from processor.record.ledger import REJECTED, Ledger, now_iso

LOG = logging.getLogger(__name__)

BEFORE, CHASE, RETURN = "提醒", "催报", "退回"
KINDS = (BEFORE, CHASE, RETURN)
MAX_REASONS = 20  # a mail lists this many rejection reasons; the annotated copy has them all
_DONE = ("sent", "failed", "cancelled")


@dataclass(frozen=True)
class Reminder:
    """One reminder due now: who, which form month, which kind, which interval."""

    unit: str
    address: str
    month: str
    kind: str
    slot: str  # the interval's first day (ISO); for 退回 also the rejected file
    deadline: dt.date
    days_late: int = 0
    rejected_id: int | None = None


@dataclass
class RemindResult:
    enabled: bool = True
    month: str | None = None
    sent: list[Reminder] = field(default_factory=list)
    queued: list[Reminder] = field(default_factory=list)  # failed now, retried by a later run
    failed: list[Reminder] = field(default_factory=list)  # given up after smtp.max_attempts
    dry_run_files: list[Path] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)  # units due a reminder but without an email
    error: str | None = None
    warnings: list[str] = field(default_factory=list)  # for the operator, in Chinese (e.g. a bad roster cell)

    @property
    def ok(self) -> bool:
        return not self.queued and not self.failed


# --- who is due what ------------------------------------------------------------------------

def reminder_month(today: dt.date) -> str:
    """The form month a day's reminders are about: last month's form is due this month."""
    return P.add_months(P.month_of(today), -1)


def interval_start(ws: Workspace, deadline: dt.date, today: dt.date) -> dt.date | None:
    """The first day of the reminder interval ``today`` is in, or None before the first one.

    Before the deadline the one interval starts ``days_before`` days ahead of it (none when 0);
    after it, intervals of ``repeat_days`` start the day after the deadline (one only when 0)."""
    settings = ws.remind
    if today <= deadline:
        if not settings.days_before:
            return None
        start = deadline - dt.timedelta(days=settings.days_before)
        return start if today >= start else None
    first = deadline + dt.timedelta(days=1)
    if not settings.repeat_days:
        return first
    return first + dt.timedelta(days=(today - first).days // settings.repeat_days * settings.repeat_days)


def due_reminders(ws: Workspace, ledger: Ledger, roster, today: dt.date, month: str | None = None
                  ) -> tuple[list[Reminder], list[str]]:
    """The reminders due on ``today`` for ``month`` (last month by default), and the units that
    would get one but have no email address in the roster."""
    rulebook = ws.rulebook
    month = month or reminder_month(today)
    if month not in rulebook.months:
        return [], []
    deadline = P.submission_deadline(month, rulebook.submission_deadline_day)
    ledger.read_units_as(roster.aliases)  # a renamed unit's earlier forms are its own
    files = [dict(r) for r in ledger.files(month=month)]
    states = submission_states(files, rulebook, [u.name for u in roster.units], month, today)
    due, no_address = [], []
    for s in states:
        if s.state in (ON_TIME, LATE):
            continue
        start = interval_start(ws, deadline, today)
        if s.state == RETURNED:
            rejected = max(f["id"] for f in files if f["id"] in s.file_ids and f["status"] == REJECTED)
            base = "截止前" if today <= deadline else start.isoformat()
            reminder = Reminder(s.unit, "", month, RETURN, f"{base}/{rejected}", deadline, s.days_late, rejected)
        elif start is None:
            continue
        else:
            kind = BEFORE if today <= deadline else CHASE
            reminder = Reminder(s.unit, "", month, kind, start.isoformat(), deadline, s.days_late)
        address = (roster.unit(s.unit).email or "").strip()
        if not address:
            no_address.append(s.unit)
            continue
        due.append(Reminder(**{**reminder.__dict__, "address": address}))
    return due, no_address


# --- the mail ----------------------------------------------------------------------------------

def _lead(r: Reminder, month_cn: str, deadline_cn: str) -> str:
    if r.kind == BEFORE:
        return f"{month_cn}的示范点联系指导月报表将于{deadline_cn}截止报送，贵单位尚未报送，请按时报送。"
    if r.kind == CHASE:
        return (f"{month_cn}的示范点联系指导月报表已于{deadline_cn}截止报送，贵单位至今未报送"
                f"（已逾期{r.days_late}天），请尽快报送。")
    late = f"，报送截止日期{deadline_cn}已过（已逾期{r.days_late}天）" if r.days_late else f"，报送截止日期为{deadline_cn}"
    return f"贵单位报送的{month_cn}示范点联系指导月报表未通过审核，已退回，至今尚未重新报送{late}。请修改后重新报送。"


def _state_cn(r: Reminder) -> str:
    return "已退回待重报" if r.kind == RETURN else "未报送"


def _rejection(ws: Workspace, ledger: Ledger, roster, r: Reminder) -> tuple[list[str], Path | None, dict | None]:
    """The rejected file's reasons (one line each), its annotated copy if written, and its row."""
    from processor.record.receipts import annotated_copy_path

    row = ledger.file(r.rejected_id)
    problems = [Problem.from_dict(p) for p in json.loads(row["problems_json"] or "[]")]
    lines = [f"{p.location + '：' if p.location else ''}{p.message}" for p in problems if p.is_error]
    copy = annotated_copy_path(ws, row, roster)
    return lines, (copy if copy.is_file() else None), dict(row)


def build_reminder(ws: Workspace, ledger: Ledger, roster, r: Reminder,
                   message_id: str | None = None, now: dt.datetime | None = None) -> email.message.EmailMessage:
    """The Chinese mail of one reminder: month, deadline, the unit's state and how to submit.
    ``message_id``: the one it was given when first queued (a retry); a new one by default.
    ``now``: the run's time on the office's clock (the mail's Date), by default the clock's now."""
    month_cn, deadline_cn = P.month_cn(r.month), cnfmt.cn_date(r.deadline)
    lines = [f"{r.unit}：", "", _lead(r, month_cn, deadline_cn), "",
             f"  报送月份：{month_cn}", f"  截止日期：{deadline_cn}", f"  当前状态：{_state_cn(r)}"]
    attachment = None
    if r.kind == RETURN:
        reasons, attachment, row = _rejection(ws, ledger, roster, r)
        received = cnfmt.cn_date(local_date(row["received_at"], ws))
        lines += ["", f"{received}收到的文件“{row['original_name']}”有以下 {len(reasons)} 处问题需要修改："]
        lines += [f"  {i}. {text}" for i, text in enumerate(reasons[:MAX_REASONS], 1)]
        if len(reasons) > MAX_REASONS:
            lines.append(f"  ……（其余 {len(reasons) - MAX_REASONS} 处见附件）")
        if attachment is not None:
            lines.append(f"附件“{attachment.name}”是贵单位报表的副本，出错的单元格已标红并加了批注。")
    folder = ws.inbox / r.unit
    place = f"报送文件夹中本单位的文件夹（{folder}）" if folder.is_dir() else f"报送文件夹（{ws.inbox}）"
    lines += ["", "报送方法：请用企业组下发的月报表模板填写本单位" f"{month_cn}的报表，保存为 .xlsx 文件后放入"
              f"{place}，也可按原方式发给企业组。系统收到后会生成回执。",
              "如已报送，请忽略本邮件。", "", "本邮件由月报表处理程序自动发送，请勿直接回复；如有疑问请联系企业组。",
              ws.office_name, ""]
    root = MIMEMultipart()
    subject = f"{ws.title_prefix}【{r.kind}】{month_cn}示范点联系指导月报表（{r.unit}）"
    root["Subject"] = Header(subject, "utf-8").encode(maxlinelen=10_000)
    root["From"] = sender(ws)
    root["To"] = r.address
    root["Date"] = format_datetime(now or office_now(ws))  # the run's time on the office's clock
    domain = (ws.smtp.sender or ws.smtp.user or "processor.local").rpartition("@")[2] or "processor.local"
    root["Message-ID"] = message_id or make_msgid(domain=domain)
    root.attach(MIMEText("\n".join(lines), "plain", "utf-8"))
    if attachment is not None:
        root.attach(attachment_part(attachment, attachment.name))
    return email.message_from_bytes(root.as_bytes(policy=RAW_POLICY), policy=MAIL_POLICY)


# --- the record ----------------------------------------------------------------------------------

def _row(ledger: Ledger, r: Reminder):
    rows = ledger.query("SELECT * FROM reminders WHERE unit = ? AND month = ? AND kind = ? AND slot = ?",
                        (r.unit, r.month, r.kind, r.slot))
    return rows[0] if rows else None


def _record(ledger: Ledger, r: Reminder, now: dt.datetime, **values) -> None:
    with ledger.atomic() as conn:
        conn.execute("INSERT OR IGNORE INTO reminders (unit, month, kind, slot, address, status, created_at) "
                     "VALUES (?, ?, ?, ?, ?, 'pending', ?)", (r.unit, r.month, r.kind, r.slot, r.address,
                                                               now_iso(now)))
        if values:
            conn.execute(f"UPDATE reminders SET {', '.join(f'{k} = ?' for k in values)} "
                         "WHERE unit = ? AND month = ? AND kind = ? AND slot = ?",
                         [*values.values(), r.unit, r.month, r.kind, r.slot])


def _cancel_stale(ledger: Ledger, month: str, due: list[Reminder], now: dt.datetime) -> None:
    """A queued reminder no longer due (the unit submitted, or a new interval began) is not retried."""
    current = {(r.unit, r.kind, r.slot) for r in due}
    with ledger.atomic() as conn:
        for row in conn.execute("SELECT * FROM reminders WHERE month = ? AND status = 'pending'", (month,)).fetchall():
            if (row["unit"], row["kind"], row["slot"]) not in current:
                conn.execute("UPDATE reminders SET status = 'cancelled', next_attempt_at = NULL, last_error = ? "
                             "WHERE id = ?", (f"已不需要催报（{now_iso(now)}）", row["id"]))


# --- sending -----------------------------------------------------------------------------------------

def send_reminders(ws: Workspace, *, dry_run: bool = False, now: dt.datetime | None = None,
                   month: str | None = None) -> RemindResult:
    """Mail every reminder due now (``.eml`` files when ``dry_run`` or no SMTP host is configured).

    Nothing at all happens while ``remind.enabled`` is false."""
    from processor.validate.roster import read_ledger_as, workspace_roster

    now = now or office_now(ws)
    today = local_date(now, ws)
    month = month or reminder_month(today)
    if not ws.remind.enabled:
        return RemindResult(enabled=False, month=month)
    dry_run = dry_run or not ws.smtp.host
    if not dry_run:
        check_smtp_config(ws, to_office=False)
    result = RemindResult(month=month)
    roster = workspace_roster(ws)
    result.warnings += roster.warnings  # a unit whose e-mail cell is unusable has no address: said here
    # the send lock of report mail: two runs at once would both see a reminder as unsent
    lock = FileLock(str(Path(ws.root) / SEND_LOCK), timeout=max(SEND_LOCK_WAIT, ws.smtp.deadline_seconds + 60))
    with _failures_said(ws, lock.timeout), lock, Ledger(ws.ledger_path) as ledger:
        result.warnings += read_ledger_as(roster, ledger)
        due, result.no_address = due_reminders(ws, ledger, roster, today, month)
        if not dry_run:
            _cancel_stale(ledger, month, due, now)
        for r in due:
            row = _row(ledger, r)
            if row is not None and (row["status"] in _DONE or (dry_run and row["status"] == "dry-run")):
                continue
            if not dry_run and row is not None and row["status"] == "pending" and row["next_attempt_at"] \
                    and dt.datetime.fromisoformat(row["next_attempt_at"]) > now:
                result.queued.append(r)
                result.error = waiting_reason(row["last_error"], row["next_attempt_at"])
                continue
            try:
                # a retry is the same message: it keeps the Message-ID it was queued with
                queued_id = row["message_id"] if row is not None and row["status"] == "pending" else None
                message = build_reminder(ws, ledger, roster, r, None if dry_run else queued_id, now)
            except (ValueError, email.errors.MessageError) as exc:  # one unit's mail never stops the others
                LOG.error("给 %s 的%s邮件无法生成（%s），已跳过", r.unit, r.kind, exc)
                result.warnings.append(f"给 {r.unit} 的{r.kind}邮件无法生成（{exc}），已跳过")
                continue
            if dry_run:
                eml = _write_eml(ws, message, now)
                if row is None:
                    _record(ledger, r, now, status="dry-run", message_id=message["Message-ID"],
                            last_error=f"已写入 {eml.relative_to(ws.outbox).as_posix()}")
                result.dry_run_files.append(eml)
                continue
            _attempt(ws, ledger, r, row, message, now, result)
    for unit in result.no_address:
        LOG.warning("%s 应收到催报邮件，但名册中没有该单位的电子邮箱", unit)
    return result


def _attempt(ws: Workspace, ledger: Ledger, r: Reminder, row, message, now: dt.datetime,
             result: RemindResult) -> None:
    attempts = (row["attempts"] if row is not None else 0) + 1
    _record(ledger, r, now, status="pending", message_id=message["Message-ID"])  # the row exists before we connect
    try:
        _smtp_send(ws, message, [r.address])
    except (OSError, smtplib.SMTPException) as exc:
        error, detail = _describe(exc)
        result.error = error
        gave_up = attempts >= ws.smtp.max_attempts
        _record(ledger, r, now, attempts=attempts, last_error=f"{error}；原始信息：{detail}",
                status="failed" if gave_up else "pending",
                next_attempt_at=None if gave_up else now_iso(now + backoff_delay(attempts)))
        (result.failed if gave_up else result.queued).append(r)
        LOG.warning("给 %s 的%s邮件发送失败（%s；原始信息：%s）", r.unit, r.kind, error, detail)
        return
    checkpoint("remind-after-smtp")  # the server has the reminder; the ledger does not know yet
    _record(ledger, r, now, status="sent", attempts=attempts, sent_at=now_iso(now), next_attempt_at=None,
            last_error=None)
    result.sent.append(r)
    LOG.info("已给 %s（%s）发送%s邮件：%s", r.unit, r.address, r.kind, P.month_cn(r.month))
