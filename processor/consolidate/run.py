"""Nightly consolidation: every output of the outbox from the ledger, idempotently.

For each output the inputs are fingerprinted — the report's context (built from
the ledger rows), the ledger files it was built from, the template and the
rulebook.  An output whose fingerprint is unchanged and whose file is intact is
left alone (not even its mtime changes); a changed fingerprint writes a new
version atomically and records it in the ledger's ``outputs`` table and in
``outbox/manifest.json``.

Every version written is recorded (``output_versions``) before its file is put in place, so a
file whose bytes are none the processor wrote was changed by a person — a report opened in Word
and saved.  It is never overwritten: the new version goes beside it as ``…（程序新版）.docx``, and
the run says so (:attr:`ConsolidationResult.edited`, the log, the 总览 page).  One consolidation
runs at a time (:class:`processor.common.lock.ConsolidationLock`); the manifest is read and
written under that lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import os
import sqlite3
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from collections.abc import Callable, Iterator

from processor.common import forkserver
from processor.common import outputs as output_kinds
from processor.common import periods
from processor.common.faults import checkpoint
from processor.common.clock import office_today
from processor.common.lock import ConsolidationLock
from processor.common.fsutil import (TEMP_PREFIX, UniqueNames, atomic_write_bytes, fsync_folder,
                                     remove_stale_temp_files, safe_name, sha256_file, storage_error)
from processor.common.paths import TEMPLATES_DIR
from processor.consolidate import assignment, dossier, half_year, monthly, overview, year_report
from processor.consolidate.blocks import latest_sites
from processor.consolidate.ledger_data import LedgerData, as_reported
from processor.consolidate.recorder import Recorder
from processor.consolidate.snapshot import Snapshot
from processor.consolidate.sources import (changed_periods, digest, rows_digest, sources_digest, sources_of,
                                          summary_sources)
from processor.record.ledger import Ledger, now_iso
from processor.render import columns, jobs, workbooks
from processor.schemas.layout import LAYOUT_BY_KEY as SHEETS_BY_KEY

LOG = logging.getLogger(__name__)
MANIFEST_NAME = "manifest.json"

MONTHLY, HALF_YEAR, YEAR, ASSIGNMENT, DOSSIER, REMINDER, SUMMARY, CHART, OVERVIEW = (
    output_kinds.MONTHLY_REPORT, output_kinds.HALF_YEAR_REPORT, output_kinds.YEAR_REPORT, output_kinds.ASSIGNMENT_TABLE, output_kinds.SITE_DOSSIER, output_kinds.REMINDER_LIST,
    output_kinds.SUMMARY_DATA, output_kinds.CHART, output_kinds.OVERVIEW)
FOLDER = output_kinds.DISPLAY_NAMES  # each kind's outbox folder is its Chinese name
ASSIGNMENT_NAME = "企业组人员联系示范点分组情况一览表"
TEMPLATES = {MONTHLY: "monthly_report", HALF_YEAR: "half_year_report", YEAR: "year_report",
             ASSIGNMENT: "assignment_table",
             DOSSIER: "site_dossier", REMINDER: "reminder_list"}


class ConsolidationError(RuntimeError):
    """Consolidation could not run (no ledger, bad arguments); the message is for the operator."""


@dataclass
class ConsolidationResult:
    written: list[Path]
    unchanged: list[Path]
    manifest: Path
    skipped: list[str] = field(default_factory=list)  # outputs not produced, with the reason (Chinese)
    months: list[str] = field(default_factory=list)
    halves: list[str] = field(default_factory=list)
    years: list[str] = field(default_factory=list)
    # outputs a person changed (left as they are): {"path", "new_version"} relative to the outbox;
    # new_version is where this run's version went (None: nothing new to write beside it)
    edited: list[dict] = field(default_factory=list)
    # earlier periods rebuilt because their inputs changed (a late or corrected form), one Chinese
    # sentence each: 2026年10月月度汇总报告已按鼓山区10月更正报表重新生成
    updates: list[str] = field(default_factory=list)

    @property
    def edited_lines(self) -> list[str]:
        """One Chinese line per output a person changed, for the operator."""
        return [edited_line(e["path"], e["new_version"]) for e in self.edited]

    def to_dict(self) -> dict:
        return {"written": [str(p) for p in self.written], "unchanged": [str(p) for p in self.unchanged],
                "manifest": str(self.manifest), "skipped": self.skipped, "months": self.months,
                "halves": self.halves, "years": self.years, "edited": self.edited,
                "edited_lines": self.edited_lines, "updates": self.updates}


def edited_line(path: str, new_version: str | None) -> str:
    if new_version:
        return f"{path} 已被人工修改，原样保留；本次生成的新版另存为 {PurePosixPath(new_version).name}"
    return f"{path} 已被人工修改，原样保留（数据没有变化，没有新版）"


@dataclass
class Output:
    """One file of the outbox (and the chart files beside it): where it goes, what it is built
    from, and how to write it."""

    rel_path: str
    kind: str
    period: str | None
    payload: object  # what the file shows (context or rows); part of the fingerprint
    sources: list[dict]
    # job({rel_path: target}) writes the files named: the document and/or its extras.  A picklable
    # job (a partial of a module function) may run in a worker process.
    job: Callable[[dict[str, Path]], None]
    template: str | None = None
    extras: list[str] = field(default_factory=list)  # rel paths of the files written beside it (charts)
    note: str | None = None  # why an earlier period's output was written again (for the report mail)

    @property
    def files(self) -> list[str]:
        return [self.rel_path, *self.extras]


def default_month(ws, today: dt.date) -> str:
    """The latest month whose submission deadline has passed (on 2026-11-26 → 2026-10)."""
    return periods.last_due_month(today, ws.rulebook.submission_deadline_day)


STALE_TEMP_SECONDS = 3600
# Reports render in worker processes when there are enough dossiers to repay starting the workers
# (~0.5 s each); at most PARALLEL_WINDOW outputs wait for a worker at any time.
PARALLEL_MIN_DOSSIERS = 16
PARALLEL_WORKERS = 2
PARALLEL_WINDOW = 8


def consolidate(ws, *, month: str | None = None, half: str | None = None, year: str | None = None,
                all_months: bool = False, today: dt.date | None = None, as_of: dt.date | None = None,
                on_output: Callable[[str], None] | None = None, wait: bool = True,
                on_wait: Callable[[str], None] | None = None) -> ConsolidationResult:
    """Build the outbox from the ledger: the reports, workbooks, dossiers and overview of the
    periods asked for, rewriting only what changed, and the manifest that lists them.

    ``ws``: the loaded workspace (:class:`processor.common.config.Workspace`).
    ``month``: a month ``YYYY-MM``; ``half``: a half-year such as ``2026-H2``; ``year``: a year
    such as ``2026`` (the yearly summary); with none, the latest month whose submission deadline
    has passed (and its half-year when that ended, and its year after December).
    Each must lie within the months the rulebook covers (else
    :class:`processor.common.rulebook.MonthNotCovered`).
    ``all_months``: every month, half-year and year in the ledger.
    Without any of these (the nightly run), every earlier period already in the outbox whose inputs
    changed since it was written (a late or corrected form) is rebuilt too, and says why
    (:attr:`ConsolidationResult.updates`, the report mail); one whose inputs did not change is left alone.
    ``as_of`` (or, as before, ``today``): the run's as-of day (default: today).  The outputs are
    built as they stood at the end of that day (SPEC §10, one snapshot per run): only forms received
    by then count, every problem has its status of that day, and every output prints that date.
    ``on_output(path)``: called after each output is done (written or found unchanged), with its
    path relative to the outbox; for a progress display.
    One consolidation at a time per workspace (:class:`processor.common.lock.ConsolidationLock`):
    while another runs (``serve``'s nightly run, an operator's ``consolidate``), this one waits,
    calling ``on_wait(message)`` once; with ``wait=False`` it raises
    :class:`processor.common.lock.ConsolidationBusy` instead.
    Returns a :class:`ConsolidationResult`; raises :class:`ConsolidationError` on a bad request and
    :class:`processor.common.fsutil.StorageError` when the outbox cannot be written.
    """
    today = as_of or today or office_today(ws)
    from processor.validate.roster import read_ledger_as, workspace_roster

    with (_storage_failures_said(ws), ConsolidationLock(ws, wait=wait, on_wait=on_wait),
          Ledger(ws.ledger_path) as ledger):
        ws.outbox.mkdir(parents=True, exist_ok=True)
        # A consolidation killed mid-write leaves .tmp- files; a live writer's are minutes old at most.
        remove_stale_temp_files(ws.outbox, min_age_seconds=STALE_TEMP_SECONDS, exclude=ws.receipts_dir)
        _remove_staging_files(ws.outbox, ws.receipts_dir)  # a killed run's: no other consolidation runs (the lock)
        # the render workers start, and load their libraries, while the roster and the ledger are read
        renderer = _Renderer(ledger.accepted_site_count() >= PARALLEL_MIN_DOSSIERS)
        try:
            roster = workspace_roster(ws)
            read_ledger_as(roster, ledger)  # a renamed unit's earlier forms are its own
            data = LedgerData.load(ledger, as_of=today, timezone=ws.rulebook.timezone)  # the one view every output of the run reads
            months, halves, years = _periods(ws, data, today, month=month, half=half, year=year,
                                             all_months=all_months)
            if not months and not halves and not years:  # --all on a ledger with no month in it: nothing to build
                return ConsolidationResult([], [], ws.outbox / MANIFEST_NAME)
            built = [dict(r) for r in ledger.query("SELECT path, kind, period, sources_hash FROM outputs")]
            edits: dict[str, str | None] = {}  # outputs a person changed -> where their new version went
            snapshot = Snapshot(data, ws, roster, today)  # the run's one basis: data, day, findings
            updates: dict[str, str] = {}
            if not (month or half or year or all_months):  # the nightly run: and what changed before
                updates = changed_periods(snapshot, built, _load_manifest(ws.outbox / MANIFEST_NAME),
                                           months, halves, years)
            outputs = _plan(snapshot, months, halves, years, built, edits=edits, updates=updates)  # lazy
            result = _build(ws, ledger, outputs, months, halves, years, on_output or _ignore, renderer, edits)
            result.updates = list(dict.fromkeys(updates.values()))
            for line in result.updates:
                LOG.info(line)
            return result
        finally:
            renderer.close()


@contextlib.contextmanager
def _storage_failures_said(ws) -> Iterator[None]:
    """A full or read-only disk ends the run with one Chinese line (a StorageError), its details in
    the log.  What was written stays: every file is replaced atomically, and only files that were
    written are recorded."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        error = storage_error(exc, outbox=ws.outbox, kept="已生成的文件保持不变", command="processor consolidate")
        if error is None:
            raise
        LOG.error("汇总中止：%s", error, exc_info=exc)
        raise error from exc


