"""A unit renamed in roster.xlsx keeps its history through the roster's 曾用名 column; a unit that
disappears from the roster while the ledger holds its forms is said, not silently dropped."""

from __future__ import annotations

import dataclasses
import json

from openpyxl import load_workbook

from docx_helpers import paragraphs, tables
from ledger_helpers import D, LedgerBuilder, site
from processor.consolidate.findings import MISSING, ON_TIME
from processor.consolidate.run import consolidate
from processor.validate.roster import load_roster, sample_roster, write_roster
from processor.workspace import Workspace

OLD, NEW = "市工商联党委", "市工商联（总商会）党委"


def _renamed(former_names: tuple[str, ...]):
    roster = sample_roster()
    roster.units = [dataclasses.replace(u, name=NEW, former_names=former_names) if u.name == OLD else u
                    for u in roster.units]
    roster.groups = {g: [NEW if u == OLD else u for u in units] for g, units in roster.groups.items()}
    return roster


def _workspace_with_history(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    builder = LedgerBuilder(ws.config.ledger_path)
    for month, day in (("2026-09", D(2026, 10, 3)), ("2026-10", D(2026, 11, 3))):
        builder.submit(OLD, month, sites=[site("工商联示范企业", "非公")], received=day, unit_kind="系统党委")
    builder.ledger.close()
    return ws


def _state(report, unit):
    return next(line["state"] for line in report["units"] if line["unit"] == unit)


def test_a_renamed_unit_with_its_former_name_keeps_its_months(tmp_path):
    ws = _workspace_with_history(tmp_path)
    write_roster(_renamed((OLD,)), ws.config.roster_path)
    for month in ("2026-09", "2026-10"):
        report = ws.status(month, today=D(2026, 12, 6))
        assert _state(report, NEW) == ON_TIME
        assert OLD not in [line["unit"] for line in report["units"]]
        assert report["warnings"] == []
    # the consolidation counts it too: the month's summary lists it as no missing unit
    consolidate(ws.config, month="2026-10", today=D(2026, 12, 6))
    summary = json.loads((ws.config.outbox / "manifest.json").read_text(encoding="utf-8"))["summary"]
    assert NEW not in summary and OLD not in summary
    # and the yearly summary: the unit's sites and months under its new name, the old one nowhere
    written = consolidate(ws.config, year="2026", today=D(2026, 12, 6)).written
    assert any(NEW in p.parts for p in written if "示范点档案" in p.parts)
    [year_doc] = [p for p in written if "年度工作总结" in p.parts and p.suffix == ".docx"]
    text = "\n".join(paragraphs(year_doc) + [c for t in tables(year_doc) for row in t for c in row])
    assert OLD not in text
    data = load_workbook(next(p for p in written if "汇总数据" in p.parts))
    units = {row[0] for sheet in data.worksheets for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert NEW in units and OLD not in units


def test_a_unit_gone_from_the_roster_without_a_former_name_is_said_in_one_line(tmp_path):
    ws = _workspace_with_history(tmp_path)
    write_roster(_renamed(()), ws.config.roster_path)
    report = ws.status("2026-10", today=D(2026, 12, 6))
    assert _state(report, NEW) == MISSING  # nothing says it is the same unit ...
    [line] = report["warnings"]  # ... but the operator is told which name vanished and what to do
    assert OLD in line and "曾用名" in line


def test_the_roster_template_has_the_former_names_column_with_a_note(tmp_path):
    path = write_roster(_renamed((OLD, "市工商业联合会党委")), tmp_path / "roster.xlsx")
    sheet = load_workbook(path)["单位"]
    header = {cell.value: cell for cell in sheet[1]}
    assert "曾用名" in header and "原名称" in header["曾用名"].comment.text
    roster = load_roster(path)
    assert roster.unit(NEW).former_names == (OLD, "市工商业联合会党委")
    assert roster.current_name(OLD) == NEW and roster.current_name("罗源县") == "罗源县"
    # several former names may be typed with 、 or ;
    wb = load_workbook(path)
    column = [c.column_letter for c in wb["单位"][1] if c.value == "曾用名"][0]
    row = next(c.row for c in wb["单位"]["B"] if c.value == NEW)
    wb["单位"][f"{column}{row}"] = f"{OLD}; 市工商业联合会党委"
    wb.save(path)
    assert load_roster(path).unit(NEW).former_names == (OLD, "市工商业联合会党委")


def test_a_form_still_under_the_former_name_counts_for_the_renamed_unit_with_a_warning(tmp_path):
    from processor.validate.samples import fill_form

    ws = Workspace.create(tmp_path / "ws")
    write_roster(_renamed((OLD,)), ws.config.roster_path)
    form = fill_form(tmp_path / "form.xlsx", roster=sample_roster(), rulebook=ws.config.rulebook, unit=OLD,
                     month="2026-10", seed=3)
    for folder in (NEW, OLD):  # the unit's folder, and a folder still named as it was
        (ws.config.inbox / folder).mkdir(parents=True, exist_ok=True)
    form.rename(ws.config.inbox / OLD / "10月报表.xlsx")
    [outcome] = ws.process().outcomes
    assert outcome.status == "accepted" and outcome.unit == NEW
    [warning] = [p for p in outcome.problems if p.code == "former-unit-name"]
    assert OLD in warning.message and NEW in warning.message
    assert _state(ws.status("2026-10", today=D(2026, 12, 6)), NEW) != MISSING


def test_a_months_site_names_for_the_shared_site_check_read_a_renamed_units_later_form_under_its_new_name(tmp_path):
    """The site names a new form's checks compare with (one site in two units' forms) are the month's
    sites as consolidation reads them: a month sent under the former name and again under the new one
    counts the later form only, under the new name."""
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    builder.submit(OLD, "2026-10", sites=[site("旧名时的示范点", "非公")], received=D(2026, 11, 2),
                   unit_kind="系统党委")
    builder.submit(NEW, "2026-10", sites=[site("工商联示范企业", "非公"), site("第二示范企业", "非公")],
                   received=D(2026, 11, 4), unit_kind="系统党委")
    builder.submit("鼓楼区", "2026-10", sites=[site("鼓楼示范企业")], received=D(2026, 11, 3))
    ledger = builder.ledger
    ledger.read_units_as({OLD: NEW})
    expected = [(r["unit"], r["site"]) for r in ledger.accepted_records("sites", months=["2026-10"])]
    assert ledger.accepted_site_names("2026-10") == expected
    assert (NEW, "工商联示范企业") in expected and all(unit != OLD and name != "旧名时的示范点" for unit, name in expected)
