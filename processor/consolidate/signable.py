"""What makes a report signable, built from the report's own context (the run's one snapshot).

* The conclusion paragraph that opens every report: the headline figures, the two or three most
  serious problems by name, and what the office asks of whom.
* One problem list: every item that fails a requirement, grouped by unit (the units with the most
  serious items first, within a unit a problem past its deadline first); items whose period has not
  ended (待完成) are counted apart, never listed with the failures.

Each function takes a report's context as its builder made it and returns the keys to add to it.
"""

from __future__ import annotations

import datetime as dt
import re

from processor.common import cnfmt
from processor.common import periods as P
from processor.consolidate.findings import AT_RISK, STATUS_CN
from processor.consolidate.findings import FAILED as _FAILED

FAILED, NOT_DUE = STATUS_CN[_FAILED], STATUS_CN[AT_RISK]  # 未达标, 待完成: the words every document uses
WORST = 3  # problems named in a conclusion
OVERDUE_DAYS = re.compile(r"逾期(\d+)天")
NAMED_UNITS = 3


SUBMISSION_CLAUSE = "M-4b"  # a unit's late or missing form: listed in the report's own 报送情况表


def problem_list(findings: list[dict], listed_elsewhere: tuple[str, ...] = ()) -> dict:
    """The annex's one list and its counts: ``problem_list`` [{unit, site, problem, rule, items}] (failures
    only, grouped by unit, the most serious first; a site's items under one requirement in one row, one
    item a line), ``problem_summary`` {failed, not_due, units, overdue}."""
    failed = [f for f in findings if f.get("status") == FAILED]
    listed = [f for f in failed if f.get("clause") not in listed_elsewhere]
    order: dict[str, int] = {}
    for f in listed:
        order.setdefault(f["unit"], len(order))

    def rank(f) -> int:
        return 0 if _overdue_thread(f) else 1

    by_unit: dict[str, list[dict]] = {}
    for f in listed:
        by_unit.setdefault(f["unit"], []).append(f)
    units = sorted(by_unit, key=lambda u: (min(rank(f) for f in by_unit[u]), -len(by_unit[u]), order[u]))
    rows: list[dict] = []
    for u in units:  # a site's items under one requirement share a row, one item a line
        merged: dict[tuple, dict] = {}
        for f in sorted(by_unit[u], key=rank):
            key = (f.get("site") or "", f.get("rule") or "")
            line = f.get("annex") or f.get("problem") or ""  # "annex": the item's shorter line for the list
            if key in merged:
                merged[key]["problem"] += "\n" + line
                merged[key]["items"] += 1
            else:
                merged[key] = {"unit": u, "site": key[0], "problem": line, "rule": key[1], "items": 1}
        rows.extend(merged.values())
    return {"problem_list": rows,
            "problem_summary": {"failed": len(failed), "not_due": sum(f.get("status") == NOT_DUE for f in findings),
                                "units": len({f["unit"] for f in failed}), "overdue": sum(_overdue_thread(f) for f in failed),
                                "elsewhere": len(failed) - len(listed)}}


def _overdue_thread(f: dict) -> bool:
    return f.get("status") == FAILED and "超过整改时限" in (f.get("problem") or "")


def _worst_threads(problem_rows: list[dict]) -> list[str]:
    """The problems longest past their deadline, by name: 福清市福清玻璃公司“活动室面积不足”逾期284天未办结."""
    overdue = [r for r in problem_rows if r.get("overdue")]
    overdue.sort(key=lambda r: -int((OVERDUE_DAYS.search(r.get("state") or "") or [0, 0])[1]))
    return [f"{r['unit']}{r['site']}{cnfmt.quote_cn(r['problem'])}{r['state']}" for r in overdue[:WORST]]


