"""The ledger's accepted data as the rules and the reports read it: loaded once, indexed, restricted.

:class:`LedgerData` is the data access of consolidation; the rules (:mod:`processor.consolidate.findings`)
and the report builders only read it.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from processor.common.clock import local_date, local_time
from processor.common.periods import add_months
from processor.record.ledger import ACCEPTED, SUPERSEDED, Ledger
from processor.record.rows import records_frame
from processor.schemas.vocabulary import SHEET_TITLES

if TYPE_CHECKING:  # numpy and pandas load where frames are built: `status` needs neither
    import pandas as pd


def submitting_unit(file: dict) -> str | None:
    """The unit an arrival counts for: its per-unit inbox folder is authoritative (a file there
    counts for that unit even when its 填报单位 was misspelt and rejected for it)."""
    return file.get("folder_unit") or file.get("unit")


def received_on(file: dict, timezone=None) -> dt.date:
    """The day an arrival was received, on the office's calendar (``timezone``: the rulebook's
    ``[calendar] timezone``; None the default zone), whatever offset its ``received_at`` was stored with."""
    return local_date(file["received_at"], timezone)


def received_instant(file: dict, timezone=None) -> dt.datetime:
    """The moment an arrival was received, comparable whatever zone its stamp was written in (a stamp
    without an offset is office time, as :func:`received_on` reads it)."""
    return local_time(file["received_at"], timezone)


def files_as_of(files: list[dict], as_of: dt.date, timezone=None) -> list[dict]:
    """The arrivals as the ledger held them at the end of ``as_of``: those received by that day,
    each unit's latest accepted form of a month being its current one then (a form superseded by one
    received later is still ``accepted`` as of that day).  ``files`` in ledger (arrival) order."""
    kept = [f for f in files if received_on(f, timezone) <= as_of]
    current: dict[tuple, int] = {}
    # the latest by receive time (then ledger order): the order files were handled in changes nothing
    for f in sorted(kept, key=lambda f: (received_instant(f, timezone), f["id"])):
        if f["status"] in (ACCEPTED, SUPERSEDED):
            current[(f["unit"], f["month"])] = f["id"]
    out = []
    for f in kept:
        if f["status"] in (ACCEPTED, SUPERSEDED):
            latest = current[(f["unit"], f["month"])] == f["id"]
            if latest and f["status"] == SUPERSEDED:
                f = {**f, "status": ACCEPTED, "superseded_by": None}
            elif not latest and f["status"] == ACCEPTED:  # (not in a sound ledger: a later one superseded it)
                f = {**f, "status": SUPERSEDED}
        out.append(f)
    return out


REPORTED_SITE = "reported_site"  # a row's site name as its form wrote it, when its identity goes by another


def follow_renames(records: dict[str, list[dict]]) -> dict[tuple[str, str], str]:
    """Each site keeps its identity across a rename (SPEC §10): when a unit's form drops exactly one
    site of its previous form, brings exactly one site it never registered before, and says why in
    its 变更说明, the new site is the old one renamed.  Every row of the renamed site, in every sheet
    and month, then goes by the name it has in its unit's latest form (its old name kept as
    ``reported_site``): its problem threads continue, it is one site in every count, one dossier.

    Changes ``records`` in place; returns {(unit, name as reported): name it goes by}."""
    if "sites" not in records or "basic_info" not in records:  # a check-only load of a few sheets
        return {}
    names: dict[str, dict[str, list[str]]] = {}  # unit -> month -> its sites, in form order
    for r in records["sites"]:
        listed = names.setdefault(r["unit"], {}).setdefault(r["month"], [])
        if r["site"] and r["site"] not in listed:
            listed.append(r["site"])
    noted = {(r["unit"], r["month"]) for r in records["basic_info"] if (r.get("change_note") or "").strip()}
    renamed: dict[tuple[str, str], str] = {}
    for unit, by_month in names.items():
        identity: dict[str, str] = {}  # name -> the first name of its site
        current: dict[str, str] = {}  # first name -> the name of its latest form
        previous: list[str] = []
        for month in sorted(by_month):
            listed = by_month[month]
            dropped = [n for n in previous if n not in listed]
            new = [n for n in listed if n not in identity]
            if len(dropped) == 1 and len(new) == 1 and (unit, month) in noted:
                identity[new[0]] = identity[dropped[0]]
            for name in listed:
                current[identity.setdefault(name, name)] = name
            previous = listed
        # an old name listed again beside its new one is two sites after all: neither is renamed
        both = {first for listed in by_month.values() for first, n in Counter(identity[m] for m in listed).items()
                if n > 1}
        for name, first in identity.items():
            if current[first] != name and first not in both:
                renamed[(unit, name)] = current[first]
    if renamed:
        for rows in records.values():
            for r in rows:
                goes_by = renamed.get((r["unit"], r.get("site")))
                if goes_by is not None:
                    r[REPORTED_SITE] = r["site"]
                    r["site"] = goes_by
    return renamed


def as_reported(record: dict) -> dict:
    """The row as its form wrote it (its site under the name the form gave it)."""
    if REPORTED_SITE not in record:
        return record
    row = {k: v for k, v in record.items() if k != REPORTED_SITE}
    row["site"] = record[REPORTED_SITE]
    return row


class LedgerData:
    """Accepted rows of every sheet (months up to ``until``) and every arrival, loaded once.

    The rows are kept as records (one dict per row, in the ledger's order, dates as
    ``datetime.date``, ``None`` for a missing value) — what the checks read.  The
    reports' DataFrames (:attr:`frames`, :meth:`rows`) are built only when asked
    for, a sheet at a time.  Data made by :meth:`restrict` takes its frames from
    its parent's (a mask, not a rebuild).
    """

    def __init__(self, records: dict[str, list[dict]], files: list[dict], until: str | None = None, *,
                 parent: tuple[LedgerData, str | None, set | None] | None = None,
                 keys: Iterable[str] | None = None):
        self.files = files
        self.until = until
        self._frames: dict[str, pd.DataFrame] = {}
        self._records: dict[str, list[dict]] = dict(records)
        self._keys = list(keys if keys is not None else records)
        self._parent = parent  # (data, until, units) this was restricted from
        self._index: dict[str, _SheetIndex] = {}
        self._derived: dict = {}

    @classmethod
    def load(cls, ledger: Ledger, *, until: str | None = None, units: Iterable[str] | None = None,
             sheets: Iterable[str] | None = None, as_of: dt.date | None = None, timezone=None) -> LedgerData:
        """``sheets`` loads only some sheets (for a check-only evaluation); the default is all.

        ``as_of``: the ledger as it stood at the end of that day (SPEC §10, one snapshot per run):
        only arrivals received by then, and each month's form that was current then
        (:func:`files_as_of`), the day of an arrival taken in ``timezone`` (the office's zone).
        Every report, table and page of a run reads this one view.  A site renamed with a 变更说明
        goes by its latest name in every month (:func:`follow_renames`).

        Everything is read in one read transaction: a file recorded meanwhile is either wholly in
        the data (its rows in every sheet, its arrival, the one it superseded marked so) or not at all.
        """
        units = list(units) if units is not None else None
        with ledger.reading():
            files = [dict(r) for r in ledger.files(units=units)]
            mailed = {r[0] for r in ledger.query("SELECT file_id FROM mail_parts WHERE file_id IS NOT NULL")}
            for f in files:  # how it came: a form taken from the 报送 mailbox, or one dropped in the inbox folder
                f["channel"] = "email" if f["id"] in mailed else "folder"
            current = None
            if as_of is not None:
                files = files_as_of(files, as_of, timezone)
                current = [f["id"] for f in files if f["status"] == ACCEPTED]
            records = {key: ledger.accepted_records(key, units=units, until=until, file_ids=current)
                       for key in (sheets or SHEET_TITLES)}
            # a site renamed with a 变更说明 is the same site (SPEC §10): told by these two sheets
            told = {key: ledger.accepted_records(key, units=units, until=until, file_ids=current)
                    for key in ("sites", "basic_info") if key not in records}
        return cls._assembled(records, told, files, until, units)

    @classmethod
    def of_rows(cls, rows: dict[str, list[dict]], files: list[dict], mailed: set[int], *, until: str,
                units: list[str], sheets: Iterable[str]) -> LedgerData:
        """What :meth:`load` (``until``, ``units``, ``sheets``, no ``as_of``) gives, from rows read already:
        ``rows`` holds, for each sheet of ``sheets`` and for 示范点 and 基本信息, exactly what
        ``ledger.accepted_records(key, units=units, until=until)`` returns; ``files`` what
        ``ledger.files(units=units)`` returns (as dicts); ``mailed`` the arrivals taken from the mailbox.

        The rows become this data's own (the rows of a renamed site are changed in place)."""
        sheets = list(sheets)
        files = [{**f, "channel": "email" if f["id"] in mailed else "folder"} for f in files]
        records = {key: rows[key] for key in sheets}
        told = {key: rows[key] for key in ("sites", "basic_info") if key not in records}
        return cls._assembled(records, told, files, until, units)

    @classmethod
    def _assembled(cls, records: dict[str, list[dict]], told: dict[str, list[dict]], files: list[dict],
                   until: str | None, units: list[str] | None) -> LedgerData:
        follow_renames({**told, **records})
        if units is not None:
            files = [f for f in files if submitting_unit(f) in units]  # the folder decides when both are set
        if until is not None:
            files = [f for f in files if f["month"] and f["month"] <= until]
        return cls(records, files, until)

    def restrict(self, *, until: str | None = None, units: Iterable[str] | None = None) -> LedgerData:
        """The same data narrowed to months up to ``until`` and to some units."""
        units = set(units) if units is not None else None
        files = [f for f in self.files if (until is None or (f["month"] and f["month"] <= until))
                 and (units is None or f["unit"] in units)]
        limit = min(filter(None, [until, self.until]), default=None)
        # each sheet is narrowed when first read (a check-only evaluation reads four of seven)
        return LedgerData({}, files, limit, parent=(self, until, units), keys=self._keys)

    # --- records: what the checks read -------------------------------------------------
    def records(self, key: str, *, unit: str | None = None, site: str | None = None,
                months: Iterable[str] | None = None) -> list[dict]:
        """The rows of one sheet as records, in the ledger's order (the same rows as :meth:`rows`).

        The dicts are shared with this data: read them, do not change them.
        """
        if unit is None and site is None and months is None:
            return self._sheet_records(key)
        index = self._sheet_index(key)
        if months is not None:
            months = set(months)
        if unit is not None and site is not None:
            found = index.by_site.get((unit, site), [])
        elif unit is not None:
            found = index.by_unit.get(unit, [])
        elif months is not None and len(months) == 1:
            found, months = index.by_month.get(next(iter(months)), []), None
        else:
            found = self._sheet_records(key)
        if site is not None and unit is None:
            found = [r for r in found if r["site"] == site]
        if months is not None:
            found = [r for r in found if r["month"] in months]
        return found

    def snapshot_records(self, key: str) -> list[dict]:
        """The rows of one sheet in the whole snapshot this data was narrowed from, of its units but
        of every month loaded: what decides a problem's status as of the run's day when a report
        covers an earlier period (SPEC §10)."""
        if self._parent is None:
            return self._sheet_records(key)
        parent, _, units = self._parent
        rows = parent.snapshot_records(key)
        return rows if units is None else [r for r in rows if r["unit"] in units]

    def derived(self, key: tuple, build: Callable[[], object]):
        """``build()``, worked out once for this data and kept with it under ``key``: what every
        evaluation of one view reads alike (a month's activity tallies, the problem threads).  What
        it returns is shared: read it, do not change it."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def site_records(self, key: str, unit: str, site: str | None) -> list[dict]:
        """The rows of one (unit, site), ``None`` being a site name like any other."""
        return self._sheet_index(key).by_site.get((unit, site), [])

    def _sheet_records(self, key: str) -> list[dict]:
        if key not in self._records:
            if key not in self._keys:
                raise KeyError(key)
            parent, until, units = self._parent  # only restricted data reads its sheets lazily
            self._records[key] = [r for r in parent._sheet_records(key) if (until is None or r["month"] <= until)
                                  and (units is None or r["unit"] in units)]
        return self._records[key]

    def _sheet_index(self, key: str) -> _SheetIndex:
        if key not in self._index:
            self._index[key] = _SheetIndex(self._sheet_records(key))
        return self._index[key]

    # --- frames: what the reports read ---------------------------------------------------
    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        return {key: self.frame(key) for key in self._keys}

    def frame(self, key: str) -> pd.DataFrame:
        """One sheet's rows as a DataFrame of plain objects, built on first use."""
        if key not in self._frames:
            if key not in self._keys:
                raise KeyError(key)
            self._frames[key] = self._build_frame(key)
        return self._frames[key]

    def _build_frame(self, key: str) -> pd.DataFrame:
        if self._parent is None:
            return records_frame(key, self._sheet_records(key), plain=True)
        parent, until, units = self._parent
        frame = parent.frame(key)  # masking the parent's frame is cheaper than building one
        import pandas as pd

        mask = pd.Series(True, index=frame.index)
        if until is not None:
            mask &= frame["month"] <= until
        if units is not None:
            mask &= frame["unit"].isin(units)
        return frame[mask].reset_index(drop=True)

    def rows(self, key: str, *, unit: str | None = None, site: str | None = None,
             months: Iterable[str] | None = None) -> pd.DataFrame:
        """The rows of one sheet (of ``unit``, ``site`` and ``months``) as a frame of plain objects.

        Some rows of a sheet whose whole frame was never built are framed on their own (from
        :meth:`records`, the same rows in the same order): a month's report does not hold a frame
        of every row of the year, nor of the whole ledger it was narrowed from."""
        if key not in self._frames and (unit is not None or site is not None or months is not None):
            if key not in self._keys:
                raise KeyError(key)
            return records_frame(key, self.records(key, unit=unit, site=site, months=months), plain=True)
        import numpy as np

        frame = self.frame(key)
        mask = np.ones(len(frame), dtype=bool)  # numpy masks: this runs thousands of times per consolidation
        if unit is not None:
            mask &= frame["unit"].to_numpy() == unit
        if site is not None:
            mask &= frame["site"].to_numpy() == site
        if months is not None:
            mask &= frame["month"].isin(list(months)).to_numpy()
        return frame[mask]

    def source_files(self) -> list[dict]:
        """The accepted arrivals whose rows are in this data (for manifests and dossiers)."""
        ids = set()
        for key in self._keys:
            if key in self._frames and key not in self._records:
                ids.update(self._frames[key]["file_id"].unique())
            else:
                ids.update(r["file_id"] for r in self._sheet_records(key))
        ids = {int(i) for i in ids}
        return [f for f in self.files if f["id"] in ids]


class _SheetIndex:
    """One sheet's records by month, by unit and by (unit, site), each list in the ledger's order;
    each index is built when first asked for."""

    def __init__(self, records: list[dict]):
        self.records = records

    def _group(self, key: Callable[[dict], object]) -> dict:
        out: dict = {}
        for r in self.records:
            out.setdefault(key(r), []).append(r)
        return out

    @functools.cached_property
    def by_month(self) -> dict[str, list[dict]]:
        return self._group(operator.itemgetter("month"))

    @functools.cached_property
    def by_unit(self) -> dict[str, list[dict]]:
        return self._group(operator.itemgetter("unit"))

    @functools.cached_property
    def by_site(self) -> dict[tuple, list[dict]]:
        return self._group(lambda r: (r["unit"], r.get("site")))


FORM_SHEETS_UNTIL = ("basic_info", "sites", "contacts", "org_life", "hardware")
"""The sheets :class:`FormRows` reads for every month up to the form's (the receipt's findings read them)."""
FORM_SHEETS_TWO_MONTHS = ("members", "progress")
"""The sheets it reads for the form's month and the one before only (the checks across months read them)."""


class FormRows:
    """One unit's rows and arrivals as the checks of its new form and its receipt's findings read them,
    read once, in the transaction that records the form.

    ``rows[key]`` is ``ledger.accepted_records(key, units=[unit], until=month)`` for the sheets of
    :data:`FORM_SHEETS_UNTIL`, and ``…(key, units=[unit], months=[month before, month])`` for those of
    :data:`FORM_SHEETS_TWO_MONTHS`; ``files`` is ``ledger.files(units=[unit])`` (as dicts);
    ``month_sites`` is every unit's (unit, site) of the month (:meth:`Ledger.accepted_site_names`).
    ``file_id``: the arrival being recorded.

    The checks (:func:`processor.consolidate.quality.form_warnings`) read the rows as they are; the
    findings data (:meth:`ledger_data`) takes them over, so it comes after the checks.  The rows
    stand for the ledger only while nothing is committed to it after the recording transaction
    (:meth:`sealed` at its end, :meth:`current` later).
    """

    def __init__(self, unit: str, month: str, file_id: int, rows: dict[str, list[dict]], files: list[dict],
                 mailed: set[int], month_sites: list[tuple[str, str | None]]):
        self.unit, self.month, self.previous, self.file_id = unit, month, add_months(month, -1), file_id
        self.rows, self.files, self.mailed, self.month_sites = rows, files, mailed, month_sites
        self.stamp: tuple[int, int] | None = None

    @classmethod
    def read(cls, ledger: Ledger, unit: str, month: str, file_id: int) -> FormRows:
        units, previous = [unit], add_months(month, -1)
        with ledger.reading():
            rows = ledger.unit_records(FORM_SHEETS_UNTIL, units=units, until=month)
            rows.update(ledger.unit_records(FORM_SHEETS_TWO_MONTHS, units=units, months=[previous, month]))
            files = [dict(r) for r in ledger.files(units=units)]
            mailed = {r[0] for r in ledger.query("SELECT file_id FROM mail_parts WHERE file_id IS NOT NULL")}
            month_sites = ledger.accepted_site_names(month)
        return cls(unit, month, file_id, rows, files, mailed, month_sites)

    def two_months(self, key: str) -> list[dict]:
        """The unit's rows of the month and the one before (in the ledger's order)."""
        if key in FORM_SHEETS_TWO_MONTHS:
            return self.rows[key]
        months = (self.previous, self.month)
        return [r for r in self.rows[key] if r["month"] in months]

    def note_summary(self, summary_json: str) -> None:
        """The arrival's ``summary_json`` as written later in the same transaction."""
        for f in self.files:
            if f["id"] == self.file_id:
                f["summary_json"] = summary_json

    def sealed(self, ledger: Ledger) -> FormRows:
        """Note the ledger's change stamp, at the end of the recording transaction (its last statement)."""
        self.stamp = ledger.change_stamp()
        return self

    def current(self, ledger: Ledger, row) -> bool:
        """Whether these are still the rows of arrival ``row``'s unit and month as the ledger holds them:
        read for it, and nothing committed to the ledger since (by this connection or any other)."""
        return (self.stamp is not None and (self.file_id, self.unit, self.month) == (row["id"], row["unit"], row["month"])
                and ledger.change_stamp() == self.stamp)

    def ledger_data(self, sheets: Iterable[str]) -> LedgerData:
        """:meth:`LedgerData.load` of the unit up to the month (``sheets`` of :data:`FORM_SHEETS_UNTIL`)."""
        return LedgerData.of_rows(self.rows, self.files, self.mailed, until=self.month, units=[self.unit],
                                  sheets=sheets)