def _periods(ws, data: LedgerData, today: dt.date, *, month, half, year, all_months
             ) -> tuple[list[str], list[periods.Period], list[periods.Period]]:
    book = ws.rulebook
    if all_months:  # the months the ledger holds that the rules cover (a month outside was never accepted)
        months = sorted({f["month"] for f in data.files if f["month"] and book.covers(f["month"])})
        halves = list({periods.period_of(m, "half").label: periods.period_of(m, "half") for m in months}.values())
        years = list({periods.period_of(m, "year").label: periods.period_of(m, "year") for m in months}.values())
        return months, halves, years
    months, halves, years = [], [], []
    if month:
        periods.parse_month(month)
        book.require(month)
        months.append(month)
    if half:
        halves.append(periods.parse_half(half))
        book.require(halves[-1].first, halves[-1].last, halves[-1].name)
    if year:
        years.append(periods.parse_year(year))
        book.require(years[-1].first, years[-1].last, years[-1].name)
    if not months and not halves and not years:
        months = [default_month(ws, today)]
        if months[0] < book.start:  # the office's first month (calendar.start_month) is not due yet: nothing to build
            return [], [], []
        book.require(months[0])
        if months[0].endswith(("-06", "-12")):  # a half-year just closed: its written report (M-4c) is due
            halves = [periods.period_of(months[0], "half")]
        if months[0].endswith("-12"):  # and with December the year's summary for the annual 述职
            years = [periods.period_of(months[0], "year")]
    return months, halves, years


