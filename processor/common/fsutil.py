"""File-system helpers shared by every stage: atomic writes, safe names.

Nothing half-written may ever be visible in the outbox, and nothing a
submitter writes (a unit name, a file name) may place a file outside its folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import sqlite3
import tempfile
import time
import unicodedata
import zipfile
from pathlib import Path
from collections.abc import Iterable, Iterator

TEMP_PREFIX = ".tmp-"
# mkstemp creates 0600 files; outputs are meant for colleagues on the share, so apply the umask
# the way an ordinary open() would.  Read once at import, while no other thread runs.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
# Separators and the characters Windows forbids become "_"; what cannot be seen (control and format
# characters: U+202E and the other bidi controls, zero-width spaces) is dropped, and a lone surrogate
# (an undecodable byte of a file name) cannot be written at all.
_FORBIDDEN_CHARS = re.compile(r'[<>:"/\\|?*]')
_DROPPED_CATEGORIES = {"Cc", "Cf"}
_REPLACED_CATEGORIES = {"Cs"}
_WINDOWS_DEVICES = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?", re.IGNORECASE)
# UTF-8 bytes of a whole name, extension included.  A UTF-8 encoding is never shorter than the UTF-16
# one, so this also keeps within Windows' 255 UTF-16 units, with room for the ".tmp-" temp names.
MAX_NAME_BYTES = 200
TAG_SEPARATOR = "~"
TAG_CHARS = 8


def safe_name(name: str, fallback: str = "未命名", *, extension: str = "", tagged: bool = False) -> str:
    """Turn a display name (a unit, a site, a title) into one safe path component ending in ``extension``.

    The result can never be '..' or climb out of a folder, holds no invisible characters, is valid
    on Windows and fits ``MAX_NAME_BYTES`` with the extension kept.  A name that had to be changed
    to get there (or ``tagged``) ends with "~" and a short hash of the original: two different
    names never meet in one file (马尾造船/一分厂 and 马尾造船_一分厂, two long names sharing
    a prefix), and the same name always gets the same file, whatever else is in the folder.
    """
    original = str(name).strip()
    text = "".join("_" if unicodedata.category(ch) in _REPLACED_CATEGORIES else ch
                   for ch in unicodedata.normalize("NFC", original)
                   if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = _FORBIDDEN_CHARS.sub("_", text).strip().lstrip(".").rstrip(". ")
    if _WINDOWS_DEVICES.fullmatch(text):
        text += "_"
    if not text and not original:
        return fallback + extension
    if tagged or text != original or _utf8_len(text + extension) > MAX_NAME_BYTES:
        tag = TAG_SEPARATOR + hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:TAG_CHARS]
        text = _clip(text or fallback, MAX_NAME_BYTES - _utf8_len(tag + extension)).rstrip(". ") + tag
    return text + extension


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _clip(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-8 bytes (whole characters only)."""
    return text.encode("utf-8")[:max(0, limit)].decode("utf-8", "ignore")


class UniqueNames:
    """The file names of one folder: ``safe_name`` of each display name, except that a name another
    display name already has — compared without case, as Windows and most shares compare — is tagged.
    Names are given in sorted order of the display names, so no caller's order changes them."""

    def __init__(self, names: Iterable[str], *, extension: str = ""):
        self._names: dict[str, str] = {}
        taken: set[str] = set()
        for display in sorted(set(names)):
            name = safe_name(display, extension=extension)
            if name.casefold() in taken:
                name = safe_name(display, extension=extension, tagged=True)
            taken.add(name.casefold())
            self._names[display] = name

    def __getitem__(self, display: str) -> str:
        return self._names[display]


def safe_join(folder: Path, *parts: str) -> Path:
    """``folder / part / …`` with each part made safe; never outside ``folder``."""
    path = Path(folder)
    for part in parts:
        path = path / safe_name(part)
    resolved_root = Path(folder).resolve()
    if not path.resolve().is_relative_to(resolved_root):  # defence in depth
        raise ValueError(f"路径越界：{path}")
    return path


# When the disk, not the data, is to blame for a failed write: (what is wrong, what the operator does).
_FULL = ("所在磁盘已满", "腾出空间")
_READ_ONLY = ("只读或没有写入权限", "恢复写入权限")
_STORAGE_ERRNOS = {errno.ENOSPC: _FULL, errno.EDQUOT: _FULL,
                   errno.EROFS: _READ_ONLY, errno.EACCES: _READ_ONLY, errno.EPERM: _READ_ONLY}


