"""One snapshot per run (SPEC §10): a consolidation reads the ledger once, as it stood at the end
of its as-of day, and every output of the run is built from that one view."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import openpyxl
import pytest
from form_helpers import UNIT, scenario_form

from processor.consolidate.snapshot import Snapshot
from processor.consolidate.ledger_data import LedgerData
from processor.intake.run import Intake
from processor.record.ledger import Ledger
from processor.schemas.form import SHEETS_BY_KEY

MONTH = "2026-10"


def _received(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _hand_in(intake: Intake, workspace, form: Path, name: str) -> None:
    target = workspace.inbox / name
    shutil.copyfile(form, target)
    outcome = intake.handle(target)
    assert outcome is not None and outcome.status == "accepted", outcome


def test_a_resubmission_recorded_while_the_ledger_is_read_is_wholly_in_or_wholly_out(workspace, tmp_path,
                                                                                     monkeypatch):
    """A unit resubmits its October form while consolidation reads the ledger: every sheet of the
    consolidation's data comes from one and the same submission (汇总数据 never stacks the sites of
    the old form with the contacts of the new one)."""
    old = scenario_form(tmp_path / "old.xlsx", UNIT, MONTH, seed=1)
    new = scenario_form(tmp_path / "new.xlsx", UNIT, MONTH, seed=2, contacts=9)
    intake = Intake(workspace, clock=lambda: _received(dt.date(2026, 11, 3)))
    try:
        _hand_in(intake, workspace, old, "十月报表.xlsx")

        read = Ledger.accepted_records
        sheets_read: list[str] = []

        def read_then_resubmit(self, key, **options):
            rows = read(self, key, **options)
            sheets_read.append(key)
            if len(sheets_read) == 1:  # between the first sheet read and the next: the corrected form lands
                _hand_in(intake, workspace, new, "十月报表（更正）.xlsx")
            return rows

        monkeypatch.setattr(Ledger, "accepted_records", read_then_resubmit)
        with Ledger(workspace.ledger_path) as ledger:
            data = LedgerData.load(ledger)
    finally:
        intake.close()

    assert len(sheets_read) > 1
    used = {r["file_id"] for key in SHEETS_BY_KEY for r in data.records(key)}
    accepted = [f["id"] for f in data.files if f["status"] == "accepted"]
    assert len(accepted) == 1 and used == set(accepted)
    with Ledger(workspace.ledger_path) as ledger:  # the resubmission did land: the next run reads it
        now = LedgerData.load(ledger)
    assert {r["file_id"] for r in now.records("contacts")} != used
    assert len(now.records("contacts")) == 9


# --- forms received after the as-of day ------------------------------------------------------

AS_OF = dt.date(2026, 11, 10)


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _reminder_rows(ws, month: str) -> list[tuple]:
    book = openpyxl.load_workbook(ws.outbox / f"催报名单/{month}/催报名单.xlsx", read_only=True)
    try:
        return [tuple(c for c in row if c is not None) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def test_forms_received_after_the_as_of_day_change_no_output_of_that_day(workspace):
    """As of 10 November, 闽江区's October form (received on the 12th) and 榕城区's correction (the
    11th) had not come: a run as of the 10th, made after they came, writes exactly what a run on the
    10th wrote — the 催报名单 still lists 闽江区, the report, summary, dossiers and 总览 are the same."""
    from ledger_helpers import LedgerBuilder, contact, site

    from processor.consolidate.run import consolidate

    lb = LedgerBuilder(workspace.ledger_path)
    try:
        lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公")],
                  contacts=[contact(dt.date(2026, 10, 8), "榕城电子", mode="现场指导")], received=dt.date(2026, 11, 3))
        lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械", staff="林少华")], received=dt.date(2026, 11, 8))
        lb.reject("闽江区", "2026-10", received=dt.date(2026, 11, 4))
        first = consolidate(workspace, month="2026-10", as_of=AS_OF)
        assert first.written and not first.skipped
        for path in workspace.outbox.rglob("*"):  # a rewrite, however soon, would show as a new mtime
            if path.is_file():
                os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
        before = _files(workspace.outbox)
        reminded = _reminder_rows(workspace, "2026-10")
        assert any("闽江区" in row for row in reminded)

        lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公"), site("榕城软件", "非公")],
                  contacts=[contact(dt.date(2026, 10, 8), "榕城电子", mode="现场指导"),
                            contact(dt.date(2026, 10, 20), "榕城软件", mode="电话联系")],
                  received=dt.date(2026, 11, 11))
        lb.submit("闽江区", "2026-10", sites=[site("闽江港务")], received=dt.date(2026, 11, 12))
        again = consolidate(workspace, month="2026-10", as_of=AS_OF)
        assert again.written == []
        assert _files(workspace.outbox) == before
        assert _reminder_rows(workspace, "2026-10") == reminded

        later = consolidate(workspace, month="2026-10", as_of=dt.date(2026, 11, 12))  # the forms count from then on
        assert later.written
        assert not any("闽江区" in row for row in _reminder_rows(workspace, "2026-10"))
    finally:
        lb.ledger.close()


def test_consolidate_as_of_a_day_rebuilds_the_outputs_of_that_day(workspace):
    """`processor consolidate --as-of 2026-11-10`, run after 闽江区's form came on the 12th: the 催报名单
    of the 10th (闽江区 listed), dated that day; a day not written YYYY-MM-DD is refused in Chinese."""
    from click.testing import CliRunner
    from ledger_helpers import LedgerBuilder, site

    from processor.cli import main

    lb = LedgerBuilder(workspace.ledger_path)
    try:
        lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公")], received=dt.date(2026, 11, 3))
        lb.submit("闽江区", "2026-10", sites=[site("闽江港务")], received=dt.date(2026, 11, 12))
    finally:
        lb.ledger.close()
    runner = CliRunner()
    result = runner.invoke(main, ["-w", str(workspace.root), "consolidate", "--as-of", "2026-11-10"])
    assert result.exit_code == 0, result.output
    assert "2026-10" in result.output and "数据截至2026年11月10日" in result.output
    assert any("闽江区" in row for row in _reminder_rows(workspace, "2026-10"))
    assert any("2026-11-10" in str(row) or "2026年11月10日" in str(row) for row in _reminder_rows(workspace, "2026-10"))

    result = runner.invoke(main, ["-w", str(workspace.root), "consolidate", "--as-of", "2026-11-12"])
    assert result.exit_code == 0, result.output
    assert not any("闽江区" in row for row in _reminder_rows(workspace, "2026-10"))

    wrong = runner.invoke(main, ["-w", str(workspace.root), "consolidate", "--as-of", "11月10日"])
    assert wrong.exit_code == 2 and "YYYY-MM-DD" in wrong.output and "11月10日" in wrong.output


# --- problem threads: one status as of the run's day ---------------------------------------------

RUN_DAY = dt.date(2027, 2, 8)
CLOSED, EXTENDED = "党员活动室设施不齐全", "流动党员管理台账未建立"


@pytest.fixture
def problems_into_january(lb):
    """罗源县 finds two problems in December; its January form closes one on time and extends the
    other's deadline into March."""
    from ledger_helpers import contact, site

    sites = [site("罗源电子")]

    def problem(day, text, deadline, state):
        return contact(day, "罗源电子", mode="现场指导", problem=text, suggestion="限期整改", deadline=deadline,
                       state=state)

    lb.submit("罗源县", "2026-12", sites=sites, received=dt.date(2027, 1, 4), contacts=[
        problem(dt.date(2026, 12, 10), CLOSED, dt.date(2027, 1, 20), "未办结"),
        problem(dt.date(2026, 12, 11), EXTENDED, dt.date(2026, 12, 31), "未办结")])
    lb.submit("罗源县", "2027-01", sites=sites, received=dt.date(2027, 2, 3), contacts=[
        problem(dt.date(2027, 1, 8), CLOSED, dt.date(2027, 1, 20), "已办结"),
        problem(dt.date(2027, 1, 9), EXTENDED, dt.date(2027, 3, 31), "未办结")])
    return LedgerData.load(lb.ledger, as_of=RUN_DAY)


