"""Intake: take each file out of the inbox exactly once, record it, answer it.

The steps for one file are ordered so that a crash at any instant leaves the
file either still in the inbox or fully recorded and archived:

1. hash and validate it (no side effects);
2. copy it into the content-addressed, read-only archive (idempotent);
3. record the arrival and its validated rows in ONE ledger transaction
   (superseding an earlier submission of the same unit and month);
4. write the receipt (and annotated copy) atomically, then note it in the ledger;
5. remove the file from the inbox, then note that in the ledger.

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
import json
import logging
import os
import re
import sqlite3
import stat
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from processor.record import receipts
from processor.common.faults import checkpoint
from processor.common.clock import office_now
from processor.common.config import Workspace
from processor.validate.errors import Problem
from processor.common.fsutil import atomic_path, remove_stale_temp_files, sha256_file
from processor.record.ledger import ACCEPTED, DUPLICATE, REJECTED, STATUS_CN, Ledger, now_iso
from processor.validate.roster import Roster, workspace_roster
from processor.intake.sandbox import SandboxPool
from processor.validate.validator import ValidationResult
from processor.intake.watch import (INCOMPLETE_GRACE_SECONDS, copy_may_be_unfinished, is_ignored_folder,
                                    is_ignored_name, readable_name)

log = logging.getLogger("processor.intake")

MAX_DEFAULT_JOBS = 4  # beyond this the single ordered writer, not validation, sets the pace
LOOK_AHEAD_PER_JOB = 2  # validations queued or waiting to be recorded, per sandbox


def default_jobs() -> int:
    """Sandboxes for a batch run: one per core, at most MAX_DEFAULT_JOBS."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


@dataclass(frozen=True)
class _Validated:
    """A validation done ahead of recording, with what identified the file while it was read."""
    identity: tuple
    sha: str
    result: ValidationResult


