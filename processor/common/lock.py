"""One processor per workspace, and a clean stop on Ctrl+C / SIGTERM.

The lock is an OS file lock (``filelock``), so it disappears by itself when
the holding process dies, even by SIGKILL or a power cut: there is never a
stale lock to delete by hand.  A small JSON sidecar next to it names the
holder (process id, start time) so a second start can say who is running.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from collections.abc import Callable

from filelock import FileLock, Timeout

from processor.common.clock import office_now
from processor.common.fsutil import atomic_write_text

LOG = logging.getLogger(__name__)


class AlreadyRunning(RuntimeError):
    """Another processor holds this workspace.  ``str(exc)`` is the Chinese message."""

    def __init__(self, message: str, pid: int | None = None, started: str | None = None,
                 host: str | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.started = started
        self.host = host


def holder_info_path(lock_path: Path) -> Path:
    return Path(lock_path).with_name(Path(lock_path).name + ".info")


def read_holder(lock_path: Path) -> dict:
    """What the sidecar says about the current holder ({} when unknown)."""
    try:
        data = json.loads(holder_info_path(lock_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def running_holder(lock_path: Path) -> dict:
    """Who holds the workspace now, as the holder's sidecar names it ({} when no processor runs).

    Read without touching the lock: taking it, even for an instant, could turn away a ``serve`` starting
    at that moment.  A sidecar left by a process killed outright names a dead process on this computer
    and is ignored; one written on another computer (a shared folder) is taken at its word."""
    info = read_holder(lock_path)
    if not info.get("pid"):
        return {}
    if info.get("host") not in (None, socket.gethostname()):
        return info
    try:
        os.kill(int(info["pid"]), 0)
    except PermissionError:  # alive, under another user
        return info
    except (ProcessLookupError, ValueError, OverflowError):
        return {}
    return info


def _already_running_message(info: dict) -> str:
    details = []
    if info.get("pid"):
        details.append(f"进程 {info['pid']}")
    if info.get("host") and info.get("host") != socket.gethostname():
        details.append(f"计算机 {info['host']}")
    if info.get("started"):
        details.append(f"自 {info['started']} 起")
    where = f"（{'，'.join(details)}）" if details else ""
    return (f"另一个处理程序正在运行{where}，同一工作文件夹同时只能运行一个。"
            "请等它结束，或先停止它（在它的窗口按 Ctrl+C）后再试。")


class WorkspaceLock:
    """``with WorkspaceLock(ws): ...`` — raises ``AlreadyRunning`` if another process holds it.

    Accepts a Workspace (uses ``ws.lock_path``) or a lock-file path.
    """

    def __init__(self, workspace_or_path, timeout: float = 0.0) -> None:
        path = getattr(workspace_or_path, "lock_path", workspace_or_path)
        self.path = Path(path)
        self.info_path = holder_info_path(self.path)
        self.timeout = timeout
        self._zone = getattr(workspace_or_path, "timezone_name", None)  # the office's clock for "started"
        self._lock = FileLock(str(self.path), timeout=timeout)

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> WorkspaceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=self.timeout)
        except Timeout:
            info = read_holder(self.path)
            raise AlreadyRunning(_already_running_message(info), pid=info.get("pid"),
                                 started=info.get("started"), host=info.get("host")) from None
        self._write_holder()
        return self

    def _write_holder(self) -> None:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": office_now(self._zone).strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(sys.argv[:3]),
        }
        try:
            atomic_write_text(self.info_path, json.dumps(info, ensure_ascii=False))
        except OSError as exc:  # the lock itself holds; only the message would be poorer
            LOG.warning("无法写入锁信息文件 %s：%s", self.info_path, exc)

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        # Remove the sidecar while still holding the lock, so a successor's is never removed.
        if read_holder(self.path).get("pid") == os.getpid():
            try:
                self.info_path.unlink()
            except OSError:
                pass
        self._lock.release()

    def __enter__(self) -> WorkspaceLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


CONSOLIDATION_LOCK_NAME = ".processor-consolidate.lock"


class ConsolidationBusy(AlreadyRunning):
    """Another consolidation of this workspace is running and we were asked not to wait."""


def _consolidating_message(info: dict) -> str:
    details = []
    if info.get("pid"):
        details.append(f"进程 {info['pid']}")
    if info.get("started"):
        details.append(f"自 {info['started']} 起")
    return f"另一个汇总正在运行{'（' + '，'.join(details) + '）' if details else ''}"


class ConsolidationLock(WorkspaceLock):
    """One consolidation at a time per workspace: an operator's ``consolidate`` beside ``serve``'s
    nightly run (which holds the workspace lock all along, so consolidation has a lock of its own).

    The outbox and its ``manifest.json`` are read and written only under it.  A second
    consolidation waits for the first, saying so once (``on_wait(message)`` and the log); with
    ``wait=False`` it raises :class:`ConsolidationBusy` instead.  Like the workspace lock it is an
    OS file lock: a killed holder leaves nothing to clean up.
    """

    def __init__(self, workspace_or_path, *, wait: bool = True,
                 on_wait: Callable[[str], None] | None = None) -> None:
        root = getattr(workspace_or_path, "root", None)
        super().__init__(Path(root) / CONSOLIDATION_LOCK_NAME if root is not None else workspace_or_path)
        self.wait = wait
        self.on_wait = on_wait

    def acquire(self) -> ConsolidationLock:
        try:
            super().acquire()
            return self
        except AlreadyRunning:
            info = read_holder(self.path)
        busy = _consolidating_message(info)
        if not self.wait:
            raise ConsolidationBusy(f"{busy}，本次未汇总；请等它结束后再运行。", pid=info.get("pid"),
                                    started=info.get("started"), host=info.get("host"))
        message = f"{busy}，等它结束后再开始本次汇总……"
        LOG.warning(message)
        if self.on_wait is not None:
            self.on_wait(message)
        self._lock.acquire(timeout=-1)
        self._write_holder()
        return self


def install_signal_handlers(stop_event: threading.Event,
                            on_stop: Callable[[], None] | None = None) -> Callable[[], None]:
    """SIGINT and SIGTERM set ``stop_event``: the current file is finished, then the loop exits.

    A second SIGINT while stopping raises KeyboardInterrupt (the impatient
    operator's way out; the intake's crash-safe ordering makes that safe).
    Must be called from the main thread.  Returns a function restoring the
    previous handlers.
    """

    def handle(signum, _frame):
        if stop_event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        LOG.warning("收到停止信号，处理完当前文件后退出……")
        stop_event.set()
        if on_stop is not None:
            on_stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
