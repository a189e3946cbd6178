"""The report mail itself: subject, body, the month's summary and the attachments, as bytes a
Chinese mail client reads (:func:`build_message`).  Whether and when it goes is :mod:`processor.deliver.mail`.
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
import socket
import urllib.parse
from collections.abc import Callable
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr, format_datetime, make_msgid
from pathlib import Path

from processor.common.clock import local_date, office_now, office_today
from processor.common.config import ConfigError, Workspace
from processor.common.outputs import edited_original
from processor.common.periods import MONTH_RE, month_cn, month_of
from processor.record.ledger import Ledger

SUBJECT_TITLE = "企业组示范点联系指导工作报告"
NO_RECIPIENTS = "undisclosed-recipients:;"
# Headers are written unfolded up to the RFC 5322 hard limit: some Chinese mail
# clients mis-read RFC 2231 continuations (filename*0*=, filename*1*=).
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)
RAW_POLICY = policy.compat32.clone(max_line_length=998, linesep="\r\n")
# base64 bodies are encoded when they are added, in lines of the policy's length: RFC 2045's 76
BODY_POLICY = MAIL_POLICY.clone(max_line_length=76)

# --- the message ----------------------------------------------------------------------------

def _period_label(outputs, summary_month: str | None, today: dt.date) -> str:
    months = sorted(str(o["period"])[:7] for o in outputs if o["period"] and MONTH_RE.match(str(o["period"])[:7]))
    month = summary_month or (months[-1] if months else None)
    return month_cn(month) if month else month_cn(month_of(today))


def subject_for(ws: Workspace, outputs, summary_month: str | None = None, *, today: dt.date | None = None) -> str:
    """The mail's subject: the month it reports on (the send's own month, ``today``, when no report
    names one), and （更新） when a report goes again in a new version."""
    updated = any((o["version"] or 1) > 1 for o in outputs)
    label = _period_label(outputs, summary_month, today or office_today(ws))
    return f"{ws.title_prefix}{SUBJECT_TITLE}（{label}）{'（更新）' if updated else ''}"


def attachment_part(path: Path, name: str) -> EmailMessage:
    """``path`` as an attachment called ``name`` that reads in every mail client, for the report mail
    and the reminders alike: the RFC 2231 ``filename*=`` the standard asks for, in one unfolded line
    (some Chinese clients mis-read continuations), and an RFC 2047 ``name=`` on Content-Type for older
    Outlook/Foxmail, which read only that.  The email package would decode an encoded word given as a
    parameter and write it as RFC 2231 ``name*=``, so both headers are stored as written; the part then
    reads the same under the report mail's policy and the reminders' compat32 one."""
    ctype, _ = mimetypes.guess_type(name)
    maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
    part = EmailMessage(policy=BODY_POLICY)
    part.set_content(path.read_bytes(), maintype=maintype, subtype=subtype)  # base64 in lines of 76
    del part["Content-Type"]
    part.set_raw("Content-Type", f'{maintype}/{subtype}; name="{_legacy_name(name)}"')
    part.set_raw("Content-Disposition", f"attachment; filename*=utf-8''{urllib.parse.quote(name, safe='')}")
    return part


def _legacy_name(name: str) -> str:
    return Header(name, "utf-8").encode(maxlinelen=10_000)  # one encoded word: never folded


def attachment_names(outputs) -> list[str]:
    """File names as the recipient sees them: the month in front when the name lacks it
    (``催报名单.docx`` → ``2026年10月催报名单.docx``), and never two alike in one mail."""
    names, seen = [], set()
    for o in outputs:
        name = Path(edited_original(o["path"]) or o["path"]).name  # a new version goes under the report's name
        period = str(o["period"] or "")
        if MONTH_RE.match(period) and month_cn(period) not in name and period not in name:
            name = f"{month_cn(period)}{name}"
        stem, suffix, n = Path(name).stem, Path(name).suffix, 1
        while name in seen:
            n += 1
            name = f"{stem}（{n}）{suffix}"
        seen.add(name)
        names.append(name)
    return names


def sender(ws: Workspace) -> str:
    address = ws.smtp.sender or ws.smtp.user
    if not address:
        if ws.smtp.host:
            raise ConfigError("配置项 smtp.sender（发件人地址）为空，请在 config.toml 的 [smtp] 中填写")
        address = f"processor@{socket.gethostname() or 'localhost'}"
    return formataddr((ws.office_name, address), charset="utf-8") if ws.office_name else address


def build_message(ws: Workspace, outputs, summary: str, *, to: list[str] | None = None,
                  message_id: str | None = None, now: dt.datetime | None = None) -> EmailMessage:
    """One email with every report in ``outputs`` attached (bytes as in the outbox).
    ``to``: its recipients (the configured ``smtp.recipients`` by default); ``message_id``: the
    Message-ID a queued message was given (a new one by default); ``now``: the send's time on the
    office's clock (its Date, and its month when no report names one), by default the clock's now."""
    now = now or office_now(ws)
    month = summary_month(outputs)
    message = EmailMessage(policy=BODY_POLICY)
    message["Subject"] = subject_for(ws, outputs, month, today=local_date(now, ws))
    message["From"] = sender(ws)
    # RFC 5322's empty group: a rehearsal without recipients still has a To: every client shows sensibly
    message["To"] = ", ".join(ws.smtp.recipients if to is None else to) or NO_RECIPIENTS
    message["Date"] = format_datetime(now)
    domain = (ws.smtp.sender or ws.smtp.user or "processor.local").rpartition("@")[2] or "processor.local"
    message["Message-ID"] = message_id or make_msgid(domain=domain)
    listing = "\n".join(f"  {i}. {name}" + (f"（第 {o['version']} 版）" if (o["version"] or 1) > 1 else "")
                        for i, (o, name) in enumerate(zip(outputs, attachment_names(outputs), strict=True), 1))
    # which version goes: the processor's new one (current data); a person's changed file stays theirs
    edited = [original for o in outputs if (original := edited_original(o["path"]))]
    note = ("\n\n说明：发件箱中以下报告已被人工修改过，修改过的文件原样保留，未随本邮件发送；"
            "本邮件所附为程序按最新数据生成的新版：\n" + "\n".join(f"  {p}" for p in edited)) if edited else ""
    body = (f"各位同志：\n\n{summary.strip()}\n\n本邮件附件（{len(outputs)} 个）：\n{listing}{note}\n\n"
            f"本邮件由月报表处理程序自动发送，请勿直接回复。\n{ws.office_name}\n")
    message.set_content(body, cte="base64")  # 7-bit on the wire, as every server accepts
    message.make_mixed()
    for output, name in zip(outputs, attachment_names(outputs), strict=True):
        message.attach(attachment_part(ws.outbox / output["path"], name))
    message.policy = MAIL_POLICY  # headers are written unfolded up to 998 characters
    return message


# --- the summary ----------------------------------------------------------------------------

def summary_month(outputs) -> str | None:
    months = sorted(str(o["period"])[:7] for o in outputs if o["period"] and MONTH_RE.match(str(o["period"])[:7]))
    return months[-1] if months else None


def month_summary(ws: Workspace, ledger: Ledger, month: str | None,
                  fallback: Callable[[Workspace, Ledger, str | None, dt.date], str] | None = None, *,
                  today: dt.date | None = None) -> str:
    """A few Chinese sentences on the month: from ``outbox/manifest.json`` when consolidation
    wrote one, else ``fallback(ws, ledger, month, today)`` counts them from the ledger as of
    ``today`` (the send's day on the office's clock)."""
    text = _summary_from_manifest(ws, month)
    if text:
        return text
    return fallback(ws, ledger, month, today or office_today(ws)) if fallback else "汇总报告已生成，详见附件。"


def _summary_from_manifest(ws: Workspace, month: str | None) -> str | None:
    path = ws.outbox / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    summary = manifest.get("summary") if isinstance(manifest, dict) else None
    if isinstance(summary, str) and summary.strip():
        return summary.strip()
    if not isinstance(summary, dict):
        return None
    month = summary.get("month") or manifest.get("month") or month
    label = month_cn(month) if month and MONTH_RE.match(str(month)) else "本月"
    parts = []
    for key, words in (("on_time", "按时报送"), ("late", "逾期报送"), ("missing", "未报送"),
                       ("resubmit", "已退回待重报")):
        value = summary.get(key)
        if value is not None:
            count = len(value) if isinstance(value, list) else value
            parts.append(f"{words} {count} 个单位")
    lines = [f"{label}报送情况：{'，'.join(parts)}。" if parts else f"{label}汇总报告已生成。"]
    missing = summary.get("missing")
    if isinstance(missing, list) and missing:
        lines.append(f"未报送单位：{'、'.join(map(str, missing))}。")
    findings = summary.get("findings")
    if isinstance(findings, dict) and findings:
        lines.append("发现问题：" + "，".join(f"{k} {v} 项" for k, v in findings.items()) + "。")
    elif isinstance(findings, int):
        lines.append(f"发现问题 {findings} 项。")
    return "\n".join(lines)
