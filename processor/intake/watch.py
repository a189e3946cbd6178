"""Watching the inbox: which files to take, when they are complete, and a
watcher that never dies quietly.

Pitfalls this module exists for (all known from watchdog's issue tracker):

* ``created`` fires when a copy *starts*.  A file is ready only when its size,
  mtime and ctime have not changed for ``stable_seconds``, no process on this
  machine holds it open for writing (Linux: ``/proc/*/fd``; a writer on another
  machine of a share cannot be seen), and its container is complete (a zip or
  an OLE file whose structure fits the file; :mod:`processor.intake.settle`).
  A file still being copied is simply looked at again later, never rejected.
* One copy produces many events; they collapse into one path in a set.
* Events get lost under load and on network shares; a periodic full rescan
  is the safety net.
* An exception in an event handler silently kills the observer thread.  The
  event handler here only records paths; all real work runs on the
  watcher's own loop, which also restarts a dead observer.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from processor.intake.settle import copy_may_be_unfinished, open_for_writing

LOG = logging.getLogger(__name__)

IGNORED_PATTERNS: tuple[str, ...] = ("~$*", ".~*", "*.tmp", ".tmp-*", "._*", ".ds_store", "thumbs.db",
                                     "desktop.ini")
"""Lower-case glob patterns of names never taken from the inbox: Office, WPS and
LibreOffice lock files (``~$``, ``.~lock.…#``), temp files (ours start with ``.tmp-``),
macOS resource forks and folder clutter (``._…``, ``.DS_Store``) and Windows folder
clutter.  Any other name starting with a dot (``.罗源县.xlsx``, saved so by mistake)
is a submission like any other and gets its receipt."""

ZIP_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xltx", ".xltm"})
"""Workbooks that are zip files: complete only once the zip directory is readable."""

INCOMPLETE_GRACE_SECONDS = 300.0
"""How long a file whose container is not whole (a zip or an OLE file: .xlsx, .xls …),
or which a local process holds open for writing, though nothing changes it, is taken
for a copy in progress before it is answered as it is (a broken file gets its
rejection).  Content that is neither zip nor OLE cannot be caught half-way so; it is
answered as soon as it stops changing (see :func:`copy_may_be_unfinished`)."""

_RECORDED_EVENTS = frozenset({"created", "modified", "moved", "closed", "attrib"})
# "opened" / "closed_no_write" are deliberately not recorded: our own reads
# would otherwise wake the loop again and again.

Signature = tuple[int, int, int]  # (size, mtime_ns, ctime_ns)


def readable_name(name: str) -> str:
    """A file name (or relative path) as people read it, always valid text.

    A name whose bytes are not UTF-8 (typically GBK, from an old Windows share or
    a zip made on Windows) reaches Python with the odd bytes as surrogate escapes,
    which no log, console, receipt or SQLite text column accepts.  Such a name is
    shown decoded as GB18030 (the superset of GBK) when its bytes decode so,
    otherwise with the odd bytes as ``\\xNN``.  This is for display only: the
    ledger keeps the exact bytes as well (see ``processor.intake``)."""
    return "/".join(map(_readable_part, name.split("/")))


def _readable_part(part: str) -> str:
    try:
        part.encode("utf-8")
        return part
    except UnicodeEncodeError:
        raw = os.fsencode(part)
    try:  # the whole name: its GBK bytes may happen to contain valid UTF-8 pairs
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def is_ignored_name(name: str) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in IGNORED_PATTERNS)


def is_ignored_folder(name: str) -> bool:
    """Folders never entered: the ignored names and every hidden folder (``.snapshot`` of a
    NAS, ``.Trash-1000`` of a desktop), which hold copies, not submissions."""
    return name.startswith(".") or is_ignored_name(name)


def is_candidate(path: Path) -> bool:
    """A regular file (not a symlink, not a folder) whose name is not ignored."""
    path = Path(path)
    if is_ignored_name(path.name):
        return False
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode)


def _inside_inbox(inbox: Path, path: Path) -> bool:
    """``path`` lies under ``inbox`` and no folder between them is hidden or ignored."""
    try:
        relative = Path(path).relative_to(inbox)
    except ValueError:
        return False
    folders = relative.parts[:-1]
    return bool(relative.parts) and not any(is_ignored_folder(part) for part in folders)


def scan_inbox(inbox: Path) -> list[Path]:
    """Every candidate in the inbox and its sub-folders, oldest first (mtime, then name).

    Symlinked folders are not entered and symlinked files are not taken, so
    nothing outside the inbox is ever picked up.  Hidden folders are skipped.
    """
    inbox = Path(inbox)
    found: list[tuple[int, str, Path]] = []
    for folder, dirnames, filenames in os.walk(inbox, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames
                             if not is_ignored_folder(d) and not os.path.islink(os.path.join(folder, d)))
        for name in filenames:
            path = Path(folder) / name
            if not is_candidate(path):
                continue
            try:
                mtime = os.lstat(path).st_mtime_ns
            except OSError:
                continue
            found.append((mtime, str(path), path))
    found.sort(key=lambda item: (item[0], item[1]))
    return [path for _, _, path in found]


def file_signature(path: Path) -> Signature | None:
    """(size, mtime, ctime) of a candidate file, or None if it is gone or not a candidate."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass
class _Tracked:
    signature: Signature
    since: float                  # clock() when the signature was first seen unchanged
    zip_ok: bool | None = None    # its container is complete (cached once true for this signature)
    closed: bool = False          # the writer closed the file at this signature (inotify)
    writer_seen_at: float | None = None  # clock() of the last look for a local writer (/proc)
    writer_open: bool = False     # what that look found


class StabilityTracker:
    """Decides when a file has stopped changing.

    ``observe`` starts (or refreshes) tracking a path; ``ready`` re-reads the
    size and times of every tracked path and returns those unchanged for
    ``stable_seconds``, whose container is complete (:func:`container_complete`)
    and which no local process holds open for writing (:func:`open_for_writing`).
    A file that stays unfinished so for ``incomplete_grace_seconds`` although
    nothing changes is handed over anyway, so a truly broken file is answered
    with a rejection instead of waiting forever.

    Optional fast path (``close_settle_seconds``): a workbook whose writer has
    closed it (inotify's close-after-write, passed as ``observe(path,
    closed=True)``), that has not changed since and whose zip directory is
    readable needs only ``close_settle_seconds`` of quiet instead of the full
    window.  Off by default; polling never sees closes.
    """

    def __init__(self, stable_seconds: float, clock: Callable[[], float] = time.monotonic,
                 incomplete_grace_seconds: float = INCOMPLETE_GRACE_SECONDS,
                 close_settle_seconds: float | None = None) -> None:
        self.stable_seconds = float(stable_seconds)
        self.incomplete_grace_seconds = float(incomplete_grace_seconds)
        self.close_settle_seconds = close_settle_seconds
        self._clock = clock
        self._tracked: dict[Path, _Tracked] = {}

    def __contains__(self, path: object) -> bool:
        return Path(path) in self._tracked  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._tracked)

    def observe(self, path: Path, closed: bool = False) -> None:
        path = Path(path)
        signature = file_signature(path) if is_candidate(path) else None
        if signature is None:
            self._tracked.pop(path, None)
            return
        entry = self._refresh(path, signature)
        entry.closed = entry.closed or closed
        if closed:
            entry.writer_seen_at = None  # a writer closed it: look again at once

    def _quiet_needed(self, path: Path, entry: _Tracked) -> float:
        if (self.close_settle_seconds is not None and entry.closed
                and path.suffix.lower() in ZIP_SUFFIXES):
            return min(self.stable_seconds, self.close_settle_seconds)
        return self.stable_seconds

    @property
    def shortest_wait(self) -> float:
        if self.close_settle_seconds is None:
            return self.stable_seconds
        return min(self.stable_seconds, self.close_settle_seconds)

    def _refresh(self, path: Path, signature: Signature) -> _Tracked:
        entry = self._tracked.get(path)
        if entry is None or entry.signature != signature:
            entry = _Tracked(signature, self._clock())
            self._tracked[path] = entry
        return entry

    def signature(self, path: Path) -> Signature | None:
        entry = self._tracked.get(Path(path))
        return entry.signature if entry else None

    def ready(self) -> list[Path]:
        now = self._clock()
        quiet: list[tuple[Path, _Tracked, float]] = []
        for path in list(self._tracked):
            signature = file_signature(path)
            if signature is None:
                del self._tracked[path]
                continue
            entry = self._refresh(path, signature)
            quiet_for = now - entry.since
            if quiet_for >= self._quiet_needed(path, entry):
                quiet.append((path, entry, quiet_for))
        self._look_for_writers(quiet, now)
        result: list[Path] = []
        for path, entry, quiet_for in quiet:
            if not entry.zip_ok:   # cached per signature once it is good
                entry.zip_ok = not copy_may_be_unfinished(path)
            unfinished = not entry.zip_ok or entry.writer_open
            if unfinished and quiet_for < self.incomplete_grace_seconds:
                continue   # still being copied: looked at again, never handed over half-way
            result.append(path)
        return result

    def _look_for_writers(self, quiet: list[tuple[Path, _Tracked, float]], now: float) -> None:
        """One pass over /proc for the quiet files not looked at lately (a file left waiting, e.g.
        for a retry, is looked at again only every ``stable_seconds``, at least a second)."""
        every = max(self.stable_seconds, 1.0)
        due = [(path, entry) for path, entry, _ in quiet
               if entry.writer_seen_at is None or now - entry.writer_seen_at >= every]
        if not due:
            return
        writing = open_for_writing([path for path, _ in due])
        for path, entry in due:
            entry.writer_seen_at, entry.writer_open = now, path in writing

    def forget(self, path: Path) -> None:
        self._tracked.pop(Path(path), None)


