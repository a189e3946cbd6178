"""One consolidation's outputs agree with each other (SPEC §10): the monthly report, the half-year
reports, the 催报名单, the 一览表 and every dossier print the run's one as-of date, and a figure that
appears in several of them is the same figure everywhere.  Read back from the .docx files the demo's
run wrote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import DEMO_TODAY
from docx_helpers import paragraphs, table_with_header, tables

MONTH = "2026-10"
AS_OF = f"{DEMO_TODAY.year}年{DEMO_TODAY.month}月{DEMO_TODAY.day}日"


def _one(folder: Path) -> Path:
    (path,) = folder.glob("*.docx")
    return path


@pytest.fixture(scope="module")
def run(demo_year):
    out = demo_year.workspace.outbox
    return {"monthly": _one(out / "月度汇总报告" / MONTH), "H1": _one(out / "半年工作报告" / "2026-H1"),
            "H2": _one(out / "半年工作报告" / "2026-H2"), "reminder": out / "催报名单" / MONTH / "催报名单.docx",
            "assignment": _one(out / "分组情况一览表"),
            "dossiers": sorted((out / "示范点档案").glob("*/*.docx"))}


def _table(path: Path, *header: str) -> list[list[str]]:
    """The body rows of the table whose header starts with these titles."""
    return next(t[1:] for t in tables(path) if t and t[0][:len(header)] == list(header))


FINDINGS = ("示范点", "存在问题", "对应要求")  # the one problem list: monthly 附件2


HALF_FINDINGS = ("存在问题", "对应要求")  # half-year 附件3: a band names the unit and the site of the rows under it


def _listed(path: Path) -> list[tuple]:
    """The problem list's items (unit, site, evidence, requirement, status): a band names the unit of the
    rows under it (the half-year report's, the unit and the site: "闽江区　闽江供电党建示范点"), a row holds a
    site's items under one requirement, one a line; every item is 未达标."""
    half = next((t[1:] for t in tables(path) if t and t[0] == list(HALF_FINDINGS)), None)
    items, unit, site = [], None, ""
    for r in half if half is not None else _table(path, *FINDINGS):
        if len(set(r)) == 1:
            unit, _, site = r[0].partition("　") if half is not None else (r[0], "", "")
            continue
        if half is not None:
            items.extend((unit, site, line, r[1], "未达标") for line in r[0].split("\n"))
        else:
            items.extend((unit, r[0], line, r[2], "未达标") for line in r[1].split("\n"))
    return items


_THREAD_LINE = re.compile(r"^(“.*”)(?:（(.+?)发现）)?逾期(\d+)天(未?)办结$")


def _same_thread(thread: re.Match, evidence: str) -> bool:
    """The monthly and yearly list's line of a problem thread (“…”逾期9天未办结) and the dossier's evidence:
    the same problem, found then, in the same state and days overdue."""
    quoted, found, days, still_open = thread.groups()
    if quoted not in evidence or (found and found not in evidence):
        return False
    if still_open:
        return "超过整改时限仍未办结" in evidence and f"逾期{days}天）" in evidence
    return "逾期办结" in evidence


def _said_alike(item: str, evidence: str) -> bool:
    """Whether a list's item says what the dossier's evidence says: the same sentence, a problem thread's
    line (:func:`_same_thread`), or (the half-year list's short form of a problem: "“台账未建立”逾期13天办结")
    the same problem, with the same dates and, for one still open, the same days overdue."""
    if item in evidence:
        return True
    if (thread := _THREAD_LINE.match(item)) is not None:
        return _same_thread(thread, evidence)
    quoted = re.match(r"“(.+?)”", item)
    if not quoted or quoted.group(0) not in evidence:
        return False
    open_days = re.search(r"仍未办结，逾期(\d+)天", item)
    said = re.sub(r"（整改时限由.*?）", "", item)  # an extension the dossier writes in its own year's short dates
    return all(d in evidence for d in re.findall(r"\d{4}年\d{1,2}月\d{1,2}日", said)) and (
        not open_days or f"逾期{open_days.group(1)}天" in evidence)


def _text(path: Path) -> str:
    return "\n".join(paragraphs(path))


def test_every_output_of_the_run_prints_the_one_as_of_date(run):
    for name in ("monthly", "H1", "H2", "assignment", *range(len(run["dossiers"]))):
        path = run["dossiers"][name] if isinstance(name, int) else run[name]
        dates = set(re.findall(r"数据截至(\d{4}年\d{1,2}月\d{1,2}日)", _text(path)))
        assert dates == {AS_OF}, (path.name, dates)
    assert re.findall(r"截至(\d{4}年\d{1,2}月\d{1,2}日)", _text(run["reminder"]))[0] == AS_OF
    signed = {p.name: [t for t in paragraphs(p) if re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", t)][-1]
              for p in (run["monthly"], run["H2"], run["reminder"], run["assignment"], run["dossiers"][0])}
    assert set(signed.values()) == {AS_OF}, signed


def test_the_number_of_sites_is_the_same_in_every_output(run):
    (monthly,) = re.findall(r"已确定的示范点(\d+)个", _text(run["monthly"]))
    (half,) = re.findall(r"共确定示范点(\d+)个", _text(run["H2"]))
    (listed,) = re.findall(r"系统党委的(\d+)个示范点", _text(run["assignment"]))
    rows = [r for r in table_with_header(run["assignment"], "企业组联系人员", "联系县（市、区）/系统党委")
            if len(set(r)) > 1 and r[2]]  # a group's band spans the row
    annex1 = _table(run["H2"], "序号", "单位", "示范点")
    assert int(monthly) == int(half) == int(listed) == len(rows) == len(annex1) == 24
    assert {(r[1], r[2]) for r in rows} == {(r[1], r[2]) for r in annex1}


def test_overdue_days_of_a_unit_agree_between_report_and_reminder_list(run):
    annex1 = _table(run["monthly"], "序号", "单位", "单位类型")
    in_report = {r[1]: int(re.search(r"已逾期(\d+)天", r[7]).group(1)) for r in annex1 if "已逾期" in r[7]}
    reminder = {r[1]: int(r[-1]) for r in table_with_header(run["reminder"], "序号", "单位")}  # 逾期天数 last
    assert in_report and set(in_report) <= set(reminder)
    assert all(reminder[u] == d for u, d in in_report.items()), (in_report, reminder)
    # and the half-year report's annex 3 says the same days for the month not sent
    annex3 = _listed(run["H2"])
    for unit, days in in_report.items():
        assert any(r[0] == unit and f"已逾期{days}天" in r[2] for r in annex3), unit


def _dossier_rows(run, unit: str, site: str) -> list[list[str]]:
    path = next(p for p in run["dossiers"] if p.parent.name == unit and p.stem == site)
    return table_with_header(path, "要求", "统计期")


@pytest.mark.parametrize("report", ["monthly", "H2"])
def test_a_sites_status_in_a_report_is_its_status_in_its_dossier(run, report):
    """Each finding a report lists for a site (monthly 附件2, half-year 附件3) is in the site's dossier
    with the same requirement, status and evidence."""
    findings = [r for r in _listed(run[report]) if r[1]]
    assert len(findings) > 10
    for unit, site, evidence, rule, status in findings:
        rows = _dossier_rows(run, unit, site)
        assert any(r[0] == rule and r[2] == status and _said_alike(evidence, r[3]) for r in rows), \
            (unit, site, rule, evidence)
