"""Every figure of the half-year report (M-4c), recounted from the ledger by plain SQL, and read back from
the rendered .docx.

Like the monthly recount in test_reconciliation.py, this shares no code with the counting of the reports:
it reads the ledger file (sqlite3), the rulebook file (tomllib) and the roster's names, and applies the
rules of SPEC §10 itself — one as-of date, each count on its basis, not-yet-due months yielding nothing,
problem threads decided by their latest record.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import tomllib
import unicodedata
from collections import Counter
from pathlib import Path

from docx import Document

from docx_helpers import find_groups, rows_under
from processor.common.paths import PACKAGE_DIR
from processor.schemas.form import SHEETS_BY_KEY

ACCEPTED = "JOIN files f ON f.id = t.file_id AND f.status = 'accepted'"
MET, FAILED, AT_RISK, NO_DATA = "达标", "未达标", "待完成", "本期未报送"
HW_FIELDS = SHEETS_BY_KEY["hardware"].names  # Chinese item name -> ledger column
ONE_LINE_EACH = ("企业组人员确定联系示范点", "问题整改跟踪")  # 附件3 lines that are each a subject of their own


def norm(text: str | None) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith("P"))).lower()


def rulebook() -> dict:
    return tomllib.loads((PACKAGE_DIR.parent / "schemas" / "requirements.toml").read_text(encoding="utf-8"))


def _month(day: dt.date) -> str:
    return f"{day.year}-{day.month:02d}"


def _months(first: str, last: str) -> list[str]:
    out, y, m = [], int(first[:4]), int(first[5:])
    while f"{y}-{m:02d}" <= last:
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _period(month: str, kind: str) -> tuple[str, str]:
    """(first, last) month of the period of ``kind`` holding ``month``."""
    y, m = int(month[:4]), int(month[5:])
    size = {"month": 1, "quarter": 3, "half": 6, "year": 12}[kind]
    first = (m - 1) // size * size + 1
    return f"{y}-{first:02d}", f"{y}-{first + size - 1:02d}"


def _end(month: str) -> dt.date:
    y, m = int(month[:4]), int(month[5:])
    return dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)


def _deadline(month: str, day: int) -> dt.date:
    y, m = int(month[:4]), int(month[5:])
    return dt.date(y + m // 12, m % 12 + 1, day)


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text[:10]) if text else None


def ledger_as_of(db: Path, as_of: dt.date, folder: Path) -> Path:
    """A copy of the ledger as it stood at the end of ``as_of`` (SPEC §10): the arrivals received
    later taken out, and the form each of them superseded current again."""
    copy = folder / f"ledger-{as_of.isoformat()}.sqlite"
    source, target = sqlite3.connect(f"file:{db}?mode=ro", uri=True), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    later = "SELECT id FROM files WHERE substr(received_at, 1, 10) > ?"
    for key in SHEETS_BY_KEY:
        target.execute(f"DELETE FROM {key} WHERE file_id IN ({later})", (as_of.isoformat(),))
    target.execute("DELETE FROM files WHERE substr(received_at, 1, 10) > ?", (as_of.isoformat(),))
    target.execute("""UPDATE files SET status = 'accepted' WHERE status = 'superseded' AND id = (
        SELECT MAX(g.id) FROM files g WHERE g.unit = files.unit AND g.month = files.month
                                        AND g.status IN ('accepted', 'superseded'))""")
    target.commit()
    target.close()
    follow_renames(copy)
    return copy


def follow_renames(db: Path) -> None:
    """Give every row of a site a unit renamed with a 变更说明 its latest name, in the ledger file ``db``
    (a copy: SPEC §10, Identity).  A rename: a unit's form leaves out exactly one site of its form before,
    lists exactly one site the unit never had, and says why in its 变更说明."""
    con = sqlite3.connect(db)
    forms = con.execute("SELECT id, unit, month FROM files WHERE status = 'accepted' AND month IS NOT NULL "
                        "ORDER BY unit, month, id").fetchall()
    renames: list[tuple[str, str, str]] = []
    for unit in dict.fromkeys(u for _, u, _ in forms):
        ever: set[str] = set()
        before: set[str] | None = None
        for file_id, _, _ in (f for f in forms if f[1] == unit):
            sites = {norm(s) for (s,) in con.execute("SELECT site FROM sites WHERE file_id = ?", (file_id,)) if norm(s)}
            notes = [n for (n,) in con.execute("SELECT change_note FROM basic_info WHERE file_id = ?", (file_id,))
                     if norm(n)]
            if before is not None and notes and len(before - sites) == 1 and len(sites - ever) == 1:
                renames.append((unit, *(before - sites), *(sites - ever)))
            ever |= sites
            before = sites
    tables = [key for key in SHEETS_BY_KEY
              if "site" in {c[1] for c in con.execute(f"PRAGMA table_info({key})")}]
    for unit, old, new in renames:
        for table in tables:
            con.execute(f"UPDATE {table} SET site = ? WHERE unit = ? AND site = ?", (new, unit, old))
    con.commit()
    con.close()


def recount_half(db: Path, units: list[str], staff: list[str], half: str, as_of: dt.date) -> dict:
    """Every figure of the half-year report ``half`` ("2026-H2"), as of the run's day ``as_of``."""
    book = rulebook()
    rules = book["rules"]
    year, h = int(half[:4]), int(half[-1])
    months = _months(f"{year}-{h * 6 - 5:02d}", f"{year}-{h * 6:02d}")
    last = months[-1]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    q = lambda sql, *args: [dict(r) for r in con.execute(sql, args).fetchall()]  # noqa: E731
    day5 = book["calendar"]["submission_deadline_day"]
    due = [m for m in months if _deadline(m, day5) < as_of]
    out: dict = {"as_of": as_of}

    site_rows = [r for r in q(f"SELECT t.* FROM sites t {ACCEPTED} WHERE t.month <= ? AND COALESCE(t.site, '') != '' "
                              "ORDER BY t.month, t.row", last) if r["unit"] in units]
    latest_month = {}
    for r in site_rows:
        latest_month[r["unit"]] = max(latest_month.get(r["unit"], ""), r["month"])
    current = [r for r in site_rows if r["month"] == latest_month[r["unit"]]]
    keys = [(r["unit"], r["site"]) for r in current]
    kind = {(r["unit"], r["site"]): r["enterprise_kind"] for r in site_rows}  # the latest row wins
    staffed = [r for r in current if r["staff"] in staff]
    contacts = [c for c in q(f"SELECT t.* FROM contacts t {ACCEPTED} WHERE t.month <= ? ORDER BY t.date, t.month, t.row",
                             last) if c["unit"] in units]
    in_half = [c for c in contacts if c["month"] in months]
    visit_modes = rules["M-1c"]["onsite_modes"]
    mode = Counter(c["mode"] for c in in_half)

    # 附件 and 一、基本情况 ---------------------------------------------------------------------------
    arrivals: dict[tuple, list[dict]] = {}
    for f in q("SELECT * FROM files ORDER BY id"):
        arrivals.setdefault((f["folder_unit"] or f["unit"], f["month"]), []).append(f)

    def submission(unit: str, month: str) -> tuple[str, int]:
        mine = arrivals.get((unit, month), [])
        valid = [f for f in mine if f["status"] in ("accepted", "superseded")]
        deadline = _deadline(month, day5)
        if valid:
            late = (_day(valid[0]["received_at"]) - deadline).days
            return ("on_time", 0) if late <= 0 else ("late", late)
        if deadline >= as_of:
            return "not_due", 0
        return ("returned" if any(f["status"] == "rejected" for f in mine) else "missing"), (as_of - deadline).days

    reported = sum(submission(u, m)[0] in ("on_time", "late") for u in units for m in due)
    out["overview"] = (len(units), len(keys), sum(kind[k] == "国企" for k in keys), sum(kind[k] == "非公" for k in keys),
                       len(staff), len({r["staff"] for r in staffed}), len(staffed), len(keys) - len(staffed),
                       len(in_half), mode["现场指导"] + mode["座谈会"], mode["现场指导"], mode["座谈会"],
                       len(units) * len(due), reported)
    shown = [m for m in months if m in due or any(c["month"] == m for c in in_half)]
    out["chart_contacts"] = ([f"{int(m[5:])}月" for m in shown],
                             [sum(c["month"] == m for c in in_half) for m in shown],
                             [sum(c["month"] == m and c["mode"] in ("现场指导", "座谈会") for c in in_half)
                              for m in shown])

    # 二、三个好 and 三、五个有 ------------------------------------------------------------------------
    members = q(f"SELECT t.* FROM members t {ACCEPTED} WHERE t.month BETWEEN ? AND ? ORDER BY t.month, t.row",
                months[0], last)
    latest_members = {}
    for r in members:
        latest_members[(r["unit"], r["site"])] = r
    latest_members = {k: r for k, r in latest_members.items() if k in keys}
    cross = [r for k, r in latest_members.items() if kind[k] == "国企" and (r["cross_posts"] or 0)]
    secretaries = sum(bool((r["secretary"] or "").strip()) for r in current)
    life = [r for r in q(f"SELECT t.* FROM org_life t {ACCEPTED} WHERE t.month <= ?", last) if r["unit"] in units]
    quorum = rules["X-1"].get("enabled", True)

    def counts(r: dict) -> bool:  # a 党员大会 without a quorum does not count
        return not (quorum and r["activity"] == "党员大会" and r["present"] is not None and r["expected"] is not None
                    and r["present"] * 2 <= r["expected"])

    life_half = [r for r in life if r["month"] in months]
    appraised = {(r["unit"], r["site"]) for r in life_half if r["activity"] == "民主评议党员" and counts(r)}
    total = lambda rows, col: sum(r[col] or 0 for r in rows)  # noqa: E731
    out["goods"] = (len(cross), total(cross, "cross_posts"), secretaries,
                    total(latest_members.values(), "duty_zones"), total(latest_members.values(), "six_ones"),
                    len(appraised & set(keys)))
    by_kind = Counter(r["activity"] for r in life_half)
    out["pillars"] = (len(keys), secretaries, total(members, "new_members"), total(members, "new_workers"),
                      total(latest_members.values(), "activists"), total(latest_members.values(), "total"),
                      len(life_half), dict(by_kind))

    # findings, each (requirement, subject, period) -> status ------------------------------------------
    findings: list[tuple] = []  # (requirement, applies, unit, site, subject, period, status, problem)

    def add(req, applies, unit, site, subject, period, status, problem=""):
        findings.append((req, applies, unit, site, subject, period, status, problem))

    def sites_in(period_months: list[str]) -> list[tuple]:  # a site neither registered nor with data in the half
        listed = [r for r in site_rows if r["month"] in period_months  # is not judged in it
                  and ((r["unit"], r["site"]) in keys or r["month"] in months)]
        return list(dict.fromkeys((r["unit"], r["site"]) for r in listed))

    def shortfall(first: str, period_last: str) -> str:
        return FAILED if as_of > _end(period_last) and period_last <= last else AT_RISK

    def periods(kind_: str) -> list[tuple[str, str]]:
        return list(dict.fromkeys(_period(m, kind_) for m in months))

    for unit in units:  # G-1 on each unit's latest form
        mine = [k for k in keys if k[0] == unit]
        if mine:
            ok = rules["G-1"]["min_sites"] <= len(mine) <= rules["G-1"]["max_sites"]
            add(rules["G-1"]["title"], "单位", unit, "", unit, latest_month[unit], MET if ok else FAILED)
    fixed_by = _milestone(book, rules["M-1a"]["deadline"])
    for r in current:
        on = _day(r["contact_date"])
        status = MET if on and on < fixed_by and r["staff"] else (FAILED if on and r["staff"] else
                                                                   FAILED if as_of >= fixed_by else AT_RISK)
        add(rules["M-1a"]["title"], "示范点", r["unit"], r["site"], (r["unit"], r["site"]), str(year), status)
    for name in staff:
        mine = [r for r in current if r["staff"] == name]
        ok = any(r["contact_date"] and _day(r["contact_date"]) < fixed_by for r in mine)
        add("企业组人员" + rules["M-1a"]["title"], "企业组人员", "企业组", "", name, str(year),
            MET if ok else FAILED if as_of >= fixed_by else AT_RISK)
    for m in months:  # M-1b: the sites of each month's forms
        for k in sites_in([m]):
            n = sum(c["month"] == m and (c["unit"], c["site"]) == k for c in contacts)
            add(rules["M-1b"]["title"], "示范点", *k, k, m, MET if n >= rules["M-1b"]["min_contacts"] else shortfall(m, m))
    for first, end in periods("quarter"):  # M-1c
        span = _months(first, end)
        for k in sites_in(span):
            n = sum(c["month"] in span and (c["unit"], c["site"]) == k and c["mode"] in visit_modes for c in contacts)
            add(rules["M-1c"]["title"], "示范点", *k, k, first, MET if n >= rules["M-1c"]["min_visits"]
                else shortfall(first, end))
    plan_by = _milestone(book, rules["M-2"]["deadline"])
    for r in current:  # the latest form's plan date: one left blank there is blank (SPEC §10)
        plan = _day(r["plan_date"]) if r["plan_date"] else None
        status = (MET if plan <= plan_by else FAILED) if plan else FAILED if as_of > plan_by else AT_RISK
        add(rules["M-2"]["title"], "示范点", r["unit"], r["site"], (r["unit"], r["site"]), str(year), status)
    for rule in rules.values():  # S-4 / N-4 frequencies
        if "activities" not in rule:
            continue
        for first, end in periods(rule["period"]):
            span = _months(first, end)
            for k in sites_in(span):
                if kind[k] != rule["applies_to"]:
                    continue
                held = Counter(r["activity"] for r in life if r["month"] in span and (r["unit"], r["site"]) == k
                               and counts(r))
                ok = all(held[a] >= n for a, n in rule["activities"].items())
                add(rule["title"], f"{rule['applies_to']}示范点", *k, k, first, MET if ok else shortfall(first, end))
    hardware = q(f"SELECT t.* FROM hardware t {ACCEPTED} WHERE t.month BETWEEN ? AND ? ORDER BY t.month, t.row",
                 months[0], last)
    for k in keys:  # S-5 / N-5: the site's latest 硬件设施 row of the half, its checklist and room area
        rows = [r for r in hardware if (r["unit"], r["site"]) == k]
        rule = next((r for r in rules.values() if "items" in r and r["applies_to"] == kind[k]), None)
        if not rows or rule is None:
            continue
        row = rows[-1]
        ok = all(row[HW_FIELDS[item]] == "是" for item in rule["items"])
        if "min_room_area" in rule:
            ok = ok and row["room_area"] is not None and row["room_area"] >= rule["min_room_area"]
        add(rule["title"], f"{rule['applies_to']}示范点", *k, k, row["month"], MET if ok else FAILED)
    for unit in units:  # M-4b
        for m in months:
            state, _ = submission(unit, m)
            if state != "not_due":
                add(rules["M-4b"]["title"], "单位", unit, "", unit, m, MET if state == "on_time" else FAILED)

    # problem threads (site + normalised text; the latest record decides); those closed before the
    # half began were reported then; those found by the half's end are listed, each with its status as
    # of the run's day, from the records of every month (SPEC §10)
    threads: list[list[dict]] = []
    open_: dict[tuple, list[dict]] = {}
    every_contact = [c for c in q(f"SELECT t.* FROM contacts t {ACCEPTED} ORDER BY t.date, t.month, t.row")
                     if c["unit"] in units]
    for c in every_contact:
        if not (c["problem"] or "").strip():
            continue
        key = (c["unit"], c["site"], norm(c["problem"]))
        records = open_.get(key)
        if records is None or (records[-1]["state"] == "已办结" and c["state"] != "已办结"):
            records = open_[key] = []
            threads.append(records)
        records.append(c)
    overdue_open = 0
    for records in threads:
        if records[0]["month"] > last:
            continue  # found after the half
        latest = records[-1]
        limit = _day(latest["deadline"] or next((r["deadline"] for r in reversed(records) if r["deadline"]), None))
        closed = None
        if latest["state"] == "已办结":
            for r in reversed(records):
                if r["state"] != "已办结":
                    break
                closed = _day(r["date"])
        if closed is not None and closed < dt.date.fromisoformat(months[0] + "-01"):
            continue
        if closed is not None:
            status = FAILED if limit and closed > limit else MET
        elif limit and limit < as_of:
            status, overdue_open = FAILED, overdue_open + 1
        else:
            status = AT_RISK
        first = records[0]
        add(rules["X-2"]["title"], "问题", first["unit"], first["site"], (first["unit"], first["site"], norm(first["problem"]), first["date"]),
            first["month"], status, norm(first["problem"]))

    # 附件2: per requirement, each subject once, its worst status over the periods (a period due without
    # data: 本期未报送, never met)
    due_periods = {kind_: {_period(m, kind_)[0] for m in due} for kind_ in ("month", "quarter", "half", "year")}
    period_kind = {rules["M-1b"]["title"]: "month", rules["M-1c"]["title"]: "quarter"}
    period_kind.update({r["title"]: r["period"] for r in rules.values() if "activities" in r})
    annex2: dict[str, tuple] = {}
    for req in dict.fromkeys(f[0] for f in findings):
        mine = [f for f in findings if f[0] == req]
        by_subject: dict = {}
        for f in mine:
            by_subject.setdefault(f[4], {}).setdefault(f[5], []).append(f[6])
        need = due_periods.get(period_kind.get(req), set())
        verdicts = []
        for per in by_subject.values():
            st = [s for found in per.values() for s in found]
            verdicts.append(FAILED if FAILED in st else AT_RISK if AT_RISK in st
                            else NO_DATA if need - set(per) else MET)
        annex2[req] = (mine[0][1], len(verdicts), verdicts.count(MET), verdicts.count(FAILED),
                       verdicts.count(AT_RISK), verdicts.count(NO_DATA))
    out["annex2"] = annex2
    shown_findings = [f for f in findings if f[6] != MET]
    # 附件3, the report's one problem list, lists every failure (what is still running is only counted)
    out["annex3"] = sorted(Counter((f[2], f[3], f[0], f[6], f[7]) for f in shown_findings if f[6] == FAILED).items())
    out["findings"] = (len(shown_findings), sum(f[6] == FAILED for f in shown_findings),
                       sum(f[6] == AT_RISK for f in shown_findings))
    frequency = [f for f in findings if f[0] in {r["title"] for r in rules.values() if "activities" in r}]
    out["rate"] = (len(frequency), sum(f[6] == MET for f in frequency), sum(f[6] == FAILED for f in frequency),
                   sum(f[6] == AT_RISK for f in frequency))
    hw = [f for f in findings if f[0] in {r["title"] for r in rules.values() if "items" in r}]
    out["hardware"] = (sum(f[6] == MET for f in hw), sum(f[6] != MET for f in hw))
    out["overdue_open"] = overdue_open

    # 四、创建进度 and 附件1: each site's path from its own records ----------------------------------------
    paths, plan_counts, started = {}, Counter(), 0
    for unit, name in keys:
        mine = [r for r in site_rows if (r["unit"], r["site"]) == (unit, name)]
        plan = _day(mine[-1]["plan_date"]) if mine[-1]["plan_date"] else None  # its latest form's
        plan_counts["missing" if plan is None else "on_time" if plan <= plan_by else "late"] += 1
        theirs = [c for c in contacts if (c["unit"], c["site"]) == (unit, name) and c["date"]]
        visits = [c for c in theirs if c["mode"] in visit_modes]
        life_months = sorted({r["month"] for r in life if (r["unit"], r["site"]) == (unit, name) and plan
                              and r["month"] >= _month(plan)})
        started += bool(life_months)
        paths[(unit, name)] = (_day(mine[-1]["contact_date"]), plan,
                               _day(min((c["date"] for c in theirs), default=None)),
                               _day(min((c["date"] for c in visits), default=None)),
                               f"{len({r['month'] for r in mine if r['month'] in due})}/{len(due)}",
                               sum(r["month"] in months and (r["unit"], r["site"]) == (unit, name) for r in life),
                               life_months[0] if life_months else "")
    out["plans"] = (plan_counts["on_time"], plan_counts["late"], plan_counts["missing"], started)
    out["annex1"] = paths

    # 六、典型做法: sites reporting every month due and meeting every requirement, with progress written
    failing = {(f[2], f[3]) for f in shown_findings}
    progress = {(r["unit"], r["site"]) for r in q(f"SELECT t.unit, t.site FROM progress t {ACCEPTED} WHERE t.month "
                                                  "BETWEEN ? AND ? AND TRIM(COALESCE(t.progress, '')) != ''",
                                                  months[0], last)}
    out["typical"] = sorted(f"{u}{s}" for u, s in keys if (u, s) not in failing and (u, s) in progress
                            and paths[(u, s)][4] == f"{len(due)}/{len(due)}")
    con.close()
    return out


