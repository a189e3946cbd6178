"""The context contract of every Word report, with a realistic sample of each.

:func:`sample_context` returns, for each report of :data:`REPORT_NAMES`, the
dict its template in ``templates/`` is rendered with.  The consolidation fills
exactly these keys from the ledger; tests render the samples.  The samples are
self-consistent: every count in them is computed from the lists they contain,
as the consolidation must do (numbers in sentences = numbers in tables).

Conventions for every context:

- dates are ISO strings ``"YYYY-MM-DD"`` (the templates format them with
  ``cn_date``), months ``"YYYY-MM"``; a missing date is ``""`` (an empty cell);
- every list may be empty: the template then prints a sentence such as "本月无。";
- no value is ever ``None``; text is plain Chinese (no clause codes shown);
- ``charts`` maps a template image variable to a chart spec for
  :func:`processor.render.charts.build_charts` (kind, title, labels, values|series);
- ``office_name`` (落款) and ``report_date`` (成文日期) are in every context; the monthly and
  half-year reports also carry ``addressee`` (主送, printed "企业组各位同志：" under the title).

Keys of each context (rows are dicts with the listed keys):

monthly_report (月度汇总报告, M-4b)
    month, rule_basis (the rulebook versions applied: "2026版"), deadline, as_of (数据截至: the run's one as-of date), quarter_label ("第四季度"), quarter_end,
    overview {units, sites (registered), soe_sites, private_sites, reported_sites (data this month),
              unreported_sites, sites_note ("（其中1家由两个单位重复登记）" or "")},
    unreported_sites [{unit, site}] (本月未报送: in no count),
    submission {due, on_time, late, missing, late_units[], missing_units[], resubmitted_units[],
                returned_units [{unit, received}] (rejected, then resubmitted)},
    unit_rows [{unit, kind, status ("按时报送"|"逾期报送"|"未报送"), received, sites, contacts, note}],
    contact_summary {total, phone, onsite, meeting, other, sites_contacted, elsewhere},
    staff_rows [{group, staff, sites (registered sites assigned), unreported (of those, without data this
                 month), phone, onsite, meeting, other, total (recorded by them in this month's forms),
                 elsewhere (at sites not assigned to them)}],
    site_rows [{unit, site, kind, staff, phone, onsite, meeting, other, total, by_staff (of total, made by the
               site's assigned liaison ``staff``), last_date}] (reported sites),
    sites_no_contact [{unit, site, staff}], sites_no_visit [{unit, site, staff}],
    team {soe_sites, cross_sites, cross_posts, private_sites},
    members {total, new, new_workers, new_intellectuals, activists, mobile, mobile_managed,
             duty_zones, six_ones},
    org_life {total, by_kind [{kind, count}]},
    frequency_rows [{clause, rule, title, applies, period, sites (reported this month), met, pending, failed}],
    hardware {sites, complete, incomplete}, hardware_rows [{unit, site, kind, missing, area}],
    hardware_gaps (what the sites short of hardware lack, with their counts: "缺少组合音响的3个，…"),
    findings [{clause, rule, unit, site, problem, status ("未达标"|"待完成")}],
    finding_counts {total, failed, at_risk},
    problem_rows [{unit, site, problem, found, deadline ("11月30日" | "由10月30日\n延至11月30日" | "由5月30日\n提前至3月30日"),
                   extended, shortened, state, overdue}] (X-2 threads, each once), problem_counts {total, closed,
                   closed_late, open, overdue, extended, shortened},
    reported_problems [{unit, site, text}], progress [{text, sites, count}], plans [{text, sites, count}]
    (identical texts once, with the sites that wrote them), next_steps [str],
    quality_rows [{code, unit, site, title, message}] (checks across months and files), quality_units,
    charts {chart_submission, chart_contacts}

half_year_report (半年工作报告, M-4c)
    half ("2026-H2"), half_label ("2026年下半年"), next_label ("明年上半年"|"下半年"), first_month, last_month,
    rule_basis,
    overview {units, sites, sites_note (as monthly), soe_sites, private_sites, staff, staff_assigned (staff with a site),
              sites_assigned, sites_unassigned, contacts, onsite, meeting, visits (onsite + meeting),
              months_reported, months_due},
    goods [{name, text}] (三个好, one factual sentence each),
    pillars [{name, text}] (五个有),
    site_paths [{unit, site, kind, contact_date, plan_date, plan_status ("按期上报"|"逾期上报"|"未上报"),
                 first_contact, first_visit, months_reported, months_due, activities, start_month,
                 status ("已开展工作"|"方案已上报，尚未开展组织生活"|"尚未上报工作方案"),
                 progress ("2026年12月起开展工作" or the status)}],
    plan_counts {on_time, late, missing}, work_started (sites with 组织生活 since their plan),
    plan_deadline, work_start (M-2: plan reported by, work under way from),
    compliance_rows [{clause, rule, applies, period, sites, met, failed, at_risk, no_data, rate}],
    typical_sites [{unit, site, practice}],
    findings [...as monthly...], finding_counts {total, failed, at_risk},
    worst_problems [str] (the problems longest past their deadline, by name, for 七、存在问题),
    problem_list, problem_summary (signable.half_year: the one problem list, 附件3: a band per unit and site),
    reported_problems [{unit, site, text}], next_steps [str], plans [{text, sites}],
    charts {chart_contacts_month (months not yet due left out), chart_compliance}

year_report (年度工作总结, the year's compliance for the annual 述职/考核)
    year ("2026"), year_label ("2026年度"), first_month, last_month, as_of, rule_basis,
    overview {units, sites, sites_note (as monthly), soe_sites, private_sites, staff, months_due, contacts,
              onsite (现场指导和座谈会)},
    submission {due, on_time, late, missing} (= the sums of unit_rows),
    unit_rows [{unit, due, on_time, late, missing}] (monthly forms of months already due),
    clause_rows [{clause, rule, applies, period, judged (项次: one subject in one period), met, failed, at_risk,
                  rate}], totals {judged, met, failed, at_risk, rate} (= the sums of clause_rows),
    site_rows [{unit, site, kind, judged, met, failed, at_risk, rate, short (requirements not met), shared (one
               enterprise registered by several units: one row, ``unit`` naming them all, "马尾区、鼓楼区"),
               subjects ([[unit, site]] the row stands for, as the annex names them)}],
    site_totals {sites, shared, judged, met, failed, at_risk} (= the sums of site_rows: clause_rows less the 项次 judged
                 per unit or per 企业组 member), rates of the 项次 decided ("" when none is),
    problem_counts {...as monthly...}, findings [...as monthly...], finding_counts {total, failed, at_risk},
    next_steps [str] (a closed year: for the named next year), charts {chart_contacts_month, chart_compliance},
    overview also {staff_assigned (members with a site), sites_assigned, sites_unassigned, staff_without_site},
    achievements [{name, text}] (主要成效, against last year where the ledger has last year),
    typical_sites [{unit, site, practice}] (经验做法: sites meeting every requirement all year, in their own words),
    weak_rules (the requirements most often not met, with their counts, or "")
    (a findings row names its rule version when the year applies more than one)

assignment_table (企业组人员联系示范点分组情况一览表)
    year, deadline (M-1a: contact fixed before this day),
    rows [{group, staff, unit, site, kind, secretary, members, contact_date, note}]
        sorted by group then staff; repeated group/staff cells are merged on render;
    counts {groups, staff, units, sites},
    staff_without_site [{group, staff}], sites_without_staff [{unit, site}],
    late_contacts [{staff, unit, site, contact_date}]

site_dossier (示范点档案, M-4a; one per site)
    site {name, enterprise, kind, unit, org_name, org_kind, formation, secretary, members,
          employees, level, staff, contact_date, plan_date},
    first_month, last_month (the last month due on report_date), missing_months [month],
    missing_note (sentence naming the months not reported, or ""),
    timeline [{month, missing ("" or why the month has no data: "本月未报送。" …), contacts [{date, staff,
              mode, content (no closing punctuation)}], org_life [{date, kind, verb ("召开" a meeting,
              "开展" else), present, expected}], members (sentence), hardware (sentence), progress (sentence
              ending in "。"), problems (each named once, a sentence ending in "。")}],
    compliance_rows [{clause, rule, period, status ("达标"|"未达标"|"待完成"|"本月未报送"), evidence,
                      month ("" or the month a monthly requirement was judged for)}],
    summary {months, reported, unreported [month_cn], met, failed, at_risk, failed_rules [rule],
             open_problems [problem], month_list [{month, state ("已报送"|"本月未报送" …)}]},
    sources [{file_name, month, received, digest}]

reminder_list (催报名单)
    month, deadline, as_of,
    rows [{unit, kind, contact, phone, deadline, status ("未报送"|"已退回待重报"), overdue_days}],
    counts {due, submitted, late, missing, rejected}
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter

from processor.consolidate import signable
from processor.render.documents import REPORT_NAMES

OFFICE = "中共榕城市委组织部企业组"
ADDRESSEE = "中共榕城市委组织部"

# --- a fictional city -------------------------------------------------------
UNITS = [  # name, kind, contact, phone
    ("榕城区", "县市区", "林志刚", "0591-83012345"),
    ("罗源县", "县市区", "陈丽萍", "0591-26851234"),
    ("闽江县", "县市区", "黄建华", "0591-22763456"),
    ("连江县", "县市区", "郑晓东", "0591-26238765"),
    ("永泰县", "县市区", "吴秀英", "0591-24832210"),
    ("福清市", "县市区", "杨海涛", "0591-85221347"),
    ("长乐区", "县市区", "刘文彬", "0591-28931156"),
    ("市国资委党委", "系统党委", "张明华", "0591-87650321"),
    ("市工信局党委", "系统党委", "许国庆", "0591-87609876"),
    ("市商务局党委", "系统党委", "何丽君", "0591-87112233"),
    ("市交通运输局党委", "系统党委", "周振宇", "0591-87345678"),
    ("市住建局党委", "系统党委", "蔡晓燕", "0591-87543219"),
]
STAFF = [("第一组", "陈明"), ("第一组", "林晓华"), ("第二组", "黄志强"), ("第二组", "郑丽"),
         ("第三组", "王建国"), ("第三组", "刘洋")]
# unit, site, enterprise, kind, secretary, members, staff, contact_date, plan_date
SITES = [
    ("榕城区", "榕城电子科技有限公司党支部", "榕城电子科技有限公司", "非公", "李文斌", 23, "陈明", "2026-09-08", "2026-11-20"),
    ("榕城区", "闽榕食品集团党委", "闽榕食品集团有限公司", "非公", "王秀珍", 46, "陈明", "2026-09-08", "2026-11-25"),
    ("罗源县", "罗源湾港务有限公司党总支", "罗源湾港务有限公司", "国企", "陈国栋", 38, "林晓华", "2026-09-15", ""),
    ("闽江县", "闽江水务集团党委", "闽江水务集团有限公司", "国企", "黄伟", 61, "林晓华", "2026-09-12", "2026-11-28"),
    ("连江县", "连江海洋渔业公司党支部", "连江海洋渔业有限公司", "非公", "郑海生", 17, "黄志强", "2026-09-20", "2026-12-02"),
    ("永泰县", "永泰茶业股份公司党支部", "永泰茶业股份有限公司", "非公", "吴建平", 12, "黄志强", "2026-10-09", "2026-11-18"),
    ("福清市", "福清玻璃制品公司联合党支部", "福清玻璃制品有限公司", "非公", "杨志明", 15, "郑丽", "2026-09-18", "2026-11-26"),
    ("长乐区", "长乐纺织集团党委", "长乐纺织集团有限公司", "非公", "刘美玲", 52, "郑丽", "2026-09-25", "2026-11-30"),
    ("市国资委党委", "榕城地铁集团运营分公司党委", "榕城地铁集团有限公司", "国企", "张卫东", 88, "王建国", "2026-09-10", "2026-11-15"),
    ("市国资委党委", "榕城城建集团党委", "榕城城建集团有限公司", "国企", "赵永红", 74, "王建国", "2026-09-10", "2026-11-22"),
    ("市工信局党委", "榕城机电设备公司党支部", "榕城机电设备有限公司", "国企", "许立新", 29, "", "", ""),
    ("市商务局党委", "榕城商贸物流公司党支部", "榕城商贸物流有限公司", "国企", "何振华", 21, "陈明", "2026-09-28", "2026-11-27"),
    ("市交通运输局党委", "榕城公交集团党委", "榕城公交集团有限公司", "国企", "周海燕", 95, "林晓华", "2026-09-16", "2026-11-19"),
    ("市住建局党委", "榕城建筑设计院党支部", "榕城建筑设计院有限公司", "国企", "蔡文杰", 34, "郑丽", "2026-09-22", "2026-11-24"),
]
SITE_KEYS = ("unit", "site", "enterprise", "kind", "secretary", "members", "staff", "contact_date", "plan_date")


def _sites() -> list[dict]:
    return [dict(zip(SITE_KEYS, row, strict=True)) for row in SITES]


def _unit_kind(name: str) -> str:
    return next(u[1] for u in UNITS if u[0] == name)


def _findings() -> list[dict]:
    """Findings that do not depend on this month's contact records."""
    return [
        {"clause": "M-1a", "rule": "确定联系示范点", "unit": "市工信局党委", "site": "榕城机电设备公司党支部",
         "problem": "10月1日前未确定企业组联系人员", "status": "未达标"},
        {"clause": "M-1a", "rule": "确定联系示范点", "unit": "永泰县", "site": "永泰茶业股份公司党支部",
         "problem": "确定联系日期为10月9日，晚于规定时间", "status": "未达标"},
        {"clause": "N-5", "rule": "非公企业硬件设施", "unit": "福清市", "site": "福清玻璃制品公司联合党支部",
         "problem": "党员活动室面积42㎡，不足50㎡；缺少照相机", "status": "未达标"},
        {"clause": "S-4b", "rule": "国企党支部组织生活", "unit": "市商务局党委", "site": "榕城商贸物流公司党支部",
         "problem": "第四季度尚未开展党纪教育", "status": "待完成"},
        {"clause": "M-4b", "rule": "每月汇报", "unit": "罗源县", "site": "",
         "problem": "10月月报表未报送", "status": "未达标"},
        {"clause": "M-4b", "rule": "每月汇报", "unit": "闽江县", "site": "",
         "problem": "10月月报表逾期2天报送", "status": "未达标"},
    ]


