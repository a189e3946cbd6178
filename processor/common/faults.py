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
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Callable, Iterator

CRASH_ENV = "PROCESSOR_CRASH_AT"
POINTS = ("inbox-copied", "after-validate", "after-archive", "after-commit", "after-receipt", "after-unlink")
CONSOLIDATE_POINTS = ("consolidate-after-render",)
INTAKE_ACTION_POINTS = ("inbox-opened", "inbox-copied", "after-validate", "after-archive", "before-unlink")
"""Points where a test can act (``fault_action``): the inbox file just opened (nothing read yet), its
bytes copied to staging, validated, archived, and just before its inbox entry is removed."""

_passed: dict[str, int] = {}
_lock = threading.Lock()
_actions: dict[str, Callable[..., None]] = {}


@contextlib.contextmanager
def fault_action(point: str, action: Callable[..., None]) -> Iterator[None]:
    """Within the block, ``action(**details)`` runs each time this process passes ``point``."""
    _actions[point] = action
    try:
        yield
    finally:
        _actions.pop(point, None)


def checkpoint(name: str, **details) -> None:
    action = _actions.get(name)
    if action is not None:
        action(**details)
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
