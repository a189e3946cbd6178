"""The monthly form (月报表): one pandera model per sheet.

Field attribute names are the English identifiers used in code and in the
ledger's tables; each field's ``alias`` is the Chinese column title the
submitter sees.  :data:`FORM_SHEETS` lists the sheets in workbook order with
what the reader and the cross-sheet checks need to know about each.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from processor.schemas import fields as col
# The word lists are defined in processor.schemas.vocabulary (no pandas) and re-exported from here.
from processor.schemas.vocabulary import (ACTIVITY_KINDS, CLOSE_STATES, CONTACT_MODES, ENTERPRISE_KINDS, FORMATIONS, ORG_KINDS,
                                SHEET_TITLES, SITE_LEVELS, UNIT_KINDS)

SITE_PROMPT = "从下拉列表选择“示范点”表中登记的示范点（先在“示范点”表登记）"


class BasicInfo(pa.DataFrameModel):
    """基本信息 — a vertical form: titles in column A, values in column B."""

    unit: Series[str] = col.text("填报单位", width=24, prompt="从下拉列表选择本单位名称")
    unit_kind: Series[str] = col.choice("单位类型", UNIT_KINDS)
    month: Series[str] = col.month("报送月份")
    filler: Series[str] = col.text("填报人", width=12)
    phone: Series[str] = col.text("联系电话", width=16, max_length=40)
    reviewer: Series[str] = col.text("审核人", width=12, prompt="单位负责人姓名")
    fill_date: Series[pd.Timestamp] = col.date("填报日期")
    change_note: Series[str] = col.text("变更说明", required=False, width=40,
                                    prompt="与上月相比有何变化（示范点、联系人员等），无则不填")


class Site(pa.DataFrameModel):
    """示范点 — one row per demonstration site."""

    site: Series[str] = col.text("示范点名称", width=24, max_length=100,
                             prompt="示范点的简称；其他各表的“示范点名称”从这里登记的名称中选择")
    enterprise: Series[str] = col.text("所属企业", width=24, max_length=100)
    enterprise_kind: Series[str] = col.choice("企业类型", ENTERPRISE_KINDS, width=8)
    org_name: Series[str] = col.text("党组织名称", width=24, max_length=100)
    org_kind: Series[str] = col.choice("党组织类型", ORG_KINDS)
    formation: Series[str] = col.choice("组建方式", FORMATIONS)
    secretary: Series[str] = col.text("党组织书记", width=10, max_length=40)
    members: Series[pd.Int64Dtype] = col.count("党员人数")
    employees: Series[pd.Int64Dtype] = col.count("职工人数")
    level: Series[str] = col.choice("示范点级别", SITE_LEVELS, width=8)
    staff: Series[str] = col.text("联系企业组人员", width=12, max_length=40,
                              prompt="从下拉列表选择联系本示范点的企业组人员")
    contact_date: Series[pd.Timestamp] = col.date("确定联系日期", prompt="企业组人员与本单位确定联系本示范点的日期")
    plan_date: Series[pd.Timestamp] = col.date("工作方案上报日期", required=False,
                                           prompt="示范点工作方案上报企业组的日期，尚未上报则不填")
    note: Series[str] = col.text("备注", required=False, width=20)


class Contact(pa.DataFrameModel):
    """联系指导记录 — each phone call, visit or meeting of a 企业组 member with a site."""

    date: Series[pd.Timestamp] = col.date("日期")
    site: Series[str] = col.text("示范点名称", width=24, max_length=100, prompt=SITE_PROMPT)
    staff: Series[str] = col.text("企业组人员", width=12, max_length=40)
    mode: Series[str] = col.choice("方式", CONTACT_MODES)
    content: Series[str] = col.text("内容", width=30)
    problem: Series[str] = col.text("发现问题", required=False, width=24)
    suggestion: Series[str] = col.text("解决建议", required=False, width=24)
    deadline: Series[pd.Timestamp] = col.date("整改时限", required=False, prompt="发现问题时填写整改期限")
    state: Series[str] = col.choice("办结状态", CLOSE_STATES, required=False,
                                prompt="发现问题时填写；以后月份办结的，再填一条“已办结”的记录")


class OrgLife(pa.DataFrameModel):
    """组织生活 — meetings, party lessons, evaluations, trainings."""

    date: Series[pd.Timestamp] = col.date("日期")
    site: Series[str] = col.text("示范点名称", width=24, max_length=100, prompt=SITE_PROMPT)
    activity: Series[str] = col.choice("活动类型", ACTIVITY_KINDS, width=14)
    host: Series[str] = col.text("主持人", width=10, max_length=40)
    expected: Series[pd.Int64Dtype] = col.count("应到人数")
    present: Series[pd.Int64Dtype] = col.count("实到人数")
    summary: Series[str] = col.text("内容摘要", width=30)


class Hardware(pa.DataFrameModel):
    """硬件设施 — one row per site; which items of S-5 / N-5 it has."""

    site: Series[str] = col.text("示范点名称", width=24, max_length=100, prompt=SITE_PROMPT)
    outdoor_board: Series[str] = col.yesno("室外固本强基宣传栏")
    office_room: Series[str] = col.yesno("办公用房")
    activity_room: Series[str] = col.yesno("党员活动室")
    room_area: Series[float] = col.amount("活动室面积(㎡)", prompt="党员活动室使用面积，单位平方米，没有则不填",
                                      strictly_positive=True)
    nameplate: Series[str] = col.yesno("牌子")
    party_flag: Series[str] = col.yesno("党旗")
    party_board: Series[str] = col.yesno("党建工作宣传栏")
    computer: Series[str] = col.yesno("电脑")
    vcd: Series[str] = col.yesno("VCD机")
    tv: Series[str] = col.yesno("电视机")
    telephone: Series[str] = col.yesno("电话")
    camera: Series[str] = col.yesno("照相机")
    audio: Series[str] = col.yesno("组合音响")
    file_cabinet: Series[str] = col.yesno("资料柜")
    bookcase: Series[str] = col.yesno("书柜")
    furniture: Series[str] = col.yesno("桌椅")


class Members(pa.DataFrameModel):
    """党员队伍 — one row per site.  "其中" columns name the count they are part of in their title."""

    site: Series[str] = col.text("示范点名称", width=24, max_length=100, prompt=SITE_PROMPT)
    total: Series[pd.Int64Dtype] = col.count("党员总数", prompt="本示范点党组织现有党员人数（含本月发展的党员）")
    new_members: Series[pd.Int64Dtype] = col.count("本月发展党员", width=12, part_of="total",
                                                   prompt="本月新发展的党员人数，没有填 0")
    new_workers: Series[pd.Int64Dtype] = col.count("本月发展党员中：一线工人", width=14, part_of="new_members",
                                                   prompt="本月发展党员中生产一线工人的人数，没有填 0")
    new_intellectuals: Series[pd.Int64Dtype] = col.count(
        "本月发展党员中：知识分子/技术骨干", width=16, part_of="new_members",
        prompt="本月发展党员中知识分子、技术骨干的人数，没有填 0")
    activists: Series[pd.Int64Dtype] = col.count("入党积极分子", prompt="现有入党积极分子人数")
    mobile: Series[pd.Int64Dtype] = col.count("流动党员", prompt="现有流动党员人数，没有填 0")
    mobile_managed: Series[pd.Int64Dtype] = col.count(
        "流动党员中：已转出或纳入社区管理", width=16, part_of="mobile",
        prompt="流动党员中已转出组织关系或纳入社区党组织管理的人数，没有填 0")
    duty_zones: Series[pd.Int64Dtype] = col.count("党员责任区数")
    cross_posts: Series[pd.Int64Dtype] = col.count("交叉任职人数（国企）", required=False,
                                               prompt="国企填写：党组织班子与行政班子交叉任职人数")
    six_ones: Series[pd.Int64Dtype] = col.count("参加“六个一”人数（非公）", required=False,
                                            prompt="非公企业填写")
    mutual_fund: Series[float] = col.amount("党员互助金余额（元）（非公）", prompt="非公企业填写，单位元")


class Progress(pa.DataFrameModel):
    """工作进展 — one row per site."""

    site: Series[str] = col.text("示范点名称", width=24, max_length=100, prompt=SITE_PROMPT)
    progress: Series[str] = col.text("本月进展", width=40, max_length=2000)
    issues: Series[str] = col.text("存在问题", required=False, width=30, max_length=2000)
    next_plan: Series[str] = col.text("下月计划", width=40, max_length=2000)


@dataclass(frozen=True)
class SheetSpec:
    key: str  # English identifier, also the ledger table's name
    title: str  # Chinese sheet name
    model: type[pa.DataFrameModel]
    layout: str = "table"  # "table": header row + records; "form": titles in A, values in B
    one_row_per_site: bool = False  # 硬件设施 / 党员队伍 / 工作进展
    dates_in_month: tuple[str, ...] = ()  # fields whose dates must fall inside 报送月份
    unique_on: tuple[str, ...] = ()  # fields that identify a row (duplicate detection)
    description: str = ""

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        return self.model.to_schema()

    @cached_property
    def fields(self) -> list[FieldSpec]:
        columns = self.schema.columns
        return [FieldSpec(info.original_name, info.name, columns[info.name].metadata or {}, columns[info.name])
                for _, info in self.model.__fields__.values()]

    @cached_property
    def names(self) -> dict[str, str]:
        """Chinese title → English name, for renaming DataFrames."""
        return {f.title: f.name for f in self.fields}

    @property
    def titles(self) -> list[str]:
        return [f.title for f in self.fields]

    @property
    def required_titles(self) -> list[str]:
        return [f.title for f in self.fields if f.required]

    def field_by_title(self, title: str) -> FieldSpec:
        return next(f for f in self.fields if f.title == title)

    def field_by_name(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    def input_prompt(self, f: FieldSpec) -> str:
        """The prompt a clerk sees: the field's own, plus the rule tying it to another column."""
        if not f.part_of:
            return f.prompt
        whole = self.field_by_name(f.part_of).title
        return f"{f.prompt}；不能超过“{whole}”"

    @property
    def parts(self) -> list[tuple[str, str]]:
        """(part, whole) field names: a "其中" count cannot exceed the count it is part of."""
        return [(f.name, f.part_of) for f in self.fields if f.part_of]

    @cached_property
    def previous_titles(self) -> dict[str, tuple[str, str]]:
        """Column titles of earlier template versions: old title → (field name, version)."""
        return {title: (name, version) for version, previous in PREVIOUS_TEMPLATES.items()
                for title, name in previous.titles.get(self.key, {}).items()}


