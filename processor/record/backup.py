"""``processor backup DEST``: a verified copy of the office's record.

DEST receives, at the same places relative to the workspace folder: the ledger
(copied with SQLite's online backup, so a running ``serve`` is not disturbed and
the copy is consistent), the archive of originals, the receipts, ``config.toml``,
the roster and a custom rulebook.  The copy is then checked like a workspace
(:func:`processor.record.check.check_workspace`): integrity, every archived file with its
hash, every receipt.  ``processor restore DEST`` puts it back (:mod:`processor.record.restore`).

The backup is the record as of its ledger snapshot.  Files may keep arriving while
it runs: their archive originals and receipts, newer than the snapshot, are left out
(the next backup has them), so the copy verifies against its own snapshot.  Stray
files that were in the folders before the snapshot and that no record names, then or
after, are copied: the check reports them in the backup as in the workspace.

Items kept outside the workspace folder (config.toml may name any path) are
stored under their default names (``ledger.sqlite``, ``archive/``, ``outbox/回执/``,
``roster.xlsx``); restore copies those back to where config.toml points.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from processor.record.check import CheckReport, check_workspace, named_files, rows_of
from processor.common.config import CONFIG_NAME, Workspace
from processor.common.faults import checkpoint
from processor.common.fsutil import fsync_folder, is_temp_name
from processor.record.ledger import Ledger


class BackupError(RuntimeError):
    """The backup could not be made; the message says why, in Chinese."""


@dataclass
class BackupResult:
    dest: Path
    copied: list[Path] = field(default_factory=list)  # files written into dest
    verification: CheckReport | None = None

    @property
    def ok(self) -> bool:
        return self.verification is not None and self.verification.ok

    def to_dict(self) -> dict:
        return {"ok": self.ok, "dest": str(self.dest), "files": len(self.copied),
                "verification": self.verification.to_dict() if self.verification else None}


def backup_workspace(ws: Workspace, dest: Path | str) -> BackupResult:
    """Copy the ledger, archive, receipts, config and roster of ``ws`` into ``dest``, then verify the copy."""
    dest = Path(dest).resolve()
    root = Path(ws.root).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"备份文件夹 {dest} 已存在且不是空文件夹；请指定一个新的文件夹，以免覆盖以前的备份。")
    if dest.is_relative_to(root) and any(dest.is_relative_to(p) for p in (ws.archive, ws.outbox, ws.inbox)):
        raise BackupError(f"备份文件夹 {dest} 不能放在存档、收件箱或发件箱中。")
    places = {
        "ledger": _place(root, ws.ledger_path, "ledger.sqlite"),
        "archive": _place(root, ws.archive, "archive"),
        "outbox": _place(root, ws.outbox, "outbox"),
        "roster": _place(root, ws.roster_path, "roster.xlsx"),
    }
    result = BackupResult(dest)
    dest.mkdir(parents=True, exist_ok=True)
    copy = _as_backup(ws, dest, places)
    folders = [(Path(ws.archive), Path(copy.archive)), (Path(ws.receipts_dir), Path(copy.receipts_dir))]
    before = {path for source, _ in folders for path in _files_under(source)}  # what was there before the snapshot
    # The ledger first: every row in the copy then has its archive file and receipt copied after it.
    with Ledger(ws.ledger_path, readonly=True) as ledger:
        target = dest / places["ledger"]
        target.parent.mkdir(parents=True, exist_ok=True)
        ledger.backup_to(target)
        result.copied.append(target)
    checkpoint("backup-after-snapshot")
    with Ledger(target, readonly=True) as snapshot:
        in_snapshot = named_files(ws, rows_of(snapshot))
    result.copied += _copy_files(folders, in_snapshot)
    with Ledger(ws.ledger_path, readonly=True) as ledger:  # rows recorded since: their files are newer
        recorded_since = named_files(ws, rows_of(ledger)) - in_snapshot
    result.copied += _copy_files(folders, before - in_snapshot - recorded_since)  # strays, kept as they are
    for source, relative in ((root / CONFIG_NAME, CONFIG_NAME), (Path(ws.roster_path), places["roster"]),
                             *_rulebook(ws, root)):
        if source.is_file():
            result.copied.append(_copy_file(source, dest / relative))
    result.verification = check_workspace(copy, snapshot=True)
    return result


def _files_under(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and not is_temp_name(p.name)]


def _copy_files(folders: list[tuple[Path, Path]], wanted: set[Path]) -> list[Path]:
    """Copy the files of ``wanted`` that exist, each from its source folder to the same place in its target."""
    copied = []
    for source, target in folders:
        for path in sorted(p for p in wanted if p.is_relative_to(source)):
            if path.is_file() and not path.is_symlink() and not is_temp_name(path.name):
                copied.append(_copy_file(path, target / path.relative_to(source)))
    return copied


def _place(root: Path, path: Path, default: str) -> str:
    """Where ``path`` goes in the backup: the same place relative to the workspace, else ``default``."""
    path = Path(path).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else default


def _rulebook(ws: Workspace, root: Path) -> list[tuple[Path, str]]:
    custom = ws.raw.get("paths", {}).get("rulebook")
    if not custom:
        return []
    source = (root / custom).resolve()
    return [(source, _place(root, source, source.name))]


def _as_backup(ws: Workspace, dest: Path, places: dict[str, str]) -> Workspace:
    """The backup folder seen as a workspace, so it is checked exactly as the original would be."""
    paths = {**ws.raw.get("paths", {}), **{k: places[k] for k in ("ledger", "archive", "outbox", "roster")}}
    return Workspace(dest, {**ws.raw, "paths": paths})


def _copy_file(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)  # keeps the archive's read-only mode and the times
    with open(target, "rb") as fh:  # on disk before the backup is reported done
        os.fsync(fh.fileno())
    fsync_folder(target.parent)
    return target
