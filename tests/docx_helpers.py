"""Reading a rendered report back: its paragraphs and tables in document order, and plain SQL on the ledger."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph


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
