"""Invariants over whole consolidation runs (SPEC §10): metamorphic checks that need no expected
numbers.  Small years are generated from a seed — real forms written into the real template, handed
to the real intake at their simulated arrival times, consolidated from the real ledger — and every
document of a run (monthly, half-year and yearly reports, 催报名单, 一览表, dossiers, 总览) is checked
against the others, against its own totals and against runs on changed inputs:

1. forms received after D change no as-of-D output (manifest hashes equal);
2. a problem thread has one status and one count of overdue days in every document of a run;
3. a table's rows sum to its stated total, and the text repeats the table's figures;
4. no count exceeds its population;
5. the order in which forms with distinct receive times are handled changes nothing; renaming a
   staff member (roster and forms alike) changes no count;
6. a period report run on D1 and on a later D2 differs only in what depends on the as-of day.

Each invariant is also shown to fail on a deliberately broken consolidation
(``test_invariant_N_catches_…``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import make_workspace
from form_helpers import RULEBOOK, ROSTER

from processor.common import periods as P
from processor.consolidate import half_year, monthly, run, year_report
from processor.consolidate.snapshot import Snapshot
from processor.consolidate.ledger_data import LedgerData
from processor.intake.run import Intake
from processor.record.ledger import Ledger
from processor.validate.roster import Roster, read_ledger_as, workspace_roster, write_roster
from processor.validate.samples import form_rows, write_form

TZ = dt.timezone(dt.timedelta(hours=8))
MONTHS = ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
HALF, YEAR = P.parse_half("2026-H2"), P.parse_year("2026")


# --- a generated year -------------------------------------------------------------------------

@dataclass(frozen=True)
class Arrival:
    unit: str
    month: str
    received: dt.datetime
    rows: dict  # the form's records, as processor.validate.samples.form_rows builds them


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.randint(0, 59), tzinfo=TZ)


def generate_year(seed: int, *, roster: Roster = ROSTER, units: int = 3, months=MONTHS) -> list[Arrival]:
    """A seeded half-year of forms: each unit on time, late, missing or resubmitted month by month, its
    problems followed up in later months (closed on time or late, extended, or left open)."""
    rng = random.Random(f"invariants|{seed}")
    chosen = [u.name for u in roster.units if u.kind == "县市区"]
    chosen = rng.sample(chosen, units)
    arrivals: list[Arrival] = []
    for unit in chosen:
        open_threads: dict[tuple, dict] = {}  # (site, problem) -> {"found", "deadline", "staff"}
        site_count = rng.choice([1, 2])
        for month in months:
            rows = form_rows(roster=roster, rulebook=RULEBOOK, unit=unit, month=month, seed=seed, sites=site_count,
                             contacts=rng.randint(2, 4), org_life=rng.randint(2, 4))
            first, last = P.first_day(month), P.last_day(month)
            for c in rows["contacts"]:  # a problem still open is followed up below, never found again
                if c["problem"] and (c["site"], c["problem"]) in open_threads:
                    c.update(problem=None, suggestion=None, deadline=None, state=None)
            for (site, text), thread in list(open_threads.items()):
                if rng.random() < 0.4:
                    continue  # not mentioned this month: the thread keeps its latest record
                day = first + dt.timedelta(days=rng.randint(0, (last - first).days))
                action = rng.choice(["close", "close", "extend", "remind"])
                deadline, state = thread["deadline"], "未办结"
                if action == "close":
                    state = "已办结"
                    del open_threads[(site, text)]
                elif action == "extend":
                    deadline = thread["deadline"] = max(deadline, last) + dt.timedelta(days=rng.choice([15, 30]))
                rows["contacts"].append({"date": day, "site": site, "staff": thread["staff"], "mode": "电话联系",
                                         "content": "了解整改情况", "problem": text, "suggestion": "限期整改",
                                         "deadline": deadline, "state": state})
            rows["contacts"].sort(key=lambda r: r["date"])
            for c in rows["contacts"]:
                if c["problem"] and c["state"] == "未办结" and (c["site"], c["problem"]) not in open_threads:
                    open_threads[(c["site"], c["problem"])] = {"found": c["date"], "deadline": c["deadline"],
                                                               "staff": c["staff"]}
            deadline = P.submission_deadline(month, RULEBOOK.submission_deadline_day)
            fate = rng.choices(["on_time", "late", "missing", "resubmitted"], weights=[5, 2, 1, 1])[0]
            if fate == "missing":
                continue
            if fate == "late":
                day = deadline + dt.timedelta(days=rng.randint(1, 12))
            else:
                day = deadline - dt.timedelta(days=rng.randint(0, 4))
            arrivals.append(Arrival(unit, month, _at(day, rng), rows))
            if fate == "resubmitted":  # a corrected form some days later: one more contact
                again = json.loads(json.dumps(rows, default=str))
                again = _revive(again)
                again["contacts"].append({**again["contacts"][0], "date": last, "mode": "座谈会",
                                          "content": "召开党员座谈会", "problem": None, "suggestion": None,
                                          "deadline": None, "state": None})
                later = day + dt.timedelta(days=rng.randint(1, 6))
                arrivals.append(Arrival(unit, month, _at(later, rng), again))
    # distinct receive times, whatever the draw
    seen, distinct = set(), []
    for a in sorted(arrivals, key=lambda a: a.received):
        when = a.received
        while when in seen:
            when += dt.timedelta(minutes=1)
        seen.add(when)
        distinct.append(dataclasses.replace(a, received=when))
    return distinct


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _revive(rows: dict) -> dict:
    """Dates back from their JSON text."""
    return {key: [{k: dt.date.fromisoformat(v) if isinstance(v, str) and _DATE.match(v) else v for k, v in r.items()}
                  for r in records] for key, records in rows.items()}


_FORMS: dict[tuple, bytes] = {}


def _form_bytes(a: Arrival, roster: Roster, staging: Path) -> bytes:
    """The workbook of ``a``, written once: every workspace gets the very same file (a workbook
    written again differs in its save time)."""
    key = (a.unit, a.month, a.received, json.dumps(a.rows, sort_keys=True, default=str), id(roster))
    if key not in _FORMS:
        path = write_form(staging / f"{len(_FORMS)}.xlsx", a.rows, roster=roster, rulebook=RULEBOOK, unit=a.unit,
                          month=a.month)
        _FORMS[key] = path.read_bytes()
    return _FORMS[key]


def build_workspace(root: Path, arrivals: list[Arrival], *, roster: Roster = ROSTER, order=None) -> object:
    """A workspace whose ledger holds ``arrivals`` handed to the real intake, each at its receive time
    (in ``order``, default: as they came)."""
    ws = make_workspace(root)
    if roster is not ROSTER:
        write_roster(roster, ws.roster_path)
    staging = root.parent / f"{root.name}-forms"
    staging.mkdir()
    intake = Intake(ws)
    try:
        for i in (order if order is not None else range(len(arrivals))):
            a = arrivals[i]
            target = ws.inbox / f"{a.unit}{int(a.month[5:])}月报表（{a.received:%m%d%H%M}）.xlsx"
            target.write_bytes(_form_bytes(a, roster, staging))
            intake.clock = lambda when=a.received: when
            outcome = intake.handle(target)
            assert outcome is not None and outcome.status == "accepted", (a.unit, a.month, outcome)
    finally:
        intake.close()
    return ws


# --- the documents of a run -----------------------------------------------------------------

def run_documents(ws, as_of: dt.date, months=None) -> list[tuple[str, str, dict]]:
    """Every output of a consolidation as of ``as_of`` (the monthly reports of ``months``, the H2
    report, the yearly summary, 一览表, dossiers, 总览) as ``(kind, path, context)``, built exactly as
    ``consolidate`` builds them, without rendering."""
    months = months or [m for m in MONTHS if P.submission_deadline(m, RULEBOOK.submission_deadline_day) < as_of]
    roster = workspace_roster(ws)
    with Ledger(ws.ledger_path) as ledger:
        read_ledger_as(roster, ledger)
        data = LedgerData.load(ledger, as_of=as_of)
        outputs = list(run._plan(Snapshot(data, ws, roster, as_of), months, [HALF], [YEAR]))
    return [(o.kind, o.rel_path, o.payload) for o in outputs]


def manifest_hashes(ws) -> dict[str, str]:
    document = json.loads((ws.outbox / run.MANIFEST_NAME).read_text(encoding="utf-8"))
    return {path: entry["sha256"] for path, entry in document["outputs"].items()}


def consolidate_all(ws, as_of: dt.date) -> dict[str, str]:
    result = run.consolidate(ws, month="2026-12", half="2026-H2", year="2026", as_of=as_of)
    assert not result.skipped, result.skipped
    this_run = {p.relative_to(ws.outbox).as_posix() for p in result.written + result.unchanged}
    hashes = manifest_hashes(ws)
    assert this_run <= set(hashes)
    return {path: hashes[path] for path in sorted(this_run)}  # not the outputs earlier runs left


# invariant 2: one status per problem thread

_EVIDENCE = re.compile(r"^(\d{4}年\d{1,2}月\d{1,2}日)发现的问题“(.*?)”(.*)$", re.S)


def _state_of_evidence(rest: str) -> str:
    if rest.startswith("超过整改时限仍未办结"):
        days = re.search(r"逾期(\d+)天）", rest).group(1)
        return f"逾期{days}天未办结"
    if "逾期办结" in rest:
        return "逾期办结"
    if rest.startswith("已于"):
        return "已办结"
    if rest.startswith("正在整改"):
        return "正在整改"
    raise AssertionError(f"unknown problem status: {rest}")


def _from_evidence(unit: str, site: str, evidence: str) -> tuple[tuple, str]:
    found, problem, rest = _EVIDENCE.match(evidence).groups()
    return (unit, site, problem, found), _state_of_evidence(rest)


def problem_statuses(documents) -> list[tuple[str, tuple, str]]:
    """Every problem thread each document prints: ``(document, (unit, site, problem, found), status)``."""
    from processor.common import cnfmt

    out = []
    for kind, path, c in documents:
        if kind == run.MONTHLY:
            for r in c["problem_rows"]:
                out.append((path, (r["unit"], r["site"], r["problem"], cnfmt.cn_date(r["found"])), r["state"]))
        if kind in (run.MONTHLY, run.HALF_YEAR, run.YEAR):
            for r in c["findings"]:
                if r["clause"] == "X-2":
                    out.append((path, *_from_evidence(r["unit"], r["site"], r["problem"])))
        if kind == run.DOSSIER:
            for r in c["compliance_rows"]:
                if r["clause"] == "X-2":
                    out.append((path, *_from_evidence(c["site"]["unit"], c["site"]["name"], r["evidence"])))
        if kind == run.OVERVIEW:
            for r in c["problems"]:
                state = f"逾期{r['days']}天未办结" if r["overdue"] else "正在整改"
                out.append((path, (r["unit"], r["site"], r["problem"], r["found"]), state))
    return out


def check_one_status_per_problem(documents) -> int:
    """Returns the number of problem mentions compared."""
    seen: dict[tuple, tuple[str, str]] = {}
    mentions = problem_statuses(documents)
    for path, key, state in mentions:
        first = seen.setdefault(key, (path, state))
        assert first[1] == state, f"problem {key}: {first[1]} in {first[0]}, {state} in {path}"
    return len(mentions)


# invariants 3 and 4: totals and populations

def check_totals_and_populations(documents) -> int:
    """Rows sum to stated totals, the text repeats them, no count exceeds its population.  Returns the
    number of figures compared."""
    n = 0

    def same(a, b, what):
        nonlocal n
        n += 1
        assert a == b, f"{what}: {a} != {b}"

    def within(a, b, what):
        nonlocal n
        n += 1
        assert 0 <= a <= b, f"{what}: {a} > {b}"

    for kind, path, c in documents:
        where = path
        if kind == run.MONTHLY:
            s, rows = c["submission"], c["unit_rows"]
            same(s["due"], len(rows), f"{where} 应报单位")
            for key, state in (("on_time", "按时报送"), ("late", "逾期报送"), ("missing", "未报送")):
                same(s[key], sum(r["status"] == state for r in rows), f"{where} {state}")
            same(s["on_time"] + s["late"] + s["missing"], s["due"], f"{where} 报送合计")
            same(c["charts"]["chart_submission"]["values"], [s["on_time"], s["late"], s["missing"]], f"{where} chart")
            cs = c["contact_summary"]
            for key in ("total", "phone", "onsite", "meeting", "other"):
                same(cs[key], sum(r[key] for r in c["site_rows"]), f"{where} 联系指导 {key}")
            same(cs["total"], cs["phone"] + cs["onsite"] + cs["meeting"] + cs["other"], f"{where} 联系方式合计")
            same(sum(r["contacts"] for r in rows), cs["total"], f"{where} 单位联系合计")
            same(sum(r["sites"] for r in rows), c["overview"]["reported_sites"], f"{where} 单位报送示范点合计")
            same(c["org_life"]["total"], sum(r["count"] for r in c["org_life"]["by_kind"]), f"{where} 组织生活")
            same(c["finding_counts"]["total"], len(c["findings"]), f"{where} 问题项数")
            failed = sum(r["status"] == "未达标" for r in c["findings"])
            same(c["finding_counts"]["failed"], failed, f"{where} 未达标")
            pc, pr = c["problem_counts"], c["problem_rows"]
            same(pc["total"], len(pr), f"{where} 问题线索")
            same(pc["total"], pc["closed"] + pc["open"] + pc["overdue"], f"{where} 问题线索分类")
            same(c["hardware"]["incomplete"], len(c["hardware_rows"]), f"{where} 硬件未达标")
            text = c["sentences"]
            for figure in (f"应报单位{s['due']}个", f"按时报送{s['on_time']}个", f"逾期报送{s['late']}个",
                           f"未报送{s['missing']}个"):
                n += 1
                assert figure in text["submission"], f"{where}: {figure} not in {text['submission']}"
            for figure in (f"联系指导{cs['total']}次", f"报送的{c['overview']['reported_sites']}个",
                           f"中的{cs['sites_contacted']}个"):
                n += 1
                assert figure in text["contacts"], f"{where}: {figure} not in {text['contacts']}"
            n += 1
            assert f"发现问题{c['finding_counts']['total']}项" in text["findings"], where
            o = c["overview"]
            within(o["reported_sites"], o["sites"], f"{where} 报送示范点")
            same(o["reported_sites"] + o["unreported_sites"], o["sites"], f"{where} 示范点合计")
            same(o["soe_sites"] + o["private_sites"] <= o["sites"], True, f"{where} 国企+非公")
            within(cs["sites_contacted"], o["reported_sites"], f"{where} 联系覆盖")
            within(c["hardware"]["sites"], o["reported_sites"], f"{where} 硬件评价")
            within(c["team"]["cross_sites"], c["team"]["soe_sites"], f"{where} 交叉任职")
            within(c["unassigned_sites"], o["sites"], f"{where} 未分配")
            within(len(c["sites_no_contact"]), o["reported_sites"], f"{where} 未联系")
            within(pc["closed_late"], pc["closed"], f"{where} 逾期办结")
        elif kind == run.YEAR:
            for key in ("due", "on_time", "late", "missing"):
                same(c["submission"][key], sum(r[key] for r in c["unit_rows"]), f"{where} 报送 {key}")
            for r in c["unit_rows"]:
                same(r["on_time"] + r["late"] + r["missing"], r["due"], f"{where} {r['unit']} 报送")
            t = c["totals"]
            for key in ("judged", "met", "failed", "at_risk"):
                same(t[key], sum(r[key] for r in c["clause_rows"]), f"{where} 项次 {key}")
            for r in c["clause_rows"] + c["site_rows"]:
                same(r["met"] + r["failed"] + r["at_risk"], r["judged"], f"{where} {r.get('rule') or r['site']}")
                within(r["met"], r["judged"], f"{where} 达标")
            within(sum(r["judged"] for r in c["site_rows"]), t["judged"], f"{where} 示范点项次")
            same(c["charts"]["chart_compliance"]["values"],  # a requirement with nothing decided has no rate
                 [round(r["rate"] * 100, 1) for r in c["clause_rows"] if r["rate"] != ""], f"{where} chart")
            same(c["finding_counts"]["total"], len(c["findings"]), f"{where} 问题项数")
            within(c["overview"]["onsite"], c["overview"]["contacts"], f"{where} 现场指导")
            within(c["overview"]["private_sites"], c["overview"]["sites"], f"{where} 非公")
        elif kind == run.HALF_YEAR:
            o = c["overview"]
            same(sum(c["plan_counts"].values()), len(c["site_paths"]), f"{where} 工作方案")
            within(o["months_reported"], o["months_due"], f"{where} 报送月数")
            within(o["sites_assigned"], o["sites"], f"{where} 分工示范点")
            within(o["staff_assigned"], o["staff"], f"{where} 分工人员")
            within(o["visits"], o["contacts"], f"{where} 现场指导和座谈会")
            same(o["onsite"] + o["meeting"], o["visits"], f"{where} visits")
            series = c["charts"]["chart_contacts_month"]["series"]
            same(sum(series["联系指导合计"]), o["contacts"], f"{where} 各月联系合计")
            same(sum(series["其中现场指导和座谈会"]), o["visits"], f"{where} 各月现场指导合计")
            within(c["work_started"], len(c["site_paths"]), f"{where} 开展工作")
            same(c["finding_counts"]["total"], len(c["findings"]), f"{where} 问题项数")
            for r in c["compliance_rows"]:
                if r["rate"] != "":  # nothing decided yet: no rate
                    within(r["rate"], 1, f"{where} {r['rule']} 达标率")
        elif kind == run.REMINDER and path.endswith(".xlsx"):
            k = c["counts"]
            same(k["submitted"] + len(c["rows"]), k["due"], f"{where} 应报")
            same(k["missing"] + k["rejected"], len(c["rows"]), f"{where} 催报")
            within(k["late"], k["submitted"], f"{where} 逾期")
        elif kind == run.ASSIGNMENT and path.endswith(".xlsx"):
            k = c["counts"]
            same(k["assigned_sites"] + len(c["sites_without_staff"]), k["sites"], f"{where} 分工")
            within(len(c["staff_without_site"]), k["staff"], f"{where} 未分工人员")
        elif kind == run.OVERVIEW:
            cells = sum(len(r["cells"]) for r in c["grid"])
            same(sum(t["count"] for t in c["state_totals"]), cells, f"{where} 报送格")
    return n


# invariant 6: what an as-of day may change

def as_of_neutral(value, days: list[dt.date]):
    """``value`` with what depends on the as-of day masked: the day itself, in every spelling, and
    days overdue."""
    from processor.common import cnfmt

    if isinstance(value, dict):
        return {k: ("<days>" if k in ("days", "overdue_days") else as_of_neutral(v, days)) for k, v in value.items()}
    if isinstance(value, list):
        return [as_of_neutral(v, days) for v in value]
    if isinstance(value, str):
        for day in days:
            value = value.replace(day.isoformat(), "<D>").replace(cnfmt.cn_date(day), "<D>")
        return re.sub(r"逾期\d+天", "逾期N天", value)
    return value


def _flat(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flat(v, f"{prefix}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _flat(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def as_of_differences(before: dict, after: dict, d1: dt.date, d2: dt.date) -> list[str]:
    a, b = dict(_flat(as_of_neutral(before, [d1, d2]))), dict(_flat(as_of_neutral(after, [d1, d2])))
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def quiet_after(ws) -> dt.date:
    """The first day after every deadline the ledger's problems and the year's periods have: from then
    on only days overdue depend on the as-of day."""
    with Ledger(ws.ledger_path) as ledger:
        latest = max((r["deadline"] for r in ledger.accepted_records("contacts") if r.get("deadline")),
                     default=dt.date(2027, 1, 1))
    latest = latest if isinstance(latest, dt.date) else dt.date.fromisoformat(str(latest)[:10])
    return max(latest, dt.date(2027, 1, 31)) + dt.timedelta(days=1)


def check_same_documents(a, b, rename: dict[str, str] | None = None, *, receipts_renumbered: bool = False) -> int:
    """Two runs wrote the same documents (contexts equal, ``rename`` mapped back).  Returns the number
    of figures compared.  ``receipts_renumbered``: the forms were handled in another order, so their
    receipts (numbered as handled) have other numbers in the 总览 page's links."""
    def shown(documents):
        out = {}
        for _kind, path, c in documents:
            text = json.dumps(c, ensure_ascii=False, sort_keys=True, default=str)
            if receipts_renumbered:
                text = re.sub(r'(/20\d\d-\d\d/)\d{6}_', r"\1N_", text)
            for new, old in (rename or {}).items():
                text, path = text.replace(new, old), path.replace(new, old)
            out[path] = json.loads(text)
        return out

    left, right = shown(a), shown(b)
    assert sorted(left) == sorted(right)
    n = 0
    for path in left:
        if rename and path.startswith(run.FOLDER[run.SUMMARY]):
            continue  # the stacked rows print the names themselves; their digest cannot be mapped back
        diff = as_of_differences(left[path], right[path], dt.date.min, dt.date.min)
        if rename:  # the workbooks themselves differ (they carry the names): so do their digests
            diff = [d for d in diff if not re.match(r"\.sources\[\d+\]\.digest:", d)]
        assert not diff, f"{path}: {diff[:5]}"
        n += len(dict(_flat(left[path])))
    return n


