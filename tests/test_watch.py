"""The inbox watcher against real watchdog observers (inotify and polling) on a temp folder."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import openpyxl
import pytest
from conftest import wait_until
from watchdog.events import FileSystemEventHandler

from processor.intake.settle import zip_is_complete
from processor.intake.watch import (InboxWatcher, StabilityTracker, file_signature, is_candidate, scan_inbox,
                                    settled_files)

MODES = ["inotify", "polling"]
FAST = dict(poll_interval=0.2, stable_seconds=0.4, rescan_seconds=3600.0, retry_seconds=0.5)


@functools.cache
def workbook_bytes(rows: int = 2000, tag: str = "") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "基本信息"
    sheet.append(["单位", "序号", "内容"])
    for number in range(rows):
        sheet.append([f"某县{tag}", number, f"第{number}行 示范点联系情况 {tag}"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


class Intake:
    """Stands in for the intake: reads the file, then moves it out of the inbox."""

    def __init__(self, done: Path, fail_names: tuple[str, ...] = ()) -> None:
        self.done = done
        self.done.mkdir(parents=True, exist_ok=True)
        self.fail_names = fail_names
        self.calls: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, path: Path) -> None:
        data = path.read_bytes()
        with self.lock:
            self.calls.append((path.name, data))
        if path.name in self.fail_names:
            raise RuntimeError(f"暂时无法处理 {path.name}")
        os.replace(path, self.done / path.name)

    def names(self) -> list[str]:
        with self.lock:
            return [name for name, _ in self.calls]


class Clock:
    """The watcher's clock, moved only by the test: stability windows and retry pauses then
    depend on what the test did, not on how fast a busy machine ran it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settle(watcher: InboxWatcher, passes: int = 2) -> None:
    """Wait until the watcher has made ``passes`` more complete passes: whatever it was going to
    hand over by now, it has."""
    target = watcher.passes + passes + 1  # the pass under way may have started before the change
    wait_until(lambda: watcher.passes >= target, what="监视程序再完成几轮检查")


def seen(watcher: InboxWatcher, path: Path) -> None:
    """Wait until the watcher tracks ``path`` at its current size and times."""
    def tracked_as_on_disk() -> bool:
        now = file_signature(path)
        return now is not None and watcher.tracker.signature(path) == now

    wait_until(tracked_as_on_disk, what=f"监视程序看到 {path.name} 的当前状态")


@contextlib.contextmanager
def running(watcher: InboxWatcher):
    watcher.start()
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        yield watcher
    finally:
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive(), "watcher loop did not stop"


