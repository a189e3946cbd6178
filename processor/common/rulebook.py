"""Loads and checks ``schemas/requirements.toml`` — every number of the opinion.

The rulebook is data the office may edit, so it is checked thoroughly at
start: a mistake gives a :class:`RulebookError` naming the key and what is
wrong, in Chinese, instead of a traceback in the middle of the night.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from processor.common.paths import RULEBOOK_PATH
from processor.common.periods import PERIOD_KINDS, month_str
from schemas.form import ACTIVITY_KINDS, CONTACT_MODES, ENTERPRISE_KINDS, SHEETS_BY_KEY


class RulebookError(ValueError):
    """The rulebook file is missing, unreadable or has a wrong entry."""


@dataclass(frozen=True)
class Rule:
    clause: str
    title: str
    wording: str
    params: dict = field(default_factory=dict, hash=False)
    applies_to: str | None = None  # 国企 / 非公 / None for every site
    period: str | None = None

    def get(self, key, default=None):
        return self.params.get(key, default)


@dataclass(frozen=True)
class Rulebook:
    year: int
    submission_deadline_day: int
    rules: dict[str, Rule]
    source: Path

    def __getitem__(self, clause: str) -> Rule:
        return self.rules[clause]

    def __contains__(self, clause: str) -> bool:
        return clause in self.rules

    @property
    def months(self) -> list[str]:
        return [month_str(self.year, m) for m in range(1, 13)]

    def date_in_year(self, month_day: str) -> dt.date:
        month, day = (int(x) for x in month_day.split("-"))
        return dt.date(self.year, month, day)

    def frequency_rules(self, enterprise_kind: str | None = None) -> list[Rule]:
        """Rules that count 组织生活 activities per period (S-4*, N-4*)."""
        return [r for r in self.rules.values() if "activities" in r.params
                and (enterprise_kind is None or r.applies_to == enterprise_kind)]

    def hardware_rule(self, enterprise_kind: str) -> Rule | None:
        return next((r for r in self.rules.values() if "items" in r.params
                     and r.applies_to == enterprise_kind), None)


REQUIRED_CLAUSES = ("G-1", "M-1a", "M-1b", "M-1c", "M-2", "M-4b", "X-1", "X-2")


def load_rulebook(path: Path | str | None = None) -> Rulebook:
    path = Path(path) if path else RULEBOOK_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulebookError(f"规则库文件不存在：{path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulebookError(f"规则库文件 {path.name} 格式有误：{exc}") from None

    cal = data.get("calendar", {})
    year = _int(cal, "year", "calendar.year", 2000, 2100)
    deadline_day = _int(cal, "submission_deadline_day", "calendar.submission_deadline_day", 1, 28)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, dict) or not raw_rules:
        raise RulebookError("规则库缺少 [rules.*] 条目")
    rules = {clause: _rule(clause, body) for clause, body in raw_rules.items()}
    for clause in REQUIRED_CLAUSES:
        if clause not in rules:
            raise RulebookError(f"规则库缺少条款 rules.{clause}")
    book = Rulebook(year, deadline_day, rules, path)
    for clause in ("M-1a", "M-2"):
        for key in ("deadline", "work_start"):
            if key in rules[clause].params:
                try:
                    book.date_in_year(rules[clause].params[key])
                except (ValueError, TypeError):
                    raise RulebookError(f"rules.{clause}.{key} 应为“月-日”（如 10-01），而不是"
                                        f"“{rules[clause].params[key]}”") from None
    return book


def _rule(clause: str, body) -> Rule:
    where = f"rules.{clause}"
    if not isinstance(body, dict):
        raise RulebookError(f"{where} 应为一个表")
    for key in ("title", "wording"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise RulebookError(f"{where}.{key} 缺失或为空（每条规则须写明标题和条款原文）")
    params = {k: v for k, v in body.items() if k not in ("title", "wording", "applies_to", "period")}
    applies_to = body.get("applies_to")
    if applies_to is not None and applies_to not in ENTERPRISE_KINDS:
        raise RulebookError(f"{where}.applies_to 只能是 {'、'.join(ENTERPRISE_KINDS)}，而不是“{applies_to}”")
    period = body.get("period")
    if period is not None and period not in PERIOD_KINDS:
        raise RulebookError(f"{where}.period 只能是 {'、'.join(PERIOD_KINDS)}，而不是“{period}”")
    _check_params(where, params)
    if "activities" in params and (period is None or applies_to is None):
        raise RulebookError(f"{where} 规定了活动次数，还须写明 period 和 applies_to")
    return Rule(clause, body["title"].strip(), body["wording"].strip(), params, applies_to, period)


def _check_params(where: str, params: dict) -> None:
    hardware_titles = set(SHEETS_BY_KEY["hardware"].titles)
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
            for item in value:
                if item not in hardware_titles:
                    raise RulebookError(f"{where}.items 中的“{item}”不是“硬件设施”表的列")
        elif key == "onsite_modes":
            bad = [m for m in value if m not in CONTACT_MODES] if isinstance(value, list) else [value]
            if bad:
                raise RulebookError(f"{where}.onsite_modes 中的“{bad[0]}”不是联系方式（可选："
                                    f"{'、'.join(CONTACT_MODES)}）")
        elif key == "copy_sheets":
            titles = {spec.title for spec in SHEETS_BY_KEY.values()}
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
