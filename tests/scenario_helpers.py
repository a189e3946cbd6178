"""Workspaces in a known state, shared by several test modules.

* :func:`assert_consistent` — what must hold after intake, however often it was interrupted;
* :func:`fill_consolidation_ledger` — a small ledger for the consolidation tests (three counties, one
  of them rejected), consolidated as of :data:`TODAY`;
* :func:`build_scenario` — real forms through the real intake, exercising every counting rule of
  SPEC §10 (the reconciliation tests recount its reports from the ledger).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from form_helpers import scenario_form
from ledger_helpers import D, LedgerBuilder, activity, contact, hardware, site
from processor.common.fsutil import sha256_file
from processor.intake.run import Intake
from processor.record.ledger import Ledger

TZ = dt.timezone(dt.timedelta(hours=8))


# --- after intake ---------------------------------------------------------------------------------

def assert_consistent(ws, expected_hashes: set[str]) -> None:
    """Every file in ``expected_hashes`` recorded once (archived, answered, out of the inbox) or still
    waiting in the inbox; no data rows of a file not counted; no half-written file in the outbox."""
    with Ledger(ws.ledger_path) as ledger:
        assert ledger.integrity_ok()
        rows = ledger.files()
        recorded = [r["sha256"] for r in rows if r["status"] != "duplicate"]
        assert len(recorded) == len(set(recorded)), "a file was recorded twice"
        waiting = {sha256_file(p) for p in ws.inbox.rglob("*") if p.is_file()}
        assert set(recorded) | waiting == expected_hashes, "a file was lost"
        assert not set(recorded) & waiting, "a recorded file is still in the inbox"
        for r in rows:
            assert sha256_file(ws.archive / r["archive_path"]) == r["sha256"]
            assert r["receipt_path"] and (ws.outbox / r["receipt_path"]).is_file()
            assert r["inbox_removed"] == 1
        per_file = ledger.query("SELECT file_id, COUNT(*) FROM contacts GROUP BY file_id")
        accepted_ids = {r["id"] for r in rows if r["status"] in ("accepted", "superseded")}
        assert {r[0] for r in per_file} <= accepted_ids
    leftovers = [p for p in ws.outbox.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == [], "a half-written file is visible in the outbox"


# --- a small ledger for consolidation -------------------------------------------------------------

TODAY = D(2026, 11, 26)
INJECTION = "=HYPERLINK(\"http://example.com\",\"点击\")"


def fill_consolidation_ledger(ws) -> LedgerBuilder:
    """October 2026: 榕城区 on time (one non-public site, a formula typed into a contact), 鼓山区 late,
    闽江区 rejected.  The caller closes ``.ledger`` of the builder returned."""
    lb = LedgerBuilder(ws.ledger_path)
    lb.submit("榕城区", "2026-10", sites=[site("榕城电子", "非公", plan_date=D(2026, 11, 20))],
              contacts=[contact(D(2026, 10, 8), "榕城电子", mode="现场指导", content=INJECTION)],
              org_life=[activity(D(2026, 10, 20), "榕城电子", "党员大会")],
              hardware_rows=[hardware("榕城电子", area=49.9)])
    lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械", staff="林少华")], received=D(2026, 11, 8))
    lb.reject("闽江区", "2026-10", received=D(2026, 11, 4))
    return lb


# --- the reconciliation scenario: every bullet of SPEC §10 in a few forms -------------------------

SCENARIO_MONTH, SCENARIO_AS_OF = "2026-10", dt.date(2026, 11, 20)


def quiet(rows):
    """No problem recorded on any contact of the form."""
    for c in rows["contacts"]:
        c.update(problem=None, suggestion=None, deadline=None, state=None)


def problem(rows, site_index, day, text, deadline, state, staff=None):
    """A contact at the ``site_index``-th site of the form recording ``text`` with its deadline and state."""
    site = rows["sites"][site_index]
    rows["contacts"].append({"date": day, "site": site["site"], "staff": staff or site["staff"], "mode": "电话联系",
                             "content": "了解整改情况", "problem": text, "suggestion": "限期整改",
                             "deadline": deadline, "state": state})
    rows["contacts"].sort(key=lambda r: r["date"])


def _rongcheng_sep(rows):
    quiet(rows)
    problem(rows, 0, dt.date(2026, 9, 10), "党员活动室设施不齐全", dt.date(2026, 10, 15), "未办结")
    problem(rows, 1, dt.date(2026, 9, 12), "流动党员管理台账未建立", dt.date(2026, 10, 10), "未办结")
    problem(rows, 0, dt.date(2026, 9, 15), "党建阵地标识未上墙", dt.date(2026, 11, 30), "未办结")


def _rongcheng_oct(rows):
    quiet(rows)
    # the same problem retyped (full-width space and punctuation) with a later deadline: an extension
    problem(rows, 0, dt.date(2026, 10, 12), "党员活动室 设施不齐全。", dt.date(2026, 11, 30), "未办结")
    problem(rows, 1, dt.date(2026, 10, 20), "流动党员管理台账未建立", dt.date(2026, 10, 10), "已办结")  # 逾期办结
    # a later record brings a deadline forward: not an extension
    problem(rows, 0, dt.date(2026, 10, 14), "党建阵地标识未上墙", dt.date(2026, 10, 31), "未办结")
    # a contact recorded by someone who is not the site's liaison
    site = rows["sites"][0]
    rows["contacts"].append({"date": dt.date(2026, 10, 21), "site": site["site"], "staff": "黄雅琴", "mode": "座谈会",
                             "content": "召开党员座谈会", "problem": None, "suggestion": None, "deadline": None,
                             "state": None})
    # this quarter's only 党员大会 of the first site lacks a quorum
    rows["org_life"] = [r for r in rows["org_life"] if r["activity"] != "党员大会" or r["site"] != site["site"]]
    rows["org_life"].append({"date": dt.date(2026, 10, 16), "site": site["site"], "activity": "党员大会",
                             "host": site["secretary"], "expected": 40, "present": 20, "summary": "季度党员大会"})
    # duplicated 下月计划 texts are merged in the report
    for p in rows["progress"]:
        p["next_plan"] = "召开季度党员大会，做好发展党员工作"


def _mawei_oct(rows):
    quiet(rows)
    problem(rows, 0, dt.date(2026, 10, 8), "“三会一课”记录不够规范", dt.date(2026, 10, 31), "未办结")


def _broken(rows):
    quiet(rows)
    rows["org_life"][0]["present"] = rows["org_life"][0]["expected"] + 3  # rejected: more present than expected


def build_scenario(ws, tmp: Path) -> None:
    """Six forms of September and October 2026 through the intake of ``ws`` (staged under ``tmp``)."""
    month = SCENARIO_MONTH
    forms = [  # unit, month, change, received
        ("榕城区", "2026-09", _rongcheng_sep, dt.datetime(2026, 10, 3, 9, 0, tzinfo=TZ)),
        ("鼓山区", "2026-09", quiet, dt.datetime(2026, 10, 4, 9, 0, tzinfo=TZ)),  # then nothing for October
        ("榕城区", month, _rongcheng_oct, dt.datetime(2026, 11, 3, 9, 0, tzinfo=TZ)),
        ("闽江区", month, _broken, dt.datetime(2026, 11, 2, 9, 0, tzinfo=TZ)),
        ("闽江区", month, quiet, dt.datetime(2026, 11, 4, 15, 0, tzinfo=TZ)),  # resubmitted corrected
        ("马尾区", month, _mawei_oct, dt.datetime(2026, 11, 8, 9, 0, tzinfo=TZ)),  # late
    ]
    intake = Intake(ws)
    try:
        for i, (unit, form_month, change, when) in enumerate(forms):
            # seeded by the unit: a unit keeps its sites from month to month
            staged = scenario_form(tmp / f"{i}.xlsx", unit, form_month, change, seed=len(unit))
            target = ws.inbox / unit / f"{unit}{int(form_month[5:])}月报表（{i}）.xlsx"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged, target)
            intake.clock = lambda when=when: when
            intake.handle(target)
    finally:
        intake.close()
