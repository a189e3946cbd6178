"""What a validation holds while it reads one form: its result, each located sheet, and the context
the checks read (:mod:`processor.validate.validator` fills them; :mod:`processor.validate.checks` and
:mod:`processor.validate.pandera_step` read them)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from processor.common.rulebook import Rulebook
from processor.validate.errors import Problem, ProblemList, problem
from processor.validate.roster import Roster, column_letter

if TYPE_CHECKING:
    import pandas as pd

    from processor.schemas.form import SheetSpec


@dataclass
class ValidationResult:
    problems: ProblemList = field(default_factory=ProblemList)
    # the typed records of each sheet (sheet key -> one dict per row: the model's fields and "row"),
    # what the ledger stores; plain Python, so a result crosses from the sandbox to the writer cheaply
    records: dict[str, list[dict]] = field(default_factory=dict)
    unit: str | None = None
    unit_kind: str | None = None
    month: str | None = None
    template_version: str | None = None
    model_hash: str | None = None

    @property
    def accepted(self) -> bool:
        return not self.problems.errors

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """The records as frames with English column names and the Excel row, built on first use."""
        frames = self.__dict__.get("_frames")
        if frames is None or frames[0] is not self.records:
            frames = (self.records, {key: records_frame(key, rows) for key, rows in self.records.items()})
            self.__dict__["_frames"] = frames
        return frames[1]

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_frames"}  # the frames are rebuilt on demand

    def to_json(self) -> dict:
        return {
            "accepted": self.accepted,
            "unit": self.unit, "unit_kind": self.unit_kind, "month": self.month,
            "template_version": self.template_version, "model_hash": self.model_hash,
            "errors": len(self.problems.errors), "warnings": len(self.problems.warnings),
            "problems": [p.to_dict() for p in self.problems],
            "rows": {key: len(rows) for key, rows in self.records.items()},
        }


def records_frame(key: str, records: list[dict]) -> pd.DataFrame:
    """Typed records of sheet ``key`` as a frame with English column names and the Excel row."""
    import numpy as np
    import pandas as pd

    from processor.schemas.form import SHEETS_BY_KEY

    names = [f.name for f in SHEETS_BY_KEY[key].fields]
    # one object block filled cell by cell: a third of the cost of a column-by-column frame, and no
    # value is ever taken apart as a sequence
    values = np.empty((len(records), len(names)), dtype=object)
    for i, record in enumerate(records):
        for j, name in enumerate(names):
            values[i, j] = record.get(name)
    frame = pd.DataFrame(values, columns=names, dtype=object, copy=False)
    frame["row"] = np.array([r["row"] for r in records], dtype="int64")
    return frame


@dataclass
class SheetRead:
    """One located sheet: where its columns are and its normalised records."""

    spec: SheetSpec
    name: str  # the sheet name as found in the file
    columns: dict[str, int] = field(default_factory=dict)  # field name -> 0-based column
    form_rows: dict[str, int] = field(default_factory=dict)  # form layout: field name -> Excel row
    records: list[dict] = field(default_factory=list)  # field name -> value, plus "row"
    bad_cells: set[tuple[str, int]] = field(default_factory=set)  # (field, row) already reported
    previous_titles: dict[str, str] = field(default_factory=dict)  # old title read → field name

    def cell(self, name: str, row: int) -> str | None:
        if self.spec.layout == "form":
            return f"B{self.form_rows[name]}" if name in self.form_rows else None
        col = self.columns.get(name)
        return None if col is None else f"{column_letter(col + 1)}{row}"

    def at(self, code: str, name: str, row: int, value=None, **params) -> Problem:
        """A problem located at field ``name`` of record ``row``."""
        f = self.spec.field_by_name(name)
        excel_row = self.form_rows.get(name, row) if self.spec.layout == "form" else row
        return problem(code, sheet=self.spec.title, cell=self.cell(name, row), row=excel_row, column=f.title,
                       value=value, **params)


@dataclass
class Context:
    roster: Roster
    rulebook: Rulebook
    expected_unit: str | None
    result: ValidationResult
    sheets: dict[str, SheetRead] = field(default_factory=dict)

    @property
    def problems(self) -> ProblemList:
        return self.result.problems

    def records(self, key: str) -> list[dict]:
        sheet = self.sheets.get(key)
        return sheet.records if sheet else []

    @property
    def site_names(self) -> list[str]:
        return [r["site"] for r in self.records("sites") if r.get("site")]


_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]+)")


def cell_position(ref: str) -> tuple[int, int]:
    """(Excel row, 0-based column) of a cell reference such as ``B12``."""
    letters, row = _CELL_REF.fullmatch(ref).groups()
    col = 0
    for letter in letters:
        col = col * 26 + ord(letter) - ord("A") + 1
    return int(row), col - 1
