"""One snapshot per run (SPEC §10): a consolidation reads the ledger once, as it stood at the end
of its as-of day, and every output of the run is built from that one view."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from form_helpers import UNIT, scenario_form

from processor.consolidate.ledger_data import LedgerData
from processor.intake.run import Intake
from processor.record.ledger import Ledger
from schemas.form import SHEETS_BY_KEY

MONTH = "2026-10"


def _received(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _hand_in(intake: Intake, workspace, form: Path, name: str) -> None:
    target = workspace.inbox / name
    shutil.copyfile(form, target)
    outcome = intake.handle(target)
    assert outcome is not None and outcome.status == "accepted", outcome


def test_a_resubmission_recorded_while_the_ledger_is_read_is_wholly_in_or_wholly_out(workspace, tmp_path,
                                                                                     monkeypatch):
    """A unit resubmits its October form while consolidation reads the ledger: every sheet of the
    consolidation's data comes from one and the same submission (汇总数据 never stacks the sites of
    the old form with the contacts of the new one)."""
    old = scenario_form(tmp_path / "old.xlsx", UNIT, MONTH, seed=1)
    new = scenario_form(tmp_path / "new.xlsx", UNIT, MONTH, seed=2, contacts=9)
    intake = Intake(workspace, clock=lambda: _received(dt.date(2026, 11, 3)))
    try:
        _hand_in(intake, workspace, old, "十月报表.xlsx")

        read = Ledger.accepted_records
        sheets_read: list[str] = []

        def read_then_resubmit(self, key, **options):
            rows = read(self, key, **options)
            sheets_read.append(key)
            if len(sheets_read) == 1:  # between the first sheet read and the next: the corrected form lands
                _hand_in(intake, workspace, new, "十月报表（更正）.xlsx")
            return rows

        monkeypatch.setattr(Ledger, "accepted_records", read_then_resubmit)
        with Ledger(workspace.ledger_path) as ledger:
            data = LedgerData.load(ledger)
    finally:
        intake.close()

    assert len(sheets_read) > 1
    used = {r["file_id"] for key in SHEETS_BY_KEY for r in data.records(key)}
    accepted = [f["id"] for f in data.files if f["status"] == "accepted"]
    assert len(accepted) == 1 and used == set(accepted)
    with Ledger(workspace.ledger_path) as ledger:  # the resubmission did land: the next run reads it
        now = LedgerData.load(ledger)
    assert {r["file_id"] for r in now.records("contacts")} != used
    assert len(now.records("contacts")) == 9
