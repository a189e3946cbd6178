"""Problem threads (X-2): every problem found during liaison once, with every record that mentions it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from processor.common.values import is_missing as _missing
from processor.common.values import problem_key


@dataclass
class ProblemThread:
    """One problem found during liaison (X-2), with every record that mentions it.

    Its latest record decides its 整改时限 and 办结状态 (SPEC §10)."""

    unit: str
    site: str
    problem: str  # as first recorded
    records: list[dict]  # in date order

    @property
    def first(self) -> dict:
        return self.records[0]

    @property
    def latest(self) -> dict:
        return self.records[-1]

    @property
    def found(self) -> dt.date:
        return self.first["date"]

    @property
    def month(self) -> str:
        return self.first["month"]

    @property
    def staff(self) -> str:
        return self.first.get("staff") or ""

    @property
    def suggestion(self) -> str:
        return self.latest.get("suggestion") or self.first.get("suggestion") or ""

    @property
    def deadline(self) -> dt.date | None:
        return self.latest.get("deadline") or next(
            (r["deadline"] for r in reversed(self.records) if r.get("deadline")), None)

    @property
    def first_deadline(self) -> dt.date | None:
        return next((r["deadline"] for r in self.records if r.get("deadline")), None)

    @property
    def closed_on(self) -> dt.date | None:
        """The day of the record that closed it, when the latest record says 已办结."""
        if self.latest.get("state") != "已办结":
            return None
        closing = self.latest
        for r in reversed(self.records):  # the first 已办结 of the final run of closed records
            if r.get("state") != "已办结":
                break
            closing = r
        return closing["date"]


def _problem_order(r: dict):
    """Sort key of (date, month, row), a missing value last."""
    date, row = r["date"], r["row"]
    return (_missing(date), dt.date.min if _missing(date) else date, r["month"],
            _missing(row), 0 if _missing(row) else row)


def problem_threads(contacts: list[dict]) -> list[ProblemThread]:
    """Every problem once: 联系指导记录 rows with a 发现问题 grouped by site and normalised text,
    in the order they were first found.  A problem recorded 未办结 again after it was closed is
    found anew (a new thread), not an extension of the closed one."""
    threads: list[ProblemThread] = []
    current: dict[tuple, ProblemThread] = {}
    for c in sorted((c for c in contacts if (c.get("problem") or "").strip()), key=_problem_order):
        key = (c["unit"], c["site"], problem_key(c["problem"]))
        thread = current.get(key)
        if thread is None or (thread.latest.get("state") == "已办结" and c.get("state") != "已办结"):
            thread = current[key] = ProblemThread(c["unit"], c["site"], c["problem"].strip(), [])
            threads.append(thread)
        thread.records.append(c)
    return threads
