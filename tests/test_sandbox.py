"""The per-file budget: a file that takes too long or needs too much memory is rejected, and the
processor carries on with the next file."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import make_workspace
from openpyxl import Workbook

from processor.common.config import IntakeSettings
from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form
from processor.intake.sandbox import Sandbox, can_cap_memory


def big_text_workbook(path, rows=3000, cols=40):
    """Large but within the row/column limits: a sheet full of distinct long strings."""
    wb = Workbook()
    ws = wb.active
    ws.title = "示范点"
    for r in range(1, rows + 1):
        ws.append([f"{r}-{c}-" + "示范点联系指导" * 30 for c in range(cols)])
    wb.save(path)
    return path


def sandbox_for(workspace, **limits):
    settings = dataclasses.replace(IntakeSettings(), **limits)
    return Sandbox(workspace_roster(workspace), workspace.rulebook, settings)


def valid_form(workspace, tmp_path):
    roster = workspace_roster(workspace)
    return fill_form(tmp_path / "ok.xlsx", roster=roster, rulebook=workspace.rulebook,
                     unit=roster.units[0].name, month="2026-10")


@pytest.mark.slow
def test_a_file_over_the_time_budget_is_rejected_and_the_next_file_still_validates(workspace, tmp_path):
    form = valid_form(workspace, tmp_path)
    impatient = sandbox_for(workspace, timeout_seconds=0.001)
    try:
        result = impatient.validate(form)
        assert [p.code for p in result.problems] == ["timeout"]
        assert "秒内未能处理完成" in result.problems.errors[0].message
        impatient.limits = dataclasses.replace(impatient.limits, timeout_seconds=60)
        assert impatient.validate(form).accepted, "a fresh worker takes over after the killed one"
    finally:
        impatient.close()


@pytest.mark.slow
@pytest.mark.platform
@pytest.mark.skipif(not can_cap_memory(), reason="本系统不能限制进程内存（Windows）：只有处理时限起作用")
def test_a_file_over_the_memory_budget_is_rejected_as_too_large(workspace, tmp_path):
    heavy = big_text_workbook(tmp_path / "heavy.xlsx")
    frugal = sandbox_for(workspace, memory_mb=40, max_file_mb=100, max_uncompressed_mb=2000, max_ratio=10_000)
    try:
        result = frugal.validate(heavy)
        assert [p.code for p in result.problems] == ["too-large"]
        assert "内存" in result.problems.errors[0].message
        assert frugal.validate(valid_form(workspace, tmp_path)).accepted
    finally:
        frugal.close()


def test_intake_records_a_timeout_as_a_rejection_with_a_receipt(tmp_path):
    from processor.intake.run import process_inbox
    from processor.record.ledger import Ledger

    ws = make_workspace(tmp_path / "ws")
    # below what config.toml allows (1 s), so that even a small valid form runs out of time
    ws = ws.with_intake(timeout_seconds=0.001)
    valid_form(ws, tmp_path).rename(ws.inbox / "慢.xlsx")
    [outcome] = process_inbox(ws)
    assert outcome.status == "rejected" and outcome.problems[0].code == "timeout"
    with Ledger(ws.ledger_path) as ledger:
        row = ledger.files()[0]
    assert "秒内未能处理完成" in (ws.outbox / row["receipt_path"]).read_text(encoding="utf-8")
    assert not (ws.inbox / "慢.xlsx").exists()
