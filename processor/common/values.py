"""What counts as a missing value, in one place."""

from __future__ import annotations

import sys


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
