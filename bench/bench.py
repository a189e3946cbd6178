"""Benchmark of intake and consolidation on a province-sized year of monthly forms.

    python bench/bench.py                     # 150 units × 12 months = 1,800 forms
    python bench/bench.py --quick             # 20 units × 3 months, under 2 minutes
    python bench/bench.py --units 60 --months 6 --samples 30 --jobs 2
    python bench/bench.py --commands-only     # status, status --json, check against `import pandas`
    python bench/bench.py --process-only      # `processor process` CPU against a pandas read of the forms

The workload is generated from the real template with processor.validate.samples.fill_form
(2 sites, ~20 contact records, ~30 organisational-life rows per form), in
parallel, and cached under bench/.cache/<key>/ where the key hashes the
template, the generator, the models, the rulebook and the workload size: a
re-run reuses the forms.  Every figure below comes from the same run; the table
is printed and written to bench/results/latest.json.  Stages that build a
workspace from scratch (ingest, scaling, consolidation) each run in a fresh
child process so their time and peak RSS are their own.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the product is imported inside the steps that use it
    from processor.validate.roster import Roster

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
sys.path[:0] = [str(PROJECT_ROOT), str(BENCH_DIR)]


CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"
GENERATOR_VERSION = "1"  # bump when the workload recipe below changes
SITES, CONTACTS, ORG_LIFE = 2, 20, 30
GENERATOR_SOURCES = ["processor/validate/template.py", "processor/validate/samples.py", "schemas/form.py", "schemas/fields.py",
                     "schemas/requirements.toml"]
UNIT_FIRST = "安宝昌德东丰福广海和华嘉建江金锦康兰乐丽龙美明南宁平浦清庆瑞山盛泰天同万文武西祥新兴阳永玉源云长正中"
UNIT_SECOND = "安城川丰河和湖华江口林陵宁平桥山水台田溪阳源州"
STAFF_GIVEN = ["卫东", "红梅", "建军", "秀芳", "海涛", "文静", "志刚", "淑华", "国庆", "玉梅", "晓峰", "丽芬"]
STAFF_SURNAMES = "陈林黄张李王吴刘蔡杨郑许谢郭洪邱曾廖赖周徐江叶苏庄吕何罗高潘朱"
UNITS_PER_GROUP = 5

# The goals of issue 28 (fast where people wait); each is printed beside its baseline of the same run.
TARGETS = {
    "intake_vs_pandas": 1.0,       # intake of one valid form / pandas-openpyxl read of it
    "ingest_seconds": 30.0,        # all forms of the full workload (1,800), 2 validation processes
    "month_seconds": 5.0,          # one month's consolidation, 150 units
    "half_seconds": 10.0,          # one half-year's consolidation
    "latency_inotify": 1.0,        # drop → receipt, median
    "peak_rss_mb": 200.0,
    "limits_rss_mb": 300.0,        # consolidation of LIMIT_UNITS forms at the intake limits, largest process
    "scaling_ratio": 10.5,         # time(10× files) / time(files)
    "commands_vs_pandas": 0.6,     # slowest of status / status --json / check, wall / `python -c "import pandas"`
    "process_vs_pandas": 0.5,      # CPU of `processor process` of 120 small forms (its processes included) /
                                   # CPU of a script reading them with pandas.read_excel(openpyxl)
    "process_marginal_vs_pandas": 0.5,  # the same per form: (120 forms − none) / (pandas: 120 forms − none)
    "process_empty_cpu": 1.0,      # CPU seconds of `processor process` of an empty inbox
}
# Forms at the intake limits ([intake] max_rows = 5,000 rows per sheet, the header row included): the
# contact and organisational-life sheets full, every row its own (distinct texts, as forms write them).
LIMIT_UNITS, LIMIT_ROWS = 12, 4999
PROCESS_FORMS, PROCESS_RUNS = 120, 3  # small forms: 2 sites, 4 contacts, 4 meetings each
PANDAS_READ = ("import sys\nimport pandas as pd\nfor p in sys.argv[1:]:\n"
               "    pd.read_excel(p, sheet_name=None, engine='openpyxl')\n")
SCALING_RUNS = 3
COMMAND_RUNS = 5
# The commands a person waits for; ``{form}``: a valid form of the workspace's first month, ``{out}``: a new file.
READ_ONLY_COMMANDS = (("status", ["status"]), ("status --json", ["status", "--json"]), ("check", ["check"]),
                      ("template", ["template", "-o", "{out}"]), ("validate", ["validate", "{form}"]))


# --- workload ---------------------------------------------------------------------------------

def bench_roster(units: int) -> Roster:
    """The sample roster grown to ``units`` units: synthetic counties in groups of 5, 4 staff each."""
    from processor.validate.roster import Roster, StaffInfo, UnitInfo, sample_roster

    base = sample_roster()
    names = {u.name for u in base.units}
    staff_names = {s.name for s in base.staff}
    extra_units: list[UnitInfo] = []
    candidates = (a + b + s for s in "县区市" for a in UNIT_FIRST for b in UNIT_SECOND)
    while len(base.units) + len(extra_units) < units:
        name = next(candidates)
        if name in names or a_place_clash(name, names):
            continue
        names.add(name)
        code = f"36{len(extra_units):04d}"
        extra_units.append(UnitInfo(code, name, "县市区", f"{STAFF_SURNAMES[len(extra_units) % 30]}主任",
                                    f"0591-8{len(extra_units):07d}", f"dj{code}@example.gov.cn"))
    units_list = (base.units + extra_units)[:units]
    groups = {g: [u for u in members if u in {x.name for x in units_list}] for g, members in base.groups.items()}
    groups = {g: m for g, m in groups.items() if m}
    staff = [s for s in base.staff if s.group in groups]
    for i in range(0, len(extra_units), UNITS_PER_GROUP):
        group = f"第{len(groups) + 1}组"
        groups[group] = [u.name for u in extra_units[i:i + UNITS_PER_GROUP]]
        for post in ("组长", "副组长", "组员", "组员"):
            name = _new_staff_name(staff_names)
            staff.append(StaffInfo(name, group, f"企业组{post}", f"139{len(staff):08d}", f"qyz{len(staff):03d}@example.gov.cn"))
    return Roster(units_list, staff, groups)


def a_place_clash(name: str, taken: set[str]) -> bool:
    """Two units whose place names are the same would get the same enterprise names."""
    return any(t[:2] == name[:2] for t in taken)


def _new_staff_name(taken: set[str]) -> str:
    n = len(taken)
    while True:
        name = STAFF_SURNAMES[n % len(STAFF_SURNAMES)] + STAFF_GIVEN[(n // len(STAFF_SURNAMES)) % len(STAFF_GIVEN)]
        if n >= len(STAFF_SURNAMES) * len(STAFF_GIVEN):
            name += "甲乙丙丁戊己庚辛"[n % 8]
        n += 1
        if name not in taken:
            taken.add(name)
            return name


def workload_key(units: int, months: int) -> str:
    digest = hashlib.sha256(f"{GENERATOR_VERSION}|{units}|{months}|{SITES}|{CONTACTS}|{ORG_LIFE}".encode())
    digest.update(repr(bench_roster(units)).encode())
    for rel in GENERATOR_SOURCES:
        digest.update((PROJECT_ROOT / rel).read_bytes())
    return digest.hexdigest()[:16]


def _generate_one(job: tuple) -> str:
    path, unit, month, units = job
    from processor.common.rulebook import load_rulebook
    from processor.validate.samples import fill_form

    roster = _worker_roster(units)
    fill_form(path, roster=roster, rulebook=load_rulebook(), unit=unit, month=month, seed=1, sites=SITES,
              contacts=CONTACTS, org_life=ORG_LIFE)
    return path


_ROSTERS: dict[int, Roster] = {}


def _worker_roster(units: int) -> Roster:
    if units not in _ROSTERS:
        _ROSTERS[units] = bench_roster(units)
    return _ROSTERS[units]


def workload(units: int, months: int, jobs: int) -> tuple[Path, list[Path], float]:
    """The cached forms (generated in ``jobs`` processes when missing); returns (folder, files, seconds)."""
    from processor.common.rulebook import load_rulebook

    folder = CACHE_DIR / workload_key(units, months)
    roster = bench_roster(units)
    month_list = load_rulebook().months[:months]
    todo, files = [], []
    for month in month_list:
        for i, unit in enumerate(roster.units):
            path = folder / "forms" / f"{month}_{i:03d}_{unit.name}.xlsx"
            files.append(path)
            if not path.exists():
                todo.append((str(path), unit.name, month, units))
    started = time.perf_counter()
    if todo:
        (folder / "forms").mkdir(parents=True, exist_ok=True)
        print(f"generating {len(todo)} forms in {jobs} processes → {folder}", flush=True)
        with ProcessPoolExecutor(jobs) as pool:
            for done, _ in enumerate(pool.map(_generate_one, todo, chunksize=8), start=1):
                if done % 100 == 0:
                    print(f"  {done}/{len(todo)}", flush=True)
    roster_path = folder / "roster.xlsx"
    if not roster_path.exists():
        from processor.validate.roster import write_roster

        write_roster(roster, roster_path)
    return folder, files, time.perf_counter() - started


def _generate_full(job: tuple) -> str:
    """A form of ``unit`` whose contact and organisational-life sheets have ``rows`` rows each."""
    path, unit, month, units, rows = job
    from processor.common.rulebook import load_rulebook
    from processor.validate.samples import form_rows, write_form

    roster, rulebook = _worker_roster(units), load_rulebook()
    records = form_rows(roster=roster, rulebook=rulebook, unit=unit, month=month, seed=1, sites=SITES,
                        contacts=rows, org_life=rows)
    for i, r in enumerate(records["contacts"], start=1):  # a full sheet of distinct rows, not copies
        r["content"] = f"{r['content']}（第{i}次）"
    for i, r in enumerate(records["org_life"], start=1):
        r["summary"] = f"{r['summary']}（第{i}次）"
    write_form(path, records, roster=roster, rulebook=rulebook, unit=unit, month=month)
    return path


def limits_workload(jobs: int, units: int = LIMIT_UNITS, rows: int = LIMIT_ROWS) -> tuple[Path, list[Path]]:
    """``units`` forms of one month at the intake limits, cached like the main workload."""
    from processor.common.rulebook import load_rulebook

    folder = CACHE_DIR / f"limits-{workload_key(units, 1)}-{rows}"
    roster = bench_roster(units)
    month = load_rulebook().months[0]
    files = [folder / "forms" / f"{month}_{i:03d}_{u.name}.xlsx" for i, u in enumerate(roster.units)]
    todo = [(str(p), u.name, month, units, rows) for p, u in zip(files, roster.units, strict=True) if not p.exists()]
    if todo:
        (folder / "forms").mkdir(parents=True, exist_ok=True)
        print(f"generating {len(todo)} forms of {rows} rows per sheet in {jobs} processes → {folder}", flush=True)
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(_generate_full, todo))
    if not (folder / "roster.xlsx").exists():
        from processor.validate.roster import write_roster

        write_roster(roster, folder / "roster.xlsx")
    return folder, files


# --- helpers ----------------------------------------------------------------------------------

def rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kilobytes


class DescendantPeaks:
    """Peak RSS (VmHWM) of every process below this one, sampled from /proc while the stage runs.

    Worker pools started through a fork server are not this process's children, so
    RUSAGE_CHILDREN never sees them; their own high-water mark, read while they live, does."""

    def __init__(self, interval: float = 0.5):  # VmHWM is a high-water mark: a late sample still sees the peak
        import threading

        self.interval, self.peaks = interval, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def largest_mb(self) -> float:
        return max(self.peaks.values(), default=0.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        for pid in _descendants(os.getpid()):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peaks[pid] = max(self.peaks.get(pid, 0.0), int(line.split()[1]) / 1024)
            except OSError:
                continue


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from the kernel's per-thread child lists (no scan of /proc:
    the sampler must not take CPU from the stage it measures)."""
    found, parents = [], [pid]
    while parents:
        pids = _children(parents.pop())
        found += pids
        parents += pids
    return found


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (adopted orphans included), from its threads' child lists."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in children.read_text().split()]
    return found


