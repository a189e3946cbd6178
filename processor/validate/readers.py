"""File sniffing and safe workbook reading.

Untrusted files are inspected before any parser touches them: the real format
is detected from the content (not the name), encrypted and macro-enabled
workbooks are refused, and the zip directory is checked against size and
compression-ratio limits before anything is decompressed.  XML parts are
scanned with defusedxml for DOCTYPE/ENTITY declarations.  Only then are cell
values read, with python-calamine (no formula evaluation: cached results only).

Besides .xlsx, a form saved as Excel 97-2003 (.xls, an OLE container with a
``Workbook``/``Book`` stream) or OpenDocument (.ods) is read for its values;
an encrypted workbook is an OLE container too, told apart by its
``EncryptionInfo``/``EncryptedPackage`` streams.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import TreeBuilder, XMLPullParser

import olefile
import python_calamine as calamine
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from processor.common.config import IntakeSettings
from processor.validate.errors import Problem, problem

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
MACRO_CONTENT_TYPES = (b"macroEnabled", b"vbaProject")
RATIO_MIN_BYTES = 1 << 20  # tiny parts compress very well legitimately; judge the ratio above 1 MB
XML_SUFFIXES = (".xml", ".rels", ".vml")
MB = 1 << 20
PROLOG_CHUNK = 1024
XLSX, XLS, ODS = "xlsx", "xls", "ods"
# What a clerk is told a readable non-xlsx file is (the warning that dropdowns and prompts were lost).
FORMAT_NAMES = {XLS: "Excel 97-2003 工作簿（.xls）", ODS: "OpenDocument 电子表格（.ods）"}
OLE_MACRO_STREAMS = {"_vba_project_cur", "macros", "_vba_project"}
ODS_MACRO_FOLDERS = ("Basic/", "Scripts/")


class FileRejected(Exception):
    """The file as a whole cannot be read; carries the one problem that says why."""

    def __init__(self, item: Problem):
        super().__init__(item.message)
        self.problem = item


@dataclass
class RawSheet:
    name: str
    rows: list[list]  # rows[0] is Excel row 1; cells as python-calamine returns them
    hidden: bool = False
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)


@dataclass
class RawWorkbook:
    sheets: dict[str, RawSheet]
    format: str = XLSX  # XLSX, XLS or ODS
    formulas: dict[str, list[str]] = field(default_factory=dict)  # sheet name -> cells holding a formula (.xlsx)

    @property
    def names(self) -> list[str]:
        return list(self.sheets)


def check_file(path: Path | str, limits: IntakeSettings | None = None) -> Problem | None:
    """Return the file-level problem that rejects ``path``, or None if its values can be read
    (a plain .xlsx, .xls or .ods)."""
    try:
        _check(Path(path), limits or IntakeSettings())
    except FileRejected as exc:
        return exc.problem
    return None


def file_format(path: Path | str, limits: IntakeSettings | None = None) -> str:
    """XLSX, XLS or ODS, after the same checks as :func:`read_workbook`.  Raises :class:`FileRejected`."""
    return _check(Path(path), limits or IntakeSettings())


def read_workbook(path: Path | str, limits: IntakeSettings | None = None) -> RawWorkbook:
    """Sniff, then read every sheet's values.  Raises :class:`FileRejected`."""
    path, limits = Path(path), limits or IntakeSettings()
    formulas: dict[str, list[str]] = {}
    fmt = _check(path, limits, formulas)
    try:
        with open(path, "rb") as fh:  # from the content, not the name: a .xls renamed .xlsx is still read
            book = calamine.CalamineWorkbook.from_filelike(fh)
            sheets = {}
            for meta in book.sheets_metadata:
                sheet = book.get_sheet_by_name(meta.name)
                _check_dimensions(meta.name, sheet, limits)
                rows = sheet.to_python(skip_empty_area=False)
                hidden = str(meta.visible).rsplit(".", 1)[-1] != "Visible"
                sheets[meta.name] = RawSheet(meta.name, rows, hidden, list(sheet.merged_cell_ranges or []))
        return RawWorkbook(sheets, fmt, formulas)
    except FileRejected:
        raise
    except calamine.PasswordError:
        raise FileRejected(problem("encrypted")) from None
    except MemoryError:
        raise  # the memory budget is enforced by the caller (processor.intake.sandbox)
    except Exception as exc:  # noqa: BLE001 — calamine raises several error types for broken parts
        raise FileRejected(problem("corrupt", detail=f"工作簿内容无法解析（{type(exc).__name__}）")) from None


