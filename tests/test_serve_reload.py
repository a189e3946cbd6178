"""``serve`` reads roster.xlsx again when it changes: a unit added while it runs is accepted."""

from __future__ import annotations

import os
import shutil

import pytest

from processor.record.ledger import Ledger
from processor.validate.roster import sample_roster, write_roster
from processor.validate.samples import fill_form
from serve_helpers import MONTH, far_from_now, serve_workspace, serving, wait_for

NEWCOMER = "闽清县"


def _without(unit: str):
    roster = sample_roster()
    roster.units = [u for u in roster.units if u.name != unit]
    roster.groups = {g: [u for u in units if u != unit] for g, units in roster.groups.items()}
    return roster


def _drop(ws, tmp_path, seed: int) -> str:
    """The newcomer's form, dropped whole into its folder; returns its file name."""
    staged = fill_form(tmp_path / f"staged-{seed}.xlsx", roster=sample_roster(), rulebook=ws.rulebook, unit=NEWCOMER,
                       month=MONTH, seed=seed)
    folder = ws.inbox / NEWCOMER
    folder.mkdir(exist_ok=True)
    name = f"{NEWCOMER}{MONTH}月报表-{seed}.xlsx"
    shutil.copyfile(staged, folder / ".partial")
    os.replace(folder / ".partial", folder / name)
    return name


def _status(ws, name: str) -> str | None:
    with Ledger(ws.ledger_path) as ledger:
        rows = ledger.query("SELECT status FROM files WHERE original_name = ?", (name,))
    return rows[0]["status"] if rows else None


@pytest.mark.slow
def test_a_unit_added_to_the_roster_while_serve_runs_is_accepted(tmp_path):
    ws = serve_workspace(tmp_path / "ws", port=None, nightly_at=far_from_now())
    write_roster(_without(NEWCOMER), ws.roster_path)
    log = ws.root / "logs" / "processor.log"
    text = lambda: log.read_text(encoding="utf-8") if log.exists() else ""  # noqa: E731
    with serving(ws, "") as codes:
        wait_for(lambda: "处理程序已启动" in text(), 60, "serve 启动", log=log)
        before = _drop(ws, tmp_path, 1)
        wait_for(lambda: _status(ws, before), 60, "第一个文件的回执", log=log)
        assert _status(ws, before) != "accepted"  # not in the roster serve read at start

        write_roster(sample_roster(), ws.roster_path)  # the office adds the unit
        wait_for(lambda: "名册已修改，已重新读取" in text(), 60, "重新读取名册", log=log)
        after = _drop(ws, tmp_path, 2)
        wait_for(lambda: _status(ws, after), 60, "第二个文件的回执", log=log)
        assert _status(ws, after) == "accepted"

        # a roster saved broken leaves the one in use, said once
        ws.roster_path.write_bytes(b"not a workbook")
        wait_for(lambda: "名册已修改，但无法读取" in text(), 60, "无法读取的名册", log=log)
    assert codes == [0]
    assert text().count("名册已修改，已重新读取") == 1
    assert text().count("名册已修改，但无法读取") == 1