def new_workspace(root: Path, roster_path: Path):
    from processor.workspace import init_workspace

    ws = init_workspace(root)
    shutil.copyfile(roster_path, ws.roster_path)
    # the forms are dropped in the inbox root, their 填报单位 saying whose they are
    config = ws.root / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("require_unit_folder = true",
                                                                 "require_unit_folder = false"), encoding="utf-8")
    from processor.common.config import load_workspace
    return load_workspace(ws.root)


def run_stage(stage: str, **params) -> dict:
    """Run one stage in a fresh Python process; returns its JSON answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-stage-", delete=False) as fh:
        json.dump(params, fh)  # 1,800 paths do not fit on a command line
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--params", fh.name]
    try:
        with counted_cpu() as cpu:
            done = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"stage {stage} failed ({done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if ADOPTING:  # the stage's fork server and workers were waited for here: their CPU is counted
        result["tree_cpu_seconds"] = cpu["seconds"]
    return result


def received_clock(month: str):
    """Intake's clock: every file arrives on the day of the last month's deadline (morning)."""
    from processor.common.periods import submission_deadline
    from processor.common.rulebook import load_rulebook

    day = submission_deadline(month, load_rulebook().submission_deadline_day) - dt.timedelta(days=1)
    moment = dt.datetime.combine(day, dt.time(9, 0)).astimezone()
    return lambda: moment


# --- stages (each in its own process) ------------------------------------------------------------

PROFILE_LINES = 25


@contextlib.contextmanager
def profiled(path: str | None):
    """cProfile of the block (this process only: the workers' own work is not in it), saved to ``path``
    with its top lines by cumulative time beside it (``path`` + ``.txt``); nothing when ``path`` is None."""
    if not path:
        yield
        return
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(path)
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(PROFILE_LINES)
        Path(path + ".txt").write_text(text.getvalue(), encoding="utf-8")

def stage_ingest(root: str, roster: str, files: list[str], last_month: str, jobs: int = 1,
                 profile: str | None = None) -> dict:
    """Copy the files into a fresh workspace's inbox, then process the inbox once (timed)."""
    from processor.intake import run as intake

    ws = new_workspace(Path(root), Path(roster))
    for i, src in enumerate(files):
        shutil.copyfile(src, ws.inbox / f"{i:05d}_{Path(src).name}")
    clock = received_clock(last_month)
    started, cpu = time.perf_counter(), time.process_time()
    with DescendantPeaks() as workers, profiled(profile):
        if jobs > 1:
            outcomes = intake.process_inbox(ws, now=clock(), jobs=jobs)
        else:
            outcomes = intake.process_inbox(ws, now=clock())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    return {"files": len(files), "seconds": seconds, "main_cpu_seconds": cpu, "files_per_s": len(files) / seconds,
            "statuses": statuses,
            "left_in_inbox": sum(1 for p in ws.inbox.rglob("*") if p.is_file()),
            "rss_mb": rss_mb(), "children_rss_mb": max(rss_mb(resource.RUSAGE_CHILDREN), workers.largest_mb())}


def stage_consolidate(root: str, month: str | None = None, half: str | None = None, today: str = "",
                      profile: str | None = None) -> dict:
    from processor.common.config import load_workspace
    from processor.consolidate.run import consolidate

    ws = load_workspace(root)
    started, cpu = time.perf_counter(), time.process_time()
    with DescendantPeaks() as workers, profiled(profile):
        result = consolidate(ws, month=month, half=half, today=dt.date.fromisoformat(today))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    kinds: dict[str, int] = {}
    for path in result.written:
        kind = path.relative_to(ws.outbox).parts[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return {"seconds": seconds, "main_cpu_seconds": cpu, "written": len(result.written), "unchanged": len(result.unchanged),
            "skipped": result.skipped, "kinds": kinds, "rss_mb": rss_mb(),
            "children_rss_mb": max(rss_mb(resource.RUSAGE_CHILDREN), workers.largest_mb())}


STAGES = {"ingest": stage_ingest, "consolidate": stage_consolidate}


def limits_consolidation(jobs: int) -> dict:
    """LIMIT_UNITS forms at the intake limits ingested, then their month consolidated in a fresh
    process: the peak RSS of the largest process (the consolidation or one of its render workers)."""
    from processor.common import periods as P
    from processor.common.rulebook import load_rulebook

    folder, files = limits_workload(jobs)
    month = files[0].name[:7]
    rulebook = load_rulebook()
    today = P.submission_deadline(month, rulebook.submission_deadline_day) + dt.timedelta(days=1)
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        root = Path(tmp) / "ws"
        ingest = run_stage("ingest", root=str(root), roster=str(folder / "roster.xlsx"),
                           files=[str(p) for p in files], last_month=month)
        if ingest["statuses"] != {"accepted": len(files)}:
            raise RuntimeError(f"forms at the intake limits not all accepted: {ingest['statuses']}")
        shutil.rmtree(root / "outbox")
        (root / "outbox").mkdir()
        c = run_stage("consolidate", root=str(root), month=month, today=today.isoformat())
    return {"units": len(files), "rows_per_sheet": LIMIT_ROWS, "ingest_seconds": ingest["seconds"],
            "seconds": c["seconds"], "written": c["written"], "rss_mb": c["rss_mb"],
            "children_rss_mb": c["children_rss_mb"], "peak_rss_mb": max(c["rss_mb"], c["children_rss_mb"])}


def limits_rows(m: dict) -> list[tuple[str, str, str, str]]:
    return [(f"consolidate {m['units']} forms at the intake limits ({m['rows_per_sheet']} rows/sheet)",
             f"{m['seconds']:.1f} s, peak {m['peak_rss_mb']:.0f} MB" + of_goal(m["peak_rss_mb"], "limits_rss_mb"),
             f"≤ {TARGETS['limits_rss_mb']:.0f} MB", verdict(m["peak_rss_mb"], TARGETS["limits_rss_mb"]))]


# --- in-process measurements -------------------------------------------------------------------

def per_form(files: list[Path], roster_path: Path, samples: int) -> dict:
    """Median over ``samples`` forms of: intake of the form, pandas-openpyxl read, calamine read."""
    import pandas as pd
    import python_calamine as calamine

    from processor.intake.run import Intake
    from processor.validate.validator import validate_file

    step = max(1, (len(files) - 1) // samples)
    warmup, chosen = files[0], files[1::step][:samples]
    times: dict[str, list[float]] = {"intake": [], "validate": [], "pandas_openpyxl": [], "calamine": []}
    with tempfile.TemporaryDirectory(prefix="bench-form-") as tmp:
        ws = new_workspace(Path(tmp) / "ws", roster_path)
        intake = Intake(ws, clock=received_clock(files[-1].name[:7]))
        try:
            def run_intake(src: Path, i: int) -> float:
                target = ws.inbox / f"{i:05d}_{src.name}"
                shutil.copyfile(src, target)
                started = time.perf_counter()
                outcome = intake.handle(target)
                seconds = time.perf_counter() - started
                assert outcome is not None and outcome.status == "accepted", (src, outcome)
                return seconds

            def read_calamine(src: Path) -> None:
                book = calamine.CalamineWorkbook.from_path(str(src))
                for name in book.sheet_names:
                    book.get_sheet_by_name(name).to_python(skip_empty_area=False)

            def timed(fn, *args, **kwargs) -> float:
                started = time.perf_counter()
                fn(*args, **kwargs)
                return time.perf_counter() - started

            # warm-up: imports, schema construction, template compilation
            run_intake(warmup, 99999)
            pd.read_excel(warmup, sheet_name=None, engine="openpyxl")
            read_calamine(warmup)
            for i, src in enumerate(chosen):  # interleaved: machine noise hits every measure alike
                times["pandas_openpyxl"].append(timed(pd.read_excel, src, sheet_name=None, engine="openpyxl"))
                times["calamine"].append(timed(read_calamine, src))
                times["validate"].append(timed(lambda src=src: validate_file(src, roster=intake.roster,
                                                                             rulebook=intake.rulebook,
                                                                             limits=ws.intake)))
                times["intake"].append(run_intake(src, i))
        finally:
            intake.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"forms": len(chosen), "median_seconds": med,
            "intake_vs_pandas": med["intake"] / med["pandas_openpyxl"],
            "intake_vs_calamine": med["intake"] / med["calamine"],
            "validate_vs_pandas": med["validate"] / med["pandas_openpyxl"],
            "form_bytes": statistics.median(p.stat().st_size for p in chosen)}


def latency(forms: list[Path], roster_path: Path, drops: int) -> dict:
    """Drop → receipt with the real intake, inotify and polling, workspace default settings."""
    import latency as lat

    from processor.common.config import IntakeSettings
    from processor.intake.watch import InboxWatcher

    settings = IntakeSettings()
    payloads = [p.read_bytes() for p in forms[:drops]]
    results = {}
    for mode in ("inotify", "polling"):
        def make(inbox: Path, handle, mode=mode) -> InboxWatcher:
            return InboxWatcher(inbox, handle, polling=(mode == "polling"), poll_interval=settings.poll_interval,
                                stable_seconds=settings.stable_seconds, rescan_seconds=settings.rescan_seconds,
                                close_settle_seconds=settings.close_settle_seconds)
        results[mode] = lat.measure_latency(make, drops=drops, make_handle=lat.intake_handler(roster_path),
                                            payload=lambda n: payloads[n % len(payloads)])
    results["settings"] = {"stable_seconds": settings.stable_seconds, "poll_interval": settings.poll_interval,
                           "close_settle_seconds": settings.close_settle_seconds}
    return results


# --- `processor process` in CPU, against a pandas read of the same files ---------------------------

ADOPTING = False  # set by main once this process reaps every process below it


def _adopt_orphans() -> bool:
    """Make this process the reaper of every process below it (Linux): a fork server and its workers,
    orphaned when the command ends, are then waited for here and their CPU counted in RUSAGE_CHILDREN."""
    import ctypes

    pr_set_child_subreaper = 36
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def tree_cpu(argv: list[str]) -> float:
    """CPU seconds (user + system) of ``argv`` and every process it started, once all have ended."""
    with counted_cpu() as cpu:
        done = subprocess.run(argv, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed: {done.stderr.decode(errors='replace')[-500:]}")
    return cpu["seconds"]


@contextlib.contextmanager
def counted_cpu():
    """{"seconds": CPU (user + system) of the processes started in the block and of every process below
    them}, filled in when they have all ended.  Complete once this process adopts orphans
    (:func:`_adopt_orphans`): a fork server and its workers outlive the command that started them."""
    found: dict[str, float] = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    standing = set(_children(os.getpid()))  # this process's own (an earlier stage's fork server): not waited for
    try:
        yield found
    finally:
        while adopted := set(_children(os.getpid())) - standing:  # the orphans adopted meanwhile
            for pid in adopted:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        found["seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def small_forms(count: int = PROCESS_FORMS, jobs: int = os.cpu_count() or 1) -> list[Path]:
    """``count`` small valid forms (sample roster, the rulebook's months), cached like the workload."""
    from processor.common.rulebook import load_rulebook
    from processor.validate.roster import sample_roster

    digest = hashlib.sha256(f"small|{GENERATOR_VERSION}|{count}".encode())
    for rel in GENERATOR_SOURCES:
        digest.update((PROJECT_ROOT / rel).read_bytes())
    folder = CACHE_DIR / f"small-{digest.hexdigest()[:16]}"
    units, months = [u.name for u in sample_roster().units], load_rulebook().months
    jobs_todo, files = [], []
    for i in range(count):
        unit, month = units[i % len(units)], months[(i // len(units)) % len(months)]
        path = folder / f"{i:03d}_{month}_{unit}.xlsx"
        files.append(path)
        if not path.exists():
            jobs_todo.append((str(path), unit, month, i))
    if jobs_todo:
        folder.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(_small_form, jobs_todo, chunksize=8))
    return files


def _small_form(job: tuple) -> str:
    from processor.common.rulebook import load_rulebook
    from processor.validate.roster import sample_roster
    from processor.validate.samples import fill_form

    path, unit, month, seed = job
    fill_form(path, roster=sample_roster(), rulebook=load_rulebook(), unit=unit, month=month, seed=seed,
              sites=2, contacts=4, org_life=4)
    return path


def process_cpu(runs: int = PROCESS_RUNS) -> dict:
    """Whole-tree CPU of `processor process` (fork server and validation processes included) on a fresh
    workspace with the small forms in its inbox, and on an empty one, against a script reading the same
    files with pandas (and one reading none); each measured in turn in the same loop, medians of ``runs``."""
    if not _adopt_orphans():
        return {"error": "PR_SET_CHILD_SUBREAPER is not available: the fork server's CPU cannot be counted"}
    from processor.workspace import init_workspace

    compile_product()
    forms = small_forms()
    times: dict[str, list[float]] = {"pandas": [], "pandas_none": [], "process": [], "process_empty": []}
    with tempfile.TemporaryDirectory(prefix="bench-process-") as tmp:
        for run in range(runs + 1):  # the first round untimed: the file cache warm for every command alike
            measured = {"pandas": tree_cpu([sys.executable, "-c", PANDAS_READ, *map(str, forms)]),
                        "pandas_none": tree_cpu([sys.executable, "-c", PANDAS_READ])}
            for key, files in (("process_empty", []), ("process", forms)):
                root = Path(tmp) / f"{key}-{run}"
                init_workspace(root)
                config = root / "config.toml"  # the forms are dropped in the inbox root
                config.write_text(config.read_text(encoding="utf-8").replace(
                    "require_unit_folder = true", "require_unit_folder = false"), encoding="utf-8")
                for src in files:
                    shutil.copyfile(src, root / "inbox" / src.name)
                measured[key] = tree_cpu([sys.executable, "-m", "processor", "--workspace", str(root), "process"])
                left = [p for p in (root / "inbox").rglob("*") if p.is_file()]
                if left:
                    raise RuntimeError(f"process left {len(left)} files in the inbox")
                shutil.rmtree(root)
            if run:
                for key, value in measured.items():
                    times[key].append(value)
    med = {key: statistics.median(v) for key, v in times.items()}
    per_form = (med["process"] - med["process_empty"]) / len(forms)
    pandas_per_form = (med["pandas"] - med["pandas_none"]) / len(forms)
    # each round's own ratios (its process runs against its pandas runs), for the range
    rounds = [{"ratio": t["process"] / t["pandas"],
               "marginal_ratio": (t["process"] - t["process_empty"]) / (t["pandas"] - t["pandas_none"])}
              for t in ({key: v[i] for key, v in times.items()} for i in range(runs))]
    return {"forms": len(forms), "runs": runs, "cpu_seconds": med, "all": times, "rounds": rounds,
            "ratio": med["process"] / med["pandas"], "marginal_ratio": per_form / pandas_per_form,
            "per_form_ms": per_form * 1000, "pandas_per_form_ms": pandas_per_form * 1000}


def _range(p: dict, key: str) -> str:
    """The lowest and highest of the rounds' ``key`` ratios."""
    values = [r[key] for r in p.get("rounds", ())]
    return f"  rounds {min(values):.2f}–{max(values):.2f}×" if values else ""


def process_rows(p: dict) -> list[tuple[str, str, str, str]]:
    if "error" in p:
        return [("processor process (CPU)", p["error"], "", "n/a")]
    cpu = p["cpu_seconds"]
    return [
        (f"pandas read of {p['forms']} small forms, CPU (median of {p['runs']})", f"{cpu['pandas']:.2f} s", "", ""),
        (f"processor process of {p['forms']} forms, CPU / pandas read",
         f"{p['ratio']:.2f}×  ({cpu['process']:.2f} s)" + _range(p, "ratio"), f"≤ {TARGETS['process_vs_pandas']}×",
         verdict(p["ratio"], TARGETS["process_vs_pandas"])),
        ("  per form: (120 − none) / pandas (120 − none)",
         f"{p['marginal_ratio']:.2f}×  ({p['per_form_ms']:.0f} ms / {p['pandas_per_form_ms']:.0f} ms)"
         + _range(p, "marginal_ratio"),
         f"≤ {TARGETS['process_marginal_vs_pandas']}×",
         verdict(p["marginal_ratio"], TARGETS["process_marginal_vs_pandas"])),
        ("processor process of an empty inbox, CPU",
         f"{cpu['process_empty']:.2f} s  ({cpu['process_empty'] / cpu['pandas_none']:.2f}× `import pandas`)",
         f"≤ {TARGETS['process_empty_cpu']:.1f} s", verdict(cpu["process_empty"], TARGETS["process_empty_cpu"])),
    ]


# --- report ---------------------------------------------------------------------------------------

def compile_product() -> None:
    """Write the product's bytecode, as an installed package has it: where PYTHONDONTWRITEBYTECODE is
    set, an editable install would otherwise compile its modules again in every timed process."""
    import compileall

    for folder in ("processor", "schemas"):
        compileall.compile_dir(PROJECT_ROOT / folder, quiet=1)


def command_starts(runs: int = COMMAND_RUNS, env: dict | None = None) -> dict:
    """Wall time of the commands a person waits for (status, check, a template, the check of one
    form) on a fresh workspace against `python -c "import pandas"`, each a whole process, measured in
    turn in the same loop (so a busy machine slows them alike); medians of ``runs``.
    ``env``: the environment of the timed processes (e.g. PYTHONPATH)."""
    from processor.validate.roster import workspace_roster
    from processor.validate.samples import fill_form
    from processor.workspace import init_workspace

    compile_product()
    commands = [("import pandas", [sys.executable, "-c", "import pandas"])]
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        root = Path(tmp) / "ws"
        ws = init_workspace(root)
        form = Path(tmp) / "form.xlsx"
        roster = workspace_roster(ws)
        fill_form(form, roster=roster, rulebook=ws.rulebook, unit=roster.unit_names[0], month=ws.rulebook.start,
                  seed=1, sites=SITES, contacts=CONTACTS, org_life=ORG_LIFE)
        names = {"form": str(form), "out": str(Path(tmp) / "template.xlsx")}
        commands += [(label, [sys.executable, "-m", "processor", "--workspace", str(root),
                              *(a.format(**names) for a in args)])
                     for label, args in READ_ONLY_COMMANDS]
        for _, argv in commands:  # once untimed: the file cache warm for every command alike
            subprocess.run(argv, capture_output=True, env=env, check=False)
        times: dict[str, list[float]] = {label: [] for label, _ in commands}
        for _ in range(runs):
            for label, argv in commands:
                start = time.perf_counter()
                done = subprocess.run(argv, capture_output=True, env=env, check=False)
                times[label].append(time.perf_counter() - start)
                if done.returncode != 0:
                    raise RuntimeError(f"{label} failed: {done.stderr.decode(errors='replace')[-500:]}")
    medians = {label: statistics.median(t) for label, t in times.items()}
    baseline = medians.pop("import pandas")
    return {"runs": runs, "pandas_seconds": baseline, "seconds": medians,
            "ratios": {label: m / baseline for label, m in medians.items()},
            "worst_ratio": max(medians.values()) / baseline}


def command_rows(c: dict) -> list[tuple[str, str, str, str]]:
    rows = [(f"python -c 'import pandas' (median of {c['runs']})", f"{c['pandas_seconds'] * 1000:.0f} ms", "", "")]
    for label, seconds in c["seconds"].items():
        ratio = c["ratios"][label]
        rows.append((f"processor {label} (fresh workspace) / import pandas", f"{ratio:.2f}×  ({seconds * 1000:.0f} ms)",
                     f"≤ {TARGETS['commands_vs_pandas']}×", verdict(ratio, TARGETS["commands_vs_pandas"])))
    return rows


def of_goal(value: float | None, key: str) -> str:
    """A figure with an absolute goal, as the ratio to that goal (≤ 1.00× meets it)."""
    return "" if value is None else f"  = {value / TARGETS[key]:.2f}× goal"


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "met" if value <= limit else "NOT met"


def summarize(r: dict, full_size: bool) -> list[tuple[str, str, str, str]]:
    rows = []
    f = r["per_form"]
    med = f["median_seconds"]
    rows.append(("intake of one form (read+normalise+validate+record+archive+receipt)",
                 f"{med['intake'] * 1000:.0f} ms", "", ""))
    rows.append(("  validate_file alone", f"{med['validate'] * 1000:.0f} ms", "", ""))
    rows.append(("  pandas.read_excel(sheet_name=None, engine=openpyxl)", f"{med['pandas_openpyxl'] * 1000:.0f} ms",
                 "", ""))
    rows.append(("  python-calamine raw read", f"{med['calamine'] * 1000:.0f} ms", "", ""))
    rows.append(("intake / pandas-openpyxl", f"{f['intake_vs_pandas']:.2f}×", f"≤ {TARGETS['intake_vs_pandas']}×",
                 verdict(f["intake_vs_pandas"], TARGETS["intake_vs_pandas"])))
    rows.append(("intake / calamine", f"{f['intake_vs_calamine']:.2f}×", "", ""))
    for label, key in (("ingest, 1 process", "ingest"), ("ingest, parallel", "ingest_parallel")):
        if key not in r:
            continue
        g = r[key]
        target = (f"≤ {TARGETS['ingest_seconds']:.0f} s" if full_size else "(full size only)")
        best = min(r[k]["seconds"] for k in ("ingest", "ingest_parallel") if k in r)
        rows.append((f"{label}: {g['files']} files (jobs={g.get('jobs', 1)})",
                     f"{g['seconds']:.1f} s  {g['files_per_s']:.1f} files/s"
                     + (of_goal(g["seconds"], "ingest_seconds") if full_size else "") + _main_cpu(g), target,
                     verdict(best, TARGETS["ingest_seconds"]) if full_size and g["seconds"] == best else ""))
    if "scaling" in r:  # skipped with --skip scaling
        s = r["scaling"]
        rows.append((f"scaling: {s['small_files']} (every 10th) → {s['large_files']} files", f"{s['ratio']:.2f}× time",
                     f"≤ {TARGETS['scaling_ratio']}× (for 10× files)",
                     verdict(s["normalized_ratio"], TARGETS["scaling_ratio"])))
    c = r["consolidate_month"]
    rows.append((f"consolidate one month ({r['units']} units, {c['written']} files)",
                 f"{c['seconds']:.1f} s" + of_goal(c["seconds"], "month_seconds") + _main_cpu(c),
                 f"≤ {TARGETS['month_seconds']:.0f} s", verdict(c["seconds"], TARGETS["month_seconds"])))
    h = r.get("consolidate_half")
    if h:
        rows.append((f"consolidate one half-year ({h['written']} files)",
                     f"{h['seconds']:.1f} s" + of_goal(h["seconds"], "half_seconds") + _main_cpu(h),
                     f"≤ {TARGETS['half_seconds']:.0f} s", verdict(h["seconds"], TARGETS["half_seconds"])))
    lat = r.get("latency")
    if lat:
        for mode in ("inotify", "polling"):
            m = lat[mode]
            value = f"median {m.get('median', float('nan')):.2f} s  p95 {m.get('p95', float('nan')):.2f} s"
            if mode == "inotify":
                value += of_goal(m.get("median"), "latency_inotify")
            rows.append((f"drop → receipt, {mode} ({m['handled']}/{m['drops']})", value,
                         f"≤ {TARGETS['latency_inotify']:.0f} s" if mode == "inotify" else "",
                         verdict(m.get("median"), TARGETS["latency_inotify"]) if mode == "inotify" else ""))
    if "commands" in r:
        rows += command_rows(r["commands"])
    if "process_cpu" in r:
        rows += process_rows(r["process_cpu"])
    if "limits" in r:
        rows += limits_rows(r["limits"])
    rows.append(("peak RSS (largest process)", f"{r['peak_rss_mb']:.0f} MB" + of_goal(r["peak_rss_mb"], "peak_rss_mb"), f"≤ {TARGETS['peak_rss_mb']:.0f} MB",
                 verdict(r["peak_rss_mb"], TARGETS["peak_rss_mb"])))
    return rows


def _main_cpu(stage: dict) -> str:
    """The timed process's own CPU (its workers apart; near the wall time, it is what the stage waits on)
    and the CPU of all its processes (the stage process's start included): on 2 cores, the stage cannot
    take less than half of it."""
    parts = [f"main CPU {stage['main_cpu_seconds']:.1f} s"] if "main_cpu_seconds" in stage else []
    if "tree_cpu_seconds" in stage:
        parts.append(f"all {stage['tree_cpu_seconds']:.1f} s")
    return f"  ({', '.join(parts)})" if parts else ""


def print_table(rows) -> None:
    width = max(len(r[0]) for r in rows) + 2
    print()
    print(f"{'measure':{width}s}{'value':34s}{'target':28s}result")
    print("-" * (width + 72))
    for name, value, target, result in rows:
        print(f"{name:{width}s}{value:34s}{target:28s}{result}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="intake and consolidation benchmark")
    parser.add_argument("--units", type=int, default=150)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="20 units × 3 months (under 2 minutes)")
    parser.add_argument("--samples", type=int, default=None, help="forms timed one by one (default 40; quick 10)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for generation and parallel ingest")
    parser.add_argument("--drops", type=int, default=None, help="latency drops per observer (default 10; quick 4)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["latency", "parallel", "half", "scaling", "commands", "process", "limits"])
    parser.add_argument("--commands-only", action="store_true",
                        help="only the read-only commands (status, status --json, check) against `import pandas`")
    parser.add_argument("--process-only", action="store_true",
                        help="only `processor process` of 120 small forms, in CPU, against a pandas read of them")
    parser.add_argument("--limits-only", action="store_true",
                        help=f"only the consolidation of {LIMIT_UNITS} forms at the intake limits (peak RSS)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="write a cProfile of the parallel ingest and of each consolidation (the timed process) "
                             "into DIR, with each one's top lines as text")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(STAGES[args.stage](**json.loads(Path(args.params).read_text()))))
        return 0
    if args.commands_only:
        c = command_starts()
        rows = command_rows(c)
        print_table(rows)
        return 0 if c["worst_ratio"] <= TARGETS["commands_vs_pandas"] else 1
    if args.process_only:
        p = process_cpu()
        print_table(process_rows(p))
        return 0 if "error" not in p and p["ratio"] <= TARGETS["process_vs_pandas"] else 1
    if args.limits_only:
        m = limits_consolidation(args.jobs)
        print_table(limits_rows(m))
        return 0 if m["peak_rss_mb"] <= TARGETS["limits_rss_mb"] else 1
    global ADOPTING
    ADOPTING = _adopt_orphans()
    if args.quick:
        args.units, args.months = 20, 3
    samples = args.samples or (10 if args.quick else 40)
    drops = args.drops or (4 if args.quick else 10)
    full_size = args.units >= 150 and args.months >= 12

    from processor.common import periods as P
    from processor.record.ledger import Ledger
    from processor.common.rulebook import load_rulebook

    rulebook = load_rulebook()
    months = rulebook.months[:args.months]
    folder, files, gen_seconds = workload(args.units, args.months, args.jobs)
    roster_path = folder / "roster.xlsx"
    r: dict = {"units": args.units, "months": args.months, "files": len(files), "quick": args.quick,
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform()},
               "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
               "workload": {"folder": str(folder), "generated_seconds": gen_seconds,
                            "sites": SITES, "contacts": CONTACTS, "org_life": ORG_LIFE}}
    print(f"workload: {len(files)} forms ({args.units} units × {args.months} months) in {folder}", flush=True)

    print("per-form timing …", flush=True)
    r["per_form"] = per_form(files, roster_path, samples)

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        print("ingest, one process …", flush=True)
        r["ingest"] = run_stage("ingest", root=str(tmp / "ingest"), roster=str(roster_path),
                                files=[str(p) for p in files], last_month=months[-1])
        r["ingest"]["jobs"] = 1
        if "parallel" not in args.skip and args.jobs > 1:
            print(f"ingest, {args.jobs} processes …", flush=True)
            r["ingest_parallel"] = run_stage("ingest", root=str(tmp / "ingest-par"), roster=str(roster_path),
                                             files=[str(p) for p in files], last_month=months[-1], jobs=args.jobs,
                                             profile=profile_path(args.profile, "ingest_parallel"))
            r["ingest_parallel"]["jobs"] = args.jobs
            shutil.rmtree(tmp / "ingest-par")
        if "scaling" not in args.skip:
            # every tenth form: the same mix of months and units as the whole year (a form's receipt
            # reads its unit's earlier months, so the first tenth alone would be the cheapest forms);
            # the short run is repeated and its median taken, as a few seconds are noisy
            small = files[::10]
            print(f"scaling: ingest of {len(small)} files, {SCALING_RUNS} times …", flush=True)
            runs = []
            for i in range(SCALING_RUNS):
                runs.append(run_stage("ingest", root=str(tmp / f"ingest-small-{i}"), roster=str(roster_path),
                                      files=[str(p) for p in small], last_month=months[-1])["seconds"])
                shutil.rmtree(tmp / f"ingest-small-{i}")
            ratio = r["ingest"]["seconds"] / statistics.median(runs)
            factor = len(files) / len(small)
            r["scaling"] = {"small_files": len(small), "small_seconds": statistics.median(runs), "small_runs": runs,
                            "large_files": len(files), "large_seconds": r["ingest"]["seconds"], "ratio": ratio,
                            "normalized_ratio": ratio * 10 / factor}

        today = P.submission_deadline(months[-1], rulebook.submission_deadline_day) + dt.timedelta(days=1)
        half = P.period_of(months[-1], "half")
        stages = [("consolidate_month", {"month": months[-1]})]
        if "half" not in args.skip:
            stages.append(("consolidate_half", {"half": half.label}))
        for key, scope in stages:
            root = tmp / key
            shutil.copytree(tmp / "ingest", root, ignore=shutil.ignore_patterns("archive", "outbox", "inbox"))
            (root / "outbox").mkdir()
            print(f"{key.replace('_', ' ')} ({next(iter(scope.values()))}) …", flush=True)
            r[key] = run_stage("consolidate", root=str(root), today=today.isoformat(),
                               profile=profile_path(args.profile, key), **scope)
            shutil.rmtree(root)
        with Ledger(tmp / "ingest" / "ledger.sqlite") as ledger:
            r["ledger_mb"] = (tmp / "ingest" / "ledger.sqlite").stat().st_size / 1024 / 1024
            r["ledger_files"] = len(ledger.files())

    if "commands" not in args.skip:
        print(f"read-only commands against `import pandas`, {COMMAND_RUNS} times …", flush=True)
        r["commands"] = command_starts()

    if "process" not in args.skip:
        print(f"processor process of {PROCESS_FORMS} small forms against a pandas read, {PROCESS_RUNS} times …",
              flush=True)
        r["process_cpu"] = process_cpu()

    if "limits" not in args.skip:
        print(f"consolidation of {LIMIT_UNITS} forms at the intake limits …", flush=True)
        r["limits"] = limits_consolidation(args.jobs)

    if "latency" not in args.skip:
        print("drop → receipt latency …", flush=True)
        r["latency"] = latency(files, roster_path, drops)

    stage_rss = [r[k]["rss_mb"] for k in ("ingest", "ingest_parallel", "consolidate_month", "consolidate_half")
                 if k in r]
    stages = ("ingest", "ingest_parallel", "consolidate_month", "consolidate_half")
    stage_children = [r[k]["children_rss_mb"] for k in stages if k in r]
    r["rss"] = {"bench_self_mb": rss_mb(), "stage_self_mb": max(stage_rss),
                "stage_children_mb": max(stage_children, default=0.0)}
    r["peak_rss_mb"] = max(r["rss"].values())
    rows = summarize(r, full_size)
    r["table"] = [dict(zip(("measure", "value", "target", "result"), row, strict=True)) for row in rows]
    r["targets"] = _target_results(r, full_size)
    print_table(rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(r, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"\nwritten {args.output}")
    return 0


def profile_path(folder: Path | None, stage: str) -> str | None:
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder.resolve() / f"{stage}.pstats")


def _target_results(r: dict, full_size: bool) -> dict:
    ingest = min(r[k]["seconds"] for k in ("ingest", "ingest_parallel") if k in r)
    lat = (r.get("latency") or {}).get("inotify", {}).get("median")
    values = {
        "intake_vs_pandas": r["per_form"]["intake_vs_pandas"],
        "ingest_seconds": ingest if full_size else None,
        "month_seconds": r["consolidate_month"]["seconds"] if full_size else None,
        "half_seconds": r["consolidate_half"]["seconds"] if full_size and "consolidate_half" in r else None,
        "latency_inotify": lat,
        "peak_rss_mb": r["peak_rss_mb"],
        "scaling_ratio": r.get("scaling", {}).get("normalized_ratio"),
        "commands_vs_pandas": r["commands"]["worst_ratio"] if "commands" in r else None,
        "process_vs_pandas": r.get("process_cpu", {}).get("ratio"),
        "process_marginal_vs_pandas": r.get("process_cpu", {}).get("marginal_ratio"),
        "process_empty_cpu": r.get("process_cpu", {}).get("cpu_seconds", {}).get("process_empty"),
        "limits_rss_mb": r.get("limits", {}).get("peak_rss_mb"),
    }
    return {k: {"value": v, "limit": TARGETS[k], "result": verdict(v, TARGETS[k])} for k, v in values.items()}


if __name__ == "__main__":
    sys.exit(main())
