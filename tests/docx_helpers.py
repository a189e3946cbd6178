"""Rendering a report the way consolidation does, and reading it back: its paragraphs and tables in
document order, its PDF and page image (LibreOffice, poppler), and plain SQL on the ledger."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from docx import Document

from processor.common.paths import PACKAGE_DIR
from processor.render.jobs import write_report

# maps the official font names of the templates to the installed Noto CJK fonts
FONTCONFIG_FILE = PACKAGE_DIR / "fonts" / "fonts.conf"
SOFFICE_TIMEOUT = 180


def render_report(name: str, context: dict, out_path: Path) -> Path:
    """The report ``name`` rendered from ``context`` into ``out_path`` by the job consolidation runs for
    it (:func:`processor.render.jobs.write_report`: the context's charts drawn, then the document)."""
    out_path = Path(out_path)
    write_report(name, out_path.name, context, {}, {out_path.name: out_path})
    return out_path


def font_environment() -> dict[str, str]:
    """Environment for LibreOffice and poppler: the font aliases of FONTCONFIG_FILE."""
    return {**os.environ, "FONTCONFIG_FILE": str(FONTCONFIG_FILE)}


def docx_to_pdf(docx: Path, outdir: Path) -> Path:
    """``docx`` converted by headless LibreOffice (a private profile, the font aliases) into ``outdir``."""
    return docx_to_pdfs([docx], outdir)[0]


def docx_to_pdfs(docxs: list[Path], outdir: Path) -> list[Path]:
    """Each of ``docxs`` (distinct file names) converted to PDF in ``outdir`` by one run of LibreOffice: it
    starts once, however many documents it lays out."""
    docxs, outdir = [Path(d) for d in docxs], Path(outdir)
    assert len({d.stem for d in docxs}) == len(docxs), "one PDF a name"
    outdir.mkdir(parents=True, exist_ok=True)
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice (soffice) is not installed"
    targets = []
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile, \
            tempfile.TemporaryDirectory(prefix="lo-out-") as tmp_out:
        proc = subprocess.run([soffice, "--headless", "--norestore", "--nologo", "--nodefault",
                               f"-env:UserInstallation={Path(profile).as_uri()}",
                               "--convert-to", "pdf", "--outdir", tmp_out, *map(str, docxs)],
                              env=font_environment(), capture_output=True, text=True,
                              timeout=SOFFICE_TIMEOUT * len(docxs))
        for docx in docxs:
            produced = Path(tmp_out) / f"{docx.stem}.pdf"
            assert proc.returncode == 0 and produced.is_file(), \
                f"LibreOffice did not convert {docx.name}: {proc.stderr}"
            target = outdir / produced.name
            shutil.copyfile(produced, target)
            targets.append(target)
    return targets


def pdf_page_png(pdf: Path, out_png: Path, page: int = 1, dpi: int = 80) -> Path:
    """One page of ``pdf`` as a PNG image (poppler's pdftoppm)."""
    out_png = Path(out_png)
    with tempfile.TemporaryDirectory(prefix="pdftoppm-") as tmp:
        prefix = Path(tmp) / "page"
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page),
                        "-singlefile", str(pdf), str(prefix)], check=True, env=font_environment(),
                       capture_output=True, timeout=120)
        shutil.copyfile(f"{prefix}.png", out_png)
    return out_png


def paragraphs(path: Path) -> list[str]:
    return [p.text for p in Document(path).paragraphs]


def tables(path: Path) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in t.rows] for t in Document(path).tables]


def table_with_header(path: Path, first: str, second: str) -> list[list[str]]:
    """The body rows of the table whose header starts with these two titles."""
    for t in tables(path):
        if t and t[0][:2] == [first, second]:
            return t[1:]
    raise AssertionError(f"no table headed {first} | {second}")


def rows_under(doc, *header: str) -> list[list[str]]:
    """The body rows of the first table of an open document whose header starts with these titles ([] if none)."""
    for t in doc.tables:
        if list(header) == [c.text for c in t.rows[0].cells][:len(header)]:
            return [[c.text for c in row.cells] for row in t.rows[1:]]
    return []


def find_groups(pattern: str, text: str) -> tuple:
    """The groups of the first match of ``pattern`` in a report's text; a failed assertion names the pattern."""
    found = re.search(pattern, text)
    assert found, f"报告中找不到：{pattern}"
    return found.groups()


def section(texts: list[str], start: str, end: str) -> list[str]:
    """The paragraphs after the heading starting with ``start`` up to the one starting with ``end``."""
    i = next(k for k, t in enumerate(texts) if t.startswith(start))
    j = next(k for k in range(i + 1, len(texts)) if texts[k].startswith(end))
    return [t for t in texts[i + 1:j] if t]


def sql(ledger_path: Path, query: str, *params) -> list[tuple]:
    """Rows of one query on the ledger file, read-only."""
    conn = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def cn_date(iso: str) -> str:
    y, m, d = (int(x) for x in iso.split("-"))
    return f"{y}年{m}月{d}日"