def _check_dimensions(name: str, sheet, limits: IntakeSettings) -> None:
    if sheet.height == 0:
        return
    rows, cols = sheet.end[0] + 1, sheet.end[1] + 1
    if rows > limits.max_rows:
        raise FileRejected(problem("too-large", sheet=name, detail=f"工作表“{name}”有 {rows} 行，超过上限 {limits.max_rows} 行"))
    if cols > limits.max_columns:
        raise FileRejected(problem("too-large", sheet=name,
                                   detail=f"工作表“{name}”有 {cols} 列，超过上限 {limits.max_columns} 列"))


def _check(path: Path, limits: IntakeSettings, formulas: dict | None = None) -> str:
    """The file's format, or FileRejected; ``formulas``, if given, receives the cells of an .xlsx
    that hold a formula (sheet name -> cell references), found by the same scan."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise FileRejected(problem("corrupt", detail=f"无法读取文件（{exc.strerror or exc}）")) from None
    if size == 0:
        raise FileRejected(problem("empty-file"))
    if size > limits.max_file_mb * MB:
        raise FileRejected(problem("too-large", detail=f"文件大小 {size / MB:.1f} MB，超过上限 {limits.max_file_mb:g} MB"))
    if head.startswith(OLE_MAGIC):
        return _check_ole(path)
    if head.startswith(ZIP_MAGICS):
        return _check_zip(path, limits, formulas)
    raise FileRejected(problem("not-xlsx", detected=_describe_other(path, head)))


def _check_ole(path: Path) -> str:
    """OLE compound files: encrypted OOXML, legacy .xls (read), .et, .doc …"""
    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(s).lower() for s in ole.listdir(streams=True, storages=True)}
    except Exception:  # noqa: BLE001 — olefile raises many error types for a broken structure
        raise FileRejected(problem("corrupt", detail="OLE 复合文档结构损坏")) from None
    if {"encryptioninfo", "encryptedpackage"} & streams:
        raise FileRejected(problem("encrypted"))
    if path.suffix.lower() == ".et":
        detected = "WPS 表格专用格式（.et）"
    elif {"workbook", "book"} & streams:
        if any(part in OLE_MACRO_STREAMS for s in streams for part in s.split("/")):
            raise FileRejected(problem("macro-enabled"))
        return XLS
    elif "worddocument" in streams:
        detected = "Word 97-2003 文档（.doc）"
    else:
        detected = "OLE 复合文档（非 Excel 工作簿）"
    raise FileRejected(problem("not-xlsx", detected=detected))


def _check_zip(path: Path, limits: IntakeSettings, formulas: dict | None = None) -> str:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRejected(problem("corrupt", detail="压缩结构损坏或文件不完整（可能复制未完成）")) from None
    with archive:
        infos = archive.infolist()
        names = {i.filename for i in infos}
        fmt = _check_zip_kind(archive, names)
        _check_sizes(infos, limits)
        if fmt == ODS:
            _check_ods(archive, infos)
            return ODS
        if "xl/vbaProject.bin" in names or any(n.lower().endswith("vbaproject.bin") for n in names):
            raise FileRejected(problem("macro-enabled"))
        content_types = _read_member(archive, "[Content_Types].xml")
        if any(marker in content_types for marker in MACRO_CONTENT_TYPES):
            raise FileRejected(problem("macro-enabled"))
        with_formulas = []
        for info in infos:
            if info.filename.lower().endswith(XML_SUFFIXES):
                _check_xml(archive, info)
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                if _check_row_count(archive, info, limits.max_rows):
                    with_formulas.append(info)
        if with_formulas and formulas is not None:
            formulas.update(_formula_cells(archive, with_formulas))
    return XLSX


def _check_ods(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """An OpenDocument spreadsheet: no macros, no DTDs.  Its rows are counted after reading
    (:func:`_check_dimensions`): LibreOffice writes the unused rows as one repeated row."""
    if any(i.filename.startswith(ODS_MACRO_FOLDERS) for i in infos):
        raise FileRejected(problem("macro-enabled"))
    for info in infos:
        if info.filename.lower().endswith(XML_SUFFIXES):
            _check_xml(archive, info)


_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")
ROW_SCAN_CHUNK = 1 << 16


def _check_row_count(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_rows: int) -> bool:
    """Count ``<row>`` elements while streaming the part, so a sheet of a million rows is refused
    before any reader holds it in memory.  True if the part has a formula (an ``<f>`` element)."""
    rows, tail, formula = 0, b"", False
    try:
        with archive.open(info) as fh:
            while chunk := fh.read(ROW_SCAN_CHUNK):
                data = tail + chunk
                formula = formula or _FORMULA_TAG.search(data) is not None  # ~0.4 ms a form
                rows += len(_ROW_TAG.findall(data))
                if rows > max_rows:
                    raise FileRejected(problem("too-large", detail=f"工作簿中有工作表超过 {max_rows} 行（上限）"))
                tail = data[-16:]  # a tag split across two chunks is counted in the next window …
                rows -= len(_ROW_TAG.findall(tail))  # … and only there
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise FileRejected(problem("corrupt", detail=f"部件 {info.filename} 已损坏（{type(exc).__name__}）")) from None
    return formula


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
# a cell element (self-closed, or up to its end tag) with its reference; a cell written without an
# ``r`` attribute is not named (Excel and LibreOffice always write it)
_CELL = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"([A-Z]{1,3}[0-9]{1,7})\"[^>]*?(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _formula_cells(archive: zipfile.ZipFile, parts: list[zipfile.ZipInfo]) -> dict[str, list[str]]:
    """Sheet name -> the cells of that sheet holding a formula, for the worksheet parts the row
    scan saw an ``<f>`` in (most forms have none, and cost nothing here).  The part's size was
    checked before; its XML was checked for DTDs and entities."""
    names = _sheet_parts(archive)
    found: dict[str, list[str]] = {}
    for info in parts:
        name = names.get(info.filename)
        if name is None:
            continue
        try:
            data = archive.read(info)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise FileRejected(problem("corrupt", detail=f"部件 {info.filename} 已损坏（{type(exc).__name__}）")) from None
        cells = [m.group(1).decode() for m in _CELL.finditer(data)
                 if m.group(2) and _FORMULA_TAG.search(m.group(2))]
        if cells:
            found[name] = cells
    return found


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part name (``xl/worksheets/sheet1.xml``) -> the sheet's name, from the workbook and
    its relationships; {} if they cannot be read (the values reader then says what is wrong)."""
    try:
        book = SafeET.fromstring(_read_member(archive, "xl/workbook.xml", 4 << 20))
        rels = SafeET.fromstring(_read_member(archive, "xl/_rels/workbook.xml.rels", 4 << 20))
    except (SafeET.ParseError, DefusedXmlException):
        return {}
    targets = {}
    for rel in rels:
        target = rel.get("Target") or ""
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[rel.get("Id")] = target
    return {targets[s.get(_REL_NS)]: s.get("name") for s in book.iter()
            if s.tag.endswith("}sheet") and s.get(_REL_NS) in targets}