# --- what to build ----------------------------------------------------------------------------

def _plan(snapshot: Snapshot, months: list[str], halves: list[periods.Period], years: list[periods.Period],
          built: list[dict] = (), *, edits: dict[str, str | None] | None = None,
          updates: dict[str, str] | None = None) -> Iterator[Output]:
    """Every output, each built only when the one before it has been written; the 总览 page last,
    linking to this run's outputs and to those of earlier runs (``built``) still in the outbox, and
    listing the outputs a person changed (``edits``, filled in as the outputs before it are written).
    ``updates``: {period label: why it is built again} for the earlier periods rebuilt."""
    ws, data = snapshot.ws, snapshot.data
    planned: list[dict] = []
    updates = updates or {}

    def plan(outputs):
        for output in outputs:
            if output.kind in _NOTED_KINDS and output.period in updates:
                output.note = updates[output.period]
            planned.append({"path": output.rel_path, "kind": output.kind, "period": output.period})
            yield output

    for month in months:
        yield from plan(_monthly_outputs(snapshot, month))
    for half in halves:
        yield from plan(_period_outputs(snapshot, HALF_YEAR, half))
    for year in years:
        yield from plan(_period_outputs(snapshot, YEAR, year))
    until = max([*months, *(h.last for h in halves), *(y.last for y in years)])
    yield from plan(_assignment_outputs(snapshot, until))
    yield from plan(_dossier_outputs(snapshot, until))
    earlier = [o for o in built if (ws.outbox / o["path"]).is_file()]
    # the page speaks for the latest month with forms: a half-year or year asked for may not be over
    latest = max((f["month"] for f in data.files if f["month"] and f["month"] <= until), default=until)
    edits = edits if edits is not None else {}
    beside = [{**p, "path": edits[p["path"]]} for p in planned if edits.get(p["path"])]
    yield _overview_output(snapshot, latest, earlier + planned + beside, edits)


