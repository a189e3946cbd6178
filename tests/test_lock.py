"""One processor per workspace: a second process is refused with a clear Chinese message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from processor.common.config import load_workspace
from processor.common.lock import AlreadyRunning, WorkspaceLock, install_signal_handlers

TRY_LOCK = textwrap.dedent("""
    import sys
    from processor.common.config import load_workspace
    from processor.common.lock import AlreadyRunning, WorkspaceLock
    try:
        with WorkspaceLock(load_workspace(sys.argv[1])):
            print("acquired", flush=True)
            if len(sys.argv) > 2:
                sys.stdin.readline()          # hold the lock until told (or killed)
    except AlreadyRunning as exc:
        print(exc, flush=True)
        print("pid", exc.pid, flush=True)
        sys.exit(3)
""")


def run_try_lock(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", TRY_LOCK, str(root)], capture_output=True,
                          text=True, encoding="utf-8", timeout=30)


@pytest.mark.slow
def test_second_process_is_refused_with_pid_and_start_time(tmp_path):
    ws = load_workspace(tmp_path)
    with WorkspaceLock(ws):
        info = json.loads((tmp_path / ".processor.lock.info").read_text(encoding="utf-8"))
        result = run_try_lock(tmp_path)
    assert result.returncode == 3, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert first_line.startswith(f"另一个处理程序正在运行（进程 {os.getpid()}，自 {info['started']} 起）")
    assert f"pid {os.getpid()}" in result.stdout
    # once released, the next start works and leaves no holder file behind
    assert not (tmp_path / ".processor.lock.info").exists()
    result = run_try_lock(tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "acquired", result.stderr


def test_lock_held_by_another_process_refuses_this_one(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", TRY_LOCK, str(tmp_path), "hold"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        assert holder.stdout.readline().strip() == "acquired"
        with pytest.raises(AlreadyRunning) as caught:
            WorkspaceLock(load_workspace(tmp_path)).acquire()
        assert caught.value.pid == holder.pid
        assert f"进程 {holder.pid}" in str(caught.value)
        # A holder killed outright leaves no stale lock: the OS drops it with the process.
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
    with WorkspaceLock(load_workspace(tmp_path)) as lock:
        assert lock.is_locked
        assert json.loads(lock.info_path.read_text(encoding="utf-8"))["pid"] == os.getpid()


def test_message_without_holder_details_is_still_clear(tmp_path):
    with WorkspaceLock(tmp_path / ".processor.lock"):
        (tmp_path / ".processor.lock.info").unlink()     # e.g. holder crashed before writing it
        result = run_try_lock(tmp_path)
    assert result.returncode == 3
    assert result.stdout.splitlines()[0].startswith("另一个处理程序正在运行，同一工作文件夹同时只能运行一个")


def test_signal_handlers_set_the_stop_event_and_restore(tmp_path):
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)
    restore = install_signal_handlers(stop)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2)
        with pytest.raises(KeyboardInterrupt):   # a second Ctrl+C while stopping aborts at once
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is previous
