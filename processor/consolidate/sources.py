"""What each output is built from (its sources: the arrivals whose rows it shows), their digests,
and the earlier periods of the outbox whose sources changed since they were written (SPEC §10: a
late or corrected form rebuilds its month, and its half-year and year when they were written)."""

from __future__ import annotations

import hashlib
import json

from processor.common import outputs as output_kinds
from processor.common import periods
from processor.consolidate.ledger_data import LedgerData
from processor.consolidate.snapshot import Snapshot
from processor.record.ledger import DUPLICATE
from processor.schemas.layout import LAYOUT_BY_KEY as SHEETS_BY_KEY

MONTHLY, HALF_YEAR, YEAR, SUMMARY = (output_kinds.MONTHLY_REPORT, output_kinds.HALF_YEAR_REPORT,
                                     output_kinds.YEAR_REPORT, output_kinds.SUMMARY_DATA)


def sources_of(files: list[dict]) -> list[dict]:
    unique = {f["id"]: f for f in files}
    return [{"file_id": f["id"], "unit": f["unit"], "month": f["month"], "status": f["status"],
             "original_name": f["original_name"], "sha256": f["sha256"]} for _, f in sorted(unique.items())]


def summary_sources(data: LedgerData, months: list[str], rows: dict[str, list[dict]] | None = None) -> list[dict]:
    """The accepted arrivals whose rows a 汇总数据 of ``months`` shows."""
    rows = rows if rows is not None else {key: data.records(key, months=months) for key in SHEETS_BY_KEY}
    ids = {r["file_id"] for records in rows.values() for r in records}
    return sources_of([f for f in data.files if f["id"] in ids])


_ROWS_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_DIGEST_CHUNK = 256  # rows encoded and hashed at a time


def rows_digest(records: list[dict]) -> str:
    """A fingerprint of what the rows show (not which submission or form row they came from).

    The digest of the rows' JSON list (without ``file_id`` and ``row``), hashed a chunk of rows at a
    time: a province's rows are never copied or written into one string (the same digest as
    ``json.dumps`` of the whole list)."""
    hasher = hashlib.sha256(b"[")
    encode = _ROWS_ENCODER.encode
    for start in range(0, len(records), _DIGEST_CHUNK):
        chunk = ", ".join(encode({k: v for k, v in r.items() if k != "file_id" and k != "row"})
                          for r in records[start:start + _DIGEST_CHUNK])
        hasher.update(((", " if start else "") + chunk).encode("utf-8"))
    hasher.update(b"]")
    return hasher.hexdigest()


def digest(value) -> str:
    blob = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


_PERIOD_REPORT = {"month": MONTHLY, "half": HALF_YEAR, "year": YEAR}  # a period's report kind


def changed_periods(snapshot: Snapshot, built: list[dict], manifest: dict, months: list[str],
                     halves: list[periods.Period], years: list[periods.Period]) -> dict[str, str]:
    """The earlier periods of the outbox whose inputs changed since they were written (SPEC §10: a
    late correction of October rebuilds October, and its half-year and year when they were written),
    added to ``months``, ``halves`` and ``years``; returns {period label: what the mail says}.

    A period's report and 汇总数据 record the digest of their sources (``outputs.sources_hash``;
    for one written before it was recorded, the sources in the manifest); the sources the same
    outputs would have as of the run's day are compared with it.  Only periods that ended before
    the months the run builds are looked at, so the 一览表, dossiers and 总览 stay those of the run."""
    from processor.consolidate.mail_summary import update_note

    book = snapshot.rulebook
    planned = {*months, *(h.label for h in halves), *(y.label for y in years)}
    until = max([*months, *(h.last for h in halves), *(y.last for y in years)], default=None)
    if until is None:
        return {}
    stored: dict[str, list[dict]] = {}
    for row in built:
        if row["kind"] in (*_PERIOD_REPORT.values(), SUMMARY) and row["period"]:
            stored.setdefault(str(row["period"]), []).append(row)
    notes: dict[str, str] = {}
    for label, rows in sorted(stored.items()):
        period = period_of_label(label)
        if (period is None or label in planned or period.last >= until or period.first < book.start
                or not all(book.covers(m) for m in period.months)):
            continue
        old_sources = None
        changed = False
        for row in rows:
            if row["kind"] == SUMMARY:
                current = summary_sources(snapshot.data, period.months)
            elif row["kind"] == _PERIOD_REPORT[period.kind]:
                current = sources_of(snapshot.period_files(until=period.last, months=period.months))
            else:
                continue
            entry = manifest.get(row["path"]) if isinstance(manifest.get(row["path"]), dict) else {}
            before = row.get("sources_hash") or (sources_digest(entry["sources"]) if "sources" in entry else None)
            if before is None:  # written before sources were recorded, and no manifest: unknown, left alone
                continue
            if before != sources_digest(current):
                changed = True
                if row["kind"] != SUMMARY or old_sources is None:
                    old_sources = entry.get("sources")
        if not changed:
            continue
        new_sources = sources_of(snapshot.period_files(until=period.last, months=period.months))
        notes[label] = update_note(period, _PERIOD_REPORT[period.kind], old_sources, new_sources)
        if period.kind == "month":
            months.append(label)
        else:
            (halves if period.kind == "half" else years).append(period)
    months.sort()
    halves.sort()
    years.sort()
    order = [*months, *(h.label for h in halves), *(y.label for y in years)]
    return {label: notes[label] for label in order if label in notes}


def sources_digest(sources: list[dict]) -> str:
    """What an output's figures can depend on among its sources: a copy of a form already received
    (a duplicate) changes nothing, so it rebuilds nothing."""
    return digest([s for s in sources if isinstance(s, dict) and s.get("status") != DUPLICATE])


def period_of_label(label: str) -> periods.Period | None:
    """2026-10, 2026-H2 or 2026 as a period (None for another label)."""
    for parse in (lambda t: periods.period_of(t, "month") if periods.MONTH_RE.fullmatch(t) else None,
                  periods.parse_half, periods.parse_year):
        try:
            period = parse(label)
        except ValueError:
            continue
        if period is not None:
            return period
    return None
