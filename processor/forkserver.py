"""The fork server every worker process starts from (intake sandboxes, render workers).

Workers are forked from one small server process, never from the processor itself:
``serve`` has threads, which must not be forked.  The server imports once what its
workers need, and each worker inherits it.  Whoever starts the server first names
those modules; left to multiprocessing, it would import the command's ``__main__``.
Each worker still re-imports the command's main module when it starts (multiprocessing
does, for functions defined there), which is why :mod:`processor.cli` imports no
library at its top.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext


def context(preload: list[str]) -> BaseContext:
    """The fork-server context; ``preload`` is what the server imports if this starts it."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preload)  # read only when the server (re)starts
    return ctx