@dataclass(frozen=True)
class FieldSpec:
    name: str  # English attribute name
    title: str  # Chinese column title
    metadata: dict = field(hash=False)
    column: pa.Column = field(hash=False, repr=False)

    @property
    def kind(self) -> str:
        return self.metadata["kind"]

    @property
    def required(self) -> bool:
        return self.metadata["required"]

    @property
    def width(self) -> int:
        return self.metadata.get("width", 12)

    @property
    def prompt(self) -> str:
        return self.metadata.get("prompt", "")

    @property
    def part_of(self) -> str | None:
        return self.metadata.get("part_of")

    @property
    def options(self) -> list[str] | None:
        for check in self.column.checks:
            if check.name == "isin":
                return list(check.statistics["allowed_values"])
        return None


INSTRUCTIONS_TITLE = "填报说明"
META_SHEET_TITLE = "模板信息"  # hidden sheet with template id, version and model hash
EXAMPLE_SHEET_TITLE = "填写示例"  # read-only, one complete example per sheet; validation never reads it
TEMPLATE_ID = "示范点联系指导月报表"
TEMPLATE_VERSION = "2026.2"


@dataclass(frozen=True)
class PreviousTemplate:
    """An earlier template version whose forms are still read (with a warning)."""

    titles: dict[str, dict[str, str]]  # sheet key → {column title in that version: field name}


