"""``processor restore BACKUP``: put a backup made by ``processor backup`` back into the workspace.

1. Refuses while a processor (``serve``, ``watch``, ``process``) holds the workspace lock, and holds
   the lock itself meanwhile, so none starts halfway; refuses too while this process has the
   ledger open.
2. Checks the backup first, read-only: a backup that does not pass its check is not restored.
3. Moves the workspace's current record out of the way, into ``恢复前-<时间>/`` in the workspace
   folder: the ledger *with its* ``-wal`` and ``-shm`` (SQLite would otherwise merge that stale WAL,
   left by a killed ``serve``, into the restored file and corrupt it), the archive, the receipts,
   config.toml, the roster and a custom rulebook.  Nothing is deleted.
4. Copies the backup's files into place (the ledger under a temporary name, synced, then renamed),
   where the backup's config.toml puts them.
5. Checks the restored workspace and returns that report.

A ledger that finds another ledger's WAL beside it refuses to open
(:func:`processor.record.ledger._check_file`), so a manual copy done in the wrong order stops
with a message instead of corrupting the record.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from processor.common.config import CONFIG_NAME, Workspace
from processor.common.fsutil import atomic_path, is_temp_name
from processor.common.lock import WorkspaceLock
from processor.record.backup import _as_backup, _copy_file, _place, _rulebook
from processor.record.check import CheckReport, check_workspace
from processor.record.ledger import open_in_this_process, shm_path, wal_path

ASIDE_PREFIX = "恢复前-"


class RestoreError(RuntimeError):
    """The backup was not restored; the message says why, in Chinese.  ``report`` is the backup's
    own check when that is the reason."""

    def __init__(self, message: str, report: CheckReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class RestoreResult:
    source: Path
    aside: Path | None = None  # where the workspace's previous record was moved
    moved: list[Path] = field(default_factory=list)  # their new places, inside ``aside``
    copied: list[Path] = field(default_factory=list)  # files written into the workspace
    not_in_backup: list[Path] = field(default_factory=list)  # originals received after the backup, moved aside
    verification: CheckReport | None = None

    @property
    def ok(self) -> bool:
        return self.verification is not None and self.verification.ok

    def to_dict(self) -> dict:
        return {"ok": self.ok, "source": str(self.source), "aside": str(self.aside) if self.aside else None,
                "moved": [str(p) for p in self.moved], "files": len(self.copied),
                "not_in_backup": [str(p) for p in self.not_in_backup],
                "verification": self.verification.to_dict() if self.verification else None}


def restore_workspace(ws: Workspace, source: Path | str, *, now: dt.datetime | None = None) -> RestoreResult:
    """Replace the record of ``ws`` with the backup in ``source`` (see the module's steps)."""
    source = Path(source).resolve()
    root = Path(ws.root).resolve()
    if not source.is_dir():
        raise RestoreError(f"备份文件夹 {source} 不存在。请指定 `processor backup` 生成的备份文件夹。")
    if source == root:
        raise RestoreError(f"{source} 就是工作区文件夹本身，不是备份文件夹。")
    target = _restored_config(ws, source)
    places = {"ledger": _place(root, target.ledger_path, "ledger.sqlite"),
              "archive": _place(root, target.archive, "archive"),
              "outbox": _place(root, target.outbox, "outbox"),
              "roster": _place(root, target.roster_path, "roster.xlsx")}
    backup = _as_backup(target, source, places)
    if not Path(backup.ledger_path).is_file():
        raise RestoreError(f"备份文件夹 {source} 中没有台账文件 {places['ledger']}，"
                           "不是 `processor backup` 生成的备份（或不完整）。工作区没有任何改动。")
    for path in (Path(target.archive), Path(target.receipts_dir)):
        if source.is_relative_to(path):
            raise RestoreError(f"备份文件夹 {source} 在工作区的 {path} 之中，恢复时会被移走；请先把它移到别处。")
    result = RestoreResult(source)
    with WorkspaceLock(ws):  # AlreadyRunning: serve, watch or process is at work on this workspace
        for ledger in {Path(ws.ledger_path), Path(target.ledger_path)}:
            if open_in_this_process(ledger):
                raise RestoreError(f"本进程仍打开着台账 {ledger}，不能恢复；请关闭后再试。")
        report = check_workspace(backup, snapshot=True)
        if not report.ok:
            raise RestoreError(f"备份 {source} 未通过检查（{len(report.problems)} 个问题），没有恢复，"
                               "工作区没有任何改动。请换一个备份。", report)
        stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
        result.aside = _free_folder(root / f"{ASIDE_PREFIX}{stamp}")
        try:
            moved = _move_aside(ws, target, backup, root, source, result.aside)
            result.moved = list(moved.values())
            result.copied = _copy_in(backup, target, root, source)
        except OSError as exc:  # a full disk, a file in use: say where the previous record is
            raise RestoreError(f"恢复中途失败（{exc.strerror or exc}：{exc.filename or ''}）。工作区原来的台账、存档和回执"
                               f"在 {result.aside} 中，没有删除；处理好原因后再运行一次 processor restore。") from exc
    result.verification = check_workspace(target, snapshot=True)
    if (old_archive := moved.get(Path(ws.archive))) is not None:
        result.not_in_backup = [p for p in _files(old_archive)
                                if not (Path(target.archive) / p.relative_to(old_archive)).exists()]
    return result


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not is_temp_name(p.name))


