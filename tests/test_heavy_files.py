"""Every heavy step of a file runs in the sandbox: a workbook that is cheap to validate but ruinous to
open whole (1,000 overlapping merged ranges) is answered with its problem list and no annotated copy,
the other units' forms are answered meanwhile, recovery never tries it again, and ``serve`` stops
at once on SIGTERM while the sandbox chews on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_workspace, wait_until
from form_helpers import MONTH, ROSTER, RULEBOOK, filled_form, set_cells
from hostile import merge_bomb

from processor.common.config import DEFAULT_CONFIG_TEXT, load_workspace
from processor.record.ledger import Ledger
from processor.validate.annotate import TOO_COMPLEX

BOMB_UNIT = "罗源县"  # filled_form's unit
STOP_BOUND_SECONDS = 30  # far more than a stop needs; without the sandbox it took hours


def _config(timeout_seconds: int) -> str:
    config = DEFAULT_CONFIG_TEXT.replace("stable_seconds = 2.0", "stable_seconds = 0.3")
    config = config.replace("poll_interval = 2.0", "poll_interval = 0.3")
    assert "timeout_seconds = 60" in config
    return config.replace("timeout_seconds = 60", f"timeout_seconds = {timeout_seconds}")


def _set_timeout(ws, seconds: int) -> None:
    path = ws.root / "config.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("timeout_seconds = 60", f"timeout_seconds = {seconds}"), encoding="utf-8")


def _drop(ws, unit: str, name: str, data: bytes) -> Path:
    folder = ws.inbox / unit
    folder.mkdir(exist_ok=True)
    (folder / ".partial").write_bytes(data)  # appears complete, all at once
    os.replace(folder / ".partial", folder / name)
    return folder / name


def _merge_bomb_bytes(tmp_path: Path) -> bytes:
    """罗源县's form with one ordinary error (示范点!C2) and 1,000 overlapping <mergeCell ref="A1:CV5000"/>."""
    form = set_cells(filled_form(tmp_path / "bomb-base.xlsx"), "示范点", {"C2": "外企"})
    return merge_bomb(form.read_bytes(), "示范点")


def _other_unit_form(tmp_path: Path) -> tuple[str, bytes]:
    from processor.validate.samples import fill_form

    unit = next(name for name in ROSTER.unit_names if name != BOMB_UNIT)
    path = fill_form(tmp_path / "other.xlsx", roster=ROSTER, rulebook=RULEBOOK, unit=unit, month=MONTH, seed=3)
    return unit, path.read_bytes()


def _rows(ws) -> list:
    if not ws.ledger_path.exists():
        return []
    with Ledger(ws.ledger_path) as ledger:
        return ledger.files()