_NOTED_KINDS = (MONTHLY, HALF_YEAR, YEAR, SUMMARY, REMINDER, CHART)  # the outputs of a period


def _overview_output(snapshot: Snapshot, until: str, outputs: list[dict],
                     edits: dict[str, str | None] | None = None) -> Output:
    """总览.html: the twelve months up to the run's day at a glance (every arrival of the ledger, as of that day)."""
    data = snapshot.data
    window = overview.window_months(snapshot.ws.rulebook, snapshot.as_of, until)
    reports = overview.window_reports(outputs, window)
    context = overview.overview_context(data, snapshot.ws, snapshot.roster, snapshot.as_of, until, reports,
                                        snapshot=snapshot)
    _mark_edited(context, edits or {})
    year = str(context["year"])
    sources = sources_of([f for f in data.files if window[0] <= (f["month"] or "") <= window[-1]])
    rel = overview.OVERVIEW_NAME
    return Output(rel, OVERVIEW, year, context, sources,
                  partial(jobs.write_html, overview.OVERVIEW_TEMPLATE, rel, context), overview.OVERVIEW_TEMPLATE)


EDITED_SECTION = "人工修改过的文件（程序不覆盖，新版另存）"


def _mark_edited(context: dict, edits: dict[str, str | None]) -> None:
    """On the 总览 page: which linked files a person changed and which are the processor's new
    versions beside them, and a section listing each changed file with its new version."""
    for group in context["report_groups"]:
        for link in group["links"]:
            if link["path"] in edits:
                link["label"] += "（人工修改版）"
            elif output_kinds.edited_original(link["path"]):
                link["label"] += output_kinds.NEW_VERSION_MARK
    links = []
    for rel, new in edits.items():
        links.append({"label": f"{PurePosixPath(rel).name}（人工修改版，原样保留）", "href": overview.href(rel),
                      "path": rel})
        if new:
            links.append({"label": f"{PurePosixPath(new).name}（按最新数据生成）", "href": overview.href(new),
                          "path": new})
    if links:
        context["report_groups"].append({"title": EDITED_SECTION, "links": links})


