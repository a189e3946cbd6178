"""Loads and checks ``schemas/requirements.toml`` — every number of the opinion.

The rulebook is data the office may edit, so it is checked thoroughly at
start: a mistake gives a :class:`RulebookError` naming the key and what is
wrong, in Chinese, instead of a traceback in the middle of the night.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from processor.common import clock
from processor.common.paths import RULEBOOK_PATH
from processor.common.periods import PERIOD_KINDS, month_range, month_str, parse_month, period_of
from processor.schemas.vocabulary import ACTIVITY_KINDS, CONTACT_MODES, ENTERPRISE_KINDS, SHEET_TITLES


class RulebookError(ValueError):
    """The rulebook file is missing, unreadable or has a wrong entry."""


class MonthNotCovered(RulebookError):
    """A month (or period) asked for lies outside the months the rulebook covers."""


@dataclass(frozen=True)
class Rule:
    clause: str
    title: str
    wording: str
    params: dict = field(default_factory=dict, hash=False)
    applies_to: str | None = None  # 国企 / 非公 / None for every site
    period: str | None = None
    once: bool = False  # a one-time milestone of the first year (M-1a, M-2), not repeated each year

    def get(self, key, default=None):
        return self.params.get(key, default)

    def date(self, key: str) -> dt.date:
        """A milestone's date parameter (``deadline``, ``work_start``), checked when loaded."""
        return _as_date(self.params[key])

    @property
    def year(self) -> int | None:
        """The year a milestone belongs to: its deadline's."""
        return self.date("deadline").year if self.once and "deadline" in self.params else None


@dataclass(frozen=True)
class RuleSet:
    """The rules in force from one month on: the rulebook's base rules, or a version that overrides
    some of their parameters (a revised opinion)."""

    label: str  # 2026版 — how reports name it
    first: str  # YYYY-MM, the first month it applies to
    rules: dict[str, Rule]

    def __getitem__(self, clause: str) -> Rule:
        return self.rules[clause]

    def __contains__(self, clause: str) -> bool:
        return clause in self.rules

    def frequency_rules(self, enterprise_kind: str | None = None) -> list[Rule]:
        """Rules that count 组织生活 activities per period (S-4*, N-4*)."""
        return [r for r in self.rules.values() if "activities" in r.params
                and (enterprise_kind is None or r.applies_to == enterprise_kind)]

    def hardware_rule(self, enterprise_kind: str) -> Rule | None:
        return next((r for r in self.rules.values() if "items" in r.params
                     and r.applies_to == enterprise_kind), None)


