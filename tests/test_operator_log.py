"""logs/processor.log answers "did 罗源县's file arrive at three?": one line per file handled, with
time, unit, month, file name, outcome, receipt number and seconds taken."""

from __future__ import annotations

import re
import shutil
import threading

from click.testing import CliRunner
from form_helpers import filled_form, set_cells

from conftest import make_workspace, wait_until
from processor.cli import main
from processor.common.config import DEFAULT_CONFIG_TEXT
from processor.record.ledger import Ledger
from processor.record.receipts import receipt_number
from processor.deliver.serve import serve

FAST = {"stable_seconds = 2.0": "stable_seconds = 0.3", "poll_interval = 2.0": "poll_interval = 0.3",
        "rescan_seconds = 60": "rescan_seconds = 2"}
LINE = re.compile(r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \[信息\] processor\.intake\.run：收到文件 (?P<file>\S+)："
                  r"单位 (?P<unit>\S+)，月份 (?P<month>\S+)，结果 (?P<outcome>.+)，回执编号 (?P<number>\d{4}-\d{6})，"
                  r"用时 (?P<seconds>\d+\.\d) 秒$")


def fast_workspace(root):
    config = DEFAULT_CONFIG_TEXT
    for old, new in FAST.items():
        assert old in config
        config = config.replace(old, new)
    return make_workspace(root, config)


def stage(ws, tmp_path) -> dict[str, str]:
    """Three files a morning brings, staged outside the inbox: inbox-relative name -> expected outcome."""
    good = filled_form(tmp_path / "月报表.xlsx")
    bad = set_cells(filled_form(tmp_path / "漏填.xlsx"), "示范点", {"G2": None})
    pdf = tmp_path / "扫描件.xlsx"
    pdf.write_bytes(b"%PDF-1.7\n%%EOF\n")
    return {"罗源县/月报表.xlsx": good, "漏填.xlsx": bad, "扫描件.xlsx": pdf}


def drop(ws, staged) -> None:
    for name, source in staged.items():
        target = ws.inbox / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def handled_lines(ws) -> list[dict]:
    text = (ws.root / "logs" / "processor.log").read_text(encoding="utf-8")
    return [m.groupdict() for m in map(LINE.match, text.splitlines()) if m]


def check_lines(ws) -> None:
    with Ledger(ws.ledger_path) as ledger:
        rows = {row["original_name"]: row for row in ledger.files()}
    lines = {line["file"]: line for line in handled_lines(ws)}
    assert len(handled_lines(ws)) == 3 and set(lines) == {"罗源县/月报表.xlsx", "漏填.xlsx", "扫描件.xlsx"}
    good, bad, pdf = lines["罗源县/月报表.xlsx"], lines["漏填.xlsx"], lines["扫描件.xlsx"]
    assert (good["unit"], good["month"], good["outcome"]) == ("罗源县", "2026-10", "已接收")
    assert good["number"] == receipt_number(rows["月报表.xlsx"])
    assert (bad["unit"], bad["month"]) == ("罗源县", "2026-10")
    assert bad["outcome"].startswith("已退回（1 处错误，示范点!G2：") and "党组织书记" in bad["outcome"]
    assert bad["number"] == receipt_number(rows["漏填.xlsx"])
    assert (pdf["unit"], pdf["month"]) == ("未识别单位", "未识别月份")
    assert pdf["outcome"].startswith("已退回（1 处错误，（整个文件）：") and "PDF" in pdf["outcome"]
    assert all(float(line["seconds"]) < 120 for line in lines.values())


def test_a_running_serve_logs_one_line_per_file(tmp_path):
    ws = fast_workspace(tmp_path / "ws")
    staged = stage(ws, tmp_path)
    stop = threading.Event()
    codes = []
    thread = threading.Thread(target=lambda: codes.append(serve(ws, stop_event=stop, schedule_override="")))
    thread.start()
    try:
        wait_until(lambda: (ws.root / "logs" / "processor.log").exists(), what="serve 开始写日志")
        drop(ws, staged)
        wait_until(lambda: len(list(ws.receipts_dir.rglob("*.html"))) >= 3, what="三份回执都已写出")
    finally:
        stop.set()
        thread.join(timeout=120)
    assert codes == [0]
    check_lines(ws)


def test_process_logs_one_line_per_file(tmp_path):
    ws = fast_workspace(tmp_path / "ws")
    drop(ws, stage(ws, tmp_path))
    result = CliRunner().invoke(main, ["-w", str(ws.root), "process"])
    assert result.exit_code == 0, result.output
    check_lines(ws)
