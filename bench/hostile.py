"""The full hostile corpus through intake, in a child process, measured.

    python bench/hostile.py [--per-category 14] [--seed 0] [--workspace DIR]

Generates the corpus of tests/hostile.py (40 categories; 14 each gives 560
entries, about 520 of them files the inbox must take) and the categories below
(EXTRA_CATEGORIES: copies caught half-way that the watcher must leave alone, a
merge bomb, a form linking outside itself), drops it into a fresh
workspace's inbox and runs the intake over it in a child process that reports
each file as it finishes.  Before that, the watcher's judgement is asked of
every file: the copies in progress must be judged unfinished, and no complete
file may be.  Afterwards, a merge bomb's receipt must say it was too complex to
annotate, and no annotated copy may link outside itself.  A file that takes longer than its budget is a hang:
the child is killed and restarted (the file is then left for the next run).
A child that dies by itself is a crash.  Prints: files tried, rejected with a
specific code, accepted, wrong outcomes, crashes, hangs, the slowest file and
the child's peak RSS (limit 300 MB).

Then the inbox races (``--races`` attacks per category, ``--races-only`` for just
these): a file saved over while it is read, a link swapped in while it is read, a
version saved just before the removal, a file that cannot be deleted, a form outside
any unit's folder, another unit's file copied into a unit's folder — each played at a
named intake point and checked.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

RSS_LIMIT_MB = 300
HANG_FACTOR = 3.0  # a file is hung after HANG_FACTOR x its budget without an answer


# --- attacks on the watcher's judgement and on the annotated copy ----------------------------------

def _preallocated_directory_first(b, i, rng):
    """A pre-allocating copy that wrote the zip directory first: zeros where the members will be,
    or only the first part of them."""
    import io
    import zipfile

    data = b.fresh_form(i)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        directory = archive.start_dir
    filled = [0, directory // 3, directory // 2][i % 3]
    return [(f"预分配{i}.xlsx", data[:filled] + bytes(directory - filled) + data[directory:])]


def _stalled_half_xls(b, i, rng):
    """Half of an Excel 97-2003 file, its copy stalled."""
    from hostile import biff_workbook, cfb

    whole = b.cached("xls", lambda: cfb({"Workbook": biff_workbook().ljust(64 * 1024, b"\0")}))
    return [(f"复制停顿{i}.xls", whole[: len(whole) * (i % 3 + 1) // 4])]


def _merge_bomb(b, i, rng):
    """One ordinary error and 1,000 overlapping merged ranges: cheap to validate, hours to annotate
    without the sandbox's limit.  Two per run: each costs the full time limit."""
    from hostile import SHEETS_BY_KEY, merge_bomb

    if i % 1000 >= 2:
        return []
    title = SHEETS_BY_KEY["sites"].title
    data = b.fresh_form(i, text={("sites", "enterprise_kind"): "外企"})
    return [(f"合并炸弹{i}.xlsx", merge_bomb(data, title))]


_LINK_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.'
              'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
              'openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" Target="file:///C:/机密/'
              '其他单位.xlsx" TargetMode="External"/></Relationships>')
_LINK_PART = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><externalLink xmlns="http://schemas.'
              'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
              'officeDocument/2006/relationships"><externalBook r:id="rId1"><sheetNames><sheetName val="Sheet1"/>'
              '</sheetNames><sheetDataSet><sheetData sheetId="0"/></sheetDataSet></externalBook></externalLink>')
LINK_MARKERS = ("evil.example", "其他单位", 'TargetMode="External"', "externalLink")