def make_watcher(inbox: Path, handle, mode: str, **overrides) -> InboxWatcher:
    """A watcher that also counts its completed passes and keeps every event it received."""
    options = {**FAST, **overrides}
    watcher = InboxWatcher(inbox, handle, polling=(mode == "polling"), **options)
    watcher.passes, watcher.received = 0, []
    run_pending, record_event = watcher.run_pending, watcher._record_event

    def counted() -> int:
        try:
            return run_pending()
        finally:
            watcher.passes += 1

    def recorded(event) -> None:
        watcher.received.append(event)
        record_event(event)

    watcher.run_pending, watcher._record_event = counted, recorded
    return watcher


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def slow_copy(target: Path, data: bytes, chunks: int, pause: float) -> None:
    """Write like a slow network copy: one open file, parts flushed with pauses."""
    size = -(-len(data) // chunks)
    with open(target, "wb") as fh:
        for start in range(0, len(data), size):
            fh.write(data[start:start + size])
            fh.flush()
            os.fsync(fh.fileno())
            time.sleep(pause)


# --- slow copies -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_workbook_copied_slowly_is_handled_once_when_complete(inbox, tmp_path, mode):
    # Pauses between parts are LONGER than the stability window: only the zip
    # check keeps the half-copied workbook from being handed over.
    data = workbook_bytes()
    intake = Intake(tmp_path / "done")
    with running(make_watcher(inbox, intake, mode, stable_seconds=0.3)) as watcher:
        slow_copy(inbox / "某县.xlsx", data, chunks=4, pause=0.5)
        wait_until(lambda: intake.calls, what="处理复制完的文件")
        settle(watcher)
    assert len(intake.calls) == 1
    name, seen = intake.calls[0]
    assert name == "某县.xlsx"
    assert seen == data


@pytest.mark.parametrize("mode", MODES)
def test_non_zip_file_copied_slowly_waits_for_stable_size(inbox, tmp_path, mode):
    # Pauses between parts are SHORTER than the stability window (on the watcher's clock): every
    # part restarts the window, and only the whole file is handed over.
    data = os.urandom(200_000)
    intake = Intake(tmp_path / "done")
    clock = Clock()
    with running(make_watcher(inbox, intake, mode, stable_seconds=0.75, clock=clock)) as watcher:
        target = watcher.inbox / "旧格式.xls"
        size = -(-len(data) // 4)
        with open(target, "wb") as fh:
            for start in range(0, len(data), size):
                fh.write(data[start:start + size])
                fh.flush()
                seen(watcher, target)
                clock.advance(0.5)
                settle(watcher)
                assert intake.calls == [], "a part was handed over before the copy finished"
        clock.advance(0.5)  # quiet for a whole window now
        wait_until(lambda: intake.calls, what="处理复制完的文件")
        settle(watcher)
    assert [(n, d == data) for n, d in intake.calls] == [("旧格式.xls", True)]


def test_many_events_for_one_file_give_one_call(inbox, tmp_path):
    intake = Intake(tmp_path / "done")
    data = workbook_bytes(rows=500)
    with running(make_watcher(inbox, intake, "inotify")) as watcher:
        with open(inbox / "多次写入.xlsx", "wb") as fh:
            for start in range(0, len(data), 1000):
                fh.write(data[start:start + 1000])
                fh.flush()
        os.utime(inbox / "多次写入.xlsx")
        wait_until(lambda: intake.calls, what="处理文件")
        settle(watcher)
        assert watcher.events_seen >= 3
    assert intake.names() == ["多次写入.xlsx"]


def test_close_after_write_fast_path_for_complete_workbooks(inbox, tmp_path):
    # Writer closes after every part (the worst case for trusting closes): the
    # zip check still keeps every half workbook back, the complete one goes
    # well before the 3 s stability window.
    data = workbook_bytes()
    intake = Intake(tmp_path / "done")
    clock = Clock()
    watcher = make_watcher(inbox, intake, "inotify", stable_seconds=3.0, close_settle_seconds=0.2, clock=clock)
    with running(watcher):
        target = watcher.inbox / "快速.xlsx"
        size = -(-len(data) // 4)
        for start in range(0, len(data), size):
            assert intake.calls == [], "a half workbook was handed over"
            with open(target, "ab") as fh:
                fh.write(data[start:start + size])
            seen(watcher, target)
            clock.advance(0.25)  # longer than close_settle_seconds, far shorter than stable_seconds
            settle(watcher)
        # 0.25 s of quiet after the last close: only the fast path can have handed it over
        wait_until(lambda: intake.calls, what="快速通道处理写完并关闭的工作簿")
        settle(watcher)
    assert len(intake.calls) == 1 and intake.calls[0][1] == data


# --- what is taken and what is not ---------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_lock_temp_and_system_files_are_ignored_but_a_dot_name_is_taken(inbox, tmp_path, mode):
    intake = Intake(tmp_path / "done")
    (inbox / ".git").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (inbox / "linked-folder").symlink_to(outside, target_is_directory=True)
    with running(make_watcher(inbox, intake, mode)) as watcher:
        (outside / "外面的.xlsx").write_bytes(workbook_bytes(rows=5))
        (inbox / "链接.xlsx").symlink_to(outside / "外面的.xlsx")
        for name in ("~$某县.xlsx", ".~lock.某县.xlsx#", "某县.tmp", ".tmp-abc.xlsx", "._某县.xlsx", ".DS_Store",
                     "Thumbs.db", "desktop.ini"):
            (inbox / name).write_bytes(workbook_bytes(rows=5))
        (inbox / ".git" / "藏在隐藏目录.xlsx").write_bytes(workbook_bytes(rows=5))
        (inbox / "某县.xlsx").write_bytes(workbook_bytes(rows=5))
        (inbox / ".隐藏.xlsx").write_bytes(workbook_bytes(rows=5))  # saved so by mistake: still a submission
        wait_until(lambda: len(intake.calls) >= 2, what="处理文件")
        settle(watcher)  # the ignored files, written first, were as stable as these
    assert sorted(intake.names()) == sorted(["某县.xlsx", ".隐藏.xlsx"])


@pytest.mark.parametrize("mode", MODES)
def test_file_in_per_unit_subfolder_is_seen(inbox, tmp_path, mode):
    intake = Intake(tmp_path / "done")
    with running(make_watcher(inbox, intake, mode)) as watcher:
        unit = watcher.inbox / "某某县委组织部"
        unit.mkdir()
        # an empty folder first, its file later (the folder is watched before its event is delivered)
        wait_until(lambda: any(e.is_directory and Path(os.fsdecode(e.src_path)) == unit for e in watcher.received),
                   what="监视程序收到新文件夹的事件")
        (unit / "2025年3月.xlsx").write_bytes(workbook_bytes(rows=5))
        # and a unit folder created with its file already inside, moved in at once
        staged = tmp_path / "另一个县"
        staged.mkdir()
        (staged / "月报.xlsx").write_bytes(workbook_bytes(rows=5))
        os.replace(staged, inbox / "另一个县")
        wait_until(lambda: len(intake.calls) >= 2, what="处理两个文件夹里的文件")
        settle(watcher)
    assert sorted(intake.names()) == ["2025年3月.xlsx", "月报.xlsx"]


@pytest.mark.parametrize("mode", MODES)
def test_backlog_present_at_start_is_processed(inbox, tmp_path, mode):
    (inbox / "早到的.xlsx").write_bytes(workbook_bytes(rows=5))
    (inbox / "某县").mkdir()
    (inbox / "某县" / "早到的2.xlsx").write_bytes(workbook_bytes(rows=5))
    intake = Intake(tmp_path / "done")
    with running(make_watcher(inbox, intake, mode)) as watcher:
        wait_until(lambda: len(intake.calls) >= 2, what="处理积压的文件")
        settle(watcher)
    assert sorted(intake.names()) == ["早到的.xlsx", "早到的2.xlsx"]


def test_periodic_rescan_finds_files_whose_events_were_lost(inbox, tmp_path):
    intake = Intake(tmp_path / "done")
    watcher = make_watcher(inbox, intake, "inotify", rescan_seconds=0.5)
    with running(watcher):
        watcher.observer.unschedule_all()      # from now on no event arrives at all
        (inbox / "丢了事件.xlsx").write_bytes(workbook_bytes(rows=5))
        wait_until(lambda: intake.calls, what="定期全盘扫描找到文件")
    assert intake.names() == ["丢了事件.xlsx"]


# --- failures ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_handle_that_raises_does_not_kill_the_watcher(inbox, tmp_path, mode):
    intake = Intake(tmp_path / "done", fail_names=("坏的.xlsx",))
    errors: list[tuple[str, str]] = []
    clock = Clock()
    watcher = make_watcher(inbox, intake, mode, retry_seconds=0.25, clock=clock,
                           on_error=lambda path, exc: errors.append((path.name, str(exc))))
    failing_calls = lambda: intake.names().count("坏的.xlsx")  # noqa: E731
    with running(watcher):
        bad, good = watcher.inbox / "坏的.xlsx", watcher.inbox / "好的.xlsx"
        bad.write_bytes(workbook_bytes(rows=5))
        seen(watcher, bad)
        clock.advance(0.5)                      # stable: handed over, fails (retry after 0.25 s)
        wait_until(lambda: errors, what="处理失败的回调")
        good.write_bytes(workbook_bytes(rows=5))
        seen(watcher, good)
        clock.advance(0.5)                      # the good file is stable; the bad one is due again
        wait_until(lambda: "好的.xlsx" in intake.names() and failing_calls() == 2, what="处理好的文件并重试坏的")
        # The failing file stays in the inbox and is retried with growing pauses
        # (0.25 s, 0.5 s, 1 s …), not on every loop tick.
        for pause in (0.5, 1.0):
            clock.advance(pause - 0.125)
            settle(watcher)
            assert failing_calls() == 2 + (pause > 0.5), "retried before its pause was over"
            clock.advance(0.125)
            wait_until(lambda pause=pause: failing_calls() == 3 + (pause > 0.5), what="暂停结束后重试")
        settle(watcher)
    assert errors[0] == ("坏的.xlsx", "暂时无法处理 坏的.xlsx")
    assert (tmp_path / "done" / "好的.xlsx").exists()
    assert failing_calls() == 4
    assert bad.exists()


def test_changed_file_is_retried_at_once_despite_backoff(inbox, tmp_path):
    intake = Intake(tmp_path / "done", fail_names=("修改.xlsx",))
    watcher = make_watcher(inbox, intake, "inotify", retry_seconds=60, on_error=lambda p, e: None)
    with running(watcher):
        (inbox / "修改.xlsx").write_bytes(workbook_bytes(rows=5, tag="A"))
        wait_until(lambda: intake.calls, what="处理文件")
        intake.fail_names = ()
        fixed = workbook_bytes(rows=5, tag="B")
        (inbox / "修改.xlsx").write_bytes(fixed)
        wait_until(lambda: len(intake.calls) == 2, what="立即处理修改后的文件")
    assert intake.calls[1][1] == fixed
    assert (tmp_path / "done" / "修改.xlsx").read_bytes() == fixed


class _Boom(FileSystemEventHandler):
    def dispatch(self, event):
        raise RuntimeError("handler bug")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_dead_observer_thread_is_restarted(inbox, tmp_path):
    intake = Intake(tmp_path / "done")
    watcher = make_watcher(inbox, intake, "inotify")
    with running(watcher):
        first = watcher.observer
        # The classic watchdog failure: an exception in an event handler kills the thread.
        first.schedule(_Boom(), str(inbox), recursive=False)
        (inbox / "触发.txt").write_text("x")
        wait_until(lambda: not first.is_alive(), what="监视线程因异常停止")
        wait_until(lambda: watcher.restarts >= 1, what="监视线程被重新启动")
        assert watcher.observer is not first and watcher.observer.is_alive()
        (inbox / "重启之后.xlsx").write_bytes(workbook_bytes(rows=5))   # rescan is hourly: needs events
        wait_until(lambda: "重启之后.xlsx" in intake.names(), what="重启后处理新文件")
    assert sorted(intake.names()) == ["触发.txt", "重启之后.xlsx"]


# --- pieces ------------------------------------------------------------------------


def test_scan_inbox_order_subfolders_and_symlinks(inbox, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.xlsx").write_bytes(b"x")
    (inbox / "link.xlsx").symlink_to(outside / "secret.xlsx")
    (inbox / "linkdir").symlink_to(outside, target_is_directory=True)
    (inbox / "县甲").mkdir()
    (inbox / "县甲" / "深一层").mkdir()
    files = {"b.xlsx": 300, "a.xlsx": 300, "县甲/c.xlsx": 100, "县甲/深一层/d.xls": 200}
    for name, mtime in files.items():
        path = inbox / name
        path.write_bytes(b"data")
        os.utime(path, (mtime, mtime))
    (inbox / "~$a.xlsx").write_bytes(b"lock")
    result = [p.relative_to(inbox).as_posix() for p in scan_inbox(inbox)]
    assert result == ["县甲/c.xlsx", "县甲/深一层/d.xls", "a.xlsx", "b.xlsx"]
    assert not is_candidate(inbox / "link.xlsx")
    assert not is_candidate(inbox / "县甲")
    assert is_candidate(inbox / "a.xlsx")


def test_stability_tracker_with_a_fake_clock(tmp_path):
    now = [100.0]
    tracker = StabilityTracker(2.0, clock=lambda: now[0])
    data = workbook_bytes(rows=50)
    growing = tmp_path / "a.xlsx"
    growing.write_bytes(data[: len(data) // 2])
    plain = tmp_path / "b.csv"
    plain.write_bytes(b"1,2\n")
    tracker.observe(growing)
    tracker.observe(plain)
    now[0] += 1.9
    assert tracker.ready() == []
    now[0] += 0.2
    assert tracker.ready() == [plain]          # the half workbook is not a complete zip
    now[0] += 10
    assert tracker.ready() == [plain]
    growing.write_bytes(data)                  # copy finished: the stability clock restarts
    assert tracker.ready() == [plain]
    now[0] += 2.1
    assert tracker.ready() == [growing, plain]
    assert zip_is_complete(growing)
    plain.unlink()
    assert tracker.ready() == [growing]
    tracker.forget(growing)
    assert tracker.ready() == []


def test_broken_workbook_is_handed_over_after_grace_period(tmp_path):
    now = [0.0]
    tracker = StabilityTracker(1.0, clock=lambda: now[0], incomplete_grace_seconds=30)
    broken = tmp_path / "坏.xlsx"
    data = workbook_bytes(rows=50)
    broken.write_bytes(data[: len(data) // 2])  # a zip without its end: maybe still arriving
    tracker.observe(broken)
    now[0] += 29
    assert tracker.ready() == []
    now[0] += 2
    assert tracker.ready() == [broken]         # so the intake can answer with a rejection


def test_settled_files_for_one_pass_leaves_copies_in_progress(inbox, tmp_path):
    data = workbook_bytes(rows=50)
    (inbox / "完整.xlsx").write_bytes(data)
    (inbox / "复制中.xlsx").write_bytes(data[: len(data) // 2])
    (inbox / "~$完整.xlsx").write_bytes(b"lock")
    growing = inbox / "还在写.csv"
    growing.write_bytes(b"a")

    def sleep_while_a_copy_goes_on(seconds):
        with open(growing, "ab") as fh:
            fh.write(b"more")
        time.sleep(seconds)

    assert settled_files(inbox, 0.2, sleep=sleep_while_a_copy_goes_on) == [inbox / "完整.xlsx"]
    # a workbook that has not been written for the grace period is broken, not in transit
    assert settled_files(inbox, 0.1, incomplete_grace_seconds=0.0) == [inbox / "完整.xlsx", inbox / "复制中.xlsx",
                                                                        inbox / "还在写.csv"]


# --- process level ------------------------------------------------------------------


WATCH_SCRIPT = textwrap.dedent("""
    import os, sys, threading
    from pathlib import Path
    from processor.common.lock import WorkspaceLock, install_signal_handlers
    from processor.intake.watch import InboxWatcher

    root = Path(sys.argv[1])
    inbox, done = root / "inbox", root / "done"
    done.mkdir(exist_ok=True)

    def handle(path):
        print("handling", path.name, flush=True)
        data = path.read_bytes()
        stop.wait(60)                         # a slow file: SIGTERM arrives meanwhile
        (done / path.name).write_bytes(data)
        path.unlink()
        print("handled", path.name, flush=True)

    stop = threading.Event()
    with WorkspaceLock(root / ".processor.lock"):
        install_signal_handlers(stop)
        watcher = InboxWatcher(inbox, handle, stable_seconds=0.3, rescan_seconds=3600)
        watcher.start()
        print("ready", flush=True)
        watcher.run_forever(stop)
    print("stopped", flush=True)
""")


def _start_watch_script(tmp_path):
    """A watcher in its own process on ``tmp_path/inbox``, saying on stdout what it does."""
    (tmp_path / "inbox").mkdir()
    script = tmp_path / "watch_script.py"
    script.write_text(WATCH_SCRIPT, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")


def test_sigterm_finishes_current_file_and_exits_zero(tmp_path):
    proc = _start_watch_script(tmp_path)
    try:
        assert proc.stdout.readline().strip() == "ready"
        (tmp_path / "inbox" / "某县.xlsx").write_bytes(workbook_bytes(rows=5))
        assert proc.stdout.readline().strip() == "handling 某县.xlsx"
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert rest.split() == ["handled", "某县.xlsx", "stopped"]
    assert (tmp_path / "done" / "某县.xlsx").exists()
    assert not (tmp_path / "inbox" / "某县.xlsx").exists()


def test_sigint_when_idle_exits_zero(tmp_path):
    proc = _start_watch_script(tmp_path)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert (tmp_path / ".processor.lock.info").exists()  # the holder is named while it runs
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert rest.strip() == "stopped"
    assert not (tmp_path / ".processor.lock.info").exists()