def _monthly_outputs(snapshot: Snapshot, month: str) -> Iterator[Output]:
    ws, scoped = snapshot.ws, snapshot.view(until=month)
    # the summary first: its rows are at hand, and a worker writes it while the report's context is built
    yield _summary_output(scoped, [month], month, snapshot.as_of)
    month_files = [f for f in scoped.files if f["month"] == month]
    sources = sources_of(snapshot.period_files(until=month, months=[month]))
    context = monthly.monthly_report_context(snapshot, month)
    title = f"{ws.title_prefix}关于{periods.month_cn(month)}企业组联系党建示范点工作情况的报告"
    folder = f"{FOLDER[MONTHLY]}/{month}"
    yield _report_output(f"{folder}/{safe_name(title, extension='.docx')}", MONTHLY, month, context, sources,
                         folder)

    reminder = monthly.reminder_context(snapshot, month)
    rem_sources = sources_of(month_files)
    rel = f"{FOLDER[REMINDER]}/{month}/{FOLDER[REMINDER]}.xlsx"
    yield Output(rel, REMINDER, month, reminder, rem_sources,
                 _workbook_job(rel, workbooks.reminder_workbook, reminder, columns.reminder_columns()))
    yield _report_output(f"{FOLDER[REMINDER]}/{month}/{FOLDER[REMINDER]}.docx", REMINDER, month, reminder, rem_sources)


# A period report: its context builder and the title it is filed under ({name} is the period's name).
_PERIOD_REPORTS = {
    HALF_YEAR: (half_year.half_year_context, "{prefix}关于{name}挂钩联系点固本强基工程工作进展情况的报告"),
    YEAR: (year_report.year_report_context, "{prefix}关于{name}企业组联系党建示范点工作情况的总结"),
}


def _period_outputs(snapshot: Snapshot, kind: str, period: periods.Period) -> Iterator[Output]:
    """A half-year or year: its summary sheet and its written report."""
    scoped = snapshot.view(until=period.last)
    yield _summary_output(scoped, period.months, period.label, snapshot.as_of)
    sources = sources_of(snapshot.period_files(until=period.last, months=period.months))
    build_context, title = _PERIOD_REPORTS[kind]
    context = build_context(snapshot, period)
    title = title.format(prefix=snapshot.ws.title_prefix, name=period.name)
    folder = f"{FOLDER[kind]}/{period.label}"
    yield _report_output(f"{folder}/{safe_name(title, extension='.docx')}", kind, period.label, context, sources,
                         folder)


def _assignment_outputs(snapshot: Snapshot, until: str) -> list[Output]:
    context = assignment.assignment_context(snapshot, until=until)
    data = snapshot.view(until=until)
    latest = {(s["unit"], s["month"]) for s in latest_sites(data, snapshot.units(until=until))}
    sources = sources_of([f for f in data.files if f["status"] == "accepted" and (f["unit"], f["month"]) in latest])
    base = f"{FOLDER[ASSIGNMENT]}/{ASSIGNMENT_NAME}"
    return [_report_output(f"{base}.docx", ASSIGNMENT, str(context["year"]), context, sources),
            Output(f"{base}.xlsx", ASSIGNMENT, str(context["year"]), context, sources,
                   _workbook_job(f"{base}.xlsx", workbooks.assignment_workbook, context,
                                 columns.assignment_columns()))]


def _dossier_outputs(snapshot: Snapshot, until: str) -> Iterator[Output]:
    view = snapshot.view(until=until)
    site_keys = list(dict.fromkeys((r["unit"], r["site"]) for r in view.records("sites")))
    dossier.evaluate_dossiers(snapshot, site_keys, until=until)
    # one folder per unit, one file per site: never two of them in one file, whatever their names
    sites_of: dict[str, list[str]] = {}
    for unit, site in site_keys:
        sites_of.setdefault(unit, []).append(site)
    folders = UniqueNames(sites_of)
    files = {unit: UniqueNames(sites, extension=".docx") for unit, sites in sites_of.items()}
    for unit, site in site_keys:
        context = dossier.dossier_context(snapshot, unit, site, until=until)
        ids = {r["file_id"] for r in view.site_records("sites", unit, site)}
        sources = sources_of([f for f in snapshot.unit_files(unit, until=until) if f["id"] in ids])
        rel = f"{FOLDER[DOSSIER]}/{folders[unit]}/{files[unit][site]}"
        yield _report_output(rel, DOSSIER, f"{unit}/{site}", context, sources)


def _summary_output(data: LedgerData, months: list[str], period: str, as_of: dt.date) -> Output:
    rows = {key: data.records(key, months=months) for key in SHEETS_BY_KEY}
    sources = summary_sources(data, months, rows)
    rows = {key: [as_reported(r) for r in records] for key, records in rows.items()}  # the forms' own words
    payload = {key: rows_digest(records) for key, records in rows.items()}
    stamp = dt.datetime(as_of.year, as_of.month, as_of.day)  # the reports' date
    rel = f"{FOLDER[SUMMARY]}/{period}/{FOLDER[SUMMARY]}.xlsx"
    build = partial(workbooks.summary_workbook, columns.summary_sheets(rows), stamp)
    return Output(rel, SUMMARY, period, payload, sources, partial(jobs.write_workbook, rel, build))


