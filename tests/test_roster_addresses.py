"""E-mail cells of the roster are checked when it is read: a cell that would break or forge a mail
header is named, that unit has no address, and every other unit still gets its reminder."""

from __future__ import annotations

import datetime as dt
import email

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from deliver_helpers import make_workspace, smtp_server
from processor.cli import main
from processor.deliver.remind import send_reminders
from processor.validate.roster import load_roster, sample_roster, write_roster

REMIND_ON = "\n[remind]\nenabled = true\ndays_before = 2\nrepeat_days = 3\n"
ROSTER = sample_roster()
NOW = dt.datetime(2026, 11, 20, 9, 0).astimezone()  # October's form is overdue: every unit is due a 催报


def _roster_with(path, cells: dict[str, str]):
    write_roster(sample_roster(), path)
    wb = load_workbook(path)
    for cell, value in cells.items():
        wb["单位"][cell] = value
    wb.save(path)
    return path


@pytest.mark.parametrize("value, why", [
    ("x@example.gov.cn\nCC: boss@example.gov.cn", "换行"),
    ("a@example.gov.cn\nb@example.gov.cn", "换行"),
    ("a@example.gov.cn, b@example.gov.cn", "一个地址"),
    ("not-an-address", "不是有效的电子邮箱地址"),
])
def test_a_bad_email_cell_is_named_at_load_and_that_unit_has_no_address(tmp_path, value, why):
    # 单位 sheet: 电子邮箱 is column F; row 3 is the second unit (鼓山区)
    roster = load_roster(_roster_with(tmp_path / "roster.xlsx", {"F3": value}))
    unit = ROSTER.units[1]
    assert roster.unit(unit.name).email == ""
    [line] = roster.warnings
    assert "单位" in line and "F3" in line and why in line and unit.name in line
    assert "\n" not in line and value.replace("\n", "\\n") in line  # the value, shown on one line
    # every other unit keeps its address
    assert [u.email for u in roster.units if u.name != unit.name] == \
        [u.email for u in ROSTER.units if u.name != unit.name]


def test_remind_goes_on_for_every_other_unit_when_cells_carry_line_breaks(tmp_path):
    forged, split = ROSTER.units[1], ROSTER.units[2]
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port, extra=REMIND_ON)
        _roster_with(ws.roster_path, {"F3": "x@example.gov.cn\nCC: boss@example.gov.cn",
                                      "F4": "a@example.gov.cn\nb@example.gov.cn"})
        result = send_reminders(ws, now=NOW)
    others = [u for u in ROSTER.units if u.name not in (forged.name, split.name)]
    assert sorted(r.unit for r in result.sent) == sorted(u.name for u in others)
    assert sorted(result.no_address) == sorted([forged.name, split.name])
    assert len(result.warnings) == 2 and all("F3" in w or "F4" in w for w in result.warnings)
    recipients = sorted(a for envelope, _ in inbox.messages for a in envelope.rcpt_tos)
    assert recipients == sorted(u.email for u in others)
    for envelope, _ in inbox.messages:  # no header forged into any message, no Date pushed into a body
        parsed = email.message_from_bytes(envelope.original_content)
        assert parsed["Cc"] is None and parsed["Date"] and parsed["Message-ID"]
        assert "boss@" not in envelope.original_content.decode("ascii", "replace")


def test_remind_command_names_the_bad_cell_and_exits_without_a_traceback(tmp_path):
    ws = make_workspace(tmp_path / "ws", port=None, extra=REMIND_ON)
    _roster_with(ws.roster_path, {"F3": "x@example.gov.cn\nCC: boss@example.gov.cn"})
    run = CliRunner().invoke(main, ["--workspace", str(ws.root), "remind", "--month", "2026-10"])
    assert run.exit_code == 0, run.output
    assert "Traceback" not in run.output and "F3" in run.output and "电子邮箱" in run.output