def _finding_counts(findings: list[dict]) -> dict:
    return {"total": len(findings),
            "failed": sum(f["status"] == "未达标" for f in findings),
            "at_risk": sum(f["status"] == "待完成" for f in findings)}


# --- 月度汇总报告 ------------------------------------------------------------
def _monthly() -> dict:
    sites = _sites()
    status = {u[0]: ("按时报送", f"2026-11-0{1 + i % 4}") for i, u in enumerate(UNITS)}
    status["闽江县"] = ("逾期报送", "2026-11-07")
    status["罗源县"] = ("未报送", "")
    resubmitted = ["长乐区"]
    # contacts this month per site: (phone, onsite, meeting, other, last_date); absent = none
    contacts = {
        "榕城电子科技有限公司党支部": (1, 1, 0, 0, "2026-10-21"),
        "闽榕食品集团党委": (1, 0, 1, 0, "2026-10-23"),
        "闽江水务集团党委": (0, 1, 0, 0, "2026-10-15"),
        "连江海洋渔业公司党支部": (2, 0, 0, 0, "2026-10-28"),
        "永泰茶业股份公司党支部": (1, 1, 0, 0, "2026-10-16"),
        "福清玻璃制品公司联合党支部": (1, 0, 0, 1, "2026-10-19"),
        "长乐纺织集团党委": (0, 1, 1, 0, "2026-10-27"),
        "榕城地铁集团运营分公司党委": (1, 1, 0, 0, "2026-10-12"),
        "榕城城建集团党委": (0, 0, 1, 0, "2026-10-30"),
        "榕城机电设备公司党支部": (1, 0, 0, 0, "2026-10-22"),
        "榕城商贸物流公司党支部": (1, 1, 0, 0, "2026-10-14"),
        "榕城公交集团党委": (0, 1, 0, 0, "2026-10-09"),
        "榕城建筑设计院党支部": (1, 0, 0, 0, "2026-10-26"),
    }
    site_rows = []
    for s in sites:
        phone, onsite, meeting, other, last = contacts.get(s["site"], (0, 0, 0, 0, ""))
        site_rows.append({"unit": s["unit"], "site": s["site"], "kind": s["kind"],
                          "staff": s["staff"] or "未确定", "phone": phone, "onsite": onsite,
                          "meeting": meeting, "other": other, "total": phone + onsite + meeting + other,
                          "by_staff": phone + onsite + meeting + other if s["staff"] else 0, "last_date": last})
    staff_rows = []
    for group, name in STAFF:
        mine = [r for r in site_rows if r["staff"] == name]
        row = {"group": group, "staff": name, "sites": len(mine), "unreported": 0}
        for key in ("phone", "onsite", "meeting", "other", "total"):
            row[key] = sum(r[key] for r in mine)
        row["elsewhere"] = 0
        staff_rows.append(row)
    unassigned = [r for r in site_rows if r["staff"] == "未确定"]
    summary = {k: sum(r[k] for r in site_rows) for k in ("total", "phone", "onsite", "meeting", "other")}
    summary["sites_contacted"] = sum(r["total"] > 0 for r in site_rows)
    summary["elsewhere"] = 0
    no_contact = [{"unit": r["unit"], "site": r["site"], "staff": r["staff"]} for r in site_rows if not r["total"]]
    no_visit = [{"unit": r["unit"], "site": r["site"], "staff": r["staff"]}
                for r in site_rows if not (r["onsite"] + r["meeting"])]
    unit_rows = []
    for name, kind, _contact, _phone in UNITS:
        st, received = status[name]
        mine = [r for r in site_rows if r["unit"] == name]
        unit_rows.append({"unit": name, "kind": kind, "status": st, "received": received,
                          "sites": len(mine) if st != "未报送" else 0,
                          "contacts": sum(r["total"] for r in mine) if st != "未报送" else 0,
                          "note": "已重报" if name in resubmitted else ""})
    submission = {
        "due": len(unit_rows),
        "on_time": sum(r["status"] == "按时报送" for r in unit_rows),
        "late": sum(r["status"] == "逾期报送" for r in unit_rows),
        "missing": sum(r["status"] == "未报送" for r in unit_rows),
        "late_units": [r["unit"] for r in unit_rows if r["status"] == "逾期报送"],
        "missing_units": [r["unit"] for r in unit_rows if r["status"] == "未报送"],
        "resubmitted_units": resubmitted,
        "returned_units": [{"unit": "闽清县", "received": "2026-11-04"}],
    }
    by_kind = Counter({"党员大会": 6, "支委会": 11, "党课": 7, "主题党日": 13, "组织生活会": 3,
                       "党纪教育": 4, "“六个一”活动": 5, "党员培训": 2})
    org_rows = [{"kind": k, "count": c} for k, c in by_kind.most_common()]
    soe = [s for s in sites if s["kind"] == "国企"]
    private = [s for s in sites if s["kind"] == "非公"]
    hardware_rows = [
        {"unit": "福清市", "site": "福清玻璃制品公司联合党支部", "kind": "非公", "missing": "照相机；活动室面积不足50㎡", "area": 42},
        {"unit": "连江县", "site": "连江海洋渔业公司党支部", "kind": "非公", "missing": "VCD机、资料柜", "area": 56},
        {"unit": "市工信局党委", "site": "榕城机电设备公司党支部", "kind": "国企", "missing": "室外固本强基宣传栏、组合音响", "area": 60},
    ]
    findings = (
        [{"clause": "M-1b", "rule": "每月沟通联系", "unit": r["unit"], "site": r["site"],
          "problem": "10月未开展沟通联系", "status": "未达标"} for r in no_contact]
        + [{"clause": "M-1c", "rule": "每季度现场指导", "unit": r["unit"], "site": r["site"],
            "problem": "第四季度尚未开展现场指导", "status": "待完成"} for r in no_visit]
        + _findings()
    )
    frequency_rows = [
        {"clause": "S-4b", "rule": "党支部每季度至少召开一次党员大会、一次组织生活会、进行一次党纪教育",
         "title": "国企党支部组织生活", "applies": "国企", "period": "2026年第四季度", "sites": len(soe),
         "met": len(soe) - 3, "pending": 3, "failed": 0},
        {"clause": "N-4a", "rule": "党支部每季度至少召开一次党员大会", "title": "非公党员大会",
         "applies": "非公", "period": "2026年第四季度", "sites": len(private), "met": len(private) - 2, "pending": 2, "failed": 0},
        {"clause": "S-4a", "rule": "党委成员每半年召开一次民主生活会", "title": "国企民主生活会",
         "applies": "国企", "period": "2026年下半年", "sites": len(soe), "met": 4, "pending": len(soe) - 4, "failed": 0},
        {"clause": "N-4b", "rule": "每半年召开一次民主生活会", "title": "非公民主生活会",
         "applies": "非公", "period": "2026年下半年", "sites": len(private), "met": 3, "pending": len(private) - 3, "failed": 0},
        {"clause": "S-4c", "rule": "每年开展一次民主评议党员", "title": "国企民主评议党员",
         "applies": "国企", "period": "2026年度", "sites": len(soe), "met": 2, "pending": len(soe) - 2, "failed": 0},
    ]
    return {
        "office_name": OFFICE,
        "addressee": ADDRESSEE,
        "report_date": "2026-11-06",
        "as_of": "2026-11-06",
        "month": "2026-10",
        "rule_basis": "2026版",
        "deadline": "2026-11-05",
        "quarter_label": "第四季度",
        "quarter_end": "2026-12-31",
        "overview": {"units": len(UNITS), "sites": len(sites), "soe_sites": len(soe), "private_sites": len(private),
                     "reported_sites": len(sites), "unreported_sites": 0, "sites_note": ""},
        "unreported_sites": [],
        "submission": submission,
        "unit_rows": unit_rows,
        "contact_summary": summary,
        "staff_rows": staff_rows,
        "unassigned_sites": len(unassigned),
        "site_rows": site_rows,
        "sites_no_contact": no_contact,
        "sites_no_visit": no_visit,
        "team": {"soe_sites": len(soe), "cross_sites": 6, "cross_posts": 19, "private_sites": len(private)},
        "members": {"total": sum(s["members"] for s in sites), "new": 7, "new_workers": 4,
                    "new_intellectuals": 2, "activists": 31, "mobile": 9, "mobile_managed": 8,
                    "duty_zones": 42, "six_ones": 96},
        "org_life": {"total": sum(by_kind.values()), "by_kind": org_rows},
        "frequency_rows": frequency_rows,
        "hardware": {"sites": len(sites), "complete": len(sites) - len(hardware_rows),
                     "incomplete": len(hardware_rows)},
        "hardware_rows": hardware_rows,
        "hardware_gaps": "缺少照相机的1个，活动室面积不足50㎡的1个，缺少VCD机的1个，缺少资料柜的1个，"
                         "缺少室外固本强基宣传栏的1个，缺少组合音响的1个",
        "findings": findings,
        "finding_counts": _finding_counts(findings),
        "reported_problems": [
            {"unit": "长乐区", "site": "长乐纺织集团党委", "text": "三班倒生产，党员集中学习时间难以统一。"},
            {"unit": "福清市", "site": "福清玻璃制品公司联合党支部", "text": "党员活动室与职工之家合用，面积不足。"},
            {"unit": "市国资委党委", "site": "榕城城建集团党委", "text": "项目部分散在外地，流动党员管理难度较大。"},
        ],
        "problem_rows": [
            {"unit": "福清市", "site": "福清玻璃制品公司联合党支部", "problem": "党员活动室面积不足", "found": "2026-09-18",
             "deadline": "由10月30日\n延至11月30日", "extended": True, "shortened": False, "state": "正在整改", "overdue": False},
            {"unit": "长乐区", "site": "长乐纺织集团党委", "problem": "“三会一课”记录不够规范", "found": "2026-09-10",
             "deadline": "10月31日", "extended": False, "shortened": False, "state": "逾期办结", "overdue": False},
        ],
        "problem_counts": {"total": 2, "closed": 1, "closed_late": 1, "open": 1, "overdue": 0, "extended": 1, "shortened": 0},
        "quality_rows": [
            {"code": "members-unexplained", "unit": "长乐区", "site": "长乐纺织集团党委", "title": "党员总数变化无法解释",
             "message": "党员总数由上月46人变为58人，本月发展党员1人、转出或纳入社区管理0人，有11人的变化无法解释（允许相差2人）"},
            {"code": "copied-sheet", "unit": "福清市", "site": "", "title": "疑似照抄上月",
             "message": "“工作进展”表与上月内容完全相同（日期除外），疑似照抄上月"},
        ],
        "quality_units": 2,
        "progress": [
            {"text": "按工作方案推进示范点创建，完善党员活动室", "sites": "榕城区榕城电子科技有限公司党支部、长乐区长乐纺织集团党委",
             "count": 2},
            {"text": "开展党员先锋岗创建，划分党员责任区", "sites": "福清市福清玻璃制品公司联合党支部", "count": 1},
        ],
        "plans": [
            {"text": "11月召开党员大会，审议示范点建设方案", "sites": "榕城区榕城电子科技有限公司党支部", "count": 1},
            {"text": "分班次开展“三会一课”，建立线上学习群", "sites": "长乐区长乐纺织集团党委", "count": 1},
            {"text": "协调企业腾出独立用房，扩建党员活动室", "sites": "福清市福清玻璃制品公司联合党支部", "count": 1},
        ],
        "next_steps": [
            "督促罗源县尽快补报10月月报表，闽江县今后按时报送。",
            f"企业组各成员在第四季度结束前对尚未现场指导的{len(no_visit)}个示范点开展现场指导。",
            "指导各示范点11月30日前完成建设方案制订并上报企业组，12月全面开展工作。",
            f"对硬件设施不达标的{len(hardware_rows)}个示范点逐一跟踪整改，年底前补齐。",
        ],
        "charts": {
            "chart_submission": {"kind": "bar", "title": "2026年10月各单位报送情况",
                                 "labels": ["按时报送", "逾期报送", "未报送"],
                                 "values": [submission["on_time"], submission["late"], submission["missing"]],
                                 "ylabel": "单位数（个）"},
            "chart_contacts": {"kind": "grouped_bar", "title": "2026年10月企业组成员联系指导次数",
                               "labels": [r["staff"] for r in staff_rows],
                               "series": {"电话联系": [r["phone"] for r in staff_rows],
                                          "现场指导": [r["onsite"] for r in staff_rows],
                                          "座谈会": [r["meeting"] for r in staff_rows]},
                               "ylabel": "次数"},
        },
    }