def _linked_form(b, i, rng):
    """A form with one error, a hyperlink to a web site and a link to another workbook."""
    import io
    import zipfile

    from hostile import rewrite_zip

    def edit(wb):
        wb.worksheets[1]["B2"].hyperlink = f"http://evil.example/{i}"

    data = b.fresh_form(i, edit, text={("sites", "enterprise_kind"): "外企"})
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        workbook, rels, types = (z.read(n).decode() for n in
                                 ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"))
    workbook = workbook.replace("</sheets>", '</sheets><externalReferences><externalReference r:id="rIdX1"/>'
                                             "</externalReferences>", 1)
    rels = rels.replace("</Relationships>", '<Relationship Id="rIdX1" Type="http://schemas.openxmlformats.org/'
                        'officeDocument/2006/relationships/externalLink" Target="externalLinks/externalLink1.xml"/>'
                        "</Relationships>")
    types = types.replace("</Types>", '<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType='
                          '"application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/></Types>')
    data = rewrite_zip(data, replace={"xl/workbook.xml": workbook.encode(), "xl/_rels/workbook.xml.rels": rels.encode(),
                                      "[Content_Types].xml": types.encode()},
                       add={"xl/externalLinks/externalLink1.xml": _LINK_PART.encode(),
                            "xl/externalLinks/_rels/externalLink1.xml.rels": _LINK_RELS.encode()})
    return [(f"外部链接{i}.xlsx", data)]


def extra_categories():
    from hostile import CELL_CODES, REJECT, Category
    from processor.common.config import IntakeSettings

    limit = IntakeSettings().timeout_seconds
    return [
        # handed over anyway (here the intake takes every file at once), they are broken files
        Category("preallocated_directory_first", REJECT, frozenset({"corrupt", "not-xlsx"}),
                 _preallocated_directory_first),
        Category("stalled_half_xls", REJECT, frozenset({"corrupt"}), _stalled_half_xls),
        Category("merge_bomb", REJECT, CELL_CODES, _merge_bomb, limit + 30.0),
        Category("linked_form", REJECT, CELL_CODES, _linked_form),
    ]


IN_PROGRESS = frozenset({"preallocated_directory_first", "stalled_half_xls", "copy_in_progress"})
"""Categories the watcher must judge unfinished (left in the inbox with their grace, never taken)."""
MAY_LOOK_IN_PROGRESS = IN_PROGRESS | {"truncated_zip", "corrupt_zip", "oversize_file"}
"""Broken files no watcher can tell from a copy in progress: taken once their grace has passed."""


def generate_extra(dest: Path, *, per_category: int, seed: int, scratch: Path) -> list:
    """EXTRA_CATEGORIES written into ``dest`` as tests/hostile.py's generate writes its own."""
    import random

    from hostile import Builder, HostileFile, _materialise, _unique_name
    from processor.common.rulebook import load_rulebook
    from processor.validate.roster import sample_roster

    rulebook = load_rulebook()
    builder = Builder(dest, sample_roster(), rulebook, f"{rulebook.year}-10", scratch)
    files = []
    for cat in extra_categories():
        rng = random.Random(f"{seed}-{cat.name}")
        for i in range(per_category):
            for name, content in cat.make(builder, seed * 1000 + i, rng):
                path = dest / name
                if path.exists() or path.is_symlink():
                    path = dest / _unique_name(f"-{cat.name}-{seed}-{i}", name)
                _materialise(path, content)
                files.append(HostileFile(path, cat.name, cat.expect, cat.codes, cat.budget_seconds))
    return files


def watcher_verdicts(corpus) -> list[str]:
    """What the watcher would do with each file, against what it must: the wrong verdicts."""
    from hostile import IGNORE
    from processor.intake.settle import container_complete

    wrong = []
    for h in corpus:
        if h.expect == IGNORE:
            continue
        unfinished = not container_complete(h.path)
        if h.category in IN_PROGRESS and not unfinished:
            wrong.append(f"{h.category}/{h.path.name}: a copy in progress judged complete")
        elif unfinished and h.category not in MAY_LOOK_IN_PROGRESS:
            wrong.append(f"{h.category}/{h.path.name}: a complete file judged still being copied")
    return wrong


def answer_problems(ws, corpus, rows) -> list[str]:
    """A merge bomb's receipt says it was too complex to annotate; no annotated copy links outside."""
    import zipfile

    from processor.validate.annotate import TOO_COMPLEX

    wrong = []
    for h in corpus:
        row = rows.get(h.path.name)
        if row is None or not row["receipt_path"]:
            continue
        receipt = ws.outbox / row["receipt_path"]
        copies = list(receipt.parent.glob(f"{receipt.stem}_*.xlsx"))
        if h.category == "merge_bomb" and (TOO_COMPLEX not in receipt.read_text(encoding="utf-8") or copies):
            wrong.append(f"{h.category}/{h.path.name}: receipt does not say {TOO_COMPLEX}")
        for copy in copies:
            with zipfile.ZipFile(copy) as z:
                text = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                                 if n.endswith((".xml", ".rels")))
            if any(marker in text for marker in LINK_MARKERS):
                wrong.append(f"{h.category}/{h.path.name}: the annotated copy links outside itself")
    return wrong


