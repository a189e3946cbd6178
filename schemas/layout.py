"""The form's sheets and columns as plain data: each sheet's key, title and fields (name, title, kind).

For the code that stores, lists or compares a form's rows without validating one (the ledger, the
receipts, the checks across months), so that recording a form does not load pandas and pandera.
The pandera models of :mod:`processor.schemas.form` stay the source of truth: :data:`_TABLE` below
is derived from them (``python -m processor.schemas.layout`` rewrites it) and stamped with the digest
of the sources it was derived from.  When those sources have changed since (a model edited, the
table not rewritten), the layout is derived from the models themselves, correct and only slower,
and ``tests/test_fast_paths.py`` fails until the table is rewritten.

The validator reads a form with the same plain data (:data:`_RULES`: each field's required flag,
options and "其中" link, each sheet's reading rules, each column's pandera checks as data, the
template's version and fingerprint), and loads pandera only for a sheet that the checks, run in
plain Python, cannot pass (:mod:`processor.validate.pandera_step`).
"""

from __future__ import annotations

import hashlib
import pprint
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

_SOURCES = ("form.py", "fields.py", "vocabulary.py", "roster.py")


@dataclass(frozen=True)
class FieldLayout:
    name: str  # English name, the ledger's column
    title: str  # Chinese column title
    kind: str  # processor.schemas.fields kind: text, choice, int, float, date, month, yesno
    required: bool = True
    options: tuple[str, ...] | None = None  # a choice column's words, in order
    part_of: str | None = None  # the count (field name) this "其中" count is part of
    width: int = 12  # the template column's width
    prompt: str = ""  # the input prompt the template shows


@dataclass(frozen=True)
class SheetLayout:
    key: str  # English identifier, also the ledger table's name
    title: str  # Chinese sheet name
    fields: tuple[FieldLayout, ...]
    layout: str = "table"  # "table": header row + records; "form": titles in A, values in B
    one_row_per_site: bool = False
    dates_in_month: tuple[str, ...] = ()
    unique_on: tuple[str, ...] = ()
    previous_titles: dict = field(default_factory=dict, compare=False, hash=False)  # old title → (name, version)
    description: str = ""  # what the sheet holds, for the template's 填报说明

    @cached_property
    def names(self) -> dict[str, str]:
        """Chinese title → English name."""
        return {f.title: f.name for f in self.fields}

    @property
    def titles(self) -> list[str]:
        return [f.title for f in self.fields]

    @property
    def required_titles(self) -> list[str]:
        return [f.title for f in self.fields if f.required]

    @cached_property
    def _by_name(self) -> dict[str, FieldLayout]:
        return {f.name: f for f in self.fields}

    def field_by_name(self, name: str) -> FieldLayout:
        return self._by_name[name]

    def field_by_title(self, title: str) -> FieldLayout:
        return next(f for f in self.fields if f.title == title)

    @property
    def parts(self) -> list[tuple[str, str]]:
        """(part, whole) field names: a "其中" count cannot exceed the count it is part of."""
        return [(f.name, f.part_of) for f in self.fields if f.part_of]

    def input_prompt(self, f: FieldLayout) -> str:
        """The prompt a clerk sees: the field's own, plus the rule tying it to another column."""
        if not f.part_of:
            return f.prompt
        return f"{f.prompt}；不能超过“{self.field_by_name(f.part_of).title}”"

    @property
    def model(self):
        """The sheet's pandera model (imports pandas and pandera)."""
        from processor.schemas.form import SHEETS_BY_KEY

        return SHEETS_BY_KEY[self.key].model

    @property
    def schema(self):
        """The sheet's pandera schema (imports pandas and pandera)."""
        from processor.schemas.form import SHEETS_BY_KEY

        return SHEETS_BY_KEY[self.key].schema


@cache  # the sources do not change under a running process; every import and validation asks
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


def derived_roster_table() -> list[tuple]:
    """The roster's sheets as the pandera models give them (imports them): key, title, description and
    each field's name, title, kind, required flag and width (the outputs that list roster columns)."""
    from processor.schemas.roster import ROSTER_SHEETS

    return [(s.key, s.title, s.description, tuple((f.name, f.title, f.kind, f.required, f.width) for f in s.fields))
            for s in ROSTER_SHEETS]


