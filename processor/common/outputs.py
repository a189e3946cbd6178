"""The kinds of output consolidation writes: stable ASCII identifiers (stored in the ledger's
``outputs.kind`` and named in config ``[smtp] reports``) and, in one table, their Chinese names
(the outbox folders and everything an operator reads)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

MONTHLY_REPORT = "monthly_report"
HALF_YEAR_REPORT = "half_year_report"
YEAR_REPORT = "year_report"
ASSIGNMENT_TABLE = "assignment_table"
SITE_DOSSIER = "site_dossier"
REMINDER_LIST = "reminder_list"
SUMMARY_DATA = "summary_data"
CHART = "chart"
OVERVIEW = "overview"

DISPLAY_NAMES = {
    MONTHLY_REPORT: "月度汇总报告",
    HALF_YEAR_REPORT: "半年工作报告",
    YEAR_REPORT: "年度工作总结",
    ASSIGNMENT_TABLE: "分组情况一览表",
    SITE_DOSSIER: "示范点档案",
    REMINDER_LIST: "催报名单",
    SUMMARY_DATA: "汇总数据",
    CHART: "图表",
    OVERVIEW: "总览",
}
KIND_OF_NAME = {name: kind for kind, name in DISPLAY_NAMES.items()}  # the Chinese names older configs use


def display_name(kind: str) -> str:
    """The Chinese name of an output kind (an unknown kind as it is)."""
    return DISPLAY_NAMES.get(kind, kind)


# --- an output a person has edited -------------------------------------------------------------
# A file of the outbox whose bytes are none the processor wrote was changed by a person (opened in
# Word and saved); it is never overwritten.  The processor's new version goes beside it under the
# same name with this mark (a second edited one gets （程序新版2）, and so on).
NEW_VERSION_MARK = "（程序新版）"
_NEW_VERSION_RE = re.compile(r"（程序新版(\d*)）(?=\.[^./]+$)")


def new_version_path(rel: str, n: int = 1) -> str:
    """``月度汇总报告/2026-10/报告.docx`` → ``月度汇总报告/2026-10/报告（程序新版）.docx`` (``n`` > 1:
    ``（程序新版2）``)."""
    path = PurePosixPath(rel)
    mark = NEW_VERSION_MARK if n == 1 else f"（程序新版{n}）"
    return str(path.with_name(f"{path.stem}{mark}{path.suffix}"))


def edited_original(rel: str) -> str | None:
    """The path a new version was written beside (``None`` for an ordinary output path)."""
    match = _NEW_VERSION_RE.search(rel)
    return rel[:match.start()] + rel[match.end():] if match else None