def _workbook_job(rel: str, build: Callable, context: dict, workbook_columns: list[workbooks.Column]) -> Callable:
    return partial(jobs.write_workbook, rel, partial(build, context, workbook_columns, _stamp(context)))


def _report_output(rel: str, kind: str, period: str | None, context: dict, sources: list[dict],
                   chart_folder: str | None = None) -> Output:
    template = TEMPLATES[kind]
    chart_files = {}  # rel path of a chart file -> the context's chart variable
    if chart_folder:
        for name, spec in sorted((context.get("charts") or {}).items()):
            chart_files[f"{chart_folder}/{FOLDER[CHART]}/{safe_name(spec['title'], extension='.png')}"] = name
    return Output(rel, kind, period, context, sources, partial(jobs.write_report, template, rel, context, chart_files),
                  template, list(chart_files))


def _stamp(context: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(context["report_date"])


# --- building -----------------------------------------------------------------------------------

def _fingerprint(output: Output, rulebook_hash: str, templates: dict[str, str] | None = None) -> str:
    """Everything the file shows: when it is unchanged, the file is not rebuilt."""
    return digest({"basis": _basis(output, rulebook_hash, "", templates), "payload": output.payload})


def _basis(output: Output, rulebook_hash: str, roster_hash: str, templates: dict[str, str] | None = None) -> str:
    """What the file is built from (submissions, roster, rules, template), leaving out what it shows.

    A report rebuilt only because the as-of date moved has the same basis; delivery sends a report
    again only when its basis changed (SPEC §7: new or changed reports, not one a night).
    ``templates``: the template digests already worked out in this run, by template (filled in)."""
    template_hash = ""
    if output.template:
        known = templates if templates is not None else {}
        if output.template not in known:
            path = TEMPLATES_DIR / (output.template if "." in output.template else f"{output.template}.docx")
            known[output.template] = sha256_file(path) if path.is_file() else "missing"
        template_hash = known[output.template]
    # the kind's Chinese name, as fingerprints had it before kinds were identifiers: no rebuild on upgrade
    return digest({"kind": output_kinds.display_name(output.kind), "path": output.rel_path, "sources": output.sources,
                    "template": template_hash, "rulebook": rulebook_hash, "roster": roster_hash,
                    "extras": sorted(output.extras)})


def _build(ws, ledger: Ledger, outputs, months, halves, years, on_output: Callable[[str], None],
           renderer: _Renderer, edits: dict[str, str | None] | None = None) -> ConsolidationResult:
    recorder = Recorder(ledger, ws.outbox)
    try:
        return _build_all(ws, recorder, outputs, months, halves, years, on_output, renderer,
                          {} if edits is None else edits)
    finally:
        renderer.close()  # every started job is finished (or cancelled) before the last batch is recorded
        checkpoint("consolidate-after-render")  # outputs and manifest written, the last batch not recorded
        try:
            recorder.flush()
        finally:  # a run stopped by a full disk or a read-only outbox leaves none of its staged versions
            _remove_staging_files(ws.outbox, ws.receipts_dir)


def _build_all(ws, recorder: Recorder, outputs, months, halves, years, on_output: Callable[[str], None],
               renderer: _Renderer, edits: dict[str, str | None]
               ) -> ConsolidationResult:
    rulebook_hash = sha256_file(Path(ws.rulebook.source))
    roster_hash = sha256_file(ws.roster_path)
    result = ConsolidationResult([], [], ws.outbox / MANIFEST_NAME, months=months, halves=[h.label for h in halves],
                                 years=[y.label for y in years])
    manifest = _load_manifest(result.manifest)
    checkpoint("consolidate-manifest-read")  # read under the consolidation lock, written at the end
    latest_month: tuple[str, str] | None = None  # (month, summary) for the delivery mail
    templates: dict[str, str] = {}  # each template's digest, read once a run
    for output in outputs:
        if output.kind == MONTHLY and (latest_month is None or output.period > latest_month[0]):
            latest_month = (output.period, "".join(output.payload["sentences"].values()))
        inputs_hash = _fingerprint(output, rulebook_hash, templates)
        hashes = {"inputs_hash": inputs_hash, "basis_hash": _basis(output, rulebook_hash, roster_hash, templates),
                  "sources_hash": sources_digest(output.sources), "update_note": output.note}
        stale = {}  # rel -> where its job writes it (a staging file, put in place once recorded)
        for rel in output.files:
            dest = recorder.destination(rel)
            target = ws.outbox / dest
            previous = recorder.previous.get(dest)
            if dest != rel:  # a person changed the file: it stays, this run's version goes beside it
                base = recorder.previous.get(rel)
                if previous is None and not target.exists() and base and base["inputs_hash"] == inputs_hash:
                    _note_edit(edits, manifest, recorder, output, rel, None)  # nothing new since it was edited
                    result.unchanged.append(ws.outbox / rel)
                    continue
                _note_edit(edits, manifest, recorder, output, rel, dest)
            if (previous and previous["inputs_hash"] == inputs_hash and target.is_file()
                    and sha256_file(target) == previous["sha256"]):
                result.unchanged.append(target)
                manifest.setdefault(dest, _manifest_entry(previous, output))
                manifest[dest].pop("edited", None)
            else:
                stale[rel] = _staging_path(ws.outbox / dest)
        if stale:
            renderer.run(output, stale,
                         done=partial(_record, recorder, output, stale, hashes, result, manifest, edits),
                         skip=partial(_skip_staged, result, stale))
        on_output(output.rel_path)
    renderer.drain(0)
    result.edited = [{"path": rel, "new_version": new} for rel, new in edits.items()]
    for line in result.edited_lines:
        LOG.warning(line)
    document = {"outputs": dict(sorted(manifest.items()))}
    if latest_month:  # what the delivery mail says about the latest month (same numbers as the report)
        document["month"], document["summary"] = latest_month
    elif result.manifest.exists():
        old = _load_document(result.manifest)
        document.update({k: old[k] for k in ("month", "summary") if k in old})
    data = _manifest_bytes(document)
    if not result.manifest.exists() or result.manifest.read_bytes() != data:
        atomic_write_bytes(result.manifest, data)
    return result


def _manifest_bytes(document: dict) -> bytes:
    """``json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)`` in UTF-8, encoded as it is
    made: an indented dump is made of small pieces, and a province's manifest has hundreds of
    thousands of them, never held all at once here."""
    encoder = json.JSONEncoder(ensure_ascii=False, indent=2, sort_keys=True)
    out = io.BytesIO()
    pieces: list[str] = []
    for piece in encoder.iterencode(document):
        pieces.append(piece)
        if len(pieces) >= 4096:
            out.write("".join(pieces).encode("utf-8"))
            pieces.clear()
    out.write("".join(pieces).encode("utf-8"))
    return out.getvalue()


def _remove_staging_files(outbox: Path, receipts: Path) -> None:
    """Remove the staging files (:func:`_staging_path`) under ``outbox``; ``receipts`` (the intake's
    receipts: thousands of files, never an output's) is not walked."""
    for folder, subfolders, names in os.walk(outbox):
        subfolders[:] = [d for d in subfolders if os.path.join(folder, d) != str(receipts)]
        for name in names:
            if name.startswith(f"{TEMP_PREFIX}staged-"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, name))


