"""Names and values that come from the shared inbox are text everywhere: on the console (no Rich
markup), in processor.log (one line per file, control characters shown escaped)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import openpyxl

from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form

UNIT = "罗源县"


def _cli(ws, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PROCESSOR_NOW": "2026-11-03T10:00:00+08:00"})


def _broken_form(path, ws):
    fill_form(path, roster=workspace_roster(ws), rulebook=ws.rulebook, unit=UNIT, month="2026-10")
    wb = openpyxl.load_workbook(path)
    wb["组织生活"]["F2"] = -1  # one error: the file is returned, and status lists it
    wb.save(path)
    return path


def test_a_file_name_with_rich_markup_is_printed_as_it_is(workspace):
    (workspace.inbox / UNIT / "x[").mkdir(parents=True)
    _broken_form(workspace.inbox / UNIT / "x[" / "]y.xlsx", workspace)  # the entry 罗源县/x[/]y.xlsx
    name = "a[bold]b[link=mailto:x@example.org]c.xlsx"  # a style and a link, were it markup
    _broken_form(workspace.inbox / UNIT / name, workspace)

    processed = _cli(workspace, "process")
    assert processed.returncode == 0, processed.stderr
    assert name in processed.stdout and "]y.xlsx" in processed.stdout

    shown = _cli(workspace, "status", "--month", "2026-10")
    assert shown.returncode == 0, shown.stderr
    assert f"{UNIT}  {name}（1 处错误）" in shown.stdout and f"{UNIT}  ]y.xlsx（1 处错误）" in shown.stdout


def test_the_no_recipients_warning_keeps_its_smtp_section_name(workspace):
    sent = _cli(workspace, "send", "--dry-run")
    assert "[smtp] recipients" in sent.stderr


def test_a_line_break_in_a_file_name_cannot_forge_a_log_line(workspace):
    forged = "a.xlsx\n2026-11-03 10:00:00 INFO 已接收：闽清县 伪造.xlsx"
    (workspace.inbox / UNIT).mkdir()
    _broken_form(workspace.inbox / UNIT / forged, workspace)

    processed = _cli(workspace, "process", "--json")
    assert processed.returncode == 0, processed.stderr
    assert [o["status"] for o in json.loads(processed.stdout)] == ["rejected"]
    log = (workspace.root / "logs" / "processor.log").read_text(encoding="utf-8")
    assert not any(line.startswith("2026-11-03 10:00:00 INFO") for line in log.splitlines())
    assert "a.xlsx\\n2026-11-03" in log, "the name is logged on its own line, the break shown as \\n"
