"""A per-file time and memory budget for validating untrusted workbooks.

Validation runs in one long-lived child process (started from a fork server, so
``serve``'s threads are never forked; spawned on Windows).  The child's address
space is capped at what it needs at start plus ``intake.memory_mb``; a file that
needs more is rejected as ``too-large``.  Only Linux can set that cap (``resource``
and ``/proc``); elsewhere a file's memory is bounded only by the machine and, at
the latest, by the time limit.  A file that takes longer than ``intake.timeout_seconds``
is rejected as ``timeout`` and the child is killed and replaced.  Either way the
processor itself, and every other file, carries on.

The annotated copy of a rejected file is built in the same child, under the same
limits (:meth:`Sandbox.annotate`): openpyxl, which builds it, has no limits of its
own, and a workbook that is cheap to validate can be ruinous to open whole (a
thousand overlapping merged ranges).  Over the limits it raises
:class:`processor.validate.annotate.TooComplex`.

A sandbox given a stop event (:meth:`SandboxPool.stop_when`, set by ``serve`` on
SIGTERM) waits for its child in short slices; once the event is set it kills the
child and raises :class:`SandboxInterrupted`, so a stop never waits for a file.

:class:`SandboxPool` holds several such children so that files can be
validated side by side (one file per child at a time); every child keeps its
own time and memory budget.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import signal
import sys
import threading
import time
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no per-process limits
    resource = None

from processor.common import forkserver
from processor.common.config import IntakeSettings
from processor.validate.errors import Problem, problem
from processor.validate.sheets import ValidationResult  # the validator itself loads in the worker

log = logging.getLogger(__name__)


_said_uncapped = False


def can_cap_memory() -> bool:
    """Whether this platform can cap a worker's address space (Linux: ``resource`` and ``/proc``);
    if not, the log says so once."""
    global _said_uncapped
    if resource is not None and sys.platform.startswith("linux"):
        return True
    if not _said_uncapped:
        _said_uncapped = True
        log.warning("本系统不支持限制单个文件的内存用量（intake.memory_mb 不生效），只有处理时限起作用")
    return False


def _vm_bytes() -> int:
    """The process's current virtual size (what RLIMIT_AS counts)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _import_uncapped(load) -> None:
    """Runs ``load`` (imports of the validator's own libraries) without the memory cap, then raises the
    cap by what they took: the file's budget stays what ``intake.memory_mb`` says."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        load()
        return
    before = _vm_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    try:
        load()
    finally:
        grown = max(0, _vm_bytes() - before)
        resource.setrlimit(resource.RLIMIT_AS, (soft + grown if hard == resource.RLIM_INFINITY else min(soft + grown, hard),
                                                hard))


READY = "ready"
# how a worker ends when an allocation fails under the cap (Windows has no SIGKILL, and no cap)
_OUT_OF_MEMORY_EXITS = {-signal.SIGABRT} | ({-signal.SIGKILL} if hasattr(signal, "SIGKILL") else set())
START_SECONDS = 120
WAIT_SLICE_SECONDS = 0.2  # how often a wait for the child looks at the stop event


class SandboxUnavailable(RuntimeError):
    """The validation process could not start: the machine's fault, not the file's (it stays in the inbox)."""


class SandboxInterrupted(SandboxUnavailable):
    """The processor is stopping: the child was killed mid-file; the file is taken again at the next start."""


class _OverLimits(Exception):
    """The child ran out of time or memory, or died, on one request."""

    def __init__(self, result: ValidationResult) -> None:
        super().__init__(result.problems.errors[0].message if result.problems.errors else "")
        self.result = result


VALIDATE, ANNOTATE = "validate", "annotate"


class _Raised:
    """An exception of the child's work (not of the file's limits), raised again in the parent."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    @classmethod
    def of(cls, exc: Exception) -> _Raised:
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 — an exception that cannot cross the pipe is described instead
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return cls(exc)


