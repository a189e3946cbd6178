"""The run's one basis (SPEC §10): the ledger as of the run's day, the roster, the rulebook, and the
findings of each scope and period, derived once and read by every report of the run.

A consolidation builds one :class:`Snapshot` and hands it to every report builder
(:mod:`processor.consolidate.monthly`, :mod:`~processor.consolidate.half_year`,
:mod:`~processor.consolidate.year_report`, :mod:`~processor.consolidate.assignment`,
:mod:`~processor.consolidate.dossier`): none of them loads data, picks a day or evaluates the rules
on its own.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field

from processor.consolidate.findings import Finding, evaluate, roster_units
from processor.consolidate.ledger_data import LedgerData
from processor.consolidate.quality import quality_warnings
from processor.record.ledger import Ledger
from processor.schemas.layout import LAYOUT_BY_KEY as SHEETS_BY_KEY

_FILE_MONTH = operator.itemgetter("file_id", "month")


@dataclass
class Snapshot:
    """``data``: the ledger as of ``as_of`` (:meth:`LedgerData.load` with ``as_of``); ``ws``: the
    workspace (its rulebook, office name, addressee); ``roster``: the units and 企业组 members."""

    data: LedgerData
    ws: object
    roster: object
    as_of: dt.date
    _views: dict = field(default_factory=dict, repr=False)
    _findings: dict = field(default_factory=dict, repr=False)
    _warnings: dict = field(default_factory=dict, repr=False)
    _files_of: dict = field(default_factory=dict, repr=False)
    _first_month: dict | None = field(default=None, repr=False)

    @classmethod
    def of(cls, source: Ledger | LedgerData, ws, roster, as_of: dt.date) -> Snapshot:
        """A snapshot of data already read (``LedgerData``) or of a whole ledger, dated ``as_of``."""
        data = source if isinstance(source, LedgerData) else LedgerData.load(source)
        return cls(data, ws, roster, as_of)

    @property
    def rulebook(self):
        return self.ws.rulebook

    def view(self, *, until: str | None = None) -> LedgerData:
        """The data narrowed to the months up to ``until`` (all of it without), narrowed once."""
        if until is None:
            return self.data
        if until not in self._views:
            self._views[until] = self.data.restrict(until=until)
        return self._views[until]

    def period_files(self, *, until: str, months: Iterable[str]) -> list[dict]:
        """What a report of ``months`` built on the data up to ``until`` is made of: the accepted
        arrivals with rows up to ``until`` and every arrival of ``months`` (the same files as
        ``view(until=until).source_files()`` and that view's arrivals of ``months``, found without
        narrowing the data: the nightly run asks this of every earlier period in the outbox)."""
        if self._first_month is None:  # each accepted arrival's first month with rows
            pairs: set[tuple[int, str]] = set()  # (file, month): a form's rows are of few months, read in C
            for sheet in SHEETS_BY_KEY:
                try:
                    rows = self.data.records(sheet)
                except KeyError:  # data loaded with some sheets only
                    continue
                pairs.update(map(_FILE_MONTH, rows))
            first: dict[int, str] = {}
            for file_id, month in pairs:
                file_id = int(file_id)
                if file_id not in first or month < first[file_id]:
                    first[file_id] = month
            self._first_month = first
        months = set(months)
        return [f for f in self.data.files if f["month"] and f["month"] <= until
                and (f["month"] in months or self._first_month.get(f["id"], "~") <= until)]

    def shared_sites(self, *, until: str | None = None) -> list[dict]:
        """Sites registered by more than one unit (SPEC §10, Identity): one name (spaces, width and
        punctuation aside) in the latest forms up to ``until`` of two or more units, each as
        {"site": the name, "units": the units in roster order}; one enterprise, to be counted once
        and checked with both units."""
        from processor.common.values import problem_key

        data = self.view(until=until)
        latest: dict[str, str] = {}
        for r in data.records("sites"):
            latest[r["unit"]] = max(latest.get(r["unit"], r["month"]), r["month"])
        units_of: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for unit in self.units(until=until):
            for r in data.records("sites", unit=unit):
                if r["month"] == latest.get(unit) and r["site"]:
                    key = problem_key(r["site"])
                    names.setdefault(key, r["site"])
                    if unit not in units_of.setdefault(key, []):
                        units_of[key].append(unit)
        return [{"site": names[key], "units": units} for key, units in units_of.items() if len(units) > 1]

    def units(self, *, until: str | None = None) -> list[str]:
        """The units in roster order (without a roster, those of the data up to ``until``)."""
        return roster_units(self.roster, self.view(until=until))

    def unit_files(self, unit: str, *, until: str | None = None) -> list[dict]:
        """The arrivals of ``view(until=…)`` recorded under ``unit`` (``f["unit"]``), in ledger order;
        the view's files are split by unit once."""
        if until not in self._files_of:
            by_unit: dict[str, list[dict]] = {}
            for f in self.view(until=until).files:
                by_unit.setdefault(f["unit"], []).append(f)
            self._files_of[until] = by_unit
        return self._files_of[until].get(unit, [])

    def quality_warnings(self, month: str, *, until: str | None = None, units: list[str]) -> list[Finding]:
        """:func:`~processor.consolidate.quality.quality_warnings` of ``month`` for ``units`` on the data
        up to ``until``, worked out once a run (the monthly report and the 总览 page both list them).

        The list is shared: read it, do not change it."""
        key = (until, month, tuple(units))
        if key not in self._warnings:
            self._warnings[key] = quality_warnings(self.view(until=until), self.rulebook, month, units=units)
        return self._warnings[key]

    def findings(self, months: Iterable[str], *, until: str | None = None,
                 units: list[str] | None = None) -> list[Finding]:
        """Every finding of ``months`` on the data up to ``until``, as of the run's day (``units``:
        only those units, staff findings left out); each scope and period evaluated once a run."""
        months = tuple(months)
        key = (until, months, tuple(units) if units is not None else None)
        if key not in self._findings:
            self._findings[key] = evaluate(self.view(until=until), self.rulebook, self.roster, months=list(months),
                                           today=self.as_of, units=units)
        return self._findings[key]

    def findings_per_unit(self, months: Iterable[str], units: list[str], *, until: str | None = None) -> None:
        """Evaluate ``months`` for several units at once and keep each unit's findings as
        ``findings(months, until=until, units=[unit])`` returns them (one evaluation instead of one
        per unit)."""
        months = tuple(months)
        wanted = [u for u in units if (until, months, (u,)) not in self._findings]
        if not wanted:
            return
        by_unit: dict[str, list[Finding]] = {u: [] for u in wanted}
        for finding in evaluate(self.view(until=until), self.rulebook, self.roster, months=list(months),
                                today=self.as_of, units=wanted):
            if finding.unit in by_unit:
                by_unit[finding.unit].append(finding)
        for unit, found in by_unit.items():
            self._findings[(until, months, (unit,))] = found