def _cli(ws, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "processor", "--workspace", str(ws.root), *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_a_merge_bomb_gets_its_problem_list_without_annotated_copy_and_the_other_unit_its_receipt(tmp_path):
    ws = make_workspace(tmp_path / "ws", _config(timeout_seconds=3))
    _drop(ws, BOMB_UNIT, "合并炸弹.xlsx", _merge_bomb_bytes(tmp_path))
    other_unit, other = _other_unit_form(tmp_path)
    _drop(ws, other_unit, "月报表.xlsx", other)

    # a bound for a stuck run, never a measurement: without the sandbox this took hours
    _cli(ws, "process", timeout=240)

    rows = {row["original_name"]: row for row in _rows(ws)}
    bomb, normal = rows["合并炸弹.xlsx"], rows["月报表.xlsx"]
    assert normal["status"] == "accepted" and normal["receipt_path"]
    assert (ws.outbox / normal["receipt_path"]).is_file()
    assert bomb["status"] == "rejected" and bomb["receipt_path"]
    receipt = ws.outbox / bomb["receipt_path"]
    html = receipt.read_text(encoding="utf-8")
    assert TOO_COMPLEX in html
    assert "示范点" in html and "C2" in html  # the problem list is still there
    assert list(receipt.parent.glob("*_批注.xlsx")) == []
    answer = json.loads(receipt.with_suffix(".json").read_text(encoding="utf-8"))
    assert answer["annotated_copy"] is None and answer["annotated_copy_note"] == TOO_COMPLEX
    assert [p["cell"] for p in answer["problems"] if p["severity"] == "error"] == ["C2"]
    assert json.loads(bomb["summary_json"])["annotated_copy"] == "too-complex"
    assert list(ws.inbox.rglob("*.xlsx")) == []


def test_recovery_never_builds_an_annotated_copy_found_too_complex_again(tmp_path, monkeypatch):
    """The receipt is written again after a crash (recovery): the ledger says the workbook was too
    complex, so the sandbox is not asked again and the receipt says so again."""
    from processor.intake.run import Intake
    from processor.intake.sandbox import SandboxPool
    from processor.validate.annotate import TooComplex

    ws = make_workspace(tmp_path / "ws", _config(timeout_seconds=60))
    _drop(ws, BOMB_UNIT, "合并炸弹.xlsx", _merge_bomb_bytes(tmp_path))
    asked = []

    def over_the_limits(self, src, problems, dest):  # what the sandbox says after its time limit
        asked.append(src)
        raise TooComplex(TOO_COMPLEX)

    monkeypatch.setattr(SandboxPool, "annotate", over_the_limits)
    intake = Intake(ws)
    try:
        [outcome] = intake.process_all(sorted(ws.inbox.rglob("*.xlsx")))
        assert outcome.status == "rejected" and len(asked) == 1
        intake.ledger.set_file(outcome.file_id, receipt_path=None)  # as if killed before noting the receipt
        assert intake.recover() == 1
    finally:
        intake.close()
    assert len(asked) == 1, "recovery asked the sandbox again"
    [row] = _rows(ws)
    assert TOO_COMPLEX in (ws.outbox / row["receipt_path"]).read_text(encoding="utf-8")


def _serve(ws, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PROCESSOR_NIGHTLY_EVERY"}
    return subprocess.Popen([sys.executable, "-m", "processor", "--workspace", str(ws.root), "serve"],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def _log_says(ws, text: str, count: int = 1) -> bool:
    log = ws.root / "logs" / "processor.log"
    return log.exists() and log.read_text(encoding="utf-8", errors="replace").count(text) >= count


def _stop(proc: subprocess.Popen, out: Path) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=STOP_BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"serve 收到 SIGTERM 后 {STOP_BOUND_SECONDS} 秒仍未退出\n"
                    + out.read_text(encoding="utf-8", errors="replace")[-3000:])


@pytest.mark.slow
def test_serve_stops_on_sigterm_while_the_sandbox_chews_on_a_merge_bomb(tmp_path):
    ws = make_workspace(tmp_path / "ws", _config(timeout_seconds=60).replace(
        'nightly_at = "22:30"', 'nightly_at = "04:44"'))
    out = tmp_path / "serve.out"
    proc = _serve(ws, out)
    try:
        wait_until(lambda: _log_says(ws, "处理程序已启动") or proc.poll() is not None, what="serve 启动")
        bomb = _drop(ws, BOMB_UNIT, "合并炸弹.xlsx", _merge_bomb_bytes(tmp_path))
        # recorded (validation is quick), its receipt not yet written: the annotated copy is being built
        wait_until(lambda: [r for r in _rows(ws) if r["receipt_path"] is None] or proc.poll() is not None,
                   what="合并炸弹已登记、正在生成批注副本")
        assert proc.poll() is None
    finally:
        code = _stop(proc, out)
    assert code == 0, out.read_text(encoding="utf-8", errors="replace")[-3000:]
    assert _log_says(ws, "处理程序已停止")
    assert bomb.exists()  # not answered yet: taken up again at the next start

    # The next start finishes it under a short limit, once; the start after that has nothing to redo.
    _set_timeout(ws, 2)
    ws = load_workspace(ws.root)
    proc = _serve(ws, out)
    try:
        wait_until(lambda: all(r["receipt_path"] for r in _rows(ws)) or proc.poll() is not None,
                   what="重新启动后补完回执")
        wait_until(lambda: not bomb.exists() or proc.poll() is not None, what="文件移出收件箱")
    finally:
        assert _stop(proc, out) == 0
    [row] = _rows(ws)
    assert TOO_COMPLEX in (ws.outbox / row["receipt_path"]).read_text(encoding="utf-8")
    assert _log_says(ws, "未处理完", 1)
    proc = _serve(ws, out)
    try:
        wait_until(lambda: _log_says(ws, "处理程序已启动", 3) or proc.poll() is not None, what="第三次启动")
    finally:
        assert _stop(proc, out) == 0
    assert _log_says(ws, "未处理完", 1) and not _log_says(ws, "未处理完", 2)  # never tried again


def test_a_failed_write_of_the_annotated_copy_is_retried_not_taken_for_a_too_complex_file(tmp_path):
    """The sandbox builds the copy, but the outbox cannot take it (here: a folder in its place, as a
    full or read-only disk would fail it): the file stays for a retry, which writes the copy."""
    from processor.intake.run import Intake
    from processor.record.receipts import annotated_copy_path

    ws = make_workspace(tmp_path / "ws")
    form = set_cells(filled_form(tmp_path / "月报表.xlsx"), "示范点", {"C2": "外企"})
    dropped = _drop(ws, BOMB_UNIT, "月报表.xlsx", form.read_bytes())
    row = {"id": 1, "status": "rejected", "original_name": "月报表.xlsx", "folder_unit": BOMB_UNIT,
           "unit": BOMB_UNIT, "month": MONTH}
    blocked = annotated_copy_path(ws, row, ROSTER)
    blocked.mkdir(parents=True)
    intake = Intake(ws)
    try:
        with pytest.raises(OSError):
            intake.handle(dropped)
        [recorded] = _rows(ws)
        assert recorded["receipt_path"] is None and dropped.exists()
        assert "annotated_copy" not in json.loads(recorded["summary_json"])
        blocked.rmdir()  # space freed
        outcome = intake.handle(dropped)
    finally:
        intake.close()
    assert outcome.file_id == 1 and outcome.status == "rejected"
    assert blocked.is_file() and not dropped.exists()
    assert TOO_COMPLEX not in (ws.outbox / _rows(ws)[0]["receipt_path"]).read_text(encoding="utf-8")


def test_a_stop_ends_the_sandboxs_work_on_a_merge_bomb_at_once(tmp_path):
    """What serve's SIGTERM does to a sandbox building an annotated copy, also during the recovery
    at its start (after a kill -9 in the middle of one): the child is killed, the caller told."""
    import threading

    from form_helpers import validate
    from processor.common.config import IntakeSettings
    from processor.intake.sandbox import SandboxInterrupted, SandboxPool

    bomb = tmp_path / "合并炸弹.xlsx"
    bomb.write_bytes(_merge_bomb_bytes(tmp_path))
    errors = list(validate(bomb).problems.errors)
    assert errors
    pool = SandboxPool(ROSTER, RULEBOOK, IntakeSettings())  # 60 seconds for a file
    stop = threading.Event()
    pool.stop_when(stop)
    outcome = []

    def annotate():
        try:
            outcome.append(pool.annotate(bomb, errors, tmp_path / "批注.xlsx"))
        except BaseException as exc:  # noqa: BLE001 — the outcome under test
            outcome.append(exc)

    worker = threading.Thread(target=annotate)
    worker.start()
    try:
        sandbox = pool._all[0]
        wait_until(lambda: sandbox._lock.locked() and sandbox._process is not None and sandbox._process.is_alive(),
                   what="校验进程开始生成批注副本")
        child = sandbox._process
        stop.set()
        worker.join(STOP_BOUND_SECONDS)
        assert not worker.is_alive(), "the stop waited for the file"
    finally:
        stop.set()
        worker.join(120)
        pool.close()
    assert isinstance(outcome[0], SandboxInterrupted)
    assert not child.is_alive()
    assert not (tmp_path / "批注.xlsx").exists()


@pytest.mark.slow
def test_serve_restarted_after_a_kill_mid_annotation_stops_on_sigterm_during_its_recovery(tmp_path):
    """Killed (kill -9) after recording a merge bomb, before its receipt: the next start's recovery
    builds its annotated copy again, and SIGTERM still stops serve at once."""
    ws = make_workspace(tmp_path / "ws", _config(timeout_seconds=60).replace(
        'nightly_at = "22:30"', 'nightly_at = "04:44"'))
    bomb = _drop(ws, BOMB_UNIT, "合并炸弹.xlsx", _merge_bomb_bytes(tmp_path))
    env = {**os.environ, "PROCESSOR_CRASH_AT": "after-commit"}
    killed = subprocess.run([sys.executable, "-m", "processor", "--workspace", str(ws.root), "process"],
                            capture_output=True, text=True, timeout=240, env=env)
    assert killed.returncode == -signal.SIGKILL
    [row] = _rows(ws)
    assert row["receipt_path"] is None and bomb.exists()

    out = tmp_path / "serve.out"
    proc = _serve(ws, out)
    try:
        wait_until(lambda: _log_says(ws, "正在补完上次中断时未完成的 1 个文件") or proc.poll() is not None,
                   what="serve 开始补完中断的文件")
        assert proc.poll() is None
    finally:
        code = _stop(proc, out)
    assert code == 0, out.read_text(encoding="utf-8", errors="replace")[-3000:]
    assert _log_says(ws, "处理程序已停止")
    [row] = _rows(ws)
    assert row["receipt_path"] is None and bomb.exists()  # finished at the next start


ORPHAN_SCRIPT = """
import sys, threading
from pathlib import Path


def main():
    sys.path[:0] = [sys.argv[2]]
    from form_helpers import ROSTER, RULEBOOK, validate
    from processor.common.config import IntakeSettings
    from processor.intake.sandbox import SandboxPool

    bomb = Path(sys.argv[1])
    pool = SandboxPool(ROSTER, RULEBOOK, IntakeSettings())
    sandbox = pool._all[0]
    errors = list(validate(bomb).problems.errors)
    waiting = sandbox._wait

    def wait(seconds):  # the wait for the answer: the request is in the pipe, the worker on it
        if seconds == pool.limits.timeout_seconds:
            print(sandbox._process.pid, flush=True)
        return waiting(seconds)

    sandbox._wait = wait
    pool.annotate(bomb, errors, bomb.with_name("批注.xlsx"))


if __name__ == "__main__":
    main()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_sandbox_working_on_a_merge_bomb_ends_when_the_processor_is_killed(tmp_path):
    """kill -9 of the processor (systemd after its stop timeout, an operator) must not leave its sandbox
    burning the CPU for hours on a hostile file, parentless."""
    bomb = tmp_path / "合并炸弹.xlsx"
    bomb.write_bytes(_merge_bomb_bytes(tmp_path))
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(bomb), str(Path(__file__).parent)],
                            stdout=subprocess.PIPE, text=True)
    worker = None
    try:
        worker = int(proc.stdout.readline())
        assert _alive(worker)
    finally:
        proc.kill()
        proc.wait()
    try:
        wait_until(lambda: not _alive(worker), timeout=STOP_BOUND_SECONDS, what="校验进程随处理程序结束")
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