def _identity(path: Path) -> tuple:
    """Changes whenever the file is replaced, written to or has its times reset (ctime cannot be set back)."""
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


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
        self.sandboxes = SandboxPool(self.roster, self.rulebook, ws.intake)
        self._one_at_a_time = threading.Lock()

    def close(self) -> None:
        self.sandboxes.close()
        self.ledger.close()

    # --- one file ----------------------------------------------------------------
    def handle(self, path: Path, ahead: Future | None = None) -> IntakeOutcome | None:
        """Process one inbox file; returns None when the file vanished meanwhile.

        ``ahead`` is a validation started earlier (:meth:`_validate_ahead`); it is
        used only if the file is still the one that was validated."""
        with self._one_at_a_time:
            path = Path(path)
            if not path.is_file() or path.is_symlink():
                return None
            started = time.monotonic()
            try:
                outcome = self._handle(path, ahead)
            except Exception as exc:
                log.error("无法处理文件 %s：%s。文件留在收件箱中，下次处理时重试。",
                          readable_name(self._inbox_relative(path)), failure_reason(exc, path))
                log.debug("处理文件 %s 失败的详细信息", readable_name(str(path)), exc_info=exc)
                raise
            self._log_handled(outcome, time.monotonic() - started)
            return outcome

    def _handle(self, path: Path, ahead: Future | None) -> IntakeOutcome:
        identity = _identity(path)
        sha = sha256_file(path)
        size = identity[2]
        relative = self._inbox_relative(path)
        folder_unit = self._folder_unit(readable_name(relative))
        received = self.clock()

        earlier = self._unanswered_arrival(sha, relative)
        original = None if earlier is not None else self._duplicate_target(sha)
        if earlier is not None:  # recorded by an attempt that failed later (disk full): finish that one
            outcome = _outcome_of(earlier)
        elif original is not None:  # a result validated ahead is simply not used
            outcome = self._record_duplicate(path, relative, folder_unit, sha, size, received, original)
        else:
            result = _still_valid(ahead, identity, sha)
            if result is None:
                result = self.sandboxes.validate(path, folder_unit)
            checkpoint("after-validate")
            archive_rel = self._archive(path, sha)
            checkpoint("after-archive")
            outcome = self._record(path, relative, folder_unit, sha, size, received, result, archive_rel)
        checkpoint("after-commit")
        outcome.receipt = self._finish(outcome.file_id, path)
        return outcome

    def _log_handled(self, outcome: IntakeOutcome, seconds: float) -> None:
        """The operator's line for one file: when, who, which month, what became of it, its receipt."""
        row = self.ledger.file(outcome.file_id)
        unit = receipts.receipt_unit(row, self.roster)
        month = row["month"] or receipts.UNKNOWN_MONTH
        verdict = STATUS_CN[outcome.status]
        if outcome.status == REJECTED:
            first = next((p for p in outcome.problems if p.is_error), None)
            verdict += f"（{outcome.errors} 处错误" + (f"，{first.where}：{first.message.rstrip('。')}" if first else "") + "）"
        elif outcome.status == DUPLICATE:
            verdict += f"（与回执 {receipts.receipt_number(self.ledger.file(outcome.duplicate_of))} 的文件相同）"
        elif outcome.replaced:
            verdict += f"（替换回执 {receipts.receipt_number(self.ledger.file(outcome.replaced))}）"
        log.info("收到文件 %s：单位 %s，月份 %s，结果 %s，回执编号 %s，用时 %.1f 秒",
                 readable_name(inbox_path_of(row)), unit, month, verdict, receipts.receipt_number(row), seconds)

    def _validate_ahead(self, path: Path) -> _Validated | None:
        """Validate a file before its turn to be recorded (runs on a pool thread; no side effects)."""
        before = _identity(path)
        sha = sha256_file(path)
        result = self.sandboxes.validate(path, self._folder_unit(self._inbox_relative(path)))
        if _identity(path) != before:
            return None  # changed while being read: validated again when its turn comes
        return _Validated(before, sha, result)

    def _unanswered_arrival(self, sha: str, relative: str):
        """This very file (same place, same bytes), recorded but not yet answered and removed."""
        rows = self.ledger.query("SELECT * FROM files WHERE sha256 = ? AND inbox_path = ? AND inbox_removed = 0 "
                                 "ORDER BY id DESC LIMIT 1", (sha, ledger_inbox_path(relative)))
        return rows[0] if rows else None

    def _duplicate_target(self, sha: str):
        rows = self.ledger.query("SELECT * FROM files WHERE sha256 = ? AND status IN ('accepted','superseded') "
                                 "ORDER BY id LIMIT 1", (sha,))
        return rows[0] if rows else None

    def _record(self, path, relative, folder_unit, sha, size, received, result: ValidationResult,
                archive_rel) -> IntakeOutcome:
        status = ACCEPTED if result.accepted else REJECTED
        problems = list(result.problems)
        record = {
            "sha256": sha, "original_name": readable_name(path.name), "inbox_path": ledger_inbox_path(relative),
            "folder_unit": folder_unit, "size": size, "received_at": now_iso(received), "status": status,
            "unit": result.unit, "unit_kind": result.unit_kind, "month": result.month,
            "template_version": result.template_version, "model_hash": result.model_hash,
            "error_count": len(result.problems.errors), "warning_count": len(result.problems.warnings),
            "problems_json": [p.to_dict() for p in problems],
            "summary_json": _summary(result), "archive_path": archive_rel,
        }
        replaced = None
        with self.ledger.atomic() as conn:
            file_id = self.ledger.insert_file(conn, record)
            if status == ACCEPTED:
                self.ledger.insert_rows(conn, file_id, result.unit, result.month, result.frames)
                replaced = self.ledger.supersede(conn, file_id, result.unit, result.month)
                self._note_quality(conn, file_id, result, record["summary_json"])
        return IntakeOutcome(file_id, readable_name(path.name), status, result.unit, result.month, None,
                             len(result.problems.errors), len(result.problems.warnings), replaced,
                             problems=problems)

    def _note_quality(self, conn, file_id: int, result: ValidationResult, summary: dict) -> None:
        """The checks across months and files, as the ledger stands with this form in it (same
        transaction), kept with the arrival so that its receipt can always be written again alike."""
        from processor.consolidate.quality import quality_warnings, warning_record

        warnings = quality_warnings(self.ledger, self.rulebook, result.month, units=[result.unit],
                                    before_file=file_id)
        if warnings:
            summary = {**summary, "quality": [warning_record(w) for w in warnings]}
            conn.execute("UPDATE files SET summary_json = ? WHERE id = ?",
                         (json.dumps(summary, ensure_ascii=False, default=str), file_id))

    def _record_duplicate(self, path, relative, folder_unit, sha, size, received, original) -> IntakeOutcome:
        record = {
            "sha256": sha, "original_name": readable_name(path.name), "inbox_path": ledger_inbox_path(relative),
            "folder_unit": folder_unit, "size": size, "received_at": now_iso(received), "status": DUPLICATE,
            "unit": original["unit"], "unit_kind": original["unit_kind"], "month": original["month"],
            "template_version": original["template_version"], "model_hash": original["model_hash"],
            "duplicate_of": original["id"], "archive_path": original["archive_path"],
        }
        with self.ledger.atomic() as conn:
            file_id = self.ledger.insert_file(conn, record)
        return IntakeOutcome(file_id, readable_name(path.name), DUPLICATE, original["unit"], original["month"], None,
                             duplicate_of=original["id"])

    def _finish(self, file_id: int, inbox_file: Path | None) -> Path:
        """Steps 4 and 5: receipt, then removal from the inbox. Safe to repeat."""
        from processor.consolidate.preview import findings_preview  # the rules load only when a receipt is due

        row = self.ledger.file(file_id)
        preview = findings_preview(self.ledger, self.ws.rulebook, self.roster, row)
        receipt = receipts.write_receipt(self.ws, self.ledger, row, roster=self.roster, preview=preview)
        checkpoint("after-receipt")
        if inbox_file is not None and inbox_file.exists() and sha256_file(inbox_file) == row["sha256"]:
            inbox_file.unlink()  # per-unit sub-folders stay: the office permissions them on the share
            checkpoint("after-unlink")
        # One update for both facts: until it commits, recovery redoes the receipt (same file) and the removal.
        self.ledger.set_file(file_id, receipt_path=str(receipt.relative_to(self.ws.outbox)), inbox_removed=1)
        return receipt

    # --- helpers -----------------------------------------------------------------
    def _inbox_relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.ws.inbox.resolve()).as_posix()
        except ValueError:
            return path.name

    def _folder_unit(self, relative: str) -> str | None:
        """A file in inbox/<单位>/… is bound to that unit (the office can permission the folder).

        ``relative`` is the readable form, so a GBK-named unit folder binds too."""
        parts = relative.split("/")
        if len(parts) < 2:
            return None
        folder = parts[0].strip()
        return folder if self.roster.unit(folder) is not None else None

    def _archive(self, path: Path, sha: str) -> str:
        suffix = path.suffix.lower()
        if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
            suffix = ".bin"  # the archive name never carries what a submitter typed
        relative = f"{sha[:2]}/{sha}{suffix}"
        target = self.ws.archive / relative
        if not target.exists():
            with atomic_path(target) as tmp:
                with open(path, "rb") as src, open(tmp, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
            os.chmod(target, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        return relative

    # --- recovery ----------------------------------------------------------------
    def recover(self) -> int:
        """Finish arrivals a crash interrupted after their ledger commit; returns how many."""
        for folder in (self.ws.receipts_dir, self.ws.archive):  # half-written temp files of a killed run
            remove_stale_temp_files(folder)
        count = 0
        for row in self.ledger.unfinished():
            inbox_file = self.ws.inbox / inbox_path_of(row)
            self._finish(row["id"], inbox_file if row["inbox_removed"] == 0 else None)
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
                except Exception as exc:  # unreadable file, read-only outbox, full disk, ledger: retry next run
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
        self.sandboxes.grow(jobs)
        waiting = iter(paths)
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
                    ahead.cancel()


_OS_ERRORS_CN = {errno.EACCES: "没有读写权限", errno.EPERM: "没有读写权限", errno.ENOSPC: "磁盘空间已满",
                 errno.EROFS: "文件夹是只读的", errno.EDQUOT: "磁盘配额已用完", errno.EIO: "磁盘读写出错",
                 errno.ENOENT: "文件或文件夹不存在"}


def failure_reason(exc: BaseException, path: Path) -> str:
    """Why a file could not be handled, in one line an operator understands."""
    if isinstance(exc, OSError):
        if exc.errno in (errno.EACCES, errno.EPERM):
            if exc.filename is None or Path(os.fsdecode(exc.filename)) == Path(path):
                return "无读取权限"
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


def waiting_files(ws: Workspace, failed: dict[Path, str] | None = None, *,
                  now: float | None = None) -> list[Waiting]:
    """Every file still in the inbox with the reason it is there: the failure of this pass if any,
    else what a look at the file shows (not a regular file, unreadable, still being copied)."""
    from processor.intake.watch import scan_inbox

    failed = failed or {}
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
    readable form (:func:`processor.watch.readable_name`)."""
    try:
        relative.encode("utf-8")
        return relative
    except UnicodeEncodeError:
        return os.fsencode(relative)


def inbox_path_of(row) -> str:
    """The inverse of :func:`ledger_inbox_path`: the path relative to the inbox, as the OS names it."""
    value = row["inbox_path"]
    return os.fsdecode(value) if isinstance(value, bytes) else value


def describe_os_error(exc: OSError) -> str:
    """What went wrong with the file system, in words an operator understands."""
    reason = _OS_ERRORS_CN.get(exc.errno, "文件系统出错")
    where = f"（{exc.filename}）" if exc.filename else ""
    return f"{reason}{where}，系统提示：{exc.strerror or exc}"


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
    finally:
        intake.close()
    return InboxPass(outcomes, waiting_files(ws, failed))


def process_inbox(ws: Workspace, **options) -> list[IntakeOutcome]:
    """:func:`run_inbox_pass`, for callers that want only the outcomes."""
    return run_inbox_pass(ws, **options).outcomes


def recover(ws: Workspace) -> int:
    with contextlib.closing(Intake(ws)) as intake:
        return intake.recover()


def _still_valid(ahead: Future | None, identity: tuple, sha: str) -> ValidationResult | None:
    """The result validated ahead, if the file is still exactly the one that was validated."""
    if ahead is None:
        return None
    try:
        validated = ahead.result()
    except Exception as exc:  # vanished or unreadable then, or no sandbox: validated again now, as without look-ahead
        log.debug("validation ahead failed: %r", exc)
        return None
    if validated is None or validated.identity != identity or validated.sha != sha:
        return None
    return validated.result


def _outcome_of(row) -> IntakeOutcome:
    """The outcome of an arrival already in the ledger, as it was when recorded."""
    problems = [Problem.from_dict(p) for p in json.loads(row["problems_json"] or "[]")]
    return IntakeOutcome(row["id"], row["original_name"], row["status"], row["unit"], row["month"], None,
                         row["error_count"], row["warning_count"], row["replaces"], row["duplicate_of"],
                         problems=problems)


def _summary(result: ValidationResult) -> dict:
    frames = result.frames or {}
    sites = frames.get("sites")
    return {
        "rows": {key: int(len(frame)) for key, frame in frames.items()},
        "sites": [] if sites is None else [str(s) for s in sites["site"].tolist()],
    }

