"""The findings preview of a receipt: what the opinion still asks of a unit, as of its file's arrival."""

from __future__ import annotations

from processor.consolidate.findings import CHECKED_SHEETS, evaluate
from processor.consolidate.ledger_data import FormRows
from processor.record.ledger import ACCEPTED, Ledger


def findings_preview(ledger: Ledger, rulebook, roster, row, *, rows: FormRows | None = None) -> list[dict]:
    """What the opinion still asks of this unit for this month, as of the day the file arrived.

    Only for accepted files; M-4b is left out (the receipt itself says when the file came).
    ``rows``: the unit's rows read when the file was recorded (the checks of the form have read them
    already), used when the ledger is unchanged since (:meth:`FormRows.current`); else it is read.
    """
    if row["status"] != ACCEPTED or roster is None or roster.unit(row["unit"]) is None:
        return []
    as_of = rulebook.local_date(row["received_at"])
    source = rows.ledger_data(CHECKED_SHEETS) if rows is not None and rows.current(ledger, row) else ledger
    findings = evaluate(source, rulebook, roster, months=[row["month"]], today=as_of, units=[row["unit"]])
    return [{"clause": f.clause, "title": f.title, "site": f.site or "（全单位）", "period": f.period_name,
             "evidence": f.evidence, "status": f.status_cn}
            for f in findings if f.is_open and f.clause != "M-4b"]
