"""A site's dossier (示范点档案): its record month by month, its compliance, its sources."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from processor.common import periods
from processor.consolidate.blocks import (STATUS_LABEL, UNASSIGNED, HARDWARE_CODES, cell_text, count_of, iso_date,
                                          scoped_data)
from processor.consolidate.findings import Finding, LedgerData, evaluate
from processor.consolidate.ledger_data import received_instant
from schemas.form import SHEETS_BY_KEY

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


def dossier_context(ledger, ws, roster, unit: str, site: str, today: dt.date, *,
                    findings_cache: dict | None = None) -> dict:
    """One site's dossier as of ``today`` (the run's as-of day).  ``findings_cache`` (one dict for the
    dossiers built from the same data) lets the sites of one unit share the unit's findings instead
    of evaluating them once per site."""
    rulebook = ws.rulebook
    data = ledger if _only_unit(ledger, unit) else scoped_data(ledger, units=[unit])
    rows = sorted(data.site_records("sites", unit, site), key=lambda r: r["month"])
    if not rows:
        raise KeyError(f"台账中没有{unit}的示范点“{site}”")
    as_of = today  # the run's as-of date (SPEC §10)
    span = dossier_span(data, rulebook, unit, site, as_of)
    latest = rows[-1]
    key = (unit, tuple(span), as_of)
    if findings_cache is not None and key in findings_cache:
        findings = findings_cache[key]
    else:
        findings = evaluate(data, rulebook, roster, months=span, today=as_of, units=[unit])
        if findings_cache is not None:
            findings_cache[key] = findings
    # the site's rows of each sheet, split by month once (not one filtered list per month and sheet)
    by_month = {key: _records_by_month(data.site_records(key, unit, site), by_date)
                for key, by_date in (("hardware", False), ("progress", False), ("members", False),
                                     ("contacts", True), ("org_life", True))}
    listed = {r["month"] for r in rows}
    gaps = _unreported(data.files, unit, [m for m in span if m not in listed])
    timeline, previous_hw = [], None
    for month in span:
        if month in gaps:
            timeline.append({**_EMPTY_MONTH, "month": month, "missing": gaps[month]})
            continue
        hw = by_month["hardware"].get(month, [])
        hw_text, previous_hw = _hardware_sentence(hw[0] if hw else None, previous_hw, latest["enterprise_kind"],
                                                  rulebook.at(month))
        progress = by_month["progress"].get(month, [])
        contacts = by_month["contacts"].get(month, [])
        problems = [cell_text(p["issues"]) for p in progress if cell_text(p["issues"])]
        problems += [f"联系指导发现：{cell_text(c['problem'])}（{cell_text(c['state']) or '未办结'}）"
                     for c in contacts if cell_text(c["problem"])]
        members = by_month["members"].get(month, [])
        timeline.append({
            "month": month,
            "missing": "",
            "contacts": [{"date": iso_date(c["date"]), "staff": cell_text(c["staff"]), "mode": cell_text(c["mode"]),
                          "content": cell_text(c["content"])} for c in contacts],
            "org_life": [{"date": iso_date(r["date"]), "kind": r["activity"], "present": count_of(r["present"]),
                          "expected": count_of(r["expected"])}
                         for r in by_month["org_life"].get(month, [])],
            "members": _members_sentence(members[0]) if members else "本月未报送党员队伍情况。",
            "hardware": hw_text,
            "progress": cell_text(progress[0]["progress"]) if progress else "",
            "problems": "；".join(problems),
        })
    compliance = _dossier_compliance([f for f in findings if f.site == site])
    ids = {r["file_id"] for r in rows}  # the submissions that list this site
    sources = [{"file_name": f["original_name"], "month": f["month"],
                "received": ws.rulebook.local_date(f["received_at"]).isoformat(), "digest": f["sha256"][:12]}
               for f in sorted(data.files, key=lambda f: (received_instant(f, ws.rulebook.timezone), f["id"]))
               if f["id"] in ids]
    missing_months = [m for m in span if gaps.get(m) == NOT_REPORTED]
    return {
        "office_name": ws.office_name,
        "report_date": as_of.isoformat(),
        "site": {"name": site, "enterprise": cell_text(latest["enterprise"]), "kind": latest["enterprise_kind"],
                 "unit": unit, "org_name": cell_text(latest["org_name"]), "org_kind": cell_text(latest["org_kind"]),
                 "formation": cell_text(latest["formation"]), "secretary": cell_text(latest["secretary"]),
                 "members": count_of(latest["members"]), "employees": count_of(latest["employees"]),
                 "level": cell_text(latest["level"]), "staff": cell_text(latest["staff"]) or UNASSIGNED,
                 "contact_date": iso_date(latest["contact_date"]), "plan_date": iso_date(latest["plan_date"])},
        "first_month": span[0],
        "last_month": span[-1],
        "missing_months": missing_months,
        "missing_note": (f"{unit}{'、'.join(periods.month_cn(m) for m in missing_months)}的月报表未报送，"
                         f"档案中{'该月' if len(missing_months) == 1 else '这些月份'}记为“本月未报送”。"
                         if missing_months else ""),
        "timeline": timeline,
        "compliance_rows": compliance,
        "sources": sources,
    }


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


_WORST = ("未达标", "存在风险", "达标")


def _dossier_compliance(findings: list[Finding]) -> list[dict]:
    """One line per requirement and period: a hardware checklist and its room area are one requirement,
    so they share a line, the worse status deciding it."""
    rows, merged = [], {}
    for f in findings:
        row = {"clause": f.clause, "rule": f.title, "period": f.period_name, "status": _status_label(f),
               "evidence": f.evidence}
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


def _only_unit(ledger, unit: str) -> bool:
    """Data already narrowed to this one unit (the consolidation splits it once for all dossiers)."""
    if not isinstance(ledger, LedgerData) or any(f["unit"] != unit for f in ledger.files):
        return False
    return all(r["unit"] == unit for key in SHEETS_BY_KEY for r in ledger.records(key))


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
