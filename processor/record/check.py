"""``processor check``: is the record whole?

Checks that the ledger file is sound (SQLite's integrity check, no migration of a
newer program, the models' fingerprint), that every archived original is present
with the hash the ledger recorded, that every arrival has its receipt, and that
nothing is orphaned: archive files no row points to, receipt files no row names,
sheet rows whose file is gone.  Each problem names the file.

The check only reads: the ledger is opened read-only (SQLite ``mode=ro``), so an
older ledger, or one in a backup, is not upgraded by being checked; the migrations
it lacks are reported as a note (the next command that writes applies them).

A check run beside ``serve`` (or ``process``) sees files in flight: an original archived a moment
before its ledger row is committed, an arrival recorded a moment before its receipt is written.
While a processor holds the workspace, those are counted in a note, not reported as problems; the
folders are listed before the ledger is read, so a file finished during the check is never taken
for a stray.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from processor.common.fsutil import is_temp_name, sha256_file
from processor.common.lock import running_holder
from processor.record.ledger import Ledger, LedgerError, receipt_id_prefix
from processor.record.migrate import migrations
from processor.schemas.vocabulary import SHEET_TITLES

# problem codes, each with the Chinese label the report shows
LABELS = {
    "ledger-unusable": "台账无法打开",
    "ledger-integrity": "台账文件损坏",
    "unknown-migration": "台账版本比程序新",
    "archive-missing": "存档原件缺失",
    "archive-changed": "存档原件被改动",
    "receipt-missing": "回执缺失",
    "receipt-pending": "来件尚无回执",
    "orphan-archive": "存档中有台账未记录的文件",
    "orphan-receipt": "回执文件夹中有台账未记录的文件",
    "orphan-rows": "数据行所属的文件记录不存在",
}
IN_FLIGHT = ("orphan-archive", "orphan-receipt", "receipt-pending")
"""What a processor at work leaves for a moment: an original archived before its row, a recorded
arrival before its receipt."""


@dataclass(frozen=True)
class CheckProblem:
    code: str
    path: str  # the file concerned (absolute), or the table
    message: str  # one Chinese line

    @property
    def label(self) -> str:
        return LABELS[self.code]


@dataclass
class CheckReport:
    ledger: Path
    problems: list[CheckProblem] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=dict)  # what was looked at, for the summary line
    notes: list[str] = field(default_factory=list)  # facts worth a line that are not problems (Chinese)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, code: str, path, message: str) -> None:
        self.problems.append(CheckProblem(code, str(path), message))

    def to_dict(self) -> dict:
        return {"ok": self.ok, "ledger": str(self.ledger), "counted": self.counted, "notes": self.notes,
                "problems": [asdict(p) | {"label": p.label} for p in self.problems]}


def check_workspace(ws, *, snapshot: bool = False) -> CheckReport:
    """Everything :mod:`processor.record.check` describes, for one workspace; reads, never repairs, never
    migrates (the ledger file is byte for byte the same afterwards).

    ``snapshot``: the workspace is a backup, its ledger copied while files arrived; an arrival the copy
    caught between its record and its receipt is finished by the recovery of the first run after a
    restore (noted, not a problem)."""
    report = CheckReport(Path(ws.ledger_path))
    holder = {} if snapshot else running_holder(ws.lock_path)
    try:
        ledger = Ledger(ws.ledger_path, readonly=True)
    except LedgerError as exc:
        report.add("ledger-unusable", ws.ledger_path, str(exc))
        return report
    with ledger:
        _check_integrity(ledger, report)
        if report.problems:  # a damaged file's rows are not worth comparing with the folders
            return report
        _check_migrations(ledger, report)
        archived, answered = _files_under(Path(ws.archive)), _files_under(Path(ws.receipts_dir))
        rows = rows_of(ledger)
        _check_archive(ws, rows, archived, report)
        _check_receipts(ws, rows, answered, report, snapshot=snapshot)
        _check_sheet_rows(ledger, report)
    if not snapshot and (holder or (holder := running_holder(ws.lock_path))):  # or one started meanwhile
        _note_in_flight(report, holder)
    return report


def _note_in_flight(report: CheckReport, holder: dict) -> None:
    """Files a running processor is at work on: one note, not problems."""
    in_flight = [p for p in report.problems if p.code in IN_FLIGHT]
    if not in_flight:
        return
    report.problems = [p for p in report.problems if p.code not in IN_FLIGHT]
    who = f"进程 {holder['pid']}" + (f"（{holder['command']}）" if holder.get("command") else "")
    report.notes.append(f"处理程序正在运行（{who}），有 {len(in_flight)} 个文件正在处理中（已存档未登记或已登记未写回执），"
                        "不算问题；处理完成后再运行 check 即可确认。")


def rows_of(ledger: Ledger) -> list[dict]:
    """The arrivals as :func:`named_files` and the checks read them."""
    return [dict(r) for r in ledger.query("SELECT id, sha256, original_name, archive_path, receipt_path "
                                          "FROM files ORDER BY id")]


def named_files(ws, rows: list[dict]) -> set[Path]:
    """The archive and receipt files these ledger rows name (absolute paths; they may not exist)."""
    archive, outbox = Path(ws.archive), Path(ws.outbox)
    named = {archive / row["archive_path"] for row in rows}
    for row in rows:
        if row["receipt_path"]:
            html = outbox / row["receipt_path"]
            named.update(_receipt_files(html))
            named.add(html.with_name(f"{html.stem}_批注.xlsx"))
    return named


def _check_integrity(ledger: Ledger, report: CheckReport) -> None:
    lines = [r[0] for r in ledger.query("PRAGMA integrity_check")]
    if lines != ["ok"]:
        report.add("ledger-integrity", ledger.path, f"台账文件 {ledger.path} 未通过完整性检查：{'；'.join(lines[:5])}。"
                                                    "请从备份恢复（`processor backup` 生成的副本）。")


def _check_migrations(ledger: Ledger, report: CheckReport) -> None:
    if pending := ledger.pending_migrations():
        report.notes.append(f"台账 {ledger.path} 由较早版本的程序写成，尚有 {len(pending)} 个迁移未应用"
                            f"（{'、'.join(pending)}）。检查只读不改，没有升级它；下次运行 process、serve 等"
                            "写台账的命令时会自动升级。")
        return  # an older ledger has no migration of a newer program
    known = {name for name, _ in migrations()}
    for row in ledger.query("SELECT name FROM _migrations ORDER BY name"):
        if row["name"] not in known:
            report.add("unknown-migration", ledger.path, f"台账 {ledger.path} 已由更新版本的程序升级（迁移 {row['name']}），"
                                                         "请使用该版本或更新的程序。")


def _check_archive(ws, rows: list[dict], on_disk: list[Path], report: CheckReport) -> None:
    archive = Path(ws.archive)
    expected: dict[str, str] = {}
    for row in rows:  # duplicates share their original's archive file
        expected.setdefault(row["archive_path"], row["sha256"])
    for relative, sha in expected.items():
        path = archive / relative
        if not path.is_file():
            report.add("archive-missing", path, f"存档原件缺失：{path}（台账记录的文件哈希 {sha[:12]}…）。"
                                               "请从备份中找回该文件。")
        elif sha256_file(path) != sha:
            report.add("archive-changed", path, f"存档原件与台账记录的哈希不一致：{path}。请从备份中找回原件。")
    known = {archive / r for r in expected}
    for path in on_disk:
        if path not in known:
            report.add("orphan-archive", path, f"存档中的文件 {path} 没有任何台账记录指向它。")
    report.counted["存档文件"] = len(expected)


def _receipt_files(receipt: Path) -> list[Path]:
    """The files one receipt consists of: the HTML page and its JSON twin."""
    return [receipt, receipt.with_suffix(".json")]


def _check_receipts(ws, rows: list[dict], on_disk: list[Path], report: CheckReport, *,
                    snapshot: bool = False) -> None:
    outbox, folder = Path(ws.outbox), Path(ws.receipts_dir)
    named: set[Path] = set()
    unfinished = {receipt_id_prefix(row["id"]) for row in rows if not row["receipt_path"]}
    for row in rows:
        if not row["receipt_path"] and snapshot:
            report.notes.append(f"第 {row['id']} 号来件“{row['original_name']}”在备份时正在处理（已记入台账，"
                                "回执尚未登记）；恢复后第一次运行 process 或 serve 时会补写回执。")
            continue
        if not row["receipt_path"]:
            report.add("receipt-pending", folder, f"第 {row['id']} 号来件“{row['original_name']}”还没有回执"
                                                  "（处理被中断；运行 `processor process` 会补写）。")
            continue
        html = outbox / row["receipt_path"]
        named.update(_receipt_files(html))
        named.add(html.with_name(f"{html.stem}_批注.xlsx"))
        for path in _receipt_files(html):
            if not path.is_file():
                report.add("receipt-missing", path, f"第 {row['id']} 号来件“{row['original_name']}”的回执文件缺失：{path}。")
    for path in on_disk:
        if path not in named and not path.name.startswith(tuple(unfinished)):  # an unfinished arrival's own
            report.add("orphan-receipt", path, f"回执文件夹中的文件 {path} 不属于台账中的任何来件。")
    report.counted["来件"] = len(rows)


def _check_sheet_rows(ledger: Ledger, report: CheckReport) -> None:
    tables = {r[0] for r in ledger.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for key, title in SHEET_TITLES.items():
        if key not in tables:  # made by a migration an older ledger has not had yet
            continue
        for row in ledger.query(f"SELECT file_id, COUNT(*) AS n FROM {key} "
                                f"WHERE file_id NOT IN (SELECT id FROM files) GROUP BY file_id"):
            report.add("orphan-rows", f"{ledger.path}:{key}",
                       f"台账表 {key}（{title}）有 {row['n']} 行属于不存在的第 {row['file_id']} 号来件。")


def _files_under(folder: Path) -> list[Path]:
    """Regular files below ``folder``, leaving out temp files a running writer owns."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not is_temp_name(p.name))
