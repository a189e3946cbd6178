"""The demo cache of the tests (demo_helpers): a build is made once for all the workers of a run, and
a worker waiting for one makes another the run needs meanwhile.  Real processes, real file locks;
the builds here are stand-ins that record who made them, not demo years."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until

pytestmark = pytest.mark.slow  # real processes, each loading the package

TESTS = Path(__file__).resolve().parent

WORKER = r"""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import demo_helpers as D
from processor.demo import DemoResult

root, me, wanted, others = Path(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])

def build_of(name):
    def build(folder):
        folder.mkdir()
        (root / f"built-{{name}}-by-{{me}}").touch()
        wait_for = root / f"release-{{name}}"
        deadline = time.monotonic() + 60
        while not wait_for.exists():  # the test says when this build may end
            if time.monotonic() > deadline:
                raise SystemExit(f"{{name}} never released")
            time.sleep(0.02)
        return DemoResult(None, months=[name, me])
    return build

D._run_demo = lambda today, units: build_of(f"demo-{{units or 'all'}}-{{today.isoformat()}}")
for day in others:
    D.note_needed(__import__("datetime").date.fromisoformat(day))
(root / f"asking-{{me}}").touch()
built_at, result = D._cached(root, wanted, build_of(wanted))
print(json.dumps({{"built_at": str(built_at), "months": result.months}}))
"""


def worker(root: Path, me: str, wanted: str, others: list[str] = ()) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER.format(tests=str(TESTS)), str(root), me, wanted,
                             json.dumps(list(others))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])})


def answer(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_two_workers_asking_for_one_demo_get_one_build(tmp_path):
    first = worker(tmp_path, "A", "demo-all-2026-11-30")
    wait_until(lambda: (tmp_path / "built-demo-all-2026-11-30-by-A").exists(), what="A builds the demo")
    second = worker(tmp_path, "B", "demo-all-2026-11-30")
    wait_until(lambda: (tmp_path / "asking-B").exists(), what="B asks for the same demo")
    (tmp_path / "release-demo-all-2026-11-30").touch()
    a, b = answer(first), answer(second)
    assert a == b and a["months"] == ["demo-all-2026-11-30", "A"], "B took A's build"
    assert sorted(p.name for p in tmp_path.glob("built-*")) == ["built-demo-all-2026-11-30-by-A"]


def test_a_worker_waiting_for_one_demo_builds_another_the_run_needs(tmp_path):
    """B waits for the demo A is building; it builds the other demo of the run meanwhile, and A, asking
    for that one next, takes B's build: two builds, two workers, no one idle."""
    first = worker(tmp_path, "A", "demo-all-2026-11-30")
    wait_until(lambda: (tmp_path / "built-demo-all-2026-11-30-by-A").exists(), what="A builds its demo")
    second = worker(tmp_path, "B", "demo-all-2026-11-30", others=["2027-02-08"])
    wait_until(lambda: (tmp_path / "built-demo-all-2027-02-08-by-B").exists(),
               what="B builds the run's other demo while it waits")
    (tmp_path / "release-demo-all-2027-02-08").touch()
    (tmp_path / "release-demo-all-2026-11-30").touch()
    assert answer(second)["months"] == ["demo-all-2026-11-30", "A"]
    answer(first)
    third = worker(tmp_path, "C", "demo-all-2027-02-08")
    assert answer(third)["months"] == ["demo-all-2027-02-08", "B"], "the other demo was B's build"
    assert sorted(p.name for p in tmp_path.glob("built-*")) == ["built-demo-all-2026-11-30-by-A",
                                                                 "built-demo-all-2027-02-08-by-B"]
