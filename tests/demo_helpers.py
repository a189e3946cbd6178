"""The demo workspaces the end-to-end tests read, each built once per test session.

A demo year takes a minute or more to build (writing the forms, LibreOffice, intake, the consolidation),
so every build is kept on disk in the session's temporary folder, shared by the xdist workers: the first
worker that needs one builds it while holding a file lock, the others wait for it and take the same
build.  The cache is keyed by the digest of the code that builds it (the package, the schemas, the
templates and this file), so a build is never taken from other code.  Every fixture gets a copy of its
own, which its tests may change freely.

A demo as of an earlier day is derived from the build of the demo's own plan: a copy consolidated again
as of that day (SPEC §10: only the forms received by then count, and every output prints that day), as
``processor consolidate --all --as-of`` does, when every form of the build arrived by that day (the plan
of a demo depends only on its latest month due, so its ledger is then the one the day's own demo holds).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

from filelock import FileLock, Timeout

from processor.common.config import load_workspace
from processor.demo import DemoResult

REPO = Path(__file__).resolve().parents[1]
CODE = ("processor", "schemas", "templates")
# the digest the run's first process took (conftest.pytest_configure): code edited during a run does
# not split the workers' cache
DIGEST_ENV = "PROCESSOR_TEST_DEMO_DIGEST"
BUILD_TIMEOUT_SECONDS = 1800  # a bound for a stuck build on a busy machine, never a measurement


def code_digest() -> str:
    """The digest of every file a demo build depends on (the package, schemas, templates, this file)."""
    digest = hashlib.sha256()
    files = [p for top in CODE for p in (REPO / top).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    for path in sorted(files) + [Path(__file__).resolve()]:
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_root(tmp_path_factory) -> Path:
    """The session's demo cache: one folder for all the xdist workers of the run."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / f"demo-cache-{os.environ.get(DIGEST_ENV) or code_digest()}"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _rebased(result: DemoResult, old: Path, new: Path) -> DemoResult:
    """The result of a build moved from workspace folder ``old`` to ``new``."""
    move = lambda p: new / Path(p).relative_to(old) if Path(p).is_relative_to(old) else Path(p)  # noqa: E731
    return replace(result, workspace=load_workspace(new), outputs=[move(p) for p in result.outputs],
                   emails=[move(p) for p in result.emails])


# The demo builds the collected tests need (``note_needed``, from conftest): a worker that waits for a
# build another worker is making builds one of these meanwhile, so no worker idles while one is due.
_needed: dict[str, tuple[dt.date, int | None]] = {}


def build_name(today: dt.date, units_limit: int | None) -> str:
    return f"demo-{units_limit or 'all'}-{today.isoformat()}"


def note_needed(today: dt.date, units_limit: int | None = None) -> None:
    """A collected test reads the demo of ``today`` (and ``units_limit``): build it when a worker waits."""
    _needed[build_name(today, units_limit)] = (today, units_limit)


def _try_build(root: Path, name: str, build, *, wait: bool) -> bool:
    """Build ``name`` under its lock unless a worker has; False only when ``wait`` is off and another
    worker holds the lock (is building it)."""
    folder, done = root / name, root / f"{name}.pickle"
    lock = FileLock(str(root / f"{name}.lock"))
    try:
        lock.acquire(timeout=BUILD_TIMEOUT_SECONDS if wait else 0)
    except Timeout:
        if wait:
            raise
        return False
    try:
        if not done.exists():
            if folder.exists():  # a worker stopped mid-build: build again
                shutil.rmtree(folder)
            result = build(folder)
            stored = replace(result, workspace=None)
            tmp = done.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps((str(folder), stored)))
            tmp.replace(done)
    finally:
        lock.release()
    return True


def _cached(root: Path, name: str, build) -> tuple[Path, DemoResult]:
    """The workspace ``name`` of the cache and its result, built by ``build(folder)`` if no worker has yet.
    While another worker builds it, this one builds another demo the session needs."""
    done = root / f"{name}.pickle"
    while not done.exists() and not _try_build(root, name, build, wait=False):
        other = next(((n, key) for n, key in _needed.items() if n != name and not (root / f"{n}.pickle").exists()
                      and _try_build(root, n, _run_demo(*key), wait=False)), None)
        if other is None:  # nothing else to build: wait for this one
            _try_build(root, name, build, wait=True)
    built_at, stored = pickle.loads(done.read_bytes())
    return Path(built_at), stored


def _run_demo(today: dt.date, units_limit: int | None):
    from processor.demo import run_demo

    return lambda folder: run_demo(folder, today=today, units_limit=units_limit)


def _copy(built_at: Path, stored: DemoResult, dest: Path) -> DemoResult:
    shutil.copytree(built_at, dest, symlinks=True)
    return _rebased(stored, built_at, dest)


def demo_copy(tmp_path_factory, *, today: dt.date | None = None, units_limit: int | None = None,
              as_of: dt.date | None = None) -> DemoResult:
    """A copy of its own of ``run_demo(today=…, units_limit=…)``, built once per test session; with
    ``as_of``, of that demo consolidated again as of that earlier day (:func:`derived_demo`)."""
    from processor.demo import DEMO_TODAY

    today = today or DEMO_TODAY
    root = cache_root(tmp_path_factory)
    name = build_name(today, units_limit)
    built_at, stored = _cached(root, name, _run_demo(today, units_limit))
    if as_of is not None and as_of != today:
        base_at, base = built_at, stored
        name = f"{name}-as-of-{as_of.isoformat()}"
        built_at, stored = _cached(root, name, lambda folder: derived_demo(_copy(base_at, base, folder), as_of))
    return _copy(built_at, stored, tmp_path_factory.mktemp(name) / "ws")


def derived_demo(demo: DemoResult, as_of: dt.date) -> DemoResult:
    """The demo consolidated again, in place, as of the earlier day ``as_of``, as the demo's own run
    does (every month; the mails written, not sent).  Every form of the demo must have arrived by then:
    a form received later would stay in the ledger, which ``processor status`` and the tests read whole."""
    from processor.consolidate.mail_summary import ledger_summary
    from processor.consolidate.run import consolidate
    from processor.deliver.mail import send_pending

    late = [a for a in demo.arrivals if a.when.date() > as_of]
    if late:
        raise ValueError(f"{len(late)} forms of the demo arrived after {as_of}: derive it from an earlier demo")
    ws = demo.workspace
    consolidation = consolidate(ws, all_months=True, today=as_of)
    emails = send_pending(ws, dry_run=True, summary_fallback=ledger_summary).dry_run_files
    return replace(demo, today=as_of, outputs=list(consolidation.written) + list(consolidation.unchanged),
                   emails=list(emails))