def test_a_period_report_shows_each_problem_as_of_the_run_day_like_the_latest_month(problems_into_january,
                                                                                     workspace, roster):
    """Run on 8 February: the December report, the H2 report and the yearly summary show the
    December problem closed in January as closed and the extended one with its new deadline —
    exactly as the January report of the same run does — not as "逾期N天未办结"."""
    from processor.common import periods as P
    from processor.consolidate import half_year, monthly, year_report

    data = problems_into_january
    rows = {}
    for month in ("2026-12", "2027-01"):
        context = monthly.monthly_report_context(Snapshot.of(data, workspace, roster, RUN_DAY), month)
        rows[month] = {r["problem"]: r for r in context["problem_rows"]}
    assert rows["2026-12"] == rows["2027-01"]
    assert rows["2026-12"][CLOSED]["state"] == "已办结"
    assert rows["2026-12"][EXTENDED]["state"] == "正在整改" and rows["2026-12"][EXTENDED]["extended"]
    assert not any(r["overdue"] for r in rows["2026-12"].values())

    half = half_year.half_year_context(Snapshot.of(data, workspace, roster, RUN_DAY), P.parse_half("2026-H2"))
    (tracked,) = [r for r in half["compliance_rows"] if r["clause"] == "X-2"]
    assert (tracked["sites"], tracked["met"], tracked["failed"], tracked["at_risk"]) == (2, 1, 0, 1)
    assert not any(r["clause"] == "X-2" and r["status"] == "未达标" for r in half["findings"])
    assert not any("超过整改时限" in step for step in half["next_steps"])

    year = year_report.year_report_context(Snapshot.of(data, workspace, roster, RUN_DAY), P.parse_year("2026"))
    counts = year["problem_counts"]
    assert (counts["total"], counts["closed"], counts["open"], counts["overdue"], counts["extended"]) == (2, 1, 1, 0, 1)


