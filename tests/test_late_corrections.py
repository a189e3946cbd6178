"""A correction for an earlier month is reported (SPEC §10, one snapshot per run): the nightly run
rebuilds every earlier period of the outbox whose forms changed since it was written, mails the new
version and says why; a period whose forms did not change is left as it was."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import openpyxl
import pytest
from deliver_helpers import attachments, make_workspace, smtp_server
from docx_helpers import paragraphs
from form_helpers import UNIT, scenario_form

from processor.consolidate.run import consolidate
from processor.deliver.mail import send_pending
from processor.intake.run import Intake
from processor.record.ledger import Ledger
from processor.schemas.form import SHEETS_BY_KEY

CST = dt.timezone(dt.timedelta(hours=8))
CONTACTS = SHEETS_BY_KEY["contacts"].title


def _contacts_in_summary(data: bytes) -> int:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return sum(1 for row in book[CONTACTS].iter_rows(min_row=2, values_only=True) if row[0] == UNIT)
    finally:
        book.close()


def _report(ws, month: str) -> Path:
    [path] = (ws.outbox / "月度汇总报告" / month).glob("*.docx")
    return path


def _as_of_line(path: Path) -> str:
    return next(t for t in paragraphs(path) if "数据截至" in t)


@pytest.mark.slow
def test_a_late_correction_of_october_rebuilds_october_and_the_mail_says_so(tmp_path):
    """罗源县's October form (6 contacts) is reported in November.  On 20 November it sends a
    corrected October form (9 contacts), accepted as 以本文件为准.  The December night builds
    November and also October again, from the corrected form: October's 汇总数据 has 9 contacts, the
    report mail carries October's new version and says "2026年10月月度汇总报告已按罗源县10月更正报表
    重新生成".  September, whose form did not change (it was only sent again), is not touched (it still says 数据截至2026年10月8日),
    and the next night leaves October alone too."""
    received = [dt.datetime(2026, 10, 3, 10, tzinfo=CST)]
    forms = tmp_path / "forms"
    forms.mkdir()
    with smtp_server() as (inbox, port):
        ws = make_workspace(tmp_path / "ws", port=port)
        intake = Intake(ws, clock=lambda: received[0])

        def hand_in(form: Path, name: str, day: dt.date, status: str = "accepted") -> None:
            received[0] = dt.datetime(day.year, day.month, day.day, 10, tzinfo=CST)
            target = ws.inbox / name
            shutil.copyfile(form, target)
            outcome = intake.handle(target)
            assert outcome is not None and outcome.status == status, outcome

        def night(day: dt.date):
            result = consolidate(ws, as_of=day)
            sent = send_pending(ws, now=dt.datetime.combine(day, dt.time(22, 30), CST))
            assert not sent.failed and not sent.error
            return result

        try:
            hand_in(scenario_form(forms / "9.xlsx", UNIT, "2026-09", seed=1), "九月报表.xlsx", dt.date(2026, 10, 3))
            assert night(dt.date(2026, 10, 8)).months == ["2026-09"]
            hand_in(scenario_form(forms / "10.xlsx", UNIT, "2026-10", seed=1, contacts=6), "十月报表.xlsx",
                    dt.date(2026, 11, 3))
            assert night(dt.date(2026, 11, 8)).months == ["2026-10"]
            assert len(inbox.messages) == 2
            september = {p: p.read_bytes() for p in ws.outbox.rglob("*") if p.is_file() and "2026-09" in p.as_posix()}
            assert "2026年10月8日" in _as_of_line(_report(ws, "2026-09"))
            summary_rel = "汇总数据/2026-10/汇总数据.xlsx"
            assert _contacts_in_summary((ws.outbox / summary_rel).read_bytes()) == 6

            hand_in(scenario_form(forms / "10b.xlsx", UNIT, "2026-10", seed=2, contacts=9), "十月报表（更正）.xlsx",
                    dt.date(2026, 11, 20))
            hand_in(scenario_form(forms / "11.xlsx", UNIT, "2026-11", seed=1), "十一月报表.xlsx", dt.date(2026, 12, 2))
            hand_in(forms / "9.xlsx", "九月报表（再次发送）.xlsx", dt.date(2026, 12, 3), "duplicate")  # changes nothing
            result = night(dt.date(2026, 12, 8))
        finally:
            intake.close()

        note = f"2026年10月月度汇总报告已按{UNIT}10月更正报表重新生成"
        assert result.months == ["2026-10", "2026-11"]
        assert result.updates == [note]
        # October again, from the corrected form, and as of the night that rebuilt it
        assert _contacts_in_summary((ws.outbox / summary_rel).read_bytes()) == 9
        assert "2026年12月8日" in _as_of_line(_report(ws, "2026-10"))
        # September's forms did not change: not one byte of its outputs did
        assert {p: p.read_bytes() for p in september} == september
        assert "2026年10月8日" in _as_of_line(_report(ws, "2026-09"))

        assert len(inbox.messages) == 3
        _, message = inbox.messages[2]
        assert "（更新）" in message["Subject"]
        body = message.get_body(("plain",)).get_content()
        assert note in body
        attached = attachments(message)
        october = [name for name in attached if "2026年10月" in name or "2026-10" in name]
        assert any(name.endswith(".docx") and "10月" in name for name in october)
        [summary_name] = [n for n in attached if n.endswith("汇总数据.xlsx") and "10月" in n]
        assert _contacts_in_summary(attached[summary_name]) == 9
        with Ledger(ws.ledger_path) as ledger:
            [row] = ledger.query("SELECT update_note FROM outputs WHERE kind = 'monthly_report' AND period = '2026-10'")
            assert row["update_note"] == note

        # nothing changed since: the next night builds November only, and mails nothing
        quiet = night(dt.date(2026, 12, 9))
        assert quiet.months == ["2026-11"] and quiet.updates == []
        assert "2026年12月8日" in _as_of_line(_report(ws, "2026-10"))
        assert len(inbox.messages) == 3


@pytest.mark.slow
def test_a_correction_after_the_year_ended_rebuilds_its_month_half_year_and_year(workspace):
    """In February 2027 鼓山区 corrects its October 2026 form.  The February night rebuilds, besides
    January, October's report and 汇总数据, the 2026 H2 report and the 2026 yearly summary (all
    written before and all read October's forms), and November and December (whose problem threads
    read them too); September, which does not read October, stays as it was.  A ledger whose outputs were
    written before their sources were recorded (upgraded) finds the change from the manifest."""
    from ledger_helpers import D, LedgerBuilder, contact, site

    lb = LedgerBuilder(workspace.ledger_path)
    try:
        sites = [site("鼓山机械", staff="林少华")]
        for month in ("2026-09", "2026-10", "2026-11", "2026-12"):
            y, m = int(month[:4]), int(month[5:])
            day = D(y + (m == 12), m % 12 + 1, 2)
            lb.submit("鼓山区", month, sites=sites, received=day,
                      contacts=[contact(D(y, m, 10), "鼓山机械", staff="林少华")])
            consolidate(workspace, as_of=day + dt.timedelta(days=6))
        with Ledger(workspace.ledger_path) as ledger:
            built = {(r["kind"], r["period"]) for r in ledger.query("SELECT kind, period FROM outputs")}
            assert {("half_year_report", "2026-H2"), ("year_report", "2026"), ("monthly_report", "2026-10")} <= built
            with ledger.atomic() as conn:  # as an upgraded ledger has them
                conn.execute("UPDATE outputs SET sources_hash = NULL")
        lb.submit("鼓山区", "2026-10", sites=sites, received=D(2027, 2, 3),
                  contacts=[contact(D(2026, 10, 10), "鼓山机械", staff="林少华"),
                            contact(D(2026, 10, 20), "鼓山机械", staff="林少华", mode="现场指导")])
        result = consolidate(workspace, as_of=D(2027, 2, 8))
    finally:
        lb.ledger.close()
    assert result.months == ["2026-10", "2026-11", "2026-12", "2027-01"]
    assert result.halves == ["2026-H2"] and result.years == ["2026"]
    assert result.updates == ["2026年10月月度汇总报告已按鼓山区10月更正报表重新生成",
                              "2026年11月月度汇总报告已按鼓山区10月更正报表重新生成",
                              "2026年12月月度汇总报告已按鼓山区10月更正报表重新生成",
                              "2026年下半年工作报告已按鼓山区10月更正报表重新生成",
                              "2026年度工作总结已按鼓山区10月更正报表重新生成"]
    written = {p.relative_to(workspace.outbox).as_posix() for p in result.written}
    assert any(p.startswith("半年工作报告/2026-H2/") for p in written)
    assert any(p.startswith("年度工作总结/2026/") for p in written)
    assert "汇总数据/2026-10/汇总数据.xlsx" in written
    assert not any("2026-09" in p for p in written)