def _restored_config(ws: Workspace, source: Path) -> Workspace:
    """The workspace as the backup's config.toml describes it (the current one if the backup has none)."""
    config = source / CONFIG_NAME
    if not config.is_file():
        return ws
    try:
        raw = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RestoreError(f"备份中的 {config} 无法读取（{exc}）。工作区没有任何改动。") from None
    return Workspace(Path(ws.root).resolve(), raw)


def _free_folder(folder: Path) -> Path:
    candidate, n = folder, 1
    while candidate.exists():
        n += 1
        candidate = folder.with_name(f"{folder.name}-{n}")
    candidate.mkdir(parents=True)
    return candidate


def _record_items(ws: Workspace, root: Path, backup: Workspace, source: Path) -> list[Path]:
    """The files and folders of the record where ``ws`` puts them: the ledger with its -wal and -shm,
    the archive and the receipts always (the restored record is the backup's), config.toml, the roster
    and a custom rulebook when the backup has them (else the workspace keeps its own)."""
    ledger = Path(ws.ledger_path)
    items = [ledger, wal_path(ledger), shm_path(ledger), Path(ws.archive), Path(ws.receipts_dir)]
    singles = [(root / CONFIG_NAME, source / CONFIG_NAME), (Path(ws.roster_path), Path(backup.roster_path))]
    singles += [(path, source / relative) for path, relative in _rulebook(ws, root)]
    return items + [path for path, replacement in singles if replacement.is_file()]


def _move_aside(current: Workspace, target: Workspace, backup: Workspace, root: Path, source: Path,
                aside: Path) -> dict[Path, Path]:
    """Move the record, as the current and the restored config place it, into ``aside`` (same relative
    places; items outside the workspace folder under their own name)."""
    moved: dict[Path, Path] = {}
    for item in _record_items(current, root, backup, source) + _record_items(target, root, backup, source):
        if item in moved or not (item.exists() or item.is_symlink()):
            continue
        place = aside / (item.relative_to(root) if item.is_relative_to(root) else Path(item.name))
        place.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(item), str(place))
        moved[item] = place
    return moved


def _copy_in(backup: Workspace, target: Workspace, root: Path, source: Path) -> list[Path]:
    copied = []
    ledger = Path(target.ledger_path)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    for stale in (wal_path(ledger), shm_path(ledger)):  # moved aside above; never beside the restored file
        if stale.exists():
            raise RestoreError(f"{stale} 在恢复过程中又出现了（另一个程序正打开台账？）。请停止所有 processor 命令后再试。")
    with atomic_path(ledger) as tmp:
        shutil.copyfile(backup.ledger_path, tmp)
    copied.append(ledger)
    for folder, into in ((Path(backup.archive), Path(target.archive)),
                         (Path(backup.receipts_dir), Path(target.receipts_dir))):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.is_symlink() and not is_temp_name(path.name):
                    copied.append(_copy_file(path, into / path.relative_to(folder)))
    singles = [(source / CONFIG_NAME, root / CONFIG_NAME), (Path(backup.roster_path), Path(target.roster_path))]
    singles += [(source / relative, path) for path, relative in _rulebook(target, root)]
    for origin, destination in singles:
        if origin.is_file():
            copied.append(_copy_file(origin, destination))
    return copied