def _roster_layout(table: list[tuple] | None = None) -> list[SheetLayout]:
    table = table if table is not None else (_ROSTER_TABLE if sources_digest() == _TABLE_DIGEST
                                             else derived_roster_table())
    return [SheetLayout(key, title, tuple(FieldLayout(name, f_title, kind, required, width=width)
                                          for name, f_title, kind, required, width in fields), description=description)
            for key, title, description, fields in table]


def derived_rules() -> dict:
    """What the validator reads a form by, as the pandera models give it (imports them): per sheet its
    reading rules, per field (required, options, part_of) and its column's checks as plain data, or
    None where the column holds an option the plain checks do not understand."""
    from processor.schemas import fields as kinds
    from processor.schemas.form import (EXAMPLE_SHEET_TITLE, FORM_SHEETS, INSTRUCTIONS_TITLE, META_SHEET_TITLE,
                                        PREVIOUS_TEMPLATES, TEMPLATE_ID, TEMPLATE_VERSION, models_hash)

    sheets = {}
    for s in FORM_SHEETS:
        sheets[s.key] = {
            "layout": s.layout, "one_row_per_site": s.one_row_per_site, "dates_in_month": tuple(s.dates_in_month),
            "unique_on": tuple(s.unique_on), "previous_titles": dict(s.previous_titles),
            "fields": tuple((f.required, None if f.options is None else tuple(f.options), f.part_of, f.width, f.prompt)
                            for f in s.fields),
            "checks": _column_checks(s), "description": s.description,
        }
    return {"template_id": TEMPLATE_ID, "template_version": TEMPLATE_VERSION, "meta_sheet_title": META_SHEET_TITLE,
            "instructions_title": INSTRUCTIONS_TITLE, "example_sheet_title": EXAMPLE_SHEET_TITLE,
            "previous_templates": tuple(PREVIOUS_TEMPLATES), "models_hash": models_hash(),
            "kind_descriptions": dict(kinds.KIND_DESCRIPTIONS), "sheets": sheets}


def _column_checks(spec) -> tuple | None:
    """Per field: (kind, nullable, ((check name, its statistics), ...)); None when the schema or a
    column has an option beyond those (then pandera checks every such sheet)."""
    schema = spec.schema
    if schema.checks or schema.strict or schema.unique or schema.index is not None:
        return None
    plan = []
    for f in spec.fields:
        column = schema.columns.get(f.title)
        if column is None or column.unique or column.regex or column.coerce:
            return None
        checks = []
        for check in column.checks:
            stats = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (check.statistics or {}).items()}
            checks.append((check.name, tuple(sorted(stats.items()))))
        plan.append((f.kind, bool(column.nullable), str(column.dtype), tuple(checks)))
    return tuple(plan)


def _layout(table: list[tuple] | None = None, rules: dict | None = None) -> list[SheetLayout]:
    fresh = sources_digest() == _TABLE_DIGEST
    table = table if table is not None else (_TABLE if fresh else derived_table())
    rules = rules if rules is not None else (_RULES if fresh else derived_rules())
    out = []
    for key, title, fields in table:
        sheet = rules["sheets"].get(key)
        if sheet is None or len(sheet["fields"]) != len(fields):
            out.append(SheetLayout(key, title, tuple(FieldLayout(*f) for f in fields)))
            continue
        out.append(SheetLayout(key, title, tuple(FieldLayout(*f, *extra) for f, extra in zip(fields, sheet["fields"], strict=True)),
                               sheet["layout"], sheet["one_row_per_site"], sheet["dates_in_month"],
                               sheet["unique_on"], sheet["previous_titles"], sheet.get("description", "")))
    return out


def form_rules() -> dict:
    """The validator's plain data (see :func:`derived_rules`): the stamped table, or the models' own."""
    return _RULES if sources_digest() == _TABLE_DIGEST else derived_rules()


MARKER = "# --- derived from the models"


