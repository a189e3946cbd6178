"""``processor demo``: a realistic workspace with a year of submissions, processed end to end.

Every unit of the sample roster reports every month from the rulebook's first
month to the latest month already due on the demo's day (:data:`DEMO_TODAY`,
fixed so that every run is the same): January 2026 to January 2027, across the
year boundary.  Most forms arrive on time; some arrive late, a few
never arrive, some are rejected for the mistakes clerks really make and are
resubmitted corrected a few days later, some have dates typed as text and
full-width digits (accepted with notes), some were saved by LibreOffice, one
is sent twice and one is not an Excel file at all.  The files are dropped into
the per-unit inbox folders in order of arrival with a simulated clock, then the
nights' consolidation runs and the e-mails are written as ``.eml`` files.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import random
import shutil
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

from processor.common.config import Workspace
from processor.workspace import init_workspace
from processor.common.values import problem_key
from processor.common.periods import (first_day, last_day, last_due_month, month_range, parse_month,
                                      submission_deadline)
from processor.validate.roster import Roster, sample_roster, workspace_roster, write_roster
from processor.validate.samples import form_rows, site_rows, write_form

MARKER = ".processor-demo"
DEMO_TZ = dt.timezone(dt.timedelta(hours=8))
# The demo's as-of day: January 2027's forms are due (5 February), so the demo shows December's forms
# arriving in January, the year 2026 closed and summarised, and the new year's counters started.
DEMO_TODAY = dt.date(2027, 2, 8)

DEMO_OFFICE = "中共榕城市委组织部企业组"  # the fictional city of the sample roster


class DemoError(RuntimeError):
    pass


@dataclass
class Arrival:
    when: dt.datetime
    unit: str
    month: str
    path: Path  # staged file
    name: str  # name it lands under in the inbox
    kind: str  # on-time / late / mistake / corrected / messy / libreoffice / duplicate / not-excel


@dataclass
class DemoResult:
    workspace: Workspace
    arrivals: list[Arrival] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)
    emails: list[Path] = field(default_factory=list)
    today: dt.date = DEMO_TODAY  # the as-of day of the demo's consolidation
    months: list[str] = field(default_factory=list)  # the months reported


# --- typical mistakes: each edits a form's records and names what it broke ----------------
def _attendance(rows):
    r = rows["org_life"][0]
    r["present"] = r["expected"] + 3
    return "实到人数多于应到人数"


def _date_outside(rows):
    # a later month: a contact of an earlier month is accepted as reported late (with a warning)
    rows["contacts"][0]["date"] = last_day(rows["basic_info"][0]["month"]) + dt.timedelta(days=3)
    return "记录日期不在本月"


def _unknown_site(rows):
    rows["contacts"][-1]["site"] = rows["contacts"][-1]["site"].replace("党建示范点", "示范点（一期）")
    return "示范点名称与“示范点”表不一致"


def _blank_secretary(rows):
    rows["sites"][0]["secretary"] = None
    return "党组织书记未填"


def _bad_kind(rows):
    rows["sites"][-1]["enterprise_kind"] = "民营"
    return "企业类型填了下拉列表以外的内容"


def _text_number(rows):
    rows["members"][0]["total"] = "二十八"
    return "党员总数填了汉字"


def _wrong_unit(rows):
    rows["basic_info"][0]["unit"] = rows["basic_info"][0]["unit"] + "委组织部"
    return "填报单位不是名册中的名称"


MISTAKES: list[Callable[[dict], str]] = [_attendance, _date_outside, _unknown_site, _blank_secretary,
                                         _bad_kind, _text_number, _wrong_unit]


def _messy(rows, rng: random.Random) -> None:
    """What a form typed by hand looks like: dates as text, full-width digits, stray spaces."""
    for i, rec in enumerate(rows["contacts"]):
        day = rec["date"]
        rec["date"] = (f"{day.year}.{day.month}.{day.day}" if i % 2 else f"{day.year}年{day.month}月{day.day}日")
    for rec in rows["members"]:
        rec["total"] = str(rec["total"]).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rows["basic_info"][0]["filler"] = "  " + rows["basic_info"][0]["filler"] + " "


# --- the year ------------------------------------------------------------------------------
def plan_year(ws: Workspace, staging: Path, today: dt.date, *,
              seed: int = 2026) -> tuple[list[Arrival], list[tuple]]:
    """Every submission of the year: when each arrives, and the jobs that write them into ``staging``."""
    roster = workspace_roster(ws)
    rulebook = ws.rulebook
    rng = random.Random(seed)
    last = last_due_month(today, rulebook.submission_deadline_day)
    months = month_range(rulebook.start, last)
    units = [u.name for u in roster.units]
    n = len(units)
    missing = {(units[-1], last), (units[3 % n], months[len(months) // 2]), (units[6 % n], months[2 % len(months)])}
    left_rejected = (units[-2 % n], last)  # rejected in the latest month, not yet resubmitted
    arrivals: list[Arrival] = []
    jobs: list[tuple] = []
    open_problems: dict[str, list[dict]] = {}
    previous: dict[str, dict] = {}  # each unit's rows of the month before

    def write(rows, unit, month, name, when, kind):
        path = staging / f"{len(arrivals):04d}_{name}"
        jobs.append((path, copy.deepcopy(rows), roster, rulebook, unit, month))
        arrivals.append(Arrival(when, unit, month, path, name, kind))

    for u_index, unit in enumerate(units):
        sites = 3 if u_index == 2 else 1 if u_index == 5 else 2
        for m_index, month in enumerate(months):
            if (unit, month) in missing:
                continue
            rows = form_rows(roster=roster, rulebook=rulebook, unit=unit, month=month, seed=u_index,
                             sites=sites, contacts=rng.randint(5, 9), org_life=rng.randint(7, 11))
            _plans_in_rule_year(rows, month, rulebook.year)
            _shape_compliance(rows, rng, u_index, month, rulebook.year)
            _carry_problems(rows, open_problems.setdefault(unit, []), month, rng)
            _exercise_rules(rows, u_index, month, roster, rulebook.year)
            _exercise_checks(rows, u_index, month, roster, previous.get(unit), rulebook.year)
            _contacts_after_liaison_fixed(rows, month)
            previous[unit] = rows
            due = submission_deadline(month, rulebook.submission_deadline_day)
            late = rng.random() < 0.1
            day = due + dt.timedelta(days=rng.randint(1, 12)) if late else due - dt.timedelta(days=rng.randint(0, 4))
            when = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randint(0, 59)), DEMO_TZ)
            name = f"{unit}{parse_month(month)[1]}月报表.xlsx"
            if (unit, month) == left_rejected or rng.random() < 0.08:
                broken = copy.deepcopy(rows)
                MISTAKES[(u_index + m_index) % len(MISTAKES)](broken)
                write(broken, unit, month, name, when, "mistake")
                if (unit, month) == left_rejected:
                    continue
                when += dt.timedelta(days=rng.randint(1, 3), hours=2)
                name = f"{unit}{parse_month(month)[1]}月报表（修改后）.xlsx"
                write(rows, unit, month, name, when, "corrected")
            elif rng.random() < 0.15:
                _messy(rows, rng)
                write(rows, unit, month, name, when, "messy")
            else:
                write(rows, unit, month, name, when, "late" if late else "on-time")
    return arrivals, jobs


def _write_one(job: tuple) -> None:
    path, rows, roster, rulebook, unit, month = job
    write_form(path, rows, roster=roster, rulebook=rulebook, unit=unit, month=month)


def write_forms(jobs: list[tuple], on_file: Callable[[], None] | None = None) -> None:
    """Writing workbooks is CPU-bound: use every core."""
    workers = max(1, min(os.cpu_count() or 1, 4))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(_write_one, jobs, chunksize=4):
            if on_file:
                on_file()


def _shape_compliance(rows: dict, rng: random.Random, u_index: int, month: str, year: int) -> None:
    """Leave realistic gaps so the findings have something to say (``year``: the first reporting year)."""
    sites = rows["sites"]
    m = parse_month(month)[1]
    if u_index == 4 and month >= f"{year}-09":  # a site added late: contact fixed after the M-1a deadline, no plan
        sites[-1]["contact_date"] = dt.date(year, 9, 28) if month == f"{year}-09" else dt.date(year, 10, 12)
        sites[-1]["plan_date"] = None
    if u_index % 4 == 1 and m % 3 == 2:  # a quarter without 党员大会 at one site
        rows["org_life"] = [r for r in rows["org_life"]
                            if not (r["site"] == sites[-1]["site"] and r["activity"] == "党员大会")]
    if u_index % 5 == 3 and m in (7, 10):  # a month without any contact at one site
        rows["contacts"] = [r for r in rows["contacts"] if r["site"] != sites[0]["site"]] or rows["contacts"][:1]
    for hw, site in zip(rows["hardware"], sites, strict=False):  # a site added late may have no row yet
        if site["enterprise_kind"] == "非公" and u_index % 3 == 0:
            hw["room_area"] = 45.0
        if site["enterprise_kind"] == "国企" and u_index % 4 == 2:
            hw["audio"] = "否"


def _plans_in_rule_year(rows: dict, month: str, year: int) -> None:
    """Work plans are made for the rule ``year`` (M-2: reported in its November), and appear in the
    forms from the month they are reported on."""
    for i, site in enumerate(rows["sites"]):
        plan = dt.date(year, 11, 10 + 5 * (i % 3))
        site["plan_date"] = plan if plan <= last_day(month) else None


def _contacts_after_liaison_fixed(rows: dict, month: str) -> None:
    """A site's liaison contacts it from the day the contact was fixed (确定联系日期) on: the site
    added late is contacted by its liaison only after that day."""
    fixed = {s["site"]: s for s in rows["sites"]}
    moved = 0
    for r in rows["contacts"]:
        site = fixed.get(r["site"])
        if site and r["staff"] == site["staff"] and r["date"] < site["contact_date"]:
            r["date"] = min(site["contact_date"] + dt.timedelta(days=moved % 3), last_day(month))
            moved += 1
    rows["contacts"].sort(key=lambda r: r["date"])


def _carry_problems(rows: dict, still_open: list[dict], month: str, rng: random.Random) -> None:
    """Most problems found in one month are reported closed in a later month (X-2).  A problem still
    open is not found again as new (its record would move its 整改时限 back before this month)."""
    open_keys = {(p["site"], problem_key(p["problem"])) for p in still_open}
    for r in rows["contacts"]:
        if r.get("problem") and (r["site"], problem_key(r["problem"])) in open_keys:
            r.update(problem=None, suggestion=None, deadline=None, state=None)
    for problem in list(still_open):
        if rng.random() < 0.7:
            day = first_day(month) + dt.timedelta(days=rng.randint(0, 20))
            rows["contacts"].append({
                "date": min(day, last_day(month)), "site": problem["site"], "staff": problem["staff"],
                "mode": "电话联系", "content": "回访整改落实情况", "problem": problem["problem"],
                "suggestion": problem["suggestion"], "deadline": problem["deadline"], "state": "已办结"})
            still_open.remove(problem)
    rows["contacts"].sort(key=lambda r: r["date"])
    still_open.extend(r for r in rows["contacts"] if r.get("problem") and r.get("state") == "未办结")


DEMO_THREAD = ("党员活动室面积不足，需协调扩建", "协调企业调剂用房，扩建党员活动室")


def _exercise_rules(rows: dict, u_index: int, month: str, roster: Roster, year: int) -> None:
    """Cases every counting rule must meet in the demo year (SPEC §10), at fixed units and months of
    the first reporting ``year``: a 党员大会 below quorum (X-1), a problem whose deadline is extended,
    one closed after its deadline, and a 企业组 member recording a contact at a site not assigned to
    them (from September on, into the next year)."""
    m = parse_month(month)[1] if month <= f"{year}-12" else 0  # the fixed cases are of the first year
    sites = rows["sites"]
    if u_index == 1 and m in (7, 10):  # the quarter's only 党员大会 of the first site lacks a quorum
        site = sites[0]["site"]
        rows["org_life"] = [r for r in rows["org_life"] if not (r["site"] == site and r["activity"] == "党员大会")]
        day = first_day(month) + dt.timedelta(days=14)
        rows["org_life"].append({"date": day, "site": site, "activity": "党员大会", "host": sites[0]["secretary"],
                                 "expected": 30, "present": 12, "summary": "传达学习上级精神（到会人数不足半数）"})
    if u_index == 2 and m in (8, 9, 10):  # found in August, deadline extended in September, still open
        deadline = dt.date(2026, 10, 30) if m == 8 else dt.date(2026, 11, 30)
        _add_problem(rows, sites[0], first_day(month) + dt.timedelta(days=9), *DEMO_THREAD, deadline, "未办结")
    if u_index == 0 and m in (8, 9):  # found in August with a September deadline, closed in October… late
        state = "未办结"
        _add_problem(rows, sites[-1], first_day(month) + dt.timedelta(days=11), "流动党员台账未与社区对接",
                     "与社区党组织建立流动党员双向管理台账", dt.date(2026, 9, 20), state)
    if u_index == 0 and m == 10:
        _add_problem(rows, sites[-1], first_day(month) + dt.timedelta(days=6), "流动党员台账未与社区对接",
                     "与社区党组织建立流动党员双向管理台账", dt.date(2026, 9, 20), "已办结")
    if u_index == 3 and month >= f"{year}-09":  # a colleague of the liaison's group visits a site not assigned to them
        _contact_elsewhere(rows, month, roster)
    _sort_records(rows)


def _contact_elsewhere(rows: dict, month: str, roster: Roster) -> None:
    sites = rows["sites"]
    group = roster.staff_of_group(roster.group_of_unit(rows["basic_info"][0]["unit"]))
    others = [s.name for s in group if s.name not in {x["staff"] for x in sites}]
    if others:
        rows["contacts"].append({"date": first_day(month) + dt.timedelta(days=17), "site": sites[0]["site"],
                                 "staff": others[0], "mode": "座谈会", "content": "代为召开党员和职工代表座谈会",
                                 "problem": None, "suggestion": None, "deadline": None, "state": None})


def _sort_records(rows: dict) -> None:
    rows["org_life"].sort(key=lambda r: r["date"])
    rows["contacts"].sort(key=lambda r: r["date"])


def _exercise_checks(rows: dict, u_index: int, month: str, roster: Roster, previous: dict | None,
                     year: int) -> None:
    """One case of each check across months and files (processor.consolidate.quality), at fixed units and months:
    党员总数 jumping with nobody developed, a site left out without 变更说明, a unit registering another
    unit's site (a site renamed in April of the first reporting ``year``, with a 变更说明 naming both
    names, and so named ever after), 工作进展 copied from last month, and a contact of last month
    reported late."""
    m = parse_month(month)[1]
    units = [u.name for u in roster.units]
    if u_index == 1 and m == 5:
        rows["members"][0]["total"] += 12
    if u_index == 2 and m == 6 and len(rows["sites"]) > 1:
        _drop_site(rows, rows["sites"][-1]["site"])
    if u_index == 3 and month >= f"{year}-04":  # from April on it lists the first site of the unit before it
        other = site_rows(roster, units[u_index - 1], seed=u_index - 1, sites=1, month=month)[0]["site"]
        old = rows["sites"][-1]["site"]
        _rename_site(rows, old, other)
        if month == f"{year}-04":
            rows["basic_info"][0]["change_note"] = f"示范点由{old}调整为{other}"
    if u_index == 0 and m == 8 and previous is not None:
        rows["progress"] = copy.deepcopy(previous["progress"])
    if u_index == 0 and m == 6:
        site = rows["sites"][0]
        rows["contacts"].insert(0, {"date": first_day(month) - dt.timedelta(days=4), "site": site["site"],
                                    "staff": site["staff"], "mode": "电话联系", "content": "补报上月电话联系记录",
                                    "problem": None, "suggestion": None, "deadline": None, "state": None})


def _drop_site(rows: dict, name: str) -> None:
    for key, records in rows.items():
        if key != "basic_info":
            rows[key] = [r for r in records if r.get("site") != name]


def _rename_site(rows: dict, old: str, new: str) -> None:
    for key, records in rows.items():
        for r in records:
            if key != "basic_info" and r.get("site") == old:
                r["site"] = new


def _add_problem(rows: dict, site: dict, day: dt.date, problem: str, suggestion: str, deadline: dt.date,
                 state: str) -> None:
    rows["contacts"].append({"date": day, "site": site["site"], "staff": site["staff"], "mode": "现场指导",
                             "content": "现场查看整改情况", "problem": problem, "suggestion": suggestion,
                             "deadline": deadline, "state": state})


def add_oddities(arrivals: list[Arrival], staging: Path) -> None:
    """One exact duplicate, and one file that is not an Excel workbook at all."""
    accepted = [a for a in arrivals if a.kind == "on-time"]
    original = accepted[len(accepted) // 3]
    arrivals.append(Arrival(original.when + dt.timedelta(days=1), original.unit, original.month,
                            original.path, original.name.replace(".xlsx", "（再次发送）.xlsx"), "duplicate"))
    victim = accepted[len(accepted) // 2]
    csv_path = staging / "not-excel.xls"
    csv_path.write_text("单位,月份\n" + f"{victim.unit},{victim.month}\n", encoding="gbk")
    arrivals.append(Arrival(victim.when - dt.timedelta(hours=3), victim.unit, victim.month, csv_path,
                            victim.name.replace(".xlsx", ".xls"), "not-excel"))


def resave_with_libreoffice(arrivals: list[Arrival], staging: Path, count: int = 6) -> int:
    """Re-save a few forms with LibreOffice, as a unit using it would; 0 if it is not installed."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    chosen = [a for a in arrivals if a.kind == "on-time"][::17][:count]
    if not soffice or not chosen:
        return 0
    out = staging / "libreoffice"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        try:
            subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                            "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), *[str(a.path) for a in chosen]],
                           check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError):
            return 0
    done = 0
    for a in chosen:
        converted = out / a.path.name
        if converted.exists():
            a.path, a.kind = converted, "libreoffice"
            done += 1
    return done


