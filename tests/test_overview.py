"""The 总览 page: built by every consolidation from the ledger, escaped, idempotent; and, in a real
browser, a grid that agrees with `processor status`, links that open files, and no network."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from ledger_helpers import D, LedgerBuilder, contact, site
from processor.consolidate import findings as F
from processor.consolidate.run import consolidate
from processor.consolidate.ledger_data import LedgerData
from processor.render.jobs import html_template_variables
from processor.record.ledger import Ledger
from processor.consolidate.overview import OVERVIEW_NAME, OVERVIEW_TEMPLATE, STATE_CLASS, overview_context
from processor.validate.roster import workspace_roster
from processor.consolidate.status import status_report

TODAY = D(2026, 11, 26)
HOSTILE_SITE = "<script>alert(1)</script>"
HOSTILE_PROBLEM = '活动室"><img src=x onerror=alert(2)>不足'
# The README's picture is refreshed only when asked (UPDATE_DOCS_SCREENSHOTS=1): a test run leaves the checkout alone.
DOCS = Path(__file__).resolve().parent.parent / "docs"


class Page(HTMLParser):
    """The parsed page: every tag with its attributes, the text, and each element's text by id."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def cells(self) -> list[dict]:
        return [a for t, a in self.tags if t == "td" and "cell" in (a.get("class") or "").split()]


def receipt(ws, lb: LedgerBuilder, file_id: int, unit: str, month: str) -> str:
    """A receipt file for an arrival, recorded in the ledger as intake records it."""
    rel = f"回执/{unit}/{month}/{file_id:06d}_回执.html"
    path = ws.outbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<title>回执 {file_id}</title>", encoding="utf-8")
    lb.ledger.set_file(file_id, receipt_path=rel)
    return rel


@pytest.fixture
def year(workspace):
    """Three units' October: one on time with a problem extended and still open, one late, one returned."""
    lb = LedgerBuilder(workspace.ledger_path)
    ids = {
        "榕城区": lb.submit("榕城区", "2026-10", sites=[site(HOSTILE_SITE, "非公")], received=D(2026, 11, 3), contacts=[
            contact(D(2026, 10, 8), HOSTILE_SITE, problem=HOSTILE_PROBLEM, deadline=D(2026, 10, 30), state="未办结"),
            contact(D(2026, 10, 20), HOSTILE_SITE, problem=HOSTILE_PROBLEM + " ", deadline=D(2026, 11, 20),
                    state="未办结")]),
        "鼓山区": lb.submit("鼓山区", "2026-10", sites=[site("鼓山机械")], received=D(2026, 11, 8)),
        "闽江区": lb.reject("闽江区", "2026-10", received=D(2026, 11, 4)),
    }
    rels = {unit: receipt(workspace, lb, i, unit, "2026-10") for unit, i in ids.items()}
    yield workspace, lb, rels
    lb.ledger.close()


def test_the_template_reads_nothing_the_context_does_not_supply(year):
    ws, lb, _ = year
    context = overview_context(LedgerData.load(lb.ledger), ws, workspace_roster(ws), TODAY, "2026-10", [])
    assert html_template_variables(OVERVIEW_TEMPLATE) <= set(context)


def test_consolidation_writes_the_page_with_each_units_state_and_receipt(year):
    ws, lb, rels = year
    result = consolidate(ws, month="2026-10", today=TODAY)
    page_path = ws.outbox / OVERVIEW_NAME
    assert page_path in result.written
    page = Page(page_path.read_text(encoding="utf-8"))
    text = "".join(page.text)
    assert "数据截至2026年11月26日" in text
    roster = workspace_roster(ws)
    cells = page.cells()
    assert len(cells) == 11 * len(roster.units)  # every roster unit × every month of 2026 up to November
    report = status_report(ws, lb.ledger, roster, "2026-10", TODAY)
    october = {a["title"].split(" ")[0]: a for a in cells if a["data-month"] == "2026-10"}
    for line in report["units"]:
        assert STATE_CLASS[line["state"]] in october[line["unit"]]["class"].split(), line
    links = {unquote(a["href"]) for t, a in page.tags if t == "a"}
    assert set(rels.values()) <= links  # accepted, late and returned cells open their receipts
    # every report of the run is linked, and each link names a file that exists
    reports = {unquote(a["href"]) for t, a in page.tags if t == "a" and not a["href"].startswith("#")}
    assert any(r.startswith("月度汇总报告/2026-10/") for r in reports)
    assert all((ws.outbox / r).is_file() for r in reports), reports
    with Ledger(ws.ledger_path) as ledger:
        row = ledger.query("SELECT kind, version FROM outputs WHERE path = ?", [OVERVIEW_NAME])[0]
    assert (row["kind"], row["version"]) == ("overview", 1)
    manifest = json.loads((ws.outbox / "manifest.json").read_text(encoding="utf-8"))
    assert OVERVIEW_NAME in manifest["outputs"]


