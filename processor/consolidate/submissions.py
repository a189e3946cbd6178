"""Monthly submission states (M-4b): how each unit's form for a month stands, as of a day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from processor.common import periods
from processor.common.rulebook import Rulebook
from processor.consolidate.ledger_data import received_instant, received_on, submitting_unit
from processor.record.ledger import ACCEPTED, REJECTED, SUPERSEDED

# Monthly submission states (M-4b), as the reports and the reminder list name them.
ON_TIME, LATE, MISSING, RETURNED, NOT_DUE = "按时报送", "逾期报送", "未报送", "已退回待重报", "未到截止日期"


@dataclass
class SubmissionState:
    """How one unit's form for one month stands (M-4b)."""

    unit: str
    month: str
    deadline: dt.date
    state: str  # ON_TIME / LATE / MISSING / RETURNED / NOT_DUE
    received: dt.date | None = None  # first accepted arrival
    days_late: int = 0
    resubmissions: int = 0  # accepted arrivals after the first
    file_ids: list[int] = field(default_factory=list)
    returned: int = 0  # rejected arrivals (a unit may be returned, then resubmit)


def submission_states(files: list[dict], rulebook: Rulebook, units: list[str], month: str,
                      today: dt.date) -> list[SubmissionState]:
    """On time / late / missing / returned for every unit, as of ``today``."""
    deadline = periods.submission_deadline(month, rulebook.submission_deadline_day)
    by_unit: dict[str | None, list[dict]] = {}  # one pass over the arrivals, not one per unit
    for f in files:
        if f["month"] == month:
            by_unit.setdefault(submitting_unit(f), []).append(f)
    out = []
    for unit in units:
        mine = by_unit.get(unit, [])
        # the first form received (not the first handled) decides on time or late
        valid = sorted((f for f in mine if f["status"] in (ACCEPTED, SUPERSEDED)),
                       key=lambda f: (received_instant(f, rulebook.timezone), f["id"]))
        if valid:
            received = received_on(valid[0], rulebook.timezone)
            late = (received - deadline).days
            out.append(SubmissionState(unit, month, deadline, ON_TIME if late <= 0 else LATE, received,
                                       max(late, 0), len(valid) - 1, [f["id"] for f in mine],
                                       sum(f["status"] == REJECTED for f in mine)))
        else:
            overdue = (today - deadline).days
            returned = any(f["status"] == REJECTED for f in mine)
            if returned:
                state = RETURNED
            else:
                state = MISSING if overdue > 0 else NOT_DUE
            out.append(SubmissionState(unit, month, deadline, state, None, max(overdue, 0), 0,
                                       [f["id"] for f in mine], sum(f["status"] == REJECTED for f in mine)))
    return out
