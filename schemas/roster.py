"""The roster workbook (名册) kept by the office: units, staff, and 分片 groups."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from processor.schemas import fields as col
from processor.schemas.form import UNIT_KINDS, SheetSpec


class Unit(pa.DataFrameModel):
    code: Series[str] = col.text("单位代码", width=10, max_length=20)
    name: Series[str] = col.text("单位名称", width=24, max_length=60)
    kind: Series[str] = col.choice("单位类型", UNIT_KINDS)
    contact: Series[str] = col.text("联系人", width=10, max_length=40)
    phone: Series[str] = col.text("联系电话", width=16, max_length=40)
    email: Series[str] = col.text("电子邮箱", required=False, width=26, max_length=120)
    former_names: Series[str] = col.text("曾用名", required=False, width=28, max_length=300,
                                         prompt="单位更名后在此填写原名称，多个用“、”或“;”分隔")
    senders: Series[str] = col.text("其他报送邮箱", required=False, width=30, max_length=300,
                                    prompt="本单位还会用哪些邮箱向报送邮箱发送报表，多个用“;”分隔")


class Staff(pa.DataFrameModel):
    name: Series[str] = col.text("姓名", width=10, max_length=40)
    group: Series[str] = col.text("组别", width=10, max_length=40, prompt="如“第一组”")
    post: Series[str] = col.text("职务", required=False, width=14, max_length=40)
    phone: Series[str] = col.text("联系电话", required=False, width=16, max_length=40)
    email: Series[str] = col.text("电子邮箱", required=False, width=26, max_length=120)


class GroupUnit(pa.DataFrameModel):
    group: Series[str] = col.text("组别", width=10, max_length=40)
    unit: Series[str] = col.text("联系单位", width=24, max_length=60, prompt="该组分片联系的县（市、区）或系统党委")


ROSTER_SHEETS: list[SheetSpec] = [
    SheetSpec("units", "单位", Unit, unique_on=("code",), description="各县（市、区）和系统党委"),
    SheetSpec("staff", "企业组人员", Staff, unique_on=("name",), description="企业组工作人员及所在组别"),
    SheetSpec("groups", "分片联系", GroupUnit, unique_on=("group", "unit"),
              description="各组分片定向联系的单位"),
]

