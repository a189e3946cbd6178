"""A generator of hostile inbox files: everything that can land in a shared folder.

``generate(dest, per_category=4, seed=0)`` writes ``per_category`` variants of
every category into ``dest`` and returns one :class:`HostileFile` per entry,
saying what the processor must do with it:

* ``reject`` — a rejection receipt whose error codes all lie in ``expected_codes``
  (a specific reason such as ``encrypted`` or ``too-large``, never a generic one);
* ``accept`` — a valid form in disguise (odd name, shifted header …): accepted;
* ``either`` — content a form may legitimately carry or not (formulas, emoji,
  control characters …): accepted, or rejected with codes from ``expected_codes``;
  in both cases nothing written back may contain a live formula or broken XML;
* ``ignore`` — never taken from the inbox (lock files, symlinks, folders).

Large members (zip bombs, a million rows) are compressed once per call and the
variants differ by a small extra part, so generating the corpus stays fast.
"""

from __future__ import annotations

import datetime
import io
import math
import os
import random
import shutil
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterable

from processor.validate.roster import Roster, sample_roster
from processor.common.rulebook import Rulebook, load_rulebook
from processor.schemas.form import SHEETS_BY_KEY

REJECT, ACCEPT, EITHER, IGNORE = "reject", "accept", "either", "ignore"

# Codes a cell-level rejection of an otherwise well-formed form may carry.
CELL_CODES = frozenset({
    "required-cell", "type-error", "not-in-list", "out-of-range", "bad-month", "month-outside-year",
    "date-outside-month", "impossible-date", "date-out-of-range", "future-date", "attendance-exceeds", "unknown-unit",
    "unknown-site", "duplicate-row", "duplicate-site", "missing-site-row", "no-sites",
})
TEMPLATE_CODES = frozenset({"unknown-template", "missing-sheet", "missing-column", "template-outdated"})

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MACRO_CT = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
MB = 1 << 20


@dataclass(frozen=True)
class HostileFile:
    path: Path
    category: str
    expect: str
    expected_codes: frozenset[str] = frozenset()
    budget_seconds: float = 10.0   # wall time one file may take through validation / intake
    note: str = ""


@dataclass
class Category:
    name: str
    expect: str
    codes: frozenset[str]
    make: Callable[[Builder, int, random.Random], list[tuple[str, object]]]
    budget_seconds: float = 10.0


# --------------------------------------------------------------------------------------
# Low-level builders
# --------------------------------------------------------------------------------------

def cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (CFB v3) holding ``streams`` at its root.

    Each stream is padded to at least 4096 bytes so it lives in regular
    sectors (no mini stream needed); readers only look at the stream names.
    """
    sector = 512
    end, free, fat_mark, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    names = sorted(streams, key=lambda n: (len(n), n.upper()))
    bodies = [streams[n].ljust(4096, b"\0") for n in names]
    bodies = [b.ljust(math.ceil(len(b) / sector) * sector, b"\0") for b in bodies]
    dir_sectors = math.ceil((len(names) + 1) / 4)
    data_sectors = sum(len(b) // sector for b in bodies)
    nfat = 1
    while nfat * 128 < nfat + dir_sectors + data_sectors:
        nfat += 1
    fat = [fat_mark] * nfat
    runs = [dir_sectors] + [len(b) // sector for b in bodies]
    starts = []
    for count in runs:
        start = len(fat)
        starts.append(start)
        fat.extend(range(start + 1, start + count))
        fat.append(end)
    fat.extend([free] * (nfat * 128 - len(fat)))

    def entry(name: str, kind: int, start: int, size: int, right: int = nostream, child: int = nostream) -> bytes:
        raw = (name + "\0").encode("utf-16-le")
        return struct.pack("<64sHBBIII16sIQQIQ", raw, len(raw), kind, 1, nostream, right, child,
                           b"\0" * 16, 0, 0, 0, start, size)

    entries = [entry("Root Entry", 5, end, 0, child=1 if names else nostream)]
    for i, name in enumerate(names, start=1):
        right = i + 1 if i < len(names) else nostream
        entries.append(entry(name, 2, starts[i], len(streams[name].ljust(4096, b"\0")), right=right))
    while len(entries) % 4:
        entries.append(struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, nostream, nostream, nostream,
                                   b"\0" * 16, 0, 0, 0, 0, 0))
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", bytes.fromhex("d0cf11e0a1b11ae1"), b"\0" * 16, 0x3E, 3,
                         0xFFFE, 9, 6, b"\0" * 6, 0, nfat, starts[0], 0, 4096, end, 0, end, 0)
    difat = list(range(nfat)) + [free] * (109 - nfat)
    header += struct.pack("<109I", *difat)
    return header + struct.pack(f"<{len(fat)}I", *fat) + b"".join(entries) + b"".join(bodies)


def biff_workbook() -> bytes:
    """A Workbook stream of an Excel 97-2003 file: BOF, a sheet record, EOF."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06)
    sheet_name = "Sheet1".encode("latin-1")
    boundsheet = struct.pack("<HHIBBBB", 0x0085, 8 + len(sheet_name), 0, 0, 0, len(sheet_name), 0) + sheet_name
    eof = struct.pack("<HH", 0x000A, 0)
    return bof + boundsheet + eof


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_bytes(seed: int) -> bytes:
    from PIL import Image  # pillow comes with matplotlib

    image = Image.new("RGB", (16 + seed % 7, 16), (seed * 37 % 256, 80, 120))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def pdf_bytes(text: str) -> bytes:
    body = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R>>endobj\n"
            + f"4 0 obj<</Length {len(body)}>>stream\n".encode() + body + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def ods_bytes(seed: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
                   'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                   'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body>'
                   f'<office:spreadsheet><table:table table:name="S{seed}"/></office:spreadsheet>'
                   "</office:body></office:document-content>", zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
    return out.getvalue()


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def add_member(data: bytes, name: str, content: bytes) -> bytes:
    """A copy of zip ``data`` with one more member (how variants of a big base differ)."""
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as z:
        z.writestr(name, content)
    return out.getvalue()


def rewrite_zip(data: bytes, *, replace: dict[str, bytes | Callable] | None = None,
                drop: Iterable[str] = (), add: dict[str, bytes] | None = None) -> bytes:
    """Copy zip ``data`` member by member, replacing, dropping or adding members.

    A replacement may be a callable taking a writable member stream, for
    members too big to hold in memory.
    """
    replace, drop, add = replace or {}, set(drop), add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            if info.filename in replace:
                _write_member(dst, info.filename, replace[info.filename])
            else:
                dst.writestr(info.filename, src.read(info.filename))
        for name, content in add.items():
            _write_member(dst, name, content)
    return out.getvalue()


def _write_member(z: zipfile.ZipFile, name: str, content) -> None:
    if callable(content):
        info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as fh:
            content(fh)
    else:
        z.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), content, zipfile.ZIP_DEFLATED)


