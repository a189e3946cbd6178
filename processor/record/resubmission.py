"""What changed between two accepted submissions of one unit and month (SPEC §11).

The receipt of a file that replaces an earlier one lists, sheet by sheet, the rows
added, the rows removed and the cells changed.  Both sides come from the ledger's
stored rows, so the list is the same whenever the receipt is written again.

A row is identified by its sheet's natural key (:data:`ROW_IDENTITY`): the site for
the per-site sheets, date + site + kind for the record sheets.  Rows sharing a key
are paired in order of appearance, and 基本信息 (one row, no key) by position.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from processor.common.values import is_missing
from processor.record.ledger import Ledger, data_fields
from processor.schemas.layout import FORM_LAYOUT

ROW_IDENTITY: dict[str, tuple[str, ...]] = {
    "basic_info": (),
    "sites": ("site",),
    "contacts": ("date", "site", "staff", "mode"),
    "org_life": ("date", "site", "activity"),
    "hardware": ("site",),
    "members": ("site",),
    "progress": ("site",),
}
EMPTY = "（空）"


@dataclass
class CellChange:
    row: str  # the row as a clerk names it: 示范点“…”, or date, site and kind
    column: str
    old: str
    new: str


@dataclass
class SheetChanges:
    sheet: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[CellChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict:
        return asdict(self)


def changes_between(ledger: Ledger, old_id: int, new_id: int) -> list[SheetChanges]:
    """Per sheet (in workbook order) what the new file changed; sheets without changes are left out."""
    result = []
    for spec in FORM_LAYOUT:
        columns = [(f.name, f.title) for f in data_fields(spec)]
        identity = ROW_IDENTITY.get(spec.key, ())
        old = _keyed(_rows(ledger, spec.key, old_id), identity)
        new = _keyed(_rows(ledger, spec.key, new_id), identity)
        sheet = SheetChanges(spec.title)
        for key, row in new.items():
            if key not in old:
                sheet.added.append(_label(spec.key, row))
                continue
            for name, title in columns:
                before, after = old[key][name], row[name]
                if _shown(before) != _shown(after):
                    sheet.changed.append(CellChange(_label(spec.key, row), title, _shown(before), _shown(after)))
        sheet.removed = [_label(spec.key, row, "原第") for key, row in old.items() if key not in new]
        if not sheet.empty:
            result.append(sheet)
    return result


def _rows(ledger: Ledger, table: str, file_id: int) -> list[dict]:
    return [dict(r) for r in ledger.query(f"SELECT * FROM {table} WHERE file_id = ? ORDER BY row", (file_id,))]


def _keyed(rows: list[dict], identity: tuple[str, ...]) -> dict[tuple, dict]:
    """Rows by (natural key, how many rows with that key came before): duplicates pair up in order."""
    seen: dict[tuple, int] = {}
    keyed = {}
    for row in rows:
        key = tuple(_shown(row[name]) for name in identity)
        keyed[(key, seen.get(key, 0))] = row
        seen[key] = seen.get(key, 0) + 1
    return keyed


def _label(table: str, row: dict, line: str = "第") -> str:
    if table == "basic_info":
        return "基本信息"
    if ROW_IDENTITY.get(table) == ("site",):
        return f"示范点“{_shown(row['site'])}”"
    kind = row.get("mode") or row.get("activity")
    return " ".join(_shown(v) for v in (row.get("date"), row.get("site"), kind)) + f"（{line} {row['row']} 行）"


def _shown(value) -> str:
    """A stored value as the receipt prints it (dates are stored as ISO text already)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def previous_sites(ledger_path: Path | str, unit: str, before: str | None = None) -> list[dict]:
    """The unit's sites as in its latest accepted submission before ``before`` (a month; any month when
    None), for a pre-filled form: January's form takes December's sites.  [] if none."""
    with Ledger(ledger_path) as ledger:
        frame = ledger.accepted_rows("sites", units=[unit])
    if before is not None and not frame.empty:
        frame = frame[frame["month"] < before]
    if frame.empty:
        return []
    latest = frame[frame["month"] == frame["month"].max()]
    return [{k: (None if is_missing(v) else v) for k, v in rec.items()} for rec in latest.to_dict("records")]