# --- what the half-year report prints ---------------------------------------------------------------

def _ints(groups) -> tuple:
    return tuple(int(g or 0) for g in groups)


def _cn_date(text: str) -> dt.date | None:
    found = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", text)
    return dt.date(*map(int, found.groups())) if found else None


def printed_half(path: Path) -> dict:
    """The figures of a rendered half-year report, read from its paragraphs and tables."""
    doc = Document(path)
    texts = [p.text for p in doc.paragraphs]
    text = "\n".join(texts)
    out: dict = {"as_of": _cn_date(find_groups(r"数据截至(\d{4}年\d{1,2}月\d{1,2}日)", text)[0])}
    out["overview"] = _ints(find_groups(
        r"全市(\d+)个县（市、区）和系统党委共确定示范点(\d+)个(?:（其中\d+家由[^）]*单位重复登记）)?，"
        r"其中国企(\d+)个、非公企业(\d+)个。企业组(\d+)名同志中"
        r"(\d+)名分片联系(\d+)个示范点(?:，另有(\d+)个示范点尚未确定企业组联系人员)?。半年来企业组成员共联系指导(\d+)次，"
        r"其中现场指导和座谈会(\d+)次（现场指导(\d+)次、座谈会(\d+)次）；各单位应报月报表(\d+)份，实报(\d+)份", text))
    out["goods"] = _ints(find_groups(r"国企示范点中有(\d+)个实行“双向进入、交叉任职”，交叉任职(\d+)人；(\d+)个示范点配齐党组织书记",
                               text) + find_groups(r"党员责任区(\d+)个，非公企业示范点参加“六个一”活动党员(\d+)人", text)
                         + find_groups(r"已有(\d+)个示范点开展民主评议党员", text))
    life = find_groups(r"各示范点共开展组织生活(\d+)次：(.*?)。", text)
    out["pillars"] = (*_ints(find_groups(r"(\d+)个示范点中(\d+)个党组织书记明确", text)
                            + find_groups(r"共发展党员(\d+)名，其中一线工人(\d+)名；截至[^，；]*，现有入党积极分子(\d+)名，示范点党员合计(\d+)名",
                                    text) + life[:1]),
                      {k: int(n) for k, n in re.findall(r"([^、]+?)(\d+)次", life[1])})
    out["rate"] = _ints(find_groups(r"共评价(\d+)项次，其中达标(\d+)项次、未达标(\d+)项次(?:，另有(\d+)项次统计期未结束)?", text))
    rate = re.search(r"已有结论的(\d+)项次中执行率为([\d.]+)%", text)
    out["rate_pct"] = (int(rate.group(1)), float(rate.group(2))) if rate else None
    out["hardware"] = _ints(find_groups(r"(\d+)个示范点硬件设施达到“十二个有”或“十个一”标准，(\d+)个示范点尚未达标", text))
    out["plans"] = _ints(find_groups(r"目前按期上报(\d+)个，逾期上报(\d+)个，尚未上报(\d+)个；上报方案后已开展组织生活的(\d+)个", text))
    failed, not_due = _ints(find_groups(r"未达标事项(\d+)项，涉及\d+个单位，逐项列于附件3[^；。]*(?:；另有(\d+)项统计期尚未结束)?",
                                        text))
    out["findings"] = (failed + not_due, failed, not_due)
    found = re.search(r"超过整改时限仍未办结的(\d+)个问题", text)
    out["overdue_open"] = int(found.group(1)) if found else 0
    start = texts.index(next(t for t in texts if t.startswith("六、典型做法")))
    end = texts.index(next(t for t in texts if t.startswith("七、")))
    out["typical"] = sorted(re.match(r"\d+\. (.+?)：", t).group(1) for t in texts[start + 1:end]
                            if re.match(r"\d+\. ", t))

    annex1 = rows_under(doc, "序号", "单位", "示范点", "确定联系\n方案上报")
    out["annex1"] = {(r[1], r[2]): (*_two_days(r[3]), *_two_days(r[4]), r[5], int(r[6]), _start_month(r[7]))
                     for r in annex1}
    # a requirement of one kind of site says so by its name (国企民主生活会): 适用对象 国企 is 国企示范点
    out["annex2"] = {r[0]: (r[1] + "示范点" if r[1] in ("国企", "非公") else r[1], *(int(x) for x in r[3:8]))
                     for r in rows_under(doc, "要求", "适用对象")}
    out["annex3"] = sorted(_problem_list(rows_under(doc, "存在问题", "对应要求")).items())
    return out


