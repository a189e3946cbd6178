"""Randomised crash stress: SIGKILL `processor process` (and `consolidate`) at random moments.

    python bench/kill_stress.py [--files 200] [--kills 100] [--seed 0] [--workspace DIR]

Drops ``files`` submissions into a fresh workspace's inbox — valid forms for
several units and months (so later ones supersede earlier ones), exact
re-sends (duplicates) and broken files — then starts ``processor process``
again and again, killing it with SIGKILL after a random delay, until it has
been killed ``kills`` times; every few rounds a ``consolidate`` run is started
and killed too.  A last unkilled ``process`` and ``consolidate`` follow, then
the invariants are checked and printed:

* every file exactly once in the ledger and the archive, or still in the inbox;
* no file counted twice, no duplicate data rows, at most one current accepted
  submission per unit and month;
* no partial or temp file visible in the outbox; every xlsx/docx/json there is whole;
* ``PRAGMA integrity_check`` is ok.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

# the workload and the invariants are the test suite's own (tests/stress_helpers.py), so the bench
# and tests/test_kill_stress.py check the same things
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from stress_helpers import StressReport, check_invariants, make_stress_workspace, make_submissions  # noqa: E402


# process exits 1 when files stay in the inbox (e.g. broken workbooks still within the copy grace);
# check_invariants then verifies each such file is really still there.
PROCESS_OK = (0, 1)


def _cli(ws, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "processor", "-w", str(ws.root), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` seconds; True if it was still running (a real kill)."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def _finish(proc: subprocess.Popen, report: StressReport, what: str, timeout: float = 600,
            ok: tuple[int, ...] = (0,)) -> None:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        report.problems.append(f"{what} hung (killed after {timeout:.0f} s)")
        return
    if proc.returncode not in ok:
        report.problems.append(f"{what} exited {proc.returncode}: {err.decode(errors='replace')[-600:]}")


def run_kill_stress(root: Path, *, files: int = 200, kills: int = 100, seed: int = 0,
                    months: int = 2, consolidate_every: int = 7, max_delay: float = 4.5, min_delay: float = 1.0,
                    final_consolidate: bool = True, month: str | None = None, log=print) -> StressReport:
    """Run the stress in a new workspace under ``root``; returns the figures (see the module doc)."""
    started = time.monotonic()
    rng = random.Random(seed)
    ws = make_stress_workspace(Path(root))
    incoming = make_submissions(Path(root) / "incoming", files, seed=seed, months=months)
    expected = {p.name for p in incoming}
    report = StressReport(files=len(incoming))
    month = month or f"{ws.rulebook.year}-10"
    pending = list(incoming)   # files arrive a few at a time, so every run has work to be killed in
    rng.shuffle(pending)
    attempts = 0
    while report.kills < kills and attempts < kills * 4:
        attempts += 1
        for path in pending[:rng.randint(1, 2)]:  # enough runs to interrupt for the kills asked
            shutil.move(str(path), ws.inbox / path.name)
            pending.remove(path)
        if consolidate_every and attempts % consolidate_every == 0:
            report.consolidate_runs += 1
            proc = _cli(ws, "consolidate", "--month", month, "--json")
            if _kill_after(proc, rng.uniform(min_delay, max_delay * 2)):
                report.consolidate_kills += 1
                report.kills += 1
            continue
        report.process_runs += 1
        proc = _cli(ws, "process", "--json")
        if _kill_after(proc, rng.uniform(min_delay, max_delay)):
            report.kills += 1
            if log and report.kills % 10 == 0:
                log(f"  … {report.kills} kills")
        elif proc.returncode not in PROCESS_OK:
            report.problems.append(f"process exited {proc.returncode}: "
                                   f"{proc.stderr.read().decode(errors='replace')[-400:]}")
        if not pending and not any(ws.inbox.iterdir()):  # all done already: nothing left to interrupt
            break
    for path in pending:
        shutil.move(str(path), ws.inbox / path.name)
    report.process_runs += 1
    _finish(_cli(ws, "process", "--json"), report, "final process", ok=PROCESS_OK)
    if consolidate_every and final_consolidate:
        report.consolidate_runs += 1
        _finish(_cli(ws, "consolidate", "--month", month, "--json"), report, "final consolidate")
    check_invariants(ws, expected, report)
    report.seconds = time.monotonic() - started
    return report


def print_report(report: StressReport) -> None:
    print(f"files: {report.files}")
    print(f"kills: {report.kills} (of which during consolidate: {report.consolidate_kills})")
    print(f"process runs: {report.process_runs}, consolidate runs: {report.consolidate_runs}")
    print(f"recorded: {report.recorded}, still in the inbox: {report.still_in_inbox}")
    print(f"files lost: {report.files_lost}")
    print(f"files double-counted: {report.double_counted}")
    print(f"duplicate or orphan data rows: {report.duplicate_rows}")
    print(f"partial outputs: {report.partial_outputs}")
    print(f"ledger integrity_check: {'ok' if report.integrity_ok else 'FAILED'}")
    for problem in report.problems[:20]:
        print(f"problem: {problem}")
    print(f"time: {report.seconds:.0f} s — {'PASS' if report.ok else 'FAIL'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path, help="folder for the stress workspace (default: a temp folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import tempfile

    root = args.workspace or Path(tempfile.mkdtemp(prefix="kill-stress-"))
    report = run_kill_stress(root, files=args.files, kills=args.kills, seed=args.seed)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, ensure_ascii=False, indent=2))
    else:
        print(f"workspace: {root}")
        print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
