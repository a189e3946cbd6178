"""The ledger file under real operation: ``serve`` running beside other commands, restores, backups
taken while files arrive, the file replaced under a running service."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until
from deliver_helpers import make_workspace
from processor.common.config import load_workspace
from processor.record.ledger import Ledger

MONTH = "2026-10"
FAST_INTAKE = {"stable_seconds = 2.0": "stable_seconds = 0.3", "poll_interval = 2.0": "poll_interval = 0.3",
               "rescan_seconds = 60": "rescan_seconds = 2"}
FAR_NIGHT = {'nightly_at = "22:30"': 'nightly_at = "03:17"'}


def _workspace(root: Path):
    """A workspace with the sample roster, fast intake settings and no SMTP server."""
    make_workspace(root, port=None)
    config = (root / "config.toml").read_text(encoding="utf-8")
    for old, new in FAST_INTAKE.items():
        config = config.replace(old, new)
    (root / "config.toml").write_text(config, encoding="utf-8")
    return load_workspace(root)


def _drop_form(ws, staging: Path, seed: int) -> Path:
    """A valid form of the seed-th unit of the roster, appearing in the inbox all at once."""
    from processor.validate.roster import workspace_roster
    from processor.validate.samples import fill_form

    roster = workspace_roster(ws)
    unit = roster.unit_names[seed % len(roster.unit_names)]
    staged = fill_form(staging / f"staged-{seed}.xlsx", roster=roster, rulebook=ws.rulebook, unit=unit,
                       month=MONTH, seed=seed)
    target = ws.inbox / f"{unit}{MONTH}月报表.xlsx"
    shutil.copyfile(staged, ws.inbox / ".partial")
    os.replace(ws.inbox / ".partial", target)
    return target


def _cli(ws, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "processor", "--workspace", str(ws.root), *args],
                          capture_output=True, text=True, timeout=300, env=env)


def _start_serve(ws, log: Path, *, every: str | None = None, extra_env: dict | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PROCESSOR_NIGHTLY_EVERY"}
    if every:
        env["PROCESSOR_NIGHTLY_EVERY"] = every
    env.update(extra_env or {})
    return subprocess.Popen([sys.executable, "-m", "processor", "--workspace", str(ws.root), "serve"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)


def _log_text(ws) -> str:
    log = ws.root / "logs" / "processor.log"
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


def _alive(proc: subprocess.Popen, ws, what: str):
    """A wait condition that fails the test at once (with the log) when serve died meanwhile."""
    def condition():
        if proc.poll() is not None:
            pytest.fail(f"serve 在等待“{what}”时退出（{proc.returncode}）：\n{_log_text(ws)[-3000:]}")
        return True
    return condition


def _wait(proc, ws, condition, what: str):
    alive = _alive(proc, ws, what)
    return wait_until(lambda: alive() and condition(), timeout=180, what=what)


def _received(ws, name: str) -> bool:
    """The inbox file was answered: it left the inbox and the log says so."""
    return not (ws.inbox / name).exists() and f"收到文件 {name}" in _log_text(ws)


def _deleted_wal_open(pid: int) -> list[str]:
    """The ledger's files this process still holds open although their name is gone."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if "ledger.sqlite" in target and target.endswith("(deleted)"):
            found.append(target)
    return found


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def _accepted_units(ws) -> list[str]:
    with Ledger(ws.ledger_path) as ledger:
        return sorted(r["unit"] for r in ledger.files(status="accepted"))


# --- finding 1: a command run beside serve never takes serve's WAL away -----------------------------