@dataclass(frozen=True)
class Rulebook:
    """Every version of the rules, and the months they cover.

    Recurring rules apply to every year from ``start``; a version overrides parameters from its
    first month on, so a revision never changes how earlier periods are judged.  Indexing the
    rulebook itself reads the base (first) version; period-aware code asks :meth:`at`.
    """

    start: str  # first month covered
    last: str  # last month covered
    submission_deadline_day: int
    versions: tuple[RuleSet, ...]
    source: Path
    warnings: tuple[str, ...] = ()  # what the operator should know (an old format converted)
    timezone: str = clock.DEFAULT_TIMEZONE  # the office's zone (config.toml [calendar] timezone): dates of arrivals
    start_from_config: bool = False  # start is config.toml's [calendar] start_month, later than the rulebook's

    def local_date(self, stored: str | dt.datetime) -> dt.date:
        """The office-zone date of a stored time (a file's ``received_at``)."""
        return clock.local_date(stored, self.timezone)

    def for_office(self, timezone: str, start_month: str | None = None) -> Rulebook:
        """This rulebook as an office uses it: its time zone, and its first month when the office began
        collecting after the rulebook's start (nothing before it is counted anywhere)."""
        book = replace(self, timezone=timezone)
        if start_month and start_month > self.start:
            book = replace(book, start=start_month, start_from_config=True)
        return book

    @property
    def rules(self) -> dict[str, Rule]:
        return self.versions[0].rules

    def __getitem__(self, clause: str) -> Rule:
        return self.versions[0][clause]

    def __contains__(self, clause: str) -> bool:
        return clause in self.versions[0]

    @property
    def year(self) -> int:
        """The first reporting year (the year of the one-time milestones): the rulebook's own, even when
        an office began collecting later."""
        return parse_month(self.versions[0].first)[0]

    @property
    def months(self) -> list[str]:
        """Every month the rules cover, in order."""
        return month_range(self.start, self.last)

    def covers(self, month: str) -> bool:
        return self.start <= month <= self.last

    def require(self, first: str, last: str | None = None, name: str | None = None) -> None:
        """Raise :class:`MonthNotCovered` unless the month (or a period first..last) lies, at least in
        part, within the covered months; the message says which months are covered and how to extend them."""
        if self.covers(first) or (last is not None and first <= self.last and last >= self.start):
            return
        raise MonthNotCovered(f"{name or ('月份 ' + first)} 不在规则库覆盖的月份（{self.start} 至 {self.last}）内。"
                              f"{self.extend_hint}")

    @property
    def extend_hint(self) -> str:
        if self.start_from_config:
            return (f"本工作区从 {self.start} 开始收集报表（config.toml 中 [calendar] 的 start_month）；"
                    f"如需覆盖更早的月份，请修改该项；如需覆盖以后的月份，请修改规则库 {self.source.name} 中 "
                    f"[calendar] 的 end，或新增一个 [[versions]] 版本（from = \"YYYY-MM\"）。")
        return (f"如需覆盖更早的月份，请修改规则库 {self.source.name} 中 [calendar] 的 start；"
                f"如需覆盖以后的月份，请修改 [calendar] 的 end，或新增一个 [[versions]] 版本（from = \"YYYY-MM\"）。")

    def at(self, month: str) -> RuleSet:
        """The rules in force in ``month`` (a period is judged by the rules in force when it began)."""
        found = self.versions[0]
        for version in self.versions[1:]:
            if version.first <= month:
                found = version
        return found

    def versions_between(self, first: str, last: str) -> list[RuleSet]:
        """The versions in force in some month of first..last, in order."""
        return [v for v in self.versions if v.first <= last and v is self.at(max(first, v.first))]

    def basis(self, first: str, last: str) -> str:
        """How a report names the rules it applies: 2026版, or 2026版、2027年7月修订版."""
        return "、".join(v.label for v in self.versions_between(first, last))

    def frequency_rules(self, enterprise_kind: str | None = None) -> list[Rule]:
        return self.versions[0].frequency_rules(enterprise_kind)

    @property
    def frequency_periods(self) -> set[str]:
        """The period kinds any version counts activities over."""
        return {r.period for v in self.versions for r in v.frequency_rules()}

    def frequency_rules_for(self, month: str) -> list[Rule]:
        """The frequency rules judging the periods that contain ``month`` — each period by the version in
        force in its first month — in the rulebook's clause order."""
        found = {r.clause: r for kind in self.frequency_periods
                 for r in self.at(period_of(month, kind).first).frequency_rules() if r.period == kind}
        order = list(self.rules)
        return sorted(found.values(), key=lambda r: order.index(r.clause) if r.clause in order else len(order))

    def hardware_rule(self, enterprise_kind: str) -> Rule | None:
        return self.versions[0].hardware_rule(enterprise_kind)


REQUIRED_CLAUSES = ("G-1", "M-1a", "M-1b", "M-1c", "M-2", "M-4b", "X-1", "X-2")
MILESTONES = ("M-1a", "M-2")  # one-time deadlines of the first year in a single-year rulebook
_MILESTONE_DATES = ("deadline", "work_start")
_OLD_DEFAULTS = {"M-1a": {"deadline": "10-01"}, "M-2": {"deadline": "11-30", "work_start": "12-01"}}  # 月-日
LOG = logging.getLogger(__name__)


def load_rulebook(path: Path | str | None = None, *, check_items: bool | None = None) -> Rulebook:
    """Load and check a rulebook (default: the built-in ``schemas/requirements.toml``).

    ``check_items``: check that hardware rules name columns of the 硬件设施 sheet.  Those titles
    live in the form's pandera model, so the check imports pandas; by default it runs for a
    workspace's own rulebook and not for the built-in one, which the tests check
    (``tests/test_import_cost.py``) — a read-only command with the built-in rules starts without pandas.
    """
    path = Path(path) if path else RULEBOOK_PATH
    if check_items is None:
        check_items = path.resolve() != RULEBOOK_PATH.resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulebookError(f"规则库文件不存在：{path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulebookError(f"规则库文件 {path.name} 格式有误：{exc}") from None

    cal = data.get("calendar", {})
    if not isinstance(cal, dict):
        raise RulebookError("规则库的 [calendar] 应为一个表")
    deadline_day = _int(cal, "submission_deadline_day", "calendar.submission_deadline_day", 1, 28)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, dict) or not raw_rules:
        raise RulebookError("规则库缺少 [rules.*] 条目")
    warnings: list[str] = []
    if "year" in cal:
        start = _convert_single_year(path, cal, raw_rules, warnings)
    else:
        start = _month(cal.get("start"), "calendar.start")
    rules = {clause: _rule(clause, body) for clause, body in raw_rules.items()}
    for clause in REQUIRED_CLAUSES:
        if clause not in rules:
            raise RulebookError(f"规则库缺少条款 rules.{clause}")
    versions = [RuleSet(_label(cal.get("version"), "calendar.version", f"{parse_month(start)[0]}版"), start, rules)]
    versions += _versions(data.get("versions", []), raw_rules, start)
    last = _last_month(cal, start, versions)
    if check_items:
        _check_hardware_items(versions)
    for warning in warnings:
        LOG.warning("%s", warning)
    return Rulebook(start, last, deadline_day, tuple(versions), path, tuple(warnings))