def _problem_list(rows: list[list[str]]) -> Counter:
    """附件3, the one problem list: a band (one cell) names the unit and the site ("闽江区　闽江供电党建示范点", the
    unit alone for what concerns the unit), the rows under it a requirement each, one failure a line; a line that
    names several people ("方丽君、潘雪芳：…") is a failure of each."""
    listed: Counter = Counter()
    unit = site = ""
    for r in rows:
        if len(set(r)) == 1:  # a band: one cell across the table (python-docx gives it once per column)
            unit, _, site = r[0].partition("　")
            continue
        problem, rule = r
        for line in filter(None, problem.split("\n")):
            people = re.match(r"^([^：]+)：", line) if rule == ONE_LINE_EACH[0] else None
            n = len(people.group(1).split("、")) if people else 1
            quoted = _quoted_problem(line) if rule == ONE_LINE_EACH[1] else ""
            listed[(unit, site, rule, FAILED, quoted)] += n
    return listed


def _two_days(cell: str) -> tuple:
    """附件1 prints two dates in one cell, one a line (2026-11-08)."""
    first, _, second = cell.partition("\n")
    return tuple(dt.date.fromisoformat(x) if x else None for x in (first.strip(), second.strip()))


def _start_month(cell: str) -> str:
    found = re.match(r"(\d{4})年(\d{1,2})月起开展工作", cell)
    return f"{found.group(1)}-{int(found.group(2)):02d}" if found else ""