def _check_zip_kind(archive: zipfile.ZipFile, names: set[str]) -> str:
    if "mimetype" in names:
        mimetype = _read_member(archive, "mimetype")[:100]
        if mimetype.strip() == b"application/vnd.oasis.opendocument.spreadsheet" and "content.xml" in names:
            return ODS
        if b"opendocument.spreadsheet" in mimetype:  # a template (.ots) or a flat variant: not a form
            raise FileRejected(problem("not-xlsx", detected="OpenDocument 电子表格模板"))
        raise FileRejected(problem("not-xlsx", detected="OpenDocument 文档"))
    if "word/document.xml" in names:
        raise FileRejected(problem("not-xlsx", detected="Word 文档（.docx）"))
    if any(n.startswith("ppt/") for n in names):
        raise FileRejected(problem("not-xlsx", detected="PowerPoint 演示文稿（.pptx）"))
    if "xl/workbook.bin" in names:
        raise FileRejected(problem("not-xlsx", detected="Excel 二进制工作簿（.xlsb）"))
    if "xl/workbook.xml" not in names:
        raise FileRejected(problem("not-xlsx", detected="ZIP 压缩包"))
    return XLSX


def _check_sizes(infos: list[zipfile.ZipInfo], limits: IntakeSettings) -> None:
    cap = limits.max_uncompressed_mb * MB
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > cap or total > cap:
            raise FileRejected(problem("too-large", detail=f"解压后超过 {limits.max_uncompressed_mb:g} MB"))
        if info.file_size > RATIO_MIN_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise FileRejected(problem("too-large", detail=f"部件 {info.filename} 的压缩比 {ratio:.0f} 超过上限 "
                                                           f"{limits.max_ratio:g}（疑似压缩炸弹）"))