def child(ws_root: str) -> None:
    """Runs in the child: intake over the inbox, one JSON line per file."""
    from processor.common.config import load_workspace
    from processor.intake.run import Intake, inbox_files

    ws = load_workspace(ws_root)
    intake = Intake(ws)
    intake.recover()
    print(json.dumps({"ready": True}), flush=True)
    for path in inbox_files(ws):
        print(json.dumps({"start": path.name}), flush=True)
        started = time.monotonic()
        outcome = intake.handle(path)
        print(json.dumps({"done": path.name, "seconds": time.monotonic() - started,
                          "status": outcome.status if outcome else None}), flush=True)
    intake.close()


def run_child(ws, budgets: dict[str, float], stats: dict) -> bool:
    """One child run; returns True when it finished the inbox (no crash, no hang)."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(ws.root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    current, deadline = None, time.monotonic() + 120
    while True:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            stats["hangs"].append(current or "(start-up)")
            if current:  # move the hanging file out of the way so the next run can go on
                stuck = ws.inbox / current
                if stuck.exists():
                    stuck.rename(ws.root / f"hung-{current}")
            return False
        line = proc.stdout.readline()
        if not line:
            break
        event = json.loads(line)
        if "start" in event:
            current = event["start"]
            deadline = time.monotonic() + HANG_FACTOR * budgets.get(current, 10.0)
        elif "done" in event:
            stats["seconds"][event["done"]] = event["seconds"]
            current, deadline = None, time.monotonic() + 120
    proc.wait()
    stats["runs"] += 1
    if proc.returncode != 0:
        stats["crashes"].append((current, proc.returncode, proc.stderr.read()[-800:]))
        if current and (ws.inbox / current).exists():
            (ws.inbox / current).rename(ws.root / f"crashed-{current}")
        return False
    return True


# --------------------------------------------------------------------------------------
# Inbox races: the shared inbox changing under the processor.  Each attack is played in this
# process at a named intake point (processor/common/faults.py), never by timing, and what must
# hold is checked: the ledger, the archive and the receipt describe the bytes that were read;
# nothing outside the inbox is read; nothing unrecorded is deleted; one undeletable file is
# answered once and skipped; only a unit's own folder speaks for it.
# --------------------------------------------------------------------------------------

RACE_MOMENTS = ("inbox-opened", "inbox-copied", "after-validate", "after-archive")
RACE_MONTH = "2026-10"


class RaceWorkspace:
    """A fresh workspace (default config: only a unit's own folder speaks for it) and real forms."""

    def __init__(self, root: Path, seed: int):
        from processor.common.config import DEFAULT_CONFIG_TEXT, load_workspace
        from processor.record.ledger import Ledger
        from processor.validate.roster import sample_roster, write_roster

        root.mkdir(parents=True)
        (root / "config.toml").write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
        write_roster(sample_roster(), root / "roster.xlsx")
        self.ws = load_workspace(root)
        self.ws.ensure_folders()
        Ledger.create(self.ws.ledger_path).close()
        self.scratch = root.parent / f"{root.name}-forms"
        self.seed = seed * 1000
        self.made = 0

    def form(self, unit: str = "罗源县", *, sites: int = 2, one_error: bool = False) -> Path:
        """A new real form (distinct bytes each time) of ``unit`` in the scratch folder."""
        import datetime as dt

        from form_helpers import set_cells
        from processor.validate.roster import sample_roster
        from processor.validate.samples import fill_form

        self.made += 1
        path = self.scratch / f"{self.made}" / f"{unit}.xlsx"
        path.parent.mkdir(parents=True)
        fill_form(path, roster=sample_roster(), rulebook=self.ws.rulebook, unit=unit, month=RACE_MONTH,
                  seed=self.seed + self.made, sites=sites)
        if one_error:
            set_cells(path, "联系指导记录", {"A2": dt.date(2026, 12, 2)})
        return path

    def drop(self, source: Path, relative: str) -> Path:
        import shutil

        target = self.ws.inbox / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target

    def rows(self) -> list[dict]:
        from processor.record.ledger import Ledger

        with Ledger(self.ws.ledger_path) as ledger:
            return [dict(r) for r in ledger.files()]

    def recorded_as(self, row, data: bytes) -> list[str]:
        """What is wrong if the ledger row, its archive file and its receipt do not all describe ``data``."""
        import hashlib

        wrong, sha = [], hashlib.sha256(data).hexdigest()
        if row["sha256"] != sha:
            wrong.append("ledger hash is not the hash of the bytes read")
        archived = self.ws.archive / row["archive_path"]
        if not archived.is_file() or hashlib.sha256(archived.read_bytes()).hexdigest() != row["sha256"]:
            wrong.append("archive bytes differ from the ledger hash")
        receipt = json.loads((self.ws.outbox / row["receipt_path"]).with_suffix(".json").read_text("utf-8"))
        if receipt["sha256"] != row["sha256"] or receipt["size"] != len(data):
            wrong.append("receipt describes other bytes")
        return wrong


def _replacer(target: Path, source: Path):
    """A clerk saving ``source`` over ``target`` (write beside, rename over), once."""
    import shutil

    done = []

    def act(**_):
        if not done:
            done.append(True)
            os.replace(shutil.copy(source, target.with_name(".saving")), target)
    return act


def _race_swap_during_read(rw: RaceWorkspace, i: int) -> list[str]:
    from processor.common.faults import fault_action
    from processor.intake.run import run_inbox_pass

    v1, v2 = rw.form(), rw.form(sites=3)
    target = rw.drop(v1, f"罗源县/swap{i}.xlsx")
    before = len(rw.rows())
    with fault_action(RACE_MOMENTS[i % len(RACE_MOMENTS)], _replacer(target, v2)):
        run_inbox_pass(rw.ws)
    new = rw.rows()[before:]
    if len(new) != 1:
        return [f"{len(new)} records for one read"]
    wrong = rw.recorded_as(new[0], v1.read_bytes())
    if not target.is_file() or target.read_bytes() != v2.read_bytes():
        wrong.append("the version saved during the read is not in the inbox")
    run_inbox_pass(rw.ws)
    later = rw.rows()[before + 1:]
    if len(later) != 1 or rw.recorded_as(later[0], v2.read_bytes()) or target.exists():
        wrong.append("the version saved during the read was not taken by the next pass")
    return wrong


def _race_link_during_read(rw: RaceWorkspace, i: int) -> list[str]:
    from processor.common.faults import fault_action
    from processor.intake.run import run_inbox_pass

    v1, outside = rw.form(one_error=True), rw.form("闽清县")
    secret = outside.read_bytes()
    target = rw.drop(v1, f"罗源县/link{i}.xlsx")
    done = []

    def to_link(**_):
        if not done:
            done.append(True)
            target.unlink()
            target.symlink_to(outside)

    before = len(rw.rows())
    moments = ("inbox-opened", "after-validate", "after-archive")
    with fault_action(moments[i % len(moments)], to_link):
        run_inbox_pass(rw.ws)
    run_inbox_pass(rw.ws)  # a later pass must not follow the link either
    new = rw.rows()[before:]
    wrong = [] if len(new) == 1 else [f"{len(new)} records"]
    if len(new) == 1:
        wrong += rw.recorded_as(new[0], v1.read_bytes())
    written = [p for p in [*rw.ws.archive.rglob("*"), *rw.ws.outbox.rglob("*")] if p.is_file() and not p.is_symlink()]
    if any(p.read_bytes() == secret for p in written):
        wrong.append("a file outside the inbox was read and written into the archive or outbox")
    if not target.is_symlink() or outside.read_bytes() != secret:
        wrong.append("the link or its target was touched")
    target.unlink()
    return wrong


def _race_save_during_removal(rw: RaceWorkspace, i: int) -> list[str]:
    from processor.common.faults import fault_action
    from processor.intake.run import run_inbox_pass

    v1, v2 = rw.form(), rw.form(sites=3)
    target = rw.drop(v1, f"罗源县/removal{i}.xlsx")
    before = len(rw.rows())
    with fault_action("before-unlink", _replacer(target, v2)):
        run_inbox_pass(rw.ws)
    new = rw.rows()[before:]
    wrong = rw.recorded_as(new[0], v1.read_bytes()) if len(new) == 1 else [f"{len(new)} records"]
    if not target.is_file() or target.read_bytes() != v2.read_bytes():
        return wrong + ["the version saved just before the removal was deleted unrecorded"]
    run_inbox_pass(rw.ws)
    later = rw.rows()[before + 1:]
    if len(later) != 1 or rw.recorded_as(later[0], v2.read_bytes()):
        wrong.append("the saved version was not recorded by the next pass")
    return wrong


def _race_undeletable(rw: RaceWorkspace, i: int) -> list[str]:
    import errno

    from processor.common.faults import fault_action
    from processor.intake.run import run_inbox_pass

    stuck = rw.drop(rw.form(), f"罗源县/stuck{i}.xlsx")

    def refuse(path=None, **_):
        if path is not None and Path(path).name == stuck.name:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))

    before = len(rw.rows())
    wrong = []
    with fault_action("before-unlink", refuse):
        first = run_inbox_pass(rw.ws)
        other = rw.drop(rw.form("闽清县"), f"闽清县/after-stuck{i}.xlsx")
        second = run_inbox_pass(rw.ws)
    names = [r["original_name"] for r in rw.rows()[before:]]
    if names.count(stuck.name) != 1:
        wrong.append(f"the undeletable file was recorded {names.count(stuck.name)} times")
    if other.exists() or other.name not in names:
        wrong.append("the file after the undeletable one was not taken")
    if not any(w.name.endswith(stuck.name) and "无法从收件箱删除" in w.reason for w in first.waiting + second.waiting):
        wrong.append("the undeletable file is not listed with its reason")
    stuck.unlink()  # the operator moves it away
    return wrong


