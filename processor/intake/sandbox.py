"""A per-file time and memory budget for validating untrusted workbooks.

Validation runs in one long-lived child process (started from a fork server, so
``serve``'s threads are never forked; spawned on Windows).  The child's address
space is capped at what it needs at start plus ``intake.memory_mb``; a file that
needs more is rejected as ``too-large``.  Only Linux can set that cap (``resource``
and ``/proc``); elsewhere a file's memory is bounded only by the machine and, at
the latest, by the time limit.  A file that takes longer than ``intake.timeout_seconds``
is rejected as ``timeout`` and the child is killed and replaced.  Either way the
processor itself, and every other file, carries on.

:class:`SandboxPool` holds several such children so that files can be
validated side by side (one file per child at a time); every child keeps its
own time and memory budget.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no per-process limits
    resource = None

from processor.common import forkserver
from processor.common.config import IntakeSettings
from processor.validate.errors import problem
from processor.validate.validator import ValidationResult, validate_file

log = logging.getLogger("processor.sandbox")


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


READY = "ready"
# how a worker ends when an allocation fails under the cap (Windows has no SIGKILL, and no cap)
_OUT_OF_MEMORY_EXITS = {-signal.SIGABRT} | ({-signal.SIGKILL} if hasattr(signal, "SIGKILL") else set())
START_SECONDS = 120


class SandboxUnavailable(RuntimeError):
    """The validation process could not start: the machine's fault, not the file's (it stays in the inbox)."""


def _worker(conn, roster, rulebook, limits: IntakeSettings, cap_memory: bool) -> None:
    if cap_memory:  # decided by the parent: the child may be a fresh interpreter (spawn)
        budget = _vm_bytes() + int(limits.memory_mb * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    conn.send(READY)
    while True:
        try:
            path, expected_unit = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        try:
            result = validate_file(path, roster=roster, rulebook=rulebook, expected_unit=expected_unit,
                                   limits=limits)
        except MemoryError:
            result = _rejected("too-large", detail=f"处理该文件所需内存超过 {limits.memory_mb} MB")
        conn.send(result)


def _rejected(code: str, **params) -> ValidationResult:
    result = ValidationResult()
    result.problems.add(problem(code, **params))
    return result


class Sandbox:
    """Validates one file at a time in a budgeted child process."""

    def __init__(self, roster, rulebook, limits: IntakeSettings):
        self.roster, self.rulebook, self.limits = roster, rulebook, limits
        self._process = None
        self._conn = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        ctx = forkserver.context(["processor.validate.validator"])
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_worker, args=(child, self.roster, self.rulebook, self.limits,
                                                          can_cap_memory()),
                                    name="processor-validate", daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        try:
            ready = parent.poll(START_SECONDS) and parent.recv() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._stop()
            raise SandboxUnavailable("无法启动文件校验进程，文件留在收件箱中稍后重试")

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def validate(self, path: Path, expected_unit: str | None = None) -> ValidationResult:
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            self._conn.send((str(path), expected_unit))
            try:
                if self._conn.poll(self.limits.timeout_seconds):
                    return self._conn.recv()
            except (EOFError, OSError):
                return self._died_on(path)
            log.warning("文件 %s 在 %s 秒内未处理完，已退回并重启校验进程", Path(path).name,
                        self.limits.timeout_seconds)
            self._stop()
            return _rejected("timeout", seconds=_seconds(self.limits.timeout_seconds))

    def _died_on(self, path: Path) -> ValidationResult:
        """The worker died reading ``path``.  Native readers abort (SIGABRT) or are killed when an
        allocation fails under the memory cap; any other death means the file crashed the parser."""
        self._process.join(5)
        code = self._process.exitcode
        self._stop()
        if code in _OUT_OF_MEMORY_EXITS:
            log.warning("文件 %s 超出内存上限，已退回", Path(path).name)
            return _rejected("too-large", detail=f"处理该文件所需内存超过 {self.limits.memory_mb} MB")
        log.warning("读取文件 %s 时校验进程异常退出（%s），已按文件损坏退回", Path(path).name, code)
        return _rejected("corrupt", detail="读取该文件时校验程序异常退出")

    def close(self) -> None:
        with self._lock:
            self._stop()


class SandboxPool:
    """Sandboxes shared by threads: ``validate`` borrows an idle one (waiting if all are busy)."""

    def __init__(self, roster, rulebook, limits: IntakeSettings):
        self.roster, self.rulebook, self.limits = roster, rulebook, limits
        self._all: list[Sandbox] = []
        self._idle: queue.SimpleQueue[Sandbox] = queue.SimpleQueue()
        self._grow_lock = threading.Lock()
        self.grow(1)

    def grow(self, size: int) -> None:
        """At least ``size`` sandboxes; each starts its child on first use."""
        with self._grow_lock:
            while len(self._all) < size:
                sandbox = Sandbox(self.roster, self.rulebook, self.limits)
                self._all.append(sandbox)
                self._idle.put(sandbox)

    def validate(self, path: Path, expected_unit: str | None = None) -> ValidationResult:
        sandbox = self._idle.get()
        try:
            return sandbox.validate(path, expected_unit)
        finally:
            self._idle.put(sandbox)

    def close(self) -> None:
        for sandbox in self._all:
            sandbox.close()


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
