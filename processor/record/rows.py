"""A form sheet's rows as the ledger stores and gives them: their columns, the values SQLite stores,
the typed rows read back, and each arrival's rows kept in memory once read (what intake reads again
for every form it records)."""

from __future__ import annotations

import collections
import datetime as dt
import functools
import operator
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from processor.common.values import is_missing
from processor.record.migrate import KEY_COLUMNS, data_fields, sql_columns

if TYPE_CHECKING:  # pandas loads where a frame is built
    import pandas as pd

ROWS_KEPT = 150_000
"""Rows :meth:`Ledger.unit_records` keeps in memory at most: about 55 MB.  A province's year of forms
(150 units, 20 contacts and 30 activities a month each) is about 105,000 rows."""


@functools.cache
def sheet_columns(sheet_key: str) -> tuple[str, ...]:
    """The columns of a sheet's rows as the ledger gives them: key columns, then the model's fields."""
    from processor.schemas.layout import LAYOUT_BY_KEY

    return tuple(name for name, _ in sql_columns(LAYOUT_BY_KEY[sheet_key]))


def typed_chunks(cursor: sqlite3.Cursor, sheet_key: str) -> Iterator[Iterator[tuple]]:
    """The rows of ``cursor`` (a query of the sheet's :func:`sheet_columns`, as plain tuples), chunk by
    chunk, typed as :meth:`Ledger.accepted_records` gives them: dates as ``datetime.date``, a missing
    date as ``None``."""
    return _typed(iter(functools.partial(cursor.fetchmany, 4096), []), sheet_key)


def _typed(chunks: Iterable[list[tuple]], sheet_key: str) -> Iterator[Iterator[tuple]]:
    """:func:`typed_chunks` of chunks of stored rows.

    One object per distinct value of a column (a province repeats units, months, sites, dates and
    vocabulary on every row), except in columns of mostly distinct texts, where sharing saves
    nothing.  Per column: SQLite's column affinity keeps ints and floats apart within one, so equal
    keys are equal values of one type."""
    from processor.schemas.layout import LAYOUT_BY_KEY

    is_date = [False] * len(KEY_COLUMNS) + [f.kind == "date" for f in data_fields(LAYOUT_BY_KEY[sheet_key])]
    shared: list[dict | None] = [{} for _ in is_date]
    count = 0
    for chunk in chunks:
        values = []
        for column, date, seen in zip(zip(*chunk, strict=True), is_date, shared, strict=True):
            if date:
                for text in set(column).difference(seen):
                    seen[text] = dt.date.fromisoformat(text) if isinstance(text, str) and text else None
                values.append(map(seen.__getitem__, column))
            elif seen is not None:
                values.append(map(seen.setdefault, column, column))
            else:
                values.append(column)
        yield zip(*values, strict=True)
        count += len(chunk)
        shared = [None if seen is not None and not date and len(seen) * 2 > count else seen
                  for seen, date in zip(shared, is_date, strict=True)]


_PYTHON_TYPES = {"INTEGER": int, "REAL": float, "TEXT": str}


@functools.cache
def _column_types(sheet_key: str) -> tuple[type, ...]:
    """The Python type of each of :func:`sheet_columns` that SQLite stores without converting it
    (the column's affinity: an int in a REAL column comes back a float, a float in an INTEGER
    column an int, a number in a TEXT column text)."""
    from processor.schemas.layout import LAYOUT_BY_KEY

    return tuple(_PYTHON_TYPES[kind] for _, kind in sql_columns(LAYOUT_BY_KEY[sheet_key]))


def as_read_back(sheet_key: str, stored: list[tuple]) -> list[tuple] | None:
    """One arrival's rows of a sheet, being stored (values of :func:`stored_value`, in the order of
    :func:`sheet_columns`), as reading them back gives them: by row, typed as :func:`typed_chunks`
    types them.  None when SQLite would store a value otherwise than it is (a key left empty, a
    value not of its column's type, a negative zero): those rows are read back from SQLite."""
    if not stored:
        return []
    columns = zip(zip(*stored, strict=True), _column_types(sheet_key), strict=True)
    for i, (column, kind) in enumerate(columns):
        kinds = set(map(type, column))
        if i >= len(KEY_COLUMNS):  # a value may be empty, a key may not
            kinds.discard(type(None))
        if kinds - {kind}:
            return None
        if kind is float and any(v == 0 and str(v)[0] == "-" for v in column if v is not None):
            return None  # a REAL zero is stored as the integer 0: its sign is lost
    ordered = sorted(stored, key=operator.itemgetter(KEY_COLUMNS.index("row")))
    return [row for rows in _typed([ordered], sheet_key) for row in rows]


class RowsByArrival:
    """Each arrival's rows of a sheet as :func:`typed_chunks` gives them, kept in memory by
    (sheet, file id), least recently used dropped first beyond :data:`ROWS_KEPT` rows in all.

    An arrival's rows never change once committed (nothing updates or deletes them; a restore
    refuses while this process has the ledger open).  Rows read inside a write transaction are kept
    only when it commits: they may be the rows of the arrival being recorded, which a rollback
    removes and whose id the next arrival may then get."""

    def __init__(self):
        self.limit, self.size = ROWS_KEPT, 0
        self.kept: collections.OrderedDict[tuple[str, int], list[tuple]] = collections.OrderedDict()
        self.pending: dict[tuple[str, int], list[tuple]] = {}

    def get(self, key: tuple[str, int]) -> list[tuple] | None:
        rows = self.kept.get(key)
        if rows is not None:
            self.kept.move_to_end(key)
            return rows
        return self.pending.get(key)

    def put(self, key: tuple[str, int], rows: list[tuple], *, writing: bool) -> None:
        if writing:
            self.pending[key] = rows
            return
        self.kept[key] = rows
        self.size += len(rows)
        while self.size > self.limit and self.kept:
            self.size -= len(self.kept.popitem(last=False)[1])

    def committed(self) -> None:
        pending, self.pending = self.pending, {}
        for key, rows in pending.items():
            if key not in self.kept:
                self.put(key, rows, writing=False)

    def rolled_back(self) -> None:
        self.pending.clear()


def records_frame(sheet_key: str, records: list[dict], *, plain: bool = True) -> pd.DataFrame:
    """A frame of :meth:`Ledger.accepted_records` rows (``plain``: object columns, ``None`` kept)."""
    import pandas as pd

    from processor.schemas.layout import LAYOUT_BY_KEY

    columns = sheet_columns(sheet_key)
    values = operator.itemgetter(*columns)
    frame = pd.DataFrame([values(r) for r in records], columns=columns, dtype=object if plain else None)
    for f in data_fields(LAYOUT_BY_KEY[sheet_key]):
        if f.kind == "date":  # assigned as a list of dates, as the frame has always been built
            frame[f.name] = [r[f.name] for r in records]
    return frame


_STORED_AS_IS = frozenset({str, int, type(None)})  # values (by exact type) SQLite stores as they are


def stored_value(value):
    """A value SQLite can store: dates as ISO text, NaN/NaT as NULL, numpy scalars as Python."""
    cls = value.__class__
    if cls in _STORED_AS_IS:  # most values of a form
        return value
    if cls is float:
        return None if value != value else value
    if cls is dt.date:
        return value.isoformat()
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):  # pandas.Timestamp too
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