@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_status_beside_serve_after_its_nightly_run_loses_no_accepted_form(tmp_path):
    ws = _workspace(tmp_path / "ws")
    proc = _start_serve(ws, tmp_path / "serve.out", every="2")
    try:
        _wait(proc, ws, lambda: "处理程序已启动" in _log_text(ws), "serve 启动")
        first = _drop_form(ws, tmp_path, 0)
        _wait(proc, ws, lambda: _received(ws, first.name), "第一份报表的回执")
        # The night opens a second connection to the ledger in serve's own process, and closes it.
        nights = _log_text(ws).count("夜间汇总完成")
        _wait(proc, ws, lambda: _log_text(ws).count("夜间汇总完成") > nights, "收件后的一次夜间汇总")
        # An operator looks at the status in another shell: the last connection of *its* process closes.
        status = _cli(ws, "status", "--month", MONTH, "--json")
        assert status.returncode == 0, status.stderr
        second = _drop_form(ws, tmp_path, 1)
        _wait(proc, ws, lambda: _received(ws, second.name), "第二份报表的回执")
        held_deleted = _deleted_wal_open(proc.pid)
    finally:
        _kill(proc)  # a power cut
    units = _accepted_units(ws)
    assert len(units) == 2, f"已接收的报表不在台账中：台账里只有 {units}"
    assert held_deleted == [], "serve 写入的是已被删除的 WAL"
    check = _cli(ws, "check")
    assert check.returncode == 0, check.stdout + check.stderr


def _count_from_another_process(path: Path) -> int:
    """What a command in another shell sees: its own (and only) connection, opened and closed."""
    code = ("import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n"
            "print(c.execute('SELECT COUNT(*) FROM files').fetchone()[0])\nc.close()")
    return int(subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                              check=True, timeout=60).stdout)


def test_a_second_ledger_opened_and_closed_in_a_process_leaves_the_first_ones_wal_in_place(workspace):
    from ledger_helpers import LedgerBuilder

    lb = LedgerBuilder(workspace.ledger_path)  # the long-lived connection (serve's intake)
    try:
        lb.reject("罗源县", "2026-10")
        Ledger(workspace.ledger_path).close()  # a night's consolidation in the same process
        assert _count_from_another_process(workspace.ledger_path) == 1  # `processor status` beside it
        lb.reject("鼓山区", "2026-10")
        assert _count_from_another_process(workspace.ledger_path) == 2
        wal = workspace.ledger_path.with_name("ledger.sqlite-wal")
        assert wal.exists()  # still the WAL the first connection writes to
    finally:
        lb.ledger.close()
    assert _count_from_another_process(workspace.ledger_path) == 2


# --- finding 6: check reads only ---------------------------------------------------------------------

FIXTURE_V1 = Path(__file__).parent / "fixtures" / "ledger-v1.sqlite"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ledger_files(folder: Path) -> dict[str, str]:
    """The ledger and any -wal/-shm beside it, with their hashes."""
    return {p.name: _sha(p) for p in sorted(folder.glob("ledger.sqlite*"))}


def test_check_of_an_older_ledger_reports_pending_migrations_and_changes_nothing(tmp_path):
    from click.testing import CliRunner
    from processor.cli import main

    ws = make_workspace(tmp_path / "ws", port=None)
    shutil.copyfile(FIXTURE_V1, ws.ledger_path)
    before = _ledger_files(ws.root)
    result = CliRunner().invoke(main, ["-w", str(ws.root), "check"])
    assert "迁移未应用" in result.output and "004_model_fingerprint" in result.output, result.output
    assert "Traceback" not in result.output
    assert _ledger_files(ws.root) == before  # not upgraded, no journal left beside it
    with sqlite3.connect(ws.ledger_path) as conn:
        assert len(conn.execute("SELECT name FROM _migrations").fetchall()) == 3


def test_check_of_a_backup_folder_changes_none_of_its_files(tmp_path):
    from click.testing import CliRunner
    from form_helpers import filled_form
    from processor.cli import main
    from processor.intake.run import process_inbox

    ws = make_workspace(tmp_path / "ws", port=None)
    filled_form(ws.inbox / "罗源县10月.xlsx")
    process_inbox(ws)
    dest = tmp_path / "备份"
    assert CliRunner().invoke(main, ["-w", str(ws.root), "backup", str(dest)]).exit_code == 0
    # The backup's own verification did not turn its ledger into a WAL database either: it is still the
    # self-contained file the online backup wrote (rollback-journal mode, header bytes 18-19).
    assert (dest / "ledger.sqlite").read_bytes()[18:20] == b"\x01\x01"
    before = {p.relative_to(dest): _sha(p) for p in dest.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["-w", str(dest), "check"])
    assert result.exit_code == 0 and "检查通过" in result.output, result.output
    assert {p.relative_to(dest): _sha(p) for p in dest.rglob("*") if p.is_file()} == before


