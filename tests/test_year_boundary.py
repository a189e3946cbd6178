"""Year two: forms, findings and rules keep working across the year boundary (2026 → 2027).

Real forms go through intake into a real ledger; findings are evaluated from it with the
shipped rulebook, a rulebook revised from 2027-07, and the old single-year rulebook file.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from form_helpers import ROSTER, scenario_form, set_cells, validate
from ledger_helpers import LedgerBuilder, contact, site
from processor.consolidate.snapshot import Snapshot
from processor.consolidate.findings import AT_RISK, FAILED, MET, evaluate
from processor.intake.run import Intake
from processor.record.ledger import Ledger
from processor.common.paths import RULEBOOK_PATH
from processor.common.rulebook import RulebookError, load_rulebook

TZ = dt.timezone(dt.timedelta(hours=8))
FIXTURE = Path(__file__).parent / "fixtures" / "ledger-v1.sqlite"
UNIT = "罗源县"


def _arrive(ws, tmp: Path, forms: list[tuple[str, object, dt.datetime]]) -> None:
    """Each (month, change, received) form of UNIT dropped into the inbox and taken in at its time."""
    intake = Intake(ws)
    try:
        for month, change, when in forms:
            staged = scenario_form(tmp / f"{month}.xlsx", UNIT, month, change, seed=3)
            target = ws.inbox / UNIT / f"{UNIT}{month}月报表.xlsx"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged, target)
            intake.clock = lambda when=when: when
            outcome = intake.handle(target)
            assert outcome.status == "accepted", (month, outcome)
    finally:
        intake.close()


def _no_congress(rows):
    """The month's 组织生活 without any 党员大会 (a quarterly requirement of both kinds)."""
    rows["org_life"] = [r for r in rows["org_life"] if r["activity"] != "党员大会"]


def _keys(findings, *codes):
    return {(f.code, f.unit, f.site, f.period): (f.status, f.observed, f.counts, f.deadline)
            for f in findings if f.code in codes}


def test_forms_either_side_of_the_new_year_are_accepted(tmp_path):
    for month in ("2026-11", "2026-12", "2027-01", "2027-02"):
        form = scenario_form(tmp_path / f"{month}.xlsx", UNIT, month, seed=3)
        result = validate(form)
        assert result.accepted, (month, [p.message for p in result.problems])


def test_a_month_the_rules_do_not_cover_is_refused_saying_which_months_are(tmp_path):
    form = scenario_form(tmp_path / "form.xlsx", UNIT, "2027-12", seed=3)
    set_cells(form, "基本信息", {"B4": "2028-01"})  # a month the rules do not reach yet
    result = validate(form)
    assert not result.accepted
    problem = next(p for p in result.problems if p.code == "month-outside-year")
    assert "2026-01 至 2027-12" in problem.message


