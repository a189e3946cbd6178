"""Reports a leader reads through: on the demo (``processor demo``, as of its own day), the monthly report
and the yearly summary print on at most twelve pages (LibreOffice), and every item they count is still
listed, once.  The room is made by the content (one problem list, counts and the worst cases in the body),
never by smaller type or margins: the 公文 layout is checked in test_gongwen_layout."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from docx import Document

from docx_helpers import docx_to_pdf, rows_under

PAGE_LIMIT = 12
REPORTS = {"月度汇总报告/2027-01": ("附件2", "本月未达标事项"), "年度工作总结/2026": ("附件3", "全年未达标事项")}

needs_office = pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdfinfo")),
                                  reason="LibreOffice and poppler are needed to lay out pages")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo as ``processor demo`` makes it (January 2026 to January 2027, as of 2027-02-08)."""
    from demo_helpers import demo_copy

    return demo_copy(tmp_path_factory)


def _pages(pdf) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@pytest.mark.slow
@needs_office
@pytest.mark.parametrize("folder", list(REPORTS))
def test_the_demos_monthly_report_and_yearly_summary_print_on_twelve_pages(demo, folder, tmp_path):
    (report,) = (demo.workspace.outbox / folder).glob("*.docx")
    assert _pages(docx_to_pdf(report, tmp_path / "pdf")) <= PAGE_LIMIT, report.name

    # nothing a leader needs was cut: the problem list still holds every failure the text counts, one a line
    doc = Document(report)
    text = "\n".join(p.text for p in doc.paragraphs)
    annex, counted = REPORTS[folder]
    failed = int(re.search(rf"{counted}(\d+)项", text).group(1))
    elsewhere = re.search(r"其中报表逾期或未报送(\d+)项见附件1", text)
    items, unit = [], None
    for r in rows_under(doc, "示范点", "存在问题", "对应要求"):
        if len(set(r)) == 1:  # a unit's band spans the row
            unit = r[0]
            continue
        items += [(unit, r[0], line, r[2]) for line in r[1].split("\n")]
    assert len(items) + (int(elsewhere.group(1)) if elsewhere else 0) == failed, annex
    assert len(set(items)) == len(items)  # each item once
