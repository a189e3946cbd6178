"""The yearly summary (`consolidate --year 2026`): its per-clause figures recounted from the ledger
by plain SQL, read back from the rendered .docx.  The recount shares no code with the report: it
reads the ledger (sqlite3), the rulebook file (tomllib) and the roster."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document

from form_helpers import scenario_form
from processor.cli import main
from processor.consolidate.run import consolidate
from processor.intake.run import Intake
from processor.common.paths import RULEBOOK_PATH
from processor.validate.roster import workspace_roster

TZ = dt.timezone(dt.timedelta(hours=8))
AS_OF = dt.date(2027, 2, 10)
ACCEPTED = "JOIN files f ON f.id = t.file_id AND f.status = 'accepted'"
MONTHS = ["2026-10", "2026-11", "2026-12", "2027-01"]


def _silent_site(rows):
    """November: no contact at all at the first site (M-1b not met)."""
    first = rows["sites"][0]["site"]
    rows["contacts"] = [c for c in rows["contacts"] if c["site"] != first] or rows["contacts"][:0]


def _desk_only(rows):
    """Every contact by phone: no on-site visit this month (M-1c needs one a quarter)."""
    for c in rows["contacts"]:
        c["mode"] = "电话联系"


def _no_appraisal(rows):
    """No 民主评议党员 or 党纪教育 at all (the yearly rules S-4c / N-4c)."""
    rows["org_life"] = [r for r in rows["org_life"] if r["activity"] not in ("民主评议党员", "党纪教育")]


CHANGES = {("榕城区", "2026-11"): _silent_site, ("马尾区", "2026-10"): _desk_only,
           ("马尾区", "2026-11"): _desk_only, ("马尾区", "2026-12"): _desk_only}


def _received(month: str, late: bool) -> dt.datetime:
    y, m = int(month[:4]), int(month[5:])
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return dt.datetime(y, m, 9 if late else 3, 9, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def year_ws(tmp_path_factory):
    from conftest import make_workspace

    root = tmp_path_factory.mktemp("year")
    ws = make_workspace(root / "ws")
    intake = Intake(ws)
    try:
        for unit in ("榕城区", "马尾区", "闽江区"):
            for i, month in enumerate(MONTHS):
                change = CHANGES.get((unit, month))
                if unit == "闽江区":
                    change = _no_appraisal
                staged = scenario_form(root / f"{unit}{month}.xlsx", unit, month, change, seed=len(unit))
                target = ws.inbox / unit / f"{unit}{month}.xlsx"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(staged, target)
                received = _received(month, unit == "马尾区" and i == 1)
                intake.clock = lambda when=received: when
                assert intake.handle(target).status == "accepted"
    finally:
        intake.close()
    return ws


# --- the independent recount ------------------------------------------------------------------

def recount(db: Path, units: list[str], year: int, as_of: dt.date) -> dict[str, tuple[int, int, int]]:
    """(项次, 达标, 未达标) per requirement title, for the closed periods of ``year``."""
    book = tomllib.loads(RULEBOOK_PATH.read_text(encoding="utf-8"))
    rules = book["rules"]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    q = lambda sql, *args: con.execute(sql, args).fetchall()  # noqa: E731
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    sites = {m: {(u, s): k for u, s, k in q(f"SELECT t.unit, t.site, t.enterprise_kind FROM sites t {ACCEPTED} "
                                            "WHERE t.month = ?", m) if u in units} for m in months}
    out = {}

    need = rules["M-1b"]["min_contacts"]
    judged = [(m, key) for m in months for key in sites[m]]
    made = {(m, u, s): n for m, u, s, n in q(f"SELECT t.month, t.unit, t.site, COUNT(*) FROM contacts t {ACCEPTED} "
                                             "GROUP BY t.month, t.unit, t.site")}
    met = sum(made.get((m, *key), 0) >= need for m, key in judged)
    out[rules["M-1b"]["title"]] = (len(judged), met, len(judged) - met)

    need, modes = rules["M-1c"]["min_visits"], rules["M-1c"]["onsite_modes"]
    items = met = 0
    for qn in range(4):
        quarter = months[qn * 3:qn * 3 + 3]
        keys = {key for m in quarter for key in sites[m]}
        marks = ",".join("?" * len(quarter))
        visits = dict(((u, s), n) for u, s, n in q(
            f"SELECT t.unit, t.site, COUNT(*) FROM contacts t {ACCEPTED} WHERE t.month IN ({marks}) "
            f"AND t.mode IN ({','.join('?' * len(modes))}) GROUP BY t.unit, t.site", *quarter, *modes))
        items += len(keys)
        met += sum(visits.get(key, 0) >= need for key in keys)
    out[rules["M-1c"]["title"]] = (items, met, items - met)

    kinds = {}
    for m in months:  # a site's kind as its latest form of the year says
        kinds.update(sites[m])
    held = {(u, s, a): n for u, s, a, n in q(
        f"SELECT t.unit, t.site, t.activity, COUNT(*) FROM org_life t {ACCEPTED} WHERE t.month BETWEEN ? AND ? "
        "GROUP BY t.unit, t.site, t.activity", months[0], months[-1])}
    for clause in ("S-4c", "N-4c"):
        rule = rules[clause]
        mine = [key for key, kind in kinds.items() if kind == rule["applies_to"]]
        met = sum(all(held.get((*key, a), 0) >= n for a, n in rule["activities"].items()) for key in mine)
        if mine:
            out[rule["title"]] = (len(mine), met, len(mine) - met)

    day = book["calendar"]["submission_deadline_day"]
    first_in = {(u, m): d for u, m, d in q(
        "SELECT COALESCE(folder_unit, unit), month, MIN(substr(received_at, 1, 10)) FROM files "
        "WHERE status IN ('accepted', 'superseded') GROUP BY COALESCE(folder_unit, unit), month")}
    items = met = 0
    for m in months:
        y, mm = int(m[:4]), int(m[5:])
        deadline = dt.date(y + mm // 12, mm % 12 + 1, day)
        for unit in units:
            received = first_in.get((unit, m))
            if received is None and deadline >= as_of:
                continue
            items += 1
            met += received is not None and dt.date.fromisoformat(received) <= deadline
    out[rules["M-4b"]["title"]] = (items, met, items - met)
    return out


def printed(path: Path) -> tuple[dict[str, tuple[int, int, int]], str]:
    doc = Document(path)
    for table in doc.tables:
        if [c.text for c in table.rows[0].cells][:4] == ["要求", "适用", "统计期", "评价项次"]:
            rows = {r.cells[0].text: tuple(int(r.cells[i].text) for i in (3, 4, 5)) for r in table.rows[1:]}
            return rows, "\n".join(p.text for p in doc.paragraphs)
    raise AssertionError("年度工作总结中没有各项要求落实情况表")


def test_year_summary_figures_equal_the_ledger_recount(year_ws):
    result = consolidate(year_ws, year="2026", today=AS_OF)
    assert result.years == ["2026"]
    [report] = [p for p in result.written if p.parent.name == "2026" and p.suffix == ".docx"
                and "年度工作总结" in str(p)]
    assert "2026年度" in report.name
    shown, text = printed(report)
    units = [u.name for u in workspace_roster(year_ws).units]
    expected = recount(year_ws.ledger_path, units, 2026, AS_OF)
    assert expected["每月沟通联系"][2] >= 1 and expected["每季度现场指导"][2] >= 1, "the scenario has shortfalls"
    assert expected["每月汇报"][2] >= 1
    for title, figures in expected.items():
        assert shown.get(title) == figures, (title, shown.get(title), figures)
    items, met, failed = (sum(v[i] for v in shown.values()) for i in range(3))
    assert f"全年共评价{items}项次，达标{met}项次，未达标{failed}项次" in text
    assert "依据2026版规则" not in text and "数据截至2027年2月10日" in text  # the rules are named by their title, never a version tag


def test_a_year_outside_the_rules_is_refused_saying_how_to_extend_them(year_ws):
    result = CliRunner().invoke(main, ["-w", str(year_ws.root), "consolidate", "--year", "2029"])
    assert result.exit_code == 2
    said = re.sub(r"\s+", "", result.output)
    assert "2029年度" in said and "2026-01至2027-12" in said and "[[versions]]" in said


def test_the_night_after_decembers_deadline_writes_december_the_second_half_and_the_year(year_ws):
    result = consolidate(year_ws, today=dt.date(2027, 1, 7))
    assert (result.months, result.halves, result.years) == (["2026-12"], ["2026-H2"], ["2026"])
    outbox = year_ws.outbox
    for folder in ("月度汇总报告/2026-12", "半年工作报告/2026-H2", "年度工作总结/2026"):
        [report] = list((outbox / folder).glob("*.docx"))
        assert "2027年1月7日" in "\n".join(p.text for p in Document(report).paragraphs), folder  # dated that night


# --- the summary in the form the office writes (signable reports, finding 6) ----------------------------

SECTIONS = ["一、基本情况", "二、主要成效", "三、经验做法", "四、存在问题", "五、2027年工作打算"]


def _year_text(ws, year: str, today: dt.date) -> list[str]:
    consolidate(ws, year=year, today=today)  # an unchanged report is not written again: read the outbox's
    [report] = list((ws.outbox / "年度工作总结" / year).glob("*.docx"))
    return [p.text for p in Document(report).paragraphs]


def _between(texts: list[str], start: str, end: str) -> list[str]:
    i = texts.index(start)
    j = next(k for k in range(i + 1, len(texts)) if texts[k].startswith(end))
    return texts[i + 1:j]


def test_year_summary_has_the_offices_five_sections_and_plans_the_named_next_year(year_ws):
    texts = _year_text(year_ws, "2026", AS_OF)
    assert [t for t in texts if t in SECTIONS] == SECTIONS
    achievements = _between(texts, "二、主要成效", "对照实施意见逐项逐期评价")
    assert [t.split("。", 1)[0] for t in achievements][:4] == ["1. 联系指导", "2. 组织生活", "3. 党员队伍", "4. 制度落实"]
    assert any("上年未纳入统计" in t for t in achievements)  # 2026 is the ledger's first year: no comparison invented
    plan = _between(texts, "五、2027年工作打算", "附件：")
    # a closed year's missed activities cannot be held any more: the plan is for 2027, naming what each site lacked
    assert plan and not [t for t in plan if "尚未开展" in t or "明年" in t]
    lacking = [t for t in plan if "组织生活未达到规定频次" in t]
    assert len(lacking) == 1 and "闽江区" in lacking[0] and "民主评议党员" in lacking[0] and "2027年" in lacking[0]


def test_the_liaising_staff_are_those_with_a_site_and_the_others_are_counted_apart(year_ws):
    con = sqlite3.connect(f"file:{year_ws.ledger_path}?mode=ro", uri=True)
    site_staff = {s for (s,) in con.execute(f"SELECT t.staff FROM sites t {ACCEPTED} WHERE t.month = '2026-12'")}
    names = {s.name for s in workspace_roster(year_ws).staff}
    with_site = len(site_staff & names)
    assert 0 < with_site < len(names), "the scenario's roster has members without a site"
    text = "\n".join(_year_text(year_ws, "2026", AS_OF))
    assert f"由企业组{with_site}名同志分片联系" in text
    assert f"企业组另有{len(names) - with_site}名同志尚未分片联系示范点" in text


def test_main_results_stand_against_last_years_figures_where_the_ledger_has_last_year(year_ws):
    con = sqlite3.connect(f"file:{year_ws.ledger_path}?mode=ro", uri=True)
    (last_year,) = con.execute(f"SELECT COUNT(*) FROM contacts t {ACCEPTED} WHERE t.month BETWEEN '2026-01' AND '2026-12'"
                               ).fetchone()
    (this_year,) = con.execute(f"SELECT COUNT(*) FROM contacts t {ACCEPTED} WHERE t.month LIKE '2027-%'").fetchone()
    texts = _year_text(year_ws, "2027", dt.date(2028, 2, 10))
    [contacts] = [t for t in _between(texts, "二、主要成效", "对照实施意见逐项逐期评价") if t.startswith("1. 联系指导")]
    # the ledger has October to December of 2026: last year's figure is given with its months, not as a change
    assert f"全年联系指导示范点{this_year}次（上年2026年10月至12月为{last_year}次）" in contacts
    assert "五、2028年工作打算" in texts
