"""``processor serve``: watcher + nightly consolidation + sending in one process."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deliver_helpers import attachments, smtp_server
from processor.common.config import load_workspace
from processor.record.ledger import Ledger
from processor.deliver.serve import last_scheduled_time, missed_night, parse_every, read_state
from serve_helpers import DAY, MONTH, far_from_now, serve_workspace, serving, wait_for

def _drop_valid_form(ws, tmp_path: Path, seed: int = 0) -> Path:
    from processor.validate.roster import workspace_roster
    from processor.validate.samples import fill_form

    roster = workspace_roster(ws)
    unit = roster.unit_names[seed % len(roster.unit_names)]
    staged = fill_form(tmp_path / f"staged-{seed}.xlsx", roster=roster, rulebook=ws.rulebook, unit=unit,
                       month=MONTH, seed=seed)
    target = ws.inbox / f"{unit}{MONTH}月报表.xlsx"
    shutil.copyfile(staged, ws.inbox / ".partial")  # appear complete, all at once
    os.replace(ws.inbox / ".partial", target)
    return target


def _receipts(ws) -> list[Path]:
    return [p for p in ws.receipts_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]


def _nights_started(ws) -> int:
    log = ws.root / "logs" / "processor.log"
    return log.read_text(encoding="utf-8").count("开始夜间汇总") if log.exists() else 0


def _start(ws, *args, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PROCESSOR_NIGHTLY_EVERY"}
    return subprocess.Popen([sys.executable, "-m", "processor", "--workspace", str(ws.root), "serve", *args],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)


def _terminate(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


# --- the schedule arithmetic ------------------------------------------------------------------

def test_missed_night_is_noticed_only_after_a_scheduled_time_passed():
    tz = dt.timezone(dt.timedelta(hours=8))
    at = (22, 30)
    morning = dt.datetime(2026, 11, 26, 8, 0, tzinfo=tz)
    assert last_scheduled_time(morning, at) == dt.datetime(2026, 11, 25, 22, 30, tzinfo=tz)
    assert last_scheduled_time(morning.replace(hour=23), at) == dt.datetime(2026, 11, 26, 22, 30, tzinfo=tz)
    # Ran last night: nothing to catch up.  Ran the night before: the machine was off, catch up.
    assert not missed_night({"last_run": "2026-11-25T22:30:04+08:00"}, morning, at)
    assert missed_night({"last_run": "2026-11-24T22:30:02+08:00"}, morning, at)
    # Never ran, but serve has been installed since before last night: catch up too.
    assert missed_night({"since": "2026-11-25T09:00:00+08:00"}, morning, at)
    assert not missed_night({"since": "2026-11-26T07:00:00+08:00"}, morning, at)
    assert not missed_night({}, morning, at)


def test_accelerated_schedule_accepts_seconds_only():
    assert parse_every("5") == 5 and parse_every("2.5s") == 2.5 and parse_every(None) is None
    with pytest.raises(ValueError, match="秒数"):
        parse_every("every night")


# --- the process ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_serve_subprocess_answers_a_dropped_file_logs_and_stops_on_sigterm(tmp_path):
    ws = serve_workspace(tmp_path / "ws", port=None, nightly_at=far_from_now())
    log = tmp_path / "serve.out"
    proc = _start(ws, log=log)
    try:
        wait_for(lambda: "处理程序已启动" in log.read_text(encoding="utf-8", errors="replace"), 60,
                  "serve 启动", proc, log)
        dropped = _drop_valid_form(ws, tmp_path)
        receipts = wait_for(lambda: _receipts(ws), 60, "回执", proc, log)
        # taken from the inbox: intake writes the receipt first and removes the file after (a crash between
        # the two is recovered), so the file goes a moment after the receipt appears
        wait_for(lambda: not dropped.exists(), 60, "收件箱中的文件被取走", proc, log)
        assert any(MONTH in str(p) for p in receipts)

        # A second processor on the same workspace is refused with a Chinese message.
        second = subprocess.run([sys.executable, "-m", "processor", "--workspace", str(ws.root), "serve"],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "另一个处理程序正在运行" in second.stderr
    finally:
        code = _terminate(proc)
    assert code == 0, log.read_text(encoding="utf-8", errors="replace")
    text = (ws.root / "logs" / "processor.log").read_text(encoding="utf-8")
    assert "处理程序已启动" in text and "处理程序已停止" in text
    assert read_state(ws).get("since")  # a later missed night will be noticed


@pytest.mark.slow
def test_serve_nightly_run_consolidates_and_mails_reports_once(tmp_path):
    with smtp_server() as (inbox, port):
        ws = serve_workspace(tmp_path / "ws", port=port, nightly_at=far_from_now())
        log = ws.root / "logs" / "processor.log"
        with serving(ws, "3") as codes:
            wait_for(lambda: log.exists() and "处理程序已启动" in log.read_text(encoding="utf-8"), 60, "serve 启动",
                      log=log)
            _drop_valid_form(ws, tmp_path)
            wait_for(lambda: _receipts(ws), 60, "回执", log=log)
            # Nights never overlap (consolidate, then send, under one lock): once a night has started,
            # every earlier night's mail has been sent in full — counting before that could miss one in
            # flight.  A night that ran before the form arrived may already have mailed empty reports;
            # the first night started after the receipt mails the reports with the form's data …
            after_receipt = _nights_started(ws)
            wait_for(lambda: _nights_started(ws) >= after_receipt + 2, 180, "夜间汇总后的邮件", log=log)
            sent = len(inbox.messages)
            assert sent >= 1
            # … and later nights, with nothing new, mail nothing again.
            wait_for(lambda: _nights_started(ws) >= after_receipt + 4, 180, "又两次夜间汇总", log=log)
        assert codes == [0], log.read_text(encoding="utf-8")
        assert len(inbox.messages) == sent
    _, message = inbox.messages[-1]
    assert "企业组示范点联系指导工作报告" in message["Subject"]
    files = {name: data for _, mail in inbox.messages for name, data in attachments(mail).items()}
    with Ledger(ws.ledger_path) as ledger:
        outputs = {r["kind"]: (ws.outbox / r["path"]).read_bytes() for r in ledger.query("SELECT * FROM outputs")}
    assert "monthly_report" in outputs, "夜间汇总没有生成月度汇总报告"
    # Every report kind configured for mailing arrived, with the bytes of the outbox file.
    for kind in set(ws.smtp.reports) & set(outputs):
        assert outputs[kind] in files.values(), f"{kind} 未随邮件发出"
    assert any(name.endswith(".docx") and "2026年10月" in name for name in files)
    body = message.get_body(("plain",)).get_content()
    # The month in brief (from the consolidation manifest, or the ledger): one late unit, the rest missing.
    from processor.validate.roster import workspace_roster

    not_reported = workspace_roster(ws).unit_names[1]  # _drop_valid_form used unit_names[0]
    assert "逾期报送" in body and "未报送" in body and not_reported in body
    assert read_state(ws).get("last_run")


@pytest.mark.slow
def test_serve_catches_up_a_missed_night_on_start_and_stops_on_event(tmp_path):
    from processor.intake.run import process_inbox
    from processor.deliver.serve import write_state

    with smtp_server() as (inbox, port):
        ws = serve_workspace(tmp_path / "ws", port=port, nightly_at=far_from_now())
        _drop_valid_form(ws, tmp_path)
        process_inbox(ws)
        two_days_ago = DAY - dt.timedelta(days=2)
        write_state(ws, last_run=two_days_ago.isoformat(timespec="seconds"))
        with serving(ws, "") as codes:  # the real schedule, twelve hours away
            wait_for(lambda: inbox.messages, 180, "补做的夜间汇总邮件", log=ws.root / "logs" / "processor.log")
        assert codes == [0]
        assert dt.datetime.fromisoformat(read_state(ws)["last_run"]) > two_days_ago
        assert len(inbox.messages) == 1


@pytest.mark.slow
def test_serve_nightly_run_mails_each_unit_its_reminder_once(tmp_path):
    from processor.validate.roster import workspace_roster

    with smtp_server() as (inbox, port):
        ws = serve_workspace(tmp_path / "ws", port=port, nightly_at=far_from_now())
        config = ws.root / "config.toml"
        config.write_text(config.read_text(encoding="utf-8") + "\n[remind]\nenabled = true\n", encoding="utf-8")
        ws = load_workspace(ws.root)
        log = ws.root / "logs" / "processor.log"
        nights = lambda: log.read_text(encoding="utf-8").count("夜间汇总完成") if log.exists() else 0  # noqa: E731
        reminders = lambda: [env.rcpt_tos for env, mail in inbox.messages if "】" in mail["Subject"]]  # noqa: E731
        with serving(ws, "2") as codes:  # on 20 November October's form is overdue: every unit is reminded
            wait_for(lambda: reminders() and nights() >= 1, 180, "催报邮件", log=log)
            first = nights()
            wait_for(lambda: nights() >= first + 2, 120, "又两次夜间汇总", log=log)
        assert codes == [0], log.read_text(encoding="utf-8")
    addresses = sorted(address for rcpt in reminders() for address in rcpt)
    assert addresses == sorted(u.email for u in workspace_roster(ws).units)
