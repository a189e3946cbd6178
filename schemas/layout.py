"""The form's sheets and columns as plain data: each sheet's key, title and fields (name, title, kind).

For the code that stores, lists or compares a form's rows without validating one (the ledger, the
receipts, the checks across months), so that recording a form does not load pandas and pandera.
The pandera models of :mod:`processor.schemas.form` stay the source of truth: :data:`_TABLE` below
is derived from them (``python -m processor.schemas.layout`` rewrites it) and stamped with the digest
of the sources it was derived from.  When those sources have changed since (a model edited, the
table not rewritten), the layout is derived from the models themselves, correct and only slower,
and ``tests/test_fast_paths.py`` fails until the table is rewritten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

_SOURCES = ("form.py", "fields.py", "vocabulary.py")


@dataclass(frozen=True)
class FieldLayout:
    name: str  # English name, the ledger's column
    title: str  # Chinese column title
    kind: str  # processor.schemas.fields kind: text, choice, int, float, date, month, yesno


@dataclass(frozen=True)
class SheetLayout:
    key: str  # English identifier, also the ledger table's name
    title: str  # Chinese sheet name
    fields: tuple[FieldLayout, ...]

    @cached_property
    def names(self) -> dict[str, str]:
        """Chinese title → English name."""
        return {f.title: f.name for f in self.fields}


def sources_digest() -> str:
    """A hash of the model sources the table is derived from, read as bytes."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((Path(__file__).with_name(name)).read_bytes())
    return digest.hexdigest()[:16]


def derived_table() -> list[tuple]:
    """The table as the pandera models give it (imports them)."""
    from processor.schemas.form import FORM_SHEETS

    return [(s.key, s.title, tuple((f.name, f.title, f.kind) for f in s.fields)) for s in FORM_SHEETS]


def _layout() -> list[SheetLayout]:
    table = _TABLE if sources_digest() == _TABLE_DIGEST else derived_table()
    return [SheetLayout(key, title, tuple(FieldLayout(*f) for f in fields)) for key, title, fields in table]


MARKER = "# --- derived from the models"


def _write() -> None:
    """Rewrite the table at the end of this file from the models."""
    path = Path(__file__)
    text = path.read_text(encoding="utf-8")
    head = text[:text.rindex("\n" + MARKER) + 1]
    rows = "".join(f"    {row!r},\n" for row in derived_table())
    path.write_text(f"{head}{MARKER} by `python -m processor.schemas.layout`; do not edit\n"
                    f"_TABLE_DIGEST = {sources_digest()!r}\n_TABLE: list[tuple] = [\n{rows}]\n"
                    "FORM_LAYOUT: list[SheetLayout] = _layout()\n"
                    "LAYOUT_BY_KEY = {s.key: s for s in FORM_LAYOUT}\n\n"
                    "if __name__ == \"__main__\":\n    _write()\n", encoding="utf-8")


# --- derived from the models by `python -m processor.schemas.layout`; do not edit
_TABLE_DIGEST = 'e20999cbe0792163'
_TABLE: list[tuple] = [
    ('basic_info', '基本信息', (('unit', '填报单位', 'text'), ('unit_kind', '单位类型', 'choice'), ('month', '报送月份', 'month'), ('filler', '填报人', 'text'), ('phone', '联系电话', 'text'), ('reviewer', '审核人', 'text'), ('fill_date', '填报日期', 'date'), ('change_note', '变更说明', 'text'))),
    ('sites', '示范点', (('site', '示范点名称', 'text'), ('enterprise', '所属企业', 'text'), ('enterprise_kind', '企业类型', 'choice'), ('org_name', '党组织名称', 'text'), ('org_kind', '党组织类型', 'choice'), ('formation', '组建方式', 'choice'), ('secretary', '党组织书记', 'text'), ('members', '党员人数', 'int'), ('employees', '职工人数', 'int'), ('level', '示范点级别', 'choice'), ('staff', '联系企业组人员', 'text'), ('contact_date', '确定联系日期', 'date'), ('plan_date', '工作方案上报日期', 'date'), ('note', '备注', 'text'))),
    ('contacts', '联系指导记录', (('date', '日期', 'date'), ('site', '示范点名称', 'text'), ('staff', '企业组人员', 'text'), ('mode', '方式', 'choice'), ('content', '内容', 'text'), ('problem', '发现问题', 'text'), ('suggestion', '解决建议', 'text'), ('deadline', '整改时限', 'date'), ('state', '办结状态', 'choice'))),
    ('org_life', '组织生活', (('date', '日期', 'date'), ('site', '示范点名称', 'text'), ('activity', '活动类型', 'choice'), ('host', '主持人', 'text'), ('expected', '应到人数', 'int'), ('present', '实到人数', 'int'), ('summary', '内容摘要', 'text'))),
    ('hardware', '硬件设施', (('site', '示范点名称', 'text'), ('outdoor_board', '室外固本强基宣传栏', 'yesno'), ('office_room', '办公用房', 'yesno'), ('activity_room', '党员活动室', 'yesno'), ('room_area', '活动室面积(㎡)', 'float'), ('nameplate', '牌子', 'yesno'), ('party_flag', '党旗', 'yesno'), ('party_board', '党建工作宣传栏', 'yesno'), ('computer', '电脑', 'yesno'), ('vcd', 'VCD机', 'yesno'), ('tv', '电视机', 'yesno'), ('telephone', '电话', 'yesno'), ('camera', '照相机', 'yesno'), ('audio', '组合音响', 'yesno'), ('file_cabinet', '资料柜', 'yesno'), ('bookcase', '书柜', 'yesno'), ('furniture', '桌椅', 'yesno'))),
    ('members', '党员队伍', (('site', '示范点名称', 'text'), ('total', '党员总数', 'int'), ('new_members', '本月发展党员', 'int'), ('new_workers', '本月发展党员中：一线工人', 'int'), ('new_intellectuals', '本月发展党员中：知识分子/技术骨干', 'int'), ('activists', '入党积极分子', 'int'), ('mobile', '流动党员', 'int'), ('mobile_managed', '流动党员中：已转出或纳入社区管理', 'int'), ('duty_zones', '党员责任区数', 'int'), ('cross_posts', '交叉任职人数（国企）', 'int'), ('six_ones', '参加“六个一”人数（非公）', 'int'), ('mutual_fund', '党员互助金余额（元）（非公）', 'float'))),
    ('progress', '工作进展', (('site', '示范点名称', 'text'), ('progress', '本月进展', 'text'), ('issues', '存在问题', 'text'), ('next_plan', '下月计划', 'text'))),
]
FORM_LAYOUT: list[SheetLayout] = _layout()
LAYOUT_BY_KEY = {s.key: s for s in FORM_LAYOUT}

if __name__ == "__main__":
    _write()
