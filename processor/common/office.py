"""The office that signs the reports (落款) and whom they are addressed to (主送).

``init`` asks for both; until the office's real name is configured every consolidation says so in
one line and every Word report carries 样稿 in its header, so a placeholder never goes out signed.
"""

from __future__ import annotations

import json
import re

# what config.toml says until the office is named (the default of [report] office)
PLACEHOLDER_MARKS = ("××", "XX", "xx", "某市")
DRAFT_MARK = "样稿"
_SELF_ADDRESS_SUFFIXES = ("各位同志", "全体同志", "同志们", "各位领导")


def is_placeholder(office: str | None) -> bool:
    """Whether ``office`` is still the template's name (empty, or with ×× for the city)."""
    name = (office or "").strip()
    return not name or any(mark in name for mark in PLACEHOLDER_MARKS)


def parent_of(office: str) -> str:
    """The organisation an office reports to, read from its name: 中共福州市委组织部企业组 -> 中共福州市委组织部
    ("" when the name does not show one)."""
    name = office.strip()
    for marker in ("组织部", "委员会", "党委", "党工委"):
        at = name.rfind(marker)
        if 0 < at and at + len(marker) < len(name):
            return name[:at + len(marker)]
    return ""


def addresses_itself(office: str, addressee: str) -> bool:
    """Whether the 主送 is the signing office itself (企业组各位同志 for a report signed by 企业组):
    a report is addressed to whom it goes to, never to its own authors."""
    whom = addressee.strip()
    for suffix in _SELF_ADDRESS_SUFFIXES:
        if whom.endswith(suffix) and len(whom) > len(suffix):
            whom = whom[:-len(suffix)]
            break
    name = office.strip()
    return bool(whom) and (whom == name or name.endswith(whom))


def addressee_problem(office: str, addressee: str) -> str | None:
    """Why ``addressee`` cannot be the 主送 of reports signed by ``office`` (None when it can)."""
    if not addressee.strip():
        return "主送不能为空：请填写报告呈报的机关或领导，如“中共××市委组织部”"
    if addresses_itself(office, addressee):
        return (f"主送“{addressee}”就是落款单位“{office}”本身：报告应主送上级机关或领导"
                f"（如“{parent_of(office) or '部领导'}”）")
    return None


def draft_warning(office: str, addressee: str) -> str | None:
    """The one line every consolidation prints while the reports cannot be signed as they are."""
    if is_placeholder(office):
        return (f"注意：config.toml 中的落款单位仍是示例名称“{office}”，本次生成的报告均标注“{DRAFT_MARK}”；"
                f"请运行 `processor init --office 单位全称` 或在 config.toml 的 [report] office 中填写本单位全称")
    if addresses_itself(office, addressee):
        return (f"注意：报告主送“{addressee}”就是落款单位本身，请在 config.toml 的 [report] addressee 中"
                f"改为报告呈报的上级机关或领导")
    return None


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def with_report_names(config_text: str, office: str | None, addressee: str | None) -> str:
    """``config_text`` with ``[report] office`` and ``addressee`` set (their comments kept in their column)."""
    for key, value in (("office", office), ("addressee", addressee)):
        if value is None:
            continue
        match = re.search(rf"^{key} = \"[^\"\n]*\"( *)(#.*)?$", config_text, flags=re.MULTILINE)
        if match is None:
            continue
        assignment = f"{key} = {toml_string(value.strip())}"
        width = match.start(2) - match.start() if match.group(2) else 0
        line = assignment.ljust(width - 1) + " " + match.group(2) if match.group(2) else assignment
        config_text = config_text[:match.start()] + line + config_text[match.end():]
    return config_text