def renamed_roster() -> tuple[Roster, dict[str, str]]:
    """The sample roster with every staff member renamed (``{new: old}``)."""
    names = {s.name: f"{s.name}一" for s in ROSTER.staff}
    staff = [dataclasses.replace(s, name=names[s.name]) for s in ROSTER.staff]
    return dataclasses.replace(ROSTER, staff=staff), {new: old for old, new in names.items()}


# --- the fast suite: one small generated year, its variants built once -------------------------

FAST_SEED = 3


@dataclass
class Year:
    arrivals: list[Arrival]
    ws: object
    tmp: Path

    @property
    def late_day(self) -> dt.date:
        return quiet_after(self.ws)


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> Year:
    tmp = tmp_path_factory.mktemp("year")
    arrivals = generate_year(FAST_SEED, units=2)
    return Year(arrivals, build_workspace(tmp / "all", arrivals), tmp)


def _cut(arrivals: list[Arrival]) -> dt.date:
    """A day in the middle of the arrivals (some came by then, some after)."""
    return arrivals[len(arrivals) * 2 // 3].received.date() - dt.timedelta(days=1)


def test_invariant_1_forms_received_after_the_day_change_no_output_of_that_day(year):
    day = _cut(year.arrivals)
    early = [a for a in year.arrivals if a.received.date() <= day]
    assert 0 < len(early) < len(year.arrivals)
    ws_early = build_workspace(year.tmp / "early", early)
    assert consolidate_all(ws_early, day) == consolidate_all(year.ws, day)
    assert check_same_documents(run_documents(ws_early, day), run_documents(year.ws, day)) > 100


def test_invariant_1_catches_a_run_that_counts_forms_received_later(year, monkeypatch):
    day = _cut(year.arrivals)
    ws_early = build_workspace(year.tmp / "early-broken", [a for a in year.arrivals if a.received.date() <= day])
    expected = run_documents(ws_early, day)
    load = LedgerData.load.__func__
    monkeypatch.setattr(LedgerData, "load", classmethod(lambda cls, ledger, as_of=None: load(cls, ledger)))
    with pytest.raises(AssertionError):
        check_same_documents(expected, run_documents(year.ws, day))


def _runs(year):
    """Two days: while forms still come in, and after every deadline."""
    return [dt.date(2027, 1, 8), year.late_day]


def test_invariant_2_every_document_prints_one_status_per_problem(year):
    for day in _runs(year):
        documents = run_documents(year.ws, day)
        assert check_one_status_per_problem(documents) > 0
    assert any("未办结" in state for _, _, state in problem_statuses(documents))


def test_invariant_2_catches_a_report_counting_overdue_days_to_another_day(year, monkeypatch):
    row = monthly.problem_row

    def off_by_one(f):
        r = row(f)
        return {**r, "state": f"逾期{f.days + 1}天未办结"} if r["overdue"] else r

    for report in (monthly, year_report):
        monkeypatch.setattr(report, "problem_row", off_by_one)
    with pytest.raises(AssertionError, match="problem"):
        check_one_status_per_problem(run_documents(year.ws, year.late_day))


def test_invariants_3_and_4_tables_sum_to_their_totals_and_no_count_exceeds_its_population(year):
    for day in _runs(year):
        assert check_totals_and_populations(run_documents(year.ws, day)) > 200


def test_invariant_3_catches_a_total_that_is_not_its_rows(year, monkeypatch):
    counts = monthly.finding_counts
    for report in (monthly, half_year, year_report):
        monkeypatch.setattr(report, "finding_counts", lambda rows: {**counts(rows), "total": counts(rows)["total"] + 1})
    with pytest.raises(AssertionError, match="问题项数"):
        check_totals_and_populations(run_documents(year.ws, year.late_day))


def test_invariant_4_catches_a_site_counted_twice(year, monkeypatch):
    month_sites = monthly._month_sites
    monkeypatch.setattr(monthly, "_month_sites", lambda *a: month_sites(*a) * 2)
    with pytest.raises(AssertionError, match="报送示范点|示范点合计"):
        check_totals_and_populations(run_documents(year.ws, year.late_day))


@pytest.fixture(scope="module")
def reversed_year(year):
    """The same forms, handled last first (each at its own receive time)."""
    return build_workspace(year.tmp / "reversed", year.arrivals, order=list(reversed(range(len(year.arrivals)))))


def test_invariant_5_the_order_forms_are_handled_in_changes_nothing(year, reversed_year):
    ws_perm = reversed_year
    assert len({(a.unit, a.month) for a in year.arrivals}) < len(year.arrivals)  # a correction among them
    day = year.late_day
    assert check_same_documents(run_documents(ws_perm, day), run_documents(year.ws, day),
                                receipts_renumbered=True) > 100
    permuted, handled = consolidate_all(ws_perm, day), consolidate_all(year.ws, day)
    # byte for byte, but the 总览 page: it links to the receipts, which are numbered as handled
    assert permuted.pop(OVERVIEW_PAGE) and handled.pop(OVERVIEW_PAGE)
    assert permuted == handled


def test_invariant_5_catches_a_run_that_takes_the_form_handled_last_for_the_latest(year, reversed_year,
                                                                                   monkeypatch):
    """The ledger's own order (the order the files were handled in) instead of their receive times."""
    from processor.consolidate import dossier, ledger_data, submissions

    for module in (ledger_data, submissions, dossier):
        monkeypatch.setattr(module, "received_instant", lambda f, timezone=None: dt.datetime.min)
    day = year.late_day
    with pytest.raises(AssertionError):
        check_same_documents(run_documents(reversed_year, day), run_documents(year.ws, day), receipts_renumbered=True)


@pytest.fixture(scope="module")
def renamed(year):
    roster, back = renamed_roster()
    arrivals = generate_year(FAST_SEED, units=2, roster=roster)
    return build_workspace(year.tmp / "renamed", arrivals, roster=roster), back


def test_invariant_5_renaming_the_staff_changes_no_count(year, renamed):
    ws, back = renamed
    day = year.late_day
    assert check_same_documents(run_documents(ws, day), run_documents(year.ws, day), rename=back) > 100


def test_invariant_5_catches_a_count_that_depends_on_a_name(year, renamed, monkeypatch):
    ws, back = renamed
    known = {s.name for s in ROSTER.staff}
    monkeypatch.setattr(half_year, "_roster_staff_names", lambda roster: known)  # a staff list baked in
    day = year.late_day
    with pytest.raises(AssertionError):
        check_same_documents(run_documents(ws, day), run_documents(year.ws, day), rename=back)


OVERVIEW_PAGE = "总览.html"
PERIOD_KINDS = (run.MONTHLY, run.HALF_YEAR, run.YEAR)


def check_as_of_only(ws, d1: dt.date, d2: dt.date) -> int:
    """The period reports of runs on ``d1`` and ``d2`` differ only in the as-of day and days overdue.
    Returns the number of figures compared."""
    first = {p: c for kind, p, c in run_documents(ws, d1, months=MONTHS) if kind in PERIOD_KINDS}
    second = {p: c for kind, p, c in run_documents(ws, d2, months=MONTHS) if kind in PERIOD_KINDS}
    assert sorted(first) == sorted(second)
    n = 0
    for path, context in first.items():
        assert context != second[path]  # the day is printed
        diff = as_of_differences(context, second[path], d1, d2)
        assert not diff, f"{path}: {diff[:5]}"
        n += len(dict(_flat(context)))
    return n


def test_invariant_6_a_later_run_of_a_period_report_changes_only_what_depends_on_the_day(year):
    d1 = year.late_day
    assert check_as_of_only(year.ws, d1, d1 + dt.timedelta(days=23)) > 500


def test_invariant_6_catches_a_figure_that_moves_with_the_day(year, monkeypatch):
    context = half_year.half_year_context

    def drifting(snapshot, half):
        c = context(snapshot, half)
        c["overview"]["contacts"] += snapshot.as_of.day % 2  # a count that changes with the day
        return c

    monkeypatch.setitem(run._PERIOD_REPORTS, run.HALF_YEAR, (drifting, run._PERIOD_REPORTS[run.HALF_YEAR][1]))
    d1 = year.late_day
    d2 = d1 + dt.timedelta(days=1)
    with pytest.raises(AssertionError, match="contacts"):
        check_as_of_only(year.ws, d1, d2)


# --- the slow suite: twenty generated years -------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 120))
def test_invariants_hold_over_generated_years(seed, tmp_path):
    arrivals = generate_year(seed, units=2, months=MONTHS[2:])
    ws = build_workspace(tmp_path / "all", arrivals)
    late = quiet_after(ws)
    for day in (dt.date(2027, 1, 8), late):
        documents = run_documents(ws, day)
        check_one_status_per_problem(documents)
        check_totals_and_populations(documents)
    check_as_of_only(ws, late, late + dt.timedelta(days=17))
    day = _cut(arrivals)
    early = build_workspace(tmp_path / "early", [a for a in arrivals if a.received.date() <= day])
    check_same_documents(run_documents(early, day), run_documents(ws, day))
    shuffled = list(range(len(arrivals)))
    random.Random(seed).shuffle(shuffled)
    permuted = build_workspace(tmp_path / "shuffled", arrivals, order=shuffled)
    check_same_documents(run_documents(permuted, late), run_documents(ws, late), receipts_renumbered=True)


# --- one universe per table, one value per requirement, and the demo's own run ------------------------

def check_one_universe(documents) -> int:
    """Every table states its universe and sums to it (SPEC §10, one universe per table): the yearly
    per-clause table's 未达标 and 待完成 are exactly the lines of its annex, requirement by requirement;
    its per-site rows sum to the totals they state, and each site's annex lines are the 未达标 and 待完成
    its row counts; every rate is of what is decided; a site table's liaison made no more contacts than the
    site had.  Returns the number of figures compared."""
    n = 0

    def same(a, b, what):
        nonlocal n
        n += 1
        assert a == b, f"{what}: {a} != {b}"

    def decided(r, what):
        same(r["rate"], r["met"] / (r["met"] + r["failed"]) if r["met"] + r["failed"] else "", f"{what} 达标率")

    for kind, where, c in documents:
        if kind == run.YEAR:
            t = c["totals"]
            same(c["finding_counts"]["total"], t["failed"] + t["at_risk"], f"{where} 问题项数与表中未达标和待完成")
            for r in c["clause_rows"]:
                lines = sum(f["rule"] == r["rule"] for f in c["findings"])
                same(lines, r["failed"] + r["at_risk"], f"{where} {r['rule']} 附件所列")
                decided(r, f"{where} {r['rule']}")
            decided(t, f"{where} 合计")
            per_site = sum(r["judged"] for r in c["clause_rows"] if r["applies"] not in ("各单位", "企业组人员"))
            for key in ("judged", "met", "failed", "at_risk"):
                same(c["site_totals"][key], sum(r[key] for r in c["site_rows"]), f"{where} 示范点合计 {key}")
            same(c["site_totals"]["judged"], per_site, f"{where} 示范点项次")
            same(c["site_totals"]["sites"], len(c["site_rows"]), f"{where} 示范点数")
            for r in c["site_rows"]:
                lines = sum([f["unit"], f["site"]] in r["subjects"] for f in c["findings"])  # two units' one site
                same(lines, r["failed"] + r["at_risk"], f"{where} {r['unit']}{r['site']} 附件所列")
                decided(r, f"{where} {r['site']}")
        elif kind == run.HALF_YEAR:
            for r in c["compliance_rows"]:
                same(r["met"] + r["failed"] + r["at_risk"] + r["no_data"], r["sites"], f"{where} {r['rule']} 数量")
                decided(r, f"{where} {r['rule']}")
        elif kind == run.MONTHLY:
            for r in c["site_rows"]:
                n += 1
                assert 0 <= r["by_staff"] <= r["total"], f"{where} {r['site']} 其中本人 {r['by_staff']} > {r['total']}"
    return n


def requirement_values(documents) -> list[tuple[str, str, tuple, str]]:
    """Every requirement verdict a document prints for a site: ``(document, horizon, (unit, site,
    requirement, what was found), status)`` — the annexes of the period reports and each dossier's
    compliance lines; ``horizon``: the last month of data the document judges on."""
    out = []
    for kind, path, c in documents:
        if kind in PERIOD_KINDS:
            horizon = c["month"] if kind == run.MONTHLY else c["last_month"]
            out += [(path, horizon, (r["unit"], r["site"], r["rule"], r["problem"]), r["status"])
                    for r in c["findings"] if r["site"]]
        elif kind == run.DOSSIER:
            out += [(path, c["last_month"], (c["site"]["unit"], c["site"]["name"], r["rule"], r["evidence"]),
                     r["status"]) for r in c["compliance_rows"]]
    return out


def check_one_value_per_requirement(documents) -> int:
    """A requirement found alike (the same site, requirement and finding, hence the same period) has one
    verdict in every document of the run: documents judging on the same months agree on it, and no two
    documents give it opposite final verdicts (达标 / 未达标); a document on fewer months may still call
    it 待完成 (its period not yet covered).  Returns the number of verdicts compared."""
    final: dict[tuple, tuple[str, str]] = {}
    alike: dict[tuple, tuple[str, str]] = {}
    values = requirement_values(documents)
    for path, horizon, key, status in values:
        first = alike.setdefault((horizon, *key), (path, status))
        assert first[1] == status, f"requirement {key}: {first[1]} in {first[0]}, {status} in {path}"
        if status != "待完成":
            first = final.setdefault(key, (path, status))
            assert first[1] == status, f"requirement {key}: {first[1]} in {first[0]}, {status} in {path}"
    return len(values)


def test_one_universe_per_table_and_one_value_per_requirement_in_a_generated_year(year):
    for day in _runs(year):
        documents = run_documents(year.ws, day)
        assert check_one_universe(documents) > 50
        assert check_one_value_per_requirement(documents) > 10


def test_one_universe_catches_a_site_table_that_leaves_out_the_sites_problems(year, monkeypatch):
    """The per-site table of the yearly summary without the problems found in liaison (as it was): a
    site reads 未达标0 while the annex lists its overdue problem."""
    documents = run_documents(year.ws, year.late_day)
    assert any(f["rule"] == "问题整改跟踪" and f["site"] for kind, _, c in documents if kind == run.YEAR
               for f in c["findings"])
    monkeypatch.setattr(year_report, "_NOT_PER_SITE", (*year_report._NOT_PER_SITE, "problem-closed"))
    with pytest.raises(AssertionError, match="附件所列|示范点项次"):
        check_one_universe(run_documents(year.ws, year.late_day))


def test_one_value_per_requirement_catches_a_report_with_its_own_verdict(year, monkeypatch):
    """A yearly summary that calls a failed requirement 待完成 disagrees with the dossiers."""
    rows = year_report.listed_rows

    def softened(findings, versioned=False, year=None):
        return [{**r, "status": "待完成"} if r["status"] == "未达标" and r["site"] else r
                for r in rows(findings, versioned, year)]

    monkeypatch.setattr(year_report, "listed_rows", softened)
    with pytest.raises(AssertionError, match="requirement"):
        check_one_value_per_requirement(run_documents(year.ws, year.late_day))


def demo_documents(ws, as_of: dt.date) -> list[tuple[str, str, dict]]:
    """Every output of a consolidation of the demo's ledger as of ``as_of``: the monthly reports of every
    month due by then, the half-years and years of those months, 一览表, dossiers, 总览."""
    roster = workspace_roster(ws)
    with Ledger(ws.ledger_path) as ledger:
        read_ledger_as(roster, ledger)
        data = LedgerData.load(ledger, as_of=as_of, timezone=ws.rulebook.timezone)
        months = sorted({f["month"] for f in data.files if f["month"] and ws.rulebook.covers(f["month"])
                         and P.submission_deadline(f["month"], ws.rulebook.submission_deadline_day) < as_of})
        halves = list({P.period_of(m, "half").label: P.period_of(m, "half") for m in months}.values())
        years = list({P.period_of(m, "year").label: P.period_of(m, "year") for m in months}.values())
        outputs = list(run._plan(Snapshot(data, ws, roster, as_of), months, halves, years))
    return [(o.kind, o.rel_path, o.payload) for o in outputs]


@pytest.mark.slow
def test_invariants_hold_over_the_demos_own_run(demo_year):
    """The demo's run, as of its own day and as of a day in the following February (the period reports
    written weeks after their period, beside the January report): every problem has one status in every
    document, every table sums to its stated total, no count exceeds its population, a requirement has
    one value across documents, and every rate is of what is decided."""
    ws = demo_year.workspace
    days = [demo_year.today] + [d for d in (dt.date(2027, 2, 8),) if d > demo_year.today]
    for day in days:
        documents = demo_documents(ws, day)
        kinds = {kind for kind, _, _ in documents}
        assert {run.MONTHLY, run.HALF_YEAR, run.YEAR, run.DOSSIER} <= kinds
        assert check_one_status_per_problem(documents) > 20
        assert check_totals_and_populations(documents) > 500
        assert check_one_universe(documents) > 200
        assert check_one_value_per_requirement(documents) > 50


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 120))
def test_one_universe_and_one_value_per_requirement_over_generated_years(seed, tmp_path):
    arrivals = generate_year(seed, units=2, months=MONTHS[2:])
    ws = build_workspace(tmp_path / "all", arrivals)
    for day in (dt.date(2026, 11, 20), dt.date(2027, 1, 8), quiet_after(ws)):
        documents = run_documents(ws, day)
        check_one_universe(documents)
        check_one_value_per_requirement(documents)