class StorageError(RuntimeError):
    """A write failed because the disk is full, read-only or not ours to write.  The message is one
    Chinese line for the operator (what happened, what stays as it was, what to do); the original
    error is the ``__cause__``, logged with its details."""


def storage_error(exc: BaseException, *, outbox: Path, kept: str, command: str) -> StorageError | None:
    """The :class:`StorageError` for ``exc`` when a full or read-only disk (file or ledger) caused it,
    else None; it names the outbox when the failed path lies in it, the ledger for a database error."""
    for cause in _causes(exc):
        trouble, place = None, "发件箱"
        if isinstance(cause, OSError):
            trouble = _STORAGE_ERRNOS.get(cause.errno)
            if cause.filename and not Path(os.fsdecode(cause.filename)).is_relative_to(outbox):
                place = "工作区"
        elif isinstance(cause, sqlite3.OperationalError):
            text, place = str(cause).lower(), "台账"
            trouble = _FULL if "is full" in text else _READ_ONLY if "readonly" in text else None
        if trouble:
            what, remedy = trouble
            return StorageError(f"{place}{what}，{kept}，{remedy}后重新运行 {command}")
    return None


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


@contextlib.contextmanager
def atomic_path(target: Path, *, sync_folder: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The temp file lives in the same folder (so ``os.replace`` is atomic) and
    starts with ``.tmp-`` so watchers and readers skip it.  On error it is removed.
    The folder is synced after the replace, so the new name survives a power cut
    (``sync_folder=False``: the caller syncs it once after several files).
    """
    with _replacing(Path(target), sync_folder) as (fd, tmp):
        os.close(fd)
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())


@contextlib.contextmanager
def _replacing(target: Path, sync_folder: bool) -> Iterator[tuple[int, Path]]:
    """A new temp file beside ``target``, as its open descriptor (the caller's to close) and path,
    for the block to fill and sync; then it gets its mode and replaces ``target``, and the folder is
    synced.  On error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=target.suffix, dir=target.parent)
    tmp_path = Path(tmp)
    try:
        yield fd, tmp_path
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, target)
        if sync_folder:
            fsync_folder(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename, a new file) to disk where the platform can open a
    folder (not on Windows, where NTFS journals the rename itself)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some network file systems refuse fsync on a folder: nothing more to do
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_write_bytes(target: Path, data: bytes, *, sync_folder: bool = True) -> Path:
    """:func:`atomic_path` for bytes in hand: written and synced through the one descriptor the
    temp file was created with (intake writes two receipts a form)."""
    target = Path(target)
    with _replacing(target, sync_folder) as (fd, _), open(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fd)
    return target


def atomic_write_text(target: Path, text: str, *, sync_folder: bool = True) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"), sync_folder=sync_folder)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def remove_stale_temp_files(folder: Path, *, min_age_seconds: float = 0.0, exclude: Path | None = None) -> int:
    """Delete the ``.tmp-*`` files a killed writer left under ``folder``; returns how many.

    With ``min_age_seconds`` 0, only call it while no writer of that folder can be running
    (the workspace lock held); otherwise files younger than that are left to their writer.
    ``exclude`` skips one sub-folder (another stage's own territory).
    """
    removed = 0
    cutoff = time.time() - min_age_seconds
    for path in Path(folder).rglob(TEMP_PREFIX + "*"):
        if exclude is not None and path.is_relative_to(exclude):
            continue
        if path.is_file() and not path.is_symlink() and (not min_age_seconds or path.stat().st_mtime < cutoff):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


ZIP_STAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can say: no build time in the bytes


def fixed_zip_entry(name: str) -> zipfile.ZipInfo:
    """A deflated zip entry with a fixed timestamp and mode: the same content gives the same bytes
    (the .docx and .xlsx outputs are zips)."""
    info = zipfile.ZipInfo(name, date_time=ZIP_STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


_OS_ERRORS_CN = {errno.EACCES: "没有读写权限", errno.EPERM: "没有读写权限", errno.ENOSPC: "磁盘空间已满",
                 errno.EROFS: "文件夹是只读的", errno.EDQUOT: "磁盘配额已用完", errno.EIO: "磁盘读写出错",
                 errno.ENOENT: "文件或文件夹不存在"}


def describe_os_error(exc: OSError) -> str:
    """What went wrong with the file system, in words an operator understands."""
    reason = _OS_ERRORS_CN.get(exc.errno, "文件系统出错")
    where = f"（{exc.filename}）" if exc.filename else ""
    return f"{reason}{where}，系统提示：{exc.strerror or exc}"