def _race_outside_unit_folder(rw: RaceWorkspace, i: int) -> list[str]:
    from processor.intake.run import run_inbox_pass

    place = ("", "不存在的单位/", "闽清/")[i % 3]  # the root, no such unit, a misspelt folder
    target = rw.drop(rw.form("闽清县", one_error=bool(i % 2)), f"{place}outside{i}.xlsx")
    before = len(rw.rows())
    run_inbox_pass(rw.ws)
    new = rw.rows()[before:]
    if len(new) != 1:
        return [f"{len(new)} records"]
    wrong = []
    row = new[0]
    if row["unit"] is not None or row["folder_unit"] is not None or row["status"] != "rejected":
        wrong.append(f"a form outside any unit's folder counted for {row['unit'] or row['folder_unit']}")
    if not row["receipt_path"].startswith("回执/未识别单位/"):
        wrong.append(f"answered in {row['receipt_path']}")
    if target.exists():
        wrong.append("left in the inbox")
    return wrong


def _race_other_units_copy(rw: RaceWorkspace, i: int) -> list[str]:
    from processor.intake.run import run_inbox_pass

    theirs = rw.drop(rw.form("闽清县"), f"闽清县/theirs{i}.xlsx")
    run_inbox_pass(rw.ws)
    mine = rw.drop(rw.scratch / str(rw.made) / "闽清县.xlsx", f"罗源县/copy{i}.xlsx")  # byte for byte
    before = len(rw.rows())
    run_inbox_pass(rw.ws)
    new = rw.rows()[before:]
    if len(new) != 1:
        return [f"{len(new)} records"]
    row, wrong = new[0], []
    codes = {p["code"] for p in json.loads(row["problems_json"]) if p["severity"] == "error"}
    if row["status"] != "rejected" or "unit-mismatch" not in codes:
        wrong.append(f"another unit's copy answered as {row['status']} {sorted(codes)}")
    if not row["receipt_path"].startswith("回执/罗源县/"):
        wrong.append(f"answered in {row['receipt_path']}")
    if theirs.name in (rw.ws.outbox / row["receipt_path"]).read_text("utf-8"):
        wrong.append("the receipt shows the other unit's file name")
    if mine.exists():
        wrong.append("left in the inbox")
    return wrong


