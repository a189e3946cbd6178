"""The Excel outputs' columns, from the models: a column that is a model field carries the
field's own title and width (the writers in :mod:`processor.render.workbooks` take them as data)."""

from __future__ import annotations

from processor.record.ledger import data_fields
from processor.render.workbooks import Column, Sheet
# the models' plain data (processor.schemas.layout): an output's columns need titles and widths, not pandera
from processor.schemas.layout import FORM_LAYOUT as FORM_SHEETS, LAYOUT_BY_KEY as SHEETS_BY_KEY, ROSTER_LAYOUT as ROSTER_SHEETS

_BASIC = SHEETS_BY_KEY["basic_info"]
_SITE = SHEETS_BY_KEY["sites"]
_UNIT = ROSTER_SHEETS[0]
_STAFF = ROSTER_SHEETS[1]

STAFF_COLUMN = "企业组联系人员"
UNIT_COLUMN = "联系县（市、区）/系统党委"


def summary_sheets(rows: dict[str, list[dict]]) -> list[Sheet]:
    """汇总数据's sheets: one per form sheet, 填报单位 and 报送月份 first, then the sheet's fields."""
    keys = [_field_column(_BASIC.field_by_name("unit")), _field_column(_BASIC.field_by_name("month"))]
    return [Sheet(spec.title, keys + [_field_column(f) for f in data_fields(spec)], rows.get(spec.key) or [])
            for spec in FORM_SHEETS]


def assignment_columns() -> list[Column]:
    """The attachment's columns (keys of the assignment context's rows)."""
    site = _SITE.field_by_name
    return [
        Column("group", _STAFF.field_by_name("group").title, 10),
        Column("staff", STAFF_COLUMN, 12),
        Column("unit", UNIT_COLUMN, 22),
        Column("site", site("site").title, 30),
        Column("kind", site("enterprise_kind").title, 10),
        Column("secretary", site("secretary").title, 12),
        Column("members", site("members").title, 10),
        Column("contact_date", site("contact_date").title, 14, date=True),
        Column("note", site("note").title, 26),
    ]


def reminder_columns() -> list[Column]:
    unit = _UNIT.field_by_name
    return [
        Column("unit", unit("name").title, 22),
        Column("kind", unit("kind").title, 10),
        Column("contact", unit("contact").title, 10),
        Column("phone", unit("phone").title, 16),
        Column("deadline", "截止日期", 12, date=True),
        Column("status", "状态", 14),
        Column("overdue_days", "逾期天数", 10),
    ]


def _field_column(field) -> Column:
    return Column(field.name, field.title, field.width, field.kind == "date")
