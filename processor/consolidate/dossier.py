"""A site's dossier (示范点档案): its record month by month, its compliance, its sources."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from processor.common import periods
from processor.consolidate.blocks import HARDWARE_CODES, STATUS_LABEL, UNASSIGNED, cell_text, count_of, iso_date
from processor.consolidate.findings import AT_RISK, FAILED, MET, Finding, LedgerData
from processor.consolidate.ledger_data import received_instant
from processor.consolidate.snapshot import Snapshot
from processor.schemas.layout import LAYOUT_BY_KEY as SHEETS_BY_KEY

_HW_NAMES = SHEETS_BY_KEY["hardware"].names


def dossier_span(data: LedgerData, rulebook, unit: str, site: str, as_of: dt.date) -> list[str]:
    """The months a dossier covers: from the site's first month to the last month due by the run's
    as-of day, so a month its unit did not report is shown as such instead of ending the dossier early.
    """
    months = sorted(r["month"] for r in data.site_records("sites", unit, site))
    if not months:
        raise KeyError(f"台账中没有{unit}的示范点“{site}”")
    last = max(months[-1], data.until or periods.last_due_month(as_of, rulebook.submission_deadline_day))
    due = [m for m in periods.month_range(months[0], last)
           if periods.submission_deadline(m, rulebook.submission_deadline_day) < as_of]
    return periods.month_range(months[0], max([months[-1], *due]))


def evaluate_dossiers(snapshot: Snapshot, site_keys: list[tuple[str, str]], *, until: str | None = None) -> None:
    """Evaluate the dossiers' findings ahead: one evaluation per span of months for all the units
    whose sites share it, instead of one evaluation per unit (:meth:`Snapshot.findings_per_unit`)."""
    groups: dict[tuple, list[str]] = {}
    data = snapshot.view(until=until)
    for unit, site in site_keys:
        span = tuple(dossier_span(data, snapshot.rulebook, unit, site, snapshot.as_of))
        units = groups.setdefault(span, [])
        if unit not in units:
            units.append(unit)
    for span, units in groups.items():
        snapshot.findings_per_unit(span, units, until=until)


def dossier_context(snapshot: Snapshot, unit: str, site: str, *, until: str | None = None) -> dict:
    """One site's dossier from the data up to ``until``, as of the run's as-of day (SPEC §10)."""
    rulebook, as_of = snapshot.rulebook, snapshot.as_of
    # the view's rows of the site (its per-site index) and the unit's arrivals: nothing copied per dossier
    data = snapshot.view(until=until)
    files = snapshot.unit_files(unit, until=until)
    rows = sorted(data.site_records("sites", unit, site), key=lambda r: r["month"])
    if not rows:
        raise KeyError(f"台账中没有{unit}的示范点“{site}”")
    span = dossier_span(data, rulebook, unit, site, as_of)
    latest = rows[-1]
    findings = [f for f in snapshot.findings(span, until=until, units=[unit]) if f.site == site]
    listed = {r["month"] for r in rows}
    gaps = _unreported(files, unit, [m for m in span if m not in listed])
    missing_months = [m for m in span if gaps.get(m) == NOT_REPORTED]
    compliance = _dossier_compliance(findings)
    compliance = _with_unreported_months(compliance, gaps)
    return {
        "office_name": snapshot.ws.office_name,
        "report_date": as_of.isoformat(),
        "site": _site_card(latest, unit, site),
        "first_month": span[0],
        "last_month": span[-1],
        "missing_months": missing_months,
        "missing_note": (f"{unit}{'、'.join(periods.month_cn(m) for m in missing_months)}的月报表未报送，"
                         f"档案中{'该月' if len(missing_months) == 1 else '这些月份'}记为“本月未报送”。"
                         if missing_months else ""),
        "timeline": _timeline(data, rulebook, unit, site, span, gaps, latest["enterprise_kind"]),
        "compliance_rows": compliance,
        "summary": _summary(span, gaps, compliance, findings),
        "sources": _sources(files, rulebook, {r["file_id"] for r in rows}),
    }


def _site_card(latest: dict, unit: str, site: str) -> dict:
    """The site as its latest form describes it."""
    return {"name": site, "enterprise": cell_text(latest["enterprise"]), "kind": latest["enterprise_kind"],
            "unit": unit, "org_name": cell_text(latest["org_name"]), "org_kind": cell_text(latest["org_kind"]),
            "formation": cell_text(latest["formation"]), "secretary": cell_text(latest["secretary"]),
            "members": count_of(latest["members"]), "employees": count_of(latest["employees"]),
            "level": cell_text(latest["level"]), "staff": cell_text(latest["staff"]) or UNASSIGNED,
            "contact_date": iso_date(latest["contact_date"]), "plan_date": iso_date(latest["plan_date"])}


def _timeline(data: LedgerData, rulebook, unit: str, site: str, span: list[str], gaps: dict[str, str],
              kind: str) -> list[dict]:
    """One entry per month of the span: what the site recorded, or why there is nothing."""
    # the site's rows of each sheet, split by month once (not one filtered list per month and sheet)
    by_month = {key: _records_by_month(data.site_records(key, unit, site), by_date)
                for key, by_date in (("hardware", False), ("progress", False), ("members", False),
                                     ("contacts", True), ("org_life", True))}
    timeline, previous_hw = [], None
    for month in span:
        if month in gaps:
            timeline.append({**_EMPTY_MONTH, "month": month, "missing": gaps[month]})
            continue
        hw = by_month["hardware"].get(month, [])
        hw_text, previous_hw = _hardware_sentence(hw[0] if hw else None, previous_hw, kind, rulebook.at(month))
        timeline.append(_month_entry(month, {key: rows.get(month, []) for key, rows in by_month.items()}, hw_text))
    return timeline


def _month_entry(month: str, rows: dict[str, list[dict]], hardware: str) -> dict:
    """One reported month of the timeline (``rows``: the site's rows of each sheet in that month)."""
    progress, contacts, members = rows["progress"], rows["contacts"], rows["members"]
    problems, seen = [], set()
    for p in progress:
        text = _clause(cell_text(p["issues"]))
        if text and text not in seen:
            seen.add(text)
            problems.append(text)
    for c in contacts:
        text = _clause(cell_text(c["problem"]))
        if text and text not in seen:  # a problem the unit also wrote under 存在问题 is named once
            seen.add(text)
            problems.append(f"联系指导发现：{text}（{cell_text(c['state']) or '未办结'}）")
    return {
        "month": month,
        "missing": "",
        "contacts": [{"date": iso_date(c["date"]), "staff": cell_text(c["staff"]), "mode": cell_text(c["mode"]),
                      "content": _clause(cell_text(c["content"]))} for c in contacts],
        "org_life": [{"date": iso_date(r["date"]), "kind": r["activity"], "verb": activity_verb(r["activity"]),
                      "present": count_of(r["present"]),
                      "expected": count_of(r["expected"])}
                     for r in rows["org_life"]],
        "members": _members_sentence(members[0]) if members else "本月未报送党员队伍情况。",
        "hardware": hardware,
        "progress": sentence(cell_text(progress[0]["progress"])) if progress else "",
        "problems": sentence("；".join(problems)),
    }


_END_MARKS = "。！？"
_SOFT_MARKS = "，、；：,;:. "


def _clause(text: str) -> str:
    """A phrase without its closing punctuation, to be joined with others."""
    return text.strip().rstrip(_END_MARKS + _SOFT_MARKS)


def sentence(text: str) -> str:
    """``text`` as a sentence: closed by "。" (a trailing comma or semicolon replaced), "" kept empty."""
    text = text.strip()
    if not text or text[-1] in _END_MARKS or text.endswith(("。”", "！”", "？”", "。）")):
        return text
    return text.rstrip(_SOFT_MARKS) + "。"


def activity_verb(kind: str) -> str:
    """召开 a meeting (党员大会, 组织生活会 …), 开展 anything else (党纪教育, 党员培训, 主题党日 …)."""
    return "召开" if str(kind).endswith("会") else "开展"


def _with_unreported_months(rows: list[dict], gaps: dict[str, str]) -> list[dict]:
    """The compliance lines with every month the unit did not report stated as 本月未报送 under each
    monthly requirement (or under 按月报送月报表 when the site has none), instead of being left out."""
    if not gaps:
        return rows
    monthly: dict[str, dict] = {}
    for row in rows:
        if row.get("month"):
            monthly.setdefault(row["clause"], row)
    out = list(rows)
    for month, why in sorted(gaps.items()):
        status = NOT_REPORTED.rstrip("。")
        evidence = why.rstrip("。")
        if not monthly:
            out.append({"clause": "", "rule": "按月报送月报表", "period": periods.month_cn(month),
                        "status": status, "evidence": evidence, "month": month})
            continue
        for clause, model in monthly.items():
            if any(r["clause"] == clause and r.get("month") == month for r in out):
                continue
            line = {"clause": clause, "rule": model["rule"], "period": periods.month_cn(month), "status": status,
                    "evidence": evidence, "month": month}
            last = max(i for i, r in enumerate(out) if r["clause"] == clause and (r.get("month") or "") < month) \
                if any(r["clause"] == clause and (r.get("month") or "") < month for r in out) else \
                max(i for i, r in enumerate(out) if r["clause"] == clause)
            out.insert(last + 1, line)
    return out


def _summary(span: list[str], gaps: dict[str, str], rows: list[dict], findings: list[Finding]) -> dict:
    """The site at a glance: months reported, requirements met or failed, the problems still open."""
    unreported = [m for m in span if m in gaps]
    judged = [r for r in rows if r["status"] in _WORST]
    failed = [r for r in judged if r["status"] == "未达标"]
    open_problems = []
    for f in findings:
        if f.problem and f.is_open and _clause(f.problem) not in open_problems:
            open_problems.append(_clause(f.problem))
    failed_rules = list(dict.fromkeys(r["rule"] for r in failed))
    return {
        "months": len(span),
        "reported": len(span) - len(unreported),
        "unreported": [periods.month_cn(m) for m in unreported],
        "month_list": [{"month": m, "state": gaps[m].rstrip("。") if m in gaps else "已报送"} for m in span],
        "met": sum(r["status"] == "达标" for r in judged),
        "failed": len(failed),
        "at_risk": sum(r["status"] == STATUS_LABEL[AT_RISK] for r in judged),
        "failed_rules": failed_rules,
        "open_problems": open_problems,
    }


def _sources(files: list[dict], rulebook, ids: set[int]) -> list[dict]:
    """The submissions among ``files`` that list the site (``ids``), in the order they arrived."""
    listed = [f for f in files if f["id"] in ids]
    return [{"file_name": f["original_name"], "month": f["month"],
             "received": rulebook.local_date(f["received_at"]).isoformat(), "digest": f["sha256"][:12]}
            for f in sorted(listed, key=lambda f: (received_instant(f, rulebook.timezone), f["id"]))]


NOT_REPORTED, RETURNED_NOTE, NOT_LISTED = "本月未报送。", "本月报表已被退回，尚未重新报送。", "本月报表未列入该示范点。"
_EMPTY_MONTH = {"contacts": [], "org_life": [], "members": "", "hardware": "", "progress": "", "problems": ""}


def _unreported(files: list[dict], unit: str, months: list[str]) -> dict[str, str]:
    """Why each month without a row for the site has none: not reported, returned, or the site left out."""
    out = {}
    for month in months:
        mine = [f for f in files if f["month"] == month and f["unit"] == unit]
        if any(f["status"] in ("accepted", "superseded") for f in mine):
            out[month] = NOT_LISTED
        elif any(f["status"] == "rejected" for f in mine):
            out[month] = RETURNED_NOTE
        else:
            out[month] = NOT_REPORTED
    return out


def _status_label(f: Finding) -> str:
    return STATUS_LABEL.get(f.status) or f.status_cn


_WORST = (STATUS_LABEL[FAILED], STATUS_LABEL[AT_RISK], STATUS_LABEL[MET])


def _is_month(period: str) -> bool:
    return len(period) == 7 and period[4] == "-" and period[5:].isdigit()


def _dossier_compliance(findings: list[Finding]) -> list[dict]:
    """One line per requirement and period: a hardware checklist and its room area are one requirement,
    so they share a line, the worse status deciding it."""
    rows, merged = [], {}
    for f in findings:
        row = {"clause": f.clause, "rule": f.title, "period": f.period_name, "status": _status_label(f),
               "evidence": f.evidence,
               "month": f.period if _is_month(f.period) and not f.problem and f.code not in HARDWARE_CODES else ""}
        if f.code not in HARDWARE_CODES:
            rows.append(row)
            continue
        key = (f.clause, f.period)
        if key not in merged:
            merged[key] = row
            rows.append(row)
            continue
        line = merged[key]
        line["evidence"] = f"{line['evidence']}；{f.evidence}"
        if line["status"] in _WORST and row["status"] in _WORST:
            line["status"] = min(line["status"], row["status"], key=_WORST.index)
    return rows


def _records_by_month(records: list[dict], by_date: bool) -> dict[str, list[dict]]:
    """Records grouped by month, each month in ledger order (or by date, then row)."""
    if by_date:
        records = sorted(records, key=lambda r: (r["date"] is None, r["date"] or dt.date.min, r["row"]))
    out: dict[str, list[dict]] = {}
    for record in records:
        out.setdefault(record["month"], []).append(record)
    return out


def _members_sentence(r: dict) -> str:
    text = (f"党员{count_of(r['total'])}名，本月发展党员{count_of(r['new_members'])}名（其中一线工人{count_of(r['new_workers'])}名、"
            f"知识分子/技术骨干{count_of(r['new_intellectuals'])}名），入党积极分子{count_of(r['activists'])}名，"
            f"流动党员{count_of(r['mobile'])}名（其中已转出或纳入社区管理{count_of(r['mobile_managed'])}名）。")
    return text


def _hardware_sentence(row: dict | None, previous: dict | None, kind: str, rulebook) -> tuple[str, dict | None]:
    """The month's hardware as the rule (S-5 / N-5) judges it: the checklist and, where the rule sets
    one, the room's minimum area."""
    if row is None:
        return "本月未报送硬件设施情况。", previous
    rule = rulebook.hardware_rule(kind)
    items = rule.params["items"] if rule else []
    state = {item: row.get(_HW_NAMES[item]) for item in items}
    area = row.get("room_area")
    area = None if area is None or pd.isna(area) else float(area)
    snapshot = {"state": state, "area": area}
    if previous is not None and previous == snapshot:
        return "无变化。", snapshot
    missing = [i for i, v in state.items() if v != "是"]
    need = float(rule.params["min_room_area"]) if rule and "min_room_area" in rule.params else None
    small = need is not None and (area is None or area < need)
    area_text = f"党员活动室{area:g}㎡" if area is not None else "未填写党员活动室面积"
    if small:
        area_text += f"，不足{need:g}㎡的要求" if area is not None else f"（要求不少于{need:g}㎡）"
    if not missing and not small:
        return f"{area_text}，{len(items)}项硬件设施齐全。", snapshot
    if small and not missing:
        return f"{area_text}；清单其余项目均已配备，硬件设施未达标。", snapshot
    return f"{area_text}；缺少{'、'.join(missing)}，硬件设施未达标。", snapshot
