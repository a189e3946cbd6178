"""The ledger: one SQLite file that is the truth about every file received.

* WAL mode, one transaction per file (:meth:`Ledger.atomic`).
* Migrated on open by the frozen SQL migrations, and checked against the models'
  fingerprint (:mod:`processor.record.migrate`).
* ``files`` has one row per arrival (accepted, rejected, duplicate, superseded);
  one table per form sheet holds the validated rows, one column per model field,
  so consolidation can query them.

A later accepted submission for the same unit and month supersedes the earlier
one: the old row's status becomes ``superseded`` and its data stays for history.

The ledger file is touched only through SQLite while any connection of the process has
it open (a process-wide registry of open ledger files, :func:`open_in_this_process`):
POSIX locks belong to the process, so closing any other descriptor of the file would drop
SQLite's locks, and another process, believing itself the last user, would checkpoint and
delete the WAL our connections still write to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import sqlite3
import stat
import threading
import urllib.parse
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from processor.common import clock
from processor.record import migrate
from processor.record.migrate import FINGERPRINT_KEY, SOURCES_KEY, data_fields
from processor.record.rows import (RowsByArrival, as_read_back, records_frame, sheet_columns, stored_value,
                                   typed_chunks)

if TYPE_CHECKING:  # pandas and the form models load where they are used: opening a ledger needs neither
    import pandas as pd

ACCEPTED, REJECTED, DUPLICATE, SUPERSEDED = "accepted", "rejected", "duplicate", "superseded"
STATUS_CN = {ACCEPTED: "已接收", REJECTED: "已退回", DUPLICATE: "重复报送", SUPERSEDED: "已被替换"}

_SQLITE_HEADER = b"SQLite format 3\x00"
_HEADER_SIZE = 100  # the database header; bytes 18 and 19 are 2 in WAL mode, 1 in rollback-journal mode
_WAL_HEADER_SIZE = 32  # a WAL no longer than its header holds no page
_RESTORE_HINT = "请从备份恢复（`processor restore 备份文件夹`，备份由 `processor backup` 生成），再运行 `processor check` 检查。"


class LedgerError(RuntimeError):
    """The ledger file cannot be used as it is; the message names the file and the fix."""


class Ledger:
    """A connection to the workspace's ledger, migrated on open.

    Opens an existing ledger only: a missing, empty or damaged file, or one with another
    ledger's WAL beside it, raises :class:`LedgerError`.  ``create=True`` (``init`` and
    ``demo`` only) makes a new one.  ``readonly=True`` (``check``, ``backup``) opens it
    with SQLite's ``mode=ro``: nothing is migrated or written, the file stays byte for byte
    as it was (:meth:`pending_migrations` says what an upgrade would apply).

    A transaction never commits into a file that is no longer at the ledger's path
    (deleted, moved away or replaced while open): :meth:`file_problem` says so, and
    :meth:`atomic` raises :class:`LedgerError` with that line instead of committing.
    """

    def __init__(self, path: Path | str, *, create: bool = False, readonly: bool = False):
        self.path = Path(path)
        self._where = self.path.absolute()  # the path whose file must stay the one opened, whatever the cwd
        self.readonly = readonly
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._savepoints = itertools.count(1)
        self._rows_by_arrival = RowsByArrival()
        self._writing = False  # inside atomic()'s outer transaction
        self._identity = self._connect(create)
        try:
            self.conn.row_factory = sqlite3.Row
            self._wal = False
            if not readonly:
                self._wal = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
                # FULL: a commit is on disk before intake removes the file from the inbox, even across a power cut.
                self.conn.execute("PRAGMA synchronous=FULL")
                self.conn.execute("PRAGMA foreign_keys=ON")
            if (problem := _quick_check(self.conn)) is not None:
                raise LedgerError(f"台账文件 {self.path} 已损坏（{problem}）。{_RESTORE_HINT}")
            if readonly:
                if not self.pending_migrations():  # an older ledger's tables are checked once it is upgraded
                    self.check_fingerprint()
            else:
                self.migrate()
                self.check_fingerprint()
        except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
            self.close()
            raise LedgerError(f"台账文件 {self.path} 已损坏或不是台账（{exc}）。{_RESTORE_HINT}") from None
        except BaseException:
            self.close()
            raise

    def _connect(self, create: bool) -> tuple[int, int]:
        """Open the SQLite connection and count it among this process's open ledger files; returns the
        file's identity (device, inode).

        The file is read outside SQLite (header, a foreign WAL beside it) only while no connection of
        this process has it open: POSIX locks belong to the process, and closing any other descriptor
        of the file would drop every SQLite lock this process holds on it (another process could then
        checkpoint and delete the WAL a live connection of ours still writes to)."""
        with _OPEN_FILES_LOCK:
            identity = _check_file(self.path, create, in_use=_open_identities())
            # mode=rw: a file that vanished since the check is an error, never a new empty ledger
            mode = "ro" if self.readonly else "rwc" if create else "rw"
            target = _uri(self._where, mode)
            try:
                self.conn = sqlite3.connect(target, timeout=30, isolation_level=None, check_same_thread=False,
                                            uri=True)
            except sqlite3.Error as exc:
                raise LedgerError(f"无法打开台账 {self.path}：{exc}。{_RESTORE_HINT}") from None
            if identity is None:  # created just now by SQLite
                identity = _identity(self.path)
            _OPEN_FILES[identity] = _OPEN_FILES.get(identity, 0) + 1
        return identity

    @classmethod
    def create(cls, path: Path | str) -> Ledger:
        """A new, empty ledger at ``path`` (or the existing one there, opened)."""
        return cls(path, create=True)

    # --- plumbing ----------------------------------------------------------
    def close(self) -> None:
        """Close the connection (once; a second call does nothing)."""
        with _OPEN_FILES_LOCK:
            if self._identity is None:
                return
            self.conn.close()
            left = _OPEN_FILES.get(self._identity, 1) - 1
            if left:
                _OPEN_FILES[self._identity] = left
            else:
                _OPEN_FILES.pop(self._identity, None)
            self._identity = None

    def file_problem(self) -> str | None:
        """None while the ledger path still names the file this connection has open; else one Chinese
        line saying that the file was deleted (or moved away) or replaced by another file."""
        identity = self._identity
        if identity is None:
            return None
        try:
            now = _identity(self._where)
        except FileNotFoundError:
            return (f"台账文件 {self.path} 已被删除或移走：不能再把收到的报表记进一个已不存在的台账。"
                    f"收件箱中的文件保持原样。请从备份恢复台账（processor restore 备份文件夹）后重新启动。")
        except OSError as exc:
            return f"无法读取台账文件 {self.path}（{exc.strerror or exc}）。请检查该文件和文件夹的权限后重新启动。"
        if now != identity:
            return (f"台账文件 {self.path} 已被另一个文件替换：正在使用的台账已不是该路径上的文件。"
                    f"收件箱中的文件保持原样。请运行 processor check 确认现在的台账无误后重新启动。")
        return None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: everything inside commits together or not at all.

        Nested calls are savepoints inside the outer transaction.  If anything fails,
        COMMIT included (a full disk, a deferred constraint), the transaction is rolled
        back, so the next one starts clean instead of "within a transaction".

        ``durable=False`` (an outer transaction in WAL mode): the commit does not wait for the disk.
        The ledger stays whole across a power cut, which may lose this commit and those after it
        until the next durable one (the WAL is written in order: that one takes them to disk with
        it).  Only for what recovery redoes when it is lost.
        """
        with self._lock:
            if not durable and self._wal and not self.conn.in_transaction:
                self.conn.execute("PRAGMA synchronous=NORMAL")
                try:
                    with self.atomic() as conn:
                        yield conn
                finally:
                    self.conn.execute("PRAGMA synchronous=FULL")
                return
            if self.conn.in_transaction:  # nested: the RLock means this thread owns the transaction
                name = f"sp{next(self._savepoints)}"
                self.conn.execute(f"SAVEPOINT {name}")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                    self._rows_by_arrival.rolled_back()
                    raise
                self.conn.execute(f"RELEASE {name}")
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._writing = True
            try:
                yield self.conn
                if (problem := self.file_problem()) is not None:  # never commit into a deleted or replaced file
                    raise LedgerError(problem)
                self.conn.execute("COMMIT")
            except BaseException:
                self._rows_by_arrival.rolled_back()
                if self.conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the first error is the one to report
                        self.conn.execute("ROLLBACK")
                raise
            finally:
                self._writing = False
            self._rows_by_arrival.committed()

    def pending_migrations(self) -> list[str]:
        """The migrations this program has that the ledger has not applied yet, in order."""
        return migrate.pending(self.conn)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the ledger as one commit left it, even
        while another process records a file (WAL keeps that snapshot for the reader).

        Inside a transaction already (this thread's :meth:`atomic`), that transaction is the view."""
        with self._lock:  # no other thread's statements on this connection in between
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                if self.conn.in_transaction:
                    try:
                        self.conn.execute("COMMIT")  # a read commits nothing: this only ends the snapshot
                    except sqlite3.Error:
                        with contextlib.suppress(sqlite3.Error):
                            self.conn.execute("ROLLBACK")

    def migrate(self) -> list[str]:
        """Apply the migrations the ledger lacks, one transaction each; returns their names."""
        return migrate.apply_pending(self.conn, self.atomic, now_iso)

    def check_fingerprint(self) -> None:
        """Fail now, naming the table and column, when the models changed without a migration.

        The live fingerprint needs the pandera models (pandas); once it has matched, the ledger
        remembers the digest of the sources that produced it, and an open with the same sources
        (every read-only command) skips building the models."""
        stored = self.conn.execute("SELECT value FROM _meta WHERE key = ?", (FINGERPRINT_KEY,)).fetchone()
        proof = self.conn.execute("SELECT value FROM _meta WHERE key = ?", (SOURCES_KEY,)).fetchone()
        if stored is not None and proof is not None and proof[0] == f"{stored[0]}:{migrate.model_sources_digest()}":
            return
        live = migrate.model_fingerprint()
        if stored is not None and stored[0] == live:
            with contextlib.suppress(sqlite3.Error):  # a read-only copy of a ledger checks in full each time
                with self.atomic() as conn:
                    conn.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)",
                                 (SOURCES_KEY, f"{live}:{migrate.model_sources_digest()}"))
            return
        differences = self.layout_differences() or ["表格模型的列类型或顺序已改变"]
        raise LedgerError(f"台账 {self.path} 的结构与程序的表格模型不一致：{'；'.join(differences)}。"
                          f"缺少一个迁移：模型增改了字段，但 processor/record/migrations/ 中没有相应的迁移文件"
                          f"（新迁移应建好这些列，并把 _meta 中的 {FINGERPRINT_KEY} 设为 {live}）。"
                          f"请安装包含该迁移的程序版本，或联系维护人员。")

    def layout_differences(self) -> list[str]:
        """What the ledger's sheet tables lack or have beyond the live models, one line each."""
        return migrate.layout_differences(self.conn)

    def backup_to(self, target: Path) -> None:
        """A consistent copy of the whole ledger in ``target`` (SQLite's online backup: writers
        elsewhere are not blocked), as one self-contained file."""
        copy = sqlite3.connect(target)
        try:
            with self._lock:
                self.conn.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # no -wal file beside the copy
        finally:
            copy.close()

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
        """:meth:`insert_records` of a validation's frames (``ValidationResult.frames``)."""
        return self.insert_records(conn, file_id, unit, month,
                                   {key: frame.to_dict("records") for key, frame in frames.items()})

    def insert_records(self, conn: sqlite3.Connection, file_id: int, unit: str, month: str,
                       records: dict[str, list[dict]]) -> dict[str, int]:
        """Store the validated rows of every sheet, from a validation's typed records (sheet key -> one
        dict per row: the model's fields and ``row``); returns rows stored per sheet key."""
        from processor.schemas.layout import FORM_LAYOUT

        counts = {}
        for spec in FORM_LAYOUT:
            names = ["row", *(f.name for f in data_fields(spec))]
            rows = [(file_id, unit, month, *map(stored_value, map(r.get, names))) for r in records.get(spec.key, ())]
            if rows:
                conn.executemany(f"INSERT INTO {spec.key} (file_id, unit, month, {', '.join(names)}) "
                                 f"VALUES ({', '.join('?' * (3 + len(names)))})", rows)
            counts[spec.key] = len(rows)
            if conn is self.conn and self._writing and (read_back := as_read_back(spec.key, rows)) is not None:
                # kept as if read (the receipt reads them next), and only once the transaction commits
                self._rows_by_arrival.put((spec.key, file_id), read_back, writing=True)
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

    def set_file(self, file_id: int, *, durable: bool = True, **values) -> None:
        """Update an arrival's columns (``durable``: see :meth:`atomic`)."""
        keys = list(values)
        with self.atomic(durable=durable) as conn:
            conn.execute(f"UPDATE files SET {', '.join(f'{k} = ?' for k in keys)} WHERE id = ?",
                         [*values.values(), file_id])

    def files(self, *, month: str | None = None, status: str | None = None,
              unit: str | None = None, units: Iterable[str] | None = None) -> list[sqlite3.Row]:
        """Arrivals in order; ``units`` keeps those declared for, or dropped in the folder of, those units."""
        where, params = [], []
        for column, value in (("month", month), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if unit is not None:  # and the unit's arrivals under its former names
            names = self._names_of([unit])
            where.append(f"unit IN ({', '.join('?' * len(names))})")
            params += names
        if units is not None:
            units = self._names_of(units)
            marks = ", ".join("?" * len(units))
            where.append(f"(unit IN ({marks}) OR folder_unit IN ({marks}))")
            params += units * 2
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.query(f"SELECT * FROM files {clause} ORDER BY id", params)
        if not self.unit_aliases:
            return rows
        aliases = self.unit_aliases
        return [{**row, "unit": aliases.get(row["unit"], row["unit"]),
                 "folder_unit": aliases.get(row["folder_unit"], row["folder_unit"])} for row in map(dict, rows)]

    # --- units renamed in the roster -----------------------------------------------
    unit_aliases: dict[str, str] = {}  # former name (曾用名) -> current name; none by default

    def read_units_as(self, aliases: dict[str, str]) -> None:
        """Read the forms a unit sent under a former name (曾用名) as the unit's own, in :meth:`files`
        and :meth:`accepted_records`: ``aliases`` maps each former name to the current one (the
        roster's ``aliases``)."""
        self.unit_aliases = dict(aliases)

    def _names_of(self, units: Iterable[str]) -> list[str]:
        """The names ``units`` have in the ledger: their own and their former ones."""
        units = list(units)
        wanted = set(units)
        return units + [former for former, current in self.unit_aliases.items() if current in wanted]

    def units_with_accepted_forms(self) -> list[str]:
        """Every unit name the ledger holds an accepted form of, as recorded (no alias applied)."""
        return [r[0] for r in self.query("SELECT DISTINCT unit FROM files WHERE status = 'accepted' "
                                         "AND unit IS NOT NULL ORDER BY unit")]

    def unfinished(self) -> list[sqlite3.Row]:
        """Arrivals whose receipt or inbox removal did not complete (crash recovery)."""
        return self.query("SELECT * FROM files WHERE receipt_path IS NULL OR inbox_removed = 0 ORDER BY id")

    # --- data for consolidation ------------------------------------------------
    def accepted_records(self, sheet_key: str, *, months: Iterable[str] | None = None,
                         units: Iterable[str] | None = None, until: str | None = None,
                         file_ids: Iterable[int] | None = None) -> list[dict]:
        """Rows of one sheet from the current accepted submissions, one dict per row.

        Keys are :func:`sheet_columns` in order (file_id, unit, month, row, then the
        model's fields); dates are ``datetime.date``, a missing value is ``None``.
        Ordered by unit, month and row.  ``until`` keeps months up to that one.
        ``file_ids``: the rows of these arrivals instead of the currently accepted ones (the
        submissions that were current on an earlier day).
        Repeated values (units, months, sites, dates, vocabulary) share one object
        per call, so a province's rows take less memory.
        """
        from processor.schemas.layout import LAYOUT_BY_KEY

        spec = LAYOUT_BY_KEY[sheet_key]
        where, params = ["f.status = 'accepted'"], []
        if file_ids is not None:
            where, params = ["t.file_id IN (SELECT value FROM json_each(?))"], [json.dumps(sorted(file_ids))]
        self._scope("t.", where, params, units=units, months=months, until=until)
        names = [f.name for f in data_fields(spec)]
        sql = (f"SELECT t.file_id, t.unit, t.month, t.row, {', '.join('t.' + n for n in names)} "
               f"FROM {sheet_key} t JOIN files f ON f.id = t.file_id WHERE {' AND '.join(where)} "
               f"ORDER BY t.unit, t.month, t.row")
        columns = sheet_columns(sheet_key)
        out: list[dict] = []
        with self._lock:
            cursor = self.conn.cursor()
            cursor.row_factory = None  # plain tuples: a Row per row is wasted work here
            cursor.execute(sql, params)
            for rows in typed_chunks(cursor, sheet_key):
                out.extend(map(dict, map(zip, itertools.repeat(columns), rows)))  # no bytecode per row
            cursor.close()
        return self._as_current_units(out) if self.unit_aliases else out

    def unit_records(self, sheet_keys: Iterable[str], *, units: Iterable[str], until: str | None = None,
                     months: Iterable[str] | None = None) -> dict[str, list[dict]]:
        """``{key: accepted_records(key, units=units, until=until, months=months)}`` for each sheet key,
        with each arrival's rows read from SQLite once per connection and kept (up to
        :data:`processor.record.rows.ROWS_KEPT` rows): intake reads a unit's earlier months again for
        every form it records."""
        out = {}
        with self.reading():
            file_ids = self._accepted_ids(units=units, until=until, months=months)
            for key in sheet_keys:
                rows = self._arrival_rows(key, file_ids)
                out[key] = list(map(dict, map(zip, itertools.repeat(sheet_columns(key)), rows)))
        if self.unit_aliases:
            out = {key: self._as_current_units(records) for key, records in out.items()}
        return out

    def _accepted_ids(self, *, units: Iterable[str] | None = None, until: str | None = None,
                      months: Iterable[str] | None = None) -> list[int]:
        """The current accepted arrivals (of ``units``, up to ``until``, of ``months``), in the order
        :meth:`accepted_records` gives their rows: by unit (as recorded), month, then arrival."""
        where, params = ["status = 'accepted'"], []
        self._scope("", where, params, units=units, months=months, until=until)
        return [r[0] for r in self.query(f"SELECT id FROM files WHERE {' AND '.join(where)} ORDER BY unit, month, id",
                                         params)]

    def _scope(self, alias: str, where: list[str], params: list, *, units: Iterable[str] | None,
               months: Iterable[str] | None, until: str | None) -> None:
        """Add to ``where`` and ``params`` the terms keeping the rows (of the table ``alias``, "t."
        or "") of ``units`` under any of their names, of ``months``, up to ``until``."""
        if months is not None:
            months = list(months)
            where.append(f"{alias}month IN ({', '.join('?' * len(months))})")
            params += months
        if units is not None:
            names = self._names_of(units)
            where.append(f"{alias}unit IN ({', '.join('?' * len(names))})")
            params += names
        if until is not None:
            where.append(f"{alias}month <= ?")
            params.append(until)

    def _arrival_rows(self, sheet_key: str, file_ids: list[int]) -> list[tuple]:
        """The rows of a sheet of these arrivals (tuples of :func:`sheet_columns`), arrival after arrival
        in the order given, each one's by row; those not kept are read and kept."""
        kept = self._rows_by_arrival
        found = {file_id: kept.get((sheet_key, file_id)) for file_id in file_ids}
        if missing := [file_id for file_id, rows in found.items() if rows is None]:
            columns = ", ".join(f"t.{name}" for name in sheet_columns(sheet_key))
            by_file: dict[int, list[tuple]] = {file_id: [] for file_id in missing}
            with self._lock:
                cursor = self.conn.cursor()
                cursor.row_factory = None
                cursor.execute(f"SELECT {columns} FROM {sheet_key} t WHERE t.file_id IN "
                               f"(SELECT value FROM json_each(?)) ORDER BY t.file_id, t.row", (json.dumps(missing),))
                for rows in typed_chunks(cursor, sheet_key):
                    for row in rows:
                        by_file[row[0]].append(row)
                cursor.close()
                writing = self._writing
            for file_id, rows in by_file.items():
                kept.put((sheet_key, file_id), rows, writing=writing)
            found.update(by_file)
        return [row for rows in found.values() for row in rows]

    def _as_current_units(self, records: list[dict]) -> list[dict]:
        """Rows under a former name read as the renamed unit's; of a month sent under both names,
        the later form's rows only (as a resubmission replaces the earlier form)."""
        aliases = self.unit_aliases
        latest: dict[tuple, int] = {}
        for r in records:
            r["unit"] = aliases.get(r["unit"], r["unit"])
            key = (r["unit"], r["month"])
            latest[key] = max(latest.get(key, r["file_id"]), r["file_id"])
        kept = [r for r in records if r["file_id"] == latest[(r["unit"], r["month"])]]
        kept.sort(key=lambda r: (r["unit"], r["month"], r["row"]))
        return kept

    def accepted_site_names(self, month: str) -> list[tuple[str, str | None]]:
        """(unit, site) of every 示范点 row of the month's current accepted forms, in the order of
        :meth:`accepted_records` (unit, row), units under their current names as there: what
        ``accepted_records("sites", months=[month])`` gives, reduced to those two values."""
        with self.reading():  # each form's sites are kept once read (intake asks at every form)
            rows = self._arrival_rows("sites", self._accepted_ids(months=[month]))
        columns = sheet_columns("sites")
        if not self.unit_aliases:
            site = columns.index("site")
            return [(row[1], row[site]) for row in rows]
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        return [(r["unit"], r["site"]) for r in self._as_current_units(records)]

    def change_stamp(self) -> tuple[int, int]:
        """Equal on two calls exactly when nothing was committed to the ledger in between: by
        another connection (SQLite's ``data_version``) or by this one (its count of changed rows).
        Taken inside a write transaction, it covers everything up to that transaction's end."""
        with self._lock:
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            return version, self.conn.total_changes

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


def receipt_number(row) -> str:
    """An arrival's receipt number as the county reads it: year of arrival and ledger id."""
    return f"{row['received_at'][:4]}-{row['id']:06d}"


def receipt_id_prefix(file_id: int) -> str:
    """How the names of an arrival's receipt files begin (its number)."""
    return f"{file_id:06d}_"


def now_iso(now: dt.datetime | None = None) -> str:
    return (now or clock.system_now().astimezone()).isoformat(timespec="seconds")


def _check_file(path: Path, create: bool, in_use: set[tuple[int, int]]) -> tuple[int, int] | None:
    """Refuse, before SQLite would silently make a new database or merge a WAL that is not the
    ledger's own, a ledger that is missing, empty, not a database, or has a foreign WAL beside it.

    Returns the file's identity (device, inode); None when it does not exist yet and ``create``.
    The file's bytes are read only when its identity is not in ``in_use`` (no connection of this
    process has it open); stat does not open the file and is always safe."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if create:
            return None
        raise LedgerError(f"台账文件不存在：{path}。如台账被误删或移走，{_RESTORE_HINT}"
                          f"如这是新工作区，请先运行 `processor init` 新建。") from None
    except OSError as exc:
        raise LedgerError(f"无法读取台账文件 {path}：{exc.strerror or exc}。请检查文件权限。") from None
    if not stat.S_ISREG(info.st_mode):
        raise LedgerError(f"台账路径 {path} 不是文件。请检查 config.toml 中的 paths.ledger。")
    if info.st_size == 0:
        raise LedgerError(f"台账文件 {path} 是空的（0 字节），其中的记录已丢失。{_RESTORE_HINT}")
    identity = (info.st_dev, info.st_ino)
    if identity in in_use:
        return identity
    wal = wal_path(path)
    try:
        wal_size = wal.stat().st_size  # before the header: a WAL made meanwhile comes after a WAL-mode header
    except FileNotFoundError:
        wal_size = 0
    except OSError:
        wal_size = 0  # SQLite will say what is wrong with it
    try:
        with open(path, "rb") as fh:
            header = fh.read(_HEADER_SIZE)
    except OSError as exc:
        raise LedgerError(f"无法读取台账文件 {path}：{exc.strerror or exc}。请检查文件权限。") from None
    if header[:len(_SQLITE_HEADER)] != _SQLITE_HEADER:
        raise LedgerError(f"台账文件 {path} 已损坏或不是台账（file is not a database）。{_RESTORE_HINT}")
    if wal_size > _WAL_HEADER_SIZE and len(header) >= 20 and header[18] == header[19] == 1:
        # The file says rollback-journal mode (every backup copy does), so SQLite never wrote a WAL for it
        # since: the WAL is another ledger's (left behind when that one was replaced), and SQLite would
        # merge its pages into this file on open, corrupting it.
        raise LedgerError(f"台账文件 {path} 旁边的 {wal.name}（{wal_size} 字节）不属于这个台账，是被替换掉的"
                          f"旧台账留下的；打开台账会把旧的改动写进来，使台账损坏。已停止，没有改动任何文件。"
                          f"请用 `processor restore 备份文件夹` 恢复（它会先移走旧的 -wal/-shm 文件），"
                          f"或停止所有 processor 后把 {wal.name} 和 {shm_path(path).name} 移到别处再试。")
    return identity


def _uri(path: Path, mode: str) -> str:
    """SQLite's URI for ``path`` (absolute): ``file:///tmp/x``, ``file:///C:/x``, ``file:////server/share/x``."""
    text = path.as_posix()
    if not text.startswith("/"):
        text = "/" + text  # a Windows drive
    return f"file://{urllib.parse.quote(text, safe='/:')}?mode={mode}"


def wal_path(path: Path) -> Path:
    """SQLite's write-ahead log beside the ledger file."""
    return path.with_name(path.name + "-wal")


def shm_path(path: Path) -> Path:
    """SQLite's shared-memory index of the WAL beside the ledger file."""
    return path.with_name(path.name + "-shm")


def _identity(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


# The ledger files this process has open through SQLite, by identity, with how many connections.
_OPEN_FILES: dict[tuple[int, int], int] = {}
_OPEN_FILES_LOCK = threading.Lock()


def _open_identities() -> set[tuple[int, int]]:
    return set(_OPEN_FILES)


def open_in_this_process(path: Path | str) -> bool:
    """Whether a :class:`Ledger` of this process has the file at ``path`` open.  While one does, the
    file (and its -wal/-shm) must not be opened by anything but SQLite, nor replaced."""
    try:
        identity = _identity(Path(path))
    except OSError:
        return False
    with _OPEN_FILES_LOCK:
        return identity in _OPEN_FILES


def _quick_check(conn: sqlite3.Connection) -> str | None:
    """None when SQLite's quick_check finds the file sound, else its first complaint."""
    first = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    return None if first == "ok" else first