def _staging_path(target: Path) -> Path:
    """Where a job writes ``target``'s new version: a temp name beside it (removed as stale when a
    crash leaves it), until the version is recorded and put in place."""
    tag = hashlib.sha256(target.name.encode("utf-8")).hexdigest()[:16]
    return target.with_name(f"{TEMP_PREFIX}staged-{tag}{target.suffix}")


def _note_edit(edits: dict, manifest: dict, recorder: Recorder, output: Output, rel: str,
               new_version: str | None) -> None:
    edits[rel] = new_version
    base = recorder.previous.get(rel)
    if rel in manifest or base:
        manifest[rel] = {**manifest.get(rel, _manifest_entry(base, output) if base else {}), "edited": True}


def _record(recorder: Recorder, output: Output, staged: dict[str, Path], hashes: dict[str, str],
            result: ConsolidationResult, manifest: dict, edits: dict) -> None:
    """The job wrote the staging files: record each version, then put it in place — beside the file
    instead, when a person changed that file meanwhile."""
    placed = {}
    for rel, staging in staged.items():
        dest = recorder.destination(rel)
        if dest != rel:
            _note_edit(edits, manifest, recorder, output, rel, dest)
        placed[rel] = (dest, sha256_file(staging))
    recorder.register(list(placed.values()))  # before the files are in place: never taken for a person's edit
    for rel, (dest, file_hash) in placed.items():
        target = recorder.outbox / dest
        os.replace(staged[rel], target)
        fsync_folder(target.parent)
        if dest == rel:
            for path in recorder.drop_new_versions(rel):
                manifest.pop(path, None)
                LOG.info("%s 已不再有人工修改版，旁边过时的 %s 已删除", rel, PurePosixPath(path).name)
            if rel in manifest:
                manifest[rel].pop("edited", None)
        previous = recorder.previous.get(dest) or (recorder.previous.get(rel) if dest != rel else None)
        version = (previous["version"] + 1) if previous and previous["sha256"] != file_hash else (
            previous["version"] if previous else 1)
        record = {"path": dest, "kind": output.kind if not rel.endswith(".png") else CHART, "period": output.period,
                  "sha256": file_hash, **hashes, "version": version, "built_at": now_iso()}
        recorder.add(record)
        result.written.append(target)
        manifest[dest] = _manifest_entry(record, output)
        if dest != rel:
            manifest[dest]["new_version_of"] = rel


