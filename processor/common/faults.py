"""Named crash points for crash-safety tests.

``checkpoint("after-commit")`` kills the process with SIGKILL when the
environment variable ``PROCESSOR_CRASH_AT`` names that point, so a test can
stop intake (or consolidation) at an exact step and check that a restart leaves
everything consistent.  ``after-commit:3`` kills the third time the process
passes that point (the third file), so a test picks its kill points by step and
count, never by time.  Unset (always, in normal operation) it does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator

CRASH_ENV = "PROCESSOR_CRASH_AT"
POINTS = ("after-validate", "after-archive", "after-commit", "after-receipt", "after-unlink")
CONSOLIDATE_POINTS = ("consolidate-after-render",)
MAIL_POINTS = ("send-after-smtp", "remind-after-smtp")  # the server took the mail, the ledger not yet told
BACKUP_POINTS = ("backup-after-snapshot",)

_passed: dict[str, int] = {}
_lock = threading.Lock()
_hooks: dict[str, Callable[[], None]] = {}


@contextlib.contextmanager
def hooked(name: str, action: Callable[[], None]) -> Iterator[None]:
    """Within the block, passing the point ``name`` in this process runs ``action`` there (a test makes
    something happen at an exact step, e.g. a file arriving between a backup's ledger copy and its file copy)."""
    _hooks[name] = action
    try:
        yield
    finally:
        _hooks.pop(name, None)


def checkpoint(name: str) -> None:
    if (action := _hooks.get(name)) is not None:
        action()
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
