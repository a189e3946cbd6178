"""Nightly consolidation on a real ledger and workspace: idempotence, versions, xlsx contents, safety."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from ledger_helpers import D, LedgerBuilder, activity, contact, hardware, site
from processor.cli import main
from processor.consolidate.run import consolidate, default_month
from processor.render.columns import summary_sheets
from processor.record.ledger import Ledger
from processor.render.workbooks import summary_workbook
from scenario_helpers import INJECTION, TODAY, fill_consolidation_ledger
from processor.schemas.form import FORM_SHEETS, SHEETS_BY_KEY


@pytest.fixture
def filled(workspace):
    lb = fill_consolidation_ledger(workspace)
    yield workspace, lb
    lb.ledger.close()


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_default_month_is_the_latest_month_past_its_deadline(workspace):
    assert default_month(workspace, D(2026, 11, 26)) == "2026-10"
    assert default_month(workspace, D(2026, 11, 5)) == "2026-09"  # deadline day: not passed yet
    assert default_month(workspace, D(2026, 11, 6)) == "2026-10"
    assert default_month(workspace, D(2027, 1, 6)) == "2026-12"


def test_consolidating_twice_changes_no_file(filled):
    ws, _ = filled
    first = consolidate(ws, month="2026-10", today=TODAY)
    assert not first.skipped
    names = {p.relative_to(ws.outbox).as_posix() for p in first.written}
    assert "汇总数据/2026-10/汇总数据.xlsx" in names
    assert "催报名单/2026-10/催报名单.xlsx" in names
    assert "示范点档案/榕城区/榕城电子.docx" in names and "示范点档案/鼓山区/鼓山机械.docx" in names
    assert any(n.startswith("月度汇总报告/2026-10/") and n.endswith(".docx") for n in names)
    assert any(n.startswith("分组情况一览表/") and n.endswith(".xlsx") for n in names)
    for path in ws.outbox.rglob("*"):  # a rewrite, however soon, would show as a new mtime
        if path.is_file():
            os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = snapshot(ws.outbox)
    second = consolidate(ws, month="2026-10", today=TODAY)
    assert second.written == [] and len(second.unchanged) == len(first.written)
    assert snapshot(ws.outbox) == before
    with Ledger(ws.ledger_path) as ledger:
        versions = {r["path"]: r["version"] for r in ledger.query("SELECT path, version FROM outputs")}
    assert set(versions) == names and set(versions.values()) == {1}


@pytest.mark.slow
def test_a_changed_submission_rebuilds_only_what_depends_on_it(filled):
    ws, lb = filled
    consolidate(ws, month="2026-10", today=TODAY)
    before = snapshot(ws.outbox)
    # 榕城区 corrects its October form: a second contact record.  It arrives before the month's last
    # arrival (11-08), so the run's as-of day, which every dossier prints, stays the same.
    lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公", plan_date=D(2026, 11, 20))],
              contacts=[contact(D(2026, 10, 8), "榕城电子", mode="现场指导", content=INJECTION),
                        contact(D(2026, 10, 22), "榕城电子", content="电话了解方案起草进度")],
              org_life=[activity(D(2026, 10, 20), "榕城电子", "党员大会")],
              hardware_rows=[hardware("榕城电子", area=49.9)], received=D(2026, 11, 7))
    result = consolidate(ws, month="2026-10", today=TODAY)
    changed = {p.relative_to(ws.outbox).as_posix() for p in result.written}
    assert "示范点档案/榕城区/榕城电子.docx" in changed
    assert "汇总数据/2026-10/汇总数据.xlsx" in changed
    assert any(n.startswith("月度汇总报告/2026-10/") and n.endswith(".docx") for n in changed)
    assert "示范点档案/鼓山区/鼓山机械.docx" not in changed
    after = snapshot(ws.outbox)
    assert after["示范点档案/鼓山区/鼓山机械.docx"] == before["示范点档案/鼓山区/鼓山机械.docx"]
    with Ledger(ws.ledger_path) as ledger:
        versions = {r["path"]: r["version"] for r in ledger.query("SELECT path, version FROM outputs")}
    assert versions["示范点档案/榕城区/榕城电子.docx"] == 2
    assert versions["示范点档案/鼓山区/鼓山机械.docx"] == 1
    manifest = json.loads((ws.outbox / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["outputs"]["示范点档案/榕城区/榕城电子.docx"]
    current = lb.ledger.current_submission("榕城区", "2026-10")
    assert [s["file_id"] for s in entry["sources"]] == [current["id"]]
    assert entry["sources"][0]["sha256"] == current["sha256"] and entry["version"] == 2


def test_summary_workbook_equals_the_ledger_and_escapes_formulas(filled):
    ws, lb = filled
    consolidate(ws, month="2026-10", today=TODAY)
    wb = openpyxl.load_workbook(ws.outbox / "汇总数据" / "2026-10" / "汇总数据.xlsx")
    assert wb.sheetnames == [s.title for s in FORM_SHEETS]
    for spec in FORM_SHEETS:
        sheet = wb[spec.title]
        header = [c.value for c in sheet[1]]
        assert header[:2] == ["填报单位", "报送月份"]
        assert set(header[2:]) <= set(spec.titles)
        assert sheet.freeze_panes == "C2" and sheet.auto_filter.ref.startswith("A1:")
        frame = lb.ledger.accepted_rows(spec.key, months=["2026-10"])
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
        assert len(rows) == len(frame)
        assert [(r[0], r[1]) for r in rows] == list(zip(frame["unit"], frame["month"], strict=True))
    contacts = wb[SHEETS_BY_KEY["contacts"].title]
    header = [c.value for c in contacts[1]]
    content = contacts.cell(2, header.index("内容") + 1)
    assert content.data_type == "s" and content.value == INJECTION and content.quotePrefix  # text, shown as sent
    hw = wb[SHEETS_BY_KEY["hardware"].title]
    header = [c.value for c in hw[1]]
    areas = [r[header.index("活动室面积(㎡)")] for r in hw.iter_rows(min_row=2, values_only=True)]
    assert 49.9 in areas


def test_reminder_and_assignment_workbooks_show_the_ledger_state(filled):
    ws, _ = filled
    consolidate(ws, month="2026-10", today=TODAY)
    sheet = openpyxl.load_workbook(ws.outbox / "催报名单" / "2026-10" / "催报名单.xlsx").active
    rows = {r[0]: r for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert "榕城区" not in rows and "鼓山区" not in rows  # submitted (one late)
    assert rows["闽江区"][5] == "已退回待重报" and rows["闽江区"][6] == 21
    assert rows["罗源县"][5] == "未报送" and rows["罗源县"][3] == "0591-26834567"
    table = openpyxl.load_workbook(
        ws.outbox / "分组情况一览表" / "企业组人员联系示范点分组情况一览表.xlsx").active
    values = list(table.iter_rows(min_row=3, values_only=True))
    by_site = {r[3]: r for r in values if r[3]}
    assert by_site["榕城电子"][2] == "榕城区" and by_site["鼓山机械"][2] == "鼓山区"
    assert by_site["榕城电子"][4] == "非公"
    # one complete row per record: filtering or sorting never blanks the group or the staff
    for book in (table, sheet):
        assert not book.merged_cells.ranges
        assert book.freeze_panes == "A3" and book.auto_filter.ref.startswith("A2:")
    assert all(r[0] and r[1] for r in values)
    assert sum(r[0] == values[0][0] for r in values) > 1  # the group is repeated on its rows, not blank
    assert "截至" in sheet.cell(1, 1).value
    flagged = [r for r in values if r[8] == "未确定联系示范点"]
    assert len(flagged) == 20 - 2  # every member of the sample roster without a site


def test_xlsx_bytes_are_deterministic(filled):
    _, lb = filled
    import datetime as dt

    sheets = summary_sheets({s.key: lb.ledger.accepted_records(s.key) for s in FORM_SHEETS})
    first = summary_workbook(sheets, dt.datetime(2026, 11, 8))
    time.sleep(1.1)
    assert summary_workbook(sheets, dt.datetime(2026, 11, 8)) == first


def test_cli_consolidate_json(filled):
    ws, _ = filled
    runner = CliRunner()
    result = runner.invoke(main, ["--workspace", str(ws.root), "consolidate", "--month", "2026-10", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["months"] == ["2026-10"] and data["written"]
    again = runner.invoke(main, ["--workspace", str(ws.root), "consolidate", "--month", "2026-10", "--json"])
    assert json.loads(again.output)["written"] == []
    bad = runner.invoke(main, ["--workspace", str(ws.root), "consolidate", "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_leftovers_of_a_killed_consolidation_are_cleared_but_a_live_writer_is_not_disturbed(filled):
    import os

    from processor.consolidate.run import STALE_TEMP_SECONDS

    ws, _ = filled
    folder = ws.outbox / "月度汇总报告"
    folder.mkdir(parents=True, exist_ok=True)
    stale, fresh = folder / ".tmp-abc.docx", folder / ".tmp-live.docx"
    receipt_tmp = ws.receipts_dir / ".tmp-receipt.html"
    receipt_tmp.parent.mkdir(parents=True, exist_ok=True)
    for path in (stale, fresh, receipt_tmp):
        path.write_bytes(b"half")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(receipt_tmp, (old, old))
    consolidate(ws, month="2026-10", today=TODAY)
    assert not stale.exists()
    assert fresh.exists(), "a temp file being written right now is left to its writer"
    assert receipt_tmp.exists(), "the receipts folder belongs to intake's recovery"


@pytest.mark.slow
def test_outputs_written_by_worker_processes_equal_those_written_in_process(filled, monkeypatch):
    import processor.consolidate.run as consolidation

    ws, _ = filled

    def outputs():
        return {p.relative_to(ws.outbox).as_posix(): p.read_bytes() for p in ws.outbox.rglob("*")
                if p.is_file() and p.name != "manifest.json" and "回执" not in p.parts}

    monkeypatch.setattr(consolidation, "PARALLEL_MIN_DOSSIERS", 10_000)
    consolidate(ws, month="2026-10", today=TODAY)
    in_process = outputs()
    for rel in in_process:
        (ws.outbox / rel).unlink()
    monkeypatch.setattr(consolidation, "PARALLEL_MIN_DOSSIERS", 1)
    result = consolidate(ws, month="2026-10", today=TODAY)
    assert {".docx", ".xlsx", ".png"} <= {Path(rel).suffix for rel in in_process}
    assert outputs() == in_process
    assert len(result.written) == len(in_process) and not result.unchanged


def test_render_workers_load_neither_pandas_nor_the_models():
    """A render worker imports the jobs, their renderers and the command's main module (every
    worker process re-imports it): pandas and the models would double its start-up time and
    memory."""
    import subprocess
    import sys

    code = ("import sys; import processor.cli; from processor.render import jobs, workbooks; jobs.warm_up(); "
            "print(sorted(m for m in ('pandas', 'pandera', 'processor.schemas.form') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_sites_whose_names_clash_on_disk_get_one_dossier_each_with_a_safe_lasting_name(workspace):
    """A slash and an underscore, two long names sharing a prefix, a right-to-left override: one
    dossier per site, names within the limit and ending in .docx, and a second night rewrites none."""
    import unicodedata

    names = ["马尾造船/一分厂", "马尾造船_一分厂", "长" * 99 + "甲", "长" * 99 + "乙", "榕城\u202ecod.exe"]
    lb = LedgerBuilder(workspace.ledger_path)
    try:
        lb.submit("榕城区", "2026-10", sites=[site(n) for n in names])
        first = consolidate(workspace, month="2026-10", today=TODAY)
        folder = workspace.outbox / "示范点档案"
        before = files_and_inodes(folder)
        second = consolidate(workspace, month="2026-10", today=TODAY)
    finally:
        lb.ledger.close()
    assert not first.skipped
    with Ledger(workspace.ledger_path) as ledger:
        dossiers = {r["period"]: r["path"] for r in ledger.query("SELECT * FROM outputs WHERE kind = 'site_dossier'")}
    assert sorted(dossiers) == sorted(f"榕城区/{n}" for n in names)
    assert len(set(dossiers.values())) == len(names) == len(before)
    for rel in dossiers.values():
        name = Path(rel).name
        assert (workspace.outbox / rel).is_file() and name.endswith(".docx")
        assert len(name.encode("utf-8")) <= 255 and len(name.encode("utf-16-le")) // 2 <= 255
        assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in rel)
    assert second.written == [] and files_and_inodes(folder) == before


def files_and_inodes(folder):
    """Every file's bytes and inode: a rewrite (an atomic replace) always gives a new inode."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_ino)
            for p in folder.rglob("*") if p.is_file()}
