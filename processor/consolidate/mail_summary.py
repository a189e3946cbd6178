"""The delivery mail's summary of a month when the manifest has none: counted from the ledger."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from processor.common.clock import office_today
from processor.common.config import Workspace
from processor.common.periods import month_cn
from processor.consolidate.findings import LATE, MISSING, ON_TIME, RETURNED, evaluate, submission_states
from processor.consolidate.ledger_data import LedgerData
from processor.record.ledger import Ledger
from processor.validate.roster import read_ledger_as, workspace_roster

LOG = logging.getLogger(__name__)


def ledger_summary(ws: Workspace, ledger: Ledger, month: str | None, today: dt.date | None = None) -> str:
    """The month's summary for the delivery mail, counted from the ledger and the roster as of
    ``today`` (the send's day on the office's clock; the clock's today by default) when consolidation
    left none in the manifest."""
    today = today or office_today(ws)
    if not month:
        rows = ledger.query("SELECT MAX(month) FROM files WHERE status = 'accepted'")
        month = rows[0][0] if rows and rows[0][0] else None
    if not month:
        return "汇总报告已生成，详见附件。"
    try:
        roster = workspace_roster(ws)
        read_ledger_as(roster, ledger)  # a renamed unit's earlier forms are its own
        units = [u.name for u in roster.units]
        lines = submission_states([dict(r) for r in ledger.files()], ws.rulebook, units, month, today)
    except Exception as exc:  # noqa: BLE001 — a missing roster must not stop the mail
        LOG.warning("读取名册失败，邮件正文只给出收件统计：%s", exc)
        accepted = len(ledger.files(month=month, status="accepted"))
        rejected = len(ledger.files(month=month, status="rejected"))
        return f"{month_cn(month)}共接收月报表 {accepted} 份，退回 {rejected} 份，详见附件。"
    count = {state: [s.unit for s in lines if s.state == state] for state in (ON_TIME, LATE, MISSING, RETURNED)}
    text = (f"{month_cn(month)}报送情况：按时报送 {len(count[ON_TIME])} 个单位，逾期报送 {len(count[LATE])} 个，"
            f"未报送 {len(count[MISSING])} 个，已退回待重报 {len(count[RETURNED])} 个。")
    absent = count[MISSING] + count[RETURNED]
    if absent:
        text += f"\n尚未报送（或待重报）的单位：{'、'.join(absent)}。"
    findings = _findings_sentence(ws, ledger, workspace_roster(ws), month, today)
    return text + (f"\n{findings}" if findings else "")


def _findings_sentence(ws: Workspace, ledger: Ledger, roster, month: str, today: dt.date) -> str:
    """How many requirements of the opinion are not (yet) met, by status and clause."""
    try:
        data = LedgerData.load(ledger, until=month)
        findings = [f for f in evaluate(data, ws.rulebook, roster, months=[month], today=today)
                    if f.is_open]
    except Exception as exc:  # noqa: BLE001 — the mail goes out even if the count cannot be made
        LOG.warning("统计发现问题失败，邮件正文不含问题数：%s", exc)
        return ""
    if not findings:
        return "对照《意见》各项要求，未发现问题。"
    by_status = Counter(f.status_cn for f in findings)
    by_clause = Counter(f.clause for f in findings)
    return (f"对照《意见》各项要求发现问题 {len(findings)} 项（"
            + "，".join(f"{k} {v} 项" for k, v in by_status.most_common()) + "），涉及条款 "
            + "、".join(f"{c}（{n}）" for c, n in sorted(by_clause.items())) + "，详见月度汇总报告。")