# --- 半年工作报告 ------------------------------------------------------------
def _half_year() -> dict:
    sites = _sites()
    soe = [s for s in sites if s["kind"] == "国企"]
    private = [s for s in sites if s["kind"] == "非公"]
    months = ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
    contacts_per_month = [0, 0, 9, 21, 24, 26]
    onsite_per_month = [0, 0, 3, 6, 7, 9]
    meeting_per_month = [0, 0, 1, 2, 3, 3]
    site_paths = []
    for s in sites:
        if not s["plan_date"]:
            plan_status, start, status = "未上报", "", "尚未上报工作方案"
        else:
            plan_status = "按期上报" if s["plan_date"] <= "2026-11-30" else "逾期上报"
            start, status = "2026-12", "已开展工作"
        site_paths.append({"unit": s["unit"], "site": s["site"], "kind": s["kind"],
                           "contact_date": s["contact_date"], "plan_date": s["plan_date"],
                           "plan_status": plan_status, "first_contact": "2026-09-08", "first_visit": "2026-09-21",
                           "months_reported": 6, "months_due": 6, "activities": 9,
                           "start_month": start, "status": status,
                           "progress": "2026年12月起开展工作" if start else status})
    compliance_rows = []
    for clause, rule, applies, period, total, met, failed in [
        ("M-1b", "每月沟通联系", "示范点", "7—12月", len(sites), 11, 3),
        ("M-1c", "每季度现场指导", "示范点", "第三、四季度", len(sites), 12, 2),
        ("S-4a", "国企民主生活会", "国企示范点", "下半年", len(soe), 7, 1),
        ("S-4b", "国企党支部组织生活", "国企示范点", "第三、四季度", len(soe), 6, 2),
        ("N-4a", "非公党支部党员大会", "非公示范点", "第三、四季度", len(private), 5, 1),
        ("N-4b", "非公民主生活会", "非公示范点", "下半年", len(private), 6, 0),
        ("N-5", "非公企业硬件设施", "非公示范点", "截至12月底", len(private), 4, 2),
    ]:
        compliance_rows.append({"clause": clause, "rule": rule, "applies": applies, "period": period,
                                "sites": total, "met": met, "failed": failed, "at_risk": total - met - failed,
                                "no_data": 0, "rate": met / total})
    findings = [f for f in _findings() if f["status"] == "未达标"]
    plan_counts = Counter(p["plan_status"] for p in site_paths)
    return {
        "office_name": OFFICE,
        "addressee": ADDRESSEE,
        "report_date": "2027-01-08",
        "half": "2026-H2",
        "half_label": "2026年下半年",
        "next_label": "明年上半年",
        "rule_basis": "2026版",
        "first_month": months[0],
        "last_month": months[-1],
        "overview": {"units": len(UNITS), "sites": len(sites), "soe_sites": len(soe),
                     "private_sites": len(private), "staff": len(STAFF), "sites_note": "",
                     "staff_assigned": len({s["staff"] for s in sites if s["staff"]}),
                     "sites_assigned": sum(bool(s["staff"]) for s in sites),
                     "sites_unassigned": sum(not s["staff"] for s in sites),
                     "contacts": sum(contacts_per_month), "onsite": sum(onsite_per_month),
                     "meeting": sum(meeting_per_month), "visits": sum(onsite_per_month) + sum(meeting_per_month),
                     "months_reported": 68, "months_due": 72},
        "goods": [
            {"name": "班子建设好", "text": "国企示范点中有6个实行“双向进入、交叉任职”，交叉任职19人；14个示范点均配齐党组织书记。"},
            {"name": "工作业绩好", "text": "示范点所在企业党员责任区达42个，非公企业示范点参加“六个一”活动党员96人。"},
            {"name": "群众评价好", "text": "下半年已有9个示范点开展民主评议党员，其余示范点计划于2027年1月完成。"},
        ],
        "pillars": [
            {"name": "强有力的领导班子", "text": "14个示范点党组织班子健全，书记均由企业负责人或管理层党员担任。"},
            {"name": "先锋模范党员队伍", "text": "下半年共发展党员18名，其中一线工人11名；现有入党积极分子31名。"},
            {"name": "有效活动机制", "text": "各示范点共开展主题党日61次、党课38次。"},
            {"name": "一套工作制度", "text": "党员大会、组织生活会、党纪教育等制度按季度执行率为78.6%。"},
            {"name": "完善的硬件设施", "text": "11个示范点硬件设施达到“十二个有”或“十个一”标准，3个示范点正在整改。"},
        ],
        "site_paths": site_paths,
        "plan_counts": {"on_time": plan_counts["按期上报"], "late": plan_counts["逾期上报"],
                        "missing": plan_counts["未上报"]},
        "work_started": sum(p["status"] == "已开展工作" for p in site_paths),
        "plan_deadline": "2026-11-30",
        "work_start": "2026-12-01",
        "compliance_rows": compliance_rows,
        "typical_sites": [
            {"unit": "市交通运输局党委", "site": "榕城公交集团党委",
             "practice": "在每条线路设立党员责任区，党员驾驶员挂牌上岗，线路投诉量同比下降三成。"},
            {"unit": "榕城区", "site": "闽榕食品集团党委",
             "practice": "推行党建带工建、团建，以“六个一”活动带动职工技能比武。"},
        ],
        "findings": findings,
        "finding_counts": _finding_counts(findings),
        "worst_problems": ["福清市福清玻璃制品公司联合党支部“党员活动室面积不足”逾期38天"],
        "reported_problems": [
            {"unit": "长乐区", "site": "长乐纺织集团党委", "text": "三班倒生产，党员集中学习时间难以统一。"},
            {"unit": "福清市", "site": "福清玻璃制品公司联合党支部", "text": "党员活动室与职工之家合用，面积不足。"},
        ],
        "next_steps": [
            "一季度内完成全部示范点民主评议党员工作。",
            "督促未上报方案的示范点1月底前上报工作方案。",
            "总结推广榕城公交集团党委等示范点的经验做法。",
        ],
        "plans": [{"text": "召开年度民主评议党员大会", "sites": "榕城区榕城电子科技有限公司党支部等3个示范点"},
                  {"text": "完善党员活动室资料柜和书柜", "sites": "福清市福清玻璃制品公司联合党支部"}],
        "charts": {
            "chart_contacts_month": {"kind": "line", "title": "2026年下半年各月联系指导次数",
                                     "labels": [f"{int(m[5:])}月" for m in months],
                                     "series": {"联系指导合计": contacts_per_month,
                                                "其中现场指导和座谈会": [a + b for a, b in
                                                                 zip(onsite_per_month, meeting_per_month, strict=True)]},
                                     "ylabel": "次数"},
            "chart_compliance": {"kind": "rows", "max": 100, "title": "2026年下半年各项要求达标率（%）",
                                 "labels": [r["rule"] for r in compliance_rows],
                                 "values": [round(r["rate"] * 100, 1) for r in compliance_rows],
                                 "ylabel": "达标率（%）"},
        },
    }