def _convert_single_year(path: Path, cal: dict, raw_rules: dict, warnings: list[str]) -> str:
    """The single-year format (``[calendar] year = 2026``, milestones as 月-日): read as the first year
    of the new format, its milestones dated in that year.  The rules are converted in place."""
    if "start" in cal:
        raise RulebookError("规则库的 [calendar] 不能同时写 year 和 start（year 是旧格式，请只保留 start）")
    year = _int(cal, "year", "calendar.year", 2000, 2100)
    for clause in MILESTONES:
        body = raw_rules.get(clause)
        if not isinstance(body, dict):
            continue
        body.setdefault("once", True)
        for key, default in _OLD_DEFAULTS[clause].items():
            body.setdefault(key, default)
        for key in _MILESTONE_DATES:
            if isinstance(body.get(key), str) and re.fullmatch(r"\d{1,2}-\d{1,2}", body[key].strip()):
                month, day = (int(x) for x in body[key].split("-"))
                try:
                    body[key] = dt.date(year, month, day)
                except ValueError:
                    raise RulebookError(f"rules.{clause}.{key} 应为“月-日”（如 10-01），而不是"
                                        f"“{body[key]}”") from None
    warnings.append(f"规则库 {path.name} 是单一年度的旧格式（[calendar] year = {year}），已按新格式读取："
                    f"经常性规则自{year}年1月起逐年适用，M-1a、M-2 作为{year}年的一次性节点。"
                    f"请把 year = {year} 改为 start = \"{year}-01\"，并把这两条的期限写成完整日期（如 {year}-10-01）。")
    return month_str(year, 1)


def _versions(raw, base_rules: dict, start: str) -> list[RuleSet]:
    """``[[versions]]``: from a month on, some rules' parameters (or wording) change."""
    if not isinstance(raw, list):
        raise RulebookError("规则库的 versions 应写作 [[versions]] 表")
    out: list[RuleSet] = []
    previous = start
    merged = {clause: dict(body) for clause, body in base_rules.items()}
    for i, entry in enumerate(raw, start=1):
        where = f"versions 第{i}个版本"
        if not isinstance(entry, dict):
            raise RulebookError(f"{where}应为一个表")
        first = _month(entry.get("from"), f"{where}的 from")
        if first <= previous:
            raise RulebookError(f"{where}的 from（{first}）应晚于上一个版本的起始月份（{previous}）")
        changes = entry.get("rules", {})
        if not isinstance(changes, dict):
            raise RulebookError(f"{where}的 rules 应为“条款编号 = 修改的参数”的表")
        for clause, body in changes.items():
            if clause not in merged:
                raise RulebookError(f"{where}修改的条款 rules.{clause} 在规则库中不存在")
            if not isinstance(body, dict):
                raise RulebookError(f"{where}的 rules.{clause} 应为一个表")
            if body.get("once") or merged[clause].get("once"):
                raise RulebookError(f"{where}不能修改一次性节点 rules.{clause}（只考核首年）")
            merged[clause] = {**merged[clause], **body}
        rules = {clause: _rule(clause, body, where=f"{where}的 rules.{clause}") for clause, body in merged.items()}
        y, m = parse_month(first)
        out.append(RuleSet(_label(entry.get("name"), f"{where}的 name", f"{y}年{m}月版"), first, rules))
        merged = {clause: dict(body) for clause, body in merged.items()}
        previous = first
    return out


def _last_month(cal: dict, start: str, versions: list[RuleSet]) -> str:
    """``[calendar] end``, else December of the year after the latest year the rulebook names."""
    latest = versions[-1].first
    if "end" in cal:
        last = _month(cal["end"], "calendar.end")
        if last < latest:
            raise RulebookError(f"calendar.end（{last}）早于最后一个版本的起始月份（{latest}）")
        return last
    return month_str(parse_month(latest)[0] + 1, 12)


def _month(value, where: str) -> str:
    try:
        y, m = parse_month(value if isinstance(value, str) else "")
    except ValueError:
        raise RulebookError(f"{where} 应为“YYYY-MM”格式的月份（如 2026-01），而不是“{value}”") from None
    return month_str(y, m)