def merge_bomb(data: bytes, sheet_title: str, merges: int = 1000, ref: str = "A1:CV5000") -> bytes:
    """A copy of workbook ``data`` whose sheet ``sheet_title`` carries ``merges`` overlapping merged
    ranges ``ref``: cheap to validate (values are read without the merges' cells), ruinous to open
    whole with openpyxl (every merge creates its half-million cells again)."""
    part = sheet_parts(data)[sheet_title]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read(part).decode()
    xml = re.sub(r"<mergeCells\b.*?</mergeCells>|<mergeCells\b[^>]*/>", "", xml, flags=re.S)
    bomb = f'<mergeCells count="{merges}">' + f'<mergeCell ref="{ref}"/>' * merges + "</mergeCells>"
    return rewrite_zip(data, replace={part: xml.replace("</sheetData>", "</sheetData>" + bomb, 1).encode()})


def sheet_parts(data: bytes) -> dict[str, str]:
    """Sheet title -> zip member name, read from workbook.xml and its rels."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    targets = {}
    for rel in re.findall(r"<Relationship\b[^>]*>", rels):
        rid = re.search(r'Id="([^"]+)"', rel).group(1)
        target = re.search(r'Target="([^"]+)"', rel).group(1)
        targets[rid] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    parts = {}
    for sheet in re.findall(r"<sheet\b[^>]*>", workbook):
        name = re.search(r'name="([^"]+)"', sheet).group(1)
        rid = re.search(r'r:id="([^"]+)"', sheet).group(1)
        parts[_xml_unescape(name)] = targets[rid]
    return parts


def _xml_unescape(text: str) -> str:
    text = re.sub(r"&#(\d+);", lambda m: chr(int(m.group(1))), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def _rows_stream(rows: int, columns: int, dimension: str) -> Callable:
    """A sheet XML writer for ``rows`` x ``columns`` numeric cells (varied, so it compresses only ~10x)."""
    def write(fh) -> None:
        fh.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}">'
                 f'<dimension ref="{dimension}"/><sheetData>'.encode())
        letters = [_col_letter(c) for c in range(1, columns + 1)]
        for start in range(1, rows + 1, 10000):
            fh.write("".join(
                f'<row r="{r}">' + "".join(f'<c r="{col}{r}"><v>{r * 7919 % 100003}</v></c>' for col in letters)
                + "</row>" for r in range(start, min(start + 10000, rows + 1))).encode())
        fh.write(b"</sheetData></worksheet>")
    return write


def _repeat_stream(total_bytes: int, chunk: bytes) -> Callable:
    def write(fh) -> None:
        fh.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}"><sheetData>'.encode())
        block = chunk * max(1, (1 << 20) // len(chunk))
        written = 0
        while written < total_bytes:
            fh.write(block)
            written += len(block)
        fh.write(b"</sheetData></worksheet>")
    return write


def _col_letter(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _patch_declared_sizes(data: bytes, name: str, declared: int) -> bytes:
    """Make the zip headers of member ``name`` lie about its uncompressed size."""
    buf = bytearray(data)
    encoded = name.encode()
    # local header: sig(4) ver(2) flag(2) method(2) time(2) date(2) crc(4) csize(4) usize(4) nlen(2) xlen(2)
    for match in re.finditer(re.escape(b"PK\x03\x04"), bytes(buf)):
        start = match.start()
        nlen, = struct.unpack_from("<H", buf, start + 26)
        if bytes(buf[start + 30:start + 30 + nlen]) == encoded:
            usize, = struct.unpack_from("<I", buf, start + 22)
            if usize != 0xFFFFFFFF:
                struct.pack_into("<I", buf, start + 22, declared)
    for match in re.finditer(re.escape(b"PK\x01\x02"), bytes(buf)):
        start = match.start()
        nlen, = struct.unpack_from("<H", buf, start + 28)
        if bytes(buf[start + 46:start + 46 + nlen]) == encoded:
            struct.pack_into("<I", buf, start + 24, declared)
    return bytes(buf)


# --------------------------------------------------------------------------------------
# The builder: valid base forms (cached) and their mutations
# --------------------------------------------------------------------------------------

@dataclass
class Builder:
    dest: Path
    roster: Roster
    rulebook: Rulebook
    month: str
    scratch: Path
    _bases: dict[int, bytes] = field(default_factory=dict)
    _cache: dict[str, bytes] = field(default_factory=dict)
    _serial: int = 0

    def unit(self, i: int) -> str:
        return self.roster.units[i % len(self.roster.units)].name

    def base(self, i: int) -> bytes:
        """Bytes of a valid filled form (a few distinct ones, reused by byte-level mutations)."""
        key = i % 2
        if key not in self._bases:
            from processor.validate.samples import fill_form

            path = self.scratch / f"base-{key}.xlsx"
            fill_form(path, roster=self.roster, rulebook=self.rulebook, unit=self.unit(key), month=self.month,
                      seed=key)
            self._bases[key] = path.read_bytes()
        return self._bases[key]

    def fresh_form(self, i: int, edit: Callable | None = None, *, text: dict | None = None) -> bytes:
        """A valid form unique to this call, optionally edited.

        ``text`` maps (sheet key, field name) to what every data row of that column
        gets, written into the sheet XML directly: a string (always a text cell,
        even when it starts with '='), or :class:`Formula` (a live formula cell).
        ``edit(wb)`` edits the workbook with openpyxl (sheet names, merges …).
        """
        self._serial += 1
        data = self.base(i)
        if edit is not None:
            from openpyxl import load_workbook

            wb = load_workbook(io.BytesIO(data))
            edit(wb)
            out = io.BytesIO()
            wb.save(out)
            data = out.getvalue()
        if text:
            parts = sheet_parts(data)
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                xml = {key: z.read(parts[SHEETS_BY_KEY[key].title]).decode() for key, _ in text}
            for (key, name), value in text.items():
                xml[key] = set_column(xml[key], SHEETS_BY_KEY[key].titles.index(
                    SHEETS_BY_KEY[key].field_by_name(name).title) + 1, value)
            data = rewrite_zip(data, replace={parts[SHEETS_BY_KEY[k].title]: v.encode() for k, v in xml.items()})
        # a distinct extra part keeps every variant's bytes (and so its hash) unique
        return add_member(data, f"docProps/variant{self._serial}.xml", f"<v>{self._serial}</v>".encode())

    def cached(self, key: str, build: Callable[[], bytes]) -> bytes:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def part(self, data: bytes, key: str) -> str:
        return sheet_parts(data)[SHEETS_BY_KEY[key].title]


@dataclass(frozen=True)
class Formula:
    text: str            # without the leading '='
    cached: str | None = None


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def set_column(xml: str, column: int, value) -> str:
    """Replace the cell in ``column`` of every data row (row >= 2) of a sheet's XML."""
    letter = _col_letter(column)

    def cell(row: str) -> str:
        if isinstance(value, Formula):
            cached = f"<v>{_xml_text(value.cached)}</v>" if value.cached is not None else ""
            kind = ' t="str"' if value.cached is not None else ""
            return f'<c r="{letter}{row}"{kind}><f>{_xml_text(value.text)}</f>{cached}</c>'
        return f'<c r="{letter}{row}" t="inlineStr"><is><t xml:space="preserve">{_xml_text(value)}</t></is></c>'

    def fix_row(match: re.Match) -> str:
        row, attrs, body = match.group(1), match.group(2), match.group(3)
        if int(row) < 2 or not re.search(r"<v>|<t[ >]", body):  # header, or an empty template row
            return match.group(0)
        pattern = re.compile(rf'<c r="{letter}{row}"[^>]*?(?:/>|>.*?</c>)', re.S)
        if pattern.search(body):
            body = pattern.sub(lambda _m: cell(row), body, count=1)
        else:
            body += cell(row)
        return f'<row r="{row}"{attrs}>{body}</row>'

    return re.sub(r'<row r="(\d+)"([^>]*)>(.*?)</row>', fix_row, xml, flags=re.S)


