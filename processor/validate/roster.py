"""The roster (名册): units, 企业组 staff and the 分片 groups that link them.

Loaded from the office's ``roster.xlsx`` (three sheets defined by
:mod:`processor.schemas.roster`), validated with the same pandera models, and written
back (e.g. by ``processor init``) with frozen headers, widths and dropdowns.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

from processor.common.fsutil import atomic_path, atomic_write_text
from processor.common.paths import SCHEMAS_DIR
from processor.validate.normalize import normalize_value, text_key, title_key

# pandas, pandera (the roster's models in processor.schemas.roster) and openpyxl are imported by the functions
# that use them: a command that only names RosterError, or finds the roster unchanged, loads none.
HEADER_COLOR = "DDEBF7"
LOG = logging.getLogger(__name__)
FORMER_NAMES_NOTE = ("单位更名后，在“单位名称”填写新名称，在此填写原名称（可填多个，用“、”或“;”分隔）："
                     "原名称下已报送的报表仍计入本单位。")


class RosterError(ValueError):
    """The roster workbook is missing or wrong; the Chinese message names sheet and cell."""


@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    kind: str
    contact: str
    phone: str
    email: str
    former_names: tuple[str, ...] = ()  # 曾用名: the unit's forms under these names are its own
    senders: tuple[str, ...] = ()  # 其他报送邮箱: further addresses the unit mails its forms from


@dataclass(frozen=True)
class StaffInfo:
    name: str
    group: str
    post: str
    phone: str
    email: str


@dataclass
class Roster:
    units: list[UnitInfo]
    staff: list[StaffInfo]
    groups: dict[str, list[str]] = field(default_factory=dict)  # group -> unit names
    # what was wrong but did not stop the load (a bad e-mail cell), one Chinese line each
    warnings: list[str] = field(default_factory=list, compare=False)

    @property
    def aliases(self) -> dict[str, str]:
        """Each former name (曾用名) → the unit's current name."""
        return {former: u.name for u in self.units for former in u.former_names}

    def current_name(self, name: str) -> str:
        """The unit's name now: a former name gives the renamed unit's, any other name itself."""
        return self.aliases.get(name, name)

    def unit(self, name: str) -> UnitInfo | None:
        """The first unit whose name is ``name`` (as titles compare: width and spaces aside)."""
        return self._units_by_key().get(title_key(name))

    def _units_by_key(self) -> dict[str, UnitInfo]:
        """{title_key(name): the first unit of that name}, built again whenever ``units`` holds other
        unit objects (kept beside the fields: no part of the roster's value, copies or JSON)."""
        units, index = self.units, self.__dict__.get("_unit_index")
        if index is None or len(index[0]) != len(units) or not all(map(operator.is_, index[0], units)):
            by_key: dict[str, UnitInfo] = {}
            for u in units:
                by_key.setdefault(title_key(u.name), u)
            index = self.__dict__["_unit_index"] = (tuple(units), by_key)
        return index[1]

    def unit_now_or_formerly(self, name: str) -> UnitInfo | None:
        """The unit called ``name`` now or before it was renamed (its 曾用名); None for neither."""
        key = title_key(name)
        return self.unit(name) or next((u for u in self.units if key in map(title_key, u.former_names)), None)

    @property
    def unit_names(self) -> list[str]:
        return [u.name for u in self.units]

    @property
    def staff_names(self) -> list[str]:
        return [s.name for s in self.staff]

    def group_of_unit(self, unit_name: str) -> str | None:
        return next((g for g, units in self.groups.items() if unit_name in units), None)

    def staff_of_group(self, group: str | None) -> list[StaffInfo]:
        return [s for s in self.staff if s.group == group]


# --- reading -------------------------------------------------------------------

_ROSTER_FIX = "请从备份恢复名册，或在 config.toml 的 paths.roster 中指明名册文件；处理程序在名册可用之前不会处理任何文件。"