# --- finding 10: a backup taken while files arrive verifies against its own snapshot -----------------

@pytest.mark.slow
def test_backup_while_serve_takes_a_new_form_verifies_against_its_snapshot(tmp_path):
    from click.testing import CliRunner
    from processor.cli import main
    from processor.common.faults import fault_action

    ws = _workspace(tmp_path / "ws")
    proc = _start_serve(ws, tmp_path / "serve.out")
    dest = tmp_path / "备份"
    try:
        _wait(proc, ws, lambda: "处理程序已启动" in _log_text(ws), "serve 启动")
        first = _drop_form(ws, tmp_path, 0)
        _wait(proc, ws, lambda: _received(ws, first.name), "第一份报表的回执")

        def a_form_arrives():  # after the ledger copy, before the archive and receipts are copied
            second = _drop_form(ws, tmp_path, 1)
            _wait(proc, ws, lambda: _received(ws, second.name), "备份进行中收到的报表的回执")

        with fault_action("backup-after-snapshot", a_form_arrives):
            result = CliRunner().invoke(main, ["-w", str(ws.root), "backup", str(dest)])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    assert result.exit_code == 0, result.output
    assert "备份完成并已校验" in result.output
    assert len(_accepted_units(ws)) == 2
    # The backup is the record as of its snapshot: one form, its original and its receipt.
    with Ledger(dest / "ledger.sqlite", readonly=True) as copy:
        assert len(copy.files()) == 1
    assert len([p for p in (dest / "archive").rglob("*") if p.is_file()]) == 1
    check = _cli(ws, "check")
    assert check.returncode == 0, check.stdout + check.stderr


# --- finding 11: serve notices its ledger file deleted or replaced -------------------------------------

def test_no_form_is_recorded_into_a_deleted_ledger_and_it_stays_in_the_inbox(tmp_path):
    from form_helpers import filled_form
    from processor.intake.run import Intake
    from processor.record.ledger import LedgerError

    ws = make_workspace(tmp_path / "ws", port=None)
    intake = Intake(ws)
    try:
        ws.ledger_path.unlink()  # deleted while the intake has it open
        form = filled_form(ws.inbox / "罗源县10月.xlsx")
        data = form.read_bytes()
        with pytest.raises(LedgerError, match="已被删除"):
            intake.handle(form)
    finally:
        intake.close()
    assert form.read_bytes() == data  # still in the inbox, for the service restarted on a restored ledger
    assert not [p for p in ws.receipts_dir.rglob("*") if p.is_file()]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_serve_stops_intake_with_one_line_when_its_ledger_is_deleted_or_replaced(tmp_path, how):
    ws = _workspace(tmp_path / "ws")
    proc = _start_serve(ws, tmp_path / "serve.out", every="2")
    try:
        _wait(proc, ws, lambda: "处理程序已启动" in _log_text(ws), "serve 启动")
        first = _drop_form(ws, tmp_path, 0)
        _wait(proc, ws, lambda: _received(ws, first.name), "第一份报表的回执")
        if how == "deleted":
            ws.ledger_path.unlink()
        else:  # an operator copies an older ledger over it
            shutil.copyfile(FIXTURE_V1, tmp_path / "older.sqlite")
            os.replace(tmp_path / "older.sqlite", ws.ledger_path)
        second = _drop_form(ws, tmp_path, 1)
        data = second.read_bytes()
        code = proc.wait(timeout=120)
    finally:
        _kill(proc)
    log = _log_text(ws)
    assert code == 1, log[-3000:]
    word = "已被删除" if how == "deleted" else "已被另一个文件替换"
    assert log.count("处理程序停止收件并退出") == 1 and word in log, log[-3000:]
    assert f"收到文件 {second.name}" not in log
    assert second.read_bytes() == data  # left in the inbox


# --- finding 9: restore cannot corrupt ----------------------------------------------------------------

def _rows(ledger_path: Path) -> list[tuple]:
    with Ledger(ledger_path, readonly=True) as ledger:
        return [(r["id"], r["unit"], r["status"]) for r in ledger.files()]


