"""`processor demo`: a realistic workspace processed end to end into every output of the spec."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from processor.demo import DEMO_TODAY, MARKER, DemoError, prepare_folder, run_demo
from processor.record.ledger import Ledger
from processor.validate.roster import workspace_roster

pytestmark = pytest.mark.slow  # end to end: a demo year processed through every stage

TODAY = dt.date(2026, 11, 26)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "ws"
    return run_demo(folder, units_limit=4)  # the demo's own day: January 2027's forms are due


def test_demo_produces_every_output_of_the_spec(demo):
    outbox = demo.workspace.outbox
    expected = {
        "月度汇总报告": "2027-01/*.docx", "半年工作报告": "2026-H2/*.docx", "年度工作总结": "2026/*.docx",
        "分组情况一览表": "*.xlsx", "示范点档案": "*/*.docx", "催报名单": "2027-01/*", "汇总数据": "*/汇总数据.xlsx",
        "回执": "*/*/*.html",
    }
    for folder, pattern in expected.items():
        assert list((outbox / folder).glob(pattern)), f"{folder}/{pattern} missing"
    assert list((outbox / "分组情况一览表").glob("*.docx"))
    assert demo.emails and all(p.suffix == ".eml" for p in demo.emails)
    assert all(p.name.startswith(f"{demo.today:%Y%m%d}-22") for p in demo.emails), "the mail of the demo's night"
    manifest = json.loads((outbox / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    reports = {p.relative_to(outbox).as_posix() for p in outbox.rglob("*") if p.suffix in (".docx", ".xlsx")
               and p.parts[len(outbox.parts)] != "回执"}
    assert reports and reports <= set(manifest), "every report in the outbox is listed in the manifest"
    for rel, entry in manifest.items():
        data = (outbox / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{rel}: the manifest's hash is the file's"


def test_demo_year_has_the_cases_offices_meet(demo):
    kinds = {a.kind for a in demo.arrivals}
    assert {"mistake", "corrected", "duplicate", "not-excel", "messy"} <= kinds
    assert demo.outcomes["accepted"] > 0 and demo.outcomes["rejected"] > 0 and demo.outcomes["duplicate"] == 1
    with Ledger(demo.workspace.ledger_path) as ledger:
        assert ledger.integrity_ok()
        for corrected in (a for a in demo.arrivals if a.kind == "corrected"):
            statuses = [r[0] for r in ledger.query("SELECT status FROM files WHERE unit = ? AND month = ? ORDER BY id",
                                                   (corrected.unit, corrected.month))]
            assert "rejected" in statuses and statuses[-1] == "accepted", \
                f"{corrected.unit} {corrected.month}: the corrected form is accepted after the rejected one"
        warnings = ledger.query("SELECT SUM(warning_count) FROM files WHERE status = 'accepted'")[0][0]
        assert warnings > 0, "hand-typed dates and full-width digits are accepted with notes"
    assert not any(p.is_file() for p in demo.workspace.inbox.rglob("*")), "every file left the inbox"


def test_demo_year_holds_no_record_that_cannot_be_true(demo):
    """SPEC §10: the demo's year passes its own intake without an impossible record (its deliberate
    mistakes are refused for other reasons), and its work plans are dated in the rule year."""
    impossible = {"future-date", "deadline-before-found", "contact-before-assigned"}
    with Ledger(demo.workspace.ledger_path) as ledger:
        files = ledger.query("SELECT original_name, problems_json FROM files")
        plans = [r[0] for r in ledger.query("SELECT DISTINCT plan_date FROM sites WHERE plan_date IS NOT NULL")]
    refused = [(name, p["message"]) for name, problems in files for p in json.loads(problems or "[]")
               if p["code"] in impossible]
    assert len(files) > 40 and refused == []
    year = demo.workspace.rulebook.year
    assert plans and all(plan.startswith(f"{year}-11") for plan in plans), plans


def test_demo_year_has_each_check_across_months_in_a_receipt_a_monthly_report_and_the_page(demo):
    from docx import Document

    from processor.consolidate.quality import QUALITY_CHECKS, QUALITY_TITLES

    with Ledger(demo.workspace.ledger_path) as ledger:
        summaries = [json.loads(r[0]) for r in ledger.query("SELECT summary_json FROM files")]
    in_receipts = {c["code"] for s in summaries for c in s.get("quality", [])}
    codes = {check.code for check in QUALITY_CHECKS}
    assert in_receipts >= codes - {"site-shared"}  # the first of the two units could not know yet
    report_text = ""
    for path in sorted((demo.workspace.outbox / "月度汇总报告").glob("*/*.docx")):
        document = Document(path)
        report_text += "\n".join(p.text for p in document.paragraphs)
        report_text += "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    assert "数据质量" in report_text
    page = (demo.workspace.outbox / "总览.html").read_text(encoding="utf-8")
    for code in codes:
        assert QUALITY_TITLES[code] in report_text, code
        assert QUALITY_TITLES[code] in page, code


def test_demo_runs_across_the_year_boundary(demo):
    """January 2026 to January 2027: December's forms arrive in January, 2026 is closed and summarised."""
    assert demo.today == DEMO_TODAY and (demo.months[0], demo.months[-1]) == ("2026-01", "2027-01")
    december = [a for a in demo.arrivals if a.month == "2026-12" and a.kind in ("on-time", "late", "messy")]
    assert december and all(a.when.year == 2027 or a.when.month == 12 for a in december)
    with Ledger(demo.workspace.ledger_path) as ledger:
        months = {r[0] for r in ledger.query("SELECT DISTINCT month FROM files WHERE status = 'accepted'")}
    assert {"2026-12", "2027-01"} <= months
    outbox = demo.workspace.outbox
    summary = list((outbox / "年度工作总结" / "2026").glob("*.docx"))
    assert summary and "2026年度" in summary[0].name
    manifest = json.loads((outbox / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["month"] == "2027-01", "the delivery mail speaks of the latest month, January 2027"


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "重要文件.docx").write_bytes(b"x")
    with pytest.raises(DemoError):
        run_demo(tmp_path, today=TODAY, units_limit=1)
    assert (tmp_path / "重要文件.docx").exists()


def test_an_earlier_demo_is_replaced_not_merged(tmp_path):
    first = prepare_folder(tmp_path / "ws")
    (first.inbox / "上次留下的.xlsx").write_bytes(b"old")
    second = prepare_folder(tmp_path / "ws", units_limit=2)
    assert not (second.inbox / "上次留下的.xlsx").exists()
    assert len(workspace_roster(second).units) == 2
    assert (second.root / MARKER).exists() and (second.root / "config.toml").exists()