# --------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------

def _truncated(b: Builder, i, rng):
    data = b.base(i)
    cut = rng.randint(64, len(data) - 200)
    return [(f"截断的报表{i}.xlsx", data[:cut])]


def _corrupt_zip(b: Builder, i, rng):
    return [(f"损坏{i}.xlsx", b"PK\x03\x04" + rng.randbytes(rng.randint(100, 40000)))]


def _garbled_members(b: Builder, i, rng):
    """A readable zip directory whose sheet member is random bytes (deflate fails / CRC fails)."""
    data = b.base(i)
    part = b.part(data, "contacts")
    out = bytearray(rewrite_zip(data))
    # flip bytes inside the compressed data of the sheet member
    with zipfile.ZipFile(io.BytesIO(bytes(out))) as z:
        info = z.getinfo(part)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for _ in range(16):
        pos = start + 10 + rng.randrange(max(1, info.compress_size - 20))
        out[pos] ^= 0xFF
    return [(f"部件损坏{i}.xlsx", bytes(out))]


def _zip_bomb_ratio(b: Builder, i, rng):
    base = b.cached("bomb-ratio", lambda: rewrite_zip(b.base(0), replace={
        b.part(b.base(0), "contacts"): _repeat_stream(60 * MB, b'<row><c t="inlineStr"><is><t>AAAA</t></is></c></row>')}))
    return [(f"压缩炸弹{i}.xlsx", add_member(base, f"docProps/custom{i}.xml", f"<x>{i}</x>".encode()))]


