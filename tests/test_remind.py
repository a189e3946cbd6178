"""催报 reminders to the units, against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import email
import subprocess
import sys
from email.utils import parsedate_to_datetime

import pytest
from click.testing import CliRunner

from processor.cli import main
from processor.common.config import ConfigError, load_workspace
from processor.intake.run import Intake
from processor.record.ledger import Ledger
from processor.deliver.message import MAIL_POLICY, build_message
from processor.deliver.remind import send_reminders
from processor.validate.roster import load_roster, sample_roster, write_roster
from deliver_helpers import attachments, free_port, make_workspace, smtp_server
from form_helpers import filled_form, set_cells
from ledger_helpers import LedgerBuilder, site

REMIND_ON = "\n[remind]\nenabled = true\ndays_before = 2\nrepeat_days = 3\n"
ROSTER = sample_roster()
UNITS = [u.name for u in ROSTER.units]
ADDRESS = {u.name: u.email for u in ROSTER.units}


def at(day: int, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, 9, 0).astimezone()


def _workspace(tmp_path, port, extra=REMIND_ON):
    return make_workspace(tmp_path / "ws", port=port, extra=extra)


def _submit(ws, unit, received):
    builder = LedgerBuilder(ws.ledger_path)
    try:
        builder.submit(unit, "2026-10", sites=[site(f"{unit}示范点")], received=received)
    finally:
        builder.ledger.close()


def _reject_luoyuan(ws, tmp_path):
    """A real 罗源县 form for 2026-10 with a contact dated in November: rejected by intake,
    with its receipt and annotated copy in the outbox."""
    form = set_cells(filled_form(ws.inbox / "罗源县10月.xlsx"), "联系指导记录", {"A2": dt.date(2026, 11, 2)})
    intake = Intake(ws, clock=lambda: at(1))
    try:
        outcome = intake.handle(form)
    finally:
        intake.close()
    assert outcome.status == "rejected"


def _mails(inbox):
    """(recipient, kind, unit) of every message, kind and unit read from the subject."""
    out = []
    for envelope, message in inbox.messages:
        subject = message["Subject"]
        kind = subject[subject.index("【") + 1:subject.index("】")]
        unit = subject[subject.rindex("（") + 1:-1]
        out.append((tuple(envelope.rcpt_tos), kind, unit))
    return out


def _rows(ws):
    with Ledger(ws.ledger_path) as ledger:
        return [dict(r) for r in ledger.query("SELECT * FROM reminders ORDER BY id")]


def _send_in_new_process(ws, now: dt.datetime) -> int:
    code = ("import datetime as dt, sys; from processor.common.config import load_workspace; "
            "from processor.deliver.remind import send_reminders; "
            f"r = send_reminders(load_workspace(sys.argv[1]), now=dt.datetime.fromisoformat('{now.isoformat()}')); "
            "print(len(r.sent))")
    run = subprocess.run([sys.executable, "-c", code, str(ws.root)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return int(run.stdout.strip())


@pytest.mark.slow
def test_each_unit_gets_one_mail_per_kind_and_interval_across_runs_and_processes(tmp_path):
    with smtp_server() as (inbox, port):
        ws = _workspace(tmp_path, port)
        _submit(ws, "榕城区", "2026-11-02T10:00:00+08:00")
        _reject_luoyuan(ws, tmp_path)

        # 2 November: the rejected unit hears at once; for the others it is too early (the
        # reminder interval opens days_before = 2 days before the 5th).
        send_reminders(ws, now=at(2))
        assert _mails(inbox) == [((ADDRESS["罗源县"],), "退回", "罗源县")]

        # 3 November: every unit without a form gets a 提醒, 罗源县 nothing new.
        first = send_reminders(ws, now=at(3))
        waiting = [u for u in UNITS if u not in ("榕城区", "罗源县")]
        expected = {((ADDRESS[u],), "提醒", u) for u in waiting} | {((ADDRESS["罗源县"],), "退回", "罗源县")}
        assert sorted(_mails(inbox)) == sorted(expected) and len(first.sent) == len(waiting)

        # The same interval again — in this process, a new process, and the next day — sends nothing.
        assert send_reminders(ws, now=at(3, 11).replace(hour=20)).sent == []
        assert _send_in_new_process(ws, at(4)) == 0
        assert len(inbox.messages) == len(expected)

        # 鼓山区 submits late; after the deadline the others get a 催报, 罗源县 a second 退回.
        _submit(ws, "鼓山区", "2026-11-06T08:00:00+08:00")
        before = len(inbox.messages)
        after = send_reminders(ws, now=at(6))
        chased = [u for u in waiting if u != "鼓山区"]
        new = _mails(inbox)[before:]
        assert sorted(new) == sorted({((ADDRESS[u],), "催报", u) for u in chased}
                                     | {((ADDRESS["罗源县"],), "退回", "罗源县")})
        assert len(after.sent) == len(new)

        # Within the repeat interval (3 days) nothing more; the next interval chases again.
        assert _send_in_new_process(ws, at(8)) == 0
        assert len(send_reminders(ws, now=at(9)).sent) == len(chased) + 1
        assert [kind for _, kind, unit in _mails(inbox) if unit in ("榕城区", "鼓山区")] == ["提醒"]
        assert {r["status"] for r in _rows(ws)} == {"sent"}


def test_mail_names_month_deadline_state_and_how_to_submit_and_attaches_the_annotated_copy(tmp_path):
    with smtp_server() as (inbox, port):
        ws = _workspace(tmp_path, port)
        _reject_luoyuan(ws, tmp_path)
        send_reminders(ws, now=at(7))
        by_unit = {m["Subject"][m["Subject"].rindex("（") + 1:-1]: m for _, m in inbox.messages}

        chase = by_unit["闽清县"].get_body(("plain",)).get_content()
        assert "2026年10月" in chase and "2026年11月5日" in chase and "未报送" in chase
        assert "已逾期2天" in chase and "报送方法" in chase and str(ws.inbox) in chase

        returned = by_unit["罗源县"]
        assert {parsedate_to_datetime(m["Date"]) for m in by_unit.values()} == {at(7)}  # the run's own time
        text = returned.get_body(("plain",)).get_content()
        assert "已退回待重报" in text and "联系指导记录!A2" in text and "2026-11-02" in text
        copies = attachments(returned)
        assert len(copies) == 1
        name, data = next(iter(copies.items()))
        assert name.endswith("_批注.xlsx") and data[:2] == b"PK"
        assert name in text
        # the file is attached as the report mail attaches its reports: the same header lines, so a
        # client that reads the office's attachments reads the county's annotated copy too
        [copy] = ws.outbox.rglob("*_批注.xlsx")
        report_mail = email.message_from_bytes(build_message(ws, [_output_row(ws, copy)], "").as_bytes(),
                                               policy=MAIL_POLICY)
        [as_report] = report_mail.iter_attachments()
        [as_reminder] = returned.iter_attachments()
        assert list(as_reminder.raw_items()) == list(as_report.raw_items())


def _output_row(ws, path) -> dict:
    """An outbox file as the report mail lists it."""
    return {"path": path.relative_to(ws.outbox).as_posix(), "period": None, "version": 1, "kind": "data"}


def test_nothing_is_sent_or_recorded_when_reminders_are_disabled(tmp_path):
    with smtp_server() as (inbox, port):
        ws = _workspace(tmp_path, port, extra="")
        assert ws.remind.enabled is False
        result = send_reminders(ws, now=at(7))
        assert not result.enabled and result.sent == [] and inbox.messages == []
        run = CliRunner().invoke(main, ["--workspace", str(ws.root), "remind"])
        assert run.exit_code == 0 and "未启用" in run.output
        assert inbox.messages == [] and _rows(ws) == []


def test_server_down_queues_the_reminder_and_a_later_run_sends_it_once(tmp_path):
    port = free_port()  # nothing listens yet
    ws = _workspace(tmp_path, port)
    for unit in UNITS[1:]:
        _submit(ws, unit, "2026-11-02T10:00:00+08:00")
    down = send_reminders(ws, now=at(6))
    assert [r.unit for r in down.queued] == [UNITS[0]] and "连接被拒绝" in down.error
    with smtp_server(port) as (inbox, _):
        assert send_reminders(ws, now=at(6).replace(minute=1)).sent == []  # back-off not yet over
        assert _send_in_new_process(ws, at(6).replace(minute=10)) == 1
        assert _send_in_new_process(ws, at(6).replace(hour=12)) == 0
        assert _mails(inbox) == [((ADDRESS[UNITS[0]],), "催报", UNITS[0])]
    assert [(r["status"], r["attempts"]) for r in _rows(ws)] == [("sent", 2)]


def test_a_queued_reminder_is_cancelled_once_the_unit_submits(tmp_path):
    port = free_port()
    ws = _workspace(tmp_path, port)
    for unit in UNITS[1:]:
        _submit(ws, unit, "2026-11-02T10:00:00+08:00")
    assert len(send_reminders(ws, now=at(6)).queued) == 1
    _submit(ws, UNITS[0], "2026-11-06T11:00:00+08:00")
    with smtp_server(port) as (inbox, _):
        assert send_reminders(ws, now=at(7)).sent == [] and inbox.messages == []
    assert [r["status"] for r in _rows(ws)] == ["cancelled"]


def test_dry_run_writes_one_eml_per_reminder_and_no_more_on_a_second_run(tmp_path):
    ws = _workspace(tmp_path, None)  # no SMTP host: dry-run
    for unit in UNITS[2:]:
        _submit(ws, unit, "2026-11-02T10:00:00+08:00")
    first = send_reminders(ws, now=at(3))
    assert len(first.dry_run_files) == 2 and all(p.suffix == ".eml" for p in first.dry_run_files)
    assert send_reminders(ws, now=at(4)).dry_run_files == []


def test_roster_without_email_column_still_loads_and_such_units_are_named(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "roster.xlsx"
    write_roster(ROSTER, path)
    wb = load_workbook(path)
    sheet = wb["单位"]
    column = [c.column for c in sheet[1] if c.value == "电子邮箱"][0]
    sheet.delete_cols(column)
    wb.save(path)
    old = load_roster(path)
    assert [u.email for u in old.units] == [""] * len(UNITS)

    ws = _workspace(tmp_path, None)
    old_path = ws.roster_path
    old_path.unlink()
    wb.save(old_path)
    result = send_reminders(ws, now=at(6))
    assert result.dry_run_files == [] and result.no_address == UNITS


def test_remind_settings_are_checked(tmp_path):
    ws = make_workspace(tmp_path / "ws", port=None, extra='\n[remind]\nenabled = "yes"\n')
    with pytest.raises(ConfigError, match="remind.enabled"):
        _ = ws.remind
    ws = load_workspace(make_workspace(tmp_path / "ws2", port=None, extra="\n[remind]\nrepeat_days = -1\n").root)
    with pytest.raises(ConfigError, match="remind.repeat_days"):
        _ = ws.remind
