"""How a form came, as the office and the county read it: the 总览 page marks the months whose form
came from the 报送 mailbox (as `processor status` says 邮件), and the receipt of a mailed form speaks
of the sender's address, never of a folder the clerk never used."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from html.parser import HTMLParser

from openpyxl import load_workbook

from form_helpers import filled_form, set_cells
from mailbox_helpers import LUOYUAN, form_mail
from processor.consolidate.overview import OVERVIEW_NAME
from processor.consolidate.run import consolidate
from processor.consolidate.status import status_report
from processor.intake.run import Intake, process_inbox
from processor.record.ledger import Ledger
from processor.validate.roster import workspace_roster

TZ = dt.timezone(dt.timedelta(hours=8))
MAILED_AT = dt.datetime(2026, 11, 3, 9, 30, tzinfo=TZ)
DROPPED_AT = dt.datetime(2026, 11, 4, 10, 0, tzinfo=TZ)
TODAY = dt.date(2026, 11, 26)


def fetch(mailbox) -> None:
    """Read the mailbox once, as on ``MAILED_AT`` (the form's arrival is dated then)."""
    intake = Intake(mailbox.ws, clock=lambda: MAILED_AT)
    try:
        mailbox.fetch(now=MAILED_AT, intake=intake)
    finally:
        intake.close()


class Grid(HTMLParser):
    """Each grid cell's text by (unit, month), and the legend's text."""

    def __init__(self, html: str):
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.legend = ""
        self._unit = self._cell = None
        self._in_legend = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-unit" in a:
            self._unit = a["data-unit"]
        elif tag == "td" and "cell" in (a.get("class") or "").split():
            self._cell = (self._unit, a["data-month"])
            self.cells[self._cell] = ""
        elif tag == "p" and "legend" in (a.get("class") or "").split():
            self._in_legend = True

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "p":
            self._in_legend = False

    def handle_data(self, data):
        if self._cell is not None:
            self.cells[self._cell] += data
        if self._in_legend:
            self.legend += data


def test_the_overview_marks_the_form_that_came_by_email_and_not_the_one_from_the_folder(mailbox, tmp_path):
    ws = mailbox.ws
    mailed = filled_form(tmp_path / "罗源县10月月报表.xlsx").read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("罗源县10月月报表.xlsx", mailed)]))
    fetch(mailbox)
    dropped = set_cells(filled_form(tmp_path / "连江县10月月报表.xlsx"), "基本信息", {"B2": "连江县"})
    (ws.inbox / "连江县").mkdir(exist_ok=True)
    shutil.copyfile(dropped, ws.inbox / "连江县" / dropped.name)
    process_inbox(ws, now=DROPPED_AT)
    rows = mailbox.ledger_rows("SELECT folder_unit, unit, status FROM files ORDER BY id")
    assert [(r["unit"], r["status"]) for r in rows] == [("罗源县", "accepted"), ("连江县", "accepted")]

    consolidate(ws, month="2026-10", today=TODAY)

    page = Grid((ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8"))
    by_mail, by_folder = page.cells[("罗源县", "2026-10")], page.cells[("连江县", "2026-10")]
    assert by_mail == "按时邮" and by_folder == "按时", (by_mail, by_folder)
    assert "邮：格中带“邮”字的，该单位当月最近一份报表由报送邮箱收到" in page.legend
    # the mark says what `processor status` says
    with Ledger(ws.ledger_path) as ledger:
        report = status_report(ws, ledger, workspace_roster(ws), "2026-10", TODAY)
    channels = {line["unit"]: line["channel"] for line in report["units"]}
    assert (channels["罗源县"], channels["连江县"]) == ("email", "folder")
    marked = {unit for (unit, month), text in page.cells.items() if month == "2026-10" and text.endswith("邮")}
    assert marked == {u for u, c in channels.items() if c == "email"}


def test_the_receipt_of_a_mailed_form_naming_another_unit_speaks_of_the_senders_address(mailbox, tmp_path):
    ws = mailbox.ws
    other = set_cells(filled_form(tmp_path / "连江县.xlsx"), "基本信息", {"B2": "连江县"}).read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("连江县.xlsx", other)]))
    fetch(mailbox)
    [row] = mailbox.ledger_rows("SELECT * FROM files")
    assert row["status"] == "rejected" and row["folder_unit"] == "罗源县"

    receipt = ws.outbox / row["receipt_path"]
    html = receipt.read_text(encoding="utf-8")
    problems = "".join(re.findall(r"需要修改的问题.*?</table>", html, re.S))
    assert "发件邮箱是“罗源县”的，但填报单位写的是“连江县”" in problems
    assert "由该单位用其登记的邮箱报送" in problems
    assert "文件夹" not in problems, problems
    [mismatch] = [p for p in json.loads(receipt.with_suffix(".json").read_text(encoding="utf-8"))["problems"]
                  if p["code"] == "unit-mismatch"]
    assert "发件邮箱" in mismatch["message"] and "文件夹" not in mismatch["message"] + mismatch["hint"]
    # the annotated copy, attached to the reply, says it in the cell's comment
    [copy] = receipt.parent.glob("*_批注.xlsx")
    comment = load_workbook(copy)["基本信息"]["B2"].comment.text
    assert "发件邮箱是“罗源县”的" in comment and "文件夹" not in comment, comment
    assert f"副本“{copy.name}”作为附件随回复邮件发回" in html
    # the reply says the same, and the receipt in its HTML body does too
    answer = mailbox.answers()[0]
    assert "发件邮箱是“罗源县”的，但填报单位写的是“连江县”" in answer.get_body(("plain",)).get_content()
    assert "放在“罗源县”的文件夹" not in answer.get_body(("html",)).get_content()


def test_the_receipt_of_a_form_in_another_units_folder_still_speaks_of_the_folder(workspace, tmp_path):
    other = set_cells(filled_form(tmp_path / "连江县.xlsx"), "基本信息", {"B2": "连江县"})
    (workspace.inbox / "罗源县").mkdir(exist_ok=True)
    shutil.copyfile(other, workspace.inbox / "罗源县" / other.name)
    [outcome] = process_inbox(workspace, now=DROPPED_AT)
    with Ledger(workspace.ledger_path) as ledger:
        row = ledger.file(outcome.file_id)
    html = (workspace.outbox / row["receipt_path"]).read_text(encoding="utf-8")
    assert "文件放在“罗源县”的文件夹中，但填报单位写的是“连江县”" in html and "发件邮箱" not in html