# --- the whole run ---------------------------------------------------------------------------
def prepare_folder(folder: Path, units_limit: int | None = None) -> Workspace:
    """A fresh workspace in ``folder``; an earlier demo there is replaced, anything else is refused.

    ``units_limit`` keeps only the first units of the sample roster (a quicker, smaller demo).
    """
    folder = Path(folder).resolve()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise DemoError(f"文件夹 {folder} 不是空的，也不是以前生成的演示工作区；为免误删，请换一个文件夹。")
        shutil.rmtree(folder)
    ws = init_workspace(folder, office=DEMO_OFFICE)  # a fictional city's office: the reports read as signed ones
    if units_limit:
        write_roster(_first_units(sample_roster(), units_limit), ws.roster_path)
    (folder / MARKER).write_text("processor demo workspace\n", encoding="utf-8")
    ws.ensure_folders()
    return ws


def run_demo(folder: Path | str, *, today: dt.date | None = None, units_limit: int | None = None,
             on_stage: Callable[[str, int], None] | None = None,
             on_step: Callable[[], None] | None = None) -> DemoResult:
    """Build the demo workspace in ``folder`` and run intake, consolidation and (dry-run) delivery."""
    from processor.consolidate.run import consolidate
    from processor.consolidate.mail_summary import ledger_summary
    from processor.deliver.mail import send_pending
    from processor.common.fsutil import safe_join
    from processor.intake.run import Intake

    stage = on_stage or (lambda name, total: None)
    step = on_step or (lambda: None)
    today = today or DEMO_TODAY
    ws = prepare_folder(Path(folder), units_limit)
    result = DemoResult(ws, today=today)
    with tempfile.TemporaryDirectory(prefix="processor-demo-") as tmp:
        staging = Path(tmp)
        arrivals, jobs = plan_year(ws, staging, today)
        stage("生成各单位月报表", len(jobs))
        write_forms(jobs, on_file=step)
        stage("用 LibreOffice 另存部分报表", 1)
        resave_with_libreoffice(arrivals, staging)
        step()
        add_oddities(arrivals, staging)
        arrivals.sort(key=lambda a: a.when)
        result.arrivals = arrivals
        result.months = sorted({a.month for a in arrivals})

        stage("按到达时间逐个放入收件箱并处理", len(arrivals))
        intake = Intake(ws)
        mailed = _arriving_by_email(arrivals)
        try:
            for arrival in arrivals:
                if id(arrival) in mailed:  # sent to the 报送 mailbox instead of the shared folder
                    intake.clock = lambda when=arrival.when: when
                    for status in _take_by_email(ws, intake, arrival):
                        result.outcomes[status] = result.outcomes.get(status, 0) + 1
                    step()
                    continue
                target = safe_join(ws.inbox, arrival.unit, arrival.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(arrival.path, target)
                intake.clock = lambda when=arrival.when: when
                outcome = intake.handle(target)
                if outcome is not None:
                    result.outcomes[outcome.status] = result.outcomes.get(outcome.status, 0) + 1
                step()
        finally:
            intake.close()

    stage("夜间汇总：生成报告", 1)
    consolidation = consolidate(ws, all_months=True, today=today)
    result.outputs = list(consolidation.written) + list(consolidation.unchanged)
    step()
    stage("生成待发送的邮件（演示不真的发送）", 1)
    night = dt.datetime.combine(today, dt.time(22, 0), tzinfo=ws.timezone)  # the mail of the demo's own night
    result.emails = list(send_pending(ws, dry_run=True, now=night, summary_fallback=ledger_summary).dry_run_files)
    result.emails += _replies_written(ws, today)  # the answers to the forms that came by email
    step()
    return result


MAILED_EVERY = 9  # one arrival in so many comes by email (the demo has no mail server: it is recorded as such)
DEMO_MAILBOX = "baosong@example.gov.cn"


def _arriving_by_email(arrivals: list[Arrival]) -> set[int]:
    """A few forms of ordinary kinds that the units send to the 报送 mailbox."""
    usual = [a for a in arrivals if a.kind in ("on-time", "late", "mistake", "corrected")]
    return {id(a) for a in usual[4::MAILED_EVERY]}


def _take_by_email(ws: Workspace, intake, arrival: Arrival) -> list[str]:
    """Record ``arrival`` as a message from its unit's roster address and take its form, as
    ``processor fetch`` does; its answer is queued.  Returns the statuses of its forms."""
    from processor.deliver.replies import queue_reply
    from processor.intake import mailbox
    from processor.intake.mail_parse import FORM, Attachment, ParsedMail
    from processor.record.ledger import Ledger

    sender = intake.roster.unit(arrival.unit).email
    parsed = ParsedMail(sender=sender, sender_name=arrival.unit,
                        message_id=f"<demo-{arrival.unit}-{arrival.month}-{arrival.kind}@county.example.gov.cn>",
                        subject=f"{arrival.unit}{arrival.month}月报表", references="", auth_failure=None,
                        attachments=[Attachment(arrival.name, arrival.path.read_bytes(), FORM)])
    with Ledger(ws.ledger_path) as ledger:
        uid = (ledger.query("SELECT COALESCE(MAX(uid), 0) FROM mail_messages")[0][0] or 0) + 1
        mail_id = mailbox.take_message(ws, ledger, intake, parsed, roster=intake.roster,
                                       mailbox=f"{DEMO_MAILBOX}/INBOX", uidvalidity=1, uid=uid, now=arrival.when)
        queue_reply(ws, ledger, mail_id, now=arrival.when)
        return [ledger.file(p["file_id"])["status"] for p in mailbox.mail_parts(ledger, mail_id) if p["file_id"]]


def _replies_written(ws: Workspace, today: dt.date) -> list[Path]:
    from processor.deliver.replies import send_replies

    now = dt.datetime.combine(today, dt.time(9), DEMO_TZ)
    return list(send_replies(ws, now=now).dry_run_files)  # no SMTP host in the demo: written as .eml


def _first_units(roster: Roster, count: int) -> Roster:
    units = roster.units[:count]
    names = {u.name for u in units}
    groups = {g: [u for u in members if u in names] for g, members in roster.groups.items()}
    groups = {g: members for g, members in groups.items() if members}
    return Roster(units, [s for s in roster.staff if s.group in groups], groups)
