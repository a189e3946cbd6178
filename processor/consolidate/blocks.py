"""Building blocks shared by the report contexts (:mod:`processor.consolidate.monthly`,
:mod:`~processor.consolidate.half_year`, :mod:`~processor.consolidate.year_report`,
:mod:`~processor.consolidate.assignment`, :mod:`~processor.consolidate.dossier`): the finding rows and
their counts, the registered sites, the contact counts, the problem rows, the next steps, and the
small helpers that turn ledger values into what a report prints.

The keys of each report's dict are the contract documented in :mod:`tests.report_samples`
(the templates render exactly these).  Every count in a sentence is computed
from the very list the table shows, dates are ISO strings, and no value is
``None``.

Every report of one consolidation run is dated by the run's one *as-of* day (SPEC §10): it prints
"数据截至…", and every overdue day and at-risk status is counted to it.  Re-running a night with the
same data and the same as-of day yields the same context (and the same files).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter

import pandas as pd

from processor.common import cnfmt
from processor.common import periods
from processor.common.values import is_missing
from processor.consolidate.findings import AT_RISK, FAILED, MET, STATUS_CN, Finding, LedgerData
from processor.schemas.vocabulary import CONTACT_MODES, ENTERPRISE_KINDS

SOE, PRIVATE = ENTERPRISE_KINDS  # 国企, 非公
MODE_KEYS = dict(zip(("phone", "onsite", "meeting", "other"), CONTACT_MODES, strict=True))
STATUS_LABEL = {MET: STATUS_CN[MET], FAILED: STATUS_CN[FAILED], AT_RISK: STATUS_CN[AT_RISK]}  # one word a state: findings.STATUS_CN
UNASSIGNED = "未确定"


# --- shared helpers -------------------------------------------------------------------------

# Each with its common case first: a dossier's timeline reads every contact and activity of its site.
def iso_date(day) -> str:
    if day.__class__ is dt.date:
        return day.isoformat()
    return day.isoformat() if isinstance(day, dt.date) else ""


def count_of(value) -> int:
    if value.__class__ is int:
        return value
    if is_missing(value):
        return 0
    return int(value)


def cell_text(value) -> str:
    if value.__class__ is str:
        return value.strip()
    if is_missing(value):
        return ""
    return str(value).strip()


def cn_list(names: list[str]) -> str:
    return "、".join(names)


def quarter_label(period: periods.Period) -> str:
    return period.name.split("年", 1)[1]


STAFF_REQUIREMENT = "企业组人员"  # staff-assigned (M-1a) is judged per 企业组 member: a requirement of its own


def requirement_title(f: Finding, versioned: bool = False) -> str:
    """The requirement a finding counts under, named alike in every table and list of every report
    (``versioned``: with the rule version, when the report applies more than one)."""
    title = STAFF_REQUIREMENT + f.title if f.code == "staff-assigned" else f.title
    return f"{title}（{f.rule_version}）" if versioned and f.rule_version else title


def decided_rate(met: int, failed: int) -> float | str:
    """The share met of what is decided (SPEC §10): 待完成 (a period not ended) and 本期未报送 are in
    neither numerator nor denominator; nothing decided yet has no rate ("")."""
    return met / (met + failed) if met + failed else ""


def finding_row(f: Finding, versioned: bool = False) -> dict:
    """``versioned``: the report applies more than one rulebook version, so each row names its own."""
    problem = f"{f.staff}：{f.evidence}" if f.code == "staff-assigned" else f.evidence
    rule = requirement_title(f, versioned)
    return {"clause": f.clause, "rule": rule, "unit": f.unit or "企业组", "site": f.site or "",
            "problem": problem, "status": STATUS_LABEL[f.status]}


def listed_rows(findings: list[Finding], versioned: bool = False, year: int | None = None) -> list[dict]:
    """:func:`finding_row` of each finding not met, a failed problem thread with the shorter line the report's
    problem list prints for it (``annex``, :func:`annex_line`, ``year`` the one the list covers); the row's
    ``problem`` keeps the full evidence."""
    failed = [f for f in findings if f.code == "problem-closed" and f.status == FAILED]
    same = Counter((f.unit, f.site, f.problem) for f in failed)
    same_month = Counter((f.unit, f.site, f.problem, f.found_on and f.found_on.strftime("%Y-%m")) for f in failed)
    rows = []
    for f in findings:
        if f.status == MET:
            continue
        row = finding_row(f, versioned)
        if f.code == "problem-closed" and f.status == FAILED:
            month = f.found_on and f.found_on.strftime("%Y-%m")
            dated = ("" if same[(f.unit, f.site, f.problem)] == 1
                     else "day" if same_month[(f.unit, f.site, f.problem, month)] > 1 else "month")
            row["annex"] = annex_line(f, dated, year)
        elif f.message == "merged" and f.parts:  # a checklist complete but its room too small: the room says it
            complete = f"{f.required}项硬件设施齐全"
            row["annex"] = "；".join(p for p in f.parts if p != complete)
        rows.append(row)
    return rows


def finding_counts(rows: list[dict]) -> dict:
    return {"total": len(rows), "failed": sum(r["status"] == "未达标" for r in rows),
            "at_risk": sum(r["status"] == STATUS_LABEL[AT_RISK] for r in rows)}


def latest_sites(data: LedgerData, units: list[str]) -> list[dict]:
    frame = data.rows("sites")
    if frame.empty:
        return []
    frame = frame[frame["month"] == frame.groupby("unit")["month"].transform("max")]
    order = {u: i for i, u in enumerate(units)}
    rows = [r for r in frame.to_dict("records") if r["unit"] in order]
    return sorted(rows, key=lambda r: (order[r["unit"]], count_of(r["row"])))


def mode_counts(contacts: list[dict]) -> dict:
    modes = Counter(c["mode"] for c in contacts)
    counts = {key: modes[mode] for key, mode in MODE_KEYS.items()}
    counts["total"] = sum(counts.values())
    return counts



HARDWARE_CODES = ("hardware-items", "room-area")  # one requirement (S-5 / N-5): its checklist and its room area
_SEVERITY = {MET: 0, AT_RISK: 1, FAILED: 2}


def one_per_requirement(findings: list[Finding]) -> list[Finding]:
    """The findings with a site's hardware checklist and its room area of one period made one finding:
    they are one requirement (S-5 / N-5, "十二个有" / "十个一" with the ≥50㎡ room), judged once per site
    and period, the worse status deciding it, both sentences kept, a room too small among what is
    ``missing`` (SPEC §10: one value per requirement and period in every document).  Every table and list
    of a report counts and lists these."""
    out: list[Finding] = []
    at: dict[tuple, int] = {}
    for f in findings:
        if f.code not in HARDWARE_CODES:
            out.append(f)
            continue
        key = (f.unit, f.site, f.clause, f.period)
        if key not in at:
            at[key] = len(out)
            out.append(f)
            continue
        first = out[at[key]]
        items, area = (first, f) if first.code == "hardware-items" else (f, first)
        worse = max(first.status, f.status, key=lambda s: _SEVERITY.get(s, 0))
        short = () if area.status == MET else (f"党员活动室面积达到{cnfmt.plain_num(area.required)}平方米",)
        out[at[key]] = dataclasses.replace(items, status=worse, message="merged", missing=(*items.missing, *short),
                                           parts=(*(items.parts or (items.evidence,)), area.evidence))
    return out


def progress_texts(frame: pd.DataFrame, column: str, units: list[str]) -> list[dict]:
    order = {u: i for i, u in enumerate(units)}
    seen, out = set(), []
    for r in sorted(frame.to_dict("records"), key=lambda r: (order.get(r["unit"], 999), r["month"], count_of(r["row"]))):
        text = cell_text(r.get(column))
        if text and (r["unit"], r["site"], text) not in seen:
            seen.add((r["unit"], r["site"], text))
            out.append({"unit": r["unit"], "site": r["site"], "text": text})
    return out


def lacking_activities(findings: list[Finding]) -> dict[str, list[str]]:
    """Each site (its unit's name joined) → the activities it still lacks in a period, each once."""
    lacking: dict[str, list[str]] = {}
    for f in open_findings(findings, "activity-frequency"):
        names = lacking.setdefault(f"{f.unit}{f.site}", [])
        names.extend(a for a in f.missing if a not in names)
    return lacking


def named_sites(findings: list[Finding]) -> list[str]:
    return list(dict.fromkeys(f"{f.unit}{f.site}" for f in findings))


def open_findings(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code and f.status != MET]


def next_steps(findings: list[Finding], *, missing_units=(), late_units=(), period_end: str = "",
                rulebook=None, horizon: str = "下月") -> list[str]:
    steps = []
    if missing_units:
        steps.append(f"督促{cn_list(list(missing_units))}尽快补报月报表。")
    if late_units:
        steps.append(f"提醒{cn_list(list(late_units))}今后在截止日期前报送月报表。")
    no_contact = named_sites(open_findings(findings, "monthly-contact"))
    if no_contact:
        steps.append(f"对未按月沟通联系的{len(no_contact)}个示范点（{cn_list(no_contact)}），{horizon}优先开展联系。")
    no_visit = named_sites(open_findings(findings, "quarterly-visit"))
    if no_visit:
        steps.append(f"企业组各成员{period_end}对尚未现场指导的{len(no_visit)}个示范点开展现场指导。")
    plans = {(f.unit, f.site) for f in open_findings(findings, "plan-reported")}
    if plans and rulebook is not None:
        deadline = rulebook["M-2"].date("deadline")
        steps.append(f"指导{len(plans)}个尚未按期上报工作方案的示范点完成方案制订并上报企业组"
                     f"（规定期限{cnfmt.md_date(deadline)}）。")
    lacking = lacking_activities(findings)
    if lacking:
        named = "；".join(f"{site}（{cn_list(names)}）" for site, names in lacking.items())
        steps.append(f"提醒{len(lacking)}个示范点按规定频次开展尚未开展的组织生活：{named}。")
    hardware = {(f.unit, f.site) for f in open_findings(findings, "hardware-items") + open_findings(findings, "room-area")}
    if hardware:
        steps.append(f"对硬件设施不达标的{len(hardware)}个示范点逐一跟踪整改。")
    overdue = [f for f in open_findings(findings, "problem-closed") if f.status == FAILED and f.closed_on is None]
    if overdue:
        steps.append(f"督促{len(overdue)}个超过整改时限的问题尽快整改到位。")
    if not steps:
        steps.append("继续按月做好联系指导和月报表报送工作。")
    return steps


def problem_row(f: Finding) -> dict:
    """One problem thread (X-2) as the report lists it: its latest deadline, an extension shown."""
    if f.closed_on is not None:
        state = "逾期办结" if f.closed_late else "已办结"
    elif f.status == FAILED:
        state = f"逾期{f.days}天未办结"
    else:
        state = "正在整改"
    limit = cnfmt.md_date(f.deadline) if f.deadline else "未定"
    if f.extended_from is not None:
        # on two unbroken lines ("由10月30日" / "延至11月30日"): the column stays narrow, no date is split
        limit = cnfmt.date_moved(f.extended_from, f.deadline, sep="\n")
    moved = f.extended_from is not None
    return {"unit": f.unit, "site": f.site or "", "problem": f.problem or "", "found": iso_date(f.found_on),
            "deadline": limit, "extended": moved and f.deadline > f.extended_from,
            "shortened": moved and f.deadline < f.extended_from, "state": state,
            "overdue": f.closed_on is None and f.status == FAILED}


def annex_line(f: Finding, dated: str = "", year: int | None = None) -> str:
    """A problem thread (X-2) that failed, on one line of a report's problem list: what it is and by how many
    days it missed its 整改时限 (counted to the run's day while it is open: the list says that day once).
    ``dated`` ("month" or "day"): the site has another thread of the same words in the list, so the month
    (or, found in the same month, the day) it was found tells them apart; ``year``: the year the list covers
    (its title names it), left out of a date within it.  The full record, found day and deadlines, is the
    thread's evidence in the site's dossier."""
    what = cnfmt.quote_cn(f.problem or "")
    if dated and f.found_on is not None:
        when = cnfmt.cn_date(f.found_on) if dated == "day" else cnfmt.month_cn(f.found_on)
        if f.found_on.year == year:
            when = when.removeprefix(f"{year}年")
        what += f"（{when}发现）"
    if f.closed_on is not None and f.deadline is not None:
        return f"{what}逾期{(f.closed_on - f.deadline).days}天办结"
    return f"{what}逾期{f.days}天未办结"


def problem_counts(rows: list[dict]) -> dict:
    return {"total": len(rows), "closed": sum(r["state"] in ("已办结", "逾期办结") for r in rows),
            "closed_late": sum(r["state"] == "逾期办结" for r in rows),
            "open": sum(r["state"] == "正在整改" for r in rows), "overdue": sum(r["overdue"] for r in rows),
            "extended": sum(r["extended"] for r in rows), "shortened": sum(r["shortened"] for r in rows)}


def period_span(names: list[str]) -> str:
    if len(names) <= 2:
        return "、".join(names)
    return f"{names[0]}至{names[-1]}"


def site_names(keys: list[tuple], limit: int = 3) -> str:
    """"甲、乙、丙等5个示范点" — the sites named, the count always said."""
    names = [f"{unit}{site}" for unit, site in keys]
    if len(names) == 1:
        return names[0]
    return f"{cn_list(names[:limit])}等{len(names)}个示范点"


# --- typical practices (典型做法 / 经验做法) ---------------------------------------------------------

NO_TYPICAL_SITE = "本期没有全部达标的示范点。"
TYPICAL_CLAUSES = 4  # enough to say what a site does, short enough to read as one item
_SENTENCE_END = "。！？!?\n"
# clauses: split at a semicolon, or at a space before a number that starts the next item ("…活动室 2.开展…")
_CLAUSES = re.compile(r"[；;]+|\s+(?=(?:\d+\s*[.、．)）](?!\d)|[（(]\d+[)）]))")
_ENUMERATOR = re.compile(r"^\s*(?:\d+\s*[.、．)）]|[（(]\s*\d+\s*[)）]|[一二三四五六七八九十]+(?:是|、))\s*")
_GAP = re.compile(r"(?<=[\u4e00-\u9fff”）])[ \t\u3000]+(?=[\u4e00-\u9fff“（])")
_NOT_A_PRACTICE = {"无", "暂无", "同上", "同上月", "正常", "无变化", "按计划推进"}


def _clause(text: str) -> str:
    """One clause as the site wrote it, its own commas kept, with no enumerator, no half-width punctuation and
    no dangling comma at either end."""
    text = _ENUMERATOR.sub("", text.strip())
    # a space between two phrases is where the site meant a comma (read aloud or printed, the words would run on)
    text = _GAP.sub("，", text)
    text = text.replace(",", "，").replace(":", "：").strip(" \t，、：")
    return "" if text in _NOT_A_PRACTICE else text


def practice_text(texts) -> str:
    """A site's practice written as sentences from its own 本月进展 (``texts``, oldest first): each
    sentence as the site wrote it, its commas and semicolons kept, ending in "。"; a clause the site
    repeated from an earlier month said once; the latest ``TYPICAL_CLAUSES`` clauses, whole sentences
    where they fit.  "" when the site wrote nothing of substance."""
    sentences: list[list[str]] = []
    seen: set[str] = set()
    for text in texts:
        for sentence in re.split(f"[{_SENTENCE_END}]+", cell_text(text)):
            clauses = [c for c in (_clause(part) for part in _CLAUSES.split(sentence)) if c]
            fresh = [c for c in dict.fromkeys(clauses) if c not in seen]
            seen.update(fresh)
            if fresh:
                sentences.append(fresh)
    chosen: list[list[str]] = []
    room = TYPICAL_CLAUSES
    for clauses in reversed(sentences):
        if not chosen:  # the latest sentence always, cut at a clause when it is long
            chosen.append(clauses[:room])
        elif len(clauses) <= room:
            chosen.insert(0, clauses)
        else:
            break
        room -= len(chosen[0])
    return "".join("；".join(clauses) + "。" for clauses in chosen)


def sites_meeting_every_requirement(findings: list[Finding], sites: list[dict]) -> list[dict]:
    """The sites judged on something and found short on nothing (none failed or still open, no
    党员大会 short of its quorum: X-1)."""
    judged: dict[tuple, bool] = {}
    for f in findings:
        key = (f.unit, f.site)
        judged[key] = judged.get(key, True) and f.status == MET and not f.excluded
    return [s for s in sites if judged.get((s["unit"], s["site"]))]


def typical_sites(findings: list[Finding], sites: list[dict], progress: pd.DataFrame) -> list[dict]:
    """Sites meeting every requirement that applies to them (each one judged, none failed or still open,
    no 党员大会 short of its quorum: X-1), each with its practice in its own words (:func:`practice_text`
    of its 本月进展 in ``progress``) — the practices a report holds up as examples."""
    out = []
    for s in sites_meeting_every_requirement(findings, sites):
        rows = progress[(progress["unit"] == s["unit"]) & (progress["site"] == s["site"])]
        practice = practice_text(rows.sort_values(["month", "row"])["progress"]) if len(rows) else ""
        if practice:
            out.append({"unit": s["unit"], "site": s["site"], "practice": practice})
    return out


# --- one enterprise registered by two units (SPEC §10, Identity) ----------------------------

def shared_sites(snapshot, until: str) -> dict:
    """The sites two or more units registered in their latest forms up to ``until``: each one enterprise
    counted under every unit that registered it.  ``shared_sites`` lists them ({"site", "units"}),
    ``sites_note`` is what a site count carries, e.g. "（其中1家由两个单位重复登记）", "" when none is."""
    shared = snapshot.shared_sites(until=until)
    many = "两个" if all(len(s["units"]) == 2 for s in shared) else "两个及以上"
    return {"shared_sites": shared,
            "sites_note": f"（其中{len(shared)}家由{many}单位重复登记）" if shared else ""}


def one_row_per_enterprise(rows: list[dict], shared: list[dict], sums: tuple[str, ...]) -> list[dict]:
    """Per-site ``rows`` ({"unit", "site", …}) with the rows of one enterprise registered by several units
    made one: at the first one's place, named once with every unit ("马尾区、鼓楼区") and ``shared``
    true, the ``sums`` keys added up (numbers summed, lists joined); the other rows keep ``shared`` false.
    Each row's ``subjects`` are the [unit, site] it stands for, as the findings and annexes name them."""
    from processor.common.values import problem_key

    owner = {(unit, problem_key(s["site"])): i for i, s in enumerate(shared) for unit in s["units"]}
    out: list[dict] = []
    at: dict[int, int] = {}
    for row in rows:
        which = owner.get((row["unit"], problem_key(row["site"])))
        subject = [row["unit"], row["site"]]
        if which is None:
            out.append({**row, "shared": False, "subjects": [subject]})
        elif which not in at:
            at[which] = len(out)
            out.append({**row, "unit": cn_list(shared[which]["units"]), "site": shared[which]["site"],
                        "shared": True, "subjects": [subject]})
        else:
            merged = out[at[which]]
            merged["subjects"] = [*merged["subjects"], subject]
            for key in sums:
                merged[key] = merged[key] + row[key]
    return out
