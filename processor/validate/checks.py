"""Step 5 of a validation: the cross-sheet and business checks, each a function of the
:class:`processor.validate.sheets.Context` that yields problems, registered in :data:`CHECKS`.

A new problem code is declared in :mod:`processor.validate.errors` and raised by one check here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from processor.common.periods import add_months, first_day, last_day
from processor.common.values import problem_key
from processor.validate.errors import Problem, problem
from processor.validate.normalize import title_key
from processor.validate.sheets import Context
from processor.schemas import vocabulary as kinds
from processor.schemas.layout import FORM_LAYOUT as FORM_SHEETS, LAYOUT_BY_KEY as SHEETS_BY_KEY


Check = Callable[[Context], Iterable[Problem]]


def check_unit(ctx: Context) -> Iterable[Problem]:
    info = (ctx.records("basic_info") or [{}])[0]
    unit = info.get("unit")
    if not unit:
        return
    sheet = ctx.sheets["basic_info"]
    known = ctx.roster.unit_now_or_formerly(unit)
    if known is None:
        yield sheet.at("unknown-unit", "unit", info["row"], unit)
    elif ctx.roster.unit(unit) is None:
        yield sheet.at("former-unit-name", "unit", info["row"], unit, current=known.name)
    elif known.name != unit:
        yield sheet.at("normalized-text", "unit", info["row"], unit, normalized=known.name)
    folder = ctx.roster.unit_now_or_formerly(ctx.expected_unit) if ctx.expected_unit else None
    named = known.name if known else unit
    if ctx.expected_unit and title_key(folder.name if folder else ctx.expected_unit) != title_key(named):
        yield sheet.at("unit-mismatch", "unit", info["row"], unit, folder=ctx.expected_unit)


def check_unit_kind(ctx: Context) -> Iterable[Problem]:
    info = (ctx.records("basic_info") or [{}])[0]
    known = ctx.roster.unit_now_or_formerly(info.get("unit") or "")
    if known and info.get("unit_kind") and info["unit_kind"] != known.kind:
        yield ctx.sheets["basic_info"].at("unit-kind-mismatch", "unit_kind", info["row"], info["unit_kind"],
                                          unit=known.name, expected=known.kind)


def check_month_in_year(ctx: Context) -> Iterable[Problem]:
    month = ctx.result.month
    if month and not ctx.rulebook.covers(month):
        info = ctx.records("basic_info")[0]
        yield ctx.sheets["basic_info"].at("month-outside-year", "month", info["row"], month,
                                          first=ctx.rulebook.start, last=ctx.rulebook.last)


def check_dates_in_month(ctx: Context) -> Iterable[Problem]:
    month = ctx.result.month
    if not month:
        return
    start, end = first_day(month), last_day(month)
    # a contact of one of the twelve months before, reported late, is accepted with a warning (the
    # receipt's checks across months say whether that month's form was already in)
    year_start = first_day(max(add_months(month, -11), ctx.rulebook.months[0]))
    for key, sheet in ctx.sheets.items():
        for name in sheet.spec.dates_in_month:
            for r in sheet.records:
                day = r.get(name)
                if isinstance(day, dt.date) and not start <= day <= end:
                    late_record = key == "contacts" and year_start <= day < start
                    yield sheet.at("contact-earlier-month" if late_record else "date-outside-month", name,
                                   r["row"], day, month=month)


def check_attendance(ctx: Context) -> Iterable[Problem]:
    sheet = ctx.sheets.get("org_life")
    for r in ctx.records("org_life"):
        if r.get("present") is not None and r.get("expected") is not None and r["present"] > r["expected"]:
            yield sheet.at("attendance-exceeds", "present", r["row"], r["present"], expected=r["expected"])


def check_member_subsets(ctx: Context) -> Iterable[Problem]:
    """A "其中" count (the schema's ``part_of``) cannot exceed the count it is part of."""
    for sheet in ctx.sheets.values():
        for r in sheet.records:
            for part, whole in sheet.spec.parts:
                if r.get(part) is not None and r.get(whole) is not None and r[part] > r[whole]:
                    whole_title = sheet.spec.field_by_name(whole).title
                    yield sheet.at("out-of-range", part, r["row"], r[part],
                                   rule=f"不能大于“{whole_title}”（{r[whole]}）")


def check_sites_listed(ctx: Context) -> Iterable[Problem]:
    """Every record's 示范点名称 must be one of the sites registered in 示范点."""
    if "sites" not in ctx.sheets:
        return
    listed = {title_key(s): s for s in ctx.site_names}
    for key, sheet in ctx.sheets.items():
        if key == "sites" or "site" not in sheet.spec.names.values():
            continue
        for r in sheet.records:
            site = r.get("site")
            if not site or site in listed.values():
                continue
            canonical = listed.get(title_key(site))
            if canonical:
                yield sheet.at("normalized-text", "site", r["row"], site, normalized=canonical)
                r["site"] = canonical
            else:
                yield sheet.at("unknown-site", "site", r["row"], site)


def check_duplicate_sites(ctx: Context) -> Iterable[Problem]:
    seen: dict[str, int] = {}
    sheet = ctx.sheets.get("sites")
    for r in ctx.records("sites"):
        site = r.get("site")
        if not site:
            continue
        if site in seen:
            yield sheet.at("duplicate-site", "site", r["row"], site, first_row=seen[site])
        else:
            seen[site] = r["row"]


def check_duplicate_rows(ctx: Context) -> Iterable[Problem]:
    for key, sheet in ctx.sheets.items():
        if key == "sites" or not sheet.spec.unique_on:
            continue
        seen: dict[tuple, int] = {}
        for r in sheet.records:
            identity = tuple(r.get(n) for n in sheet.spec.unique_on)
            if all(v is None for v in identity):
                continue
            if identity in seen:
                first = sheet.spec.unique_on[0]
                yield problem("duplicate-row", sheet=sheet.spec.title, cell=sheet.cell(first, r["row"]),
                              row=r["row"], column=sheet.spec.field_by_name(first).title,
                              value=r.get(first), first_row=seen[identity])
            else:
                seen[identity] = r["row"]


def check_site_rows(ctx: Context) -> Iterable[Problem]:
    for spec in FORM_SHEETS:
        sheet = ctx.sheets.get(spec.key)
        if not spec.one_row_per_site or sheet is None:
            continue
        present = {r.get("site") for r in sheet.records}
        for site in ctx.site_names:
            if site not in present:
                yield problem("missing-site-row", sheet=spec.title, value=site)


def check_no_sites(ctx: Context) -> Iterable[Problem]:
    if "sites" in ctx.sheets and not ctx.records("sites"):
        yield problem("no-sites", sheet=SHEETS_BY_KEY["sites"].title)


def check_staff(ctx: Context) -> Iterable[Problem]:
    staff = set(ctx.roster.staff_names)
    for key in ("sites", "contacts"):
        sheet = ctx.sheets.get(key)
        for r in ctx.records(key):
            if r.get("staff") and r["staff"] not in staff:
                yield sheet.at("unknown-staff", "staff", r["row"], r["staff"])


# --- records that cannot be true (SPEC §10) ---------------------------------------------

# Dates that lie ahead by their nature: a 整改时限 is set for the future.
DATES_AHEAD = {("contacts", "deadline")}


def check_future_dates(ctx: Context) -> Iterable[Problem]:
    """M-4b: the form reports what happened up to its 填报日期; no record of it is dated later.
    A record date already reported outside 报送月份 is not reported twice."""
    info = (ctx.records("basic_info") or [{}])[0]
    filled = info.get("fill_date")
    if not isinstance(filled, dt.date):
        return
    month_end = last_day(ctx.result.month) if ctx.result.month else None
    for key, sheet in ctx.sheets.items():
        for f in sheet.spec.fields:
            if f.kind != kinds.DATE or f.name == "fill_date" or (key, f.name) in DATES_AHEAD:
                continue
            for r in sheet.records:
                day = r.get(f.name)
                if not isinstance(day, dt.date) or day <= filled:
                    continue
                if f.name in sheet.spec.dates_in_month and month_end and day > month_end:
                    continue  # date-outside-month says it already
                yield sheet.at("future-date", f.name, r["row"], day, clause="M-4b", fill_date=filled.isoformat())


def check_deadline_after_found(ctx: Context) -> Iterable[Problem]:
    """X-2: a problem's 整改时限 cannot be earlier than the day it was found.

    A problem is told by its site and its text, as consolidation threads it; a record 未办结
    after one 已办结 starts it anew.  The form shows the day a problem was found only where its
    first record in the form is 未办结 with a 整改时限 not before that record's date: otherwise
    the problem may have been found in an earlier month's form (an overdue problem reported
    again is not refused).  Every later record of that problem in the form is held to it."""
    sheet = ctx.sheets.get("contacts")
    rows = [r for r in ctx.records("contacts") if (r.get("problem") or "").strip()]
    rows.sort(key=lambda r: (r["date"] if isinstance(r.get("date"), dt.date) else dt.date.max, r["row"]))
    threads: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r.get("site"), problem_key(r["problem"]))
        thread = threads.get(key)
        if thread is None or (thread[-1].get("state") == "已办结" and r.get("state") != "已办结"):
            threads[key] = [r]
            continue
        thread.append(r)
        opening, deadline = _found_record(thread[0]), r.get("deadline")
        if opening is None or not isinstance(deadline, dt.date) or deadline >= opening["date"]:
            continue
        yield sheet.at("deadline-before-found", "deadline", r["row"], deadline, clause="X-2",
                       found=opening["date"].isoformat(), found_row=opening["row"],
                       set_deadline=opening["deadline"].isoformat())


