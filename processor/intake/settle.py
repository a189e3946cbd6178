"""Is a file in the inbox a finished copy?  What the file's bytes and this machine can tell.

Copy tools stall, pre-allocate the whole size and fill it in any order, so neither the
size, the times nor a readable directory alone tells a finished copy.  The container
must be whole (:func:`container_complete`: a zip whose directory ends the file and whose
members all lie in it, with no zero-filled blocks where deflated data should be; an OLE
file (.xls) whose header, FAT and directory fit the file), and no process on this machine
may hold the file open for writing (:func:`open_for_writing`, Linux: ``/proc/*/fd``).
When to look, and how long to wait, is the watcher's part (:mod:`processor.intake.watch`).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

ZIP_MAGIC = b"PK\x03\x04"
PREALLOCATED = b"\x00\x00\x00\x00"  # a share that pre-allocates shows zeros where the copy has not reached

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZERO_BLOCK = 4096  # a whole aligned block of zeros inside deflated data: a region the copy has not reached


def zip_is_complete(path: Path) -> bool:
    """True when the zip is whole as far as its structure tells (see :func:`_zip_whole`).

    A workbook that is still being copied has no directory at its end yet (or, on
    shares that pre-allocate, only zeros there); a copy that writes the directory
    first has zeros where its members' headers and data will be."""
    try:
        with open(path, "rb") as fh:
            return _zip_whole(fh, os.fstat(fh.fileno()).st_size)
    except OSError:
        return False


def _zip_whole(fh, size: int) -> bool:
    tail_size = min(size, 22 + 0xFFFF)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return False
    comment_length = int.from_bytes(tail[at + 20:at + 22], "little")
    if at + 22 + comment_length != len(tail):
        return False  # something after the directory's end: zeros of a pre-allocated file, or more to come
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as archive:
            infos = archive.infolist()
            directory_start = archive.start_dir
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        return False
    for info in infos:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if len(local) < 30 or local[:4] != ZIP_MAGIC:
            return False  # the member's header is not there (yet)
        start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
        end = start + info.compress_size
        if end > min(directory_start, size):
            return False
        if info.compress_type == zipfile.ZIP_DEFLATED and _has_zero_block(fh, start, end):
            return False
    return True


def _has_zero_block(fh, start: int, end: int) -> bool:
    """Whether [start, end) holds a whole ZERO_BLOCK-aligned block of zeros (deflate output never does)."""
    first = -(-start // ZERO_BLOCK) * ZERO_BLOCK
    if first + ZERO_BLOCK > end:
        return False
    fh.seek(first)
    zeros = bytes(ZERO_BLOCK)
    for _ in range(first, end - ZERO_BLOCK + 1, ZERO_BLOCK):
        if fh.read(ZERO_BLOCK) == zeros:
            return True
    return False


_FREE, _END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE


def ole_is_complete(path: Path) -> bool:
    """True when an OLE compound file (.xls, an encrypted workbook) is whole as far as its structure
    tells: every FAT sector the header names, every sector the FAT uses and the directory chain lie
    inside the file, and the directory starts with its root entry (not pre-allocated zeros)."""
    try:
        with open(path, "rb") as fh:
            return _ole_whole(fh, os.fstat(fh.fileno()).st_size)
    except OSError:
        return False


def _ole_whole(fh, size: int) -> bool:
    header = fh.read(512)
    if len(header) < 512 or header[:8] != OLE_MAGIC:
        return False
    shift = int.from_bytes(header[30:32], "little")
    if shift not in (9, 12):
        return False
    sector = 1 << shift
    per_sector = sector // 4
    fat_count = int.from_bytes(header[44:48], "little")
    directory_first = int.from_bytes(header[48:52], "little")
    difat_next = int.from_bytes(header[68:72], "little")
    sectors_in_file = size // sector - 1   # whole sectors after the header sector
    if fat_count == 0 or fat_count > sectors_in_file:
        return False

    def read_sector(number: int) -> bytes | None:
        if number >= sectors_in_file:
            return None
        fh.seek((number + 1) * sector)
        data = fh.read(sector)
        return data if len(data) == sector else None

    fat_sectors = [int.from_bytes(header[76 + 4 * i:80 + 4 * i], "little") for i in range(min(fat_count, 109))]
    seen = 0
    while len(fat_sectors) < fat_count:  # the DIFAT chain beyond the header's 109 entries
        block = read_sector(difat_next) if seen < sectors_in_file else None
        if block is None:
            return False
        seen += 1
        entries = [int.from_bytes(block[4 * i:4 * i + 4], "little") for i in range(per_sector)]
        fat_sectors += entries[:-1][:fat_count - len(fat_sectors)]
        difat_next = entries[-1]
    fat: list[int] = []
    for number in fat_sectors:
        block = read_sector(number)
        if block is None:
            return False
        fat += [int.from_bytes(block[4 * i:4 * i + 4], "little") for i in range(per_sector)]
    used = [i for i, entry in enumerate(fat) if entry != _FREE]
    if used and used[-1] >= sectors_in_file + (1 if size % sector else 0):
        return False  # the FAT uses sectors the file does not reach yet
    number, steps = directory_first, 0
    while number != _END_OF_CHAIN:
        if number >= len(fat) or steps > len(fat):
            return False
        block = read_sector(number)
        if block is None:
            return False
        if steps == 0 and (block[0:20] != "Root Entry".encode("utf-16-le") or block[66] != 5):
            return False  # zeros where the directory will be
        number, steps = fat[number], steps + 1
    return steps > 0


def container_complete(path: Path) -> bool:
    """Whether the file's container (a zip: .xlsx, .ods …; an OLE file: .xls …) is whole.

    A file whose content is neither (text, a PDF, an image, an empty file) is complete as far
    as its format tells; one that starts with zeros is taken for a pre-allocated copy whose
    beginning has not arrived and is complete only once it reads as a whole zip."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(OLE_MAGIC))
    except OSError:
        return True  # unreadable: the intake answers that, waiting would not help
    if head.startswith(OLE_MAGIC):
        return ole_is_complete(path)
    if head.startswith(ZIP_MAGIC) or head.startswith(PREALLOCATED):
        return zip_is_complete(path)
    return True


def copy_may_be_unfinished(path: Path) -> bool:
    """True for a file that can still be a copy in progress although it has stopped changing:
    its zip or OLE container is not whole yet (:func:`container_complete`).

    Everything else is certainly complete as far as its format goes (a PDF, text, an image,
    an empty file) and is answered at once, without the grace given to unfinished copies."""
    return not container_complete(path)


def open_for_writing(paths) -> set[Path]:
    """Those of ``paths`` a process on this machine holds open for writing (Linux: ``/proc/*/fd``;
    elsewhere, and for processes of other users, nothing can be seen: the empty set)."""
    wanted = {os.path.realpath(p): Path(p) for p in paths}
    found: set[Path] = set()
    if not wanted or not os.path.isdir("/proc/self/fd"):
        return found
    try:
        pids = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or another user's
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target not in wanted:
                continue
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    flags = next((int(line.split()[1], 8) for line in info if line.startswith("flags:")), 0)
            except (OSError, ValueError):
                continue
            if flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                found.add(wanted[target])
    return found


