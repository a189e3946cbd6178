"""What the SIGKILL stress drops into the inbox and what must hold afterwards.

Shared by ``tests/test_kill_stress.py`` (kills at chosen steps of intake and consolidation) and
``bench/kill_stress.py`` (kills at random moments, many more files):

* every file exactly once in the ledger and the archive, or still in the inbox;
* no file counted twice, no duplicate data rows, at most one current accepted
  submission per unit and month;
* no partial or temp file visible in the outbox; every xlsx/docx/json there is whole;
* ``PRAGMA integrity_check`` is ok.
"""

from __future__ import annotations

import json
import random
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from hostile import add_member
from processor.common.config import DEFAULT_CONFIG_TEXT, load_workspace
from processor.common.fsutil import TEMP_PREFIX, sha256_file
from processor.common.rulebook import load_rulebook
from processor.record.ledger import Ledger
from processor.validate.roster import sample_roster, write_roster
from processor.validate.samples import fill_form

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


def make_stress_workspace(root: Path):
    """A fresh workspace under ``root`` that takes a dropped file after 0.1 s (the sample roster)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(STRESS_CONFIG, encoding="utf-8")
    write_roster(sample_roster(), root / "roster.xlsx")
    ws = load_workspace(root)
    ws.ensure_folders()
    Ledger.create(ws.ledger_path).close()
    return ws


def make_submissions(folder: Path, count: int, *, seed: int, months: int = 2) -> list[Path]:
    """``count`` files with distinct names: forms (distinct bytes), exact re-sends and broken files."""
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