def load_roster(path: Path | str, *, cache: Path | None = None) -> Roster:
    """Read and check the roster workbook at ``path`` (:class:`RosterError` says what is wrong).

    ``cache``: a file remembering the last roster checked (see :func:`workspace_roster`)."""
    path = Path(path)
    key = None
    if cache is not None:
        try:
            key = _cache_key(path.read_bytes())
        except OSError:
            key = None  # missing or unreadable: the full load below says so
        roster = _cached_roster(cache, key) if key else None
        if roster is not None:
            for line in roster.warnings:
                LOG.warning("%s", line)
            return roster
    roster = _load_roster(path)
    if key is not None:
        try:
            unchanged = _cache_key(path.read_bytes()) == key  # not replaced while it was being read
        except OSError:
            unchanged = False
        if unchanged:
            _remember_roster(cache, key, roster)
    return roster


def _load_roster(path: Path) -> Roster:
    from processor.validate.readers import FileRejected, read_workbook
    from processor.schemas.roster import ROSTER_SHEETS

    if not path.exists():
        raise RosterError(f"名册文件不存在：{path}。{_ROSTER_FIX}")
    try:
        book = read_workbook(path)
    except FileRejected as exc:
        raise RosterError(f"名册文件 {path} 无法读取：{exc.problem.message}{_ROSTER_FIX}") from None
    except OSError as exc:  # no permission, a folder of that name, an I/O error
        raise RosterError(f"名册文件 {path} 无法读取（{exc.strerror or exc}）。{_ROSTER_FIX}") from None
    tables = {}
    for spec in ROSTER_SHEETS:
        sheet = next((s for n, s in book.sheets.items() if title_key(n) == title_key(spec.title)), None)
        if sheet is None:
            raise RosterError(f"名册 {path.name} 缺少工作表“{spec.title}”")
        tables[spec.key] = _read_table(spec, sheet.rows)
    warnings: list[str] = []
    for spec, key in ((ROSTER_SHEETS[0], "units"), (ROSTER_SHEETS[1], "staff")):
        for r in tables[key]:
            r["email"] = _checked_address(spec, r, warnings)
    roster = Roster(
        units=[UnitInfo(**{k: r[k] or "" for k in UnitInfo.__dataclass_fields__ if k not in ("former_names", "senders")},
                        former_names=split_names(r.get("former_names")),
                        senders=_checked_senders(ROSTER_SHEETS[0], r, warnings)) for r in tables["units"]],
        staff=[StaffInfo(**{k: r[k] or "" for k in StaffInfo.__dataclass_fields__}) for r in tables["staff"]],
        warnings=warnings,
    )
    for r in tables["groups"]:
        if not roster.unit(r["unit"]):
            raise RosterError(f"名册“分片联系”表 {_cell(ROSTER_SHEETS[2], 'unit', r['row'])}：联系单位“{r['unit']}”"
                              f"不在“单位”表中")
        roster.groups.setdefault(r["group"], []).append(roster.unit(r["unit"]).name)
    if not roster.units:
        raise RosterError(f"名册 {path} 的“{ROSTER_SHEETS[0].title}”表中没有任何单位。{_ROSTER_FIX}")
    _check_unique(roster)
    _check_former_names(roster)
    for line in roster.warnings:
        LOG.warning("%s", line)
    return roster


# One address: no spaces, control characters or the characters that separate or quote addresses
# in a mail header; a domain with a dot.
_ADDRESS = (r"[^\s@<>()\[\],;:\"\\]+@[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\u0080-\uffff-]*[A-Za-z0-9\u0080-\uffff])?"
            r"(?:\.[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\u0080-\uffff-]*[A-Za-z0-9\u0080-\uffff])?)+")


@functools.cache
def _address_pattern() -> re.Pattern:
    """Compiled when an address is first checked: its Unicode classes take 0.1 s to compile."""
    return re.compile(_ADDRESS)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def shown(value: str) -> str:
    """A cell value as one readable line: line breaks and control characters written as escapes."""
    return _CONTROL.sub(lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(m.group(),
                                                                                f"\\x{ord(m.group()):02x}"),
                        str(value))


def _checked_address(spec, record: dict, warnings: list[str]) -> str:
    """The cell's address when it is one plausible address; else "" and a line naming the cell."""
    value = record.get("email")
    if value is None or not str(value).strip():
        return ""
    text = str(value).strip()
    if _CONTROL.search(text):
        why = "含有换行或控制字符"
    elif re.search(r"[,，;；、\s]", text):
        why = "只能填写一个地址"
    elif not _address_pattern().fullmatch(text):
        why = "不是有效的电子邮箱地址"
    else:
        return text
    who = record.get("name") or ""
    warnings.append(f"名册“{spec.title}”表 {_cell(spec, 'email', record['row'])}（电子邮箱）填写的“{shown(text)}”"
                    f"{why}，{who}暂按没有电子邮箱处理；请在名册中改为一个有效地址")
    return ""


