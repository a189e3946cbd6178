"""The ledger: one SQLite file that is the truth about every file received.

* WAL mode, one transaction per file (:meth:`Ledger.atomic`).
* Named, ordered migrations (``MIGRATIONS``) applied once each, recorded in
  ``_migrations`` — a new version only appends.
* ``files`` has one row per arrival (accepted, rejected, duplicate, superseded);
  one table per form sheet holds the validated rows, with columns derived from
  the pandera models, so consolidation can query them.

A later accepted submission for the same unit and month supersedes the earlier
one: the old row's status becomes ``superseded`` and its data stays for history.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import operator
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from schemas.form import FORM_SHEETS, SHEETS_BY_KEY, SheetSpec

ACCEPTED, REJECTED, DUPLICATE, SUPERSEDED = "accepted", "rejected", "duplicate", "superseded"
STATUS_CN = {ACCEPTED: "已接收", REJECTED: "已退回", DUPLICATE: "重复报送", SUPERSEDED: "已被替换"}

_SQL_TYPES = {"int": "INTEGER", "float": "REAL"}
_KEY_COLUMNS = ("file_id", "unit", "month", "row")


def data_fields(spec: SheetSpec):
    """The model fields stored as their own columns (基本信息's unit/month are the key columns)."""
    return [f for f in spec.fields if f.name not in _KEY_COLUMNS]


def _sheet_table_sql(spec: SheetSpec) -> str:
    columns = ",\n    ".join(f"{f.name} {_SQL_TYPES.get(f.kind, 'TEXT')}" for f in data_fields(spec))
    return f"""
CREATE TABLE {spec.key} (
    file_id INTEGER NOT NULL REFERENCES files(id),
    unit TEXT NOT NULL,
    month TEXT NOT NULL,
    row INTEGER,
    {columns}
);
CREATE INDEX idx_{spec.key}_file ON {spec.key}(file_id);
CREATE INDEX idx_{spec.key}_unit_month ON {spec.key}(unit, month);
"""


MIGRATIONS: list[tuple[str, str]] = [
    ("001_files", """
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    original_name TEXT NOT NULL,
    inbox_path TEXT NOT NULL,          -- relative to the inbox, as found
    folder_unit TEXT,                  -- unit bound by the per-unit sub-folder, if any
    size INTEGER NOT NULL,
    received_at TEXT NOT NULL,         -- ISO time the processor took the file
    status TEXT NOT NULL CHECK (status IN ('accepted','rejected','duplicate','superseded')),
    unit TEXT,
    unit_kind TEXT,
    month TEXT,
    template_version TEXT,
    model_hash TEXT,
    duplicate_of INTEGER REFERENCES files(id),
    superseded_by INTEGER REFERENCES files(id),
    replaces INTEGER REFERENCES files(id),
    error_count INTEGER NOT NULL DEFAULT 0,
    warning_count INTEGER NOT NULL DEFAULT 0,
    problems_json TEXT NOT NULL DEFAULT '[]',
    summary_json TEXT NOT NULL DEFAULT '{}',
    archive_path TEXT NOT NULL,        -- relative to the archive folder
    receipt_path TEXT,                 -- relative to the outbox; NULL until written
    annotated_path TEXT,
    inbox_removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_files_sha ON files(sha256);
CREATE INDEX idx_files_unit_month ON files(unit, month, status);
""" + "".join(_sheet_table_sql(spec) for spec in FORM_SHEETS)),
    ("002_deliveries", """
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    output_path TEXT NOT NULL,         -- relative to the outbox
    output_sha256 TEXT NOT NULL,
    recipients TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','sent','failed','dry-run')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    message_id TEXT,
    UNIQUE (output_path, output_sha256, recipients)
);
"""),
    ("003_outputs", """
CREATE TABLE outputs (
    path TEXT PRIMARY KEY,             -- relative to the outbox
    kind TEXT NOT NULL,
    period TEXT,
    sha256 TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,         -- fingerprint of the ledger rows it was built from
    version INTEGER NOT NULL DEFAULT 1,
    built_at TEXT NOT NULL
);
"""),
]


class Ledger:
    """A connection to the workspace's ledger, migrated on open."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                    check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self.conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before intake removes the file from the inbox, even across a power cut.
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    # --- plumbing ----------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything inside commits together or not at all."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def migrate(self) -> list[str]:
        self.conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        done = {r[0] for r in self.conn.execute("SELECT name FROM _migrations")}
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.atomic() as conn:
                # another process (a watcher starting while `status` runs) may have applied it meanwhile
                if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                    continue
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, now_iso()))
            applied.append(name)
        return applied

    def query(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    def integrity_ok(self) -> bool:
        return self.query("PRAGMA integrity_check")[0][0] == "ok"

    # --- files ---------------------------------------------------------------
    def file(self, file_id: int) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM files WHERE id = ?", (file_id,))
        return rows[0] if rows else None

    def first_arrival_with_hash(self, sha256: str) -> sqlite3.Row | None:
        """The original (non-duplicate) arrival of these exact bytes, if any."""
        rows = self.query("SELECT * FROM files WHERE sha256 = ? AND status != 'duplicate' "
                          "ORDER BY id LIMIT 1", (sha256,))
        return rows[0] if rows else None

    def current_submission(self, unit: str, month: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM files WHERE unit = ? AND month = ? AND status = 'accepted' "
                          "ORDER BY id DESC LIMIT 1", (unit, month))
        return rows[0] if rows else None

    def insert_file(self, conn: sqlite3.Connection, record: dict) -> int:
        """Insert one arrival (inside :meth:`atomic`); returns its id."""
        record = dict(record)
        for key in ("problems_json", "summary_json"):
            if not isinstance(record.get(key, ""), str):
                record[key] = json.dumps(record[key], ensure_ascii=False, default=str)
        keys = list(record)
        cur = conn.execute(f"INSERT INTO files ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                           [record[k] for k in keys])
        return cur.lastrowid

    def insert_rows(self, conn: sqlite3.Connection, file_id: int, unit: str, month: str,
                    frames: dict[str, pd.DataFrame]) -> dict[str, int]:
        """Store the validated rows of every sheet; returns rows stored per sheet key."""
        counts = {}
        for spec in FORM_SHEETS:
            frame = frames.get(spec.key)
            names = [f.name for f in data_fields(spec)]
            rows = [] if frame is None else _row_tuples(frame, file_id, unit, month, ["row", *names])
            if rows:
                placeholders = ", ".join("?" * (4 + len(names)))
                conn.executemany(f"INSERT INTO {spec.key} (file_id, unit, month, row, {', '.join(names)}) "
                                 f"VALUES ({placeholders})", rows)
            counts[spec.key] = len(rows)
        return counts

    def supersede(self, conn: sqlite3.Connection, new_id: int, unit: str, month: str) -> int | None:
        """Mark the previously accepted submission of unit+month as replaced by ``new_id``."""
        old = conn.execute("SELECT id FROM files WHERE unit = ? AND month = ? AND status = 'accepted' "
                           "AND id != ? ORDER BY id DESC LIMIT 1", (unit, month, new_id)).fetchone()
        if old is None:
            return None
        conn.execute("UPDATE files SET status = 'superseded', superseded_by = ? WHERE unit = ? AND month = ? "
                     "AND status = 'accepted' AND id != ?", (new_id, unit, month, new_id))
        conn.execute("UPDATE files SET replaces = ? WHERE id = ?", (old[0], new_id))
        return old[0]

    def set_file(self, file_id: int, **values) -> None:
        keys = list(values)
        with self.atomic() as conn:
            conn.execute(f"UPDATE files SET {', '.join(f'{k} = ?' for k in keys)} WHERE id = ?",
                         [*values.values(), file_id])

    def files(self, *, month: str | None = None, status: str | None = None,
              unit: str | None = None, units: Iterable[str] | None = None) -> list[sqlite3.Row]:
        """Arrivals in order; ``units`` keeps those declared for, or dropped in the folder of, those units."""
        where, params = [], []
        for column, value in (("month", month), ("status", status), ("unit", unit)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if units is not None:
            units = list(units)
            marks = ", ".join("?" * len(units))
            where.append(f"(unit IN ({marks}) OR folder_unit IN ({marks}))")
            params += units * 2
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return self.query(f"SELECT * FROM files {clause} ORDER BY id", params)

    def unfinished(self) -> list[sqlite3.Row]:
        """Arrivals whose receipt or inbox removal did not complete (crash recovery)."""
        return self.query("SELECT * FROM files WHERE receipt_path IS NULL OR inbox_removed = 0 ORDER BY id")

    # --- data for consolidation ------------------------------------------------
    def accepted_records(self, sheet_key: str, *, months: Iterable[str] | None = None,
                         units: Iterable[str] | None = None, until: str | None = None) -> list[dict]:
        """Rows of one sheet from the current accepted submissions, one dict per row.

        Keys are :func:`sheet_columns` in order (file_id, unit, month, row, then the
        model's fields); dates are ``datetime.date``, a missing value is ``None``.
        Ordered by unit, month and row.  ``until`` keeps months up to that one.
        Repeated values (units, months, sites, dates, vocabulary) share one object
        per call, so a province's rows take less memory.
        """
        spec = SHEETS_BY_KEY[sheet_key]
        where, params = ["f.status = 'accepted'"], []
        if months is not None:
            months = list(months)
            where.append(f"t.month IN ({', '.join('?' * len(months))})")
            params += months
        if units is not None:
            units = list(units)
            where.append(f"t.unit IN ({', '.join('?' * len(units))})")
            params += units
        if until is not None:
            where.append("t.month <= ?")
            params.append(until)
        names = [f.name for f in data_fields(spec)]
        sql = (f"SELECT t.file_id, t.unit, t.month, t.row, {', '.join('t.' + n for n in names)} "
               f"FROM {sheet_key} t JOIN files f ON f.id = t.file_id WHERE {' AND '.join(where)} "
               f"ORDER BY t.unit, t.month, t.row")
        columns = sheet_columns(sheet_key)
        is_date = [False] * len(_KEY_COLUMNS) + [f.kind == "date" for f in data_fields(spec)]
        # One object per distinct value of a column (a province repeats units, months, sites, dates
        # and vocabulary on every row), except in columns of mostly distinct texts, where sharing
        # saves nothing.  Per column: SQLite's column affinity keeps ints and floats apart within
        # one, so equal keys are equal values of one type.
        shared: list[dict | None] = [{} for _ in columns]
        out: list[dict] = []
        with self._lock:
            cursor = self.conn.cursor()
            cursor.row_factory = None  # plain tuples: a Row per row is wasted work here
            cursor.execute(sql, params)
            while chunk := cursor.fetchmany(4096):
                values = []
                for column, date, seen in zip(zip(*chunk), is_date, shared):
                    if date:
                        for text in set(column).difference(seen):
                            seen[text] = dt.date.fromisoformat(text) if isinstance(text, str) and text else None
                        values.append(map(seen.__getitem__, column))
                    elif seen is not None:
                        values.append(map(seen.setdefault, column, column))
                    else:
                        values.append(column)
                out.extend(map(dict, map(zip, itertools.repeat(columns), zip(*values))))  # no bytecode per row
                shared = [None if seen is not None and not date and len(seen) * 2 > len(out) else seen
                          for seen, date in zip(shared, is_date)]
            cursor.close()
        return out

    def accepted_site_count(self) -> int:
        """How many sites (unit and site name) the accepted submissions name."""
        return self.query("SELECT COUNT(*) FROM (SELECT DISTINCT t.unit, t.site FROM sites t "
                          "JOIN files f ON f.id = t.file_id WHERE f.status = 'accepted')")[0][0]

    def accepted_rows(self, sheet_key: str, *, months: Iterable[str] | None = None,
                      units: Iterable[str] | None = None, plain: bool = False) -> pd.DataFrame:
        """:meth:`accepted_records` as a frame that always has every model column, even when empty.

        ``plain`` keeps every value a Python object with ``None`` for a missing one
        (no NaN), as rule checks and reports want.
        """
        return records_frame(sheet_key, self.accepted_records(sheet_key, months=months, units=units),
                             plain=plain)


def sheet_columns(sheet_key: str) -> list[str]:
    """The columns of a sheet's rows as the ledger gives them: key columns, then the model's fields."""
    return [*_KEY_COLUMNS, *(f.name for f in data_fields(SHEETS_BY_KEY[sheet_key]))]


def records_frame(sheet_key: str, records: list[dict], *, plain: bool = True) -> pd.DataFrame:
    """A frame of :meth:`Ledger.accepted_records` rows (``plain``: object columns, ``None`` kept)."""
    columns = sheet_columns(sheet_key)
    values = operator.itemgetter(*columns)
    frame = pd.DataFrame([values(r) for r in records], columns=columns, dtype=object if plain else None)
    for f in data_fields(SHEETS_BY_KEY[sheet_key]):
        if f.kind == "date":  # assigned as a list of dates, as the frame has always been built
            frame[f.name] = [r[f.name] for r in records]
    return frame


def _row_tuples(frame: pd.DataFrame, file_id: int, unit: str, month: str, names: list[str]) -> list[tuple]:
    """(file_id, unit, month, *names) per row, column by column (to_dict('records') is slow)."""
    blank = [None] * len(frame)
    columns = [frame[n].tolist() if n in frame.columns else blank for n in names]
    return [(file_id, unit, month, *map(_plain, values)) for values in zip(*columns)]


def now_iso(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now().astimezone()).isoformat(timespec="seconds")


def _plain(value):
    """A value SQLite can store: dates as ISO text, NaN/NaT as NULL, numpy scalars as Python."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (comments removed first: they may hold ';')."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [s.strip() for s in code.split(";") if s.strip()]