def _exit_with_parent() -> None:
    """End this worker as soon as the process that started it is gone (killed with SIGKILL, say):
    otherwise a worker deep in a hostile file would go on burning the CPU for hours, parentless."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker(conn, roster, rulebook, limits: IntakeSettings, cap_memory: bool) -> None:
    _exit_with_parent()
    if cap_memory:  # decided by the parent: the child may be a fresh interpreter (spawn)
        budget = _vm_bytes() + int(limits.memory_mb * 1024 * 1024)
        # the soft limit is the cap; the hard one stays, so that the cap can make room for pandas and
        # pandera, loaded with the first sheet that needs them (see _import_uncapped)
        resource.setrlimit(resource.RLIMIT_AS, (budget, resource.getrlimit(resource.RLIMIT_AS)[1]))
        from processor.validate import pandera_step

        pandera_step.library_import_guard = _import_uncapped
    conn.send(READY)
    while True:
        try:
            kind, *args = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        try:
            if kind == ANNOTATE:
                src, problems, dest = args
                from processor.validate.annotate import write_annotated_copy  # openpyxl: with the first rejection

                try:
                    reply = write_annotated_copy(src, problems, dest)
                except MemoryError:
                    raise
                except Exception as exc:  # noqa: BLE001 — a full disk, a read-only outbox: the caller's, as in-process
                    reply = _Raised.of(exc)
            else:
                from processor.validate.validator import validate_file  # preloaded by the fork server

                path, expected_unit = args
                reply = validate_file(path, roster=roster, rulebook=rulebook, expected_unit=expected_unit,
                                      limits=limits)
        except MemoryError:
            reply = _rejected("too-large", detail=f"处理该文件所需内存超过 {limits.memory_mb} MB")
        conn.send(reply)


def _rejected(code: str, **params) -> ValidationResult:
    result = ValidationResult()
    result.problems.add(problem(code, **params))
    return result


class Sandbox:
    """Validates one file at a time in a budgeted child process."""

    def __init__(self, roster, rulebook, limits: IntakeSettings, stop: threading.Event | None = None):
        self.roster, self.rulebook, self.limits = roster, rulebook, limits
        self.stop = stop
        self._process = None
        self._conn = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        # the readers only: openpyxl (the annotated copy) loads in a worker when a file is rejected
        ctx = forkserver.context(["processor.validate.validator"])
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_worker, args=(child, self.roster, self.rulebook, self.limits,
                                                          can_cap_memory()),
                                    name="processor-validate", daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        try:
            ready = self._wait(START_SECONDS) and parent.recv() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._stop()
            raise SandboxUnavailable("无法启动文件校验进程，文件留在收件箱中稍后重试")

    def _wait(self, seconds: float) -> bool:
        """Whether the child answered within ``seconds``; raises SandboxInterrupted as soon as the
        stop event is set (the child is killed: it may be deep in a file that would take hours)."""
        deadline = time.monotonic() + seconds
        while True:
            if self.stop is not None and self.stop.is_set():
                self._stop()
                raise SandboxInterrupted("处理程序正在停止，文件留在收件箱中，下次启动时处理")
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._conn.poll(min(left, WAIT_SLICE_SECONDS) if self.stop is not None else left):
                return True

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def validate(self, path: Path, expected_unit: str | None = None) -> ValidationResult:
        try:
            return self._ask(path, (VALIDATE, str(path), expected_unit))
        except _OverLimits as over:
            return over.result

    def annotate(self, src: Path, problems: list[Problem], dest: Path) -> Path | None:
        """:func:`processor.validate.annotate.write_annotated_copy` in the child, under the same limits;
        raises :class:`TooComplex` when the workbook exceeds them."""
        from processor.validate.annotate import TooComplex

        try:
            reply = self._ask(src, (ANNOTATE, str(src), list(problems), str(dest)))
        except _OverLimits as over:
            raise TooComplex(over.result.problems.errors[0].message) from None
        if isinstance(reply, ValidationResult):  # MemoryError in the child
            raise TooComplex(reply.problems.errors[0].message)
        if isinstance(reply, _Raised):
            raise reply.exc
        return None if reply is None else Path(reply)

    def _ask(self, path: Path, request: tuple):
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            self._conn.send(request)
            try:
                if self._wait(self.limits.timeout_seconds):
                    return self._conn.recv()
            except (EOFError, OSError):
                raise _OverLimits(self._died_on(path)) from None
            log.warning("文件 %s 在 %s 秒内未处理完，已停止并重启校验进程", Path(path).name,
                        self.limits.timeout_seconds)
            self._stop()
            raise _OverLimits(_rejected("timeout", seconds=_seconds(self.limits.timeout_seconds)))

    def _died_on(self, path: Path) -> ValidationResult:
        """The worker died reading ``path``.  Native readers abort (SIGABRT) or are killed when an
        allocation fails under the memory cap; any other death means the file crashed the parser."""
        self._process.join(5)
        code = self._process.exitcode
        self._stop()
        if code in _OUT_OF_MEMORY_EXITS:
            log.warning("文件 %s 超出内存上限", Path(path).name)
            return _rejected("too-large", detail=f"处理该文件所需内存超过 {self.limits.memory_mb} MB")
        log.warning("处理文件 %s 时校验进程异常退出（%s）", Path(path).name, code)
        return _rejected("corrupt", detail="读取该文件时校验程序异常退出")

    def close(self) -> None:
        with self._lock:
            self._stop()


class SandboxPool:
    """Sandboxes shared by threads: ``validate`` borrows an idle one (waiting if all are busy)."""

    def __init__(self, roster, rulebook, limits: IntakeSettings):
        self.roster, self.rulebook, self.limits = roster, rulebook, limits
        self.stop: threading.Event | None = None
        self._all: list[Sandbox] = []
        self._idle: queue.SimpleQueue[Sandbox] = queue.SimpleQueue()
        self._grow_lock = threading.Lock()
        self.grow(1)

    def grow(self, size: int) -> None:
        """At least ``size`` sandboxes; each starts its child on first use."""
        with self._grow_lock:
            while len(self._all) < size:
                sandbox = Sandbox(self.roster, self.rulebook, self.limits, self.stop)
                self._all.append(sandbox)
                self._idle.put(sandbox)

    def stop_when(self, event: threading.Event) -> None:
        """From now on every wait for a child ends (SandboxInterrupted) soon after ``event`` is set."""
        with self._grow_lock:
            self.stop = event
            for sandbox in self._all:
                sandbox.stop = event

    def validate(self, path: Path, expected_unit: str | None = None) -> ValidationResult:
        sandbox = self._idle.get()
        try:
            return sandbox.validate(path, expected_unit)
        finally:
            self._idle.put(sandbox)

    def annotate(self, src: Path, problems: list[Problem], dest: Path) -> Path | None:
        """The annotated copy built in an idle sandbox (see :meth:`Sandbox.annotate`)."""
        sandbox = self._idle.get()
        try:
            return sandbox.annotate(src, problems, dest)
        finally:
            self._idle.put(sandbox)

    def close(self) -> None:
        for sandbox in self._all:
            sandbox.close()


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