# --- 年度工作总结 -------------------------------------------------------------
def _year() -> dict:
    sites = _sites()
    soe = [s for s in sites if s["kind"] == "国企"]
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    contacts = [0, 0, 0, 0, 0, 0, 0, 0, 9, 21, 24, 26]
    onsite = [0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 10, 12]
    clause_rows = []
    for clause, rule, applies, period, items, met, failed in [
        ("M-1b", "每月沟通联系", "全部", "2026年9月至2026年12月", 52, 47, 5),
        ("M-1c", "每季度现场指导", "全部", "2026年第三季度、2026年第四季度", 28, 25, 3),
        ("S-4b", "国企党支部组织生活", "国企", "2026年第三季度、2026年第四季度", 16, 12, 4),
        ("N-4c", "非公民主评议和党纪教育", "非公", "2026年度", 6, 5, 1),
        ("M-4b", "每月汇报", "各单位", "2026年9月至2026年12月", 48, 44, 4),
    ]:
        clause_rows.append({"clause": clause, "rule": rule, "applies": applies, "period": period, "judged": items,
                            "met": met, "failed": failed, "at_risk": 0, "rate": met / items})
    totals = {k: sum(r[k] for r in clause_rows) for k in ("judged", "met", "failed", "at_risk")}
    totals["rate"] = totals["met"] / totals["judged"]
    site_rows = [{"unit": s["unit"], "site": s["site"], "kind": s["kind"], "judged": 9, "met": 8 if i % 3 else 9,
                  "failed": 1 if i % 3 else 0, "at_risk": 0, "rate": (8 if i % 3 else 9) / 9,
                  "short": "每季度现场指导" if i % 3 else "无", "shared": False,
                  "subjects": [[s["unit"], s["site"]]]} for i, s in enumerate(sites)]
    unit_rows = [{"unit": name, "due": 4, "on_time": 3 if i % 4 == 1 else 4, "late": 1 if i % 4 == 1 else 0,
                  "missing": 0} for i, (name, *_rest) in enumerate(UNITS)]
    findings = [f for f in _findings() if f["status"] == "未达标"]
    return {
        "office_name": OFFICE,
        "addressee": ADDRESSEE,
        "report_date": "2027-01-08",
        "as_of": "2027-01-08",
        "year": "2026",
        "year_label": "2026年度",
        "first_month": months[0],
        "last_month": months[-1],
        "rule_basis": "2026版",
        "overview": {"units": len(UNITS), "sites": len(sites), "soe_sites": len(soe),
                     "private_sites": len(sites) - len(soe), "staff": len(STAFF), "months_due": 11, "sites_note": "",
                     "contacts": sum(contacts), "onsite": sum(onsite),
                     "staff_assigned": len({s["staff"] for s in sites if s["staff"]}),
                     "sites_assigned": sum(bool(s["staff"]) for s in sites),
                     "sites_unassigned": sum(not s["staff"] for s in sites),
                     "staff_without_site": len({n for _, n in STAFF} - {s["staff"] for s in sites})},
        "submission": {k: sum(r[k] for r in unit_rows) for k in ("due", "on_time", "late", "missing")},
        "unit_rows": unit_rows,
        "clause_rows": clause_rows,
        "achievements": [
            {"name": "联系指导", "text": f"企业组成员全年联系指导示范点{sum(contacts)}次（上年2025年9月至12月为38次），"
                                     f"其中现场指导和座谈会{sum(onsite)}次（上年2025年9月至12月为15次），联系到"
                                     f"{len(sites)}个示范点。"},
            {"name": "组织生活", "text": "各示范点全年开展组织生活96次，其中党员大会24次、组织生活会24次、党纪教育18次。"},
            {"name": "党员队伍", "text": "各示范点全年发展党员12名，其中一线工人7名。"},
            {"name": "制度落实", "text": f"对照实施意见各项要求，已有结论的{totals['judged']}项次中达标{totals['met']}项次，"
                                     f"达标率{totals['met'] / totals['judged'] * 100:.1f}%；3个示范点全年各项要求全部达标。"},
        ],
        "typical_sites": [
            {"unit": sites[0]["unit"], "site": sites[0]["site"],
             "practice": "在每条线路设立党员责任区，党员驾驶员挂牌上岗。开展“党员先锋车”评比，线路投诉量同比下降三成。"},
        ],
        "weak_rules": "国企党支部组织生活4项次、每季度现场指导3项次",
        "totals": totals,
        "site_rows": site_rows,
        "site_totals": {"sites": len(site_rows), "shared": sum(r["shared"] for r in site_rows),
                        **{k: sum(r[k] for r in site_rows) for k in ("judged", "met", "failed", "at_risk")}},
        "problem_counts": {"total": 6, "closed": 4, "closed_late": 1, "open": 1, "overdue": 1, "extended": 1},
        "findings": findings,
        "finding_counts": _finding_counts(findings),
        "next_steps": ["2027年第一季度内完成全部示范点民主评议党员工作。", "督促逾期未整改的问题尽快整改到位。"],
        "charts": {
            "chart_contacts_month": {"kind": "line", "title": "2026年度各月联系指导次数",
                                     "labels": [f"{int(m[5:])}月" for m in months],
                                     "series": {"联系指导": contacts, "其中现场指导和座谈会": onsite},
                                     "ylabel": "次数"},
            "chart_compliance": {"kind": "rows", "max": 100, "title": "2026年度各项要求达标率（%）",
                                 "labels": [r["rule"] for r in clause_rows],
                                 "values": [round(r["rate"] * 100, 1) for r in clause_rows],
                                 "ylabel": "达标率（%）"},
        },
    }


