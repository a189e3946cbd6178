"""Problems as data.

Every rejection reason and every warning is a :class:`Problem`: a small record
with a stable ``code``, where it is (sheet, cell, row, column title), the value
found, a plain-Chinese message and the clause it enforces.  Receipts, the
annotated workbook, the CLI table and JSON all render these records; nothing
else decides how a problem reads.

Each code is declared once in :data:`PROBLEM_TYPES` with a Chinese title, a
message template and a hint telling the submitter what to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
WHOLE_FILE = "（整个文件）"


@dataclass(frozen=True)
class ProblemType:
    code: str
    title: str
    template: str  # str.format template over the problem's fields and ``params``
    hint: str = ""
    severity: str = ERROR


def _t(code, title, template, hint="", severity=ERROR) -> ProblemType:
    return ProblemType(code, title, template, hint, severity)


PROBLEM_TYPES: dict[str, ProblemType] = {
    t.code: t
    for t in [
        # --- file level -------------------------------------------------------
        _t("empty-file", "空文件", "文件为空（0 字节）。", "请重新保存报表后再报送。"),
        _t("not-xlsx", "不是 xlsx 文件", "该文件不是 Excel 2007 及以上的 .xlsx 工作簿，而是{detected}。",
           "请用本系统下发的模板填写，并在 Excel/WPS 中“另存为 Excel 工作簿(*.xlsx)”后再报送。"),
        _t("corrupt", "文件损坏", "文件无法打开：{detail}。", "请确认文件已完整保存（不要在复制未完成时报送），重新保存后再报送。"),
        _t("encrypted", "文件加密", "工作簿设置了打开密码，系统无法读取。",
           "请在 Excel/WPS 中取消打开密码（文件→信息→保护工作簿→用密码进行加密，清空密码并保存），取消打开密码后重新报送。"),
        _t("macro-enabled", "含宏的工作簿", "工作簿含有宏（VBA），出于安全原因不予接收。",
           "请“另存为 Excel 工作簿(*.xlsx)”（不含宏）后再报送。"),
        _t("too-large", "文件超出限制", "文件超出处理限制：{detail}。", "请只填写本月数据，删除多余的行、列和图片后再报送。"),
        _t("timeout", "处理超时", "文件在 {seconds} 秒内未能处理完成。", "请检查是否有异常多的行列，删除后再报送。"),
        _t("unsafe-content", "不安全的内容", "文件中含有不安全的 XML 内容：{detail}。", "请用本系统下发的模板重新填写。"),
        _t("unknown-template", "不是本系统的模板", "工作簿不是本系统下发的月报表模板（缺少工作表：{missing}）。",
           "请用 `processor template` 生成的模板或企业组下发的最新模板填写。"),
        _t("template-outdated", "模板版本过旧", "工作簿使用的模板版本为 {found}，当前版本为 {expected}：{detail}。",
           "请下载最新模板，把数据复制进去后再报送。"),
        _t("missing-sheet", "缺少工作表", "缺少工作表“{sheet}”。", "请不要删除或重命名模板中的工作表。"),
        _t("missing-column", "缺少列", "工作表“{sheet}”缺少列“{column}”。", "请不要删除或修改模板的表头。"),
        _t("extra-column", "多余的列", "工作表“{sheet}”的列“{column}”（{cell}）不属于模板，已忽略。",
           "如需补充说明，请填在“备注”等列中。", WARNING),
        _t("renamed-sheet", "工作表名称不一致", "工作表“{found}”已按“{sheet}”读取。", "", WARNING),
        _t("other-format", "不是 xlsx 格式", "文件是{detected}，已读取其中的数据；但这种格式不保留模板的下拉列表和输入提示。",
           "下次请用企业组下发的模板填写，并保存为 Excel 工作簿（*.xlsx）。", WARNING),
        _t("previous-template", "旧版模板", "本表使用旧版模板（版本 {found}），已按当前版本 {expected} 读取：{detail}。",
           "下次请使用新版模板填写（新版表头和输入提示更清楚）。", WARNING),
        # --- cell level -------------------------------------------------------
        _t("required-cell", "必填项为空", "“{column}”为必填项，{cell} 为空。", "请填写该单元格。"),
        _t("type-error", "格式不正确", "“{column}”应为{expected}，{cell} 填的是“{value}”。", "请按{expected}填写。"),
        _t("not-in-list", "不在可选范围", "“{column}”只能填写：{allowed}；{cell} 填的是“{value}”。",
           "请从下拉列表中选择。"),
        _t("out-of-range", "数值超出范围", "“{column}”{rule}，{cell} 填的是“{value}”。", "请核对数值。"),
        _t("bad-month", "报送月份不正确", "“报送月份”应为 YYYY-MM 格式的年月（如 2026-10），{cell} 填的是“{value}”。",
           "请按“2026-10”的格式填写。"),
        _t("month-outside-year", "报送月份不在规则覆盖范围内",
           "报送月份 {value} 不在规则库覆盖的月份（{first} 至 {last}）内。",
           "请核对报送月份；确需报送该月的，请联系企业组在规则库中延长覆盖的月份。"),
        _t("date-outside-month", "日期不在报送月份内", "“{column}”应在报送月份 {month} 内，{cell} 填的是 {value}。",
           "本月报表只填本月发生的记录；其他月份的记录请在对应月份的报表中报送。"),
        _t("contact-earlier-month", "联系日期在报送月份之前", "“{column}”的日期 {value}（{cell}）早于报送月份 {month}，已按补报的记录接收。",
           "如该记录应在其所属月份的报表中报送，请更正该月报表。", WARNING),
        _t("impossible-date", "日期不存在", "“{column}”的日期不存在：{cell} 填的是“{value}”。", "请核对日期。"),
        _t("date-out-of-range", "日期年份有误", "“{column}”的日期年份有误：{cell} 填的是“{value}”，年份应在 1900 至 2099 之间。",
           "请核对年份（常见为输入时多打或打错一位）。"),
        _t("future-date", "日期晚于填报日期", "“{column}”{value}（{cell}）晚于本表的填报日期 {fill_date}。",
           "表中记录的事情不会发生在填报之后：请核对该日期和“基本信息”表的填报日期。"),
        _t("deadline-before-found", "整改时限早于发现日期",
           "“{column}”{value}（{cell}）早于该问题的发现日期 {found}（第 {found_row} 行记录该问题未办结，整改时限 {set_deadline}）。",
           "整改时限只能定在发现问题之后；请核对整改时限，或把不同的问题分别写清楚。"),
        _t("contact-before-assigned", "联系日期早于确定联系日期",
           "{cell} 记录 {staff} 于 {value} 联系示范点“{site}”，早于“示范点”表确定由其联系的日期 {assigned}（{assigned_cell}）。",
           "请核对联系日期或“示范点”表的“确定联系日期”。"),
        _t("attendance-exceeds", "实到人数多于应到人数", "实到人数（{value}）多于应到人数（{expected}），见 {cell}。",
           "请核对到会人数。"),
        _t("unknown-unit", "填报单位不在名册中", "填报单位“{value}”不在企业组的单位名册中（{cell}）。",
           "请从下拉列表中选择本单位名称。"),
        _t("former-unit-name", "填报单位为原名称", "填报单位“{value}”是“{current}”更名前的名称（{cell}），按“{current}”的报表处理。",
           "今后请填写本单位现名称“{current}”（可从下拉列表中选择）。", WARNING),
        _t("unit-mismatch", "填报单位与报送文件夹不符", "文件放在“{folder}”的文件夹中，但填报单位写的是“{value}”（{cell}）。",
           "每个单位只能报送本单位的报表；请放入本单位的文件夹，或改正填报单位。"),
        _t("outside-unit-folder", "未放在本单位文件夹中", "文件放在{place}，不是名册中任何单位的文件夹，"
           "不能代表任何单位登记（填报单位写的是“{value}”）。",
           "请把报表放入本单位的文件夹（收件箱/单位名称/）后重新报送；如本单位没有文件夹，请联系企业组。"),
        _t("unit-kind-mismatch", "单位类型与名册不符", "单位类型填的是“{value}”，名册中“{unit}”的类型是“{expected}”（{cell}）。",
           "请按名册填写单位类型；如名册有误，请联系企业组更正。", WARNING),
        _t("unknown-site", "示范点未登记", "{cell} 的示范点“{value}”没有在“示范点”表中登记。",
           "请先在“示范点”表中登记该示范点，或改正名称使两处一致。"),
        _t("duplicate-row", "重复的行", "第 {row} 行与第 {first_row} 行内容重复（工作表“{sheet}”）。", "请删除重复的行。"),
        _t("duplicate-site", "示范点重复登记", "示范点“{value}”在{cell}重复登记（首次见第 {first_row} 行）。",
           "每个示范点只登记一行。"),
        _t("missing-site-row", "示范点缺少数据行", "示范点“{value}”在工作表“{sheet}”中没有数据行。",
           "“{sheet}”表应为每个示范点各填一行。"),
        _t("unknown-staff", "企业组人员不在名册中", "“{column}”填写的“{value}”不是名册中的企业组人员（{cell}）。",
           "请从下拉列表中选择。", WARNING),
        _t("no-sites", "未填写示范点", "“示范点”表没有任何示范点。", "请至少登记一个示范点。"),
        _t("empty-sheet-rows", "空白行已忽略", "工作表“{sheet}”末尾或中间的 {count} 个空白行已忽略。", "", WARNING),
        # --- normalisation notices (warnings) --------------------------------
        _t("normalized-date", "日期已规范", "{cell} 的日期“{value}”已按 {normalized} 读取。", "", WARNING),
        _t("normalized-text", "文本已规范", "{cell} 的“{value}”已按“{normalized}”读取（全角字符或多余空格）。", "", WARNING),
        _t("normalized-number", "数字已规范", "{cell} 的“{value}”已按 {normalized} 读取。", "", WARNING),
        _t("header-offset", "表头位置已识别", "工作表“{sheet}”的表头在第 {row} 行，已按此读取。", "", WARNING),
        _t("formula-ignored", "公式未计算", "{cell} 含有公式，系统不计算公式，只读取其保存的结果：{result}。",
           "请直接填写数值或文字，不要使用公式。", WARNING),
    ]
}


@dataclass
class Problem:
    """One thing wrong with (or noticed in) a submission."""

    code: str
    message: str = ""
    sheet: str | None = None
    cell: str | None = None  # A1 form without the sheet, e.g. "C7"
    row: int | None = None  # 1-based Excel row
    column: str | None = None  # Chinese column title
    value: Any = None
    clause: str | None = None
    severity: str = ""
    hint: str = ""

    def __post_init__(self):
        ptype = PROBLEM_TYPES[self.code]
        if not self.severity:
            self.severity = ptype.severity
        if not self.hint:
            self.hint = ptype.hint

    @property
    def title(self) -> str:
        return PROBLEM_TYPES[self.code].title

    @property
    def location(self) -> str:
        """``联系指导记录!C7`` — the way office staff name a cell."""
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or ""

    @property
    def where(self) -> str:
        """The location as receipts and the console print it: a whole-file problem says so."""
        return self.location or WHOLE_FILE

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_dict(self) -> dict:
        data = asdict(self)
        data["value"] = _jsonable(self.value)
        data["title"] = self.title
        data["location"] = self.location
        data["where"] = self.where
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Problem:
        fields = {k: data.get(k) for k in cls.__dataclass_fields__}
        return cls(**fields)


def problem(code: str, *, sheet=None, cell=None, row=None, column=None, value=None,
            clause=None, **params) -> Problem:
    """Build a :class:`Problem`, filling its message from the code's template."""
    ptype = PROBLEM_TYPES[code]
    where = f"{sheet}!{cell}" if sheet and cell else (cell or "")
    fmt = dict(params, sheet=sheet or "", cell=where, row=row, column=column or "",
               value=display_value(value))
    message = _fill(code, ptype.template, fmt)
    hint = _fill(code, ptype.hint, fmt)
    return Problem(code=code, message=message, sheet=sheet, cell=cell, row=row, column=column,
                   value=value, clause=clause, hint=hint)


def _fill(code: str, template: str, fmt: dict) -> str:
    """The template with its parameters; a parameter the caller did not supply is a defect in the
    caller, not a blank in the message a county reads."""
    try:
        return template.format_map(fmt)
    except KeyError as exc:
        raise ValueError(f"problem code {code!r}: message parameter {exc.args[0]!r} not supplied") from None


_CONTROL_PICTURES = {c: 0x2400 + c for c in range(0x20)} | {0x7F: 0x2421}


def display_value(value) -> str:
    """A value as a message shows it: a date as YYYY-MM-DD, control characters visible, at most 60 characters."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    # control characters are shown as visible symbols (␇): they would break receipts and reports
    text = str(value).translate(_CONTROL_PICTURES)
    return text if len(text) <= 60 else text[:57] + "…"


def _jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@dataclass
class ProblemList:
    """Problems of one file, errors first; what every renderer consumes."""

    items: list[Problem] = field(default_factory=list)

    def add(self, item: Problem) -> None:
        self.items.append(item)

    def extend(self, items) -> None:
        self.items.extend(items)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if not p.is_error]

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)
