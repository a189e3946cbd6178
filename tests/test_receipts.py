"""What a county clerk reads in a receipt: no "None", whole-file problems said so, late or on time
with the dates, and what a replacing file changed."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil

from form_helpers import edit, filled_form, set_cells

from processor.intake.run import process_inbox
from processor.record.ledger import Ledger

TZ = dt.timezone(dt.timedelta(hours=8))


def arrive(ws, form, day: dt.date, name: str | None = None):
    """Drop ``form`` into the inbox, process it as of ``day`` 10:00; returns (html, json) of its receipt."""
    shutil.copyfile(form, ws.inbox / (name or form.name))
    [outcome] = process_inbox(ws, now=dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=TZ))
    with Ledger(ws.ledger_path) as ledger:
        row = ledger.file(outcome.file_id)
    html = ws.outbox / row["receipt_path"]
    return html.read_text(encoding="utf-8"), json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))


def cells_of(html: str, header: str) -> list[list[str]]:
    """The rows of the table whose header row starts with ``header``, as cell texts."""
    table = next(t for t in re.findall(r"<table>(.*?)</table>", html, re.S) if f"<th>{header}</th>" in t)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)][1:]


def test_an_empty_cell_and_a_whole_file_problem_never_print_none(workspace, tmp_path):
    form = set_cells(filled_form(tmp_path / "漏填.xlsx"), "示范点", {"G2": None})
    html, _ = arrive(workspace, form, dt.date(2026, 11, 3))
    assert "None" not in html
    [row] = [r for r in cells_of(html, "序号") if "党组织书记" in r[2]]
    assert row[1] == "示范点!G2" and row[3] == "（空）"

    pdf = tmp_path / "扫描件.xlsx"
    pdf.write_bytes(b"%PDF-1.7\n%%EOF\n")
    html, data = arrive(workspace, pdf, dt.date(2026, 11, 3))
    assert "None" not in html
    [row] = cells_of(html, "序号")
    assert row[1] == "（整个文件）" and row[2] == row[3] == "—" and "PDF" in row[4]
    assert data["problems"][0]["where"] == "（整个文件）"


def test_a_late_file_says_by_how_many_days_and_an_early_one_says_on_time(workspace, tmp_path):
    form = filled_form(tmp_path / "月报表.xlsx")
    html, data = arrive(workspace, form, dt.date(2026, 11, 30))
    assert "截止11月5日，11月30日收到，逾期25天" in html
    assert data["timeliness"] == "截止11月5日，11月30日收到，逾期25天"

    other = set_cells(filled_form(tmp_path / "另一单位.xlsx"), "基本信息", {"B2": "连江县"})
    html, _ = arrive(workspace, other, dt.date(2026, 11, 3))
    assert "按时报送（截止11月5日）" in html


def test_at_risk_status_cells_do_not_wrap(workspace, tmp_path):
    form = filled_form(tmp_path / "月报表.xlsx")
    html, data = arrive(workspace, form, dt.date(2026, 11, 2))
    assert any(p["status"] == "待完成" for p in data["preview"])
    assert re.search(r'<td class="nowrap">待完成</td>', html)
    assert "待完成</td>" not in html.replace('<td class="nowrap">待完成</td>', "")
    assert re.search(r"\.nowrap\s*\{\s*white-space:\s*nowrap", html)


def test_a_replacing_file_lists_rows_added_removed_and_cells_changed(workspace, tmp_path):
    first = filled_form(tmp_path / "第一版.xlsx")
    arrive(workspace, first, dt.date(2026, 11, 3))

    def correct(wb):
        wb["示范点"]["I2"] = 300  # 职工人数 of the first site, 270 before
        wb["组织生活"].delete_rows(11)  # the last meeting was entered by mistake
        wb["联系指导记录"].append([dt.datetime(2026, 10, 28), "罗源交通建设发展党建示范点", "张国强", "现场指导",
                                   "到企业检查党员活动室建设"])
    second = edit(shutil.copyfile(first, tmp_path / "第二版.xlsx"), correct)
    html, data = arrive(workspace, second, dt.date(2026, 11, 4))

    assert "与上次报送相比的变化" in html and "第一版.xlsx" in html
    changes = {c["sheet"]: c for c in data["changes"]}
    assert set(changes) == {"示范点", "组织生活", "联系指导记录"}
    assert changes["示范点"]["changed"] == [{"row": "示范点“罗源交通建设发展党建示范点”", "column": "职工人数",
                                           "old": "270", "new": "300"}]
    assert changes["示范点"]["added"] == changes["示范点"]["removed"] == []
    assert changes["联系指导记录"]["added"] == ["2026-10-28 罗源交通建设发展党建示范点 现场指导（第 10 行）"]
    assert changes["联系指导记录"]["removed"] == changes["联系指导记录"]["changed"] == []
    assert len(changes["组织生活"]["removed"]) == 1 and changes["组织生活"]["removed"][0].endswith("（原第 11 行）")
    assert changes["组织生活"]["added"] == changes["组织生活"]["changed"] == []
    assert "示范点</b>：修改 1 处" in html and "联系指导记录</b>：新增 1 行" in html and "组织生活</b>：删除 1 行" in html
    assert "按时报送（截止11月5日，11月3日首次报送）" in html
