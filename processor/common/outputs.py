"""The kinds of output consolidation writes: stable ASCII identifiers (stored in the ledger's
``outputs.kind`` and named in config ``[smtp] reports``) and, in one table, their Chinese names
(the outbox folders and everything an operator reads)."""

from __future__ import annotations

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