def settled_files(inbox: Path, stable_seconds: float, *, incomplete_grace_seconds: float = INCOMPLETE_GRACE_SECONDS,
                  sleep: Callable[[float], None] = time.sleep) -> list[Path]:
    """For a one-pass run (``processor process``): the inbox files that are complete now.

    Scans, waits ``stable_seconds`` once, and returns (oldest first) the files
    that did not change meanwhile, are complete and are not held open for
    writing (as :class:`StabilityTracker` decides).  Files still being copied
    are left for the next run.  A file that looks unfinished but has not been written to for
    ``incomplete_grace_seconds`` (by its ctime, which copy tools cannot set)
    is returned too, so a broken file gets its rejection receipt.
    """
    candidates = scan_inbox(inbox)
    if not candidates:
        return []
    tracker = StabilityTracker(stable_seconds, incomplete_grace_seconds=float("inf"))
    for path in candidates:
        tracker.observe(path)
    sleep(stable_seconds)
    ready = set(tracker.ready())
    now = time.time()
    for path in candidates:
        signature = tracker.signature(path)
        if path not in ready and signature is not None and file_signature(path) == signature \
                and now - signature[2] / 1e9 >= incomplete_grace_seconds:
            ready.add(path)
    return [path for path in candidates if path in ready]


class _RecordingHandler(FileSystemEventHandler):
    """Runs on the observer thread: only records paths, never raises."""

    def __init__(self, watcher: InboxWatcher) -> None:
        super().__init__()
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._watcher._record_event(event)
        except Exception:  # noqa: BLE001 — an exception here would kill the observer thread
            LOG.exception("记录文件事件时出错（已忽略）：%s", event)


