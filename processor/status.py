"""Submission status per month: who reported on time, late, not yet, or was sent back.

One definition used by ``processor status``, the 催报名单 and rule M-4b.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from processor.ledger import Ledger
from processor.periods import submission_deadline

ON_TIME, LATE, MISSING, RESUBMIT = "按时报送", "逾期报送", "未报送", "已退回待重报"


@dataclass
class UnitStatus:
    unit: str
    kind: str
    month: str
    deadline: dt.date
    state: str  # ON_TIME / LATE / MISSING / RESUBMIT
    received: dt.date | None  # date of the current accepted submission
    days_late: int  # days past the deadline (as of today for missing ones)
    resubmissions: int  # accepted files that replaced an earlier one
    rejections: int

    def to_dict(self) -> dict:
        data = asdict(self)
        data["deadline"] = self.deadline.isoformat()
        data["received"] = self.received.isoformat() if self.received else None
        return data


def month_status(ledger: Ledger, roster, rulebook, month: str, today: dt.date) -> list[UnitStatus]:
    """One line per roster unit for ``month``, in roster order."""
    deadline = submission_deadline(month, rulebook.submission_deadline_day)
    arrivals: dict[str, list] = {}
    for row in ledger.files(month=month):
        # The per-unit inbox folder is authoritative: a file there counts for that unit even
        # when its 填报单位 was misspelt (and rejected for it).
        unit = row["folder_unit"] or row["unit"]
        if unit:
            arrivals.setdefault(unit, []).append(row)
    result = []
    for unit in roster.units:
        rows = arrivals.get(unit.name, [])
        current = next((r for r in reversed(rows) if r["status"] == "accepted"), None)
        rejections = sum(r["status"] == "rejected" for r in rows)
        resubmissions = sum(1 for r in rows if r["replaces"])
        if current is not None:
            # Timeliness counts from the first acceptable submission; a later correction is a resubmission.
            first_ok = next(r for r in rows if r["status"] in ("accepted", "superseded"))
            received = dt.datetime.fromisoformat(first_ok["received_at"]).date()
            late = max(0, (received - deadline).days)
            state = LATE if late else ON_TIME
        else:
            received = None
            late = max(0, (today - deadline).days)
            state = RESUBMIT if rejections else MISSING
        result.append(UnitStatus(unit.name, unit.kind, month, deadline, state, received, late,
                                 resubmissions, rejections))
    return result


def status_counts(lines: list[UnitStatus]) -> dict[str, int]:
    return {state: sum(1 for s in lines if s.state == state) for state in (ON_TIME, LATE, MISSING, RESUBMIT)}


def recent_rejections(ledger: Ledger, limit: int = 10) -> list:
    return ledger.query("SELECT * FROM files WHERE status = 'rejected' ORDER BY id DESC LIMIT ?", (limit,))


def status_report(ws, ledger: Ledger, roster, month: str, today: dt.date) -> dict:
    lines = month_status(ledger, roster, ws.rulebook, month, today)
    counts = {r[0]: r[1] for r in ledger.query("SELECT status, COUNT(*) FROM files GROUP BY status")}
    return {
        "month": month,
        "deadline": lines[0].deadline.isoformat() if lines else None,
        "units": [line.to_dict() for line in lines],
        "summary": status_counts(lines),
        "files_by_status": counts,
        "recent_rejections": [
            {"id": r["id"], "file": r["original_name"], "unit": r["unit"] or r["folder_unit"],
             "month": r["month"], "received_at": r["received_at"], "errors": r["error_count"]}
            for r in recent_rejections(ledger)],
    }


def latest_due_month(rulebook, today: dt.date) -> str:
    """The latest month whose submission deadline has passed (on 2026-11-26: 2026-10)."""
    from processor.periods import add_months, month_of

    month = add_months(month_of(today), -1)
    while submission_deadline(month, rulebook.submission_deadline_day) >= today:
        month = add_months(month, -1)
    return month
