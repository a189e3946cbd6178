"""What the tests of ``processor serve`` share: a workspace with fast intake, a serve on a given day's
clock, and waiting for what a running serve does."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import threading
import time
from pathlib import Path

import pytest

from deliver_helpers import make_workspace
from processor.common.config import load_workspace
from processor.deliver.serve import serve

MONTH = "2026-10"
FAST_INTAKE = {"stable_seconds = 2.0": "stable_seconds = 0.3", "poll_interval = 2.0": "poll_interval = 0.3",
               "rescan_seconds = 60": "rescan_seconds = 2"}


def serve_workspace(root: Path, *, port: int | None, nightly_at: str | None = None):
    """A workspace with the sample roster, fast intake settings and SMTP pointed at 127.0.0.1:port."""
    from processor.validate.roster import sample_roster, write_roster

    make_workspace(root, port=port)
    config = (root / "config.toml").read_text(encoding="utf-8")
    for old, new in FAST_INTAKE.items():
        config = config.replace(old, new)
    if nightly_at:
        config = config.replace('nightly_at = "22:30"', f'nightly_at = "{nightly_at}"')
    (root / "config.toml").write_text(config, encoding="utf-8")
    write_roster(sample_roster(), root / "roster.xlsx")
    return load_workspace(root)


def far_from_now() -> str:
    """A nightly time twelve hours away, so the real schedule never fires during a test."""
    return f"{(dt.datetime.now() + dt.timedelta(hours=12)):%H:%M}"


# The nights below run on a given day, its time running: what they consolidate, mail and remind never
# depends on the day the suite runs (October's form is late and due reminders on 20 November).
DAY = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def clock_from(start: dt.datetime):
    began = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - began)


@contextlib.contextmanager
def serving(ws, every: str):
    """``serve`` in a thread of this process on DAY's clock; yields the list its exit code goes to."""
    stop, codes = threading.Event(), []
    thread = threading.Thread(target=lambda: codes.append(
        serve(ws, stop_event=stop, schedule_override=every, clock=clock_from(DAY))))
    thread.start()
    try:
        yield codes
    finally:
        stop.set()
        thread.join(timeout=120)


FATAL_LOG_LINES = ("夜间汇总失败", "发送报告时出错")


def wait_for(condition, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    """Poll ``condition``; fail early when the process died or logged a failed night."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        if log is not None and log.exists() and any(
                line in log.read_text(encoding="utf-8", errors="replace") for line in FATAL_LOG_LINES):
            break
        time.sleep(0.2)
    detail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"等待超时：{what}\n{detail}")
