"""Intake: take each file out of the inbox exactly once, record it, answer it.

The steps for one file are ordered so that a crash at any instant leaves the
file either still in the inbox or fully recorded and archived:

1. read it once, by descriptor, into a private staging copy while hashing it
   (:mod:`processor.intake.staging`), and validate that copy (no side effects);
2. copy those bytes into the content-addressed, read-only archive (idempotent);
3. record the arrival and its validated rows in ONE ledger transaction
   (superseding an earlier submission of the same unit and month);
4. write the receipt (and annotated copy) atomically, then note it in the ledger;
5. remove the file from the inbox if it is still the file that was read (a version
   saved over it meanwhile stays for the next pass), then note that in the ledger.
   A file that cannot be removed is noted with the reason, listed by ``status``
   and skipped by later passes while it stays unchanged.

With ``[intake] require_unit_folder`` (the default), only a unit's own folder
(``inbox/<单位>/``) speaks for it: a file in the inbox root or in a folder that is
no roster unit is answered in the 未识别单位 area, recorded without a unit, and
changes no unit's status.

:func:`recover` finishes steps 4–5 for any arrival a crash interrupted; a file
whose step 3 never committed is still in the inbox and is simply processed again.
A file retried while its own arrival is unfinished (step 4 failed on a full disk)
finishes that arrival; it is never recorded again as a duplicate of itself.

With ``jobs`` > 1, step 1's validation of the next few files runs ahead in that
many sandboxes at once (it has no side effects), while steps 2–5 stay one
ordered writer in this process, in inbox order.  The duplicate check happens at
recording time, and a result is used only if the file still has the identity
and content it had when it was validated; otherwise the file is validated again.

Memory: every sandbox is a process of its own (about 90 MB resident with the
readers loaded, beside the forkserver's ~100 MB and this process's ~115 MB,
measured on the 1,800-form benchmark), and each is capped separately at
``intake.memory_mb`` above its start size, so ``jobs`` × ``memory_mb`` is the
worst case while several oversized files are read at once.  The look-ahead
window holds at most ``LOOK_AHEAD_PER_JOB`` × ``jobs`` validated forms.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import itertools
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable, Iterable

from processor.common.faults import checkpoint
from processor.common.clock import office_now
from processor.common.config import Workspace
from processor.validate.errors import Problem, problem
from processor.common.fsutil import atomic_path, describe_os_error, remove_stale_temp_files
from processor.record.ledger import ACCEPTED, DUPLICATE, REJECTED, STATUS_CN, Ledger, now_iso, receipt_number
from processor.validate.roster import Roster, workspace_roster
from processor.intake import staging
from processor.intake.watch import (INCOMPLETE_GRACE_SECONDS, copy_may_be_unfinished, is_ignored_folder,
                                    is_ignored_name, readable_name)

if TYPE_CHECKING:  # receipts, sandboxes and validation load with the first file: `status` lists the inbox
    from processor.consolidate.ledger_data import FormRows
    from processor.validate.validator import ValidationResult

log = logging.getLogger(__name__)

MAX_DEFAULT_JOBS = 4  # beyond this the single ordered writer, not validation, sets the pace
LOOK_AHEAD_PER_JOB = 2  # validations queued or waiting to be recorded, per sandbox


def default_jobs() -> int:
    """Sandboxes for a batch run: one per core, at most MAX_DEFAULT_JOBS."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


@dataclass(frozen=True)
class _Validated:
    """A validation done ahead of recording, of the bytes staged when the file was read."""
    staged: staging.Staged
    result: ValidationResult


@dataclass
class IntakeOutcome:
    file_id: int
    name: str
    status: str
    unit: str | None
    month: str | None
    receipt: Path | None
    errors: int = 0
    warnings: int = 0
    replaced: int | None = None
    duplicate_of: int | None = None
    problems: list[Problem] = field(default_factory=list)


