"""The hostile corpus (a CI sample: 3 files of each of 40 categories) through
validation and through intake: a specific rejection reason for every bad file,
no exception, no hang, nothing live or broken written back."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from processor.common.config import IntakeSettings
from processor.common.fsutil import sha256_file
from processor.intake.run import process_inbox
from processor.record.ledger import Ledger
from processor.validate.roster import sample_roster
from processor.common.rulebook import load_rulebook
from processor.validate.validator import validate_file
from hostile import ACCEPT, EITHER, IGNORE, REJECT, copy_into, generate

pytestmark = pytest.mark.slow  # end to end: every test here runs for many seconds

PER_CATEGORY = 3
HANG_FACTOR = 50  # a hostile file may take this many times a valid form's validation, never more


@pytest.fixture(scope="module")
def valid_form_seconds(tmp_path_factory) -> float:
    """What validating a valid form takes on this machine now (median of three): the time budgets
    scale with it, so a busy machine is not mistaken for a file that hangs the validator."""
    from processor.validate.samples import fill_form

    roster, rulebook = sample_roster(), load_rulebook()
    form = fill_form(tmp_path_factory.mktemp("baseline") / "form.xlsx", roster=roster, rulebook=rulebook,
                     unit=roster.units[0].name, month="2026-10")
    validate_file(form, roster=roster, rulebook=rulebook)  # imports and caches are not part of it
    took = []
    for _ in range(3):
        started = time.monotonic()
        validate_file(form, roster=roster, rulebook=rulebook)
        took.append(time.monotonic() - started)
    return sorted(took)[1]


def time_budget(hostile, valid_form_seconds: float) -> float:
    return max(hostile.budget_seconds, HANG_FACTOR * valid_form_seconds)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return generate(root / "corpus", per_category=PER_CATEGORY, seed=1)


def verdict_problem(hostile, accepted: bool, error_codes: set[str]) -> str | None:
    """Why an outcome breaks the file's expectation (None when it is fine)."""
    if hostile.expect == ACCEPT and not accepted:
        return f"should be accepted, rejected with {sorted(error_codes)}"
    if hostile.expect == REJECT and accepted:
        return "should be rejected, was accepted"
    if not accepted and not error_codes:
        return "rejected without an error code"
    if not accepted and not error_codes <= hostile.expected_codes:
        return f"rejected with {sorted(error_codes - hostile.expected_codes)}, expected one of {sorted(hostile.expected_codes)}"
    return None


def test_corpus_covers_the_categories(corpus):
    processable = [f for f in corpus if f.expect != IGNORE]
    assert len({f.category for f in corpus}) >= 25
    assert len(processable) >= 100
    assert {f.expect for f in corpus} == {REJECT, ACCEPT, EITHER, IGNORE}


def test_validate_file_gives_a_specific_reason_for_each_file(corpus, valid_form_seconds):
    roster, rulebook, limits = sample_roster(), load_rulebook(), IntakeSettings()
    failures = []
    for hostile in corpus:
        if hostile.expect == IGNORE:
            continue
        started = time.monotonic()
        try:
            result = validate_file(hostile.path, roster=roster, rulebook=rulebook, limits=limits)
        except BaseException as exc:  # noqa: BLE001 — the point: nothing may escape
            failures.append(f"{hostile.category}/{hostile.path.name}: raised {exc!r}")
            continue
        elapsed = time.monotonic() - started
        if elapsed > time_budget(hostile, valid_form_seconds):
            failures.append(f"{hostile.category}/{hostile.path.name}: took {elapsed:.1f} s")
        why = verdict_problem(hostile, result.accepted, {p.code for p in result.problems.errors})
        if why:
            failures.append(f"{hostile.category}/{hostile.path.name}: {why}")
        for p in result.problems:
            assert p.message and "{" not in p.message, p  # a rendered Chinese message, not a template
    assert not failures, "\n".join(failures)