PREVIOUS_TEMPLATES: dict[str, PreviousTemplate] = {
    "2026.1": PreviousTemplate({"members": {
        "其中一线工人": "new_workers",
        "其中知识分子/技术骨干": "new_intellectuals",
        "其中已转出或纳入社区管理": "mobile_managed",
    }}),
}

FORM_SHEETS: list[SheetSpec] = [
    SheetSpec("basic_info", SHEET_TITLES["basic_info"], BasicInfo, layout="form",
              description="本单位、报送月份和填报人信息"),
    SheetSpec("sites", SHEET_TITLES["sites"], Site, unique_on=("site",),
              description="本单位的示范点，每个示范点一行"),
    SheetSpec("contacts", SHEET_TITLES["contacts"], Contact, dates_in_month=("date",),
              unique_on=("date", "site", "staff", "mode", "content"),
              description="本月企业组人员对示范点的每次电话联系、现场指导、座谈会"),
    SheetSpec("org_life", SHEET_TITLES["org_life"], OrgLife, dates_in_month=("date",),
              unique_on=("date", "site", "activity", "summary"),
              description="本月各示范点召开的党员大会、组织生活会、民主生活会、党课、培训等"),
    SheetSpec("hardware", SHEET_TITLES["hardware"], Hardware, one_row_per_site=True, unique_on=("site",),
              description="各示范点硬件设施情况，每个示范点一行"),
    SheetSpec("members", SHEET_TITLES["members"], Members, one_row_per_site=True, unique_on=("site",),
              description="各示范点党员队伍情况，每个示范点一行"),
    SheetSpec("progress", SHEET_TITLES["progress"], Progress, one_row_per_site=True, unique_on=("site",),
              description="各示范点本月工作进展和下月计划，每个示范点一行"),
]

SHEETS_BY_KEY = {s.key: s for s in FORM_SHEETS}
SHEETS_BY_TITLE = {s.title: s for s in FORM_SHEETS}


def models_hash() -> str:
    """A short fingerprint of every sheet's columns; changes when the form changes."""
    shape = [(s.title, [(f.title, f.kind, f.required, f.options) for f in s.fields]) for s in FORM_SHEETS]
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:16]