# --- 分组情况一览表 -----------------------------------------------------------
def _assignment() -> dict:
    sites = _sites()
    deadline = "2026-10-01"
    groups = {name: group for group, name in STAFF}
    rows = []
    for group, name in STAFF:
        for s in sites:
            if s["staff"] != name:
                continue
            late = s["contact_date"] >= deadline
            rows.append({"group": group, "staff": name, "unit": s["unit"], "site": s["site"],
                         "kind": s["kind"], "secretary": s["secretary"], "members": s["members"],
                         "contact_date": s["contact_date"], "note": "确定联系晚于规定时间" if late else ""})
    staff_without = [{"group": g, "staff": n} for g, n in STAFF if not any(r["staff"] == n for r in rows)]
    for item in staff_without:
        rows.append({"group": item["group"], "staff": item["staff"], "unit": "", "site": "", "kind": "",
                     "secretary": "", "members": "", "contact_date": "", "note": "未确定联系示范点"})
    sites_without = [{"unit": s["unit"], "site": s["site"]} for s in sites if not s["staff"]]
    for s in sites:
        if not s["staff"]:
            rows.append({"group": "未分组", "staff": "未确定", "unit": s["unit"], "site": s["site"],
                         "kind": s["kind"], "secretary": s["secretary"], "members": s["members"],
                         "contact_date": "", "note": "未确定企业组联系人员"})
    order = {g: i for i, g in enumerate(dict.fromkeys(g for g, _ in STAFF))}
    staff_order = {n: i for i, (_, n) in enumerate(STAFF)}
    rows.sort(key=lambda r: (order.get(r["group"], 99), staff_order.get(r["staff"], 99)))
    late = [{"staff": s["staff"], "unit": s["unit"], "site": s["site"], "contact_date": s["contact_date"]}
            for s in sites if s["staff"] and s["contact_date"] >= deadline]
    assigned = [s for s in sites if s["staff"]]
    return {
        "office_name": OFFICE,
        "report_date": "2026-11-06",
        "year": 2026,
        "deadline": deadline,
        "rows": rows,
        "counts": {"groups": len(order), "staff": len(groups), "units": len({s["unit"] for s in sites}),
                   "sites": len(sites), "assigned_sites": len(assigned)},
        "staff_without_site": staff_without,
        "sites_without_staff": sites_without,
        "late_contacts": late,
    }