def _checked_senders(spec, record: dict, warnings: list[str]) -> tuple[str, ...]:
    """其他报送邮箱: the plausible addresses of the cell (several, separated by ; , 、 or spaces); one
    that is not an address is named in a warning and left out."""
    found = []
    for text in re.split(r"[;；,，、\s]+", str(record.get("senders") or "")):
        if not text:
            continue
        if _address_pattern().fullmatch(text):
            found.append(text)
        else:
            warnings.append(f"名册“{spec.title}”表 {_cell(spec, 'senders', record['row'])}（其他报送邮箱）中的"
                            f"“{shown(text)}”不是有效的电子邮箱地址，已忽略；请在名册中改正")
    return tuple(found)


def split_names(text) -> tuple[str, ...]:
    """曾用名 as typed: several names separated by 、 ; ； or line breaks."""
    if not text:
        return ()
    return tuple(dict.fromkeys(n.strip() for n in re.split(r"[、;；\n]", str(text)) if n.strip()))


def _check_former_names(roster: Roster) -> None:
    """A former name is no current unit's name and belongs to one unit only."""
    current = {u.name for u in roster.units}
    owner: dict[str, str] = {}
    for u in roster.units:
        for former in u.former_names:
            if former in current:
                raise RosterError(f"名册“单位”表中“{u.name}”的曾用名“{former}”仍是名册中一个单位的名称；"
                                  "单位更名后请只保留新名称一行")
            if owner.setdefault(former, u.name) != u.name:
                raise RosterError(f"名册“单位”表中曾用名“{former}”同时填在“{owner[former]}”和“{u.name}”两个单位下")


def _read_table(spec, rows: list[list]) -> list[dict]:
    header = rows[0] if rows else []
    positions = {title_key(v): i for i, v in enumerate(header) if isinstance(v, str)}
    missing = [f.title for f in spec.fields if f.required and title_key(f.title) not in positions]
    if missing:
        raise RosterError(f"名册“{spec.title}”表第 1 行缺少列：{'、'.join(missing)}")
    records = []
    for excel_row, values in enumerate(rows[1:], start=2):
        record = {"row": excel_row}
        for f in spec.fields:
            i = positions.get(title_key(f.title))
            raw = values[i] if i is not None and i < len(values) else None
            record[f.name] = normalize_value(raw, f.kind, f.options).value
        if any(record[f.name] is not None for f in spec.fields):
            records.append(record)
    if not records:  # nothing to check; an empty 单位 sheet is refused by load_roster
        return records
    import pandas as pd
    import pandera.errors as pa_errors

    frame = pd.DataFrame([{f.title: r[f.name] for f in spec.fields} for r in records],
                         index=[r["row"] for r in records], columns=spec.titles, dtype=object)
    try:
        spec.schema.validate(frame, lazy=True)
    except pa_errors.SchemaErrors as exc:
        case = exc.failure_cases.iloc[0]
        f = spec.field_by_title(case["column"])
        what = "不能为空" if case["check"] == "not_nullable" else f"填写的“{case['failure_case']}”不符合要求"
        raise RosterError(f"名册“{spec.title}”表 {_cell(spec, f.name, int(case['index']))}（{f.title}）{what}") from None
    return records


def _cell(spec, name: str, row: int) -> str:
    return f"{column_letter(_col(spec, name))}{row}"