def _zip_bomb_total(b: Builder, i, rng):
    """Members that each stay under the ratio limit but add up far beyond the size limit."""
    def build():
        data = b.base(1)
        adds = {}
        for k in range(6):  # 1 MB blocks of 7 KB noise + zeros: each member compresses ~130x
            noise = random.Random(k)
            adds[f"xl/media/image{k}.bin"] = lambda fh, noise=noise: [
                fh.write(noise.randbytes(7 * 1024) + bytes(MB - 7 * 1024)) for _ in range(40)]
        return rewrite_zip(data, add=adds)
    base = b.cached("bomb-total", build)
    return [(f"超大解压{i}.xlsx", add_member(base, f"docProps/custom{i}.xml", f"<x>{i}</x>".encode()))]


def _zip_bomb_lying(b: Builder, i, rng):
    """The zip directory claims a small sheet, the deflate stream holds 400 MB."""
    def build():
        data = b.base(0)
        part = b.part(data, "contacts")
        bomb = rewrite_zip(data, replace={part: _repeat_stream(400 * MB, b"<row><c><v>1</v></c></row>")})
        return _patch_declared_sizes(bomb, part, 120_000)
    return [(f"伪装尺寸{i}.xlsx", add_member(b.cached("bomb-lying", build), f"docProps/c{i}.xml", b"<x/>"))]


LOL = "".join(f'<!ENTITY lol{k} "{f"&lol{k - 1};" * 10}">' for k in range(1, 10))
BILLION_LAUGHS = f'<!DOCTYPE worksheet [<!ENTITY lol0 "lol">{LOL}]>'


def _inject_first_text(xml: str, replacement: str) -> str:
    """Put ``replacement`` into the first inline string of row 2 (or append a cell)."""
    match = re.search(r'<row r="2"[^>]*>.*?<is><t[^>]*>(.*?)</t>', xml, re.S)
    if match:
        return xml[:match.start(1)] + replacement + xml[match.end(1):]
    return xml.replace("</sheetData>", f'<row r="3"><c r="A3" t="inlineStr"><is><t>{replacement}</t></is></c></row></sheetData>')


def _with_doctype(xml: str, doctype: str) -> str:
    if xml.startswith("<?xml"):
        end = xml.index("?>") + 2
        return xml[:end] + doctype + xml[end:]
    return doctype + xml


def _entity_bomb_sheet(b: Builder, i, rng):
    data = b.base(i)
    part = b.part(data, ["contacts", "progress", "sites"][i % 3])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read(part).decode()
    xml = _with_doctype(_inject_first_text(xml, "&lol9;"), BILLION_LAUGHS)
    return [(f"实体炸弹{i}.xlsx", rewrite_zip(data, replace={part: xml.encode()}))]


def _entity_bomb_strings(b: Builder, i, rng):
    data = b.base(i)
    sst = (f'<?xml version="1.0" encoding="UTF-8"?>{BILLION_LAUGHS.replace("worksheet", "sst")}'
           f'<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>&lol9;{i}</t></si></sst>')
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        types = z.read("[Content_Types].xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    types = types.replace("</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                          'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    rels = rels.replace("</Relationships>", '<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/'
                        'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    return [(f"共享字符串炸弹{i}.xlsx", rewrite_zip(data, replace={"[Content_Types].xml": types.encode(),
                                                            "xl/_rels/workbook.xml.rels": rels.encode()},
                                              add={"xl/sharedStrings.xml": sst.encode()}))]


def _external_entity(b: Builder, i, rng):
    data = b.base(i)
    target = ["file:///etc/passwd", "file:///etc/shadow", "http://127.0.0.1:9/x", "file:///proc/self/environ"][i % 4]
    if i % 2:
        part = "xl/workbook.xml"
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            xml = z.read(part).decode()
        xml = _with_doctype(xml, f'<!DOCTYPE workbook [<!ENTITY xxe SYSTEM "{target}">]>')
        xml = xml.replace("<workbookPr/>", "<workbookPr codeName=\"&xxe;\"/>")
    else:
        part = b.part(data, "contacts")
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            xml = z.read(part).decode()
        xml = _with_doctype(_inject_first_text(xml, "&xxe;"), f'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "{target}">]>')
    return [(f"外部实体{i}.xlsx", rewrite_zip(data, replace={part: xml.encode()}))]