class Intake:
    """The intake stage bound to one workspace; ``handle(path)`` processes one inbox file."""

    def __init__(self, ws: Workspace, *, ledger: Ledger | None = None, roster: Roster | None = None,
                 clock: Callable[[], dt.datetime] | None = None):
        self.ws = ws
        # The roster and the ledger first: a missing or broken one stops intake before any folder is made.
        self.roster = roster or workspace_roster(ws)
        self.ledger = ledger or Ledger(ws.ledger_path)
        ws.ensure_folders()
        self.rulebook = ws.rulebook
        self.clock = clock or (lambda: office_now(ws))  # arrival times in the office's zone
        self._sandboxes = None  # made with the first file: an empty inbox loads no reader, starts no process
        self._pool_lock = threading.Lock()
        self.ledger.read_units_as(self.roster.aliases)  # a renamed unit's earlier forms are its own
        self._one_at_a_time = threading.Lock()
        self._recorded: FormRows | None = None  # the unit's rows read when the last form was recorded

    @property
    def sandboxes(self):
        """The validation sandboxes (:class:`processor.intake.sandbox.SandboxPool`); the module, the
        readers it loads and its processes come with the first file, not before."""
        with self._pool_lock:
            if self._sandboxes is None:
                from processor.intake.sandbox import SandboxPool

                self._sandboxes = SandboxPool(self.roster, self.rulebook, self.ws.intake)
            return self._sandboxes

    def close(self) -> None:
        with self._pool_lock:
            if self._sandboxes is not None:
                self._sandboxes.close()
        self.ledger.close()

    def use(self, roster: Roster, rulebook) -> None:
        """Take later files against this roster and rulebook (``serve`` reloads them when they change);
        the file being handled finishes with the ones it began with."""
        with self._one_at_a_time:
            self.roster, self.rulebook = roster, rulebook
            with self._pool_lock:
                old, self._sandboxes = self._sandboxes, None
            if old is not None and old.stop is not None:  # the new sandboxes stop on the same event
                self.sandboxes.stop_when(old.stop)
            self.ledger.read_units_as(roster.aliases)
        if old is not None:
            old.close()

    # --- one file ----------------------------------------------------------------
    def handle(self, path: Path, ahead: Future | None = None) -> IntakeOutcome | None:
        """Process one inbox file; returns None when it was not taken: gone meanwhile, a link or
        special file, written to while it was read (taken on a later pass), or answered already
        and left in the inbox because it cannot be deleted.

        ``ahead`` is a validation started earlier (:meth:`_validate_ahead`); it is
        used only if the file is still the one that was read then."""
        from processor.intake.sandbox import SandboxInterrupted  # loaded with this intake's sandboxes

        with self._one_at_a_time:
            path = Path(path)
            validated = _ahead_result(ahead)
            copies = [validated.staged] if validated else []  # private to this attempt: dropped at the end
            try:
                relative = self._inbox_relative(path)
                now = staging.current_identity(self.ws.inbox, relative)
                if now is None or self._left_unremovable(relative, now):
                    return None  # gone, not a regular file, or answered already and left where it is
                started = time.monotonic()
                if validated is not None and validated.staged.identity != now:  # replaced since: read anew
                    validated = None
                try:
                    if validated is None:
                        try:
                            copies.append(self._stage(path, relative))
                        except (staging.NotARegularFile, staging.ChangedWhileRead, FileNotFoundError) as exc:
                            log.debug("文件 %s 本次未读取：%s", readable_name(relative), exc)
                            return None  # a link swapped in, still being written, gone: looked at later
                    staged = validated.staged if validated else copies[-1]
                    outcome = self._handle(path, relative, staged, validated.result if validated else None)
                except SandboxInterrupted:  # stopping: the file is taken again at the next start
                    log.info("正在停止：文件 %s 留待下次启动时处理", readable_name(relative))
                    raise
                except Exception as exc:
                    # the log file keeps the traceback an unexpected error's line points to
                    unexpected = not isinstance(exc, OSError)
                    log.error("无法处理文件 %s：%s。文件留在收件箱中，下次处理时重试。",
                              readable_name(relative), failure_reason(exc, path), exc_info=exc if unexpected else None)
                    if not unexpected:
                        log.debug("处理文件 %s 失败的详细信息", readable_name(str(path)), exc_info=exc)
                    raise
            finally:
                for copy in copies:
                    copy.discard()
            self._log_handled(outcome, time.monotonic() - started)
            return outcome

    def _stage(self, path: Path, relative: str) -> staging.Staged:
        """Read the inbox file once into a private copy (the bytes everything after uses)."""
        try:
            return staging.stage(self.ws.inbox, relative, self.ws.staging_dir,
                                 display_name=readable_name(path.name), path_for_faults=path)
        except PermissionError as exc:
            if exc.filename is None:
                exc.filename = str(path)  # an unreadable file names itself in the operator's line
            raise

    def _handle(self, path: Path, relative: str, staged: staging.Staged,
                result: ValidationResult | None) -> IntakeOutcome:
        sha = staged.sha
        folder_unit = self._folder_unit(readable_name(relative))
        received = self.clock()

        earlier = self._unanswered_arrival(sha, relative)
        original = None if earlier is not None else self._duplicate_target(sha, folder_unit)
        if earlier is not None:  # recorded by an attempt that failed later (disk full): finish that one
            self.ledger.set_file(earlier["id"], inbox_identity=staging.identity_text(staged.identity))
            outcome = _outcome_of(earlier)
        elif original is not None:  # a result validated ahead is simply not used
            outcome = self._record_duplicate(path, relative, folder_unit, staged, received, original)
        else:
            if result is None:
                result = self.sandboxes.validate(staged.path, folder_unit)
            checkpoint("after-validate", path=path)
            archive_rel = self._archive(staged.path, path, sha)
            checkpoint("after-archive", path=path)
            outcome = self._record(path, relative, folder_unit, staged, received, result, archive_rel)
        checkpoint("after-commit")
        outcome.receipt = self._finish(outcome.file_id, relative)
        return outcome

    def _log_handled(self, outcome: IntakeOutcome, seconds: float) -> None:
        """The operator's line for one file: when, who, which month, what became of it, its receipt."""
        from processor.record import receipts

        row = self.ledger.file(outcome.file_id)
        unit = receipts.receipt_unit(row, self.roster)
        month = row["month"] or receipts.UNKNOWN_MONTH
        verdict = STATUS_CN[outcome.status]
        if outcome.status == REJECTED:
            first = next((p for p in outcome.problems if p.is_error), None)
            verdict += f"（{outcome.errors} 处错误" + (f"，{first.where}：{first.message.rstrip('。')}" if first else "") + "）"
        elif outcome.status == DUPLICATE:
            verdict += f"（与回执 {receipt_number(self.ledger.file(outcome.duplicate_of))} 的文件相同）"
        elif outcome.replaced:
            verdict += f"（替换回执 {receipt_number(self.ledger.file(outcome.replaced))}）"
        log.info("收到文件 %s：单位 %s，月份 %s，结果 %s，回执编号 %s，用时 %.1f 秒",
                 readable_name(inbox_path_of(row)), unit, month, verdict, receipt_number(row), seconds)

    def _validate_ahead(self, path: Path) -> _Validated | None:
        """Read and validate a file before its turn to be recorded (runs on a pool thread; no side
        effects beyond its private staging copy, which the recording uses or discards)."""
        relative = self._inbox_relative(path)
        try:
            staged = self._stage(path, relative)
        except (staging.NotARegularFile, staging.ChangedWhileRead):
            return None  # looked at again when its turn comes
        try:
            result = self.sandboxes.validate(staged.path, self._folder_unit(readable_name(relative)))
        except BaseException:
            staged.discard()
            raise
        return _Validated(staged, result)

    def _left_unremovable(self, relative: str, identity: staging.Identity) -> bool:
        """This very file was recorded and answered, but could not be removed from the inbox."""
        return bool(self.ledger.query(
            "SELECT 1 FROM files WHERE inbox_path = ? AND inbox_left IS NOT NULL AND inbox_identity = ? LIMIT 1",
            (ledger_inbox_path(relative), staging.identity_text(identity))))

    def _unanswered_arrival(self, sha: str, relative: str):
        """This very file (same place, same bytes), recorded but not yet answered and removed."""
        rows = self.ledger.query("SELECT * FROM files WHERE sha256 = ? AND inbox_path = ? AND inbox_removed = 0 "
                                 "ORDER BY id DESC LIMIT 1", (sha, ledger_inbox_path(relative)))
        return rows[0] if rows else None

    def _duplicate_target(self, sha: str, folder_unit: str | None):
        """The accepted file these bytes repeat, if it is this folder's unit's own: the same bytes
        from another unit (or, when only a unit's folder speaks for it, from outside any unit's
        folder) are validated as what they are — another unit's form — not answered as a repeat."""
        rows = self.ledger.query("SELECT * FROM files WHERE sha256 = ? AND status IN ('accepted','superseded') "
                                 "ORDER BY id LIMIT 1", (sha,))
        if not rows:
            return None
        original = rows[0]
        if folder_unit is not None:
            return original if (original["folder_unit"] or original["unit"]) == folder_unit else None
        return None if self.ws.intake.require_unit_folder else original

    def _record(self, path, relative, folder_unit, staged: staging.Staged, received, result: ValidationResult,
                archive_rel) -> IntakeOutcome:
        status = ACCEPTED if result.accepted else REJECTED
        problems = list(result.problems)
        unit, unit_kind, summary = result.unit, result.unit_kind, _summary(result)
        if folder_unit is None and self.ws.intake.require_unit_folder:  # speaks for no unit
            problems.insert(0, problem("outside-unit-folder", place=_place_cn(relative),
                                       value=result.unit or "（未填写）"))
            status, unit, unit_kind = REJECTED, None, None
            summary = {**summary, "declared_unit": result.unit}
        errors = sum(p.is_error for p in problems)
        record = {
            "sha256": staged.sha, "original_name": readable_name(path.name),
            "inbox_path": ledger_inbox_path(relative), "inbox_identity": staging.identity_text(staged.identity),
            "folder_unit": folder_unit, "size": staged.size, "received_at": now_iso(received), "status": status,
            "unit": unit, "unit_kind": unit_kind, "month": result.month,
            "template_version": result.template_version, "model_hash": result.model_hash,
            "error_count": errors, "warning_count": len(problems) - errors,
            "problems_json": [p.to_dict() for p in problems],
            "summary_json": summary, "archive_path": archive_rel,
        }
        replaced = rows = None
        with self.ledger.atomic() as conn:
            file_id = self.ledger.insert_file(conn, record)
            if status == ACCEPTED:
                self.ledger.insert_records(conn, file_id, result.unit, result.month, result.records)
                replaced = self.ledger.supersede(conn, file_id, result.unit, result.month)
                rows = self._note_quality(conn, file_id, result, record["summary_json"])
        self._recorded = rows
        return IntakeOutcome(file_id, readable_name(path.name), status, unit, result.month, None,
                             errors, len(problems) - errors, replaced, problems=problems)

    def _note_quality(self, conn, file_id: int, result: ValidationResult, summary: dict) -> FormRows:
        """The checks across months and files, as the ledger stands with this form in it (same transaction),
        kept with the arrival so that its receipt is written again alike; returns the rows read (the receipt's too)."""
        from processor.consolidate.quality import FormRows, form_warnings, warning_record

        rows = FormRows.read(self.ledger, result.unit, result.month, file_id)
        warnings = form_warnings(rows, self.rulebook, before_file=file_id)
        if warnings:
            summary = {**summary, "quality": [warning_record(w) for w in warnings]}
            text = json.dumps(summary, ensure_ascii=False, default=str)
            conn.execute("UPDATE files SET summary_json = ? WHERE id = ?", (text, file_id))
            rows.note_summary(text)
        return rows.sealed(self.ledger)  # the transaction's last statement

    def _record_duplicate(self, path, relative, folder_unit, staged: staging.Staged, received,
                          original) -> IntakeOutcome:
        record = {
            "sha256": staged.sha, "original_name": readable_name(path.name),
            "inbox_path": ledger_inbox_path(relative), "inbox_identity": staging.identity_text(staged.identity),
            "folder_unit": folder_unit, "size": staged.size, "received_at": now_iso(received), "status": DUPLICATE,
            "unit": original["unit"], "unit_kind": original["unit_kind"], "month": original["month"],
            "template_version": original["template_version"], "model_hash": original["model_hash"],
            "duplicate_of": original["id"], "archive_path": original["archive_path"],
        }
        with self.ledger.atomic() as conn:
            file_id = self.ledger.insert_file(conn, record)
        return IntakeOutcome(file_id, readable_name(path.name), DUPLICATE, original["unit"], original["month"], None,
                             duplicate_of=original["id"])

    def _finish(self, file_id: int, relative: str | None) -> Path:
        """Steps 4 and 5: receipt, then removal of the inbox entry (``relative``, None when already
        done) if it is still the file that was recorded. Safe to repeat."""
        from processor.consolidate.preview import findings_preview  # the rules load only when a receipt is due
        from processor.record import receipts

        row = self.ledger.file(file_id)
        rows, self._recorded = self._recorded, None  # used only if nothing was committed since they were read
        preview = findings_preview(self.ledger, self.ws.rulebook, self.roster, row, rows=rows)
        receipt = receipts.write_receipt(self.ws, self.ledger, row, roster=self.roster, preview=preview,
                                         annotate=self.sandboxes.annotate)  # under the validation's limits
        checkpoint("after-receipt")
        receipt_path = str(receipt.relative_to(self.ws.outbox))
        if relative is not None:
            try:
                removed = self._remove_from_inbox(row, relative)
            except OSError as exc:
                if exc.errno not in _CANNOT_DELETE:
                    raise  # the share away for a moment: the removal is tried again (recovery, next pass)
                reason = failure_reason(exc, self.ws.inbox / relative, removing=True)
                log.error("文件 %s 已登记（回执编号 %s），但无法从收件箱中删除：%s。该文件不再处理，"
                          "请手动移出收件箱。", readable_name(relative), receipt_number(row), reason)
                self.ledger.set_file(file_id, receipt_path=receipt_path, inbox_removed=1, inbox_left=reason, durable=False)
                return receipt
            if removed:  # per-unit sub-folders stay: the office permissions them on the share
                checkpoint("after-unlink")
        # One update for both facts; recovery redoes the receipt and the removal until it commits: no wait for the disk
        self.ledger.set_file(file_id, receipt_path=receipt_path, inbox_removed=1, durable=False)
        return receipt

    def _remove_from_inbox(self, row, relative: str) -> bool:
        """Remove the inbox entry if it is the very file this arrival read; a file saved over it
        since stays in the inbox (the next pass takes it as a new submission)."""
        checkpoint("before-unlink", path=self.ws.inbox / relative)
        identity = staging.parse_identity(row["inbox_identity"])
        if identity is None:  # recorded before the ledger kept identities: the same bytes, read once
            identity = staging.identity_if_content(self.ws.inbox, relative, row["sha256"])
            if identity is None:
                return False
        return staging.remove_if_unchanged(self.ws.inbox, relative, identity)

    # --- helpers -----------------------------------------------------------------
    def _inbox_relative(self, path: Path) -> str:
        """The file's place below the inbox, from its name (never by following a link)."""
        path = Path(os.path.abspath(path))
        for inbox in (self.ws.inbox, self.ws.inbox.resolve()):
            with contextlib.suppress(ValueError):
                return path.relative_to(inbox).as_posix()
        try:  # the inbox reached through another name: its folder resolved, the file's own name kept
            return (path.parent.resolve().relative_to(self.ws.inbox.resolve()) / path.name).as_posix()
        except ValueError:
            return path.name

    def _folder_unit(self, relative: str) -> str | None:
        """A file in inbox/<单位>/… is bound to that unit (the office can permission the folder).

        ``relative`` is the readable form, so a GBK-named unit folder binds too."""
        parts = relative.split("/")
        if len(parts) < 2:
            return None
        folder = parts[0].strip()
        if self.roster.unit(folder) is not None:
            return folder
        renamed = self.roster.unit_now_or_formerly(folder)  # a folder still under the unit's former name
        return renamed.name if renamed is not None else None

    def _archive(self, staged: Path, path: Path, sha: str) -> str:
        """Copy the staged bytes (``sha``) of inbox file ``path`` into the archive."""
        suffix = staging.staged_suffix(path.name)  # the archive name never carries what a submitter typed
        relative = f"{sha[:2]}/{sha}{suffix}"
        target = self.ws.archive / relative
        if not target.exists():
            with atomic_path(target) as tmp:
                with open(staged, "rb") as src, open(tmp, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
            os.chmod(target, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        return relative

    # --- recovery ----------------------------------------------------------------
    def recover(self) -> int:
        """Finish arrivals a crash interrupted after their ledger commit; returns how many."""
        for folder in (self.ws.receipts_dir, self.ws.archive):  # half-written temp files of a killed run
            remove_stale_temp_files(folder)
        staging.clear_staging(self.ws.staging_dir)
        count = 0
        for row in self.ledger.unfinished():
            relative = inbox_path_of(row)
            try:
                self._finish(row["id"], relative if row["inbox_removed"] == 0 else None)
            except Exception as exc:  # one file never stops the others: the next start tries it again
                log.error("无法补完文件 %s（回执编号 %s）：%s。其余文件照常处理，下次启动时重试。",
                          readable_name(relative), receipt_number(row),
                          failure_reason(exc, self.ws.inbox / relative))
                log.debug("补完文件 %s 失败的详细信息", readable_name(relative), exc_info=exc)
                continue
            count += 1
        return count

    def process_all(self, paths: Iterable[Path], *, stop: threading.Event | None = None,
                    on_done: Callable[[IntakeOutcome | None], None] | None = None,
                    jobs: int = 1, failed: dict[Path, str] | None = None) -> list[IntakeOutcome]:
        """Every file once, recorded in the given order; ``jobs`` sandboxes validate ahead of the writer.

        A file that could not be handled stays in the inbox; ``failed`` collects why, in Chinese."""
        outcomes = []
        with contextlib.closing(self._with_validation_ahead(paths, jobs, stop)) as queued:
            for path, ahead in queued:
                try:
                    outcome = self.handle(path, ahead)
                except Exception as exc:  # noqa: BLE001 — unreadable file, read-only outbox, full disk, ledger: retry next run
                    if failed is not None:  # handle() has logged it
                        failed[Path(path)] = failure_reason(exc, Path(path))
                    continue
                if outcome is not None:
                    outcomes.append(outcome)
                if on_done:
                    on_done(outcome)
        return outcomes

    def _with_validation_ahead(self, paths: Iterable[Path], jobs: int, stop: threading.Event | None):
        """Yield (path, validation future or None) in order, keeping a bounded window validating ahead."""
        stopped = (lambda: False) if stop is None else stop.is_set
        if jobs <= 1:
            for path in paths:
                if stopped():
                    return
                yield path, None
            return
        waiting = iter(paths)
        first = next(waiting, None)
        if first is None:
            return  # nothing to validate: no sandbox is made
        waiting = itertools.chain([first], waiting)
        self.sandboxes.grow(jobs)
        window: deque[tuple[Path, Future]] = deque()
        with ThreadPoolExecutor(jobs, thread_name_prefix="processor-validate") as pool:
            try:
                while not stopped():
                    while len(window) < jobs * LOOK_AHEAD_PER_JOB and (path := next(waiting, None)) is not None:
                        window.append((path, pool.submit(self._validate_ahead, Path(path))))
                    if not window:
                        return
                    yield window.popleft()
            finally:
                for _, ahead in window:  # stopped or failed: validations not started are dropped
                    if not ahead.cancel():
                        ahead.add_done_callback(_discard_ahead)


_CANNOT_DELETE = {errno.EACCES, errno.EPERM, errno.EBUSY, errno.EROFS, errno.ETXTBSY}
"""Errors of a removal that will not go away by themselves: the file is left and noted (``inbox_left``)."""

def failure_reason(exc: BaseException, path: Path, *, removing: bool = False) -> str:
    """Why a file could not be handled (``removing``: removed from the inbox), in one line an operator
    understands."""
    if isinstance(exc, OSError):
        if exc.errno in (errno.EACCES, errno.EPERM):
            if exc.filename is None or Path(os.fsdecode(exc.filename)) == Path(path):
                return "没有删除权限" if removing else "无读取权限"
            return f"没有写入权限（{readable_name(os.fsdecode(exc.filename))}）"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return "磁盘已满"
        return describe_os_error(exc)
    if isinstance(exc, sqlite3.Error):
        return f"台账数据库出错（{exc}），详见日志 logs/processor.log"
    return f"处理时出错（{type(exc).__name__}），详见日志 logs/processor.log"


@dataclass(frozen=True)
class Waiting:
    """A file still in the inbox, and why it was not taken (Chinese, for the operator)."""
    name: str  # relative to the inbox, readable
    reason: str


def left_in_inbox(ledger: Ledger) -> dict[str, tuple[staging.Identity | None, str]]:
    """Files recorded and answered that could not be removed from the inbox: {place in the inbox
    (as the OS names it): (identity as read, why it is still there, in Chinese)}."""
    left = {}
    for row in ledger.query("SELECT * FROM files WHERE inbox_left IS NOT NULL ORDER BY id"):
        left[inbox_path_of(row)] = (
            staging.parse_identity(row["inbox_identity"]),
            f"已登记（回执编号 {receipt_number(row)}），但无法从收件箱删除（{row['inbox_left']}），"
            f"不再处理，请手动移出收件箱")
    return left


def waiting_files(ws: Workspace, failed: dict[Path, str] | None = None, *,
                  now: float | None = None, ledger: Ledger | None = None) -> list[Waiting]:
    """Every file still in the inbox with the reason it is there: the failure of this pass if any,
    else what a look at the file shows (not a regular file, unreadable, still being copied).
    With the ``ledger``, a file answered already that could not be removed says so."""
    from processor.intake.watch import scan_inbox

    failed = dict(failed or {})
    for name, (identity, reason) in (left_in_inbox(ledger) if ledger is not None else {}).items():
        if identity is not None and staging.current_identity(ws.inbox, name) == identity:
            failed.setdefault(ws.inbox / name, reason)
    now = time.time() if now is None else now
    found = []
    for folder, dirnames, filenames in os.walk(ws.inbox, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored_folder(d)
                             and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(filenames):
            if not is_ignored_name(name):
                found.append(Path(folder) / name)
    regular = set(scan_inbox(ws.inbox))
    return [Waiting(readable_name(path.relative_to(ws.inbox).as_posix()),
                    failed.get(path) or _why_waiting(path, path in regular, ws.intake.stable_seconds, now))
            for path in found if path.exists() or path.is_symlink()]


def _why_waiting(path: Path, regular: bool, stable_seconds: float, now: float) -> str:
    if not regular:
        return "不是普通文件（快捷方式、管道等），不会处理，请移出收件箱"
    try:
        info = path.stat()
        with open(path, "rb"):
            pass
    except PermissionError:
        return "无读取权限"
    except OSError as exc:
        return describe_os_error(exc)
    if copy_may_be_unfinished(path):
        until = dt.datetime.fromtimestamp(info.st_ctime + INCOMPLETE_GRACE_SECONDS)
        if until.timestamp() > now:
            return f"文件仍在复制中（等待至 {until:%H:%M}）"
    if now - max(info.st_mtime, info.st_ctime) < max(stable_seconds, 1.0):
        return "文件仍在复制中（刚刚还在变化）"
    return "等待处理"


def ledger_inbox_path(relative: str) -> str | bytes:
    """How the ledger keeps a file's place in the inbox: exactly, so recovery finds the very file.

    A name that is valid UTF-8 is stored as text.  One that is not (GBK from a
    Windows share) cannot be SQLite text; its exact bytes (``os.fsencode``) are
    stored as a BLOB in the same column, and ``original_name`` holds the
    readable form (:func:`processor.intake.watch.readable_name`)."""
    try:
        relative.encode("utf-8")
        return relative
    except UnicodeEncodeError:
        return os.fsencode(relative)


def inbox_path_of(row) -> str:
    """The inverse of :func:`ledger_inbox_path`: the path relative to the inbox, as the OS names it."""
    value = row["inbox_path"]
    return os.fsdecode(value) if isinstance(value, bytes) else value


def inbox_files(ws: Workspace, settle_seconds: float = 0.0) -> list[Path]:
    """Files waiting in the inbox (and its per-unit sub-folders), oldest first.

    With ``settle_seconds``, files still changing during that time (a copy in
    progress) are left for the next pass.
    """
    from processor.intake.watch import scan_inbox, settled_files

    return settled_files(ws.inbox, settle_seconds) if settle_seconds > 0 else scan_inbox(ws.inbox)


@dataclass
class InboxPass:
    outcomes: list[IntakeOutcome]
    waiting: list[Waiting]  # files still in the inbox afterwards, with the reason


def run_inbox_pass(ws: Workspace, *, now: dt.datetime | None = None, stop: threading.Event | None = None,
                   settle_seconds: float = 0.0, on_start: Callable[[int], None] | None = None,
                   on_done: Callable[[IntakeOutcome | None], None] | None = None,
                   jobs: int | None = None) -> InboxPass:
    """One pass over the inbox: recovery first, then every waiting file once, in inbox order;
    then what is still in the inbox, and why.

    ``jobs`` > 1 validates that many files at once in separate sandboxes (the CLI
    passes :func:`default_jobs`); None or 1 validates one file at a time."""
    intake = Intake(ws, clock=(lambda: now) if now else None)
    failed: dict[Path, str] = {}
    try:
        intake.recover()
        paths = inbox_files(ws, settle_seconds)
        if on_start:
            on_start(len(paths))
        outcomes = intake.process_all(paths, stop=stop, on_done=on_done, jobs=jobs or 1, failed=failed)
        waiting = waiting_files(ws, failed, ledger=intake.ledger)
    finally:
        intake.close()
    return InboxPass(outcomes, waiting)


def process_inbox(ws: Workspace, **options) -> list[IntakeOutcome]:
    """:func:`run_inbox_pass`, for callers that want only the outcomes."""
    return run_inbox_pass(ws, **options).outcomes


def recover(ws: Workspace) -> int:
    with contextlib.closing(Intake(ws)) as intake:
        return intake.recover()


def _ahead_result(ahead: Future | None) -> _Validated | None:
    """The validation done ahead, if it got as far as a result."""
    if ahead is None:
        return None
    try:
        return ahead.result()
    except Exception as exc:  # noqa: BLE001 — vanished or unreadable then, or no sandbox: read again, as without look-ahead
        log.debug("validation ahead failed: %r", exc)
        return None


def _discard_ahead(ahead: Future) -> None:
    """Drop the staging copy of a validation done ahead whose file was never recorded."""
    if ahead.cancelled():
        return
    validated = _ahead_result(ahead)
    if validated is not None:
        validated.staged.discard()


def _place_cn(relative: str) -> str:
    """Where a file lay that no unit's folder holds, as the receipt says it."""
    parts = readable_name(relative).split("/")
    return "收件箱根目录" if len(parts) < 2 else f"收件箱中的文件夹“{parts[0]}”"


def _outcome_of(row) -> IntakeOutcome:
    """The outcome of an arrival already in the ledger, as it was when recorded."""
    problems = [Problem.from_dict(p) for p in json.loads(row["problems_json"] or "[]")]
    return IntakeOutcome(row["id"], row["original_name"], row["status"], row["unit"], row["month"], None,
                         row["error_count"], row["warning_count"], row["replaces"], row["duplicate_of"],
                         problems=problems)


def _summary(result: ValidationResult) -> dict:
    records = result.records or {}
    return {
        "rows": {key: len(rows) for key, rows in records.items()},
        "sites": [str(r["site"]) for r in records.get("sites", ())],
    }