@pytest.mark.slow
def test_restore_after_serve_was_killed_with_its_wal_keeps_the_backup_intact(tmp_path):
    ws = _workspace(tmp_path / "ws")
    first = _drop_form(ws, tmp_path, 0)
    assert _cli(ws, "process").returncode == 0 and not first.exists()
    dest = tmp_path / "备份"
    backup = _cli(ws, "backup", str(dest))
    assert backup.returncode == 0 and "备份完成并已校验" in backup.stdout, backup.stdout + backup.stderr
    in_backup = _rows(dest / "ledger.sqlite")
    assert [unit for _, unit, _ in in_backup] == [_accepted_units(ws)[0]]

    # serve takes another form, then the machine loses power: its WAL stays beside the ledger
    proc = _start_serve(ws, tmp_path / "serve.out")
    try:
        _wait(proc, ws, lambda: "处理程序已启动" in _log_text(ws), "serve 启动")
        second = _drop_form(ws, tmp_path, 1)
        _wait(proc, ws, lambda: _received(ws, second.name), "第二份报表的回执")
    finally:
        _kill(proc)
    wal = ws.ledger_path.with_name("ledger.sqlite-wal")
    assert wal.is_file() and wal.stat().st_size > 32

    # Copying only the backup's ledger file over the live one (the old manual restore) leaves the killed
    # serve's WAL beside it: the ledger refuses to open rather than merge that WAL into the backup's pages.
    manual = tmp_path / "manual"
    shutil.copytree(ws.root, manual)
    shutil.copyfile(dest / "ledger.sqlite", manual / "ledger.sqlite")
    before = _ledger_files(manual)
    check = _cli(load_workspace(manual), "check")
    assert check.returncode == 1 and "不属于这个台账" in check.stdout and "processor restore" in check.stdout, \
        check.stdout + check.stderr
    assert _ledger_files(manual) == before  # nothing merged, nothing deleted

    # The documented restore: the old ledger goes aside with its own WAL, the backup comes back whole.
    restore = _cli(ws, "restore", str(dest))
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "检查通过" in restore.stdout and "恢复前-" in restore.stdout
    assert "1 个存档原件不在备份中" in restore.stdout  # the form taken after the backup: where its original is
    assert _rows(ws.ledger_path) == in_backup
    assert not ws.ledger_path.with_name("ledger.sqlite-wal").exists()
    status = _cli(ws, "status", "--month", MONTH, "--json")
    assert status.returncode == 0, status.stderr
    check = _cli(ws, "check")
    assert check.returncode == 0 and "检查通过" in check.stdout, check.stdout + check.stderr
    # Nothing was deleted: the ledger moved aside still holds, with its WAL, the form taken after the backup.
    aside = next(ws.root.glob("恢复前-*"))
    assert (aside / "ledger.sqlite-wal").is_file()
    probe = tmp_path / "probe"
    probe.mkdir()
    for name in ("ledger.sqlite", "ledger.sqlite-wal"):
        shutil.copyfile(aside / name, probe / name)
    assert len(_rows(probe / "ledger.sqlite")) == len(in_backup) + 1


def test_restore_is_refused_while_a_processor_holds_the_workspace(tmp_path):
    from processor.common.lock import AlreadyRunning, WorkspaceLock
    from processor.workspace import Workspace

    ws = make_workspace(tmp_path / "ws", port=None)
    dest = tmp_path / "备份"
    assert _cli(ws, "backup", str(dest)).returncode == 0
    before = _ledger_files(ws.root)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from processor.common.lock import WorkspaceLock\n"
                               f"lock = WorkspaceLock({str(ws.lock_path)!r}).acquire()\n"
                               "print('held', flush=True)\nsys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = _cli(ws, "restore", str(dest))
        assert result.returncode == 2 and "另一个处理程序正在运行" in result.stderr, result.stdout + result.stderr
        with pytest.raises(AlreadyRunning):
            Workspace.open(ws.root).restore(dest)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert _ledger_files(ws.root) == before and not list(ws.root.glob("恢复前-*"))
    with WorkspaceLock(ws):  # released by the holder's exit
        pass