def test_the_half_year_and_year_reports_of_a_run_are_linked_under_their_names(year):
    ws, _, _ = year
    result = consolidate(ws, half="2026-H2", year="2026", today=TODAY)
    page = Page((ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8"))
    links = {unquote(a["href"]) for t, a in page.tags if t == "a"}
    written = {p.relative_to(ws.outbox).as_posix() for p in result.written if p.suffix == ".docx"}
    for folder in ("半年工作报告/2026-H2/", "年度工作总结/2026/"):
        report = next(r for r in written if r.startswith(folder))
        assert report in links, (report, links)
    text = "".join(page.text)
    assert "年度工作总结" in text and "2026年度（Word）" in text


def test_text_from_submissions_is_shown_as_text(year):
    ws, _, _ = year
    consolidate(ws, month="2026-10", today=TODAY)
    page = Page((ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8"))
    assert [t for t, _ in page.tags if t in ("script", "img", "iframe", "object")] == []
    text = "".join(page.text)
    assert HOSTILE_SITE in text and HOSTILE_PROBLEM in text  # the names themselves, as text


def test_open_problems_are_listed_once_with_their_extended_deadline(year):
    ws, _, _ = year
    consolidate(ws, month="2026-10", today=TODAY)
    text = "".join(Page((ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")).text)
    assert "未办结的问题（共1个，其中超过整改时限1个）" in text
    assert text.count(HOSTILE_PROBLEM) == 1
    assert "由10月30日延至2026年11月20日" in text and "已逾期（逾期6天）" in text


def test_a_clause_any_check_reports_appears_with_its_counts_and_wording(year, monkeypatch):
    ws, _, _ = year
    rule = F.Rule("D-1", "疑似照抄上月", "明细表与上月完全相同的，提示核实")

    def copied(scope):
        for unit in scope.units[:2]:
            yield F._finding(scope.rulebook.at("2026-10"), rule, "copied", unit=unit, site=None,
                             period=F.P.period_of("2026-10", "month"),
                             status=F.FAILED if unit == scope.units[0] else F.MET, message="site-count",
                             observed=1, low=1, required=2)

    monkeypatch.setattr(F, "CHECKS", [*F.CHECKS, F.Check("copied", "D-1", copied)])
    consolidate(ws, month="2026-10", today=TODAY)
    page = Page((ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8"))
    row = [a for t, a in page.tags if t == "tr" and a.get("data-clause") == "D-1"]
    assert row, "the new clause has a row"
    html = (ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")
    line = html[html.index('data-clause="D-1"'):].split("</tr>")[0]
    assert 'title="明细表与上月完全相同的，提示核实"' in line
    assert '<td class="met">1</td><td class="at-risk">0</td><td class="failed">1</td><td>2</td>' in line
    assert "疑似照抄上月：明细表与上月完全相同的，提示核实" in "".join(page.text)  # the footnote


def test_a_second_consolidation_with_no_change_rewrites_nothing(year):
    ws, lb, _ = year
    consolidate(ws, month="2026-10", today=TODAY)
    page = ws.outbox / OVERVIEW_NAME
    before = (page.read_bytes(), page.stat().st_ino, page.stat().st_mtime_ns)
    second = consolidate(ws, month="2026-10", today=TODAY)
    assert page in second.unchanged and second.written == []
    assert (page.read_bytes(), page.stat().st_ino, page.stat().st_mtime_ns) == before  # not even replaced
    # a resubmission changes the grid: the page gets a new version
    lb.submit("闽江区", "2026-10", sites=[site("闽江纺织")], received=D(2026, 11, 9))
    third = consolidate(ws, month="2026-10", today=TODAY)
    assert page in third.written
    with Ledger(ws.ledger_path) as ledger:
        assert ledger.query("SELECT version FROM outputs WHERE path = ?", [OVERVIEW_NAME])[0][0] == 2


# --- in a real browser --------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="session")
def demo_into_2027(tmp_path_factory):
    from demo_helpers import demo_copy

    # the demo as `processor demo` makes it, as of its own day in February 2027 (a fixed day, which the
    # status below counts to: the test never depends on the day it runs), January 2026 to January 2027
    return demo_copy(tmp_path_factory).workspace


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromium-driver are not installed (make system-packages)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--window-size=1400,1000", "--lang=zh-CN"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def loaded(driver, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")


def local_path(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file", url
    return Path(unquote(parsed.path))


@pytest.mark.slow
def test_the_page_in_a_browser_matches_status_opens_its_links_and_asks_the_network_nothing(demo_into_2027,
                                                                                             browser, tmp_path):
    from selenium.webdriver.common.by import By
    from processor.demo import DEMO_TODAY as DEMO_DAY

    ws = demo_into_2027
    page_path = ws.outbox / OVERVIEW_NAME
    page_url = page_path.resolve().as_uri()
    loaded(browser, page_url)

    # no request leaves the page: the page itself is the only one, and the policy was never violated
    requests = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    assert urls and all(u == page_url for u in urls), urls
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    # one row per roster unit, one column per month; each cell's class is `processor status`'s state
    roster = workspace_roster(ws)
    months = [th.get_attribute("data-month") for th in browser.find_elements(By.CSS_SELECTOR, "#grid thead th[data-month]")]
    rows = browser.find_elements(By.CSS_SELECTOR, "#grid tbody tr")
    assert [r.get_attribute("data-unit") for r in rows] == [u.name for u in roster.units]
    assert months == ["2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10",
                      "2026-11", "2026-12", "2027-01", "2027-02"]  # the last twelve months, not an empty 2027
    classes = {(r.get_attribute("data-unit"), td.get_attribute("data-month")): td.get_attribute("class").split()
               for r in rows for td in r.find_elements(By.CSS_SELECTOR, "td.cell")}
    assert len(classes) == 12 * len(roster.units)
    seen = set()
    # what `processor status --month` prints of the ledger as it stood at the end of the demo's day (SPEC §10:
    # the forms the demo receives later are not on the page)
    from half_year_recount import ledger_as_of

    with Ledger(ledger_as_of(ws.ledger_path, DEMO_DAY, tmp_path)) as ledger:
        reports = {month: status_report(ws, ledger, roster, month, DEMO_DAY) for month in months}
    for month, report in reports.items():
        for line in report["units"]:
            assert STATE_CLASS[line["state"]] in classes[(line["unit"], month)], (line, month)
            seen.add(line["state"])
    assert len(seen) >= 4  # the demo year has on-time, late, missing and returned forms

    # the headline figures and the open problems are on the first screen, not ~2,700 px down
    top = browser.execute_script("return document.getElementById('problems').getBoundingClientRect().top")
    assert browser.find_element(By.ID, "headline").is_displayed() and top < 1000 - 100, top
    assert browser.find_elements(By.CSS_SELECTOR, "table.open-problems tbody tr")
    # 数据质量: each case once (a name two units share, found every month, is one line with its months)
    quality = [tuple(td.text for td in tr.find_elements(By.TAG_NAME, "td"))[2:]
               for tr in browser.find_elements(By.CSS_SELECTOR, "table.quality tbody tr")]
    assert quality and len(quality) == len(set(quality)), quality
    assert any("个月）" in tr.text for tr in browser.find_elements(By.CSS_SELECTOR, "table.quality tbody tr"))
    # last year's reports are linked: the 2026 yearly summary, its second half-year, its months
    linked = {unquote(a.get_attribute("href")) for a in browser.find_elements(By.CSS_SELECTOR, ".reports-group a")}
    for folder in ("/年度工作总结/2026/", "/半年工作报告/2026-H2/", "/月度汇总报告/2026-12/", "/月度汇总报告/2027-01/"):
        assert any(folder in link for link in linked), folder

    # every link names a file that exists; a cell's link opens that unit's receipt for the month
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a[href]")]
    files = [h for h in hrefs if "#" not in h]
    assert any("%E6%9C%88%E5%BA%A6%E6%B1%87%E6%80%BB%E6%8A%A5%E5%91%8A" in h for h in files)  # 月度汇总报告
    assert all(local_path(h).is_file() for h in files), [h for h in files if not local_path(h).is_file()]
    browser.set_window_size(1400, min(browser.execute_script("return document.body.scrollHeight") + 40, 5000))
    shot = DOCS / "overview.png" if os.environ.get("UPDATE_DOCS_SCREENSHOTS") else tmp_path / "overview.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    cell = browser.find_element(By.CSS_SELECTOR, "#grid td.cell a")
    unit = cell.find_element(By.XPATH, "./ancestor::tr").get_attribute("data-unit")
    cell.click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 60).until(lambda d: d.current_url != page_url
                                     and d.execute_script("return document.readyState") == "complete")
    opened = local_path(browser.current_url)
    assert opened.is_file() and opened.is_relative_to(ws.receipts_dir / unit)
    assert "回执" in browser.find_element(By.TAG_NAME, "h1").text


def test_checks_across_months_are_listed_as_warnings_to_look_into(year):
    ws, lb, _ = year
    # 鼓山区 sent two sites in September and only one in October, saying nothing about it
    lb.submit("鼓山区", "2026-09", sites=[site("鼓山机械"), site("鼓山造船")], received=D(2026, 10, 3))
    consolidate(ws, month="2026-10", today=TODAY)
    page = Page((ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8"))
    text = "".join(page.text)
    assert "数据质量：近12个月需要核实的情况（共1条）" in text
    assert "示范点未说明即未报送" in text and "鼓山造船" in text and "2026年10月" in text


def test_a_year_without_such_cases_says_so(year):
    ws, _, _ = year
    consolidate(ws, month="2026-10", today=TODAY)
    text = "".join(Page((ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")).text)
    assert "数据质量：近12个月需要核实的情况（共0条）" in text and "未发现需要核实的情况" in text


# --- a page a leader reads first ------------------------------------------------------------

NEW_YEAR_DAY = D(2027, 2, 8)
CLAUSE_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Z]-\d[a-z]?(?![A-Za-z0-9])")  # G-1, M-1b, S-4a, X-2 …


def visible_text(html: str) -> str:
    """What a reader sees: the page's text without its style sheet."""
    return "".join(Page(re.sub(r"<style>.*?</style>", "", html, flags=re.S)).text)


def grid_months(page: Page) -> list[str]:
    return [a["data-month"] for t, a in page.tags if t == "th" and "data-month" in a]


def test_in_february_the_page_shows_the_last_twelve_months_and_links_last_years_reports(workspace):
    lb = LedgerBuilder(workspace.ledger_path)
    lb.submit("榕城区", "2026-11", sites=[site("榕城电子")], received=D(2026, 12, 3))
    lb.submit("榕城区", "2026-12", sites=[site("榕城电子")], received=D(2027, 1, 4))
    lb.submit("鼓山区", "2026-12", sites=[site("鼓山机械")], received=D(2027, 1, 9))
    lb.submit("榕城区", "2027-01", sites=[site("榕城电子")], received=D(2027, 2, 3))
    lb.ledger.close()
    consolidate(workspace, month="2026-12", half="2026-H2", year="2026", today=D(2027, 1, 20))
    consolidate(workspace, month="2027-01", today=NEW_YEAR_DAY)
    html = (workspace.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")
    page = Page(html)
    # March of last year to this February, not an empty 2027
    assert grid_months(page) == ["2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
                                 "2026-10", "2026-11", "2026-12", "2027-01", "2027-02"]
    december = {a["title"].split(" ")[0]: a["class"].split() for a in page.cells() if a["data-month"] == "2026-12"}
    assert "on-time" in december["榕城区"] and "late" in december["鼓山区"] and "missing" in december["闽江区"]
    text = visible_text(html)
    assert "2026年3月至2027年2月" in text and "2026年" in text and "2027年" in text
    links = {unquote(a["href"]) for t, a in page.tags if t == "a" and not a["href"].startswith("#")}
    for folder in ("年度工作总结/2026/", "半年工作报告/2026-H2/", "月度汇总报告/2026-12/", "月度汇总报告/2027-01/"):
        assert any(link.startswith(folder) for link in links), (folder, sorted(links))
    assert all((workspace.outbox / link).is_file() for link in links)


def test_in_its_first_year_the_page_starts_with_the_offices_first_month(year):
    ws, _, _ = year
    consolidate(ws, month="2026-10", today=TODAY)
    page = Page((ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8"))
    assert grid_months(page) == [f"2026-{m:02d}" for m in range(1, 12)]  # nothing before January 2026, nothing ahead


def test_the_page_opens_with_the_headline_figures_then_the_open_problems(year):
    ws, lb, _ = year
    consolidate(ws, month="2026-10", today=TODAY)
    html = (ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")
    roster = workspace_roster(ws)
    report = status_report(ws, lb.ledger, roster, "2026-10", TODAY)
    reported = sum(line["state"] in (F.ON_TIME, F.LATE) for line in report["units"])
    assert reported == 2
    headline = html[html.index('id="headline"'):html.index('id="problems"')]
    figures = [re.sub(r"<[^>]+>", " ", f).split() for f in re.findall(r'<div class="figure">(.*?)</div>', headline)]
    assert figures[0] == ["2026年10月报表", f"2/{len(roster.units)}", "个单位已报送"]
    assert figures[1] == ["未办结的问题", "1", "个"]
    assert figures[2] == ["超过整改时限", "1", "个问题"]
    assert figures[3][0] == "全部达标的示范点" and figures[3][1].endswith("/2")  # the two sites judged
    summary = visible_text(headline)
    assert f"2026年10月应报送{len(roster.units)}个单位，已报送2个（按时1个、逾期1个）" in summary
    assert "退回待重报1个（闽江区）" in summary and "未办结的问题1个，其中超过整改时限1个" in summary
    # the open problems come right after the figures, before the grid and the charts
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", html)
    assert headings[0].startswith("一、未办结的问题") and headings[1].startswith("二、各单位月报表报送情况")
    assert html.index('id="headline"') < html.index('id="problems"') < html.index('id="grid"')


def test_clauses_are_named_by_their_requirement_not_by_their_code(year):
    ws, _, _ = year
    consolidate(ws, month="2026-10", today=TODAY)
    html = (ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")
    text = visible_text(html)
    assert CLAUSE_CODE.findall(text) == []  # not on the charts, the matrix, the table or the notes
    titles = {rule.title for rule in ws.rulebook.rules.values()}
    matrix = html[html.index('<table class="heatmap">'):].split("</thead>")[0]
    headers = re.findall(r'<th data-clause="[^"]+">([^<]+)</th>', matrix)
    assert headers and set(headers) <= titles, headers
    chart = html[html.index('aria-label="各项要求检查结果占比"'):].split("</svg>")[0]
    labels = re.findall(r'<text x="0" y="[^"]+">([^<]+)</text>', chart)
    assert labels and set(labels) <= titles and "每月沟通联系" in labels, labels


def test_a_site_name_two_units_share_month_after_month_is_one_line_with_its_months(workspace):
    lb = LedgerBuilder(workspace.ledger_path)
    for month, day in (("2026-08", D(2026, 9, 3)), ("2026-09", D(2026, 10, 3)), ("2026-10", D(2026, 11, 3))):
        lb.submit("榕城区", month, sites=[site("海峡钢铁")], received=day)
        lb.submit("鼓山区", month, sites=[site("海峡 钢铁"), site("鼓山机械")], received=day)
    lb.ledger.close()
    consolidate(workspace, month="2026-10", today=TODAY)
    html = (workspace.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")
    # six warnings of the shared name (three months × two units) and four of the same sheets sent again
    assert "数据质量：近12个月需要核实的情况（共3条）" in visible_text(html)
    rows = [visible_text(r) for r in
            html[html.index('<table class="problems quality">'):].split("</table>")[0].split("<tr>")[2:]]
    shared = [r for r in rows if "示范点被两个单位登记" in r]
    assert len(shared) == 1 and "2026年8月至10月（3个月）" in shared[0] and "榕城区、鼓山区" in shared[0], rows
    copied = [r for r in rows if "疑似照抄上月" in r]
    assert len(copied) == 2 and all("2026年9月至10月（2个月）" in r for r in copied), rows


def test_states_are_told_apart_without_colour(year):
    ws, _, _ = year
    consolidate(ws, month="2026-10", today=TODAY)
    html = (ws.outbox / OVERVIEW_NAME).read_text(encoding="utf-8")
    page = Page(html)
    # each cell of the grid carries its state's mark besides its colour (drawn by the style sheet, so the
    # cell's text stays its state's words)
    october = {a["title"].split(" ")[0]: i for i, (t, a) in enumerate(page.tags)
               if t == "td" and "cell" in (a.get("class") or "") and a["data-month"] == "2026-10"}
    marks = {}
    for unit, state in (("榕城区", "on-time"), ("鼓山区", "late"), ("闽江区", "returned"), ("马尾区", "missing")):
        cell = html.split(f'data-month="2026-10" title="{unit} ')[1].split("</td>")[0]
        marks[state] = re.search(r'<span class="mark" data-mark="([^"]+)"></span>', cell).group(1)
    assert october and len(set(marks.values())) == 4, marks
    # the chart's bars are patterned, one pattern per state; the patterns differ in shape, not only colour
    chart = html[html.index('aria-label="各月报送情况"'):].split("</svg>")[0]
    fills = dict(re.findall(r'<rect class="([a-z-]+)" fill="url\(#([a-z-]+)\)"', chart))
    assert {"missing", "returned", "on-time", "late"} <= fills.keys() and len(set(fills.values())) == len(fills)
    shapes = {state: re.sub(r'fill="[^"]*"|id="[^"]*"', "", chart.split(f'id="{fill}"')[1].split("</pattern>")[0])
              for state, fill in fills.items()}
    assert shapes["missing"] != shapes["returned"] and shapes["late"] != shapes["on-time"]
    # the site matrix: a mark for 未达标, 待完成 and 符合
    matrix = html[html.index('<table class="heatmap">'):].split("</table>")[0]
    for css, mark in (("failed", "✗"), ("met", "✓")):
        cells = re.findall(rf'<td class="{css}" title="[^"]*">(.*?)</td>', matrix)
        assert cells and all(f'<span class="mark" data-mark="{mark}"></span>' in c for c in cells), (css, cells)


@pytest.mark.slow
def test_the_printed_page_numbers_its_pages_and_tells_states_apart_in_grey(year, browser, tmp_path):
    import base64
    import io

    from PIL import Image, ImageChops, ImageStat
    from selenium.webdriver.common.by import By

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    ws, lb, _ = year
    for unit in ("马尾区", "闽侯县", "连江县", "罗源县", "闽清县", "福清市"):  # a page long enough for several sheets
        lb.submit(unit, "2026-10", sites=[site(f"{unit}示范点{i}") for i in range(1, 4)], received=D(2026, 11, 4))
    consolidate(ws, month="2026-10", today=TODAY)
    loaded(browser, (ws.outbox / OVERVIEW_NAME).resolve().as_uri())
    pdf = tmp_path / "总览.pdf"
    pdf.write_bytes(base64.b64decode(browser.print_page()))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.rstrip("\f").split("\f")
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert re.search(rf"第\s*{number}\s*页，共\s*{len(pages)}\s*页", page), (number, page[-300:])

    # the chart's keys in grey, as a black-and-white printer puts them: 未报 and 退回 (and the others)
    # are each patterned, and no two look alike
    def grey(css: str) -> Image.Image:
        key = browser.find_element(By.CSS_SELECTOR, f'svg[aria-label="各月报送情况"] g.key rect.{css}')
        image = Image.open(io.BytesIO(key.screenshot_as_png)).convert("L")
        return image.crop((2, 2, image.width - 2, image.height - 2))

    # the grid's cells show their marks on screen and on paper
    shown = browser.execute_script("""
        return [...document.querySelectorAll('#grid td.cell[data-month="2026-10"] .mark')].map(
            m => m.closest('td').className.split(' ')[1] + getComputedStyle(m, '::before').content);""")
    assert {'on-time"✓"', 'late"△"', 'missing"✗"', 'returned"↺"'} <= set(shown), shown

    keys = {css: grey(css) for css in ("on-time", "late", "missing", "returned")}
    for css in ("late", "missing", "returned"):
        assert ImageStat.Stat(keys[css]).stddev[0] > 15, css  # a pattern, not a flat grey
    names = sorted(keys)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert ImageStat.Stat(ImageChops.difference(keys[a], keys[b])).mean[0] > 15, (a, b)
