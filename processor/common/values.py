"""What counts as a missing value, and when two typed texts name the same problem, in one place."""

from __future__ import annotations

import sys
import unicodedata


def is_missing(value) -> bool:
    """None, NaN, NaT or pd.NA: what pandas' ``isna`` calls missing, for one plain value.

    pandas is not imported here: a missing value of pandas can only come from a process that
    loaded it, and the workers that write workbooks start faster without it."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    pd = sys.modules.get("pandas")
    return pd is not None and (value is pd.NA or value is pd.NaT)


_PUNCTUATION = str.maketrans("", "", "，。、；：！？,.;:!?“”‘’\"'（）()《》<>【】[]—-…·")


def problem_key(text: str) -> str:
    """A problem's identity within its site (X-2): full-width folded to half-width, spaces and
    punctuation dropped, so that a clerk retyping it slightly differently still means the same one."""
    folded = unicodedata.normalize("NFKC", text or "")
    return "".join(folded.translate(_PUNCTUATION).split()).lower()