# --- 示范点档案 --------------------------------------------------------------
def _dossier() -> dict:
    s = _sites()[1]  # 闽榕食品集团党委
    return {
        "office_name": OFFICE,
        "report_date": "2026-12-08",  # November was due on 12-05 and did not arrive
        "site": {"name": s["site"], "enterprise": s["enterprise"], "kind": s["kind"], "unit": s["unit"],
                 "org_name": "中共闽榕食品集团有限公司委员会", "org_kind": "党委", "formation": "单独组建",
                 "secretary": s["secretary"], "members": s["members"], "employees": 1260, "level": "市级",
                 "staff": s["staff"], "contact_date": s["contact_date"], "plan_date": s["plan_date"]},
        "first_month": "2026-09",
        "last_month": "2026-11",
        "missing_months": ["2026-11"],
        "missing_note": "榕城区2026年11月的月报表未报送，档案中这些月份记为“本月未报送”。",
        "timeline": [
            {"month": "2026-09", "missing": "",
             "contacts": [{"date": "2026-09-08", "staff": "陈明", "mode": "现场指导",
                           "content": "与榕城区委组织部共同确定联系示范点，了解企业党建基本情况"}],
             "org_life": [{"date": "2026-09-26", "kind": "党员大会", "verb": "召开", "present": 41,
                           "expected": 46}],
             "members": "党员46名，入党积极分子5名，本月未发展党员。",
             "hardware": "党员活动室80㎡，“十个一”项目齐全。",
             "progress": "成立示范点创建工作小组，制定创建时间表。",
             "problems": ""},
            {"month": "2026-10", "missing": "",
             "contacts": [{"date": "2026-10-10", "staff": "陈明", "mode": "电话联系",
                           "content": "了解创建方案起草进度"},
                          {"date": "2026-10-23", "staff": "陈明", "mode": "座谈会",
                           "content": "召开车间党小组长座谈会，听取对方案的意见"}],
             "org_life": [{"date": "2026-10-12", "kind": "主题党日", "verb": "开展", "present": 38, "expected": 46},
                          {"date": "2026-10-25", "kind": "“六个一”活动", "verb": "开展", "present": 29,
                           "expected": 46}],
             "members": "党员46名，本月发展党员1名（一线工人），入党积极分子6名。",
             "hardware": "无变化。",
             "progress": "完成创建方案初稿，开展“六个一”技能比武。",
             "problems": "部分车间实行倒班，集中学习人数不齐。"},
            {"month": "2026-11", "missing": "本月未报送。", "contacts": [], "org_life": [], "members": "",
             "hardware": "", "progress": "", "problems": ""},
        ],
        "compliance_rows": [
            {"clause": "M-1a", "rule": "确定联系示范点", "period": "2026年", "status": "达标",
             "evidence": "2026年9月8日确定联系", "month": ""},
            {"clause": "M-1b", "rule": "每月沟通联系", "period": "2026年10月", "status": "达标",
             "evidence": "联系2次", "month": "2026-10"},
            {"clause": "M-1b", "rule": "每月沟通联系", "period": "2026年11月", "status": "本月未报送",
             "evidence": "本月未报送", "month": "2026-11"},
            {"clause": "M-1c", "rule": "每季度现场指导", "period": "2026年第四季度", "status": "达标",
             "evidence": "10月23日座谈会", "month": ""},
            {"clause": "N-4a", "rule": "非公党支部党员大会", "period": "2026年第四季度", "status": "待完成",
             "evidence": "本季度尚未召开党员大会", "month": ""},
            {"clause": "N-5", "rule": "非公企业硬件设施", "period": "截至2026年10月", "status": "达标",
             "evidence": "活动室80㎡，十项齐全", "month": ""},
        ],
        "summary": {"months": 3, "reported": 2, "unreported": ["2026年11月"], "met": 4, "failed": 0, "at_risk": 1,
                    "failed_rules": [], "open_problems": ["部分车间实行倒班，集中学习人数不齐"],
                    "month_list": [{"month": "2026-09", "state": "已报送"}, {"month": "2026-10", "state": "已报送"},
                                   {"month": "2026-11", "state": "本月未报送"}]},
        "sources": [
            {"file_name": "榕城区-2026-09月报表.xlsx", "month": "2026-09", "received": "2026-10-04",
             "digest": "3f9a1c0e7b2d"},
            {"file_name": "榕城区-2026-10月报表.xlsx", "month": "2026-10", "received": "2026-11-03",
             "digest": "b81e44d90a6c"},
        ],
    }


