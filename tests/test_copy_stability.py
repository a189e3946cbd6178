"""A copy in progress is never taken, however it looks: stalled for longer than ``stable_seconds``,
pre-allocated to its full size with the zip directory written first, half an .xls, or still held open
by its writer.  It waits as "仍在复制中"; the completed copy is processed and accepted, and no
rejection is ever written for the partial state."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import make_workspace, wait_until
from form_helpers import filled_form, soffice_available, soffice_convert
from hostile import biff_workbook, cfb

from processor.common.config import DEFAULT_CONFIG_TEXT
from processor.intake.settle import container_complete, open_for_writing
from processor.intake.watch import InboxWatcher, StabilityTracker
from processor.record.ledger import Ledger

STABLE = 2.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def directory_first_stages(data: bytes) -> list[bytes]:
    """What a pre-allocating, out-of-order copy of zip ``data`` shows on disk, stage by stage: zeros with
    the central directory already at the end; then the first half of the members too; then all of it."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        directory = archive.start_dir
    half = directory // 2
    return [bytes(directory) + data[directory:],
            data[:half] + bytes(directory - half) + data[directory:],
            data]


def write_at(path: Path, data: bytes) -> None:
    """Write ``data`` over the file (the size stays), as a copy tool filling a pre-allocated file does."""
    with open(path, "r+b" if path.exists() else "wb") as fh:
        fh.write(data)


def test_a_preallocated_copy_with_its_zip_directory_first_waits_until_filled_in(tmp_path):
    data = filled_form(tmp_path / "form.xlsx").read_bytes()
    copy = tmp_path / "月报表.xlsx"
    clock = Clock()
    tracker = StabilityTracker(STABLE, clock=clock)
    directory_only, half_filled, whole = directory_first_stages(data)
    for stage in (directory_only, half_filled):
        write_at(copy, stage)
        assert zipfile.ZipFile(copy).namelist(), "the zip directory alone reads fine"
        assert not container_complete(copy)
        tracker.observe(copy)
        clock.now += STABLE * 5  # stalled far longer than stable_seconds
        assert tracker.ready() == [], "a pre-allocated copy was taken before it was filled in"
    write_at(copy, whole)
    tracker.observe(copy)
    clock.now += STABLE + 0.1
    assert tracker.ready() == [copy]


def test_half_an_xls_stalled_longer_than_stable_seconds_waits(tmp_path):
    whole = cfb({"Workbook": biff_workbook().ljust(64 * 1024, b"\0")})
    copy = tmp_path / "月报表.xls"
    copy.write_bytes(whole[: len(whole) // 2])
    assert not container_complete(copy)
    clock = Clock()
    tracker = StabilityTracker(STABLE, clock=clock)
    tracker.observe(copy)
    clock.now += STABLE * 5
    assert tracker.ready() == [], "half an .xls was taken as a whole file"
    with open(copy, "ab") as fh:
        fh.write(whole[len(whole) // 2:])
    tracker.observe(copy)
    clock.now += STABLE + 0.1
    assert tracker.ready() == [copy]
    assert container_complete(copy)


def test_a_complete_file_still_held_open_for_writing_waits_until_closed(tmp_path):
    data = filled_form(tmp_path / "form.xlsx").read_bytes()
    copy = tmp_path / "月报表.xlsx"
    clock = Clock()
    tracker = StabilityTracker(STABLE, clock=clock)
    with open(copy, "wb") as writer:
        writer.write(data)
        writer.flush()
        assert container_complete(copy)
        assert open_for_writing([copy]) == {copy}
        tracker.observe(copy)
        clock.now += STABLE * 5
        assert tracker.ready() == [], "taken while its writer still had it open"
    assert open_for_writing([copy]) == set()
    clock.now += STABLE  # looked at again after a while (at once when inotify reports the close)
    assert tracker.ready() == [copy]


def test_the_inbox_status_says_a_partial_copy_is_still_being_copied(tmp_path):
    from processor.intake.run import waiting_files

    ws = make_workspace(tmp_path / "ws")
    data = filled_form(tmp_path / "form.xlsx").read_bytes()
    (ws.inbox / "月报表.xlsx").write_bytes(directory_first_stages(data)[1])
    (ws.inbox / "旧表.xls").write_bytes(cfb({"Workbook": biff_workbook().ljust(64 * 1024, b"\0")})[:20000])
    reasons = {w.name: w.reason for w in waiting_files(ws)}
    # waiting out the grace of an unfinished copy, not merely "just changed"
    assert "仍在复制中（等待至" in reasons["月报表.xlsx"] and "仍在复制中（等待至" in reasons["旧表.xls"]


# --- the real watcher and intake --------------------------------------------------------------


@contextlib.contextmanager
def watching(ws):
    """The real intake behind a real (inotify) watcher on the workspace's inbox."""
    from processor.intake.run import Intake

    intake = Intake(ws)
    watcher = InboxWatcher(ws.inbox, intake.handle, stable_seconds=0.3, poll_interval=0.2, rescan_seconds=3600,
                           retry_seconds=0.5)
    watcher.start()
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        yield watcher
    finally:
        stop.set()
        thread.join(timeout=60)
        intake.close()


def judged_unfinished(watcher: InboxWatcher, path: Path) -> bool:
    """The watcher has looked at ``path`` as it is on disk now, after its quiet window, and found it
    unfinished (so it was not handed over)."""
    entry = watcher.tracker._tracked.get(path)
    if entry is None or entry.zip_ok is not False:
        return False
    info = os.lstat(path)
    return entry.signature == (info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def rows(ws) -> list:
    with Ledger(ws.ledger_path) as ledger:
        return ledger.files()


def _xls_form(tmp_path: Path) -> bytes:
    if not soffice_available():
        pytest.skip("LibreOffice (soffice) is not installed")
    return soffice_convert(filled_form(tmp_path / "月报表.xlsx"), "xls", tmp_path / "xls").read_bytes()


def _xlsx_form(tmp_path: Path) -> bytes:
    return filled_form(tmp_path / "月报表.xlsx").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["preallocated-xlsx", "stalled-xls"])
def test_the_watcher_takes_only_the_completed_copy_and_accepts_it(tmp_path, kind):
    config = DEFAULT_CONFIG_TEXT.replace("stable_seconds = 2.0", "stable_seconds = 0.3")
    ws = make_workspace(tmp_path / "ws", config)
    (ws.inbox / "罗源县").mkdir()
    if kind == "preallocated-xlsx":
        data = _xlsx_form(tmp_path)
        target = ws.inbox / "罗源县" / "月报表.xlsx"
        stages = directory_first_stages(data)
    else:
        data = _xls_form(tmp_path)
        target = ws.inbox / "罗源县" / "月报表.xls"
        stages = [data[: len(data) // 2], data]
    with watching(ws) as watcher:
        for stage in stages[:-1]:  # each partial state is written, closed, and left stalled
            if kind == "stalled-xls":
                target.write_bytes(stage)
            else:
                write_at(target, stage)
            wait_until(lambda: judged_unfinished(watcher, target), what="监视程序判定复制未完成")
            assert target.exists() and rows(ws) == [], "a partial copy was taken"
        write_at(target, stages[-1])
        [row] = wait_until(lambda: rows(ws) and all(r["receipt_path"] for r in rows(ws)) and rows(ws),
                           what="完整文件的回执")
    assert row["status"] == "accepted", row["problems_json"]
    assert not target.exists()
    receipts = [p.name for p in ws.receipts_dir.rglob("*.html")]
    assert len(receipts) == 1 and "退回" not in receipts[0]