RACES = {
    "swap-during-read": _race_swap_during_read,
    "link-during-read": _race_link_during_read,
    "save-during-removal": _race_save_during_removal,
    "undeletable-file": _race_undeletable,
    "outside-unit-folder": _race_outside_unit_folder,
    "other-units-copy": _race_other_units_copy,
}


def run_races(root: Path, per_category: int, seed: int) -> tuple[dict[str, int], list[str]]:
    """Every race category ``per_category`` times; returns attacks per category and what went wrong."""
    counts, wrong = {}, []
    for n, (name, attack) in enumerate(RACES.items()):
        rw = RaceWorkspace(root / f"race-{n}", seed)
        counts[name] = per_category
        for i in range(per_category):
            try:
                wrong += [f"{name}#{i}: {w}" for w in attack(rw, i)]
            except Exception as exc:  # noqa: BLE001 — an attack that breaks intake is a finding, not a bench crash
                wrong.append(f"{name}#{i}: {type(exc).__name__}: {exc}")
    return counts, wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-category", type=int, default=14)
    parser.add_argument("--races", type=int, default=4, help="attacks per inbox-race category (0: none)")
    parser.add_argument("--races-only", action="store_true", help="only the inbox races, not the file corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    if args.races_only:
        return report_races(args)

    from hostile import ACCEPT, IGNORE, generate
    from stress_helpers import make_stress_workspace
    from processor.record.ledger import Ledger

    root = args.workspace or Path(tempfile.mkdtemp(prefix="hostile-bench-"))
    ws = make_stress_workspace(root / "ws")
    started = time.monotonic()
    corpus = generate(ws.inbox, per_category=args.per_category, seed=args.seed, scratch=root / "scratch")
    corpus += generate_extra(ws.inbox, per_category=args.per_category, seed=args.seed, scratch=root / "scratch")
    verdicts_wrong = watcher_verdicts(corpus)
    print(f"generated {len(corpus)} entries in {len({h.category for h in corpus})} categories "
          f"({time.monotonic() - started:.0f} s)")
    budgets = {h.path.name: h.budget_seconds for h in corpus}
    stats = {"hangs": [], "crashes": [], "seconds": {}, "runs": 0}
    started = time.monotonic()
    for _ in range(50):
        if run_child(ws, budgets, stats):
            break
    elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    with Ledger(ws.ledger_path) as ledger:
        rows = {r["original_name"]: r for r in ledger.files()}
    tried = [h for h in corpus if h.expect != IGNORE]
    outcome = Counter()
    wrong = []
    for h in corpus:
        row = rows.get(h.path.name)
        if h.expect == IGNORE:
            outcome["ignored correctly" if row is None else "ignored WRONGLY"] += 1
            continue
        if row is None:
            outcome["not recorded"] += 1
            continue
        codes = {p["code"] for p in json.loads(row["problems_json"] or "[]") if p["severity"] == "error"}
        accepted = row["status"] in ("accepted", "superseded", "duplicate")
        if accepted:
            outcome["accepted"] += 1
            if h.expect not in (ACCEPT, "either"):
                wrong.append(f"{h.category}/{h.path.name}: accepted")
        elif codes and codes <= h.expected_codes:
            outcome["rejected with a specific code"] += 1
        else:
            outcome["rejected with a wrong code"] += 1
            wrong.append(f"{h.category}/{h.path.name}: {sorted(codes)} not in {sorted(h.expected_codes)}")
        if h.expect == ACCEPT and not accepted:
            wrong.append(f"{h.category}/{h.path.name}: should be accepted, got {sorted(codes)}")
    wrong += verdicts_wrong + answer_problems(ws, corpus, rows)
    slowest = max(stats["seconds"].items(), key=lambda kv: kv[1], default=("—", 0.0))
    print(f"files tried: {len(tried)}")
    print(f"rejected with a specific code: {outcome['rejected with a specific code']}")
    print(f"accepted: {outcome['accepted']}")
    print(f"rejected with a wrong code: {outcome['rejected with a wrong code']}")
    print(f"not recorded: {outcome['not recorded']}")
    print(f"ignored (lock files, symlinks, folders): {outcome['ignored correctly']} "
          f"(wrongly taken: {outcome['ignored WRONGLY']})")
    print(f"watcher verdicts: {sum(h.category in IN_PROGRESS for h in corpus)} copies in progress, "
          f"{len(verdicts_wrong)} wrong")
    print(f"crashes: {len(stats['crashes'])}")
    print(f"hangs: {len(stats['hangs'])}")
    print(f"slowest file: {slowest[0]} {slowest[1]:.2f} s; intake total {elapsed:.0f} s in {stats['runs']} run(s)")
    print(f"peak RSS of the intake process: {peak_mb:.0f} MB (limit {RSS_LIMIT_MB} MB)")
    for line in wrong[:30]:
        print(f"wrong: {line}")
    for crash in stats["crashes"][:5]:
        print(f"crash: {crash}")
    for hang in stats["hangs"][:5]:
        print(f"hang: {hang}")
    ok = (not wrong and not stats["crashes"] and not stats["hangs"] and peak_mb <= RSS_LIMIT_MB
          and outcome["not recorded"] == 0 and outcome["ignored WRONGLY"] == 0)
    if args.races:
        ok = report_races(args, root) == 0 and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def report_races(args, root: Path | None = None) -> int:
    """Run the inbox races and print one line per category; 0 when every attack held."""
    root = root or args.workspace or Path(tempfile.mkdtemp(prefix="hostile-races-"))
    started = time.monotonic()
    counts, wrong = run_races(root / "races", args.races, args.seed)
    for name, count in counts.items():
        failed = sum(line.startswith(f"{name}#") for line in wrong)
        print(f"race {name}: {count} attacks, {failed} wrong")
    print(f"inbox races: {sum(counts.values())} attacks in {len(counts)} categories "
          f"({time.monotonic() - started:.0f} s)")
    for line in wrong[:30]:
        print(f"wrong: {line}")
    if args.races_only:
        print("PASS" if not wrong else "FAIL")
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