def _worst_units(rows: list[dict]) -> list[str]:
    """The units with the most failures, by name and count (for a period's reports)."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["unit"]] = counts.get(r["unit"], 0) + 1
    top = [kv for kv in sorted(counts.items(), key=lambda kv: -kv[1]) if kv[1] > 1][:WORST]
    return [f"{unit}未达标{n}项" for unit, n in top]


def _named(names: list[str]) -> str:
    if len(names) <= NAMED_UNITS:
        return cnfmt.join_cn(names)
    return f"{cnfmt.join_cn(names[:NAMED_UNITS])}等{len(names)}个单位"


def monthly(ctx: dict) -> dict:
    """The monthly report's conclusion and its one problem list."""
    added = problem_list(ctx["findings"], listed_elsewhere=(SUBMISSION_CLAUSE,))
    summary = added["problem_summary"]
    sub, contacts, problems = ctx["submission"], ctx["contact_summary"], ctx["problem_counts"]
    month = cnfmt.month_cn(ctx["month"])
    text = (f"总的看，{month}全市应报单位{sub['due']}个，按时报送{sub['on_time']}个、逾期报送{sub['late']}个、"
            f"未报送{sub['missing']}个" + (f"（{_named(sub['missing_units'])}）" if sub["missing_units"] else "")
            + f"；企业组成员联系指导示范点{contacts['total']}次，覆盖{contacts['sites_contacted']}个示范点。"
            f"对照实施意见，本月未达标事项{summary['failed']}项，涉及{summary['units']}个单位"
            + (f"（另有{summary['not_due']}项统计期尚未结束，不计为问题）" if summary["not_due"] else "")
            + f"；联系指导中发现的问题超过整改时限仍未办结{problems['overdue']}个。")
    worst = _worst_threads(ctx.get("problem_rows") or [])
    if worst:
        text += f"最突出的是{'；'.join(worst)}。"
    asks = []
    if sub["missing_units"]:
        asks.append(f"请{_named(sub['missing_units'])}尽快补报{month}月报表")
    overdue_units = list(dict.fromkeys(r["unit"] for r in ctx.get("problem_rows") or [] if r.get("overdue")))
    if overdue_units:
        asks.append(f"请{_named(overdue_units)}督促示范点限期整改逾期问题")
    no_contact = ctx.get("sites_no_contact") or []
    if no_contact:
        asks.append(f"请分工联系的企业组成员尽快与本月未联系的{len(no_contact)}个示范点沟通联系")
    if asks:
        text += "；".join(asks) + "。"
    return {**added, "conclusion": text}


def barely_begun(period: P.Period, day) -> bool:
    """Whether less than half of ``period`` had passed on ``day``: its report is a 阶段情况."""
    day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
    return (day - period.start).days * 2 < (period.end - period.start).days + 1


def half_year(ctx: dict) -> dict:
    added = problem_list(ctx["findings"])
    added["stage"] = barely_begun(P.parse_half(ctx["half"]), ctx["report_date"])
    summary = added["problem_summary"]
    o = ctx["overview"]
    text = (f"总的看，{ctx['half_label']}企业组{o['staff_assigned']}名同志分片联系{o['sites_assigned']}个示范点，"
            f"共联系指导{o['contacts']}次，其中现场指导和座谈会{o['visits']}次；各单位应报月报表{o['months_due']}份，"
            f"实报{o['months_reported']}份。对照实施意见，未达标事项{summary['failed']}项，涉及{summary['units']}个单位"
            + (f"（另有{summary['not_due']}项统计期尚未结束，不计为问题）" if summary["not_due"] else "") + "。")
    return {**added, "conclusion": text + _worst_and_asks(added["problem_list"], ctx.get("next_steps") or [])}


def year(ctx: dict) -> dict:
    added = problem_list(ctx["findings"], listed_elsewhere=(SUBMISSION_CLAUSE,))
    added["stage"] = barely_begun(P.parse_year(ctx["year"]), ctx.get("as_of") or ctx["report_date"])
    summary = added["problem_summary"]
    o, sub, totals = ctx["overview"], ctx["submission"], ctx["totals"]
    text = (f"总的看，{ctx['year_label']}企业组成员联系指导示范点{o['contacts']}次，其中现场指导和座谈会{o['onsite']}次；"
            f"各单位应报月报表{sub['due']}份，按时报送{sub['on_time']}份、逾期报送{sub['late']}份、未报送{sub['missing']}份；"
            f"各项要求评价{totals['judged']}项次，达标率{cnfmt.pct(totals['rate'])}。对照实施意见，未达标事项"
            f"{summary['failed']}项，涉及{summary['units']}个单位"
            + (f"（另有{summary['not_due']}项统计期尚未结束，不计为问题）" if summary["not_due"] else "") + "。")
    return {**added, "conclusion": text + _worst_and_asks(added["problem_list"], ctx.get("next_steps") or [])}


def _worst_and_asks(rows: list[dict], next_steps: list[str]) -> str:
    text = ""
    worst = _worst_units(rows)
    if worst:
        text += f"问题较多的是{'、'.join(worst)}。"
    asks = [s.rstrip("。；") for s in next_steps[:2] if s]
    if asks:
        text += "下一步，" + "；".join(asks) + "。"
    return text
