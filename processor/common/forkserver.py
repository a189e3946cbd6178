"""The fork server every worker process starts from (intake sandboxes, render workers).

Workers are forked from one small server process, never from the processor itself:
``serve`` has threads, which must not be forked.  The server imports once what its
workers need, and each worker inherits it.  Whoever starts the server first names
those modules; left to multiprocessing, it would import the command's ``__main__``.
Each worker still re-imports the command's main module when it starts (multiprocessing
does, for functions defined there), which is why :mod:`processor.cli` imports no
library at its top.

Windows has no fork server: there every worker is started with ``spawn`` (a fresh
interpreter that imports what the worker needs; slower to start, same results).
``PROCESSOR_START_METHOD=spawn`` chooses that on any platform (the tests run the
intake and consolidation that way too).
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import BaseContext

START_METHOD_ENV = "PROCESSOR_START_METHOD"
START_METHODS = ("forkserver", "spawn")  # never plain fork: serve has threads


def start_method() -> str:
    """forkserver where the platform has it, else spawn; the environment variable may choose."""
    available = [m for m in START_METHODS if m in multiprocessing.get_all_start_methods()]
    wanted = os.environ.get(START_METHOD_ENV, "").strip()
    if not wanted:
        return available[0]
    if wanted not in available:
        from processor.common.config import ConfigError

        raise ConfigError(f"环境变量 {START_METHOD_ENV}={wanted} 无效：本机可用的是 {'、'.join(available)}")
    return wanted


def context(preload: list[str]) -> BaseContext:
    """The workers' context; under forkserver, ``preload`` is what the server imports if this starts it."""
    ctx = multiprocessing.get_context(start_method())
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(preload)  # read only when the server (re)starts
    return ctx
