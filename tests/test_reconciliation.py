"""Reconciliation: every figure the monthly report prints, recounted from the ledger by plain SQL.

The recount below reads only the ledger file (sqlite3), the rulebook file (tomllib) and the roster;
it shares no code with the counting of the reports.  The printed figures are read back from the
rendered .docx (paragraph text and table cells) and must equal the recount — on the demo year's
latest month and on a small scenario built to exercise every rule of SPEC §10.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import tomllib
import unicodedata
from pathlib import Path

import pytest
from docx import Document

from conftest import DEMO_TODAY
from docx_helpers import find_groups, rows_under
from half_year_recount import ledger_as_of
from scenario_helpers import SCENARIO_AS_OF, SCENARIO_MONTH, build_scenario
from processor.consolidate.run import consolidate
from processor.common.paths import PACKAGE_DIR
from processor.validate.roster import workspace_roster
from processor.schemas.form import SHEETS_BY_KEY

MODES = {"phone": "电话联系", "onsite": "现场指导", "meeting": "座谈会", "other": "其他"}
ACCEPTED = "JOIN files f ON f.id = t.file_id AND f.status = 'accepted'"


# --- the independent recount ------------------------------------------------------------------

def _norm(text: str | None) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith("P"))).lower()


def _rulebook() -> dict:
    return tomllib.loads((PACKAGE_DIR.parent / "schemas" / "requirements.toml").read_text(encoding="utf-8"))


def _period_months(month: str, kind: str) -> list[str]:
    y, m = int(month[:4]), int(month[5:])
    first = {"quarter": (m - 1) // 3 * 3 + 1, "half": 1 if m <= 6 else 7, "year": 1, "month": m}[kind]
    size = {"quarter": 3, "half": 6, "year": 12, "month": 1}[kind]
    return [f"{y}-{k:02d}" for k in range(first, first + size)]


def _month_end(month: str) -> dt.date:
    y, m = int(month[:4]), int(month[5:])
    return dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)


def recount(db: Path, units: list[str], month: str, as_of: dt.date) -> dict:
    """Every figure of the month's report, from the ledger's accepted rows."""
    book = _rulebook()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.create_function("norm", 1, _norm)
    q = lambda sql, *args: con.execute(sql, args).fetchall()  # noqa: E731
    out: dict = {}
    y, m = int(month[:4]), int(month[5:])
    deadline = dt.date(y + m // 12, m % 12 + 1, book["calendar"]["submission_deadline_day"])

    registered = q(f"""SELECT t.unit, t.site, t.enterprise_kind, COALESCE(t.staff, '') FROM sites t {ACCEPTED}
        WHERE t.month = (SELECT MAX(s.month) FROM sites s JOIN files g ON g.id = s.file_id AND g.status = 'accepted'
                         WHERE s.unit = t.unit AND s.month <= ?)""", month)
    registered = [r for r in registered if r[0] in units]
    reported = [r for r in q(f"SELECT t.unit, t.site, t.enterprise_kind, t.staff FROM sites t {ACCEPTED} "
                             "WHERE t.month = ?", month) if r[0] in units]
    keys = {(u, s) for u, s, *_ in reported}
    kind_of = {(u, s): k for u, s, k, _ in reported}
    out["as_of"] = as_of
    out["overview"] = (len(units), len(registered), sum(r[2] == "国企" for r in registered),
                       sum(r[2] == "非公" for r in registered), len(reported))
    out["unreported"] = sorted(f"{u}{s}" for u, s, *_ in registered if (u, s) not in keys)

    # 一、报送情况 and 附件1
    arrivals = {u: (first, rejected, valid) for u, first, rejected, valid in q("""
        SELECT COALESCE(folder_unit, unit),
               MIN(CASE WHEN status IN ('accepted', 'superseded') THEN substr(received_at, 1, 10) END),
               SUM(status = 'rejected'), SUM(status IN ('accepted', 'superseded'))
        FROM files WHERE month = ? GROUP BY COALESCE(folder_unit, unit)""", month)}
    annex1 = {}
    for unit in units:
        first, rejected, valid = arrivals.get(unit, (None, 0, 0))
        if first is None:
            overdue = max((as_of - deadline).days, 0)
            annex1[unit] = ("未报送", "已退回待重报" if rejected else (f"已逾期{overdue}天" if overdue else "未到报送期限"))
        else:
            late = (dt.date.fromisoformat(first) - deadline).days
            annex1[unit] = ("按时报送" if late <= 0 else "逾期报送",
                            "；".join(filter(None, [f"逾期{late}天" if late > 0 else "",
                                                   "退回后重报" if rejected else "已更正重报" if valid > 1 else ""])))
    out["annex1"] = annex1
    statuses = [s for s, _ in annex1.values()]
    out["submission"] = (len(units), statuses.count("按时报送"), statuses.count("逾期报送"), statuses.count("未报送"))
    out["returned"] = sorted(u for u, (s, note) in annex1.items() if "退回后重报" in note)

    # 二、联系指导情况: by the person written on each record
    contacts = [c for c in q(f"SELECT t.unit, t.site, t.staff, t.mode FROM contacts t {ACCEPTED} WHERE t.month = ?",
                             month) if c[0] in units]
    by_mode = {k: sum(c[3] == mode for c in contacts) for k, mode in MODES.items()}
    out["contacts"] = (len(contacts), by_mode["phone"], by_mode["onsite"], by_mode["meeting"], by_mode["other"],
                       len({(c[0], c[1]) for c in contacts if (c[0], c[1]) in keys}))
    assigned = {(u, s): staff for u, s, _, staff in registered}
    staff_rows = {}
    for name, in q("SELECT DISTINCT staff FROM contacts t " + ACCEPTED + " WHERE t.month = ?", month):
        staff_rows[name] = None
    for name in set(assigned.values()) | set(staff_rows):
        if not name:
            continue
        made = [c for c in contacts if c[2] == name]
        staff_rows[name] = (sum(v == name for v in assigned.values()),
                            *(sum(c[3] == mode for c in made) for mode in MODES.values()), len(made),
                            sum(assigned.get((c[0], c[1])) != name for c in made))
    out["staff"] = staff_rows
    out["elsewhere"] = sum(r[-1] for r in staff_rows.values())
    out["sites"] = {f"{u}|{s}": tuple(sum(c[0] == u and c[1] == s and c[3] == MODES[k] for c in contacts)
                                      for k in ("phone", "onsite", "meeting")) + (
                        sum(c[0] == u and c[1] == s for c in contacts),) for u, s, *_ in reported}

    # 三、示范点建设情况
    members = [r for r in q(f"""SELECT t.unit, t.site, t.total, t.new_members, t.new_workers, t.new_intellectuals,
                                t.activists, t.mobile, t.mobile_managed, t.duty_zones, t.six_ones, t.cross_posts
                                FROM members t {ACCEPTED} WHERE t.month = ?""", month) if (r[0], r[1]) in keys]
    col = lambda i: sum(r[i] or 0 for r in members)  # noqa: E731
    out["members"] = tuple(col(i) for i in range(2, 11))
    soe = [r for r in members if kind_of[(r[0], r[1])] == "国企" and (r[11] or 0)]
    out["team"] = (sum(k == "国企" for k in kind_of.values()), len(soe), sum(r[11] for r in soe),
                   sum(k == "非公" for k in kind_of.values()))
    life = [r for r in q(f"SELECT t.unit, t.activity FROM org_life t {ACCEPTED} WHERE t.month = ?", month)
            if r[0] in units]
    kinds: dict[str, int] = {}
    for _, activity in life:
        kinds[activity] = kinds.get(activity, 0) + 1
    out["org_life"] = (len(life), kinds)

    quorum = book["rules"]["X-1"].get("enabled", True)
    frequency = {}
    for rule in book["rules"].values():
        if "activities" not in rule:
            continue
        months = [p for p in _period_months(month, rule["period"]) if p <= month]
        closed = _month_end(_period_months(month, rule["period"])[-1]) < as_of and months[-1] == \
            _period_months(month, rule["period"])[-1]
        subjects = [k for k, kind in kind_of.items() if kind == rule["applies_to"]]
        met = 0
        for unit, site in subjects:
            counts = dict(q(f"""SELECT t.activity, COUNT(*) FROM org_life t {ACCEPTED}
                WHERE t.unit = ? AND t.site = ? AND t.month IN ({','.join('?' * len(months))})
                  AND NOT (? AND t.activity = '党员大会' AND t.present * 2 <= t.expected)
                GROUP BY t.activity""", unit, site, *months, quorum))
            met += all(counts.get(a, 0) >= n for a, n in rule["activities"].items())
        if subjects:
            short = len(subjects) - met
            frequency[rule["title"]] = (len(subjects), met, 0 if closed else short, short if closed else 0)
    out["frequency"] = frequency

    hw_names = SHEETS_BY_KEY["hardware"].names
    complete = incomplete = 0
    for row in q(f"SELECT t.* FROM hardware t {ACCEPTED} WHERE t.month = ?", month):
        record = dict(zip([d[0] for d in con.execute("SELECT * FROM hardware LIMIT 0").description], row, strict=True))
        if (record["unit"], record["site"]) not in keys:
            continue
        rule = next(r for r in book["rules"].values() if "items" in r and r.get("applies_to") == kind_of[
            (record["unit"], record["site"])])
        ok = all(record[hw_names[item]] == "是" for item in rule["items"])
        if "min_room_area" in rule:
            ok = ok and record["room_area"] is not None and record["room_area"] >= rule["min_room_area"]
        complete, incomplete = complete + ok, incomplete + (not ok)
    out["hardware"] = (complete + incomplete, complete, incomplete)

    # 四、存在问题: problem threads (site + normalised text; the latest record decides), those found
    # by the month's end, each with its status as of the run's day: from the records of every month
    threads: list[tuple] = []  # (unit, site, records); a problem found again after closing is a new one
    current: dict[tuple, list] = {}
    for r in q(f"""SELECT t.unit, t.site, norm(t.problem), t.problem, t.date, t.deadline, t.state, t.month
                   FROM contacts t {ACCEPTED} WHERE TRIM(COALESCE(t.problem, '')) != ''
                   ORDER BY t.date, t.month, t.row"""):
        if r[0] not in units:
            continue
        records = current.get(r[:3])
        if records is None or (records[-1][6] == "已办结" and r[6] != "已办结"):
            records = current[r[:3]] = []
            threads.append((r[0], r[1], records))
        records.append(r)
    first_day = month + "-01"
    problems = []
    for unit, site, records in threads:
        if records[0][7] > month:
            continue  # found after the month
        latest = records[-1]
        limit = latest[5] or next((r[5] for r in reversed(records) if r[5]), None)
        closed_on = None
        if latest[6] == "已办结":
            closed_on = latest[4]
            for r in reversed(records):
                if r[6] != "已办结":
                    break
                closed_on = r[4]
        if closed_on is not None and closed_on < first_day:
            continue
        if closed_on is not None:
            state = "逾期办结" if limit and closed_on > limit else "已办结"
        elif limit and dt.date.fromisoformat(limit) < as_of:
            state = f"逾期{(as_of - dt.date.fromisoformat(limit)).days}天未办结"
        else:
            state = "正在整改"
        first_limit = next((r[5] for r in records if r[5]), None)
        moved = "" if first_limit is None or limit is None or first_limit == limit \
            else "延至" if limit > first_limit else "提前至"
        problems.append((unit, site, records[0][3].strip(), state, moved))
    states = [p[3] for p in problems]
    out["problems"] = sorted(problems)
    out["problem_counts"] = (len(problems), states.count("已办结") + states.count("逾期办结"), states.count("逾期办结"),
                             states.count("正在整改"), sum(s.startswith("逾期") and s.endswith("未办结") for s in states),
                             sum(p[4] == "延至" for p in problems), sum(p[4] == "提前至" for p in problems))
    con.close()
    return out


# --- what the report prints ---------------------------------------------------------------------

def _cn_day(text: str, year: int) -> dt.date:
    y, m, d = re.fullmatch(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日", text).groups()
    return dt.date(int(y or year), int(m), int(d))


def printed(path: Path) -> dict:
    """The figures of a rendered monthly report, read from its paragraphs and tables."""
    doc = Document(path)
    text = "\n".join(p.text for p in doc.paragraphs)
    out: dict = {}
    (day,) = find_groups(r"数据截至(\d{4}年\d{1,2}月\d{1,2}日)", text)
    out["as_of"] = _cn_day(day, 0)
    g = find_groups(r"(\d+)个县（市、区）和系统党委已确定的示范点(\d+)个(?:（其中\d+家由[^）]*单位重复登记）)?，"
                    r"其中国企(\d+)个、非公企业(\d+)个；本月报送数据的示范点(\d+)个", text)
    out["overview"] = tuple(map(int, g))
    found = re.search(r"本月未报送的示范点：(.*?)。", text)  # named under 各示范点联系情况, not on page 1
    out["unreported"] = sorted(found.group(1).split("、")) if found else []

    annex1 = rows_under(doc, "序号", "单位", "单位类型", "报送情况")
    out["annex1"] = {r[1]: (r[3], r[7]) for r in annex1}
    g = find_groups(r"本月应报单位(\d+)个，按时报送(\d+)个，逾期报送(\d+)个(?:（[^）]*）)?，未报送(\d+)个", text)
    out["submission"] = tuple(map(int, g))
    out["returned"] = sorted(re.findall(r"([^。；，]+?)报表被退回后，于\d+月\d+日更正重新报送", text))

    g = find_groups(r"共联系指导示范点(\d+)次，其中电话联系(\d+)次、现场指导(\d+)次、座谈会(\d+)次(?:、其他方式(\d+)次)?，"
              r"覆盖本月报送的\d+个示范点中的(\d+)个", text)
    out["contacts"] = tuple(int(x or 0) for x in g)
    found = re.search(r"其中(\d+)次联系的是非本人分工联系的示范点", text)
    out["elsewhere"] = int(found.group(1)) if found else 0
    staff = rows_under(doc, "组别", "企业组人员")
    out["staff"] = {r[1]: tuple(int(x) for x in r[2:9]) for r in staff if any(int(x) for x in r[2:9])}
    sites = rows_under(doc, "单位", "示范点", "联系人员")
    out["sites"] = {f"{r[0]}|{r[1]}": (int(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in sites}

    g = find_groups(r"本月报送的国企示范点(\d+)个，其中(\d+)个实行“双向进入、交叉任职”，交叉任职(\d+)人；"
              r"非公企业示范点(\d+)个", text)
    out["team"] = tuple(map(int, g))
    g = find_groups(r"本月报送的示范点共有党员([\d,]+)名，本月发展党员(\d+)名，其中一线工人(\d+)名、知识分子和技术骨干(\d+)名；"
              r"现有入党积极分子(\d+)名；流动党员(\d+)名，其中已转出组织关系或纳入社区管理(\d+)名", text)
    duty = find_groups(r"共设立党员责任区(\d+)个；非公企业示范点参加“六个一”活动党员(\d+)人。", text)
    out["members"] = tuple(int(x.replace(",", "")) for x in (*g, *duty))
    (total, kinds) = find_groups(r"本月共开展组织生活(\d+)次(?:，其中(.*?))?。", text)
    out["org_life"] = (int(total), {k: int(n) for k, n in re.findall(r"(.+?)(\d+)次(?:、|$)", kinds or "")})
    freq = rows_under(doc, "制度要求", "适用", "统计期")
    out["frequency"] = {r[0]: tuple(int(x) for x in r[3:7]) for r in freq}
    g = find_groups(r"本月报送硬件设施情况的(\d+)个示范点中，硬件设施齐全的(\d+)个，尚有缺项的(\d+)个", text)
    out["hardware"] = tuple(map(int, g))

    g = find_groups(r"联系指导中发现并跟踪的问题(\d+)个.*?：本月办结(\d+)个（其中逾期办结(\d+)个），正在整改(\d+)个，"
              r"超过整改时限仍未办结(\d+)个(?:，延长整改时限(\d+)个)?(?:，缩短整改时限(\d+)个)?", text)
    out["problem_counts"] = tuple(int(x or 0) for x in g)
    # internal agreement: the sentence's failures are 附件2's lines (one item a line, under a band per unit)
    # and the late or missing forms it leaves to 附件1
    (failed,) = find_groups(r"本月未达标事项(\d+)项", text)
    elsewhere = re.search(r"其中报表逾期或未报送(\d+)项见附件1", text)
    annex2 = [r for r in rows_under(doc, "示范点", "存在问题", "对应要求") if len(set(r)) > 1]
    out["annex2"] = (int(failed), sum(len(r[1].split("\n")) for r in annex2)
                     + (int(elsewhere.group(1)) if elsewhere else 0))
    return out


def mismatches(expected: dict, shown: dict) -> list[str]:
    """Every figure where the report and the recount disagree (empty: they reconcile).  The problem threads
    are compared by their counts: the report lists each once, in 附件2 when it fails, not in a body table."""
    out = [f"{key}: 报告 {shown.get(key)!r} ≠ 台账重算 {value!r}" for key, value in expected.items()
           if key != "problems" and shown.get(key) != value]
    counted, listed = shown["annex2"]
    if counted != listed:
        out.append(f"存在问题：正文 {counted} ≠ 附件2 {listed}")
    return out


def monthly_report(ws, month: str) -> Path:
    (path,) = [p for p in (ws.outbox / "月度汇总报告" / month).glob("*.docx")]
    return path


def reminder_list(ws, month: str) -> Path:
    return ws.outbox / "催报名单" / month / "催报名单.docx"


# --- the scenario: every bullet of SPEC §10 in a few forms (scenario_helpers.py) ---------------

MONTH, AS_OF = SCENARIO_MONTH, SCENARIO_AS_OF


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    from conftest import make_workspace

    root = tmp_path_factory.mktemp("reconcile")
    ws = make_workspace(root / "ws")
    build_scenario(ws, root)
    consolidate(ws, month=MONTH, today=AS_OF)
    return ws


def _units(ws) -> list[str]:
    return [u.name for u in workspace_roster(ws).units]


def test_scenario_report_figures_equal_the_ledger_recount(scenario):
    expected = recount(scenario.ledger_path, _units(scenario), MONTH, AS_OF)
    # the scenario holds every case of SPEC §10 (read from the recount, not from the report)
    assert expected["unreported"] and all(s.startswith("鼓山区") for s in expected["unreported"])
    assert expected["returned"] == ["闽江区"] and expected["elsewhere"] >= 1
    states = {p[2]: (p[3], p[4]) for p in expected["problems"]}
    assert states["党员活动室设施不齐全"] == ("正在整改", "延至")
    assert states["流动党员管理台账未建立"] == ("逾期办结", "")
    assert states["党建阵地标识未上墙"] == ("逾期20天未办结", "提前至")
    assert states["“三会一课”记录不够规范"] == ("逾期20天未办结", "")
    assert any(v[2] for v in expected["frequency"].values())  # X-1 left a quarter requirement 待完成
    assert mismatches(expected, printed(monthly_report(scenario, MONTH))) == []


def test_one_run_prints_one_as_of_date_and_the_same_overdue_days(scenario):
    report = Document(monthly_report(scenario, MONTH))
    reminder = Document(reminder_list(scenario, MONTH))
    assert "数据截至2026年11月20日" in "".join(p.text for p in report.paragraphs)
    assert "截至2026年11月20日" in "".join(p.text for p in reminder.paragraphs)
    in_report = {r[1]: r[7] for r in rows_under(report, "序号", "单位", "单位类型", "报送情况") if r[3] == "未报送"}
    in_reminder = {r[1]: r[-1] for r in rows_under(reminder, "序号", "单位")}  # 逾期天数 last
    assert in_report["鼓山区"] == "已逾期15天" and in_reminder["鼓山区"] == "15"
    assert all(in_report[u] == f"已逾期{d}天" for u, d in in_reminder.items() if u in in_report
               and in_report[u].startswith("已逾期"))


def test_a_wrong_count_is_caught(scenario, tmp_path, monkeypatch):
    """Break one counting function: the reconciliation must name the figure that is off."""
    ws_root = tmp_path / "ws"
    shutil.copytree(scenario.root, ws_root)
    from processor.common.config import load_workspace

    ws = load_workspace(ws_root)
    from processor.consolidate import monthly as counting

    honest = counting.mode_counts

    def one_phone_call_too_many(contacts):
        counts = honest(contacts)
        if contacts:
            counts["phone"] += 1
            counts["total"] += 1
        return counts

    monkeypatch.setattr(counting, "mode_counts", one_phone_call_too_many)
    consolidate(ws, month=MONTH, today=AS_OF)
    expected = recount(ws.ledger_path, _units(ws), MONTH, AS_OF)
    found = mismatches(expected, printed(monthly_report(ws, MONTH)))
    assert any(line.startswith("contacts:") for line in found), found


# --- the demo year ------------------------------------------------------------------------------

NEW_YEAR_DAY = dt.date(2027, 2, 8)  # the demo's own day: its latest month is January 2027


@pytest.fixture(scope="module")
def demo_into_2027(tmp_path_factory):
    """The demo as ``processor demo`` makes it: January 2026 to January 2027."""
    from demo_helpers import demo_copy

    return demo_copy(tmp_path_factory, today=NEW_YEAR_DAY).workspace


@pytest.mark.slow
@pytest.mark.parametrize("month", ["2026-12", "2027-01"])
def test_demo_months_either_side_of_the_new_year_reconcile(demo_into_2027, month, tmp_path):
    # the forms received after the demo's day are not counted in its outputs (SPEC §10)
    ledger = ledger_as_of(demo_into_2027.ledger_path, NEW_YEAR_DAY, tmp_path)
    expected = recount(ledger, _units(demo_into_2027), month, NEW_YEAR_DAY)
    assert mismatches(expected, printed(monthly_report(demo_into_2027, month))) == []


def test_demo_latest_month_reconciles(demo_year, tmp_path):
    ws = demo_year.workspace
    month = "2026-10"
    expected = recount(ledger_as_of(ws.ledger_path, DEMO_TODAY, tmp_path), _units(ws), month, DEMO_TODAY)
    assert mismatches(expected, printed(monthly_report(ws, month))) == []


def test_demo_year_exercises_every_counting_rule(demo_year, tmp_path):
    """X-1 below quorum, an extended deadline, a problem closed late, a contact at another's site."""
    ws = demo_year.workspace
    con = sqlite3.connect(f"file:{ws.ledger_path}?mode=ro", uri=True)
    accepted = "JOIN files f ON f.id = t.file_id AND f.status = 'accepted'"
    assert con.execute(f"SELECT COUNT(*) FROM org_life t {accepted} WHERE t.activity = '党员大会' "
                       "AND t.present * 2 <= t.expected").fetchone()[0] >= 1
    con.close()
    expected = recount(ledger_as_of(ws.ledger_path, DEMO_TODAY, tmp_path), _units(ws), "2026-10", DEMO_TODAY)
    assert any(p[4] == "延至" for p in expected["problems"])  # an extended deadline
    assert any(p[3] == "逾期办结" for p in expected["problems"])
    assert expected["elsewhere"] >= 1
    shown = printed(monthly_report(ws, "2026-10"))
    assert shown["problem_counts"] == expected["problem_counts"] and shown["elsewhere"] == expected["elsewhere"]
