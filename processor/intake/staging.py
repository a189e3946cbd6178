"""Reading an inbox file once, by descriptor, into a private staging copy; removing it only if unchanged.

The inbox is shared ground: while the processor reads a file, a clerk may save a
corrected version over it, a copy tool may replace it, someone may swap in a
symbolic link to a file elsewhere.  So a file is opened once — each folder
between the inbox and the file opened without following links, the file itself
with ``O_NOFOLLOW`` — and its bytes are copied, while hashed, into a private
staging file.  Validation, the archive and the ledger all use that copy: what is
recorded is exactly what was read, whatever happens to the inbox entry meanwhile.

The entry is removed afterwards only if it is still the very file that was read
(same device and inode, size and modification time); a file saved over it in the
meantime stays in the inbox for the next pass, which takes it as a new submission.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from collections.abc import Iterator

from processor.common.faults import checkpoint
from processor.common.fsutil import safe_name

Identity = tuple[int, int, int, int]  # (st_dev, st_ino, st_size, st_mtime_ns) of the inbox entry as read

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO put in place of the file must not block the open
_BINARY = getattr(os, "O_BINARY", 0)
_BY_DESCRIPTOR = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd and bool(_NOFOLLOW)


class NotARegularFile(OSError):
    """The entry is (now) a link, a folder, a pipe …: it is not taken."""


class ChangedWhileRead(OSError):
    """The file was written to while its bytes were being copied; it is read again on a later pass."""


@dataclass(frozen=True)
class Staged:
    """A private copy of an inbox file's bytes, as they were read once."""
    path: Path          # the copy (inside the workspace's staging folder)
    sha: str
    size: int
    identity: Identity  # the inbox entry that was read

    def discard(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


def identity_text(identity: Identity | None) -> str | None:
    """How the ledger keeps an identity (``files.inbox_identity``)."""
    return None if identity is None else ":".join(str(v) for v in identity)


def parse_identity(text: str | None) -> Identity | None:
    if not text:
        return None
    try:
        dev, ino, size, mtime = (int(v) for v in text.split(":"))
    except ValueError:
        return None
    return dev, ino, size, mtime


def _identity_of(info: os.stat_result) -> Identity:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _parts(relative: str) -> list[str]:
    parts = [p for p in PurePosixPath(relative).parts if p not in ("", ".")]
    if not parts or any(p in ("..", "/") for p in parts):
        raise NotARegularFile(f"不在收件箱中的路径：{relative}")
    return parts


@contextlib.contextmanager
def _folder_of(inbox: Path, relative: str) -> Iterator[tuple[int | None, str]]:
    """(descriptor of the folder holding the entry, the entry's name), each folder below the inbox opened
    without following a link.  Where the platform has no ``dir_fd`` (Windows), (None, full path) after
    checking that no component is a link."""
    parts = _parts(relative)
    if not _BY_DESCRIPTOR:
        path = Path(inbox)
        for part in parts[:-1]:
            path = path / part
            if stat.S_ISLNK(os.lstat(path).st_mode) or not path.is_dir():
                raise NotARegularFile(f"收件箱中的文件夹是链接：{relative}")
        yield None, str(path / parts[-1])
        return
    folder = os.open(inbox, os.O_RDONLY | _DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=folder)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link, or not a folder
                    raise NotARegularFile(f"收件箱中的文件夹是链接：{relative}") from exc
                raise
            os.close(folder)
            folder = inner
        yield folder, parts[-1]
    finally:
        os.close(folder)


def current_identity(inbox: Path, relative: str) -> Identity | None:
    """The identity of the regular file now at ``relative``, or None (gone, a link, not a file)."""
    try:
        with _folder_of(inbox, relative) as (folder, name):
            info = os.stat(name, dir_fd=folder, follow_symlinks=False) if folder is not None else os.lstat(name)
    except OSError:
        return None
    return _identity_of(info) if stat.S_ISREG(info.st_mode) else None


def _open_entry(folder: int | None, name: str) -> int:
    flags = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(name, flags, dir_fd=folder) if folder is not None else os.open(name, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotARegularFile(f"文件是链接：{name}") from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotARegularFile(f"不是普通文件：{name}")
    if _NONBLOCK:
        os.set_blocking(fd, True)
    return fd


def staged_suffix(name: str) -> str:
    """The suffix a copy keeps (the readers look at it): a short plain one, else ``.bin``."""
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ".bin"


def stage(inbox: Path, relative: str, staging_dir: Path, *, display_name: str | None = None,
          path_for_faults: Path | None = None) -> Staged:
    """Open ``inbox/relative`` once and copy its bytes into a new private folder of ``staging_dir``,
    hashing them.  Raises :class:`NotARegularFile` for a link or special file, :class:`ChangedWhileRead`
    when the file was written to during the copy, ``OSError`` when it cannot be read."""
    staging_dir = Path(staging_dir)
    staging_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _folder_of(inbox, relative) as (folder, name):
        fd = _open_entry(folder, name)
    with contextlib.closing(os.fdopen(fd, "rb")) as src:
        before = os.fstat(src.fileno())
        checkpoint("inbox-opened", path=path_for_faults)
        shown = display_name or PurePosixPath(relative).name
        private = Path(tempfile.mkdtemp(prefix=".tmp-", dir=staging_dir))
        target = private / safe_name(Path(shown).stem, extension=staged_suffix(shown))
        digest, size = hashlib.sha256(), 0
        try:
            with open(target, "xb") as dst:
                while block := src.read(1 << 20):
                    digest.update(block)
                    dst.write(block)
                    size += len(block)
            after = os.fstat(src.fileno())
            # (not ctime: it changes when the entry is merely unlinked or renamed away, which leaves these bytes whole)
            if _identity_of(after) != _identity_of(before) or size != after.st_size:
                raise ChangedWhileRead(f"文件在读取时被改动：{relative}")
        except BaseException:
            shutil.rmtree(private, ignore_errors=True)
            raise
    staged = Staged(target, digest.hexdigest(), size, _identity_of(before))
    checkpoint("inbox-copied", path=path_for_faults)
    return staged


def remove_if_unchanged(inbox: Path, relative: str, identity: Identity) -> bool:
    """Remove the inbox entry if it is still the file that was read; False (left alone) otherwise.
    An ``OSError`` of the removal itself (a file that cannot be deleted) is raised."""
    try:
        return _remove_if_unchanged(inbox, relative, identity)
    except (NotARegularFile, FileNotFoundError):  # a folder on the way replaced by a link, or gone
        return False


def _remove_if_unchanged(inbox: Path, relative: str, identity: Identity) -> bool:
    with _folder_of(inbox, relative) as (folder, name):
        try:
            info = os.stat(name, dir_fd=folder, follow_symlinks=False) if folder is not None else os.lstat(name)
        except FileNotFoundError:
            return False
        if not stat.S_ISREG(info.st_mode) or _identity_of(info) != tuple(identity):
            return False
        if folder is not None:
            os.unlink(name, dir_fd=folder)
        else:
            os.unlink(name)
    return True


def identity_if_content(inbox: Path, relative: str, sha: str) -> Identity | None:
    """For an arrival recorded without an identity (before the ledger kept one): the identity of the
    entry now at ``relative`` if its bytes are ``sha``, read through one descriptor."""
    try:
        with _folder_of(inbox, relative) as (folder, name):
            fd = _open_entry(folder, name)
        with contextlib.closing(os.fdopen(fd, "rb")) as src:
            info = os.fstat(src.fileno())
            digest = hashlib.sha256()
            while block := src.read(1 << 20):
                digest.update(block)
    except FileNotFoundError:
        return None
    except NotARegularFile:
        return None
    return _identity_of(info) if digest.hexdigest() == sha else None


def clear_staging(staging_dir: Path) -> None:
    """Remove what a killed run left in the staging folder (call with the workspace lock held)."""
    staging_dir = Path(staging_dir)
    if staging_dir.is_dir():
        for entry in staging_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