def test_december_is_due_on_5_january_and_its_findings_close_with_the_year(workspace, tmp_path):
    when = lambda y, m, d: dt.datetime(y, m, d, 9, 0, tzinfo=TZ)  # noqa: E731
    _arrive(workspace, tmp_path, [("2026-10", None, when(2026, 11, 3)), ("2026-11", None, when(2026, 12, 3)),
                                  ("2026-12", _no_congress, when(2027, 1, 7))])
    as_of = dt.date(2027, 1, 20)
    q4 = [f"2026-{m}" for m in (10, 11, 12)]
    with Ledger(workspace.ledger_path) as ledger:
        before = evaluate(ledger, workspace.rulebook, ROSTER, months=q4, today=as_of, units=[UNIT])
    december = next(f for f in before if f.code == "monthly-submission" and f.period == "2026-12")
    assert december.deadline == dt.date(2027, 1, 5) and december.status == FAILED and december.days == 2
    closing = [f for f in before if f.code in ("quarterly-visit", "activity-frequency")]
    assert {f.period for f in closing} >= {"2026-Q4", "2026-H2", "2026"}
    assert all(f.status in (MET, FAILED) for f in closing), "every period closed on 31 December"

    _arrive(workspace, tmp_path, [("2027-01", _no_congress, when(2027, 2, 3)),
                                  ("2027-02", _no_congress, when(2027, 3, 2))])
    as_of = dt.date(2027, 3, 10)
    with Ledger(workspace.ledger_path) as ledger:
        again = evaluate(ledger, workspace.rulebook, ROSTER, months=q4, today=as_of, units=[UNIT])
        new_year = evaluate(ledger, workspace.rulebook, ROSTER, months=["2027-01", "2027-02"], today=as_of,
                            units=[UNIT])
    codes = ("quarterly-visit", "activity-frequency", "monthly-contact", "monthly-submission")
    assert _keys(again, *codes) == _keys(before, *codes), "2027 data changes nothing of 2026"

    periods = {f.period for f in new_year if f.code == "activity-frequency"}
    assert periods == {"2027-Q1", "2027-H1", "2027"}
    congress = [f for f in new_year if f.code == "activity-frequency" and f.period == "2027-Q1"
                and "党员大会" in dict((n, h) for n, h, _ in f.counts)]
    assert congress and all(dict((n, h) for n, h, _ in f.counts)["党员大会"] == 0 for f in congress)
    assert all(f.status == AT_RISK for f in congress), "the new quarter counts from zero and is still open"
    assert not [f for f in new_year if f.clause in ("M-1a", "M-2")], "the first year's milestones are not judged again"


REVISION = """
[[versions]]
from = "2027-07"
name = "2027年7月修订版"
[versions.rules.M-1b]
min_contacts = 2
"""


def test_a_revision_from_july_2027_judges_june_by_the_old_rule_and_july_by_the_new(tmp_path):
    revised = tmp_path / "requirements.toml"
    revised.write_text(RULEBOOK_PATH.read_text(encoding="utf-8") + REVISION, encoding="utf-8")
    book = load_rulebook(revised)
    ledger_path = tmp_path / "ledger.sqlite"
    builder = LedgerBuilder(ledger_path)
    sites = [site("东湖机械")]
    for month in ("2027-06", "2027-07"):
        builder.submit(UNIT, month, sites=sites, contacts=[contact(dt.date.fromisoformat(f"{month}-10"), "东湖机械")])
    builder.ledger.close()
    with Ledger(ledger_path) as ledger:
        found = evaluate(ledger, book, ROSTER, months=["2027-06", "2027-07"], today=dt.date(2027, 9, 1),
                         units=[UNIT])
    monthly = {f.period: f for f in found if f.code == "monthly-contact"}
    assert (monthly["2027-06"].status, monthly["2027-06"].required, monthly["2027-06"].rule_version) == (
        MET, 1, "2026版")
    assert (monthly["2027-07"].status, monthly["2027-07"].required, monthly["2027-07"].rule_version) == (
        FAILED, 2, "2027年7月修订版")
    assert book.last == "2028-12", "a version extends the months covered to the end of the next year"


def test_reports_name_the_rule_version_they_judge_by(tmp_path):
    from docx import Document

    from conftest import make_workspace
    from processor.common.config import DEFAULT_CONFIG_TEXT
    from processor.consolidate.run import consolidate

    config = DEFAULT_CONFIG_TEXT.replace('rulebook = ""', 'rulebook = "rules.toml"', 1)
    ws = make_workspace(tmp_path / "ws", config)
    (ws.root / "rules.toml").write_text(RULEBOOK_PATH.read_text(encoding="utf-8") + REVISION, encoding="utf-8")
    builder = LedgerBuilder(ws.ledger_path)
    for month in ("2027-06", "2027-07"):
        builder.submit(UNIT, month, sites=[site("东湖机械")],
                       contacts=[contact(dt.date.fromisoformat(f"{month}-10"), "东湖机械")])
    builder.ledger.close()
    result = consolidate(ws, month="2027-07", year="2027", today=dt.date(2027, 8, 20))

    def text(kind):
        [path] = [p for p in result.written if kind in str(p) and p.suffix == ".docx" and "示范点档案" not in str(p)]
        doc = Document(path)
        cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
        return "\n".join(p.text for p in doc.paragraphs), cells

    july, _ = text("月度汇总报告")
    assert "版规则" not in july  # the text names the rules by their title, never a version tag
    year, cells = text("年度工作总结")
    assert "版规则" not in year
    assert "每月沟通联系（2027年7月修订版）" in cells, "a listed item of a year with two versions names its own"