def column_letter(number: int) -> str:
    """Excel's name of the column ``number`` (1 → A, 27 → AA), as openpyxl's get_column_letter."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _check_unique(roster: Roster) -> None:
    for label, names in (("单位名称", roster.unit_names), ("企业组人员姓名", roster.staff_names)):
        seen: dict[str, str] = {}  # compared as the cross-unit checks compare them: spaces, width, punctuation aside
        for name in names:
            first = seen.get(text_key(name))
            seen.setdefault(text_key(name), name)
            if first == name:
                raise RosterError(f"名册中{label}“{name}”重复")
            if first is not None:
                raise RosterError(f"名册中{label}“{first}”和“{name}”只差空格、全角半角或标点，会被当作同一个名称；"
                                  f"请删去其中一个或改正")


def read_ledger_as(roster: Roster, ledger) -> list[str]:
    """Read ``ledger`` (a :class:`processor.record.ledger.Ledger`) as this roster names the units:
    forms sent under a former name (曾用名) count for the renamed unit.  A unit whose accepted forms
    are in the ledger but whose name is neither a unit's nor a former name would silently drop out
    of every count: it is said in one Chinese line (logged, and returned for the caller to show)."""
    ledger.read_units_as(roster.aliases)
    known = {title_key(n) for n in [*roster.unit_names, *roster.aliases]}
    gone = [u for u in ledger.units_with_accepted_forms() if title_key(u) not in known]
    if not gone:
        return []
    line = (f"台账中有{'、'.join(f'“{u}”' for u in gone)}已报送的报表，但名册中已没有{'该' if len(gone) == 1 else '这些'}单位，"
            "其报表不计入任何单位；如是单位更名，请在名册“单位”表新名称一行的“曾用名”列填写原名称")
    LOG.warning("%s", line)
    return [line]


def workspace_roster(ws) -> Roster:
    """The workspace's own roster; a missing or broken one is a RosterError, never the sample.

    A roster checked once is remembered in the workspace (:data:`ROSTER_CACHE_NAME`) with the hash of
    its bytes and of the code that checks it, so a command that finds the same file checked by the same
    code (``status``, every file of ``process``) neither loads pandas nor validates it again."""
    return load_roster(ws.roster_path, cache=ws.root / ROSTER_CACHE_NAME)


ROSTER_CACHE_NAME = ".processor-roster.json"
# Everything the checked roster is derived from besides the workbook itself.
_ROSTER_SOURCES = (SCHEMAS_DIR / "roster.py", SCHEMAS_DIR / "form.py", SCHEMAS_DIR / "fields.py",
                   SCHEMAS_DIR / "vocabulary.py", Path(__file__), Path(__file__).with_name("normalize.py"),
                   Path(__file__).with_name("readers.py"))


def _cache_key(content: bytes) -> str:
    digest = hashlib.sha256(content)
    for source in _ROSTER_SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _cached_roster(cache: Path, key: str) -> Roster | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return Roster(units=[UnitInfo(**{**u, "former_names": tuple(u["former_names"]),
                                         "senders": tuple(u["senders"])}) for u in data["units"]],
                      staff=[StaffInfo(**s) for s in data["staff"]],
                      groups={g: list(units) for g, units in data["groups"].items()},
                      warnings=list(data["warnings"]))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # none yet, or not ours: check the file
        return None


def _remember_roster(cache: Path, key: str, roster: Roster) -> None:
    data = {"key": key, **dataclasses.asdict(roster)}
    try:
        atomic_write_text(cache, json.dumps(data, ensure_ascii=False))
    except OSError:  # a read-only workspace checks its roster each time
        pass


# --- writing -------------------------------------------------------------------

def write_roster(roster: Roster, path: Path | str) -> Path:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    from processor.common.excel_safety import append_row
    from processor.schemas.roster import ROSTER_SHEETS

    wb = Workbook()
    wb.remove(wb.active)
    rows = {
        "units": [[getattr(u, f) for f in UnitInfo.__dataclass_fields__ if f not in ("former_names", "senders")]
                  + ["、".join(u.former_names) or None, "; ".join(u.senders) or None] for u in roster.units],
        "staff": [[getattr(s, f) for f in StaffInfo.__dataclass_fields__] for s in roster.staff],
        "groups": [[g, u] for g, units in roster.groups.items() for u in units],
    }
    for spec in ROSTER_SHEETS:
        ws = wb.create_sheet(spec.title)
        ws.append(spec.titles)
        for cell in ws[1]:
            cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor=HEADER_COLOR)
            if spec.key == "units" and cell.value == spec.field_by_name("former_names").title:
                cell.comment = Comment(FORMER_NAMES_NOTE, "企业组")
        for values in rows[spec.key]:
            append_row(ws, values)
        for i, f in enumerate(spec.fields, start=1):
            ws.column_dimensions[get_column_letter(i)].width = f.width + 2
            if f.options:
                _dropdown(ws, i, f.options)
        ws.freeze_panes = "A2"
    _unit_dropdown(wb)
    with atomic_path(Path(path)) as tmp:
        wb.save(tmp)
    return Path(path)


def _unit_dropdown(wb) -> None:
    """分片联系!联系单位 offers the names listed in the 单位 sheet."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from processor.schemas.roster import ROSTER_SHEETS

    units_spec, groups_spec = ROSTER_SHEETS[0], ROSTER_SHEETS[2]
    name_col = get_column_letter(_col(units_spec, "name"))
    unit_col = get_column_letter(_col(groups_spec, "unit"))
    dv = DataValidation(type="list", formula1=f"'{units_spec.title}'!${name_col}$2:${name_col}$500",
                        allow_blank=True, showErrorMessage=True, error="请从“单位”表中已有的单位选择")
    dv.add(f"{unit_col}2:{unit_col}500")
    wb[groups_spec.title].add_data_validation(dv)


