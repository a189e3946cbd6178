"""Helpers for tests that need real monthly-form workbooks.

Forms are built from the real template (``processor.validate.samples.fill_form``) and
edited with openpyxl the way a clerk would edit them in Excel.
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from processor.validate.roster import sample_roster
from processor.common.rulebook import load_rulebook
from processor.validate.samples import fill_form
from processor.validate.validator import validate_file

ROSTER = sample_roster()
RULEBOOK = load_rulebook()
UNIT = "罗源县"
MONTH = "2026-10"


@functools.cache
def _master() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="form-master-"))
    return fill_form(folder / "master.xlsx", roster=ROSTER, rulebook=RULEBOOK, unit=UNIT, month=MONTH, seed=7)


def filled_form(dest: Path) -> Path:
    """A correctly filled form of 罗源县 for 2026-10 (2 sites, 8 contacts, 10 meetings) copied to ``dest``."""
    dest = Path(dest)
    shutil.copyfile(_master(), dest)
    return dest


def validate(path, **kwargs):
    return validate_file(path, roster=ROSTER, rulebook=RULEBOOK, **kwargs)


def edit(path: Path, change) -> Path:
    """Open ``path`` with openpyxl, call ``change(workbook)``, save in place."""
    wb = load_workbook(path)
    change(wb)
    wb.save(path)
    return path


def set_cells(path: Path, sheet: str, values: dict[str, object]) -> Path:
    def change(wb):
        for cell, value in values.items():
            wb[sheet][cell].value = value
    return edit(path, change)


def cell_value(path: Path, sheet: str, cell: str):
    return load_workbook(path, read_only=True)[sheet][cell].value


def soffice_available() -> bool:
    return shutil.which("soffice") is not None


def soffice_convert(src: Path, fmt: str, outdir: Path) -> Path:
    """Convert with LibreOffice (a private profile so parallel runs do not collide)."""
    return soffice_convert_all([src], fmt, outdir)[0]


def soffice_convert_all(srcs: list[Path], fmt: str, outdir: Path) -> list[Path]:
    """Convert each of ``srcs`` (distinct names) by one run of LibreOffice: it starts once for them all."""
    outdir.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    try:
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{profile}", "--convert-to", fmt,
                        "--outdir", str(outdir), *map(str, srcs)], check=True, capture_output=True,
                       timeout=120 * len(srcs))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return [outdir / f"{src.stem}.{fmt.split(':')[0]}" for src in srcs]


def rewrite_zip(src: Path, dest: Path, *, add: dict[str, bytes] | None = None,
                replace: dict[str, bytes] | None = None) -> Path:
    """Copy an xlsx member by member, replacing or adding parts."""
    add, replace = add or {}, replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))
        for name, data in add.items():
            zout.writestr(name, data)
    return dest


def ole_file(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (CFB v3) holding ``streams`` (at most 3, each ≤ 4 KB).

    Password-protected Office files are such containers with EncryptionInfo and
    EncryptedPackage streams; legacy .xls/.et files carry a Workbook stream.
    """
    sector, endchain, free, nostream = 512, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF
    per_stream = 8  # sectors; streams are padded to 4096 bytes so no mini stream is needed
    names = list(streams)
    fat = [0xFFFFFFFD, endchain]
    for i in range(len(names)):
        first = 2 + i * per_stream
        fat += [first + k + 1 for k in range(per_stream - 1)] + [endchain]
    fat += [free] * (sector // 4 - len(fat))
    header = bytearray(sector)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 0, 1, 1, 0, 4096, endchain, 0, endchain, 0)
    difat = [0] + [free] * 108
    struct.pack_into("<109I", header, 76, *difat)

    def entry(name, kind, child, right, start, size):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        data = bytearray(128)
        data[0:len(raw)] = raw
        struct.pack_into("<HBBIII", data, 64, len(raw), kind, 1, nostream, right, child)
        struct.pack_into("<IQ", data, 116, start, size)
        return bytes(data)

    directory = entry("Root Entry", 5, 1 if names else nostream, nostream, endchain, 0)
    for i, name in enumerate(names):
        right = i + 2 if i + 1 < len(names) else nostream
        directory += entry(name, 2, nostream, right, 2 + i * per_stream, len(streams[name]))
    for _ in range(4 - 1 - len(names)):
        directory += bytes(64) + struct.pack("<HBBIII", 0, 0, 0, nostream, nostream, nostream) + bytes(48)
    body = b"".join(streams[n].ljust(per_stream * sector, b"\x00") for n in names)
    return bytes(header) + struct.pack(f"<{sector // 4}I", *fat) + directory + body


def scenario_form(dest: Path, unit: str, month: str, change=None, *, seed: int = 0, sites: int = 2,
                  contacts: int = 6, org_life: int = 6) -> Path:
    """A form of ``unit`` for ``month`` written into the real template, its records first edited by
    ``change(rows)`` (rows as :func:`processor.validate.samples.form_rows` builds them)."""
    from processor.validate.samples import form_rows, write_form

    rows = form_rows(roster=ROSTER, rulebook=RULEBOOK, unit=unit, month=month, seed=seed, sites=sites,
                     contacts=contacts, org_life=org_life)
    if change is not None:
        change(rows)
    return write_form(Path(dest), rows, roster=ROSTER, rulebook=RULEBOOK, unit=unit, month=month)
