"""Intake reads a unit's earlier months, and every unit's sites of the month, again for every form it
records; ``Ledger.unit_records`` and ``accepted_site_names`` keep each arrival's rows once read.
Whatever they kept, they give exactly what ``accepted_records`` reads from SQLite: after
resubmissions, under a unit's former name, with the memory limit reached, and after a recording
that was rolled back and whose file id the next arrival got."""

from __future__ import annotations

import pytest

from ledger_helpers import LedgerBuilder, activity, contact, site
from processor.consolidate.ledger_data import FORM_SHEETS_TWO_MONTHS, FORM_SHEETS_UNTIL
from processor.common.periods import add_months
from processor.record import rows as rows_module
from processor.record.ledger import Ledger

MONTHS = ["2026-08", "2026-09", "2026-10"]
UNITS = ["鼓楼区", "台江区", "仓山区"]
FORMER = "仓山新区"  # 仓山区's former name (曾用名): its August form was sent under it


def _submit(builder: LedgerBuilder, unit: str, month: str, *, variant: int = 0, sent_as: str | None = None) -> int:
    name = f"{unit}示范点{variant or ''}"
    day = int(month[-2:]) % 28 + 1
    return builder.submit(
        sent_as or unit, month, sites=[site(name), site(f"{unit}二号点")],
        contacts=[contact(f"{month}-{day:02d}", name, problem="场地不足" if variant else None),
                  contact(f"{month}-{day + 1:02d}", f"{unit}二号点")],
        org_life=[activity(f"{month}-{day:02d}", name, "党员大会", expected=12 + variant)])


def _expected(ledger: Ledger, unit: str, month: str) -> dict[str, list[dict]]:
    rows = {key: ledger.accepted_records(key, units=[unit], until=month) for key in FORM_SHEETS_UNTIL}
    rows.update({key: ledger.accepted_records(key, units=[unit], months=[add_months(month, -1), month])
                 for key in FORM_SHEETS_TWO_MONTHS})
    return rows


def _read(ledger: Ledger, unit: str, month: str) -> dict[str, list[dict]]:
    rows = ledger.unit_records(FORM_SHEETS_UNTIL, units=[unit], until=month)
    rows.update(ledger.unit_records(FORM_SHEETS_TWO_MONTHS, units=[unit], months=[add_months(month, -1), month]))
    return rows


@pytest.mark.parametrize("aliases", [{}, {FORMER: "仓山区"}], ids=["no-former-names", "former-name"])
@pytest.mark.parametrize("kept", [rows_module.ROWS_KEPT, 7], ids=["all-kept", "limit-reached"])
def test_kept_rows_are_what_the_ledger_reads(tmp_path, monkeypatch, kept, aliases):
    monkeypatch.setattr(rows_module, "ROWS_KEPT", kept)
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    ledger = builder.ledger
    ledger.read_units_as(aliases)
    arrivals = [(unit, month, 0) for month in MONTHS for unit in UNITS[:2]]
    arrivals += [("仓山区", month, 0) for month in reversed(MONTHS)]  # its earlier months sent late
    arrivals += [("鼓楼区", "2026-09", 1), ("台江区", "2026-10", 2), ("鼓楼区", "2026-09", 3)]  # resubmissions
    for unit, month, variant in arrivals:
        sent_as = FORMER if (unit, month) == ("仓山区", "2026-08") else None
        _submit(builder, unit, month, variant=variant, sent_as=sent_as)
        for reader in UNITS:  # every unit read again after each arrival, on the same connection
            for until in MONTHS:
                assert _read(ledger, reader, until) == _expected(ledger, reader, until), (reader, until)
        for each in MONTHS:  # every unit's sites of a month (what the check of shared sites reads)
            assert ledger.accepted_site_names(each) == [
                (r["unit"], r["site"]) for r in ledger.accepted_records("sites", months=[each])]
    august = ledger.unit_records(["sites"], units=["仓山区"], until="2026-08")["sites"]
    assert len(august) == (2 if aliases else 0)  # the former name's form, read as the unit's
    contacts = ledger.unit_records(["contacts"], units=["鼓楼区"], months=["2026-09"])["contacts"]
    assert [r["problem"] for r in contacts] == ["场地不足", None]  # the last resubmission's rows only
    ledger.close()


def test_an_arrival_rolled_back_leaves_nothing_kept_for_the_next_one_given_its_id(tmp_path):
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    ledger = builder.ledger
    _submit(builder, "鼓楼区", "2026-09")
    record = builder._record("鼓楼区", "2026-10", "accepted", None, None, "县市区")
    with pytest.raises(RuntimeError), ledger.atomic() as conn:  # a recording that fails after reading
        rolled_back = ledger.insert_file(conn, record)
        ledger.insert_records(conn, rolled_back, "鼓楼区", "2026-10", {
            "contacts": [{**contact("2026-10-08", "鼓楼区示范点", problem="未能记下的问题"), "row": 2}]})
        during = _read(ledger, "鼓楼区", "2026-10")
        assert [r["problem"] for r in during["contacts"] if r["month"] == "2026-10"] == ["未能记下的问题"]
        raise RuntimeError("记录中断")
    again = _submit(builder, "鼓楼区", "2026-10")
    assert again == rolled_back  # SQLite gave the next arrival the same id
    read = _read(ledger, "鼓楼区", "2026-10")
    assert read == _expected(ledger, "鼓楼区", "2026-10")
    assert "未能记下的问题" not in [r["problem"] for r in read["contacts"]]
    ledger.close()


def test_an_arrival_is_read_from_sqlite_once(tmp_path):
    """Read in the transaction that records a form (as intake reads them), a unit's months come from
    memory the next time, once that transaction committed (what keeps intake fast)."""
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    ledger = builder.ledger
    for month in MONTHS:
        _submit(builder, "鼓楼区", month)
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    with ledger.atomic():
        first = _read(ledger, "鼓楼区", MONTHS[-1])
    assert [s for s in statements if " FROM contacts " in s]
    statements.clear()
    assert _read(ledger, "鼓楼区", MONTHS[-1]) == first
    assert not [s for s in statements if " FROM contacts " in s]
    ledger.close()