@dataclass
class _Retry:
    signature: Signature
    failures: int
    not_before: float


class InboxWatcher:
    """Hands every complete file in the inbox to ``handle`` on one loop thread.

    ``handle(path)`` is expected to archive and remove the file from the inbox
    (that is the intake's job).  If it raises, or returns leaving the file in
    place, the same unchanged file is retried only after a growing delay
    (``retry_seconds``, doubled each time up to ``retry_max_seconds``); a
    changed file is a new version and is taken as soon as it is stable again.
    """

    def __init__(self, inbox: Path, handle: Callable[[Path], object], *, polling: bool = False,
                 poll_interval: float = 2.0, stable_seconds: float = 2.0, rescan_seconds: float = 60.0,
                 on_error: Callable[[Path, BaseException], None] | None = None, logger=None,
                 retry_seconds: float = 30.0, retry_max_seconds: float = 900.0,
                 incomplete_grace_seconds: float = INCOMPLETE_GRACE_SECONDS, close_settle_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.inbox = Path(inbox).resolve()
        self.handle = handle
        self.polling = polling
        self.poll_interval = float(poll_interval)
        self.rescan_seconds = float(rescan_seconds)
        self.on_error = on_error
        self.log = logger or LOG
        self.retry_seconds = float(retry_seconds)
        self.retry_max_seconds = float(retry_max_seconds)
        self._clock = clock
        self.tracker = StabilityTracker(stable_seconds, clock, incomplete_grace_seconds,
                                        close_settle_seconds)
        self.observer = None
        self.restarts = 0          # how often a dead observer was replaced
        self.events_seen = 0       # recorded file events (for tests and diagnostics)
        self._pending: set[Path] = set()
        self._closed: set[Path] = set()
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._rescan_requested = False
        self._last_scan = float("-inf")
        self._retries: dict[Path, _Retry] = {}
        self._stop_event: threading.Event | None = None
        self._started = False

    # --- observer thread side -------------------------------------------------

    def _record_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _RECORDED_EVENTS:
            return
        if event.is_directory:
            # A folder created or moved in (e.g. a new per-unit folder full of
            # files): rescan instead of trusting per-file events.
            if event.event_type in ("created", "moved"):
                self._rescan_requested = True
                self._wake.set()
            return
        raw = event.dest_path if event.event_type == "moved" else event.src_path
        if not raw:
            return
        path = Path(os.fsdecode(raw))
        if not _inside_inbox(self.inbox, path) or is_ignored_name(path.name):
            return
        if os.path.realpath(path.parent) != str(path.parent):
            return  # reached through a symlinked folder: never take files from outside the inbox
        with self._pending_lock:
            self._pending.add(path)
            if event.event_type == "closed":
                self._closed.add(path)
            self.events_seen += 1
        self._wake.set()

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        """Look at the backlog already in the inbox and start the observer."""
        self.inbox.mkdir(parents=True, exist_ok=True)
        self._full_scan()
        self._start_observer()
        self._started = True

    def stop(self) -> None:
        observer, self.observer = self.observer, None
        self._started = False
        if observer is not None:
            try:
                observer.stop()
                if observer.is_alive():
                    observer.join(timeout=5)
            except Exception:  # noqa: BLE001 — a broken observer must not block shutdown
                self.log.exception("停止文件监视线程时出错（已忽略）")
        self._wake.set()

    def _new_observer(self, polling: bool):
        # the observers (inotify) load when a watcher starts: `status` lists the inbox without them
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        if polling:
            return PollingObserver(timeout=self.poll_interval)
        return Observer()

    def _start_observer(self) -> None:
        handler = _RecordingHandler(self)
        try:
            observer = self._new_observer(self.polling)
            observer.schedule(handler, str(self.inbox), recursive=True)
            observer.start()
        except OSError as exc:
            if self.polling:
                raise
            # e.g. the inotify watch limit is exhausted: polling still works.
            self.log.warning("无法使用系统文件通知（%s），改为每 %.1f 秒轮询收件箱", exc, self.poll_interval)
            observer = self._new_observer(True)
            observer.schedule(handler, str(self.inbox), recursive=True)
            observer.start()
        self.observer = observer

    def _observer_healthy(self) -> bool:
        observer = self.observer
        if observer is None or not observer.is_alive():
            return False
        return all(emitter.is_alive() for emitter in observer.emitters)

    def supervise(self) -> bool:
        """Restart the observer if its thread (or an emitter thread) died.

        Returns True when a restart happened.  Events may have been lost while
        it was down, so a full rescan follows.
        """
        if not self._started or self._observer_healthy():
            return False
        self.log.error("文件监视线程已停止，正在重新启动（第 %d 次）", self.restarts + 1)
        old, self.observer = self.observer, None
        if old is not None:
            try:
                old.stop()
            except Exception:  # noqa: BLE001
                pass
        try:
            self._start_observer()
        except Exception as exc:  # noqa: BLE001 — e.g. the share is unreachable; try again next pass
            self.log.error("重新启动文件监视失败：%s；稍后再试", exc)
            return False
        self.restarts += 1
        self._rescan_requested = True
        return True

    # --- the loop -------------------------------------------------------------

    def _full_scan(self) -> None:
        self._last_scan = self._clock()
        self._rescan_requested = False
        try:
            paths = scan_inbox(self.inbox)
        except OSError as exc:
            self.log.error("扫描收件箱 %s 失败：%s", self.inbox, exc)
            return
        for path in paths:
            self.tracker.observe(path)

    def _take_pending(self) -> tuple[set[Path], set[Path]]:
        with self._pending_lock:
            pending, self._pending = self._pending, set()
            closed, self._closed = self._closed, set()
        return pending, closed

    def run_pending(self) -> int:
        """Hand every ready file to ``handle``; returns how many were handed."""
        pending, closed = self._take_pending()
        for path in pending:
            self.tracker.observe(path, closed=path in closed)
        if self._rescan_requested or self._clock() - self._last_scan >= self.rescan_seconds:
            self._full_scan()
        handed = 0
        for path in self.tracker.ready():
            if self._stop_event is not None and self._stop_event.is_set():
                break
            signature = self.tracker.signature(path)
            if signature is None or self._waiting_to_retry(path, signature):
                continue
            handed += 1
            self._hand(path, signature)
        return handed

    def _waiting_to_retry(self, path: Path, signature: Signature) -> bool:
        retry = self._retries.get(path)
        if retry is None:
            return False
        if retry.signature != signature:   # a new version: take it at once
            del self._retries[path]
            return False
        return self._clock() < retry.not_before

    def _hand(self, path: Path, signature: Signature) -> None:
        error: BaseException | None = None
        try:
            self.handle(path)
        except Exception as exc:  # noqa: BLE001 — one bad file must never stop the watcher
            if self._stop_event is not None and self._stop_event.is_set():
                return  # stopping: the work on it was broken off on purpose; the next start takes it again
            error = exc
            self._report_error(path, exc)
        if file_signature(path) is None:      # archived and removed: done with it
            self.tracker.forget(path)
            self._retries.pop(path, None)
            return
        previous = self._retries.get(path)
        failures = previous.failures + 1 if previous and previous.signature == signature else 1
        delay = min(self.retry_seconds * 2 ** (failures - 1), self.retry_max_seconds)
        self._retries[path] = _Retry(signature, failures, self._clock() + delay)
        if error is None:
            self.log.warning("文件 %s 处理后仍在收件箱中，%.0f 秒后重试", readable_name(path.name), delay)
        else:
            self.log.warning("文件 %s 处理失败（第 %d 次），%.0f 秒后重试", readable_name(path.name), failures, delay)

    def _report_error(self, path: Path, exc: BaseException) -> None:
        if self.on_error is not None:
            try:
                self.on_error(path, exc)
                return
            except Exception:  # noqa: BLE001
                self.log.exception("错误回调本身出错")
        self.log.error("处理文件 %s 时出错：%s", readable_name(str(path)), exc, exc_info=exc)

    def _tick_seconds(self) -> float:
        return max(0.05, min(0.5, self.tracker.shortest_wait / 4))

    def run_forever(self, stop_event: threading.Event) -> None:
        """Loop until ``stop_event`` is set: hand ready files, rescan, supervise.

        When the event is set while a file is being handled, that file is
        finished first; no new file is started.
        """
        self._stop_event = stop_event
        if not self._started:
            self.start()
        try:
            while not stop_event.is_set():
                try:
                    self.supervise()
                    self.run_pending()
                except Exception:  # noqa: BLE001 — the loop itself must survive anything
                    self.log.exception("收件箱监视循环出错，继续运行")
                self._wake.wait(self._tick_seconds())
                self._wake.clear()
        finally:
            self.stop()

    def wake(self) -> None:
        """Make the loop run now (used by signal handlers and tests)."""
        self._wake.set()