def _quoted_problem(evidence: str) -> str:
    found = re.search(r"“(.+?)”(?:于|正在|超过|逾期)", evidence)
    return norm(found.group(1)) if found else evidence


def half_mismatches(expected: dict, shown: dict) -> list[str]:
    """Every figure where the half-year report and the recount disagree, and where the report disagrees with
    itself (text vs annexes, annex 2 vs annex 3); empty: they reconcile."""
    out = [f"{key}: 报告 {shown.get(key)!r} ≠ 台账重算 {value!r}" for key, value in expected.items()
           if shown.get(key) != value]
    # 附件3 lists a failure a line (a line per period); 附件2 counts each subject once, by its worst status
    listed: Counter = Counter()
    for (_unit, _site, rule, _status, _problem), n in shown["annex3"]:
        listed[rule] += n if rule in ONE_LINE_EACH else 1  # a 企业组 member or a problem: a line each
    for rule, (_, subjects, met, failed, at_risk, no_data) in shown["annex2"].items():
        if met + failed + at_risk + no_data != subjects:
            out.append(f"附件2 {rule}：各列之和 {met + failed + at_risk + no_data} ≠ {subjects}")
        if failed != listed[rule]:
            out.append(f"附件2 {rule} 未达标 {failed} ≠ 附件3 所列 {listed[rule]}")
    # the 一套工作制度 sentence: its 未达标 项次 are 附件3's lines of the frequency requirements, its 待完成 项次
    # are among those the body counts apart; its rate is over the 项次 already decided
    titles = {r["title"] for r in rulebook()["rules"].values() if "activities" in r}
    total, met, failed, pending = shown["rate"]
    lines = sum(n for k, n in shown["annex3"] if k[2] in titles)
    if failed != lines or pending > shown["findings"][2]:
        out.append(f"一套工作制度 未达标/{AT_RISK} {(failed, pending)} ≠ 附件3 所列 {lines} / 正文另计 {shown['findings'][2]}")
    decided = (met + failed, round(met / (met + failed) * 100, 1)) if met + failed else None
    if met + failed + pending != total or shown["rate_pct"] != decided:
        out.append(f"一套工作制度 执行率 {shown['rate_pct']} ≠ 达标{met}/已有结论{met + failed}")
    total = sum(n for _, n in shown["annex3"])
    if shown["findings"][1] != total:
        out.append(f"存在问题：正文未达标 {shown['findings'][1]} ≠ 附件3 共{total}项")
    return out


def _milestone(book: dict, deadline) -> dt.date:
    """A one-time milestone's date: a TOML date, or (the first release's single-year rulebook) "MM-DD"
    of its ``[calendar] year``."""
    if isinstance(deadline, dt.date):
        return deadline
    return dt.date.fromisoformat(f"{book['calendar']['year']}-{deadline}")
