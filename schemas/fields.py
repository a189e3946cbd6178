"""Field constructors that carry what the rest of the product derives from a column.

Each returns a ``pandera.Field`` whose ``alias`` is the Chinese column title and
whose ``metadata`` says how a cell is read (``kind``), how wide the template
column is, the input prompt shown in Excel, and whether the value is required.
"""

from __future__ import annotations

import pandera.pandas as pa

# The kinds and the yes/no words are plain data defined in processor.schemas.vocabulary (no pandas).
from processor.schemas.vocabulary import CHOICE, DATE, FLOAT, INT, MONTH, TEXT, YES_NO, YESNO  # noqa: F401

# What the submitter is told a kind looks like (type-error messages, prompts).
KIND_DESCRIPTIONS = {
    TEXT: "文字",
    CHOICE: "下拉列表中的选项",
    INT: "不小于 0 的整数",
    FLOAT: "数字",
    DATE: "日期（如 2026-10-08）",
    MONTH: "年月（如 2026-10）",
    YESNO: "“是”或“否”",
}


def _field(title, kind, *, required, width, prompt, **checks):
    return pa.Field(
        alias=title,
        nullable=not required,
        title=title,
        description=prompt,
        metadata={"kind": kind, "required": required, "width": width, "prompt": prompt},
        **checks,
    )


def text(title, *, required=True, width=16, prompt="", max_length=500, **checks):
    return _field(title, TEXT, required=required, width=width, prompt=prompt,
                  str_length={"max_value": max_length}, **checks)


def choice(title, options, *, required=True, width=12, prompt=""):
    prompt = prompt or "请从下拉列表选择：" + "、".join(options)
    return _field(title, CHOICE, required=required, width=width, prompt=prompt, isin=list(options))


def count(title, *, required=True, width=10, prompt="", maximum=1_000_000, part_of=None):
    """``part_of``: the field (English name) of the same row this count is a part of ("其中"),
    so it cannot exceed it; the check and the input prompt both come from it."""
    field = _field(title, INT, required=required, width=width, prompt=prompt or "填写不小于 0 的整数",
                   ge=0, le=maximum)
    if part_of:
        field.metadata["part_of"] = part_of
    return field


def amount(title, *, required=False, width=12, prompt="", minimum=0.0, strictly_positive=False):
    bound = {"gt": minimum} if strictly_positive else {"ge": minimum}
    return _field(title, FLOAT, required=required, width=width, prompt=prompt or "填写数字", **bound)


def date(title, *, required=True, width=12, prompt=""):
    return _field(title, DATE, required=required, width=width,
                  prompt=prompt or "日期，如 2026-10-08")


def month(title, *, width=12, prompt=""):
    return _field(title, MONTH, required=True, width=width, prompt=prompt or "年月，如 2026-10",
                  str_matches=r"^\d{4}-(0[1-9]|1[0-2])$")


def yesno(title, *, required=True, width=8, prompt=""):
    return _field(title, YESNO, required=required, width=width, prompt=prompt or "填“是”或“否”",
                  isin=YES_NO)