def test_a_revision_must_name_a_later_month_and_a_known_clause(tmp_path):
    path = tmp_path / "requirements.toml"
    base = RULEBOOK_PATH.read_text(encoding="utf-8")
    path.write_text(base + REVISION.replace("2027-07", "2025-07"), encoding="utf-8")
    with pytest.raises(RulebookError, match="from"):
        load_rulebook(path)
    path.write_text(base + REVISION.replace("M-1b", "M-9z"), encoding="utf-8")
    with pytest.raises(RulebookError, match="M-9z"):
        load_rulebook(path)


def _old_rulebook(tmp_path: Path) -> Path:
    """The single-year rulebook file as the first release shipped it (``[calendar] year = 2026``)."""
    path = tmp_path / "old.toml"
    shutil.copyfile(Path(__file__).parent / "fixtures" / "rulebook-v1.toml", path)
    assert "year = 2026" in path.read_text(encoding="utf-8")
    return path


def test_the_old_single_year_rulebook_is_converted_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="processor.common.rulebook"):
        old = load_rulebook(_old_rulebook(tmp_path))
    assert old.warnings and "旧格式" in old.warnings[0] and old.warnings[0] in caplog.text
    new = load_rulebook()
    assert (old.start, old.last) == (new.start, new.last) == ("2026-01", "2027-12")
    assert old["M-1a"].date("deadline") == new["M-1a"].date("deadline") == dt.date(2026, 10, 1)
    assert old["M-2"].once and old["M-2"].date("work_start") == dt.date(2026, 12, 1)


def test_a_ledger_of_the_first_release_gives_the_same_2026_findings_under_either_format(tmp_path):
    ledger_path = tmp_path / "ledger.sqlite"
    shutil.copyfile(FIXTURE, ledger_path)
    before = sqlite3.connect(ledger_path).execute("SELECT COUNT(*) FROM files").fetchone()[0]
    old, new = load_rulebook(_old_rulebook(tmp_path)), load_rulebook()
    year = [f"2026-{m:02d}" for m in range(1, 13)]
    with Ledger(ledger_path) as ledger:
        for months in (["2026-10"], year):
            by_old = evaluate(ledger, old, ROSTER, months=months, today=dt.date(2026, 11, 20))
            by_new = evaluate(ledger, new, ROSTER, months=months, today=dt.date(2026, 11, 20))
            assert by_old and [f.to_dict() for f in by_old] == [f.to_dict() for f in by_new]
            assert {f.rule_version for f in by_new} == {"2026版"}
            assert {f.clause for f in by_new} >= {"M-1a", "M-2", "M-1b", "M-4b"}
    after = sqlite3.connect(ledger_path).execute("SELECT COUNT(*) FROM files").fetchone()[0]
    assert before == after