def _label(value, where: str, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise RulebookError(f"{where} 应为版本名称（如“2026版”）")
    return value.strip()


def _as_date(value) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    return dt.date.fromisoformat(str(value).strip())


def _rule(clause: str, body, where: str | None = None) -> Rule:
    where = where or f"rules.{clause}"
    if not isinstance(body, dict):
        raise RulebookError(f"{where} 应为一个表")
    for key in ("title", "wording"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise RulebookError(f"{where}.{key} 缺失或为空（每条规则须写明标题和条款原文）")
    params = {k: v for k, v in body.items() if k not in ("title", "wording", "applies_to", "period", "once")}
    applies_to = body.get("applies_to")
    if applies_to is not None and applies_to not in ENTERPRISE_KINDS:
        raise RulebookError(f"{where}.applies_to 只能是 {'、'.join(ENTERPRISE_KINDS)}，而不是“{applies_to}”")
    period = body.get("period")
    if period is not None and period not in PERIOD_KINDS:
        raise RulebookError(f"{where}.period 只能是 {'、'.join(PERIOD_KINDS)}，而不是“{period}”")
    once = body.get("once", False)
    if not isinstance(once, bool):
        raise RulebookError(f"{where}.once 应为 true 或 false")
    _check_params(where, params)
    if "activities" in params and (period is None or applies_to is None):
        raise RulebookError(f"{where} 规定了活动次数，还须写明 period 和 applies_to")
    if clause in MILESTONES and not once:
        raise RulebookError(f"{where} 是首年的一次性节点，须写 once = true")
    if once and "deadline" not in params:
        raise RulebookError(f"{where} 是一次性节点，须写明 deadline（完整日期，如 2026-10-01）")
    if once:
        for key in _MILESTONE_DATES:
            if key in params:
                try:
                    params[key] = _as_date(params[key])
                except (ValueError, TypeError):
                    raise RulebookError(f"{where}.{key} 应为完整日期（如 2026-10-01），而不是"
                                        f"“{params[key]}”") from None
    return Rule(clause, body["title"].strip(), body["wording"].strip(), params, applies_to, period, once)


def _check_hardware_items(versions: list[RuleSet]) -> None:
    """Every ``items`` entry of a hardware rule is a column title of the 硬件设施 sheet."""
    from processor.schemas.form import SHEETS_BY_KEY  # builds the pandera models: see load_rulebook

    titles = set(SHEETS_BY_KEY["hardware"].titles)
    for i, version in enumerate(versions):
        for clause, rule in version.rules.items():
            where = f"rules.{clause}" if i == 0 else f"versions 第{i}个版本的 rules.{clause}"
            for item in rule.params.get("items", ()):
                if item not in titles:
                    raise RulebookError(f"{where}.items 中的“{item}”不是“硬件设施”表的列")


def _check_params(where: str, params: dict) -> None:
    for key, value in params.items():
        if key == "activities":
            if not isinstance(value, dict) or not value:
                raise RulebookError(f"{where}.activities 应为“活动类型 = 次数”的表")
            for name, times in value.items():
                if name not in ACTIVITY_KINDS:
                    raise RulebookError(f"{where}.activities 中的“{name}”不是组织生活的活动类型"
                                        f"（可选：{'、'.join(ACTIVITY_KINDS)}）")
                if not isinstance(times, int) or times < 1:
                    raise RulebookError(f"{where}.activities.{name} 应为不小于 1 的整数")
        elif key == "items":
            if not isinstance(value, list) or not value:
                raise RulebookError(f"{where}.items 应为硬件项目的列表")
            if not all(isinstance(item, str) for item in value):
                raise RulebookError(f"{where}.items 应为硬件项目名称（“硬件设施”表的列标题）的列表")
        elif key == "onsite_modes":
            bad = [m for m in value if m not in CONTACT_MODES] if isinstance(value, list) else [value]
            if bad:
                raise RulebookError(f"{where}.onsite_modes 中的“{bad[0]}”不是联系方式（可选："
                                    f"{'、'.join(CONTACT_MODES)}）")
        elif key == "copy_sheets":
            titles = set(SHEET_TITLES.values())
            bad = [t for t in value if t not in titles] if isinstance(value, list) else [value]
            if bad:
                raise RulebookError(f"{where}.copy_sheets 中的“{bad[0]}”不是月报表的工作表（可选：{'、'.join(sorted(titles))}）")
        elif key in ("min_sites", "max_sites", "min_contacts", "min_visits", "members_tolerance"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RulebookError(f"{where}.{key} 应为不小于 0 的整数，而不是“{value}”")
        elif key == "min_room_area":
            if not isinstance(value, (int, float)) or value <= 0:
                raise RulebookError(f"{where}.{key} 应为正数，而不是“{value}”")
        elif key == "enabled":
            if not isinstance(value, bool):
                raise RulebookError(f"{where}.enabled 应为 true 或 false")
    if params.get("min_sites", 0) > params.get("max_sites", 10**9):
        raise RulebookError(f"{where}.min_sites 不能大于 max_sites")


def _int(table: dict, key: str, where: str, low: int, high: int) -> int:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RulebookError(f"{where} 应为 {low} 至 {high} 之间的整数，而不是“{value}”")
    return value
