"""The inbox is shared ground: files replaced while they are read, links swapped in, a corrected
version saved during the final step, files that cannot be deleted, forms dropped outside a unit's
folder or in another unit's.  Each attack is played at a named point of intake
(processor/common/faults.py), never by timing."""

from __future__ import annotations

import datetime as dt
import email
import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_workspace
from processor.cli import main
from processor.common.config import DEFAULT_CONFIG_TEXT
from processor.common.faults import fault_action
from processor.consolidate.findings import MISSING, RETURNED
from processor.intake.run import Intake, run_inbox_pass
from processor.record.ledger import Ledger
from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form
from processor.workspace import Workspace

MONTH = "2026-10"
TODAY = dt.date(2026, 12, 6)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def form(ws, dest: Path, unit: str = "罗源县", *, seed: int = 1, sites: int = 2, one_error: bool = False) -> Path:
    """A real form of ``unit`` for October; ``one_error``: one contact dated in December (after the month)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fill_form(dest, roster=workspace_roster(ws), rulebook=ws.rulebook, unit=unit, month=MONTH, seed=seed,
              sites=sites)
    if one_error:
        from form_helpers import set_cells
        set_cells(dest, "联系指导记录", {"A2": dt.date(2026, 12, 2)})
    return dest


def rows(ws) -> list[dict]:
    with Ledger(ws.ledger_path) as ledger:
        return [dict(r) for r in ledger.files()]


def receipt_json(ws, row) -> dict:
    return json.loads((ws.outbox / row["receipt_path"]).with_suffix(".json").read_text(encoding="utf-8"))


def handle(ws, path: Path):
    intake = Intake(ws)
    try:
        return intake.handle(path)
    finally:
        intake.close()


def once(action):
    """A fault action that acts the first time only (the file is replaced once)."""
    done = []

    def act(path=None, **_):
        if not done:
            done.append(path)
            action()
    act.done = done
    return act


def assert_recorded_exactly(ws, row, data: bytes):
    """The ledger's hash, the archive's bytes and the receipt all describe ``data``."""
    assert row["sha256"] == sha(data)
    assert sha((ws.archive / row["archive_path"]).read_bytes()) == row["sha256"]
    receipt = receipt_json(ws, row)
    assert receipt["sha256"] == row["sha256"] and receipt["size"] == len(data)


# --- finding 1: read once, by descriptor ------------------------------------------------------

@pytest.mark.parametrize("moment", ["inbox-opened", "inbox-copied", "after-validate", "after-archive"])
def test_a_file_saved_over_while_it_is_read_is_recorded_as_read_and_the_new_version_waits(workspace, tmp_path,
                                                                                          moment):
    target = form(workspace, workspace.inbox / "罗源县" / "10月报表.xlsx", seed=1, sites=2)
    v1 = target.read_bytes()
    v2_file = form(workspace, tmp_path / "v2" / "10月报表.xlsx", seed=2, sites=3)
    v2 = v2_file.read_bytes()
    swap = once(lambda: os.replace(shutil.copy(v2_file, target.with_name(".saving")), target))  # a clerk saves v2

    with fault_action(moment, swap):
        outcome = handle(workspace, target)
    assert swap.done, "the file was replaced during the read"
    [row] = rows(workspace)
    assert outcome.status == "accepted"
    assert_recorded_exactly(workspace, row, v1)
    assert receipt_json(workspace, row)["rows"]["sites"] == 2  # v1's content, not v2's three sites
    assert target.read_bytes() == v2, "the version saved meanwhile stays in the inbox"

    handle(workspace, target)  # the next pass takes v2 as a new submission replacing v1
    first, second = rows(workspace)
    assert second["status"] == "accepted" and second["replaces"] == first["id"]
    assert_recorded_exactly(workspace, second, v2)
    assert receipt_json(workspace, second)["rows"]["sites"] == 3
    assert not target.exists()


def test_a_file_written_in_place_while_it_is_read_is_left_for_the_next_pass(workspace, tmp_path):
    target = form(workspace, workspace.inbox / "罗源县" / "10月报表.xlsx", seed=1)
    v2 = form(workspace, tmp_path / "v2.xlsx", seed=2, sites=3).read_bytes()
    overwrite = once(lambda: target.write_bytes(v2))  # the same file, rewritten while being read

    with fault_action("inbox-opened", overwrite):
        assert handle(workspace, target) is None
    assert rows(workspace) == [] and target.read_bytes() == v2
    assert not [p for p in workspace.archive.rglob("*") if p.is_file()]

    handle(workspace, target)
    [row] = rows(workspace)
    assert_recorded_exactly(workspace, row, v2)


@pytest.mark.parametrize("moment", ["inbox-opened", "after-validate", "after-archive"])
def test_a_link_swapped_in_while_a_file_is_read_never_reads_outside_the_inbox(workspace, tmp_path, moment):
    target = form(workspace, workspace.inbox / "罗源县" / "10月报表.xlsx", seed=1, one_error=True)
    v1 = target.read_bytes()
    outside = form(workspace, tmp_path / "elsewhere" / "闽清县.xlsx", "闽清县", seed=5)  # another unit's form
    secret = outside.read_bytes()

    def to_link():
        target.unlink()
        target.symlink_to(outside)

    swap = once(to_link)
    with fault_action(moment, swap):
        outcome = handle(workspace, target)
    assert swap.done and outcome.status == "rejected"
    [row] = rows(workspace)
    assert_recorded_exactly(workspace, row, v1)
    written = [p for p in list(workspace.archive.rglob("*")) + list(workspace.outbox.rglob("*")) if p.is_file()]
    assert written and all(p.read_bytes() != secret for p in written)
    annotated = [p for p in written if p.name.endswith("_批注.xlsx")]
    assert annotated, "the rejected form's annotated copy"
    from openpyxl import load_workbook
    book = load_workbook(annotated[0], read_only=True)
    assert "闽清县" not in {c for r in book["基本信息"].iter_rows(values_only=True) for c in r if c}
    assert target.is_symlink() and outside.read_bytes() == secret, "the link is left, its target untouched"

    after = run_inbox_pass(workspace)  # later passes never follow it either
    assert after.outcomes == [] and len(rows(workspace)) == 1
    assert [w.name for w in after.waiting] == ["罗源县/10月报表.xlsx"]


def test_a_unit_folder_replaced_by_a_link_is_not_followed(workspace, tmp_path):
    target = form(workspace, workspace.inbox / "罗源县" / "10月报表.xlsx", seed=1)
    elsewhere = tmp_path / "elsewhere"
    form(workspace, elsewhere / "10月报表.xlsx", "闽清县", seed=5)
    shutil.rmtree(target.parent)
    target.parent.symlink_to(elsewhere, target_is_directory=True)

    assert handle(workspace, target) is None
    assert rows(workspace) == [] and (elsewhere / "10月报表.xlsx").is_file()


# --- finding 2: remove only the file that was read --------------------------------------------

def test_a_version_saved_just_before_the_removal_stays_and_is_taken_next(workspace, tmp_path):
    target = form(workspace, workspace.inbox / "罗源县" / "10月报表.xlsx", seed=1, sites=2)
    v1 = target.read_bytes()
    v2_file = form(workspace, tmp_path / "v2" / "10月报表.xlsx", seed=2, sites=3)
    swap = once(lambda: os.replace(shutil.copy(v2_file, target.with_name(".saving")), target))

    with fault_action("before-unlink", swap):
        handle(workspace, target)
    assert swap.done
    [row] = rows(workspace)
    assert_recorded_exactly(workspace, row, v1)
    assert row["inbox_removed"] == 1
    assert target.read_bytes() == v2_file.read_bytes(), "the corrected version is not deleted"

    run_inbox_pass(workspace)
    first, second = rows(workspace)
    assert second["replaces"] == first["id"] and second["sha256"] == sha(v2_file.read_bytes())
    assert not target.exists()


# --- finding 5: one file that cannot be deleted never stops the others ------------------------

def undeletable(*names: str):
    """A fault action: removing these files fails as it does for a file the share will not let go."""
    def refuse(path=None, **_):
        if path is not None and Path(path).name in names:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
    return refuse


@pytest.mark.slow
def test_a_recorded_file_that_cannot_be_deleted_is_answered_once_listed_and_skipped(workspace, tmp_path):
    stuck = form(workspace, workspace.inbox / "罗源县" / "锁定.xlsx", seed=1)
    fine = form(workspace, workspace.inbox / "闽清县" / "正常.xlsx", "闽清县", seed=2)

    with fault_action("before-unlink", undeletable(stuck.name)):
        first = run_inbox_pass(workspace)
        assert sorted(o.name for o in first.outcomes) == ["正常.xlsx", "锁定.xlsx"]
        assert stuck.exists() and not fine.exists()
        [left] = first.waiting
        assert left.name == "罗源县/锁定.xlsx" and "无法从收件箱删除" in left.reason and "没有删除权限" in left.reason

        later = form(workspace, workspace.inbox / "闽侯县" / "后来.xlsx", "闽侯县", seed=3)
        second = run_inbox_pass(workspace)  # the stuck file is skipped, the new one taken
        assert [o.name for o in second.outcomes] == ["后来.xlsx"] and not later.exists()
    recorded = rows(workspace)
    assert sorted(r["original_name"] for r in recorded) == ["后来.xlsx", "正常.xlsx", "锁定.xlsx"]
    assert all(r["receipt_path"] for r in recorded)

    status = CliRunner().invoke(main, ["-w", str(workspace.root), "status", "--month", MONTH])
    assert status.exit_code == 0, status.output
    text = status.output.replace("\n", "")
    assert "罗源县/锁定.xlsx" in text and "无法从收件箱删除" in text
    data = Workspace.open(workspace.root).status(MONTH, today=TODAY)
    assert [w["file"] for w in data["inbox"]] == ["罗源县/锁定.xlsx"]


@pytest.mark.slow
def test_recovery_goes_on_past_a_file_that_cannot_be_deleted(workspace):
    stuck = form(workspace, workspace.inbox / "罗源县" / "锁定.xlsx", seed=1)

    def crash(**_):
        raise RuntimeError("the process died after the receipt")

    with fault_action("after-receipt", crash):
        run_inbox_pass(workspace)  # recorded and answered, never removed: recovery's work
    assert rows(workspace)[0]["inbox_removed"] == 0

    waiting = form(workspace, workspace.inbox / "闽清县" / "正常.xlsx", "闽清县", seed=2)
    with fault_action("before-unlink", undeletable(stuck.name)):
        done = run_inbox_pass(workspace)  # recovery meets the undeletable file first
        assert [o.name for o in done.outcomes] == ["正常.xlsx"] and not waiting.exists()
        result = CliRunner().invoke(main, ["-w", str(workspace.root), "process"])
    assert "Traceback" not in result.output and "罗源县/锁定.xlsx" in result.output.replace("\n", "")
    assert len(rows(workspace)) == 2 and stuck.exists()


# --- finding 7 and issue 22 finding 8: only a unit's own folder speaks for it ------------------

def unit_folder_workspace(tmp_path):
    config = DEFAULT_CONFIG_TEXT.replace("enabled = false", "enabled = true")
    return make_workspace(tmp_path / "ws", config, unit_folders_only=True)


def unit_state(ws, unit: str) -> str:
    report = Workspace.open(ws.root).status(MONTH, today=TODAY)
    return next(u["state"] for u in report["units"] if u["unit"] == unit)


def return_mails(ws) -> list[str]:
    """The units a 退回 reminder would go to (``remind --dry-run``, as of today)."""
    result = CliRunner().invoke(main, ["-w", str(ws.root), "remind", "--dry-run", "--month", MONTH, "--json"])
    assert result.exit_code == 0, result.output
    units = []
    for path in json.loads(result.output)["dry_run_files"]:
        subject = str(email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)["Subject"])
        if "退回" in subject:
            units.append(subject[subject.rindex("（") + 1:-1])
    return units


@pytest.mark.slow
def test_a_form_outside_any_unit_folder_speaks_for_no_unit(tmp_path):
    ws = unit_folder_workspace(tmp_path)
    assert ws.intake.require_unit_folder
    form(ws, ws.inbox / "闽清县10月.xlsx", "闽清县", seed=1, one_error=True)          # the inbox root
    form(ws, ws.inbox / "不存在的单位" / "闽清县10月.xlsx", "闽清县", seed=2, one_error=True)  # no such unit
    form(ws, ws.inbox / "闽清县.xlsx", "闽清县", seed=3)                               # valid, in the root

    outcomes = run_inbox_pass(ws).outcomes
    assert [o.status for o in outcomes] == ["rejected"] * 3 and all(o.unit is None for o in outcomes)
    recorded = rows(ws)
    assert all(r["unit"] is None and json.loads(r["problems_json"])[0]["code"] == "outside-unit-folder"
               for r in recorded)
    receipts = sorted(p.relative_to(ws.receipts_dir).parent.as_posix() for p in ws.receipts_dir.rglob("*.html"))
    assert receipts == ["未识别单位/2026-10", "未识别单位/2026-10", "未识别单位/不存在的单位/2026-10"]
    page = next(ws.receipts_dir.rglob("*.html")).read_text(encoding="utf-8")
    assert "不是名册中任何单位的文件夹" in page
    assert unit_state(ws, "闽清县") == MISSING
    assert "闽清县" not in return_mails(ws)

    form(ws, ws.inbox / "闽清县" / "闽清县10月.xlsx", "闽清县", seed=1, one_error=True)  # its own folder
    run_inbox_pass(ws)
    assert unit_state(ws, "闽清县") == RETURNED
    assert return_mails(ws) == ["闽清县"]


def test_a_file_in_a_unit_folder_is_answered_in_that_folder_whatever_it_claims(tmp_path):
    ws = unit_folder_workspace(tmp_path)
    form(ws, ws.inbox / "罗源县" / "别人的.xlsx", "闽清县", seed=1)    # names another unit
    form(ws, ws.inbox / "鼓楼区" / "鼓楼区.xlsx", "罗源县", seed=2)     # a folder the roster does not know
    run_inbox_pass(ws)
    by_name = {r["original_name"]: r for r in rows(ws)}
    other = by_name["别人的.xlsx"]
    assert other["status"] == "rejected" and other["receipt_path"].startswith("回执/罗源县/2026-10/")
    assert any(p["code"] == "unit-mismatch" for p in json.loads(other["problems_json"]))
    assert by_name["鼓楼区.xlsx"]["receipt_path"].startswith("回执/未识别单位/鼓楼区/2026-10/")
    assert not (ws.receipts_dir / "闽清县").exists()
    assert unit_state(ws, "罗源县") == RETURNED and unit_state(ws, "闽清县") == MISSING


def test_another_units_identical_file_in_my_folder_is_refused_as_their_form(tmp_path):
    ws = unit_folder_workspace(tmp_path)
    theirs = form(ws, ws.inbox / "闽清县" / "闽清县10月报表.xlsx", "闽清县", seed=1)
    data = theirs.read_bytes()
    run_inbox_pass(ws)
    mine = ws.inbox / "罗源县" / "罗源县报表.xlsx"
    mine.parent.mkdir()
    mine.write_bytes(data)  # byte for byte the other unit's accepted form
    [outcome] = run_inbox_pass(ws).outcomes
    assert outcome.status == "rejected" and outcome.duplicate_of is None
    row = rows(ws)[-1]
    assert row["receipt_path"].startswith("回执/罗源县/2026-10/")
    assert [p["code"] for p in json.loads(row["problems_json"]) if p["severity"] == "error"] == ["unit-mismatch"]
    page = (ws.outbox / row["receipt_path"]).read_text(encoding="utf-8")
    assert "闽清县10月报表.xlsx" not in page and "重复报送" not in page
    assert unit_state(ws, "闽清县") != RETURNED


def test_where_folders_cannot_be_opened_links_are_still_refused(workspace, tmp_path, monkeypatch):
    """Windows has no ``dir_fd``: each folder on the way is checked instead, the file opened alike."""
    from processor.intake import staging

    monkeypatch.setattr(staging, "_BY_DESCRIPTOR", False)
    elsewhere = tmp_path / "elsewhere"
    form(workspace, elsewhere / "10月报表.xlsx", "闽清县", seed=5)
    (workspace.inbox / "闽清县").symlink_to(elsewhere, target_is_directory=True)
    assert handle(workspace, workspace.inbox / "闽清县" / "10月报表.xlsx") is None

    target = form(workspace, workspace.inbox / "罗源县" / "10月报表.xlsx", seed=1)
    data = target.read_bytes()
    assert handle(workspace, target).status == "accepted"
    [row] = rows(workspace)
    assert_recorded_exactly(workspace, row, data)
    assert not target.exists() and (elsewhere / "10月报表.xlsx").is_file()


@pytest.mark.slow
def test_serve_starts_and_goes_on_past_a_file_it_cannot_delete(tmp_path):
    import threading

    from conftest import wait_until
    from processor.deliver.serve import serve

    fast = {"stable_seconds = 2.0": "stable_seconds = 0.2", "poll_interval = 2.0": "poll_interval = 0.2",
            "rescan_seconds = 60": "rescan_seconds = 2"}
    config = DEFAULT_CONFIG_TEXT
    for old, new in fast.items():
        config = config.replace(old, new)
    ws = make_workspace(tmp_path / "ws", config)
    stuck = form(ws, ws.inbox / "罗源县" / "锁定.xlsx", seed=1)

    def crash(**_):
        raise RuntimeError("the process died after the receipt")

    with fault_action("after-receipt", crash):
        run_inbox_pass(ws)  # recorded and answered, not removed: the next start must finish it
    later = form(ws, tmp_path / "later" / "正常.xlsx", "闽清县", seed=2)

    stop, codes = threading.Event(), []
    with fault_action("before-unlink", undeletable(stuck.name)):
        thread = threading.Thread(target=lambda: codes.append(serve(ws, stop_event=stop, schedule_override="")))
        thread.start()
        try:
            wait_until(lambda: (ws.root / "logs" / "processor.log").exists() or not thread.is_alive(),
                       what="serve started")
            (ws.inbox / "闽清县").mkdir()
            shutil.copyfile(later, ws.inbox / "闽清县" / later.name)
            wait_until(lambda: len(rows(ws)) == 2 and not (ws.inbox / "闽清县" / later.name).exists()
                       or not thread.is_alive(), what="the next file taken")
            assert thread.is_alive(), "serve runs on"
        finally:
            stop.set()
            thread.join(timeout=120)
    assert codes == [0]
    recorded = rows(ws)
    assert sorted(r["original_name"] for r in recorded) == ["正常.xlsx", "锁定.xlsx"]
    assert recorded[0]["inbox_left"] and stuck.exists()
    log = (ws.root / "logs" / "processor.log").read_text(encoding="utf-8")
    assert "无法从收件箱中删除" in log


@pytest.mark.slow
def test_an_arrival_recorded_before_identities_were_kept_removes_only_its_own_bytes(workspace, tmp_path):
    """A ledger from before migration 008, killed between the commit and the removal: recovery removes
    the inbox file only if it still holds the recorded bytes."""
    mine = form(workspace, workspace.inbox / "罗源县" / "10月报表.xlsx", seed=1)
    replaced = form(workspace, workspace.inbox / "闽清县" / "10月报表.xlsx", "闽清县", seed=2)

    def crash(**_):
        raise RuntimeError("the process died after the commit")

    with fault_action("after-receipt", crash):
        run_inbox_pass(workspace)
    with Ledger(workspace.ledger_path) as ledger, ledger.atomic() as conn:
        conn.execute("UPDATE files SET inbox_identity = NULL")
    newer = form(workspace, tmp_path / "newer.xlsx", "闽清县", seed=3, sites=3)
    os.replace(newer, replaced)  # saved over before the restart

    run_inbox_pass(workspace)
    assert not mine.exists()
    names = [(r["original_name"], r["folder_unit"]) for r in rows(workspace)]
    assert names.count(("10月报表.xlsx", "闽清县")) == 2, "the newer version is a submission of its own"
    assert not replaced.exists()
