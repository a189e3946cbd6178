"""What counts as a missing value, and when two typed texts name the same problem, in one place."""

from __future__ import annotations

import sys
import unicodedata


def is_missing(value) -> bool:
    """None, NaN, NaT or pd.NA: what pandas' ``isna`` calls missing, for one plain value.

    pandas is not imported here: a missing value of pandas can only come from a process that
    loaded it, and the workers that write workbooks start faster without it.  Another thread may be
    importing pandas right now (serve's nightly consolidation beside its intake): a module still
    half-initialised has no NA yet, and no value of this thread can be one."""
    if value is None:
        return True
    if value.__class__ is str or value.__class__ is int:  # most values a report reads: never missing
        return False
    if isinstance(value, float):
        return value != value
    pd = sys.modules.get("pandas")
    return pd is not None and (value is getattr(pd, "NA", None) or value is getattr(pd, "NaT", None))


_PUNCTUATION = str.maketrans("", "", "，。、；：！？,.;:!?“”‘’\"'（）()《》<>【】[]—-…·")


def text_key(text) -> str:
    """A name's identity: full-width folded to half-width, spaces (full-width ones too) and punctuation
    dropped, lower case; ``榕城区`` and ``榕城 区`` are one name.  Problems (X-2), sites compared across
    files and the roster's unit names are all compared by it."""
    folded = unicodedata.normalize("NFKC", str(text or ""))
    return "".join(folded.translate(_PUNCTUATION).split()).lower()


def problem_key(text: str) -> str:
    """A problem's identity within its site (X-2): a clerk retyping it slightly differently still means
    the same one."""
    return text_key(text)