def _found_record(r: dict) -> dict | None:
    """The record, if it reads as the day its problem was found: 未办结 with a 整改时限 ahead of it."""
    day, deadline = r.get("date"), r.get("deadline")
    if r.get("state") == "未办结" and isinstance(day, dt.date) and isinstance(deadline, dt.date) and deadline >= day:
        return r
    return None


def check_contact_after_assigned(ctx: Context) -> Iterable[Problem]:
    """M-1a: a site's liaison contacts it as its liaison from the day the contact was fixed
    (确定联系日期), not before.  Contacts by other 企业组 members are not judged: the site may well
    have existed and been visited before its liaison was fixed."""
    sites, sheet = ctx.sheets.get("sites"), ctx.sheets.get("contacts")
    assigned = {r["site"]: r for r in ctx.records("sites")
                if r.get("site") and r.get("staff") and isinstance(r.get("contact_date"), dt.date)}
    for r in ctx.records("contacts"):
        site = assigned.get(r.get("site"))
        day = r.get("date")
        if site is None or r.get("staff") != site["staff"] or not isinstance(day, dt.date):
            continue
        if day < site["contact_date"]:
            yield sheet.at("contact-before-assigned", "date", r["row"], day, clause="M-1a", staff=site["staff"],
                           site=site["site"], assigned=site["contact_date"].isoformat(),
                           assigned_cell=sites.cell("contact_date", site["row"]))


CHECKS: list[Check] = [
    check_unit, check_unit_kind, check_month_in_year, check_dates_in_month, check_attendance,
    check_member_subsets, check_sites_listed, check_duplicate_sites, check_duplicate_rows, check_site_rows,
    check_no_sites, check_staff, check_future_dates, check_deadline_after_found, check_contact_after_assigned,
]
