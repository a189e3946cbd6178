"""Intake reads a unit's earlier months, and every unit's sites of the month, again for every form it
records; ``Ledger.unit_records`` and ``accepted_site_names`` keep each arrival's rows once read,
or as stored when they are recorded.  Whatever they kept, they give exactly what
``accepted_records`` reads from SQLite, value for value and type for type: after resubmissions,
under a unit's former name, with the memory limit reached, after a recording that was rolled back
and whose file id the next arrival got, and for values SQLite stores otherwise than given."""

from __future__ import annotations

import pytest

from ledger_helpers import LedgerBuilder, activity, contact, hardware, members, site
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
                assert repr(_read(ledger, reader, until)) == repr(_expected(ledger, reader, until)), (reader, until)
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


def test_an_arrival_is_never_read_back_from_sqlite_on_the_connection_that_recorded_it(tmp_path):
    """A form's rows are kept as they are stored, once the transaction that recorded them commits:
    the receipt that follows reads none of them from SQLite (what keeps intake fast)."""
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    ledger = builder.ledger
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    for month in MONTHS:
        _submit(builder, "鼓楼区", month)
    assert any("INSERT INTO contacts " in s for s in statements)
    statements.clear()
    read = _read(ledger, "鼓楼区", MONTHS[-1])
    assert read["contacts"] and not [s for s in statements if " FROM contacts " in s]
    assert repr(read) == repr(_expected(ledger, "鼓楼区", MONTHS[-1]))
    ledger.close()


def test_an_arrival_is_read_from_sqlite_once(tmp_path):
    """On another connection (the next run, the nightly consolidation), an arrival's rows read in a
    transaction (as intake reads them) come from memory the next time, once it committed."""
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    for month in MONTHS:
        _submit(builder, "鼓楼区", month)
    builder.ledger.close()
    ledger = Ledger(tmp_path / "ledger.sqlite")
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    with ledger.atomic():
        first = _read(ledger, "鼓楼区", MONTHS[-1])
    assert [s for s in statements if " FROM contacts " in s]
    statements.clear()
    assert _read(ledger, "鼓楼区", MONTHS[-1]) == first
    assert not [s for s in statements if " FROM contacts " in s]
    ledger.close()


def test_values_sqlite_stores_otherwise_are_read_as_sqlite_gives_them(tmp_path):
    """A whole number in a REAL column comes back a float, a whole float in an INTEGER column an int,
    a number in a TEXT column text, a negative zero a zero (one of each in a sheet of its own): the
    rows kept as recorded are the rows as read, type for type, on the recording connection and on a
    fresh one."""
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    ledger = builder.ledger
    _submit(builder, "鼓楼区", "2026-09")
    name = "鼓楼区示范点"
    odd = {"sites": [{**site(name), "members": 12.0, "employees": 240}, {**site("二号点"), "secretary": 7}],
           "hardware": [hardware(name, area=40.0), hardware("二号点", area=-0.0)],
           "members": [{**members(name), "mutual_fund": 3}, {**members("二号点"), "mutual_fund": 2.5}],
           "contacts": [contact("2026-10-08", name, problem=1.5)]}
    record = builder._record("鼓楼区", "2026-10", "accepted", None, None, "县市区")
    with ledger.atomic() as conn:
        file_id = ledger.insert_file(conn, record)
        ledger.insert_records(conn, file_id, "鼓楼区", "2026-10", {
            key: [{**r, "row": i} for i, r in enumerate(rows, start=2)] for key, rows in odd.items()})
    read = _read(ledger, "鼓楼区", "2026-10")
    expected = _expected(ledger, "鼓楼区", "2026-10")
    assert repr(read) == repr(expected)
    october = {key: [r for r in rows if r["month"] == "2026-10"] for key, rows in read.items()}
    assert [(repr(r["members"]), r["secretary"]) for r in october["sites"]] == [("12", "王书记"), ("20", "7")]
    assert [repr(r["room_area"]) for r in october["hardware"]] == ["40.0", "0.0"]
    assert [r["mutual_fund"] for r in october["members"]] == [3.0, 2.5]
    assert [r["problem"] for r in october["contacts"]] == ["1.5"]
    ledger.close()
    with Ledger(tmp_path / "ledger.sqlite") as fresh:
        assert repr(_read(fresh, "鼓楼区", "2026-10")) == repr(expected)
