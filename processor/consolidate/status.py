"""Submission status per month: who reported on time, late, not yet, or was sent back.

A view for ``processor status`` over :func:`processor.consolidate.submissions.submission_states`,
the one definition of timeliness that rule M-4b and the 催报名单 use too.
"""

from __future__ import annotations

import datetime as dt

from processor.consolidate.findings import LATE, MISSING, NOT_DUE, ON_TIME, RETURNED, submission_states
from processor.record.ledger import Ledger
from processor.common.periods import submission_deadline
from processor.validate.roster import read_ledger_as

STATES = (ON_TIME, LATE, MISSING, RETURNED, NOT_DUE)


def status_report(ws, ledger: Ledger, roster, month: str, today: dt.date) -> dict:
    ws.rulebook.require(month)
    # a renamed unit's earlier forms are its own; a bad roster cell or a vanished unit is said
    warnings = [*getattr(roster, "warnings", []), *read_ledger_as(roster, ledger)]
    files = [dict(r) for r in ledger.files()]
    states = submission_states(files, ws.rulebook, [u.name for u in roster.units], month, today)
    kinds = {u.name: u.kind for u in roster.units}
    counts = {r[0]: r[1] for r in ledger.query("SELECT status, COUNT(*) FROM files GROUP BY status")}
    by_id = {f["id"]: f for f in files}
    return {
        "month": month,
        "deadline": submission_deadline(month, ws.rulebook.submission_deadline_day).isoformat(),
        "units": [{
            "unit": s.unit, "kind": kinds[s.unit], "state": s.state,
            "received": s.received.isoformat() if s.received else None, "days_late": s.days_late,
            "resubmissions": s.resubmissions,
            "rejections": sum(by_id[i]["status"] == "rejected" for i in s.file_ids),
        } for s in states],
        "summary": {state: sum(s.state == state for s in states) for state in STATES},
        "files_by_status": counts,
        "recent_rejections": [
            {"id": r["id"], "file": r["original_name"], "unit": r["folder_unit"] or r["unit"],
             "month": r["month"], "received_at": r["received_at"], "errors": r["error_count"]}
            for r in ledger.query("SELECT * FROM files WHERE status = 'rejected' ORDER BY id DESC LIMIT 10")],
        "warnings": warnings,
    }
