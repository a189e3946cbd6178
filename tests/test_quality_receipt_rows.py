"""The intake reads a unit's rows once for a new form, in the transaction that records it, and both
the checks across months and files (kept in the ledger row) and the receipt's findings preview use
them.  On real forms through the real intake, the ledger rows and the receipts are exactly what the
general path gives: ``quality_warnings`` over the ledger (and over ``LedgerData``), ``findings_preview``
read from the ledger, the receipt written again from those."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sqlite3

import pytest

from form_helpers import ROSTER, RULEBOOK, scenario_form
from processor.common.faults import fault_action
from processor.consolidate import ledger_data
from processor.consolidate.ledger_data import LedgerData
from processor.consolidate.preview import findings_preview
from processor.consolidate.quality import quality_warnings, warning_record
from processor.intake.run import Intake
from processor.record import receipts
from processor.record.ledger import Ledger
from processor.validate.samples import form_rows

SEP, OCT = "2026-09", "2026-10"
SHARED = "罗源交通建设发展党建示范点"  # 罗源县's first site in the sample forms
SHARED_SPACED = "罗源交通建设 发展党建示范点"  # the same name to the check (spaces aside)


def _rename_site(rows: dict, old: str, new: str) -> None:
    for sheet in rows.values():
        for r in sheet:
            if r.get("site") == old:
                r["site"] = new


def _claim(site: str):
    """A change to a form: its first site becomes ``site`` (in every sheet)."""
    def change(rows):
        _rename_site(rows, rows["sites"][0]["site"], site)
    return change


def _as_september(unit: str):
    """A change to an October form: September's sites, and its 工作进展 rows are September's, word for
    word (疑似照抄)."""
    september = form_rows(roster=ROSTER, rulebook=RULEBOOK, unit=unit, month=SEP, seed=1, contacts=6,
                          org_life=6)  # as scenario_form writes it

    def change(rows):
        for now, before in zip(list(rows["sites"]), september["sites"], strict=True):
            _rename_site(rows, now["site"], before["site"])
        rows["progress"] = copy.deepcopy(september["progress"])
    return change


def _members(total: int):
    def change(rows):
        rows["members"][0].update(total=total, new_members=0, new_workers=0, new_intellectuals=0,
                                  mobile_managed=0)
    return change


def _both(*changes):
    def change(rows):
        for c in changes:
            c(rows)
    return change


# (unit, month, change, seed): a month of forms, a site claimed by two units, a copied sheet, a members
# total that changes beyond what the form explains, then its corrected resubmission
SEQUENCE = [
    ("罗源县", SEP, None, 1),
    ("连江县", SEP, _claim(SHARED_SPACED), 1),
    ("闽侯县", SEP, None, 1),
    ("罗源县", OCT, _both(_as_september("罗源县"), _members(3)), 1),
    ("连江县", OCT, _claim(SHARED_SPACED), 1),
    ("闽侯县", OCT, _claim(SHARED), 1),
    ("罗源县", OCT, _both(_as_september("罗源县"), _members(101)), 2),  # corrected: replaces the first
]


def _general_quality(ledger: Ledger, row) -> list[dict]:
    found = quality_warnings(ledger, RULEBOOK, row["month"], units=[row["unit"]], before_file=row["id"])
    return [warning_record(w) for w in found]


def _receipt_bytes(workspace, row) -> tuple[bytes, bytes]:
    html = workspace.outbox / row["receipt_path"]
    return html.read_bytes(), html.with_suffix(".json").read_bytes()


def _rewritten_by_general_path(workspace, ledger: Ledger, row) -> tuple[bytes, bytes]:
    """The receipt written again, its findings read from the ledger."""
    preview = findings_preview(ledger, workspace.rulebook, ROSTER, row)
    receipts.write_receipt(workspace, ledger, row, roster=ROSTER, preview=preview)
    return _receipt_bytes(workspace, row)


@pytest.fixture
def loads(monkeypatch):
    """How many times the findings data was loaded from the ledger (the general path)."""
    calls = []
    load = LedgerData.load.__func__

    def counted(cls, *args, **kwargs):
        calls.append(kwargs.get("units"))
        return load(cls, *args, **kwargs)

    monkeypatch.setattr(ledger_data.LedgerData, "load", classmethod(counted))
    return calls


def test_ledger_rows_and_receipts_are_those_of_the_general_path(workspace, tmp_path, loads):
    intake = Intake(workspace, clock=lambda: dt.datetime(2026, 11, 2, 9, 0).astimezone())
    seen: set[str] = set()
    try:
        for i, (unit, month, change, seed) in enumerate(SEQUENCE):
            folder = workspace.inbox / unit
            folder.mkdir(exist_ok=True)
            form = scenario_form(folder / f"{i}_{month}.xlsx", unit, month, change, seed=seed)
            loads.clear()
            outcome = intake.handle(form)
            assert outcome.status == "accepted", [p.message for p in outcome.problems]
            assert loads == [], "the receipt's findings read the rows read when the form was recorded"
            with Ledger(workspace.ledger_path) as ledger:
                ledger.read_units_as(ROSTER.aliases)
                row = ledger.file(outcome.file_id)
                stored = json.loads(row["summary_json"]).get("quality", [])
                assert stored == _general_quality(ledger, row)
                data = LedgerData.load(ledger)
                assert stored == [warning_record(w) for w in quality_warnings(
                    data, RULEBOOK, month, units=[unit], before_file=row["id"])]
                written = _receipt_bytes(workspace, row)
                assert json.loads(written[1])["checks"] == stored
                assert _rewritten_by_general_path(workspace, ledger, row) == written
            seen.update(w["code"] for w in stored)
    finally:
        intake.close()
    assert {"site-shared", "copied-sheet", "members-unexplained"} <= seen
    with Ledger(workspace.ledger_path) as ledger:
        statuses = [r["status"] for r in ledger.files(unit="罗源县", month=OCT)]
    assert statuses == ["superseded", "accepted"]


def test_a_commit_by_another_process_before_the_receipt_makes_the_receipt_read_the_ledger_again(workspace, loads):
    """Another process records something between the form's commit and its receipt: the rows read
    in the transaction may be out of date, so the receipt's findings are read from the ledger."""
    intake = Intake(workspace, clock=lambda: dt.datetime(2026, 11, 2, 9, 0).astimezone())

    def another_process_writes(**_):
        other = sqlite3.connect(workspace.ledger_path, isolation_level=None)
        try:  # the form's contact records gone: its sites lack this month's contacts now
            other.execute("DELETE FROM contacts WHERE file_id = (SELECT MAX(id) FROM files)")
        finally:
            other.close()

    try:
        folder = workspace.inbox / "罗源县"
        folder.mkdir()
        scenario_form(folder / "9月.xlsx", "罗源县", SEP, seed=1)
        loads.clear()
        with fault_action("after-commit", another_process_writes):
            outcome = intake.handle(folder / "9月.xlsx")
        assert loads == [["罗源县"]]
    finally:
        intake.close()
    with Ledger(workspace.ledger_path) as ledger:
        row = ledger.file(outcome.file_id)
        written = _receipt_bytes(workspace, row)
        assert _rewritten_by_general_path(workspace, ledger, row) == written
    preview = json.loads(written[1])["preview"]
    assert any(p["clause"] == "M-1b" for p in preview), preview  # the contacts the month asks for
