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
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Iterator

TEMP_PREFIX = ".tmp-"
# mkstemp creates 0600 files; outputs are meant for colleagues on the share, so apply the umask
# the way an ordinary open() would.  Read once at import, while no other thread runs.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
MAX_NAME_BYTES = 200


def safe_name(name: str, fallback: str = "未命名") -> str:
    """Turn arbitrary text into one safe path component.

    Removes separators, control characters and leading dots, and caps the
    UTF-8 length, so the result can never be '..' or climb out of a folder.
    """
    text = unicodedata.normalize("NFC", str(name))
    text = _UNSAFE_CHARS.sub("_", text).strip().strip(".").strip()
    while len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = text[:-1]
    return text or fallback


def safe_join(folder: Path, *parts: str) -> Path:
    """``folder / part / …`` with each part made safe; never outside ``folder``."""
    path = Path(folder)
    for part in parts:
        path = path / safe_name(part)
    resolved_root = Path(folder).resolve()
    if not path.resolve().is_relative_to(resolved_root):  # defence in depth
        raise ValueError(f"路径越界：{path}")
    return path


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The temp file lives in the same folder (so ``os.replace`` is atomic) and
    starts with ``.tmp-`` so watchers and readers skip it.  On error it is removed.
    The folder is synced after the replace, so the new name survives a power cut.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, target)
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


def atomic_write_bytes(target: Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: Path, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