def test_intake_rejects_specifically_and_writes_nothing_unsafe(workspace, corpus, valid_form_seconds):
    placed = copy_into(workspace.inbox, corpus)
    timings: list[tuple[str, float]] = []
    last = [time.monotonic()]

    def on_done(outcome):
        now = time.monotonic()
        timings.append((outcome.name if outcome else "?", now - last[0]))
        last[0] = now

    outcomes = process_inbox(workspace, on_done=on_done)

    failures = []
    by_name = {}
    with Ledger(workspace.ledger_path) as ledger:
        assert ledger.integrity_ok()
        rows = ledger.files()
        for row in rows:
            assert row["original_name"] not in by_name, f"{row['original_name']} recorded twice"
            by_name[row["original_name"]] = row
    for name, hostile in placed.items():
        row = by_name.get(name)
        if hostile.expect == IGNORE:
            if row is not None:
                failures.append(f"{hostile.category}/{name}: should be ignored, was recorded as {row['status']}")
            inbox_entry = workspace.inbox / name
            assert inbox_entry.is_symlink() or inbox_entry.exists(), f"{name} vanished from the inbox"
            continue
        if row is None:
            failures.append(f"{hostile.category}/{name}: never recorded")
            continue
        problems = json.loads(row["problems_json"] or "[]")
        errors = {p["code"] for p in problems if p["severity"] == "error"}
        why = verdict_problem(hostile, row["status"] in ("accepted", "superseded"), errors)
        if why:
            failures.append(f"{hostile.category}/{name}: {why}")
        if (workspace.inbox / name).exists():
            failures.append(f"{hostile.category}/{name}: still in the inbox after being recorded")
        failures.extend(check_receipt(workspace, hostile, row))
    budget = {h.path.name: time_budget(h, valid_form_seconds) for h in corpus}
    for name, seconds in timings:
        if seconds > budget.get(name, max(10.0, HANG_FACTOR * valid_form_seconds)):
            failures.append(f"{name}: intake took {seconds:.1f} s")
    assert not failures, "\n".join(failures)
    assert len(outcomes) == sum(1 for h in corpus if h.expect != IGNORE)
    # nothing outside the inbox was taken through a symlink
    passwd = sha256_file(Path("/etc/passwd"))
    assert passwd not in {r["sha256"] for r in rows}
    leftovers = [p for p in workspace.outbox.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def check_receipt(ws, hostile, row) -> list[str]:
    """The receipt exists and is clean; an annotated copy holds no live formula."""
    where = f"{hostile.category}/{row['original_name']}"
    receipt = ws.outbox / row["receipt_path"] if row["receipt_path"] else None
    if receipt is None or not receipt.is_file():
        return [f"{where}: no receipt"]
    if not receipt.resolve().is_relative_to(ws.receipts_dir.resolve()):
        return [f"{where}: receipt written outside the receipts folder: {receipt}"]
    failures = []
    html = receipt.read_text(encoding="utf-8")
    if any(ch in html for ch in "\x00\x01\x07\x0b\x1b"):
        failures.append(f"{where}: control characters in the receipt HTML")
    if "<script>alert" in html:
        failures.append(f"{where}: unescaped markup from the file name in the receipt")
    for annotated in receipt.parent.glob(f"{receipt.stem}_*.xlsx"):
        failures.extend(f"{where}: {p}" for p in live_formulas(annotated))
    return failures


def live_formulas(path: Path) -> list[str]:
    found = []
    with zipfile.ZipFile(path) as archive:  # a broken zip here would be a broken output
        assert archive.testzip() is None
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    found.append(f"live formula {ws.title}!{cell.coordinate}: {cell.value!r}")
    return found


def test_a_garbled_deflate_stream_is_a_corrupt_rejection_not_a_crash(tmp_path):
    """zlib.error from a damaged sheet member used to escape validate_file and stop the whole intake run."""
    garbled = generate(tmp_path / "c", per_category=3, seed=5, categories=["garbled_member"])
    for hostile in garbled:
        result = validate_file(hostile.path, roster=sample_roster(), rulebook=load_rulebook())
        assert [p.code for p in result.problems.errors] == ["corrupt"], hostile.path.name
        assert "损坏" in result.problems.errors[0].message


def test_annotated_copy_of_hostile_forms_has_no_live_formula_and_survives_merges(tmp_path):
    """Rejected forms with live formulas or merged cells get an annotated copy: formulas as text, no crash."""
    from processor.validate.annotate import write_annotated_copy

    roster, rulebook = sample_roster(), load_rulebook()
    made = generate(tmp_path / "c", per_category=2, seed=7, categories=["formula_live", "merged_everywhere"])
    annotated = 0
    for hostile in made:
        result = validate_file(hostile.path, roster=roster, rulebook=rulebook)
        if result.accepted:
            continue
        dest = write_annotated_copy(hostile.path, list(result.problems), tmp_path / f"批注{annotated}.xlsx")
        assert dest is not None, hostile.path.name
        assert live_formulas(dest) == []
        annotated += 1
    assert annotated >= 2


def test_no_annotated_copy_is_attempted_for_a_file_rejected_before_parsing(tmp_path, monkeypatch):
    """A zip bomb or a million-row sheet must not be handed to openpyxl for annotation."""
    import processor.validate.annotate as annotate

    opened = []

    def load_workbook(path, *args, **kwargs):
        opened.append(path)
        raise OSError("not to be opened")

    made = generate(tmp_path / "c", per_category=1, seed=8, categories=["zip_bomb_lying_size", "entity_bomb_sheet"])
    monkeypatch.setattr("openpyxl.load_workbook", load_workbook)  # annotate imports it when it opens a file
    for hostile in made:
        result = validate_file(hostile.path, roster=sample_roster(), rulebook=load_rulebook())
        assert annotate.write_annotated_copy(hostile.path, list(result.problems), tmp_path / "x.xlsx") is None
    assert made and opened == []


def test_control_characters_in_a_value_are_shown_not_passed_through():
    from processor.validate.errors import problem

    item = problem("normalized-text", sheet="工作进展", cell="B2", value="正文\x07\x1b结束", normalized="正文结束")
    assert "\x07" not in item.message and "\x1b" not in item.message
    assert "␇" in item.message and "正文" in item.message


def test_control_characters_never_reach_the_ledger(workspace):
    made = generate(workspace.root / "c", per_category=2, seed=9, categories=["control_chars"])
    for hostile in made:
        shutil.copyfile(hostile.path, workspace.inbox / hostile.path.name)
    process_inbox(workspace)
    with Ledger(workspace.ledger_path) as ledger:
        statuses = [r["status"] for r in ledger.files()]
        stored = [v for table in ("contacts", "progress") for r in ledger.query(f"SELECT * FROM {table}")
                  for v in tuple(r) if isinstance(v, str)]
    assert statuses == ["accepted", "accepted"]
    assert stored and not [v for v in stored if any(ord(c) < 32 and c not in "\t\n\r" for c in v)]
