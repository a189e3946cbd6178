"""Named crash points for crash-safety tests.

``checkpoint("after-commit")`` kills the process with SIGKILL when the
environment variable ``PROCESSOR_CRASH_AT`` names that point, so a test can
stop intake (or consolidation) at an exact step and check that a restart leaves
everything consistent.  ``after-commit:3`` kills the third time the process
passes that point (the third file), so a test picks its kill points by step and
count, never by time.  Unset (always, in normal operation) it does nothing.

A test running intake in its own process can also act at a point:
``with fault_action("inbox-opened", swap):`` calls ``swap(path=…)`` each time
intake passes that point (replacing the file being read, raising
``PermissionError`` at the removal …), so a race is played at an exact step,
not by timing.

``PROCESSOR_PAUSE_AT=point:/some/barrier`` instead holds the process at that point: it creates
``/some/barrier.<pid>.arrived`` and waits until ``/some/barrier`` exists, so a test can hold two
processes inside one section (or see that the second cannot get there) without sleeping.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

CRASH_ENV = "PROCESSOR_CRASH_AT"
POINTS = ("inbox-copied", "after-validate", "after-archive", "after-commit", "after-receipt", "after-unlink")
CONSOLIDATE_POINTS = ("consolidate-after-render",)
MAIL_POINTS = ("send-after-smtp", "remind-after-smtp")  # the server took the mail, the ledger not yet told
MAILBOX_POINTS = ("mail-recorded", "mail-ingested", "mail-reply-queued", "mail-moved", "reply-after-smtp")
"""`processor fetch`: a message recorded, its forms taken, its answer queued, moved; the answer sent."""
BACKUP_POINTS = ("backup-after-snapshot",)
INTAKE_ACTION_POINTS = ("inbox-opened", "inbox-copied", "after-validate", "after-archive", "before-unlink")
"""Points where a test can act (``fault_action``): the inbox file just opened (nothing read yet), its
bytes copied to staging, validated, archived, and just before its inbox entry is removed."""
PAUSE_ENV = "PROCESSOR_PAUSE_AT"
PAUSE_POINTS = ("consolidate-manifest-read",)  # points a test may hold a process at (besides the kill points)
PAUSE_LIMIT_SECONDS = 300  # a test that never releases its barrier does not hang the process for ever

_passed: dict[str, int] = {}
_lock = threading.Lock()
_actions: dict[str, Callable[..., None]] = {}


@contextlib.contextmanager
def fault_action(point: str, action: Callable[..., None]) -> Iterator[None]:
    """Within the block, ``action(**details)`` runs each time this process passes ``point`` (a test makes
    something happen at an exact step: a file replaced while it is read, a form arriving between a
    backup's ledger copy and its file copy)."""
    _actions[point] = action
    try:
        yield
    finally:
        _actions.pop(point, None)


def checkpoint(name: str, **details) -> None:
    if (action := _actions.get(name)) is not None:
        action(**details)
    if os.environ.get(PAUSE_ENV):
        _pause(name, os.environ[PAUSE_ENV])
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    with _lock:
        _passed[name] = _passed.get(name, 0) + 1
        if _passed[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)


def _pause(name: str, wanted: str) -> None:
    point, _, barrier = wanted.partition(":")
    if point != name or not barrier:
        return
    release = Path(barrier)
    release.with_name(f"{release.name}.{os.getpid()}.arrived").touch()
    deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
