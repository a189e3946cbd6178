"""The ledger's layout: its frozen SQL migrations and the models' fingerprint they keep.

* Named, frozen SQL migrations (``processor/record/migrations/NNN_name.sql``) are applied
  once each, in order, and recorded in ``_migrations``: a new version only appends a
  file; a released one is never edited.
* One table per form sheet holds the validated rows, one column per model field.  A
  model field added without a migration is caught when the ledger opens: ``_meta``
  holds the fingerprint of the models' columns (:func:`model_fingerprint`) that the
  migrations built, and the live models must match it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from processor.common.paths import SCHEMAS_DIR

if TYPE_CHECKING:  # the form models load where they are used: opening a ledger does not need them
    from processor.schemas.form import SheetSpec

SQL_TYPES = {"int": "INTEGER", "float": "REAL"}
KEY_COLUMN_TYPES = (("file_id", "INTEGER"), ("unit", "TEXT"), ("month", "TEXT"), ("row", "INTEGER"))
KEY_COLUMNS = tuple(name for name, _ in KEY_COLUMN_TYPES)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
FINGERPRINT_KEY = "model_fingerprint"
SOURCES_KEY = "model_sources"  # "<fingerprint>:<model_sources_digest()>" once they were seen to match


def data_fields(spec: SheetSpec):
    """The model fields stored as their own columns (基本信息's unit/month are the key columns)."""
    return [f for f in spec.fields if f.name not in KEY_COLUMNS]


def sql_columns(spec) -> list[tuple[str, str]]:
    """A sheet table's (column, SQL type), key columns first (``spec``: a model's sheet or its layout)."""
    return [*KEY_COLUMN_TYPES, *((f.name, SQL_TYPES.get(f.kind, "TEXT")) for f in data_fields(spec))]


def model_layout() -> dict[str, list[tuple[str, str]]]:
    """Per sheet table, the (column, SQL type) the live models declare, key columns first."""
    from processor.schemas.form import FORM_SHEETS

    return {spec.key: sql_columns(spec) for spec in FORM_SHEETS}


def model_sources_digest() -> str:
    """A hash of the files :func:`model_layout` is derived from (the form's models, the field kinds
    and this module's SQL types), read as bytes: equal digests give the same layout."""
    digest = hashlib.sha256()
    for source in (SCHEMAS_DIR / "form.py", SCHEMAS_DIR / "fields.py", SCHEMAS_DIR / "vocabulary.py", Path(__file__)):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def model_fingerprint() -> str:
    """A short hash of :func:`model_layout`; the migration that changes a sheet table stores the new one."""
    text = json.dumps(model_layout(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def layout_differences(conn: sqlite3.Connection) -> list[str]:
    """What the ledger's sheet tables lack or have beyond the live models, one line each."""
    lines = []
    for table, declared in model_layout().items():
        actual = {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not actual:
            lines.append(f"缺少表 {table}")
            continue
        for column, kind in declared:
            if column not in actual:
                lines.append(f"表 {table} 缺少列 {column}")
            elif actual[column] != kind:
                lines.append(f"表 {table} 的列 {column} 类型为 {actual[column]}，模型要求 {kind}")
        names = {c for c, _ in declared}
        lines += [f"表 {table} 多出列 {c}（模型中已没有该字段）" for c in actual if c not in names]
    return lines


def migrations() -> list[tuple[str, str]]:
    """The frozen migrations, ``(name, sql)`` in order of their number (``NNN_name.sql``)."""
    return [(path.stem, path.read_text(encoding="utf-8")) for path in sorted(MIGRATIONS_DIR.glob("[0-9]*.sql"))]


def pending(conn: sqlite3.Connection) -> list[str]:
    """The migrations this program has that the ledger has not applied yet, in order."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone():
        return [name for name, _ in migrations()]
    done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    return [name for name, _ in migrations() if name not in done]


def apply_pending(conn: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
                  stamp: Callable[[], str]) -> list[str]:
    """Apply every migration the ledger lacks, each in its own ``transaction()``, recorded with the
    time ``stamp()`` gives; returns the names applied."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    applied = []
    for name, sql in migrations():
        if name in done:
            continue
        with transaction() as tx:
            # another process (a watcher starting while `status` runs) may have applied it meanwhile
            if tx.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                continue
            for statement in statements(sql):
                tx.execute(statement)
            tx.execute("INSERT INTO _migrations VALUES (?, ?)", (name, stamp()))
        applied.append(name)
    return applied


def statements(sql: str) -> list[str]:
    """Split a migration into statements the way SQLite itself reads them (a ';' in a comment or
    a string literal does not end one)."""
    found, pending_text = [], ""
    for line in sql.splitlines(keepends=True):
        pending_text += line
        if sqlite3.complete_statement(pending_text):
            if _has_code(pending_text):
                found.append(pending_text.strip())
            pending_text = ""
    if _has_code(pending_text):
        raise ValueError(f"迁移的最后一条语句不完整（缺少分号）：{pending_text.strip()[:80]}")
    return found


def _has_code(text: str) -> bool:
    """Whether ``text`` holds more than blanks and ``--`` comments."""
    return any(line.split("--", 1)[0].strip() for line in text.splitlines())