def _skip_staged(result: ConsolidationResult, staged: dict[str, Path], exc: Exception) -> None:
    for staging in staged.values():
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    _skip(result, list(staged), exc)


def _skip(result: ConsolidationResult, rels: list[str], exc: Exception) -> None:
    result.skipped.extend(f"{rel}：{exc}" for rel in rels)


class _Renderer:
    """Writes the outputs, in a small process pool when enabled (forkserver: the serving process
    has threads), else in this process.  Finished outputs are recorded as soon as they are done;
    at most ``PARALLEL_WINDOW`` wait."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.pending: dict[Future, tuple[Callable, Callable]] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None
        if enabled:
            context = forkserver.context(["processor.render.jobs", *jobs.RENDERERS])
            self._pool = ProcessPoolExecutor(PARALLEL_WORKERS, mp_context=context)
            # Starting a worker waits for the fork server to load the renderers (about a second):
            # a thread waits for that while this process reads the roster and the ledger.
            self._starting = threading.Thread(target=self._start_workers, name="render-workers", daemon=True)
            self._starting.start()

    def _start_workers(self) -> None:
        for _ in range(PARALLEL_WORKERS):
            self._pool.submit(jobs.warm_up)

    def run(self, output: Output, targets: dict[str, Path], *, done: Callable[[], None],
            skip: Callable[[Exception], None]) -> None:
        if not self.enabled:
            try:
                output.job(targets)
            except FileNotFoundError as exc:  # a report template not installed yet
                skip(exc)
                return
            done()
            return
        self.pending[self._pool.submit(output.job, targets)] = (done, skip)
        self.drain(PARALLEL_WINDOW)

    def drain(self, keep: int) -> None:
        """Record every finished output; wait until at most ``keep`` are left."""
        while self.pending:
            finished = [f for f in self.pending if f.done()]
            if not finished:
                if len(self.pending) <= keep:
                    return
                finished = list(wait(self.pending, return_when=FIRST_COMPLETED).done)
            for future in finished:
                done, skip = self.pending.pop(future)
                try:
                    future.result()
                except FileNotFoundError as exc:  # a report template not installed yet
                    skip(exc)
                    continue
                done()

    def close(self) -> None:
        if self._starting is not None:
            self._starting.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self.pending.clear()


def _manifest_entry(record: dict, output: Output) -> dict:
    return {"kind": record["kind"], "period": record["period"], "sha256": record["sha256"],
            "inputs_hash": record["inputs_hash"], "version": record["version"], "built_at": record["built_at"],
            "sources": output.sources}


def _load_document(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _load_manifest(path: Path) -> dict:
    outputs = _load_document(path).get("outputs", {})
    return outputs if isinstance(outputs, dict) else {}


def _ignore(_label: str) -> None:
    """No progress display."""