def _read_member(archive: zipfile.ZipFile, name: str, limit: int = 1 << 20) -> bytes:
    try:
        with archive.open(name) as fh:
            return fh.read(limit)
    except KeyError:
        return b""
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise FileRejected(problem("corrupt", detail=f"部件 {name} 已损坏（{type(exc).__name__}）")) from None


def _check_xml(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """DOCTYPE/ENTITY appear before the root element, so the prolog is all we need to parse."""
    try:
        with archive.open(info) as fh:
            _parse_prolog(fh)
    except DefusedXmlException as exc:
        raise FileRejected(problem("unsafe-content", detail=f"{info.filename} 含有 DTD 或实体声明"
                                                            f"（{type(exc).__name__}）")) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:  # zlib.error: a garbled deflate stream
        raise FileRejected(problem("corrupt", detail=f"部件 {info.filename} 已损坏（{type(exc).__name__}）")) from None
    except SafeET.ParseError:
        raise FileRejected(problem("corrupt", detail=f"部件 {info.filename} 不是有效的 XML")) from None


def _parse_prolog(fh) -> None:
    """Parse up to the root element's start tag only, in small pieces.

    (iterparse reads 16 KB at a time and builds the tree of all of it: 6 ms a part.)"""
    parser = XMLPullParser(events=("start",), _parser=SafeET.DefusedXMLParser(target=TreeBuilder(),
                                                                               forbid_dtd=True))
    while chunk := fh.read(PROLOG_CHUNK):
        parser.feed(chunk)
        if next(parser.read_events(), None) is not None:
            return
    parser.close()  # no element at all: ParseError


def _describe_other(path: Path, head: bytes) -> str:
    if head.startswith(b"%PDF"):
        return "PDF 文档"
    if head.startswith(b"\x89PNG"):
        return "PNG 图片"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG 图片"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF 图片"
    if head.startswith((b"Rar!", b"7z\xbc\xaf")):
        return "RAR/7z 压缩包"
    if head.startswith(b"{\\rtf"):
        return "RTF 文档"
    text = _as_text(head)
    if text is None:
        return "无法识别的格式"
    lowered = text.lstrip("\ufeff \r\n\t").lower()
    if "mso-application" in lowered and "excel" in lowered:
        return "Excel 2003 XML 表格"
    if lowered.startswith(("<!doctype html", "<html")) or "<table" in lowered:
        return "网页文件（HTML，可能是从网页或 WPS 另存的“伪 Excel”）"
    if lowered.startswith("<?xml"):
        return "XML 文件"
    if "," in text or "\t" in text or "，" in text:
        return "CSV 文本文件（.csv）"
    return "纯文本文件"


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    for encoding in ("utf-8", "gb18030"):
        try:
            return head.decode(encoding)
        except UnicodeDecodeError:
            # the 4 KB cut may split a multi-byte character
            try:
                return head[:-3].decode(encoding)
            except UnicodeDecodeError:
                continue
    return None