# --- 催报名单 ----------------------------------------------------------------
def _reminder() -> dict:
    as_of = dt.date(2026, 11, 9)
    deadline = dt.date(2026, 11, 5)
    units = {u[0]: u for u in UNITS}
    rows = []
    for name, state in (("罗源县", "未报送"), ("市住建局党委", "已退回待重报")):
        _, kind, contact, phone = units[name]
        rows.append({"unit": name, "kind": kind, "contact": contact, "phone": phone,
                     "deadline": deadline.isoformat(), "status": state,
                     "overdue_days": (as_of - deadline).days})
    return {
        "office_name": OFFICE,
        "report_date": as_of.isoformat(),
        "month": "2026-10",
        "deadline": deadline.isoformat(),
        "as_of": as_of.isoformat(),
        "rows": rows,
        "counts": {"due": len(UNITS), "submitted": len(UNITS) - len(rows), "late": 0,
                   "missing": sum(r["status"] == "未报送" for r in rows),
                   "rejected": sum(r["status"] == "已退回待重报" for r in rows)},
    }


_BUILDERS = {"monthly_report": _monthly, "half_year_report": _half_year, "year_report": _year,
             "assignment_table": _assignment,
             "site_dossier": _dossier, "reminder_list": _reminder}


def sample_context(report_name: str) -> dict:
    """A realistic, self-consistent context for ``templates/<report_name>.docx``."""
    try:
        context = copy.deepcopy(_BUILDERS[report_name]())
    except KeyError:
        raise KeyError(f"没有名为“{report_name}”的报告；可选：{'、'.join(REPORT_NAMES)}") from None
    signable = _SIGNABLE.get(report_name)  # the conclusion and the one problem list, as consolidation adds them
    return {**context, **signable(context)} if signable else context


_SIGNABLE = {"monthly_report": signable.monthly, "half_year_report": signable.half_year, "year_report": signable.year}
