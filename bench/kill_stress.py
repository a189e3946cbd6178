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
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from processor.common.config import DEFAULT_CONFIG_TEXT, load_workspace  # noqa: E402
from processor.common.fsutil import TEMP_PREFIX, sha256_file  # noqa: E402
from processor.record.ledger import Ledger  # noqa: E402
from processor.validate.roster import sample_roster, write_roster  # noqa: E402
from processor.common.rulebook import load_rulebook  # noqa: E402

STRESS_CONFIG = (DEFAULT_CONFIG_TEXT.replace("stable_seconds = 2.0", "stable_seconds = 0.1")
                 # dropped in the inbox root, the forms' 填报单位 say whose they are
                 .replace("require_unit_folder = true", "require_unit_folder = false"))


@dataclass
class StressReport:
    files: int = 0
    kills: int = 0
    process_runs: int = 0
    consolidate_runs: int = 0
    consolidate_kills: int = 0
    recorded: int = 0
    still_in_inbox: int = 0
    files_lost: int = 0
    double_counted: int = 0
    duplicate_rows: int = 0
    partial_outputs: int = 0
    integrity_ok: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.files_lost == 0 and self.double_counted == 0 and self.duplicate_rows == 0
                and self.partial_outputs == 0 and self.integrity_ok and not self.problems)


def make_workspace(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(STRESS_CONFIG, encoding="utf-8")
    write_roster(sample_roster(), root / "roster.xlsx")
    ws = load_workspace(root)
    ws.ensure_folders()
    Ledger.create(ws.ledger_path).close()
    return ws


def make_submissions(folder: Path, count: int, *, seed: int, months: int = 2) -> list[Path]:
    """``count`` files with distinct names: forms (distinct bytes), exact re-sends and broken files."""
    from hostile import add_member
    from processor.validate.samples import fill_form

    rng = random.Random(seed)
    roster, rulebook = sample_roster(), load_rulebook()
    months = [f"{rulebook.year}-{m:02d}" for m in range(11 - months, 11)]
    units = [u.name for u in roster.units[:6]]
    bases = {}
    scratch = folder / ".bases"
    scratch.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for n in range(count):
        unit, month = units[n % len(units)], months[(n // len(units)) % len(months)]
        key = (unit, month)
        if key not in bases:
            path = scratch / f"{len(bases)}.xlsx"
            fill_form(path, roster=roster, rulebook=rulebook, unit=unit, month=month, seed=len(bases))
            bases[key] = path.read_bytes()
        roll = rng.random()
        if roll < 0.1 and made:                       # the same bytes sent again
            data = rng.choice(made).read_bytes()
        elif roll < 0.2:                              # a broken file (unique bytes)
            data = bases[key][: rng.randint(100, len(bases[key]) - 100)] + n.to_bytes(4, "big")
        else:                                         # a (re)submission: same unit and month, new bytes
            data = add_member(bases[key], f"docProps/v{n}.xml", f"<v>{n}</v>".encode())
        path = folder / f"{unit}_{month}_{n:03d}.xlsx"
        path.write_bytes(data)
        made.append(path)
    shutil.rmtree(scratch)
    return made


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
    ws = make_workspace(Path(root))
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


def check_invariants(ws, expected: set[str], report: StressReport) -> None:
    """``expected``: the names of every file dropped into the inbox."""
    with Ledger(ws.ledger_path) as ledger:
        report.integrity_ok = ledger.integrity_ok()
        rows = ledger.files()
        # each arrival (a distinct file name here) is recorded once, or still waits in the inbox;
        # the same bytes may arrive under two names (a re-send): then it is one record each
        names = [r["original_name"] for r in rows]
        waiting = {p.name for p in ws.inbox.rglob("*") if p.is_file()}
        counted = [r["sha256"] for r in rows if r["status"] in ("accepted", "superseded")]
        report.recorded = len(set(names))
        report.still_in_inbox = len(waiting)
        report.files_lost = len(expected - set(names) - waiting)
        report.double_counted = (len(names) - len(set(names))) + len(set(names) & waiting) \
            + (len(counted) - len(set(counted)))
        for r in rows:
            archived = ws.archive / r["archive_path"]
            if not archived.is_file() or sha256_file(archived) != r["sha256"]:
                report.problems.append(f"file {r['id']} ({r['original_name']}) missing or wrong in the archive")
            if not r["receipt_path"] or not (ws.outbox / r["receipt_path"]).is_file():
                report.problems.append(f"file {r['id']} ({r['original_name']}) has no receipt")
            if r["inbox_removed"] != 1:
                report.problems.append(f"file {r['id']} ({r['original_name']}) not marked as removed from the inbox")
        current = ledger.query("SELECT unit, month, COUNT(*) FROM files WHERE status = 'accepted' "
                               "GROUP BY unit, month HAVING COUNT(*) > 1")
        report.double_counted += len(current)
        for table in ("sites", "contacts", "org_life", "hardware", "members", "progress"):
            dupes = ledger.query(f"SELECT file_id, row, COUNT(*) FROM {table} GROUP BY file_id, row HAVING COUNT(*) > 1")
            report.duplicate_rows += len(dupes)
            orphans = ledger.query(f"SELECT COUNT(*) FROM {table} t LEFT JOIN files f ON f.id = t.file_id "
                                   "WHERE f.id IS NULL OR f.status NOT IN ('accepted', 'superseded')")
            report.duplicate_rows += orphans[0][0]
    report.partial_outputs = len(partial_outputs(ws.outbox))


def partial_outputs(outbox: Path) -> list[Path]:
    """Temp files, and outputs that do not open whole (a reader would see them broken)."""
    bad = []
    for path in outbox.rglob("*"):
        if not path.is_file():
            continue
        if path.name.startswith(TEMP_PREFIX) or path.suffix in (".tmp", ".part"):
            bad.append(path)
        elif path.suffix in (".xlsx", ".docx"):
            try:
                with zipfile.ZipFile(path) as archive:
                    if archive.testzip() is not None:
                        bad.append(path)
            except zipfile.BadZipFile:
                bad.append(path)
        elif path.suffix == ".json":
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                bad.append(path)
    return bad


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