def _write() -> None:
    """Rewrite the table at the end of this file from the models."""
    path = Path(__file__)
    text = path.read_text(encoding="utf-8")
    head = text[:text.rindex("\n" + MARKER) + 1]
    rows = "".join(f"    {row!r},\n" for row in derived_table())
    roster_rows = "".join(f"    {row!r},\n" for row in derived_roster_table())
    path.write_text(f"{head}{MARKER} by `python -m processor.schemas.layout`; do not edit\n"
                    f"_TABLE_DIGEST = {sources_digest()!r}\n_TABLE: list[tuple] = [\n{rows}]\n"
                    f"_RULES: dict = {pprint.pformat(derived_rules(), width=120, sort_dicts=False)}\n"
                    f"_ROSTER_TABLE: list[tuple] = [\n{roster_rows}]\n"
                    "FORM_LAYOUT: list[SheetLayout] = _layout()\n"
                    "LAYOUT_BY_KEY = {s.key: s for s in FORM_LAYOUT}\n"
                    "ROSTER_LAYOUT: list[SheetLayout] = _roster_layout()  # the roster's sheets: units, staff, groups\n\n"
                    "if __name__ == \"__main__\":\n    _write()\n", encoding="utf-8")


# --- derived from the models by `python -m processor.schemas.layout`; do not edit
_TABLE_DIGEST = 'e40c18acd6825e6c'
_TABLE: list[tuple] = [
    ('basic_info', '基本信息', (('unit', '填报单位', 'text'), ('unit_kind', '单位类型', 'choice'), ('month', '报送月份', 'month'), ('filler', '填报人', 'text'), ('phone', '联系电话', 'text'), ('reviewer', '审核人', 'text'), ('fill_date', '填报日期', 'date'), ('change_note', '变更说明', 'text'))),
    ('sites', '示范点', (('site', '示范点名称', 'text'), ('enterprise', '所属企业', 'text'), ('enterprise_kind', '企业类型', 'choice'), ('org_name', '党组织名称', 'text'), ('org_kind', '党组织类型', 'choice'), ('formation', '组建方式', 'choice'), ('secretary', '党组织书记', 'text'), ('members', '党员人数', 'int'), ('employees', '职工人数', 'int'), ('level', '示范点级别', 'choice'), ('staff', '联系企业组人员', 'text'), ('contact_date', '确定联系日期', 'date'), ('plan_date', '工作方案上报日期', 'date'), ('note', '备注', 'text'))),
    ('contacts', '联系指导记录', (('date', '日期', 'date'), ('site', '示范点名称', 'text'), ('staff', '企业组人员', 'text'), ('mode', '方式', 'choice'), ('content', '内容', 'text'), ('problem', '发现问题', 'text'), ('suggestion', '解决建议', 'text'), ('deadline', '整改时限', 'date'), ('state', '办结状态', 'choice'))),
    ('org_life', '组织生活', (('date', '日期', 'date'), ('site', '示范点名称', 'text'), ('activity', '活动类型', 'choice'), ('host', '主持人', 'text'), ('expected', '应到人数', 'int'), ('present', '实到人数', 'int'), ('summary', '内容摘要', 'text'))),
    ('hardware', '硬件设施', (('site', '示范点名称', 'text'), ('outdoor_board', '室外固本强基宣传栏', 'yesno'), ('office_room', '办公用房', 'yesno'), ('activity_room', '党员活动室', 'yesno'), ('room_area', '活动室面积(㎡)', 'float'), ('nameplate', '牌子', 'yesno'), ('party_flag', '党旗', 'yesno'), ('party_board', '党建工作宣传栏', 'yesno'), ('computer', '电脑', 'yesno'), ('vcd', 'VCD机', 'yesno'), ('tv', '电视机', 'yesno'), ('telephone', '电话', 'yesno'), ('camera', '照相机', 'yesno'), ('audio', '组合音响', 'yesno'), ('file_cabinet', '资料柜', 'yesno'), ('bookcase', '书柜', 'yesno'), ('furniture', '桌椅', 'yesno'))),
    ('members', '党员队伍', (('site', '示范点名称', 'text'), ('total', '党员总数', 'int'), ('new_members', '本月发展党员', 'int'), ('new_workers', '本月发展党员中：一线工人', 'int'), ('new_intellectuals', '本月发展党员中：知识分子/技术骨干', 'int'), ('activists', '入党积极分子', 'int'), ('mobile', '流动党员', 'int'), ('mobile_managed', '流动党员中：已转出或纳入社区管理', 'int'), ('duty_zones', '党员责任区数', 'int'), ('cross_posts', '交叉任职人数（国企）', 'int'), ('six_ones', '参加“六个一”人数（非公）', 'int'), ('mutual_fund', '党员互助金余额（元）（非公）', 'float'))),
    ('progress', '工作进展', (('site', '示范点名称', 'text'), ('progress', '本月进展', 'text'), ('issues', '存在问题', 'text'), ('next_plan', '下月计划', 'text'))),
]
_RULES: dict = {'template_id': '示范点联系指导月报表',
 'template_version': '2026.2',
 'meta_sheet_title': '模板信息',
 'instructions_title': '填报说明',
 'example_sheet_title': '填写示例',
 'previous_templates': ('2026.1',),
 'models_hash': '74633ef17f53e9d1',
 'kind_descriptions': {'text': '文字',
                       'choice': '下拉列表中的选项',
                       'int': '不小于 0 的整数',
                       'float': '数字',
                       'date': '日期（如 2026-10-08）',
                       'month': '年月（如 2026-10）',
                       'yesno': '“是”或“否”'},
 'sheets': {'basic_info': {'layout': 'form',
                           'one_row_per_site': False,
                           'dates_in_month': (),
                           'unique_on': (),
                           'previous_titles': {},
                           'fields': ((True, None, None, 24, '从下拉列表选择本单位名称'),
                                      (True, ('县市区', '系统党委'), None, 12, '请从下拉列表选择：县市区、系统党委'),
                                      (True, None, None, 12, '年月，如 2026-10'),
                                      (True, None, None, 12, ''),
                                      (True, None, None, 16, ''),
                                      (True, None, None, 12, '单位负责人姓名'),
                                      (True, None, None, 12, '日期，如 2026-10-08'),
                                      (False, None, None, 40, '与上月相比有何变化（示范点、联系人员等），无则不填')),
                           'checks': (('text',
                                       False,
                                       'string[python]',
                                       (('str_length',
                                         (('exact_value', None), ('max_value', 500), ('min_value', None))),)),
                                      ('choice',
                                       False,
                                       'string[python]',
                                       (('isin', (('allowed_values', ('县市区', '系统党委')),)),)),
                                      ('month',
                                       False,
                                       'string[python]',
                                       (('str_matches', (('pattern', '^\\d{4}-(0[1-9]|1[0-2])$'),)),)),
                                      ('text',
                                       False,
                                       'string[python]',
                                       (('str_length',
                                         (('exact_value', None), ('max_value', 500), ('min_value', None))),)),
                                      ('text',
                                       False,
                                       'string[python]',
                                       (('str_length',
                                         (('exact_value', None), ('max_value', 40), ('min_value', None))),)),
                                      ('text',
                                       False,
                                       'string[python]',
                                       (('str_length',
                                         (('exact_value', None), ('max_value', 500), ('min_value', None))),)),
                                      ('date', False, 'datetime64[ns]', ()),
                                      ('text',
                                       True,
                                       'string[python]',
                                       (('str_length',
                                         (('exact_value', None), ('max_value', 500), ('min_value', None))),))),
                           'description': '本单位、报送月份和填报人信息'},
            'sites': {'layout': 'table',
                      'one_row_per_site': False,
                      'dates_in_month': (),
                      'unique_on': ('site',),
                      'previous_titles': {},
                      'fields': ((True, None, None, 24, '示范点的简称；其他各表的“示范点名称”从这里登记的名称中选择'),
                                 (True, None, None, 24, ''),
                                 (True, ('国企', '非公'), None, 8, '请从下拉列表选择：国企、非公'),
                                 (True, None, None, 24, ''),
                                 (True, ('党委', '党总支', '党支部', '联合党支部'), None, 12, '请从下拉列表选择：党委、党总支、党支部、联合党支部'),
                                 (True,
                                  ('单独组建', '联合组建', '挂靠组建', '区域统建', '行业统建'),
                                  None,
                                  12,
                                  '请从下拉列表选择：单独组建、联合组建、挂靠组建、区域统建、行业统建'),
                                 (True, None, None, 10, ''),
                                 (True, None, None, 10, '填写不小于 0 的整数'),
                                 (True, None, None, 10, '填写不小于 0 的整数'),
                                 (True, ('省级', '市级', '县级'), None, 8, '请从下拉列表选择：省级、市级、县级'),
                                 (True, None, None, 12, '从下拉列表选择联系本示范点的企业组人员'),
                                 (True, None, None, 12, '企业组人员与本单位确定联系本示范点的日期'),
                                 (False, None, None, 12, '示范点工作方案上报企业组的日期，尚未上报则不填'),
                                 (False, None, None, 20, '')),
                      'checks': (('text',
                                  False,
                                  'string[python]',
                                  (('str_length', (('exact_value', None), ('max_value', 100), ('min_value', None))),)),
                                 ('text',
                                  False,
                                  'string[python]',
                                  (('str_length', (('exact_value', None), ('max_value', 100), ('min_value', None))),)),
                                 ('choice', False, 'string[python]', (('isin', (('allowed_values', ('国企', '非公')),)),)),
                                 ('text',
                                  False,
                                  'string[python]',
                                  (('str_length', (('exact_value', None), ('max_value', 100), ('min_value', None))),)),
                                 ('choice',
                                  False,
                                  'string[python]',
                                  (('isin', (('allowed_values', ('党委', '党总支', '党支部', '联合党支部')),)),)),
                                 ('choice',
                                  False,
                                  'string[python]',
                                  (('isin', (('allowed_values', ('单独组建', '联合组建', '挂靠组建', '区域统建', '行业统建')),)),)),
                                 ('text',
                                  False,
                                  'string[python]',
                                  (('str_length', (('exact_value', None), ('max_value', 40), ('min_value', None))),)),
                                 ('int',
                                  False,
                                  'Int64',
                                  (('greater_than_or_equal_to', (('min_value', 0),)),
                                   ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                 ('int',
                                  False,
                                  'Int64',
                                  (('greater_than_or_equal_to', (('min_value', 0),)),
                                   ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                 ('choice',
                                  False,
                                  'string[python]',
                                  (('isin', (('allowed_values', ('省级', '市级', '县级')),)),)),
                                 ('text',
                                  False,
                                  'string[python]',
                                  (('str_length', (('exact_value', None), ('max_value', 40), ('min_value', None))),)),
                                 ('date', False, 'datetime64[ns]', ()),
                                 ('date', True, 'datetime64[ns]', ()),
                                 ('text',
                                  True,
                                  'string[python]',
                                  (('str_length', (('exact_value', None), ('max_value', 500), ('min_value', None))),))),
                      'description': '本单位的示范点，每个示范点一行'},
            'contacts': {'layout': 'table',
                         'one_row_per_site': False,
                         'dates_in_month': ('date',),
                         'unique_on': ('date', 'site', 'staff', 'mode', 'content'),
                         'previous_titles': {},
                         'fields': ((True, None, None, 12, '日期，如 2026-10-08'),
                                    (True, None, None, 24, '从下拉列表选择“示范点”表中登记的示范点（先在“示范点”表登记）'),
                                    (True, None, None, 12, ''),
                                    (True, ('电话联系', '现场指导', '座谈会', '其他'), None, 12, '请从下拉列表选择：电话联系、现场指导、座谈会、其他'),
                                    (True, None, None, 30, ''),
                                    (False, None, None, 24, ''),
                                    (False, None, None, 24, ''),
                                    (False, None, None, 12, '发现问题时填写整改期限'),
                                    (False, ('未办结', '已办结'), None, 12, '发现问题时填写；以后月份办结的，再填一条“已办结”的记录')),
                         'checks': (('date', False, 'datetime64[ns]', ()),
                                    ('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 100), ('min_value', None))),)),
                                    ('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 40), ('min_value', None))),)),
                                    ('choice',
                                     False,
                                     'string[python]',
                                     (('isin', (('allowed_values', ('电话联系', '现场指导', '座谈会', '其他')),)),)),
                                    ('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 500), ('min_value', None))),)),
                                    ('text',
                                     True,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 500), ('min_value', None))),)),
                                    ('text',
                                     True,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 500), ('min_value', None))),)),
                                    ('date', True, 'datetime64[ns]', ()),
                                    ('choice',
                                     True,
                                     'string[python]',
                                     (('isin', (('allowed_values', ('未办结', '已办结')),)),))),
                         'description': '本月企业组人员对示范点的每次电话联系、现场指导、座谈会'},
            'org_life': {'layout': 'table',
                         'one_row_per_site': False,
                         'dates_in_month': ('date',),
                         'unique_on': ('date', 'site', 'activity', 'summary'),
                         'previous_titles': {},
                         'fields': ((True, None, None, 12, '日期，如 2026-10-08'),
                                    (True, None, None, 24, '从下拉列表选择“示范点”表中登记的示范点（先在“示范点”表登记）'),
                                    (True,
                                     ('党员大会',
                                      '支委会',
                                      '党小组会',
                                      '党课',
                                      '主题党日',
                                      '组织生活会',
                                      '民主生活会',
                                      '党纪教育',
                                      '民主评议党员',
                                      '党员培训',
                                      '“六个一”活动',
                                      '其他'),
                                     None,
                                     14,
                                     '请从下拉列表选择：党员大会、支委会、党小组会、党课、主题党日、组织生活会、民主生活会、党纪教育、民主评议党员、党员培训、“六个一”活动、其他'),
                                    (True, None, None, 10, ''),
                                    (True, None, None, 10, '填写不小于 0 的整数'),
                                    (True, None, None, 10, '填写不小于 0 的整数'),
                                    (True, None, None, 30, '')),
                         'checks': (('date', False, 'datetime64[ns]', ()),
                                    ('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 100), ('min_value', None))),)),
                                    ('choice',
                                     False,
                                     'string[python]',
                                     (('isin',
                                       (('allowed_values',
                                         ('党员大会',
                                          '支委会',
                                          '党小组会',
                                          '党课',
                                          '主题党日',
                                          '组织生活会',
                                          '民主生活会',
                                          '党纪教育',
                                          '民主评议党员',
                                          '党员培训',
                                          '“六个一”活动',
                                          '其他')),)),)),
                                    ('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 40), ('min_value', None))),)),
                                    ('int',
                                     False,
                                     'Int64',
                                     (('greater_than_or_equal_to', (('min_value', 0),)),
                                      ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                    ('int',
                                     False,
                                     'Int64',
                                     (('greater_than_or_equal_to', (('min_value', 0),)),
                                      ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                    ('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 500), ('min_value', None))),))),
                         'description': '本月各示范点召开的党员大会、组织生活会、民主生活会、党课、培训等'},
            'hardware': {'layout': 'table',
                         'one_row_per_site': True,
                         'dates_in_month': (),
                         'unique_on': ('site',),
                         'previous_titles': {},
                         'fields': ((True, None, None, 24, '从下拉列表选择“示范点”表中登记的示范点（先在“示范点”表登记）'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (False, None, None, 12, '党员活动室使用面积，单位平方米，没有则不填'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”'),
                                    (True, ('是', '否'), None, 8, '填“是”或“否”')),
                         'checks': (('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 100), ('min_value', None))),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('float', True, 'float64', (('greater_than', (('min_value', 0.0),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),)),
                                    ('yesno', False, 'string[python]', (('isin', (('allowed_values', ('是', '否')),)),))),
                         'description': '各示范点硬件设施情况，每个示范点一行'},
            'members': {'layout': 'table',
                        'one_row_per_site': True,
                        'dates_in_month': (),
                        'unique_on': ('site',),
                        'previous_titles': {'其中一线工人': ('new_workers', '2026.1'),
                                            '其中知识分子/技术骨干': ('new_intellectuals', '2026.1'),
                                            '其中已转出或纳入社区管理': ('mobile_managed', '2026.1')},
                        'fields': ((True, None, None, 24, '从下拉列表选择“示范点”表中登记的示范点（先在“示范点”表登记）'),
                                   (True, None, None, 10, '本示范点党组织现有党员人数（含本月发展的党员）'),
                                   (True, None, 'total', 12, '本月新发展的党员人数，没有填 0'),
                                   (True, None, 'new_members', 14, '本月发展党员中生产一线工人的人数，没有填 0'),
                                   (True, None, 'new_members', 16, '本月发展党员中知识分子、技术骨干的人数，没有填 0'),
                                   (True, None, None, 10, '现有入党积极分子人数'),
                                   (True, None, None, 10, '现有流动党员人数，没有填 0'),
                                   (True, None, 'mobile', 16, '流动党员中已转出组织关系或纳入社区党组织管理的人数，没有填 0'),
                                   (True, None, None, 10, '填写不小于 0 的整数'),
                                   (False, None, None, 10, '国企填写：党组织班子与行政班子交叉任职人数'),
                                   (False, None, None, 10, '非公企业填写'),
                                   (False, None, None, 12, '非公企业填写，单位元')),
                        'checks': (('text',
                                    False,
                                    'string[python]',
                                    (('str_length',
                                      (('exact_value', None), ('max_value', 100), ('min_value', None))),)),
                                   ('int',
                                    False,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    False,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    False,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    False,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    False,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    False,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    False,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    False,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    True,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('int',
                                    True,
                                    'Int64',
                                    (('greater_than_or_equal_to', (('min_value', 0),)),
                                     ('less_than_or_equal_to', (('max_value', 1000000),)))),
                                   ('float', True, 'float64', (('greater_than_or_equal_to', (('min_value', 0.0),)),))),
                        'description': '各示范点党员队伍情况，每个示范点一行'},
            'progress': {'layout': 'table',
                         'one_row_per_site': True,
                         'dates_in_month': (),
                         'unique_on': ('site',),
                         'previous_titles': {},
                         'fields': ((True, None, None, 24, '从下拉列表选择“示范点”表中登记的示范点（先在“示范点”表登记）'),
                                    (True, None, None, 40, ''),
                                    (False, None, None, 30, ''),
                                    (True, None, None, 40, '')),
                         'checks': (('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 100), ('min_value', None))),)),
                                    ('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 2000), ('min_value', None))),)),
                                    ('text',
                                     True,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 2000), ('min_value', None))),)),
                                    ('text',
                                     False,
                                     'string[python]',
                                     (('str_length',
                                       (('exact_value', None), ('max_value', 2000), ('min_value', None))),))),
                         'description': '各示范点本月工作进展和下月计划，每个示范点一行'}}}
_ROSTER_TABLE: list[tuple] = [
    ('units', '单位', '各县（市、区）和系统党委', (('code', '单位代码', 'text', True, 10), ('name', '单位名称', 'text', True, 24), ('kind', '单位类型', 'choice', True, 12), ('contact', '联系人', 'text', True, 10), ('phone', '联系电话', 'text', True, 16), ('email', '电子邮箱', 'text', False, 26), ('former_names', '曾用名', 'text', False, 28), ('senders', '其他报送邮箱', 'text', False, 30))),
    ('staff', '企业组人员', '企业组工作人员及所在组别', (('name', '姓名', 'text', True, 10), ('group', '组别', 'text', True, 10), ('post', '职务', 'text', False, 14), ('phone', '联系电话', 'text', False, 16), ('email', '电子邮箱', 'text', False, 26))),
    ('groups', '分片联系', '各组分片定向联系的单位', (('group', '组别', 'text', True, 10), ('unit', '联系单位', 'text', True, 24))),
]
FORM_LAYOUT: list[SheetLayout] = _layout()
LAYOUT_BY_KEY = {s.key: s for s in FORM_LAYOUT}
ROSTER_LAYOUT: list[SheetLayout] = _roster_layout()  # the roster's sheets: units, staff, groups

if __name__ == "__main__":
    _write()
