"""Reports a leader can sign: the office's real name as 落款 (样稿 while it is the placeholder), the 主送
never the office itself, counts and brackets written the Chinese way, no clause codes or rule versions
in the text, tables that give names their room, printable Excel outputs, and a period only just begun
not mailed as if it were a report."""

from __future__ import annotations

import datetime as dt
import email
import io
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from email import policy

import pytest
from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from openpyxl import load_workbook

from processor.common.office import DRAFT_MARK, addresses_itself, is_placeholder, parent_of
from processor.render import columns as render_columns
from processor.render import tables
from processor.render import workbooks
from docx_helpers import docx_to_pdf, render_report
from report_samples import OFFICE, sample_context

PLACEHOLDER = "中共××市委组织部企业组"


def _processor(*args, cwd, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    env = {**os.environ, "PROCESSOR_NOW": "2026-12-06T09:00:00+08:00"}
    env.pop("PROCESSOR_WORKSPACE", None)
    return subprocess.run([sys.executable, "-m", "processor", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300, stdin=stdin)


def _headers(doc) -> str:
    return "\n".join(p.text for s in doc.sections for h in (s.header, s.even_page_header) for p in h.paragraphs)


def _texts(doc) -> list[str]:
    return [p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells]


# --- finding 1: the 落款 is the office's real name ----------------------------------------------------
def test_init_takes_the_office_and_addresses_the_department_above_it(tmp_path):
    made = _processor("init", "ws", "--office", "中共福州市委组织部企业组", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    config = tomllib.loads((tmp_path / "ws" / "config.toml").read_text(encoding="utf-8"))
    assert config["report"]["office"] == "中共福州市委组织部企业组"
    assert config["report"]["addressee"] == "中共福州市委组织部"  # the department it reports to
    assert "落款：中共福州市委组织部企业组" in made.stdout and "样稿" not in made.stdout

    told = _processor("init", "ws2", "--office", "中共福州市委组织部企业组", "--addressee", "市委组织部部务会",
                      cwd=tmp_path)
    assert told.returncode == 0, told.stderr
    assert 'addressee = "市委组织部部务会"' in (tmp_path / "ws2" / "config.toml").read_text(encoding="utf-8")

    itself = _processor("init", "ws3", "--office", "中共福州市委组织部企业组", "--addressee", "企业组各位同志",
                        cwd=tmp_path)
    assert itself.returncode != 0 and "落款单位" in itself.stderr
    assert not (tmp_path / "ws3" / "config.toml").exists()


def test_init_without_a_name_keeps_the_placeholder_and_says_the_reports_are_drafts(tmp_path):
    made = _processor("init", "ws", cwd=tmp_path)  # no terminal: nothing is asked
    assert made.returncode == 0, made.stderr
    assert DRAFT_MARK in made.stdout and "--office" in made.stdout


def test_every_consolidation_warns_in_one_line_while_the_office_is_the_placeholder(tmp_path):
    assert _processor("init", "draft", cwd=tmp_path).returncode == 0
    assert _processor("init", "named", "--office", "中共福州市委组织部企业组", cwd=tmp_path).returncode == 0
    draft = _processor("consolidate", cwd=tmp_path / "draft")
    named = _processor("consolidate", cwd=tmp_path / "named")
    assert draft.returncode == 0 and named.returncode == 0, (draft.stderr, named.stderr)
    warning = [line for line in draft.stderr.splitlines() if DRAFT_MARK in line]
    assert len(warning) == 1 and PLACEHOLDER in warning[0]
    assert DRAFT_MARK not in named.stderr + named.stdout


@pytest.mark.parametrize("name", ["monthly_report", "half_year_report", "year_report", "reminder_list",
                                  "assignment_table", "site_dossier"])
def test_reports_signed_with_the_placeholder_carry_draft_in_the_header(tmp_path, name):
    ctx = sample_context(name)
    signed = Document(render_report(name, ctx, tmp_path / "signed.docx"))
    assert DRAFT_MARK not in _headers(signed)
    assert OFFICE in [p.text for p in signed.paragraphs]  # the 落款 is the configured name
    ctx["office_name"] = PLACEHOLDER
    draft = Document(render_report(name, ctx, tmp_path / "draft.docx"))
    assert DRAFT_MARK in _headers(draft)


def test_office_names_placeholders_and_self_addressing():
    assert is_placeholder("中共××市委组织部企业组") and is_placeholder("") and not is_placeholder(OFFICE)
    assert parent_of("中共福州市委组织部企业组") == "中共福州市委组织部"
    assert addresses_itself("中共福州市委组织部企业组", "企业组各位同志")
    assert addresses_itself("中共福州市委组织部企业组", "中共福州市委组织部企业组")
    assert not addresses_itself("中共福州市委组织部企业组", "中共福州市委组织部")


# --- finding 7: the words of the office ----------------------------------------------------------------
def test_counts_carry_no_thousands_separator(tmp_path):
    ctx = sample_context("monthly_report")
    ctx["members"]["total"] = 1322
    text = "\n".join(_texts(Document(render_report("monthly_report", ctx, tmp_path / "m.docx"))))
    assert "党员1322名" in text and "1,322" not in text


CLAUSE_CODE = re.compile(r"(?<![A-Za-z])[GMSXN]-\d[a-z]?(?![\d])")
VERSION_TAG = re.compile(r"依据[^，。]*版规则|\d{4}版")


@pytest.mark.parametrize("name", ["monthly_report", "half_year_report", "year_report"])
def test_no_clause_code_or_rule_version_and_full_width_brackets_in_the_text(tmp_path, name):
    doc = Document(render_report(name, sample_context(name), tmp_path / f"{name}.docx"))
    texts = _texts(doc)
    assert not [t for t in texts if VERSION_TAG.search(t)]
    assert not [t for t in texts if CLAUSE_CODE.search(t)]
    assert not [t for t in texts if "县(市、区)" in t]
    assert any("县（市、区）" in t for t in texts)


def test_the_assignment_columns_use_full_width_brackets():
    assert "县（市、区）" in render_columns.UNIT_COLUMN and "(" not in render_columns.UNIT_COLUMN


# --- finding 8: names never wrap while another column has room -------------------------------------------
def test_a_name_gets_its_line_before_a_long_text_gets_more_than_it_needs():
    unit = tables._Column(["单位"], [["市国资委党委"], ["罗源县"], ["市工信局党委"]])
    site = tables._Column(["示范点"], [["福州港务集团有限公司党建示范点"], ["罗源湾港务有限公司党总支"], ["甲"]])
    text = tables._Column(["存在问题"], [["第四季度尚未开展现场指导，" * 3], ["短"], ["未设立党员责任区"]])
    state = tables._Column(["办结情况"], [["逾期284天未办结"], ["已办结"], ["正在整改"]])
    widths = tables.share_width(48, [unit, site, text, state])
    for width, name in ((widths[0], "市国资委党委"), (widths[1], "福州港务集团有限公司党建示范点"),
                        (widths[3], "逾期284天未办结")):
        assert tables.lines_at(width, tables.text_width_em(name)) == 1, (name, widths)
    assert widths[2] >= 8  # the long text still has a readable column


def test_reminder_list_gives_the_unit_its_line_and_the_phone_no_more_than_it_needs(tmp_path):
    ctx = sample_context("reminder_list")
    ctx["rows"][0]["unit"] = "市国资委党委"
    doc = Document(render_report("reminder_list", ctx, tmp_path / "r.docx"))
    table = doc.tables[0]
    titles = [c.text for c in table.rows[0].cells]
    width = {t: (c.width.mm - tables.CELL_PADDING_MM) / tables.TABLE_CHAR_MM
             for t, c in zip(titles, table.rows[1].cells, strict=True)}
    assert tables.lines_at(width["单位"], tables.text_width_em("市国资委党委")) == 1, width
    assert width["电话"] < tables.text_width_em("0591-83012345") + 2, width
    assert all("\n" not in t for t in titles)  # 逾期天数 is one word: its day is named in the sentence


# --- finding 9: Excel outputs print on A4, one page wide, the header on every page --------------------
def _assignment_bytes() -> bytes:
    ctx = sample_context("assignment_table")
    return workbooks.assignment_workbook({**ctx, "year": 2026}, render_columns.assignment_columns(),
                                         dt.datetime(2026, 11, 6))


def _reminder_bytes() -> bytes:
    ctx = sample_context("reminder_list")
    rows = [{**r, "deadline": "2026-11-05"} for r in ctx["rows"]]
    return workbooks.reminder_workbook({**ctx, "rows": rows, "month": "2026-10", "as_of": "2026-11-09"},
                                       render_columns.reminder_columns(), dt.datetime(2026, 11, 9))


@pytest.mark.parametrize("build, landscape", [(_assignment_bytes, True), (_reminder_bytes, False)])
def test_excel_outputs_print_on_a4_one_page_wide_with_the_header_on_every_page(build, landscape):
    ws = load_workbook(io.BytesIO(build())).active
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.page_setup.orientation == ("landscape" if landscape else "portrait")
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.print_title_rows == "$2:$2"


needs_office = pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext")),
                                  reason="LibreOffice and poppler are needed to lay out pages")


@pytest.mark.slow
@needs_office
def test_reminder_workbook_prints_every_column_on_the_first_a4_page(tmp_path):
    path = tmp_path / "催报名单.xlsx"
    path.write_bytes(_reminder_bytes())
    pdf = docx_to_pdf(path, tmp_path / "pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info)
    assert abs(float(size.group(1)) - 595.3) < 2 and abs(float(size.group(2)) - 841.9) < 2  # A4 portrait
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout
    for title in (c.title for c in render_columns.reminder_columns()):
        assert title in first, title


# --- finding 12: a period only just begun is not mailed as a report ---------------------------------------
def _report_built_on(ws, relative: str, kind: str, period: str, built: dt.datetime) -> None:
    from deliver_helpers import add_output
    from processor.record.ledger import Ledger, now_iso

    add_output(ws, relative, kind, period, f"PK\x03\x04 {relative}".encode() * 10)
    with Ledger(ws.ledger_path) as ledger, ledger.atomic() as conn:
        conn.execute("UPDATE outputs SET built_at = ? WHERE path = ?", (now_iso(built.astimezone()), relative))


@pytest.mark.parametrize("partial, expected", [(False, {"2026-H2", "2026"}),
                                               (True, {"2026-H2", "2026", "2027-H1", "2027"})])
def test_reports_of_a_period_barely_begun_are_not_mailed_by_default(tmp_path, partial, expected):
    from deliver_helpers import make_workspace
    from processor.deliver.mail import pending_outputs, send_pending
    from processor.common.config import load_workspace
    from processor.record.ledger import Ledger

    ws = make_workspace(tmp_path / "ws", port=None)
    if partial:  # the [smtp] table is the last one of the config: the key goes at its end
        with open(ws.root / "config.toml", "a", encoding="utf-8") as config:
            config.write("partial_periods = true\n")
        ws = load_workspace(ws.root)
    built = dt.datetime(2027, 2, 8, 22, 30)  # one month into 2027
    for period, kind in (("2026-H2", "half_year_report"), ("2026", "year_report"),
                         ("2027-H1", "half_year_report"), ("2027", "year_report")):
        _report_built_on(ws, f"报告/{period}/{kind}.docx", kind, period, built)
    with Ledger(ws.ledger_path) as ledger:
        assert {o["period"] for o in pending_outputs(ledger, ws, dry_run=True)} == expected
    send_pending(ws, dry_run=True)
    (eml,) = (ws.outbox / "邮件").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert len(list(message.iter_attachments())) == len(expected)


# --- rendered checks: what the printed page shows ----------------------------------------------------------
def _pdf_text(docx, outdir) -> str:
    pdf = docx_to_pdf(docx, outdir)
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def _pdf_words(docx, outdir) -> tuple[str, list[tuple[float, float, str]]]:
    """The PDF's text and its words with their positions (x, y of the top left corner, text)."""
    pdf = docx_to_pdf(docx, outdir)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    words, page = [], 0
    for line in bbox.splitlines():
        if "<page " in line:
            page += 1
        found = re.search(r'xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', line)
        if found:
            words.append((float(found.group(1)), page * 10000 + float(found.group(2)), found.group(3)))
    return text, words


def _tables_alone(docx, out) -> Path:
    """The document's tables alone, each starting a page under a line “表格k” (sections kept: a
    landscape annex stays landscape), so that what the PDF shows of a table is found by its pages."""
    doc = Document(docx)
    body = doc.element.body
    for child in list(body):
        if child.tag == qn("w:tbl") or child.tag == qn("w:sectPr"):
            continue
        if child.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
            for run in child.findall(qn("w:r")):
                child.remove(run)
            continue
        body.remove(child)
    for k, tbl in enumerate(body.findall(qn("w:tbl"))):
        marker = OxmlElement("w:p")
        run = OxmlElement("w:r")
        br = OxmlElement("w:br")
        br.set(qn("w:type"), "page")
        text = OxmlElement("w:t")
        text.text = "表格" + "".join("〇一二三四五六七八九"[int(d)] for d in str(k))
        run.append(br)
        run.append(text)
        marker.append(run)
        tbl.addprevious(marker)
    doc.save(out)
    return out


def _words_by_table(words) -> dict[int, list]:
    """The words of each table of a :func:`_tables_alone` document, by the pages under its marker."""
    starts = {int("".join(str("〇一二三四五六七八九".index(c)) for c in w[2:])): int(y // 10000)
              for _, y, w in words if re.fullmatch(r"表格[〇一二三四五六七八九]+", w)}
    order = sorted(starts, key=starts.get)
    pages = {k: range(starts[k], starts[order[i + 1]] if i + 1 < len(order) else 10 ** 6)
             for i, k in enumerate(order)}
    return {k: [w for w in words if int(w[1] // 10000) in pages[k]] for k in pages}


def _broken(name: str, words) -> bool:
    """Whether ``name`` is printed broken over two lines somewhere: a word that begins it, and under it,
    in the same column, a word that goes on with it."""
    def goes_on(x, y, printed, depth=0) -> bool:
        if printed == name:
            return True
        return depth < 3 and any(abs(x2 - x) < 1.5 and 0 < y2 - y < 40 and name.startswith(printed + w2)
                                 and goes_on(x2, y2, printed + w2, depth + 1) for x2, y2, w2 in words)

    return any(w != name and name.startswith(w) and goes_on(x, y, w) for x, y, w in words)


def _is_names(title: str) -> bool:
    return bool(tables.NAME_TITLES.search(title)) and not tables._COUNT_TITLES.match(title)


def _widths(table) -> list[float]:
    """Each column's width in characters of 小4 (what its text may fill)."""
    return [(c.width.mm - tables.CELL_PADDING_MM) / tables.TABLE_CHAR_MM for c in table.rows[0].cells]


def _spare(table, column: int, name_column: int) -> float:
    """How many characters ``column`` could give up without any row (or the header) getting taller than
    the row's other cells than the name's make it."""
    widths = _widths(table)
    rows = [[[tables.text_width_em(t) for t in c.text.split("\n")] for c in row.cells] for row in table.rows]
    heights = [max(sum(tables.lines_at(w, x) for x in cell)
                   for j, (w, cell) in enumerate(zip(widths, row, strict=True)) if j != name_column)
               for row in rows]
    narrowest, floor = widths[column], 1.5
    if _is_names(table.rows[0].cells[column].text):  # a name column gives up nothing its names need
        floor = max(tables.text_width_em(t) + tables.SLACK_EM for row in table.rows[1:]
                    for t in row.cells[column].text.split("\n"))
    title = table.rows[0].cells[column].text
    if len(title) <= 3:  # a title of three characters is a word (已完成): never broken
        floor = max(floor, tables.text_width_em(title) + tables.SLACK_EM)
    while narrowest - 0.5 >= floor and all(sum(tables.lines_at(narrowest - 0.5, x) for x in row[column]) <= h
                                  for row, h in zip(rows, heights, strict=True)):
        narrowest -= 0.5
    return widths[column] - narrowest


LONG_UNIT, LONG_SITE = "市交通运输局党委", "榕城城市建设投资集团党建示范点"


def _long_names(value, counter=None):
    """The context with every third unit and site named as long as real ones are."""
    counter = counter if counter is not None else [0]
    if isinstance(value, list):
        return [_long_names(v, counter) for v in value]
    if not isinstance(value, dict):
        return value
    value = {k: _long_names(v, counter) for k, v in value.items()}
    if isinstance(value.get("unit"), str) and isinstance(value.get("site"), str) and value["site"]:
        counter[0] += 1
        if counter[0] % 3 == 0:
            value["unit"], value["site"] = LONG_UNIT, LONG_SITE
    elif isinstance(value.get("unit"), str) and "phone" in value:
        counter[0] += 1
        if counter[0] % 3 == 0:
            value["unit"] = LONG_UNIT
    return value


@pytest.mark.slow
@needs_office
@pytest.mark.parametrize("name", ["monthly_report", "half_year_report", "year_report", "reminder_list",
                                  "assignment_table"])
def test_printed_reports_keep_names_whole_sign_with_the_office_and_carry_no_codes(tmp_path, name):
    ctx = _long_names(sample_context(name))
    doc_path = render_report(name, ctx, tmp_path / f"{name}.docx")
    text, _ = _pdf_words(doc_path, tmp_path / "pdf")
    flat = [re.sub(r"\s+", "", line) for line in text.splitlines()]
    _, words = _pdf_words(_tables_alone(doc_path, tmp_path / "tables.docx"), tmp_path / "pdf")
    table_words = _words_by_table(words)
    assert OFFICE in flat, "the 落款 is the configured office, on a line of its own"
    assert not VERSION_TAG.search(text) and not CLAUSE_CODE.search(text)
    assert DRAFT_MARK not in text
    doc = Document(doc_path)
    for k, table in enumerate(doc.tables):
        words = table_words[k]
        titles = [c.text for c in table.rows[0].cells]
        names = [i for i, t in enumerate(titles) if _is_names(t)]
        if any(len(row.cells) != len(titles) for row in table.rows):
            continue  # a table with group bands: its columns are checked without them in test_render
        widths = _widths(table)
        for row in table.rows[1:]:
            for i in names:
                value = row.cells[i].text.strip()
                if not value or "\n" in value or not _broken(value, words):
                    continue
                lacking = tables.text_width_em(value) + tables.SLACK_EM - widths[i]
                spare = {titles[j]: _spare(table, j, i) for j in range(len(titles)) if j != i}
                assert sum(spare.values()) < lacking, f"{titles[i]}“{value}”折行，而其他列尚有空余：{spare}"


@pytest.mark.slow
@needs_office
def test_a_printed_draft_says_so_on_every_page(tmp_path):
    ctx = sample_context("monthly_report")
    ctx["office_name"] = PLACEHOLDER
    text = _pdf_text(render_report("monthly_report", ctx, tmp_path / "draft.docx"), tmp_path / "pdf")
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) > 1 and all(DRAFT_MARK in p for p in pages)


# --- finding 4: dates read in the year they belong to -------------------------------------------------------
def _cells(doc) -> list[str]:
    return [c.text for t in doc.tables for r in t.rows for c in r.cells]


def test_dates_carry_their_year_in_a_report_that_follows_a_year_boundary(tmp_path):
    ctx = sample_context("monthly_report")
    received = [r for r in ctx["unit_rows"] if r["received"]]  # 附件1's 报送日期
    received[0]["received"] = "2026-10-20"
    inside = _cells(Document(render_report("monthly_report", ctx, tmp_path / "october.docx")))
    assert "10月20日" in inside and "2026年10月20日" not in inside  # a report inside one year: no year needed
    ctx.update(month="2027-01", as_of="2027-02-08", report_date="2027-02-08")
    received[0]["received"] = "2027-01-20"
    received[1]["received"] = "2026-12-30"
    january = _cells(Document(render_report("monthly_report", ctx, tmp_path / "january.docx")))
    assert "2026年12月30日" in january and "12月30日" not in january
    assert "2027年1月20日" in january  # a January report follows the boundary: every date says its year


# --- findings 2 and 3: the conclusion first, each problem once ----------------------------------------------
@pytest.mark.parametrize("name", ["monthly_report", "half_year_report", "year_report"])
def test_a_report_opens_with_its_conclusion(tmp_path, name):
    """The paragraph after the basis is the conclusion: the headline figures, the worst problems by name,
    what is asked of whom; no list of names before it."""
    ctx = sample_context(name)
    doc = Document(render_report(name, ctx, tmp_path / f"{name}.docx"))
    body = [p.text for p in doc.paragraphs if p.text.strip()]
    opening = body.index(next(t for t in body if t.startswith("根据")))
    conclusion = body[opening + 1]
    assert conclusion == ctx["conclusion"] and conclusion.startswith("总的看，")
    assert f"未达标事项{ctx['problem_summary']['failed']}项" in conclusion
    if name == "monthly_report":
        s = ctx["submission"]
        assert f"按时报送{s['on_time']}个、逾期报送{s['late']}个、未报送{s['missing']}个" in conclusion
        assert f"请{s['missing_units'][0]}尽快补报" in conclusion
        assert not any(r["site"] in body[opening] for r in ctx["unreported_sites"])  # names come later
    else:
        assert "下一步，" in conclusion


def test_one_problem_list_groups_failures_by_unit_most_serious_first_and_counts_the_rest_apart():
    from processor.consolidate.signable import problem_list

    findings = [
        {"unit": "罗源县", "site": "甲", "problem": "10月未开展沟通联系", "rule": "每月沟通联系", "status": "未达标"},
        {"unit": "罗源县", "site": "甲", "problem": "第四季度尚未开展现场指导", "rule": "每季度现场指导", "status": "待完成"},
        {"unit": "福清市", "site": "乙", "problem": "硬件缺照相机", "rule": "硬件设施", "status": "未达标"},
        {"unit": "福清市", "site": "乙", "problem": "2026年3月15日发现的问题“活动室面积不足”超过整改时限仍未办结（逾期284天）",
         "rule": "问题整改", "status": "未达标"},
        {"unit": "罗源县", "site": "丙", "problem": "未报送工作方案", "rule": "工作方案", "status": "未达标"},
    ]
    made = problem_list(findings)
    assert [(r["unit"], r["site"], r["rule"]) for r in made["problem_list"]] == [
        ("福清市", "乙", "问题整改"), ("福清市", "乙", "硬件设施"),  # the unit with a problem past its deadline first
        ("罗源县", "甲", "每月沟通联系"), ("罗源县", "丙", "工作方案")]
    twice = problem_list(findings + [{**findings[0], "problem": "11月未开展沟通联系"}])["problem_list"]
    row = next(r for r in twice if r["rule"] == "每月沟通联系")  # one site, one requirement: one row, a line each
    assert row["problem"] == "10月未开展沟通联系\n11月未开展沟通联系" and row["items"] == 2
    assert made["problem_summary"] == {"failed": 4, "not_due": 1, "units": 2, "overdue": 1, "elsewhere": 0}


def test_the_monthly_report_lists_each_problem_once(tmp_path):
    ctx = sample_context("monthly_report")
    doc = Document(render_report("monthly_report", ctx, tmp_path / "m.docx"))
    cells = _cells(doc)
    for row in ctx["problem_list"]:
        assert sum(row["problem"] in c for c in cells) == 1, row["problem"]
    rows = [c.text for t in doc.tables for r in t.rows[1:] for c in r.cells]  # under the headers (a 待完成 column)
    assert not any("待完成" == c for c in rows)  # not-yet-due items are counted, not listed
    headers = [[c.text for c in t.rows[0].cells] for t in doc.tables]
    assert sum("存在问题" in h or "问题" in h for h in headers) == 1  # one problem table, in the annex


def test_a_report_of_a_period_barely_begun_says_so_in_its_title(tmp_path):
    ctx = sample_context("half_year_report")
    assert not ctx["stage"]
    closed = Document(render_report("half_year_report", ctx, tmp_path / "h2.docx")).paragraphs[0].text
    assert "阶段情况" not in closed
    ctx.update(half="2027-H1", half_label="2027年上半年", report_date="2027-02-08")
    from processor.consolidate.signable import half_year

    ctx.update(half_year(ctx))
    begun = Document(render_report("half_year_report", ctx, tmp_path / "h1.docx")).paragraphs[0].text
    assert ctx["stage"] and "工作进展阶段情况的报告" in begun.replace("\n", "")


@pytest.mark.parametrize("name, heading", [("half_year_report", "八、2027年上半年工作打算"),
                                           ("year_report", "五、2027年工作打算")])
def test_next_period_is_named_by_its_calendar_year(tmp_path, name, heading):
    """Finding 4: "明年" in a report of 2026 written in 2027 would mean 2028: the plan names its period."""
    texts = [p.text for p in Document(render_report(name, sample_context(name), tmp_path / "r.docx")).paragraphs]
    assert heading in texts
    assert not [t for t in texts if "明年" in t]


def test_a_unit_that_did_not_report_shows_no_counts_in_the_submission_table(tmp_path):
    """Finding 8: a unit without a form this month has no sites or contacts to count: not 0, but —."""
    ctx = sample_context("monthly_report")
    doc = Document(render_report("monthly_report", ctx, tmp_path / "m.docx"))
    table = next(t for t in doc.tables if [c.text for c in t.rows[0].cells][:3] == ["序号", "单位", "单位类型"])
    rows = {r.cells[1].text: [c.text for c in r.cells] for r in table.rows[1:]}
    missing = ctx["submission"]["missing_units"][0]
    assert rows[missing][3] == "未报送" and rows[missing][5:7] == ["—", "—"]
    reported = next(u["unit"] for u in ctx["unit_rows"] if u["status"] == "按时报送")
    assert rows[reported][5].isdigit()
