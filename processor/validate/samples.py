"""Correctly filled, realistic monthly forms (tests, the demo and the benchmark use them).

``form_rows`` builds the records of every sheet as dicts with English field
names; ``fill_form`` writes them into a real template from
:func:`processor.validate.template.write_template`.  Both are deterministic for a seed:
a unit's sites stay the same from month to month, the month's records vary.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from processor.common.clock import office_today
from processor.common.periods import first_day, last_day, parse_month, submission_deadline
from processor.validate.roster import Roster
from processor.common.rulebook import Rulebook, RuleSet
from processor.validate.template import write_template
from processor.schemas.layout import LAYOUT_BY_KEY as SHEETS_BY_KEY
from processor.schemas.vocabulary import CONTACT_MODES, ENTERPRISE_KINDS, FORMATIONS, ORG_KINDS, SITE_LEVELS

SURNAMES = "陈林黄张李王吴刘蔡杨郑许谢郭洪邱曾廖赖周徐江叶苏庄吕何罗高潘朱"
GIVEN = ["建国", "海燕", "志明", "丽华", "文斌", "秀英", "振华", "晓东", "美玲", "国平", "雪梅", "永强",
         "春生", "丽娟", "德华", "少杰", "慧敏", "明辉", "玉兰", "宏伟", "淑珍", "家豪", "思远", "静怡"]
STATE_OWNED = ["水务集团有限公司", "城市建设投资集团有限公司", "交通建设发展有限公司", "国有资产运营有限公司",
               "供电有限公司", "港务集团有限公司", "粮食储备有限公司", "文旅发展集团有限公司", "燃气有限公司",
               "公共交通集团有限公司"]
PRIVATE = ["华兴电子科技有限公司", "闽榕食品有限公司", "恒达纺织有限公司", "宏泰机械制造有限公司",
           "永丰茶业有限公司", "鑫源新材料股份有限公司", "海峡物流有限公司", "天成建材有限公司",
           "福顺鞋业有限公司", "新锐软件技术有限公司", "东方竹木制品有限公司", "远航船舶修造有限公司"]
CONTACT_CONTENT = {
    "电话联系": ["了解本月党员大会筹备情况", "询问示范点工作方案推进进度", "督促报送本月组织生活记录",
             "了解党员发展计划执行情况", "沟通党员活动室改造进展"],
    "现场指导": ["实地查看党员活动室建设，指导完善“三会一课”台账", "现场指导党员责任区划分和挂牌",
             "深入车间了解党员先锋岗设置情况", "指导整理示范点档案资料"],
    "座谈会": ["召开党员和职工代表座谈会，听取对党组织工作的意见", "与企业主座谈党建带工建、团建工作"],
    "其他": ["参加示范点主题党日活动"],
}
PROBLEMS = [("“三会一课”记录不够规范", "按统一格式补全会议记录"),
            ("党员活动室设施不齐全", "年底前补齐资料柜和书柜"),
            ("流动党员管理台账未建立", "建立流动党员台账并与社区党组织对接")]
ACTIVITY_SUMMARY = {
    "党员大会": "传达学习上级精神，讨论本季度党建工作安排", "支委会": "研究本月党建工作和发展党员事项",
    "党小组会": "各党小组交流学习体会", "党课": "书记讲专题党课", "主题党日": "开展志愿服务主题党日活动",
    "组织生活会": "开展批评与自我批评", "民主生活会": "班子成员对照检查，相互批评", "党纪教育": "学习党章党规和警示教育案例",
    "民主评议党员": "开展年度民主评议党员", "党员培训": "组织党员业务和理论培训", "“六个一”活动": "推进“六个一”活动，评选优秀党员",
    "其他": "开展党建带工建、团建活动",
}
EXTRA_ACTIVITIES = ["支委会", "党小组会", "党课", "主题党日"]
PROGRESS = ["按工作方案推进示范点创建，完善党员活动室", "开展党员先锋岗创建，划分党员责任区",
            "组织党员参加技能比武，发挥先锋模范作用", "整理完善示范点档案，规范“三会一课”记录"]
NEXT_PLANS = ["召开季度党员大会，做好发展党员工作", "迎接企业组现场指导，补齐硬件设施",
              "开展“六个一”活动阶段总结", "组织党员培训和入党积极分子培养"]
PERIOD_ORDER = {"month": 0, "quarter": 1, "half": 2, "year": 3}


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _place(unit: str) -> str:
    if unit.endswith("党委"):  # 系统党委: their enterprises carry the city's name
        return "榕城"
    for suffix in ("区", "县", "市"):
        if unit.endswith(suffix) and len(unit) > len(suffix) + 1:
            unit = unit[: -len(suffix)]
    return unit.removeprefix("市") or "榕城"


def _group_staff(roster: Roster, unit: str) -> list[str]:
    staff = roster.staff_of_group(roster.group_of_unit(unit))
    return [s.name for s in staff] or roster.staff_names or ["企业组"]


def site_rows(roster: Roster, unit: str, *, seed: int = 0, sites: int = 2, month: str | None = None,
              first_year: int | None = None) -> list[dict]:
    """The unit's sites; the same for every month of a seed (only the plan date appears later).

    ``first_year``: the first reporting year; the sites' contact and plan dates fall in the year
    before it, so a site keeps its dates across the year boundary (default: the month's year)."""
    rng = random.Random(f"sites|{seed}|{unit}")
    place = _place(unit)
    state, private = rng.sample(STATE_OWNED, len(STATE_OWNED)), rng.sample(PRIVATE, len(PRIVATE))
    staff = _group_staff(roster, unit)
    year = first_year or (parse_month(month)[0] if month else office_today().year)
    rows = []
    for i in range(sites):
        kind = ENTERPRISE_KINDS[i % 2] if i < 2 else rng.choice(ENTERPRISE_KINDS)
        enterprise = f"{place}{state.pop() if kind == '国企' else private.pop()}"
        short = enterprise.replace("有限公司", "").replace("股份", "")
        org_kind = rng.choice(ORG_KINDS[:3] if kind == "国企" else ORG_KINDS[2:])
        suffix = {"党委": "委员会", "党总支": "总支部委员会", "党支部": "支部委员会", "联合党支部": "联合支部委员会"}[org_kind]
        contact = dt.date(year - 1, 9, 5 + 7 * (i % 3))
        plan = dt.date(year - 1, 11, 10 + 5 * (i % 3))
        rows.append({
            "site": f"{short}党建示范点", "enterprise": enterprise, "enterprise_kind": kind,
            "org_name": f"中共{enterprise}{suffix}", "org_kind": org_kind,
            "formation": "单独组建" if org_kind != "联合党支部" else rng.choice(FORMATIONS[1:]),
            "secretary": _person(rng), "members": rng.randint(18, 120), "employees": rng.randint(150, 3000),
            "level": rng.choice(SITE_LEVELS), "staff": staff[i % len(staff)],
            "contact_date": contact, "plan_date": plan if not month or plan <= last_day(month) else None,
            "note": None,
        })
    return rows


def form_rows(*, roster: Roster, rulebook: Rulebook, unit: str, month: str, seed: int = 0, sites: int = 2,
              contacts: int = 8, org_life: int = 10) -> dict[str, list[dict]]:
    """Every sheet's records (English field names) for a correct form of ``unit`` and ``month``."""
    rng = random.Random(f"form|{seed}|{unit}|{month}")
    info = roster.unit(unit)
    site_list = site_rows(roster, unit, seed=seed, sites=sites, month=month, first_year=rulebook.year)
    deadline = submission_deadline(month, rulebook.submission_deadline_day)
    basic = {
        "unit": info.name if info else unit, "unit_kind": info.kind if info else "县市区", "month": month,
        "filler": info.contact if info and info.contact else _person(rng),
        "phone": info.phone if info and info.phone else "0591-87000000", "reviewer": _person(rng),
        "fill_date": deadline - dt.timedelta(days=rng.randint(1, 4)), "change_note": None,
    }
    return {
        "basic_info": [basic],
        "sites": site_list,
        "contacts": _contacts(rng, roster, unit, month, site_list, contacts),
        "org_life": _org_life(rng, rulebook, month, site_list, org_life),
        "hardware": [_hardware(rng, rulebook.at(month), s) for s in site_list],
        "members": [_members(rng, s) for s in site_list],
        "progress": [{"site": s["site"], "progress": rng.choice(PROGRESS), "issues": None,
                      "next_plan": rng.choice(NEXT_PLANS)} for s in site_list],
    }


def _days(rng: random.Random, month: str) -> list[dt.date]:
    start, end = first_day(month), last_day(month)
    return [start + dt.timedelta(days=d) for d in range((end - start).days + 1)]


def _contacts(rng, roster, unit, month, sites, count) -> list[dict]:
    days, staff, rows, seen = _days(rng, month), _group_staff(roster, unit), [], set()
    for i in range(count if sites else 0):
        site = sites[i % len(sites)]
        mode = "现场指导" if i < len(sites) else rng.choice(CONTACT_MODES[:3])
        for _attempt in range(20):
            row = {"date": rng.choice(days), "site": site["site"], "staff": site["staff"] if i < len(sites)
                   else rng.choice(staff), "mode": mode, "content": rng.choice(CONTACT_CONTENT[mode])}
            key = tuple(row.values())
            if key not in seen:
                break
        seen.add(key)
        found, suggestion = rng.choice(PROBLEMS) if rng.random() < 0.25 else (None, None)
        row.update(problem=found, suggestion=suggestion,
                   deadline=last_day(month) + dt.timedelta(days=30) if found else None,
                   state="未办结" if found else None)
        rows.append(row)
    return sorted(rows, key=lambda r: r["date"])


def _required_activities(rulebook: Rulebook, kind: str, month: str) -> list[str]:
    """Activities the opinion asks of this kind of site, most frequent first, rotated by month."""
    rules = sorted(rulebook.at(month).frequency_rules(kind), key=lambda r: PERIOD_ORDER.get(r.period, 9))
    frequent = [a for r in rules if r.period in ("month", "quarter") for a in r.params["activities"]]
    rare = [a for r in rules if r.period not in ("month", "quarter") for a in r.params["activities"]]
    shift = parse_month(month)[1] % max(len(rare), 1)
    ordered = frequent + rare[shift:] + rare[:shift]
    return list(dict.fromkeys(ordered))


def _org_life(rng, rulebook, month, sites, count) -> list[dict]:
    days, rows, seen = _days(rng, month), [], set()
    per_site = {s["site"]: _required_activities(rulebook, s["enterprise_kind"], month) for s in sites}
    for i in range(count if sites else 0):
        site = sites[i % len(sites)]
        todo = per_site[site["site"]]
        activity = todo.pop(0) if todo else rng.choice(EXTRA_ACTIVITIES)
        expected = site["members"] if activity != "党小组会" else max(3, site["members"] // 4)
        present = expected - rng.randint(0, max(1, expected // 6))
        for _attempt in range(20):
            row = {"date": rng.choice(days), "site": site["site"], "activity": activity,
                   "host": site["secretary"], "expected": expected, "present": present,
                   "summary": ACTIVITY_SUMMARY.get(activity, "开展组织生活")}
            key = (row["date"], row["site"], row["activity"], row["summary"])
            if key not in seen:
                break
        seen.add(key)
        rows.append(row)
    return sorted(rows, key=lambda r: r["date"])


def _hardware(rng, rules: RuleSet, site: dict) -> dict:
    """A site's 硬件设施 row under the rules in force for the form's month."""
    spec = SHEETS_BY_KEY["hardware"]
    rule = rules.hardware_rule(site["enterprise_kind"])
    required = set(rule.params["items"]) if rule else set()
    row = {"site": site["site"]}
    for f in spec.fields:
        if f.options:
            row[f.name] = "是" if f.title in required or rng.random() < 0.6 else "否"
    minimum = float(rule.params.get("min_room_area", 30.0)) if rule else 30.0
    row["room_area"] = round(minimum + rng.randint(5, 80), 1)
    return row


def _members(rng, site: dict) -> dict:
    total = site["members"]
    new = rng.randint(0, 2)
    workers = rng.randint(0, new)
    mobile = rng.randint(0, 3)
    state_owned = site["enterprise_kind"] == "国企"
    return {
        "site": site["site"], "total": total, "new_members": new, "new_workers": workers,
        "new_intellectuals": new - workers, "activists": rng.randint(1, 6), "mobile": mobile,
        "mobile_managed": rng.randint(0, mobile), "duty_zones": rng.randint(2, 8),
        "cross_posts": rng.randint(2, 6) if state_owned else None,
        "six_ones": None if state_owned else rng.randint(5, total),
        "mutual_fund": None if state_owned else float(rng.randint(20, 200) * 100),
    }


def fill_form(path: Path | str, *, roster: Roster, rulebook: Rulebook, unit: str, month: str, seed: int = 0,
              sites: int = 2, contacts: int = 8, org_life: int = 10) -> Path:
    """Write a correctly filled form for ``unit`` and ``month`` into ``path`` (a real template)."""
    rows = form_rows(roster=roster, rulebook=rulebook, unit=unit, month=month, seed=seed, sites=sites,
                     contacts=contacts, org_life=org_life)
    return write_form(path, rows, roster=roster, rulebook=rulebook, unit=unit, month=month)


def write_form(path: Path | str, rows: dict[str, list[dict]], *, roster: Roster, rulebook: Rulebook,
               unit: str | None = None, month: str | None = None) -> Path:
    """Write records (as from :func:`form_rows`, possibly edited) into a fresh template, in one pass."""
    return write_template(path, roster=roster, rulebook=rulebook, unit=unit, month=month, rows=rows)


# Values for the optional cells of the 填写示例 sheet, so that its example of every sheet is complete.
EXAMPLE_EXTRAS = {
    "basic_info": {"change_note": "新增示范点1个"},
    "sites": {"note": "2025年新确定"},
    "contacts": {"problem": PROBLEMS[1][0], "suggestion": PROBLEMS[1][1], "state": "未办结"},
    "progress": {"issues": "党员活动室面积偏小"},
}
# The example shows how the "其中" columns split 本月发展党员 (whatever the seed drew).
EXAMPLE_MEMBERS = {"new_members": 2, "new_workers": 1, "new_intellectuals": 1}


def example_records(*, roster: Roster, rulebook: Rulebook, unit: str, month: str) -> dict[str, dict]:
    """One complete, correct record per sheet (the template's 填写示例 sheet)."""
    rows = form_rows(roster=roster, rulebook=rulebook, unit=unit, month=month, seed=0)
    example = {}
    for key, records in rows.items():
        record = dict(records[0]) if records else {}
        for name, value in EXAMPLE_EXTRAS.get(key, {}).items():
            if record.get(name) is None:
                record[name] = value
        example[key] = record
    if example.get("members"):
        example["members"].update(EXAMPLE_MEMBERS)
    contact = example.get("contacts", {})
    if contact.get("deadline") is None and contact.get("date"):
        contact["deadline"] = last_day(month) + dt.timedelta(days=30)
    return example
