"""Named crash points for crash-safety tests.

``checkpoint("after-commit")`` kills the process with SIGKILL when the
environment variable ``PROCESSOR_CRASH_AT`` names that point, so a test can
stop intake at an exact step and check that a restart leaves everything
consistent.  Unset (always, in normal operation) it does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "PROCESSOR_CRASH_AT"
POINTS = ("after-validate", "after-archive", "after-commit", "after-receipt", "after-unlink")


def checkpoint(name: str) -> None:
    wanted = os.environ.get(CRASH_ENV)
    if wanted and wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
