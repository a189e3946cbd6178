"""A person's work is never destroyed: a report opened in Word and saved is left as it is, and the
processor's new version goes beside it, named so, said by the run, listed by status and on the 总览
page, and mentioned by the next report mail."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner

from ledger_helpers import D, LedgerBuilder, site
from processor.cli import main
from processor.common.outputs import NEW_VERSION_MARK
from processor.consolidate.overview import OVERVIEW_NAME
from processor.consolidate.run import consolidate
from processor.deliver.mail import send_pending
from processor.record.ledger import Ledger
from processor.workspace import Workspace

TODAY = D(2026, 11, 26)
ADDED = "企业组补充意见：请各联系人于12月10日前把整改情况报企业组办公室。"


@pytest.fixture
def october(workspace):
    lb = LedgerBuilder(workspace.ledger_path)
    lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公")], received=D(2026, 11, 3))
    yield workspace, lb
    lb.ledger.close()


def monthly_report(ws) -> Path:
    [report] = [p for p in (ws.outbox / "月度汇总报告" / "2026-10").glob("*.docx") if NEW_VERSION_MARK not in p.name]
    return report


def beside(path: Path) -> Path:
    return path.with_name(f"{path.stem}{NEW_VERSION_MARK}{path.suffix}")


def edit_in_word(path: Path) -> None:
    document = docx.Document(str(path))
    document.add_paragraph(ADDED)
    document.save(str(path))


def text_of(path: Path) -> str:
    return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)


def run_cli(ws, *args) -> str:
    result = CliRunner().invoke(main, ["--workspace", str(ws.root), *args])
    assert result.exit_code == 0, result.output
    return result.output


def mail_of(result) -> email.message.EmailMessage:
    [eml] = result.dry_run_files
    return email.message_from_bytes(eml.read_bytes(), policy=policy.default)


def test_a_report_edited_in_word_survives_a_new_form_and_its_new_version_is_written_beside_it(october):
    ws, lb = october
    consolidate(ws, month="2026-10", today=TODAY)
    send_pending(ws, dry_run=True)  # the office got the first version
    report = monthly_report(ws)
    edit_in_word(report)
    edited_bytes = report.read_bytes()

    lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械")], received=D(2026, 11, 8))  # a new form arrives
    data = consolidate(ws, month="2026-10", today=TODAY).to_dict()

    new = beside(report)
    rel, new_rel = (p.relative_to(ws.outbox).as_posix() for p in (report, new))
    assert report.read_bytes() == edited_bytes and ADDED in text_of(report)  # the person's work, untouched
    assert new.is_file() and ADDED not in text_of(new) and "鼓山区" in text_of(new)  # the new data, beside it
    assert data["edited"] == [{"path": rel, "new_version": new_rel}]
    [line] = data["edited_lines"]
    assert rel in line and "已被人工修改" in line and new.name in line
    assert str(new) in data["written"] and str(report) not in data["written"]
    with Ledger(ws.ledger_path) as ledger:
        rows = {r["path"]: dict(r) for r in ledger.query("SELECT * FROM outputs")}
    assert rows[new_rel]["version"] == 2 and rows[new_rel]["kind"] == "monthly_report"
    manifest = json.loads((ws.outbox / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    assert manifest[rel]["edited"] is True and manifest[new_rel]["new_version_of"] == rel

    # status lists it, as data and in the operator's words
    status = Workspace.open(ws.root).status("2026-10", today=TODAY)
    assert status["edited_outputs"] == [{"path": rel, "new_version": new_rel}]
    said = run_cli(ws, "status", "--month", "2026-10")
    assert "被人工修改过" in said and rel in said and new.name in said

    # the 总览 page links both, saying which is which
    page = (ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")
    assert "人工修改过的文件" in page and f"{report.name}（人工修改版" in page and new.name in page

    # the next report mail carries the new version under the report's own name and says the edited one exists
    message = mail_of(send_pending(ws, dry_run=True))
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert f"2026年10月{report.name}" in attached or report.name in attached
    assert new.read_bytes() in attached.values() and edited_bytes not in attached.values()
    body = message.get_body(("plain",)).get_content()
    assert "已被人工修改过" in body and rel in body

    # a third run with nothing new: both files stay as they are
    again = consolidate(ws, month="2026-10", today=TODAY)
    assert again.edited == [{"path": rel, "new_version": new_rel}]
    assert report.read_bytes() == edited_bytes and new not in again.written

    # the operator's consolidate says it in one line
    said = run_cli(ws, "consolidate", "--month", "2026-10")
    [line] = [line for line in said.splitlines() if "已被人工修改" in line]
    assert line.startswith("注意：") and rel in line and new.name in line
    assert report.read_bytes() == edited_bytes


def test_a_report_edited_in_word_survives_a_run_where_only_the_as_of_date_moves(october):
    ws, _ = october
    consolidate(ws, month="2026-10", today=TODAY)
    send_pending(ws, dry_run=True)
    report = monthly_report(ws)
    edit_in_word(report)
    edited_bytes = report.read_bytes()

    same_day = consolidate(ws, month="2026-10", today=TODAY)  # nothing new: nothing beside it
    rel = report.relative_to(ws.outbox).as_posix()
    assert same_day.edited == [{"path": rel, "new_version": None}]
    assert "数据没有变化" in same_day.edited_lines[0] and not beside(report).exists()

    next_day = consolidate(ws, month="2026-10", today=D(2026, 11, 27))
    new = beside(report)
    assert report.read_bytes() == edited_bytes and ADDED in text_of(report)
    assert new.is_file() and "2026年11月27日" in text_of(new)
    assert next_day.edited == [{"path": rel, "new_version": new.relative_to(ws.outbox).as_posix()}]
    assert new.name in next_day.edited_lines[0]
    # only the date moved: the office is not sent the same report again
    assert send_pending(ws, dry_run=True).dry_run_files == []

    # a day later the processor's own new version is simply replaced; the person's file still stands
    consolidate(ws, month="2026-10", today=D(2026, 11, 28))
    assert "2026年11月28日" in text_of(new) and report.read_bytes() == edited_bytes
    assert not beside(new).exists() and not new.with_name(new.name.replace("新版", "新版2")).exists()


def test_an_edited_new_version_is_kept_too(october):
    ws, _ = october
    consolidate(ws, month="2026-10", today=TODAY)
    report = monthly_report(ws)
    edit_in_word(report)
    consolidate(ws, month="2026-10", today=D(2026, 11, 27))
    new = beside(report)
    edit_in_word(new)
    kept = new.read_bytes()
    result = consolidate(ws, month="2026-10", today=D(2026, 11, 28))
    second = report.with_name(f"{report.stem}（程序新版2）{report.suffix}")
    assert new.read_bytes() == kept and second.is_file() and "2026年11月28日" in text_of(second)
    assert any(e["new_version"] == second.relative_to(ws.outbox).as_posix() for e in result.edited)


def test_a_file_the_processor_wrote_but_had_not_recorded_when_killed_is_not_taken_for_an_edit(october):
    """The version is recorded before the file is put in place: a run killed after the rename and
    before the outputs table was written leaves a file the next run still knows as its own."""
    ws, _ = october
    consolidate(ws, month="2026-10", today=TODAY)
    report = monthly_report(ws)
    rel = report.relative_to(ws.outbox).as_posix()
    consolidate(ws, month="2026-10", today=D(2026, 11, 27))
    with Ledger(ws.ledger_path) as ledger, ledger.atomic() as conn:  # as if the last batch was never recorded
        conn.execute("UPDATE outputs SET sha256 = 'unrecorded', inputs_hash = 'unrecorded' WHERE path = ?", (rel,))
    result = consolidate(ws, month="2026-10", today=D(2026, 11, 27))
    assert result.edited == [] and not beside(report).exists() and report in result.written


def test_once_the_edited_copy_is_deleted_the_report_is_written_under_its_own_name_again(october):
    ws, _ = october
    consolidate(ws, month="2026-10", today=TODAY)
    report = monthly_report(ws)
    edit_in_word(report)
    consolidate(ws, month="2026-10", today=D(2026, 11, 27))
    assert beside(report).is_file()
    report.unlink()  # the office has merged its paragraph elsewhere and deleted its copy
    result = consolidate(ws, month="2026-10", today=D(2026, 11, 28))
    assert result.edited == [] and report in result.written and "2026年11月28日" in text_of(report)
    assert not beside(report).exists()  # the processor's out-of-date new version went with it
    rel = report.relative_to(ws.outbox).as_posix()
    with Ledger(ws.ledger_path) as ledger:
        paths = {r["path"] for r in ledger.query("SELECT path FROM outputs")}
    assert rel in paths and beside(report).relative_to(ws.outbox).as_posix() not in paths
    assert Workspace.open(ws.root).status("2026-10", today=TODAY)["edited_outputs"] == []


def test_a_staging_file_left_by_a_killed_run_is_removed_by_the_next_run(october):
    ws, _ = october
    folder = ws.outbox / "月度汇总报告" / "2026-10"
    folder.mkdir(parents=True)
    leftover = folder / ".tmp-staged-0123456789abcdef.docx"
    leftover.write_bytes(b"PK half a report")
    consolidate(ws, month="2026-10", today=TODAY)
    assert not leftover.exists()
    assert not [p for p in ws.outbox.rglob(".tmp-*")]


def test_a_report_changed_before_it_was_ever_mailed_is_mailed_as_its_new_version_only(october, caplog):
    ws, lb = october
    consolidate(ws, month="2026-10", today=TODAY)
    report = monthly_report(ws)
    edit_in_word(report)
    lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械")], received=D(2026, 11, 8))
    consolidate(ws, month="2026-10", today=TODAY)
    message = mail_of(send_pending(ws, dry_run=True))
    reports = [part for part in message.iter_attachments() if "工作情况的报告" in part.get_filename()]
    assert len(reports) == 1 and reports[0].get_content() == beside(report).read_bytes()
    assert NEW_VERSION_MARK not in reports[0].get_filename()
    assert "与台账记录不符" not in caplog.text