def test_january_form_is_prefilled_from_december(workspace, tmp_path):
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from processor.cli import main

    december = scenario_form(tmp_path / "dec.xlsx", UNIT, "2026-12", seed=3)
    february = scenario_form(tmp_path / "feb.xlsx", UNIT, "2027-02", seed=5)  # a later form lists other sites
    intake = Intake(workspace)
    try:
        for path in (december, february):
            target = workspace.inbox / UNIT / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            assert intake.handle(target).status == "accepted"
    finally:
        intake.close()
    december_sites = [r[0] for r in load_workbook(december, read_only=True)["示范点"].iter_rows(min_row=2, values_only=True)
                      if r[0]]
    february_sites = [r[0] for r in load_workbook(february, read_only=True)["示范点"].iter_rows(min_row=2, values_only=True)
                      if r[0]]
    assert december_sites != february_sites

    out = tmp_path / "january.xlsx"
    result = CliRunner().invoke(main, ["-w", str(workspace.root), "template", "--unit", UNIT, "--month", "2027-01",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out, read_only=True)
    assert [r[0] for r in book["示范点"].iter_rows(min_row=2, values_only=True) if r[0]] == december_sites
    assert "2027年02月05日" in "".join(str(c) for row in book["填报说明"].iter_rows(values_only=True) for c in row)


def test_status_and_template_refuse_a_month_outside_the_rules(workspace, tmp_path):
    from click.testing import CliRunner

    from processor.cli import main

    for args in (["status", "--month", "2025-12"], ["template", "--month", "2028-01", "-o", str(tmp_path / "x.xlsx")]):
        result = CliRunner().invoke(main, ["-w", str(workspace.root), *args])
        said = "".join(result.output.split())
        assert result.exit_code == 2, (args, result.output)
        assert "2026-01至2027-12" in said and "[calendar]" in said, said
    assert not (tmp_path / "x.xlsx").exists()


def test_a_command_on_a_workspace_with_the_old_rulebook_says_it_was_converted(tmp_path):
    from click.testing import CliRunner

    from conftest import make_workspace
    from processor.cli import main
    from processor.common.config import DEFAULT_CONFIG_TEXT

    ws = make_workspace(tmp_path / "ws", DEFAULT_CONFIG_TEXT.replace('rulebook = ""', 'rulebook = "old.toml"', 1))
    shutil.copyfile(_old_rulebook(tmp_path), ws.root / "old.toml")
    result = CliRunner().invoke(main, ["-w", str(ws.root), "status", "--month", "2027-01"])
    said = "".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "旧格式" in said and 'start="2026-01"' in said and "2027年1月报送情况" in said


def test_a_site_added_in_year_two_is_not_flagged_late_against_the_first_years_deadline(workspace, tmp_path):
    from processor.consolidate.assignment import assignment_context
    from processor.validate.roster import workspace_roster

    names = []

    def fixed_late(rows):  # the second site's contact fixed after 1 October 2026
        rows["sites"][1]["contact_date"] = dt.date(2026, 11, 1)  # before any November contact
        names[:] = [s["site"] for s in rows["sites"]]

    def new_site(rows):  # and in February a third site, its contact fixed that month
        fixed_late(rows)
        first = rows["sites"][0]["site"]
        rows["sites"].append(dict(rows["sites"][0], site="罗源新增党建示范点", enterprise="罗源新增有限公司",
                                  contact_date=dt.date(2027, 2, 3), plan_date=None))
        for key in ("hardware", "members", "progress"):  # the sheets with one row per site
            rows[key] += [dict(r, site="罗源新增党建示范点") for r in rows[key] if r["site"] == first]

    when = lambda y, m, d: dt.datetime(y, m, d, 9, 0, tzinfo=TZ)  # noqa: E731
    _arrive(workspace, tmp_path, [("2026-11", fixed_late, when(2026, 12, 3)), ("2027-02", new_site, when(2027, 3, 2))])
    with Ledger(workspace.ledger_path) as ledger:
        context = assignment_context(Snapshot.of(ledger, workspace, workspace_roster(workspace), dt.date(2027, 3, 10)))
    notes = {r["site"]: r["note"] for r in context["rows"] if r["unit"] == UNIT}
    assert notes[names[0]] == "" and notes[names[1]] == "确定联系晚于规定时间"
    assert notes["罗源新增党建示范点"] == "", "M-1a is a milestone of 2026: a 2027 site is not late against it"
    assert {(r["unit"], r["site"]) for r in context["late_contacts"]} == {(UNIT, names[1])}