def _encrypted(b: Builder, i, rng):
    info = (b"\x04\x00\x04\x00\x40\x00\x00\x00" + b'<?xml version="1.0" encoding="UTF-8"?><encryption '
            b'xmlns="http://schemas.microsoft.com/office/2006/encryption"><keyData saltSize="16" blockSize="16" '
            b'keyBits="256" hashSize="64" cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" '
            b'hashAlgorithm="SHA512"/></encryption>')
    package = struct.pack("<Q", 9000 + i) + rng.randbytes(9000 + i)
    streams = {"EncryptionInfo": info, "EncryptedPackage": package}
    if i % 2:
        streams["\x06DataSpaces"] = b"\x08\x00\x00\x00\x01\x00\x00\x00"
    return [(f"加密报表{i}.xlsx", cfb(streams))]


def _xls_renamed(b: Builder, i, rng):
    streams = {"Workbook" if i % 2 == 0 else "Book": biff_workbook() + rng.randbytes(64)}
    if i % 3 == 0:
        streams["\x05SummaryInformation"] = b"\xfe\xff" + rng.randbytes(46)
    return [(f"旧版报表{i}.xlsx", cfb(streams))]


def _csv_renamed(b: Builder, i, rng):
    text = "填报单位,报送月份,示范点名称\n" + "".join(f"{b.unit(i)},{b.month},示范点{k}\n" for k in range(i + 2))
    encoding = ["utf-8", "utf-8-sig", "gb18030"][i % 3]
    return [(f"导出表{i}.xlsx", text.encode(encoding))]


def _ods_renamed(b: Builder, i, rng):
    return [(f"开放文档{i}.xlsx", ods_bytes(i))]


def _docx_renamed(b: Builder, i, rng):
    return [(f"情况说明{i}.xlsx", docx_bytes(f"{b.unit(i)} 本月工作情况说明 {i}"))]


def _pdf_renamed(b: Builder, i, rng):
    return [(f"扫描件{i}.xlsx", pdf_bytes(f"report {i}"))]


def _image_renamed(b: Builder, i, rng):
    return [(f"截图{i}.xlsx", png_bytes(4 + i, 4) if i % 2 == 0 else jpeg_bytes(i))]


def _html_renamed(b: Builder, i, rng):
    html = (f'<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head><meta charset="utf-8"></head>'
            f"<body><table><tr><td>填报单位</td><td>{b.unit(i)}</td></tr></table></body></html>")
    return [(f"网页另存{i}.xlsx", html.encode())]


def _plain_zip(b: Builder, i, rng):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("说明.txt", f"附件 {i}")
        z.writestr("../../escape.txt", "never extracted")
    return [(f"压缩包{i}.xlsx", out.getvalue())]


def _empty(b: Builder, i, rng):
    return [(f"空文件{i}.xlsx", b"")]


def _whitespace(b: Builder, i, rng):
    return [(f"空白{i}.xlsx", [b" ", b"\n\n", b"\t \r\n" * 50, b"\xe3\x80\x80" * 10][i % 4])]


def _oversize(b: Builder, i, rng):
    return [(f"超大文件{i}.xlsx", ("sparse", 25 * MB + i))]


def _million_rows(b: Builder, i, rng):
    honest = i % 2 == 0

    def build():
        data = b.base(1)
        part = b.part(data, "contacts")
        dim = "A1:A1000000" if honest else "A1:A10"
        return rewrite_zip(data, replace={part: _rows_stream(1_000_000, 1, dim)})
    base = b.cached(f"million-{honest}", build)
    return [(f"百万行{i}.xlsx", add_member(base, f"docProps/c{i}.xml", b"<x/>"))]


def _wide_columns(b: Builder, i, rng):
    data = b.base(i)
    part = b.part(data, "sites")
    if i % 2 == 0:
        cells = "".join(f'<c r="{_col_letter(c)}1"><v>{c}</v></c>' for c in range(1, 16385))
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}"><dimension ref="A1:XFD1"/>'
               f'<sheetData><row r="1">{cells}</row></sheetData></worksheet>')
    else:  # one far-away cell only
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}"><sheetData>'
               f'<row r="1048576"><c r="XFD1048576"><v>{i}</v></c></row></sheetData></worksheet>')
    return [(f"一万六千列{i}.xlsx", rewrite_zip(data, replace={part: xml.encode()}))]


