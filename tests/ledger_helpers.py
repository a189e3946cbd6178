"""Builds real SQLite ledgers for the findings, report and consolidation tests.

Rows go in through the ledger's own ``insert_file`` / ``insert_records`` /
``supersede`` (the same calls intake makes), so the tests read exactly what a
night's consolidation reads; validation is not involved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path


from processor.record.ledger import Ledger
from processor.schemas.form import SHEETS_BY_KEY

D = dt.date
_counter = itertools.count(1)

ALL_HW_ITEMS = [f.title for f in SHEETS_BY_KEY["hardware"].fields if f.kind == "yesno"]
_HW = SHEETS_BY_KEY["hardware"].names

CONTACT_DATE = D(2026, 9, 15)  # the default contact date of a site


def site(name, kind="国企", *, staff="陈立新", contact_date=CONTACT_DATE, plan_date=None, secretary="王书记",
         members=20, enterprise=None, level="市级"):
    return dict(site=name, enterprise=enterprise or f"{name}有限公司", enterprise_kind=kind,
                org_name=f"{name}党支部", org_kind="党支部", formation="单独组建", secretary=secretary,
                members=members, employees=members * 10, level=level, staff=staff, contact_date=contact_date,
                plan_date=plan_date, note=None)


def contact(date, site_name, *, staff="陈立新", mode="电话联系", content="了解示范点建设进展", problem=None,
            suggestion=None, deadline=None, state=None):
    return dict(date=date, site=site_name, staff=staff, mode=mode, content=content, problem=problem,
                suggestion=suggestion, deadline=deadline, state=state)


def activity(date, site_name, kind, *, expected=10, present=8, summary=None, host="王书记"):
    return dict(date=date, site=site_name, activity=kind, host=host, expected=expected, present=present,
                summary=summary or f"{kind}学习")


def hardware(site_name, *, missing=(), area=60.0):
    row = {"site": site_name, "room_area": area}
    for title in ALL_HW_ITEMS:
        row[_HW[title]] = "否" if title in missing else "是"
    return row


def members(site_name, *, total=20, new=1, activists=2, mobile=1):
    return dict(site=site_name, total=total, new_members=new, new_workers=new, new_intellectuals=0,
                activists=activists, mobile=mobile, mobile_managed=mobile, duty_zones=3, cross_posts=2,
                six_ones=None, mutual_fund=None)


def progress(site_name, *, text="按计划推进示范点建设", issues=None, plan="继续落实工作方案"):
    return dict(site=site_name, progress=text, issues=issues, next_plan=plan)


class LedgerBuilder:
    """Submissions and rejections straight into a real ledger file."""

    def __init__(self, path: Path):
        self.ledger = Ledger.create(path)

    def submit(self, unit: str, month: str, *, sites: list[dict], contacts=(), org_life=(), hardware_rows=None,
               members_rows=None, progress_rows=None, received: str | dt.datetime | None = None,
               unit_kind="县市区", name: str | None = None, change_note: str | None = None) -> int:
        """An accepted submission for unit+month (superseding any earlier one); returns its file id."""
        names = [s["site"] for s in sites]
        sheets = {
            "basic_info": [dict(unit=unit, unit_kind=unit_kind, month=month, filler="李明", phone="0591-1234567",
                                reviewer="王主任", fill_date=None, change_note=change_note)],
            "sites": sites,
            "contacts": list(contacts),
            "org_life": list(org_life),
            "hardware": hardware_rows if hardware_rows is not None else [hardware(n) for n in names],
            "members": members_rows if members_rows is not None else [members(n) for n in names],
            "progress": progress_rows if progress_rows is not None else [progress(n) for n in names],
        }
        record = self._record(unit, month, "accepted", received, name, unit_kind)
        with self.ledger.atomic() as conn:
            file_id = self.ledger.insert_file(conn, record)
            self.ledger.supersede(conn, file_id, unit, month)
            self.ledger.insert_records(conn, file_id, unit, month, {
                key: [{**r, "row": i} for i, r in enumerate(rows, start=2)] for key, rows in sheets.items()})
        return file_id

    def reject(self, unit: str, month: str, *, received=None, name=None) -> int:
        with self.ledger.atomic() as conn:
            return self.ledger.insert_file(conn, self._record(unit, month, "rejected", received, name, "县市区"))

    def _record(self, unit, month, status, received, name, unit_kind) -> dict:
        n = next(_counter)
        if received is None:
            received = _next_month_day(month, 3)
        if isinstance(received, dt.date) and not isinstance(received, dt.datetime):
            received = f"{received.isoformat()}T10:00:00+08:00"
        elif isinstance(received, dt.datetime):
            received = received.isoformat()
        sha = hashlib.sha256(f"{unit}{month}{n}{received}".encode()).hexdigest()
        original = name or f"{unit}{month}月报表.xlsx"
        return dict(sha256=sha, original_name=original, inbox_path=original, size=1000 + n,
                    received_at=received, status=status, unit=unit, unit_kind=unit_kind, month=month,
                    template_version="2026.1", model_hash="x", archive_path=f"{sha[:2]}/{sha}.xlsx",
                    receipt_path=None, inbox_removed=1)


def _next_month_day(month: str, day: int) -> str:
    y, m = (int(x) for x in month.split("-"))
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return f"{y:04d}-{m:02d}-{day:02d}T10:00:00+08:00"