# --- a blank field is blank --------------------------------------------------------------------

def test_a_plan_date_left_blank_in_the_latest_form_is_not_taken_from_an_older_one(lb, workspace, roster):
    """罗源电子 reported its work plan date in its September form and left it blank from October on:
    the H2 report's site path and the site's dossier say 未上报, like M-2 in the findings."""
    from ledger_helpers import site

    from processor.common import periods as P
    from processor.consolidate import dossier as site_dossier
    from processor.consolidate import half_year

    lb.submit("罗源县", "2026-09", sites=[site("罗源电子", plan_date=dt.date(2026, 9, 20))])
    for month in ("2026-10", "2026-11", "2026-12"):
        lb.submit("罗源县", month, sites=[site("罗源电子", plan_date=None)])
    data = LedgerData.load(lb.ledger, as_of=RUN_DAY)

    half = half_year.half_year_context(Snapshot.of(data, workspace, roster, RUN_DAY), P.parse_half("2026-H2"))
    (path,) = [p for p in half["site_paths"] if p["site"] == "罗源电子"]
    assert (path["plan_date"], path["plan_status"]) == ("", "未上报")
    assert half["plan_counts"] == {"on_time": 0, "late": 0, "missing": 1}
    (m2,) = [r for r in half["compliance_rows"] if r["clause"] == "M-2"]
    assert (m2["met"], m2["failed"]) == (0, 1)
    dossier = site_dossier.dossier_context(Snapshot.of(data, workspace, roster, RUN_DAY), "罗源县", "罗源电子")
    assert dossier["site"]["plan_date"] == ""


# --- no table drops a site -----------------------------------------------------------------------

def test_the_yearly_site_table_keeps_a_site_its_unit_listed_only_early_in_the_year(lb, workspace, roster):
    """罗源县 lists 罗源电子 in January–March and 罗源机械 from April: the yearly summary's per-site
    table has a row for each, and its rows add up to the site 项次 the per-clause table counts."""
    from ledger_helpers import site

    from processor.common import periods as P
    from processor.consolidate import year_report

    for m in range(1, 13):
        month = f"2026-{m:02d}"
        lb.submit("罗源县", month, sites=[site("罗源电子" if m <= 3 else "罗源机械")])
    data = LedgerData.load(lb.ledger, as_of=RUN_DAY)
    year = year_report.year_report_context(Snapshot.of(data, workspace, roster, RUN_DAY), P.parse_year("2026"))
    rows = {(r["unit"], r["site"]): r for r in year["site_rows"]}
    assert {("罗源县", "罗源电子"), ("罗源县", "罗源机械")} <= set(rows)
    assert rows[("罗源县", "罗源电子")]["judged"] > 0 and rows[("罗源县", "罗源电子")]["kind"] == "国企"
    unit_level = sum(r["due"] for r in year["unit_rows"]) + sum(
        r["judged"] for r in year["clause_rows"] if r["clause"] == "G-1" or r["applies"] == "企业组人员")
    assert sum(r["judged"] for r in year["site_rows"]) == year["totals"]["judged"] - unit_level


