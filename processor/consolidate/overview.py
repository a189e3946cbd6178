"""The 总览 page (``outbox/总览.html``): the last twelve months at a glance, as one plain dict.

:func:`overview_context` builds everything the page shows from the same definitions
the reports use — :func:`~processor.consolidate.submissions.submission_states` for the grid (as
``processor status`` does), :func:`~processor.consolidate.findings.evaluate` for the findings
and the problem threads — as of the run's one as-of date (SPEC §10).  The template
(``templates/overview.html.j2``) only lays it out; it is rendered by
:func:`processor.render.jobs.write_html` with autoescape, so text from submissions stays text.

The page covers the twelve months up to the month of its as-of day, across a year boundary (in
February 2027: March 2026 to February 2027; none before the office began collecting),
opens with the headline figures and the open problems, names clauses by their titles (the
rulebook's, as the reports do), and tells states apart without colour (a mark in each cell, a
pattern in each chart), so that it reads the same printed in black and white.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import PurePosixPath
from urllib.parse import quote

from processor.common import cnfmt
from processor.common import outputs as output_kinds
from processor.common import periods
from processor.consolidate.findings import (AT_RISK, FAILED, LATE, MET, MISSING, NOT_DUE, ON_TIME, RETURNED, STATUS_CN,
                                            Finding, LedgerData, evaluate, roster_units, sort_findings,
                                            submission_states, submitting_unit)
from processor.record.ledger import ACCEPTED, REJECTED, SUPERSEDED
from processor.consolidate.blocks import one_per_requirement, sites_meeting_every_requirement
from processor.consolidate.quality import QUALITY_TITLES, quality_warnings
from processor.consolidate.snapshot import Snapshot
from processor.common.values import problem_key

OVERVIEW_NAME = "总览.html"
OVERVIEW_TEMPLATE = "overview.html.j2"

# Each monthly submission state: the grid cell's CSS class and its short label.
STATE_CLASS = {ON_TIME: "on-time", LATE: "late", MISSING: "missing", RETURNED: "returned", NOT_DUE: "not-due"}
STATE_SHORT = {ON_TIME: "按时", LATE: "逾期", MISSING: "未报", RETURNED: "退回待重报", NOT_DUE: "未到期"}
STATUS_CLASS = {MET: "met", AT_RISK: "at-risk", FAILED: "failed"}
# Marks that tell the states apart on paper printed in black and white (with the words, never colour alone).
STATE_MARK = {ON_TIME: "✓", LATE: "△", MISSING: "✗", RETURNED: "↺", NOT_DUE: "·"}
STATUS_MARK = {MET: "✓", AT_RISK: "△", FAILED: "✗"}
# The chart fill of each state: a pattern defined in the page (the colour, and hatching that prints).
STATE_FILL = {ON_TIME: "fill-on-time", LATE: "fill-late", MISSING: "fill-missing", RETURNED: "fill-returned"}
STATUS_FILL = {MET: "fill-on-time", AT_RISK: "fill-late", FAILED: "fill-missing"}
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
_ROW_H, _LABEL_W, _TRACK_W = 22, 150, 460
WINDOW_MONTHS = 12


def href(rel_path: str) -> str:
    """A link from the outbox root to ``rel_path``, each segment percent-encoded (UTF-8)."""
    return "/".join(quote(part) for part in PurePosixPath(rel_path).parts)


def window_months(rulebook, today: dt.date, until: str) -> list[str]:
    """The months the page shows: the twelve up to the month of ``today`` (or ``until``, if later),
    across the year boundary (in February 2027: March 2026 to February 2027); none before the office
    began collecting (``[calendar] start``)."""
    last = max(periods.month_of(today), until)
    first = max(periods.add_months(last, 1 - WINDOW_MONTHS), min(rulebook.start, last))
    return periods.month_range(first, last)


def span_cn(first: str, last: str) -> str:
    """2026-03, 2027-02 -> 2026年3月至2027年2月 (one month: 2026年3月)."""
    if first == last:
        return cnfmt.month_cn(first)
    if first[:4] == last[:4]:
        return f"{cnfmt.month_cn(first)}至{int(last[5:7])}月"
    return f"{cnfmt.month_cn(first)}至{cnfmt.month_cn(last)}"


def months_cn(months: list[str]) -> str:
    """Months as runs of consecutive months: 2026年3月至2027年1月、2027年3月."""
    runs: list[list[str]] = []
    for m in sorted(set(months)):
        if runs and periods.add_months(runs[-1][-1], 1) == m:
            runs[-1].append(m)
        else:
            runs.append([m])
    return "、".join(span_cn(r[0], r[-1]) for r in runs)


def overview_context(data: LedgerData, ws, roster, today: dt.date, until: str, reports: list[dict], *,
                     snapshot: Snapshot | None = None) -> dict:
    """Everything ``总览.html`` shows, for the twelve months up to ``today``'s (:func:`window_months`).

    ``data``: every arrival and accepted row of the ledger (the grid shows each month's state as
    ``processor status`` does); ``until``: the latest month consolidated (findings cover the
    window's months up to it); ``reports``: the outbox's reports as ``{"path", "kind", "period"}``
    (:func:`window_reports`).  ``snapshot``: the run's basis, when ``data`` is its data and ``today``
    its as-of day: the findings and warnings are then taken from it (those other outputs of the run
    already worked out are not worked out again).
    """
    rulebook = ws.rulebook
    year = int(until[:4])
    months = window_months(rulebook, today, until)
    units = roster_units(roster, data)
    grid = _grid(data.files, rulebook, units, months, today)
    judged = [m for m in months if m <= until] or [until]
    if snapshot is not None:
        scoped = snapshot.view(until=until)
        findings = snapshot.findings(judged, until=until)
        warned = partial(snapshot.quality_warnings, until=until)
    else:
        scoped = data.restrict(until=until)
        findings = evaluate(scoped, rulebook, roster, months=judged, today=today)
        warned = partial(quality_warnings, scoped, rulebook)
    findings = one_per_requirement(findings)  # a hardware checklist and its room area: one requirement, as in the reports
    order = _clause_order(findings, rulebook)
    clauses = _clauses(findings, order)
    heatmap = _heatmap(findings, units, order)
    problems = _problems(findings)
    span = span_cn(months[0], months[-1])
    return {
        "title": "企业组联系党建示范点工作总览",
        "span": span,
        "office_name": ws.office_name,
        "year": year,
        "as_of": today.isoformat(),
        "as_of_cn": cnfmt.cn_date(today),
        "months": [{"month": m, "label": cnfmt.month_short(m)} for m in months],
        "years": _year_bands(months),
        "states": [{"state": s, "css": STATE_CLASS[s], "short": STATE_SHORT[s], "mark": STATE_MARK[s],
                    "fill": STATE_FILL.get(s, "")} for s in STATE_CLASS],
        "statuses": [{"css": STATUS_CLASS[s], "label": STATUS_CN[s], "mark": STATUS_MARK[s], "fill": STATUS_FILL[s]}
                     for s in (MET, AT_RISK, FAILED)],
        "by_mail_mark": BY_MAIL_MARK,
        "by_mail_legend": BY_MAIL_LEGEND,
        "grid": grid,
        "state_totals": _state_totals(grid),
        "submission_chart": _submission_chart(grid, months),
        "clauses": clauses,
        "clause_chart": _clause_chart(clauses),
        "heatmap": heatmap,
        "problems": problems,
        "headline": _headline(grid, months, until, problems, findings, heatmap),
        # the twelve months up to the latest one: in January, last year's cases are still to be looked into
        "quality": _quality(warned, units, periods.month_range(max(periods.add_months(until, -11), rulebook.start), until)),
        "report_groups": _report_groups(reports),
    }


def _year_bands(months: list[str]) -> list[dict]:
    """The grid's top header: each year over its months (2026年 over March–December, 2027年 over …)."""
    bands: list[dict] = []
    for m in months:
        if bands and bands[-1]["year"] == m[:4]:
            bands[-1]["span"] += 1
        else:
            bands.append({"year": m[:4], "label": f"{int(m[:4])}年", "span": 1})
    return bands


def _headline(grid: list[dict], months: list[str], until: str, problems: list[dict], findings: list[Finding],
              heatmap: dict) -> dict:
    """The figures a reader needs first: the latest month's forms, the open problems, the sites."""
    column = months.index(until) if until in months else len(months) - 1
    states = Counter(row["cells"][column]["state"] for row in grid) if grid else Counter()
    expected = len(grid)
    reported = states[ON_TIME] + states[LATE]
    sites = [{"unit": r["unit"], "site": r["site"]} for r in heatmap["rows"]]
    met_sites = sites_meeting_every_requirement(findings, sites)
    failed_sites = {(f.unit, f.site) for f in findings if f.site and f.status == FAILED}
    overdue = sum(p["overdue"] for p in problems)
    month_cn = cnfmt.month_cn(months[column])
    missing = [row["unit"] for row in grid if row["cells"][column]["state"] == MISSING]
    returned = [row["unit"] for row in grid if row["cells"][column]["state"] == RETURNED]
    parts = [f"{month_cn}应报送{expected}个单位，已报送{reported}个（按时{states[ON_TIME]}个、逾期{states[LATE]}个）"]
    if missing:
        parts.append(f"未报送{len(missing)}个（{cnfmt.join_cn(missing)}）")
    if returned:
        parts.append(f"退回待重报{len(returned)}个（{cnfmt.join_cn(returned)}）")
    if states[NOT_DUE]:
        parts.append(f"未到截止日期{states[NOT_DUE]}个")
    sentence = "，".join(parts) + "。"
    sentence += (f"未办结的问题{len(problems)}个，其中超过整改时限{overdue}个。" if problems
                 else "没有未办结的问题。")
    sentence += (f"{len(sites)}个示范点中，全部达标{len(met_sites)}个，"
                 f"有未达标项{len(failed_sites)}个，其余尚有待完成的要求。" if sites else "")
    return {
        "month": months[column], "month_cn": month_cn, "expected": expected, "reported": reported,
        "on_time": states[ON_TIME], "late": states[LATE], "missing": len(missing), "returned": len(returned),
        "open_problems": len(problems), "overdue": overdue,
        "sites": len(sites), "sites_met": len(met_sites), "sites_failed": len(failed_sites),
        "sentence": sentence,
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
                                 "short": STATE_SHORT[s.state], "mark": STATE_MARK[s.state], "href": href(receipt) if receipt else "",
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
    return [{"state": s, "css": STATE_CLASS[s], "short": STATE_SHORT[s], "count": counts[s]} for s in STATE_CLASS]


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
                parts.append({"css": STATE_CLASS[state], "fill": STATE_FILL[state], "y": y, "height": h,
                              "note": f"{cnfmt.month_cn(month)}{state}{n}个单位"})
        # the year under the first bar and under each January: the axis reads across the year boundary
        year = f"{int(month[:4])}年" if not bars or month.endswith("-01") else ""
        bars.append({"x": x, "label": cnfmt.month_short(month), "year": year, "parts": parts})
    width = _AXIS + max(len(bars), 1) * (_BAR_W + _BAR_GAP)
    return {"width": width, "height": _CHART_H + 2 * _AXIS, "plot_height": _CHART_H, "bar_width": _BAR_W,
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
        for key, status in (("met", MET), ("at_risk", AT_RISK), ("failed", FAILED)):
            if c[key] and c["total"]:
                w = round(_TRACK_W * c[key] / c["total"], 2)
                parts.append({"css": STATUS_CLASS[status], "fill": STATUS_FILL[status], "x": x, "width": w,
                              "note": f"{c['title']}：{STATUS_CN[status]}{c[key]}项"})
                x = round(x + w, 2)
        rows.append({"y": i * _ROW_H, "label": c["title"], "parts": parts})
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
    titles = {f.clause: f.title for f in site_findings}
    rows = []
    for unit, site in sites:
        row = {"unit": unit, "site": site, "cells": []}
        for clause in clauses:
            found = cells.get((unit, site, clause), [])
            if not found:
                row["cells"].append({"css": NO_FINDING, "mark": "", "text": "",
                                     "note": f"{unit}{site}：{titles[clause]}不适用或尚无检查"})
                continue
            worst = FAILED if FAILED in found else AT_RISK if AT_RISK in found else MET
            met = found.count(MET)
            row["cells"].append({"css": STATUS_CLASS[worst], "mark": STATUS_MARK[worst], "text": f"{met}/{len(found)}",
                                 "note": f"{unit}{site}：{titles[clause]}共检查{len(found)}项，达标{met}项，"
                                         f"待完成{found.count(AT_RISK)}项，未达标{found.count(FAILED)}项"})
        rows.append(row)
    return {"clauses": [{"clause": c, "title": titles[c]} for c in clauses], "rows": rows}


def _problems(findings: list[Finding]) -> list[dict]:
    """Problem threads (X-2) still open: overdue first, then those being worked on; each once."""
    open_ = [f for f in findings if f.code == "problem-closed" and f.closed_on is None and f.status != MET]
    open_.sort(key=lambda f: (f.status != FAILED, -f.days))
    return [{"unit": f.unit, "site": f.site or "", "problem": f.problem or "", "found": cnfmt.cn_date(f.found_on),
             "staff": f.staff or "", "limit": _limit_text(f), "overdue": f.status == FAILED, "days": f.days,
             "status": "已逾期" if f.status == FAILED else "正在整改"} for f in open_]


def _quality(warned: Callable[..., list[Finding]], units: list[str], months: list[str]) -> list[dict]:
    """The checks across months and files of ``months``: warnings to look into, never failures (as the
    monthly reports' 数据质量 sections list them), each case once with the months it was found in —
    a site name two units both registered, found every month, is one line naming both units.
    The latest cases first.  ``warned(month, units=…)``: the month's warnings of those units."""
    order = {u: i for i, u in enumerate(units)}
    cases: dict[tuple, dict] = {}
    for month in months:
        for w in warned(month, units=units):
            if w.code == "site-shared":  # one case for both units (each unit's form raises it)
                key = (w.code, problem_key(w.site or ""), tuple(sorted(w.sites)))
                names = list(w.sites)
            else:
                key = (w.code, w.unit, problem_key(w.site or ""), w.evidence)
                names = [w.unit]
            case = cases.setdefault(key, {"units": names, "site": w.site or "", "title": QUALITY_TITLES[w.code],
                                          "message": w.evidence, "months": []})
            if month not in case["months"]:
                case["months"].append(month)
    rows = sorted(cases.values(), key=lambda c: (-periods.month_index(max(c["months"])), order.get(c["units"][0], len(order))))
    return [{"unit": cnfmt.join_cn(c["units"]), "site": c["site"], "title": c["title"], "message": c["message"],
             "month": max(c["months"]), "months": c["months"], "month_label": months_cn(c["months"]),
             "times": len(c["months"])} for c in rows]


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


def window_reports(outputs: list[dict], months: list[str]) -> list[dict]:
    """The reports among ``outputs`` (``{"path", "kind", "period"}``) of the page's months: each month's
    files of those months, each half-year's and year's that overlaps them (in February, last year's
    yearly summary and second-half report as well as this year's), and the current assignment table
    and dossiers."""
    first, last = months[0], months[-1]
    out = []
    for o in outputs:
        if o["kind"] not in REPORT_SECTIONS or not o["path"].endswith(tuple(_FORMATS)):
            continue
        period = o["period"] or ""
        if o["kind"] in (output_kinds.ASSIGNMENT_TABLE, output_kinds.SITE_DOSSIER) or _overlaps(period, first, last):
            out.append({"path": o["path"], "kind": o["kind"], "period": period})
    unique = {o["path"]: o for o in out}
    return sorted(unique.values(), key=lambda o: o["path"])


def _overlaps(period: str, first: str, last: str) -> bool:
    """Whether the period (2026-10, 2026-H2, 2026) shares a month with ``first``..``last``."""
    if periods.MONTH_RE.match(period):
        start = end = period
    elif period.endswith(("-H1", "-H2")):
        half = periods.parse_half(period)
        start, end = half.first, half.last
    elif period.isdigit() and len(period) == 4:
        start, end = f"{period}-01", f"{period}-12"
    else:
        return False
    return start <= last and end >= first