def _xlsm(b: Builder, i, rng):
    data = b.base(i)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        types = z.read("[Content_Types].xml").decode()
    vba = cfb({"dir": rng.randbytes(300), "PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"'})
    mode = i % 3
    replace, add = {}, {}
    if mode in (0, 1):
        replace["[Content_Types].xml"] = types.replace(SHEET_CT, MACRO_CT).replace(
            "</Types>", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>').encode()
    if mode in (0, 2):
        add["xl/vbaProject.bin"] = vba
    return [(f"宏报表{i}.xlsx" if i % 2 else f"宏报表{i}.xlsm", rewrite_zip(data, replace=replace, add=add))]


def _broken_xml(b: Builder, i, rng):
    data = b.base(i)
    part = b.part(data, "org_life")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read(part)
    broken = [xml[: len(xml) // 2], xml.replace(b"</sheetData>", b"<row r=\"9\"><c r=\"A9\"><v>1</c></sheetData>"),
              xml.replace(b"<sheetData>", b"<sheetData>\x00\x01"), b"\xff\xfe" + xml][i % 4]
    # NUL bytes between elements: a lenient reader may still get every value right
    expect = EITHER if i % 4 == 2 else REJECT
    return [(f"XML损坏{i}.xlsx", rewrite_zip(data, replace={part: broken}), expect)]


def _not_our_template(b: Builder, i, rng):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = ["Sheet1", "台账", "统计表", "汇总"][i % 4]
    for r in range(1, 6):
        wb.active.append([f"{b.unit(i)}", r, "其他表格"])
    out = io.BytesIO()
    wb.save(out)
    return [(f"别的表格{i}.xlsx", out.getvalue())]


def _wrong_sheet_names(b: Builder, i, rng):
    def edit(wb):
        for key in ("contacts", "org_life", "progress"):
            ws = wb[SHEETS_BY_KEY[key].title]
            ws.title = [f"Sheet{key}", f"{SHEETS_BY_KEY[key].title}（副本）", f"{key}{i}"][i % 3]
    return [(f"改了表名{i}.xlsx", b.fresh_form(i, edit))]


FORMULAS = ['=HYPERLINK("http://127.0.0.1/x","点击查看")', "=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "+1+1", "-2+3+cmd|' /C notepad'!A1", '=WEBSERVICE("http://127.0.0.1/")', "＝1+1", "\t=1+1"]


def _formula_text(b: Builder, i, rng):
    """Formula-looking strings typed as text into free-text cells."""
    value = FORMULAS[i % len(FORMULAS)]
    return [(f"公式文本{i}.xlsx", b.fresh_form(i, text={("contacts", "content"): value,
                                                       ("progress", "progress"): FORMULAS[(i + 3) % len(FORMULAS)],
                                                       ("sites", "note"): FORMULAS[(i + 5) % len(FORMULAS)]}))]


def _formula_live(b: Builder, i, rng):
    """Real formula cells (with and without a cached value) in text and number columns."""
    formulas = [Formula('HYPERLINK("http://127.0.0.1/","x")', "x"), Formula("1+1"),
                Formula("cmd|' /C calc'!A0", "0"), Formula("SUM(A1:A3)", "=cmd|' /C calc'!A0")]
    text = {("contacts", "content"): formulas[i % 4], ("progress", "next_plan"): formulas[(i + 1) % 4]}
    if i % 2:
        text[("org_life", "expected")] = Formula("10+2", None)
    return [(f"公式单元格{i}.xlsx", b.fresh_form(i, text=text))]


CONTROL = "".join(chr(c) for c in range(1, 32) if c not in (9, 10, 13))


def _control_chars(b: Builder, i, rng):
    """Control characters written the way Excel stores them (_x0007_), and raw (illegal XML)."""
    data = b.fresh_form(i, text={("contacts", "content"): "CTRLMARK", ("progress", "issues"): "CTRLMARK"})
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {b.part(data, "contacts"): z.read(b.part(data, "contacts")),
                 b.part(data, "progress"): z.read(b.part(data, "progress"))}
    if i % 2 == 0:
        marker = "".join(f"_x{ord(c):04X}_" for c in CONTROL[i % 5::3]) + "正文\u200b\u202e反向\ufeff"
    else:
        marker = "\x01\x07\x1b正文\x0b"
    replaced = {name: xml.replace(b"CTRLMARK", marker.encode()) for name, xml in parts.items()}
    return [(f"控制字符{i}.xlsx", rewrite_zip(data, replace=replaced))]


EMOJI = ["😀🎉👍🏽", "👨‍👩‍👧‍👦", "🇨🇳党建🚩", "\U0001F9D1\u200D\U0001F4BB 𠀀𪚥"]


def _emoji(b: Builder, i, rng):
    e = EMOJI[i % len(EMOJI)]
    return [(f"表情{e[:1]}{i}.xlsx", b.fresh_form(i, text={("contacts", "content"): f"现场指导{e}",
                                                             ("progress", "progress"): e * 3}))]


def _long_strings(b: Builder, i, rng):
    length = [100_000, 32_767, 2_001, 60_000][i % 4]
    return [(f"超长文本{i}.xlsx", b.fresh_form(i, text={("contacts", "content"): "长" * length,
                                                         ("progress", "progress"): "x" * length}))]


def _typo_year(b: Builder, i, rng):
    """A year typed with a digit too many or wrong (2926, 20226 as text, 1026): one cell error each."""
    def edit(wb):
        cell = wb[SHEETS_BY_KEY["contacts"].title]["A2"]
        cell.value = [datetime.datetime(2926, 10, 8), "2926-10-08", "20226-10-08", "1026-10-08"][i % 4]
    return [(f"年份笔误{i}.xlsx", b.fresh_form(i, edit))]


def _merged(b: Builder, i, rng):
    def edit(wb):
        for key in ("sites", "contacts", "org_life", "hardware", "members", "progress"):
            ws = wb[SHEETS_BY_KEY[key].title]
            for row in range(1, min(ws.max_row, 40) + 1, 2):
                ws.merge_cells(start_row=row, start_column=1, end_row=row + 1, end_column=min(ws.max_column, 3))
        wb[SHEETS_BY_KEY["basic_info"].title].merge_cells("A2:B3")
    return [(f"合并单元格{i}.xlsx", b.fresh_form(i, edit))]


def _hidden_sheets(b: Builder, i, rng):
    def edit(wb):
        extra = wb.create_sheet(f"隐藏{i}")
        extra.append(["=cmd|' /C calc'!A0", "隐藏内容"])
        extra.sheet_state = "veryHidden" if i % 2 else "hidden"
        wb[SHEETS_BY_KEY[["progress", "members", "hardware"][i % 3]].title].sheet_state = "hidden"
    return [(f"隐藏工作表{i}.xlsx", b.fresh_form(i, edit))]


def _shifted_headers(b: Builder, i, rng):
    def edit(wb):
        for key in ("contacts", "org_life", "sites"):
            ws = wb[SHEETS_BY_KEY[key].title]
            ws.insert_rows(1, amount=1 + i % 3)
            ws.cell(1, 1).value = f"{SHEETS_BY_KEY[key].title}（{b.month}）"
            if i % 2:
                ws.insert_cols(1)
    return [(f"表头下移{i}.xlsx", b.fresh_form(i, edit))]


def _odd_names(b: Builder, i, rng):
    names = ["..报表..xlsx", " 前后 空格 .xlsx", "２０２６年月报（全角）．ｘｌｓｘ.xlsx",
             ("长" * 83)[:83] + ".xlsx", "a" * 250 + ".xlsx", "..xlsx", "报表;rm -rf $HOME&.xlsx",
             "'; DROP TABLE files;--.xlsx", "<script>alert(1)<script>.xlsx", "报表\u202egpj.xlsx"]
    name = names[i % len(names)]
    assert len(name.encode()) <= 255, name
    # a leading dot makes a hidden file: still a submission, answered like any other
    return [(name, b.fresh_form(i), ACCEPT)]


def _growing(b: Builder, i, rng):
    """A copy caught half-way: what the inbox holds while a slow copy is running."""
    data = b.base(i)
    return [(f"复制中{i}.xlsx", data[: len(data) * (i % 3 + 1) // 4])]


def _lock_files(b: Builder, i, rng):
    owner = "张三".encode("utf-16-le")
    lock = bytes([len("张三")]) + b"\0" + owner.ljust(108, b"\0") + b"\0" * 54
    names = [f"~$月报表{i}.xlsx", f".~lock.月报表{i}.xlsx#", f"月报表{i}.xlsx.tmp", f"._月报表{i}.xlsx"]
    content = [lock, f"张三,PC,{i}".encode(), b.base(i), b.base(i)]
    return [(names[i % 4], content[i % 4])]


def _symlinks(b: Builder, i, rng):
    outside = b.scratch / f"outside-{i}.xlsx"
    outside.write_bytes(b.base(i))
    target = ["/etc/passwd", str(outside), "/dev/zero", str(b.scratch)][i % 4]
    return [(f"链接{i}.xlsx", ("symlink", target))]


def _directories(b: Builder, i, rng):
    return [(f"文件夹{i}.xlsx", ("dir", None))]


CATEGORIES: list[Category] = [
    Category("truncated_zip", REJECT, frozenset({"corrupt"}), _truncated),
    Category("corrupt_zip", REJECT, frozenset({"corrupt"}), _corrupt_zip),
    Category("garbled_member", REJECT, frozenset({"corrupt"}), _garbled_members),
    Category("zip_bomb_ratio", REJECT, frozenset({"too-large"}), _zip_bomb_ratio),
    Category("zip_bomb_total", REJECT, frozenset({"too-large"}), _zip_bomb_total),
    Category("zip_bomb_lying_size", REJECT, frozenset({"too-large", "corrupt"}), _zip_bomb_lying),
    Category("entity_bomb_sheet", REJECT, frozenset({"unsafe-content"}), _entity_bomb_sheet),
    Category("entity_bomb_shared_strings", REJECT, frozenset({"unsafe-content"}), _entity_bomb_strings),
    Category("external_entity", REJECT, frozenset({"unsafe-content"}), _external_entity),
    Category("encrypted", REJECT, frozenset({"encrypted"}), _encrypted),
    # .xls and .ods are read for their values: these small workbooks are not the monthly form
    Category("xls_renamed", REJECT, frozenset({"unknown-template"}), _xls_renamed),
    Category("csv_renamed", REJECT, frozenset({"not-xlsx"}), _csv_renamed),
    Category("ods_renamed", REJECT, frozenset({"unknown-template"}), _ods_renamed),
    Category("docx_renamed", REJECT, frozenset({"not-xlsx"}), _docx_renamed),
    Category("pdf_renamed", REJECT, frozenset({"not-xlsx"}), _pdf_renamed),
    Category("image_renamed", REJECT, frozenset({"not-xlsx"}), _image_renamed),
    Category("html_renamed", REJECT, frozenset({"not-xlsx"}), _html_renamed),
    Category("plain_zip", REJECT, frozenset({"not-xlsx"}), _plain_zip),
    Category("empty", REJECT, frozenset({"empty-file"}), _empty),
    Category("whitespace_only", REJECT, frozenset({"not-xlsx", "empty-file"}), _whitespace),
    Category("oversize_file", REJECT, frozenset({"too-large"}), _oversize),
    Category("million_rows", REJECT, frozenset({"too-large"}), _million_rows, 20.0),
    Category("wide_columns", REJECT, frozenset({"too-large"}), _wide_columns),
    Category("xlsm_macro", REJECT, frozenset({"macro-enabled"}), _xlsm),
    Category("broken_xml", REJECT, frozenset({"corrupt"}), _broken_xml),
    Category("not_our_template", REJECT, TEMPLATE_CODES, _not_our_template),
    Category("wrong_sheet_names", EITHER, TEMPLATE_CODES, _wrong_sheet_names),
    Category("formula_text", EITHER, CELL_CODES, _formula_text),
    Category("formula_live", EITHER, CELL_CODES, _formula_live),
    Category("control_chars", EITHER, CELL_CODES | {"corrupt"}, _control_chars),
    Category("emoji", EITHER, CELL_CODES, _emoji),
    Category("long_strings", EITHER, CELL_CODES | {"too-large"}, _long_strings),
    Category("merged_everywhere", EITHER, CELL_CODES | TEMPLATE_CODES, _merged),
    Category("hidden_sheets", EITHER, CELL_CODES | TEMPLATE_CODES, _hidden_sheets),
    Category("shifted_headers", EITHER, CELL_CODES | TEMPLATE_CODES, _shifted_headers),
    Category("typo_year", REJECT, frozenset({"date-out-of-range", "type-error"}), _typo_year),
    Category("odd_names", ACCEPT, frozenset(), _odd_names),
    Category("copy_in_progress", REJECT, frozenset({"corrupt"}), _growing),
    Category("lock_and_temp_files", IGNORE, frozenset(), _lock_files),
    Category("symlinks", IGNORE, frozenset(), _symlinks),
    Category("directory_named_xlsx", IGNORE, frozenset(), _directories),
]
CATEGORY_NAMES = [c.name for c in CATEGORIES]


def generate(dest: Path, *, per_category: int = 4, seed: int = 0, categories: Iterable[str] | None = None,
             scratch: Path | None = None) -> list[HostileFile]:
    """Write the corpus into ``dest`` (created); returns what each file is and what must happen to it.

    ``scratch`` holds helper files that must stay OUTSIDE ``dest`` (symlink
    targets, base forms); by default a sibling folder ``<dest>.scratch``.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    scratch = Path(scratch) if scratch else dest.with_name(dest.name + ".scratch")
    scratch.mkdir(parents=True, exist_ok=True)
    rulebook = load_rulebook()
    builder = Builder(dest, sample_roster(), rulebook, f"{rulebook.year}-10", scratch)
    wanted = set(categories) if categories is not None else None
    files: list[HostileFile] = []
    for cat in CATEGORIES:
        if wanted is not None and cat.name not in wanted:
            continue
        rng = random.Random(f"{seed}-{cat.name}")
        for i in range(per_category):
            for name, content, *override in cat.make(builder, seed * 1000 + i, rng):
                expect = override[0] if override else cat.expect
                path = dest / name
                if path.exists() or path.is_symlink():
                    path = dest / _unique_name(f"-{cat.name}-{seed}-{i}", name)
                _materialise(path, content)
                files.append(HostileFile(path, cat.name, expect, cat.codes, cat.budget_seconds))
    return files


def _unique_name(tag: str, name: str, limit: int = 255) -> str:
    """``name`` with ``tag`` before its suffix (so ``~$``/``.`` prefixes and suffixes keep their
    meaning), shortened in the middle to fit ``limit`` UTF-8 bytes."""
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if dot and stem else (name, "")
    while len((stem + tag + suffix).encode()) > limit:
        stem = stem[:-1]
    return stem + tag + suffix


def _materialise(path: Path, content) -> None:
    if isinstance(content, tuple):
        kind, arg = content
        if kind == "sparse":
            with open(path, "wb") as fh:
                fh.write(b"PK\x03\x04")
                fh.truncate(arg)
        elif kind == "symlink":
            os.symlink(arg, path)
        elif kind == "dir":
            path.mkdir()
        return
    path.write_bytes(content)


if __name__ == "__main__":  # python tests/hostile.py DEST [PER_CATEGORY]
    import sys
    import time

    started = time.monotonic()
    made = generate(Path(sys.argv[1]), per_category=int(sys.argv[2]) if len(sys.argv) > 2 else 4)
    print(f"{len(made)} files, {len({f.category for f in made})} categories, {time.monotonic() - started:.1f} s")


def copy_into(inbox: Path, corpus) -> dict[str, object]:
    """Copy the corpus into ``inbox`` keeping symlinks and folders as they are."""
    placed = {}
    for hostile in corpus:
        target = inbox / hostile.path.name
        if hostile.path.is_symlink():
            os.symlink(os.readlink(hostile.path), target)
        elif hostile.path.is_dir():
            target.mkdir()
        else:
            shutil.copyfile(hostile.path, target)
        placed[hostile.path.name] = hostile
    return placed