# --- a site is judged only in periods it has data in ------------------------------------------------

def test_a_half_year_report_does_not_judge_a_site_without_data_in_the_half(lb, workspace, roster):
    """罗源县 lists the 非公 site 罗源电子 in January–March and 罗源机械 from April: the H2 report
    judges the year's 民主评议和党纪教育 (N-4c) for 罗源机械 only — 1 site, not 2 — and names no
    requirement of 罗源电子, which sent no data in July–December."""
    from ledger_helpers import site

    from processor.common import periods as P
    from processor.consolidate import half_year, year_report

    for m in range(1, 13):
        lb.submit("罗源县", f"2026-{m:02d}", sites=[site("罗源电子" if m <= 3 else "罗源机械", "非公")])
    data = LedgerData.load(lb.ledger, as_of=RUN_DAY)
    half = half_year.half_year_context(Snapshot.of(data, workspace, roster, RUN_DAY), P.parse_half("2026-H2"))
    (n4c,) = [r for r in half["compliance_rows"] if r["clause"] == "N-4c"]
    assert n4c["sites"] == 1
    assert not any(r["site"] == "罗源电子" for r in half["findings"])
    assert sum(r["sites"] for r in half["compliance_rows"] if r["clause"].startswith("N-4")) == 4  # one site, 4 rules

    year = year_report.year_report_context(Snapshot.of(data, workspace, roster, RUN_DAY), P.parse_year("2026"))
    assert {"罗源电子", "罗源机械"} <= {r["site"] for r in year["site_rows"]}  # the year it had data in judges it


def test_one_run_evaluates_each_scope_once_and_every_report_reads_those_findings(workspace, roster, monkeypatch):
    """The findings are derived once per run and scope: a report built again from the run's snapshot,
    and the dossiers of every site of every unit, evaluate nothing anew, and the dossiers' findings are
    the ones a unit's own evaluation gives."""
    from ledger_helpers import D, LedgerBuilder
    from report_contexts import fill_ledger

    from processor.common.periods import parse_half
    from processor.consolidate import dossier, findings, half_year, monthly
    from processor.consolidate import snapshot as snapshot_module

    builder = fill_ledger(LedgerBuilder(workspace.ledger_path))
    evaluated = []

    def counted(*args, **kwargs):
        evaluated.append((tuple(kwargs["months"]), tuple(kwargs.get("units") or ())))
        return findings.evaluate(*args, **kwargs)

    monkeypatch.setattr(snapshot_module, "evaluate", counted)
    day = D(2027, 1, 10)
    run = Snapshot(LedgerData.load(builder.ledger, as_of=day), workspace, roster, day)
    first = monthly.monthly_report_context(run, "2026-10")
    assert monthly.monthly_report_context(run, "2026-10") == first
    half = half_year.half_year_context(run, parse_half("2026-H2"))
    assert half_year.half_year_context(run, parse_half("2026-H2")) == half
    assert len(evaluated) == 2  # the month, the half: once each

    sites = list(dict.fromkeys((r["unit"], r["site"]) for r in run.data.records("sites")))
    assert len(sites) == 3 and len({u for u, _ in sites}) == 2
    dossier.evaluate_dossiers(run, sites)
    spans = len(evaluated) - 2
    assert spans <= 2  # one evaluation per span of months, for all the units that share it
    contexts = [dossier.dossier_context(run, unit, site) for unit, site in sites]
    assert len(evaluated) == 2 + spans  # the dossiers read the findings evaluated ahead
    for (unit, site), context in zip(sites, contexts, strict=True):
        span = dossier.dossier_span(run.view().restrict(units=[unit]), run.rulebook, unit, site, day)
        alone = findings.evaluate(builder.ledger, run.rulebook, roster, months=span, today=day, units=[unit])
        judged = [r for r in context["compliance_rows"] if r["status"] != "本月未报送"]  # months stated, not judged
        assert [(r["clause"], r["period"], r["status"]) for r in judged] == \
            [(r["clause"], r["period"], r["status"])
             for r in dossier._dossier_compliance([f for f in alone if f.site == site])], (unit, site)
    builder.ledger.close()
