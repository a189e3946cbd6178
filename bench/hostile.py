"""The full hostile corpus through intake, in a child process, measured.

    python bench/hostile.py [--per-category 14] [--seed 0] [--workspace DIR]

Generates the corpus of tests/hostile.py (40 categories; 14 each gives 560
entries, about 520 of them files the inbox must take), drops it into a fresh
workspace's inbox and runs the intake over it in a child process that reports
each file as it finishes.  A file that takes longer than its budget is a hang:
the child is killed and restarted (the file is then left for the next run).
A child that dies by itself is a crash.  Prints: files tried, rejected with a
specific code, accepted, wrong outcomes, crashes, hangs, the slowest file and
the child's peak RSS (limit 300 MB).
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-category", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    from hostile import ACCEPT, IGNORE, generate
    from kill_stress import make_workspace
    from processor.record.ledger import Ledger

    root = args.workspace or Path(tempfile.mkdtemp(prefix="hostile-bench-"))
    ws = make_workspace(root / "ws")
    started = time.monotonic()
    corpus = generate(ws.inbox, per_category=args.per_category, seed=args.seed, scratch=root / "scratch")
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
    slowest = max(stats["seconds"].items(), key=lambda kv: kv[1], default=("—", 0.0))
    print(f"files tried: {len(tried)}")
    print(f"rejected with a specific code: {outcome['rejected with a specific code']}")
    print(f"accepted: {outcome['accepted']}")
    print(f"rejected with a wrong code: {outcome['rejected with a wrong code']}")
    print(f"not recorded: {outcome['not recorded']}")
    print(f"ignored (lock files, symlinks, folders): {outcome['ignored correctly']} "
          f"(wrongly taken: {outcome['ignored WRONGLY']})")
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
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
