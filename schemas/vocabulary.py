"""The form's plain word lists and sheet titles — no pandas, no pandera.

Everything here is data that light code needs without building the pandera models: the rulebook
checks its activity types, contact modes and sheet names against these lists when a command starts,
and ``processor status`` must not pay for pandas to do so.  :mod:`processor.schemas.form` builds its models
from these lists and re-exports them, so each list is defined once, here.
"""

from __future__ import annotations

# How a cell is read (a field's ``kind`` in processor.schemas.fields) and the words of a yes/no column.
TEXT, CHOICE, INT, FLOAT, DATE, MONTH, YESNO = "text", "choice", "int", "float", "date", "month", "yesno"
YES_NO = ["是", "否"]

UNIT_KINDS = ["县市区", "系统党委"]
ENTERPRISE_KINDS = ["国企", "非公"]
ORG_KINDS = ["党委", "党总支", "党支部", "联合党支部"]
FORMATIONS = ["单独组建", "联合组建", "挂靠组建", "区域统建", "行业统建"]
SITE_LEVELS = ["省级", "市级", "县级"]
CONTACT_MODES = ["电话联系", "现场指导", "座谈会", "其他"]
CLOSE_STATES = ["未办结", "已办结"]
ACTIVITY_KINDS = [
    "党员大会", "支委会", "党小组会", "党课", "主题党日", "组织生活会", "民主生活会",
    "党纪教育", "民主评议党员", "党员培训", "“六个一”活动", "其他",
]

# Sheet key (the ledger table's name) → the sheet's Chinese title, in workbook order.
SHEET_TITLES = {
    "basic_info": "基本信息",
    "sites": "示范点",
    "contacts": "联系指导记录",
    "org_life": "组织生活",
    "hardware": "硬件设施",
    "members": "党员队伍",
    "progress": "工作进展",
}
