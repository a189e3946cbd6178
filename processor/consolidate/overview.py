"""The 总览 page (``outbox/总览.html``): the reporting year at a glance, as one plain dict.

:func:`overview_context` builds everything the page shows from the same definitions
the reports use — :func:`~processor.consolidate.submissions.submission_states` for the grid (as
``processor status`` does), :func:`~processor.consolidate.findings.evaluate` for the findings
and the problem threads — as of the run's one as-of date (SPEC §10).  The template
(``templates/overview.html.j2``) only lays it out; it is rendered by
:func:`processor.render.jobs.write_html` with autoescape, so text from submissions stays text.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import PurePosixPath
from urllib.parse import quote

from processor.common import cnfmt
from processor.common import outputs as output_kinds
from processor.common import periods
from processor.consolidate.findings import (AT_RISK, FAILED, LATE, MET, MISSING, NOT_DUE, ON_TIME, RETURNED, STATUS_CN,
                                            Finding, LedgerData, evaluate, roster_units, sort_findings,
                                            submission_states, submitting_unit)
from processor.record.ledger import ACCEPTED, REJECTED, SUPERSEDED
from processor.consolidate.blocks import one_per_requirement
from processor.consolidate.quality import warning_rows

OVERVIEW_NAME = "总览.html"
OVERVIEW_TEMPLATE = "overview.html.j2"

# Each monthly submission state: the grid cell's CSS class and its short label.
STATE_CLASS = {ON_TIME: "on-time", LATE: "late", MISSING: "missing", RETURNED: "returned", NOT_DUE: "not-due"}
STATE_SHORT = {ON_TIME: "按时", LATE: "逾期", MISSING: "未报", RETURNED: "退回待重报", NOT_DUE: "未到期"}
STATUS_CLASS = {MET: "met", AT_RISK: "at-risk", FAILED: "failed"}
# A cell whose form came from the 报送 mailbox carries this mark (as ``processor status`` shows 邮件).
BY_MAIL_MARK = "邮"
BY_MAIL_LEGEND = f"格中带“{BY_MAIL_MARK}”字的，该单位当月最近一份报表由报送邮箱收到；其余放在报送文件夹中"

NO_FINDING = "none"

# The outputs the page links to, in the order it lists them: kind -> section title.
# The page's report sections, in this order, titled by the kinds' Chinese names (the table's in full).
REPORT_SECTIONS = {kind: output_kinds.display_name(kind) for kind in (
    output_kinds.MONTHLY_REPORT, output_kinds.HALF_YEAR_REPORT, output_kinds.YEAR_REPORT, output_kinds.ASSIGNMENT_TABLE, output_kinds.REMINDER_LIST, output_kinds.SUMMARY_DATA,
    output_kinds.SITE_DOSSIER)} | {output_kinds.ASSIGNMENT_TABLE: "企业组人员联系示范点分组情况一览表"}
_FORMATS = {".docx": "Word", ".xlsx": "Excel"}

# Chart geometry (SVG user units); the page scales the charts to its width.
_BAR_W, _BAR_GAP, _CHART_H, _AXIS = 36, 14, 160, 24
_ROW_H, _LABEL_W, _TRACK_W = 22, 90, 520


def href(rel_path: str) -> str:
    """A link from the outbox root to ``rel_path``, each segment percent-encoded (UTF-8)."""
    return "/".join(quote(part) for part in PurePosixPath(rel_path).parts)


def overview_context(data: LedgerData, ws, roster, today: dt.date, until: str, reports: list[dict]) -> dict:
    """Everything ``总览.html`` shows, for the reporting year of ``until`` as of ``today``.

    ``data``: every arrival and accepted row of the ledger (the grid shows each month's state as
    ``processor status`` does); ``until``: the latest month consolidated (findings cover the
    year's months up to it); ``reports``: the outbox's reports as ``{"path", "kind", "period"}``.
    """
    rulebook = ws.rulebook
    year = int(until[:4])
    months = periods.month_range(max(f"{year}-01", rulebook.start), f"{year}-12")  # none before the office began
    units = roster_units(roster, data)
    grid = _grid(data.files, rulebook, units, months, today)
    scoped = data.restrict(until=until)
    findings = evaluate(scoped, rulebook, roster, months=[m for m in months if m <= until], today=today)
    findings = one_per_requirement(findings)  # a hardware checklist and its room area: one requirement, as in the reports
    order = _clause_order(findings, rulebook)
    clauses = _clauses(findings, order)
    return {
        "title": f"{year}年企业组联系党建示范点工作总览",
        "office_name": ws.office_name,
        "year": year,
        "as_of": today.isoformat(),
        "as_of_cn": cnfmt.cn_date(today),
        "months": [{"month": m, "label": cnfmt.month_short(m)} for m in months],
        "states": [{"state": s, "css": STATE_CLASS[s], "short": STATE_SHORT[s]} for s in STATE_CLASS],
        "by_mail_mark": BY_MAIL_MARK,
        "by_mail_legend": BY_MAIL_LEGEND,
        "grid": grid,
        "state_totals": _state_totals(grid),
        "submission_chart": _submission_chart(grid, months),
        "clauses": clauses,
        "clause_chart": _clause_chart(clauses),
        "heatmap": _heatmap(findings, units, order),
        "problems": _problems(findings),
        # the twelve months up to the latest one: in January, last year's cases are still to be looked into
        "quality": _quality(scoped, rulebook, units, periods.month_range(max(periods.add_months(until, -11), rulebook.start), until)),
        "report_groups": _report_groups(reports),
    }


# --- the units × months grid ---------------------------------------------------------------

def _grid(files: list[dict], rulebook, units: list[str], months: list[str], today: dt.date) -> list[dict]:
    receipts: dict[tuple, list[dict]] = {}  # (unit, month) -> its arrivals that have a receipt
    for f in files:
        if f.get("receipt_path"):
            receipts.setdefault((submitting_unit(f), f["month"]), []).append(f)
    by_mail = {f["id"] for f in files if f.get("channel") == "email"}
    rows = [{"unit": u, "cells": []} for u in units]
    for month in months:
        for row, s in zip(rows, submission_states(files, rulebook, units, month, today), strict=True):
            receipt = _receipt_of(receipts.get((s.unit, month), []), s.state)
            mailed = bool(s.file_ids) and max(s.file_ids) in by_mail  # the latest arrival's, as status says
            row["cells"].append({"month": month, "state": s.state, "css": STATE_CLASS[s.state],
                                 "short": STATE_SHORT[s.state], "href": href(receipt) if receipt else "",
                                 "by_mail": mailed, "note": _cell_note(s) + ("；由报送邮箱收到" if mailed else "")})
    return rows


def _receipt_of(arrivals: list[dict], state: str) -> str | None:
    """The receipt a cell opens: of the form the reports use, or of the latest returned one."""
    wanted = (ACCEPTED, SUPERSEDED) if state in (ON_TIME, LATE) else (REJECTED,)
    chosen = sorted((f for f in arrivals if f["status"] in wanted), key=lambda f: (f["status"] == ACCEPTED, f["id"]))
    return chosen[-1]["receipt_path"].replace("\\", "/") if chosen else None


def _cell_note(s) -> str:
    """The cell's hover text: the month, the state and its dates."""
    head = f"{s.unit} {cnfmt.month_cn(s.month)}：{s.state}"
    if s.state in (ON_TIME, LATE):
        text = f"{head}（{cnfmt.cn_date(s.received)}收到" + (f"，逾期{s.days_late}天" if s.state == LATE else "")
        if s.resubmissions:
            text += f"，其后重报{s.resubmissions}次"
        return text + "）"
    if s.state == NOT_DUE:
        return f"{head}（截止日期{cnfmt.cn_date(s.deadline)}）"
    overdue = f"，已逾期{s.days_late}天" if s.days_late else ""
    return f"{head}（截止日期{cnfmt.cn_date(s.deadline)}{overdue}）"


def _state_totals(grid: list[dict]) -> list[dict]:
    counts = Counter(c["state"] for row in grid for c in row["cells"])
    return [{"state": s, "css": STATE_CLASS[s], "count": counts[s]} for s in STATE_CLASS]


def _submission_chart(grid: list[dict], months: list[str]) -> dict:
    """A stacked bar per month (units by state); months with nothing due yet are not drawn."""
    bars = []
    units = len(grid)
    for i, month in enumerate(months):
        states = [row["cells"][i]["state"] for row in grid]
        if not units or all(s == NOT_DUE for s in states):
            continue
        x = _AXIS + len(bars) * (_BAR_W + _BAR_GAP)
        y, parts = _CHART_H, []
        for state in (ON_TIME, LATE, RETURNED, MISSING):
            n = states.count(state)
            if n:
                h = round(_CHART_H * n / units, 2)
                y = round(y - h, 2)
                parts.append({"css": STATE_CLASS[state], "y": y, "height": h,
                              "note": f"{cnfmt.month_cn(month)}{state}{n}个单位"})
        bars.append({"x": x, "label": cnfmt.month_short(month), "parts": parts})
    width = _AXIS + max(len(bars), 1) * (_BAR_W + _BAR_GAP)
    return {"width": width, "height": _CHART_H + _AXIS, "plot_height": _CHART_H, "bar_width": _BAR_W,
            "units": units, "bars": bars}


# --- findings ------------------------------------------------------------------------------

def _clause_order(findings: list[Finding], rulebook) -> dict[str, int]:
    """Clauses in the rulebook's order; any other clause a check reports follows, as first found."""
    known = list(rulebook.rules)
    others = [c for c in dict.fromkeys(f.clause for f in findings) if c not in rulebook.rules]
    return {c: i for i, c in enumerate(known + others)}


def _clauses(findings: list[Finding], order: dict[str, int]) -> list[dict]:
    """Per clause: how many checks are met, at risk and not met.

    Any clause a check reports appears, whatever its code; the footnote number links the
    row to the clause's wording at the foot of the page."""
    out: dict[str, dict] = {}
    for f in sorted(findings, key=lambda f: order[f.clause]):
        row = out.setdefault(f.clause, {"clause": f.clause, "title": f.title, "wording": f.wording,
                                        "met": 0, "at_risk": 0, "failed": 0, "total": 0})
        if f.status in STATUS_CLASS:
            row[{MET: "met", AT_RISK: "at_risk", FAILED: "failed"}[f.status]] += 1
        row["total"] += 1
    rows = list(out.values())
    for i, row in enumerate(rows, start=1):
        row["note"] = i
    return rows


def _clause_chart(clauses: list[dict]) -> dict:
    """A horizontal bar per clause: the share of its checks met, at risk and not met."""
    rows = []
    for i, c in enumerate(clauses):
        x, parts = _LABEL_W, []
        for key, css, label in (("met", "met", STATUS_CN[MET]), ("at_risk", "at-risk", STATUS_CN[AT_RISK]),
                                ("failed", "failed", STATUS_CN[FAILED])):
            if c[key] and c["total"]:
                w = round(_TRACK_W * c[key] / c["total"], 2)
                parts.append({"css": css, "x": x, "width": w, "note": f"{c['clause']} {c['title']}：{label}{c[key]}项"})
                x = round(x + w, 2)
        rows.append({"y": i * _ROW_H, "label": c["clause"], "parts": parts})
    return {"width": _LABEL_W + _TRACK_W, "height": max(len(rows), 1) * _ROW_H, "row_height": _ROW_H - 6,
            "rows": rows}


def _heatmap(findings: list[Finding], units: list[str], order: dict[str, int]) -> dict:
    """Sites × clauses: each cell the worst status of the site's checks of that clause and how
    many of them are met; a clause that does not apply to a site (or has no check yet) is blank."""
    site_findings = [f for f in findings if f.site]
    clauses = sorted({f.clause for f in site_findings}, key=order.__getitem__)
    cells: dict[tuple, list[str]] = {}
    for f in site_findings:
        cells.setdefault((f.unit, f.site, f.clause), []).append(f.status)
    sites = list(dict.fromkeys((f.unit, f.site) for f in sort_findings(site_findings, units)))
    rows = []
    for unit, site in sites:
        row = {"unit": unit, "site": site, "cells": []}
        for clause in clauses:
            found = cells.get((unit, site, clause), [])
            if not found:
                row["cells"].append({"css": NO_FINDING, "text": "", "note": f"{unit}{site}：{clause}不适用或尚无检查"})
                continue
            worst = FAILED if FAILED in found else AT_RISK if AT_RISK in found else MET
            met = found.count(MET)
            row["cells"].append({"css": STATUS_CLASS[worst], "text": f"{met}/{len(found)}",
                                 "note": f"{unit}{site}：{clause}共检查{len(found)}项，符合{met}项，"
                                         f"待完成{found.count(AT_RISK)}项，未达标{found.count(FAILED)}项"})
        rows.append(row)
    return {"clauses": clauses, "rows": rows}


def _problems(findings: list[Finding]) -> list[dict]:
    """Problem threads (X-2) still open: overdue first, then those being worked on; each once."""
    open_ = [f for f in findings if f.code == "problem-closed" and f.closed_on is None and f.status != MET]
    open_.sort(key=lambda f: (f.status != FAILED, -f.days))
    return [{"unit": f.unit, "site": f.site or "", "problem": f.problem or "", "found": cnfmt.cn_date(f.found_on),
             "staff": f.staff or "", "limit": _limit_text(f), "overdue": f.status == FAILED, "days": f.days,
             "status": "已逾期" if f.status == FAILED else "正在整改"} for f in open_]


def _quality(data: LedgerData, rulebook, units: list[str], months: list[str]) -> list[dict]:
    """The checks across months and files of ``months``, latest month first:
    warnings to look into, never failures (as the monthly reports' 数据质量 sections list them)."""
    return [{**row, "month": month, "month_label": cnfmt.month_cn(month)}
            for month in reversed(months) for row in warning_rows(data, rulebook, month, units)]


def _limit_text(f: Finding) -> str:
    if f.deadline is None:
        return "未定整改时限"
    if f.extended_from is not None:
        return cnfmt.date_moved(f.extended_from, f.deadline, cnfmt.cn_date)
    return cnfmt.cn_date(f.deadline)


# --- links to the reports ------------------------------------------------------------------

def _report_groups(reports: list[dict]) -> list[dict]:
    groups = []
    for kind, title in REPORT_SECTIONS.items():
        mine = sorted((r for r in reports if r["kind"] == kind), key=lambda r: (r["period"] or "", r["path"]))
        items = [{"label": _report_label(r), "href": href(r["path"]), "path": r["path"]} for r in mine]
        if items:
            groups.append({"title": title, "links": items})
    return groups


def _report_label(report: dict) -> str:
    period, path = report["period"] or "", PurePosixPath(report["path"])
    fmt = _FORMATS.get(path.suffix.lower(), path.suffix.lstrip("."))
    if periods.MONTH_RE.match(period):
        name = cnfmt.month_cn(period)
    elif period.endswith(("-H1", "-H2")):
        name = periods.parse_half(period).name
    elif report["kind"] == output_kinds.SITE_DOSSIER:
        name = path.parent.name + " " + path.stem
    else:
        name = f"{period}年度" if period.isdigit() else period
    return f"{name}（{fmt}）"


def year_reports(outputs: list[dict], year: int) -> list[dict]:
    """The reports of the reporting year among ``outputs`` (``{"path", "kind", "period"}``):
    each month's and half-year's files of that year, and the current assignment table and dossiers."""
    out = []
    for o in outputs:
        if o["kind"] not in REPORT_SECTIONS or not o["path"].endswith(tuple(_FORMATS)):
            continue
        period = o["period"] or ""
        if o["kind"] in (output_kinds.ASSIGNMENT_TABLE, output_kinds.SITE_DOSSIER) or period.startswith(str(year)):
            out.append({"path": o["path"], "kind": o["kind"], "period": period})
    unique = {o["path"]: o for o in out}
    return sorted(unique.values(), key=lambda o: o["path"])