def _col(spec, name: str) -> int:
    return next(i for i, f in enumerate(spec.fields, start=1) if f.name == name)


def _dropdown(ws, col: int, options: list[str]) -> None:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    letter = get_column_letter(col)
    dv = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True,
                        showErrorMessage=True, errorTitle="请从列表选择", error="只能填写：" + "、".join(options))
    dv.add(f"{letter}2:{letter}500")
    ws.add_data_validation(dv)


# --- the sample roster of a fictional city (demo, init, tests) ------------------

_SAMPLE_UNITS = [
    ("350102", "榕城区", "县市区", "陈建华", "0591-83301234"),
    ("350103", "鼓山区", "县市区", "林晓燕", "0591-83312345"),
    ("350104", "闽江区", "县市区", "黄志强", "0591-83323456"),
    ("350105", "马尾区", "县市区", "郑丽娟", "0591-83334567"),
    ("350121", "闽侯县", "县市区", "王文斌", "0591-22345678"),
    ("350122", "连江县", "县市区", "吴海峰", "0591-26234567"),
    ("350123", "罗源县", "县市区", "张美玲", "0591-26834567"),
    ("350124", "闽清县", "县市区", "刘德明", "0591-22334567"),
    ("350181", "福清市", "县市区", "李国栋", "0591-85234567"),
    ("350201", "市国资委党委", "系统党委", "赵永红", "0591-87501234"),
    ("350202", "市工商联党委", "系统党委", "周秀英", "0591-87512345"),
    ("350203", "市交通运输局党委", "系统党委", "徐振宇", "0591-87523456"),
]
_SAMPLE_STAFF = [
    ("第一组", [("陈立新", "组长"), ("林少华", "副组长"), ("黄雅琴", "组员"), ("郭文杰", "组员")]),
    ("第二组", [("王振东", "组长"), ("何丽萍", "副组长"), ("吴子健", "组员"), ("蔡晓梅", "组员")]),
    ("第三组", [("李文华", "组长"), ("郑海燕", "组员"), ("许志远", "组员"), ("潘雪芳", "组员")]),
    ("第四组", [("张国强", "组长"), ("杨晓红", "组员"), ("谢明辉", "组员"), ("邱秀兰", "组员")]),
    ("第五组", [("刘建平", "组长"), ("罗慧敏", "组员"), ("高伟", "组员"), ("方丽君", "组员")]),
]
_SAMPLE_GROUPS = {
    "第一组": ["榕城区", "鼓山区", "市国资委党委"],
    "第二组": ["闽江区", "马尾区", "市工商联党委"],
    "第三组": ["闽侯县", "连江县"],
    "第四组": ["罗源县", "闽清县", "市交通运输局党委"],
    "第五组": ["福清市"],
}


def sample_roster() -> Roster:
    units = [UnitInfo(code, name, kind, contact, phone, f"dj{code}@example.gov.cn")
             for code, name, kind, contact, phone in _SAMPLE_UNITS]
    staff, n = [], 0
    for group, people in _SAMPLE_STAFF:
        for name, post in people:
            n += 1
            staff.append(StaffInfo(name, group, f"企业组{post}", f"1385010{n:04d}", f"qyz{n:02d}@example.gov.cn"))
    return Roster(units, staff, {g: list(u) for g, u in _SAMPLE_GROUPS.items()})
