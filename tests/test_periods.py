"""The months of a period, as every report lists them: counted on month after month, across the
turn of a year, and nothing for a period that ends before it starts."""

from __future__ import annotations

import pytest

from processor.common.periods import add_months, month_range, period_of


@pytest.mark.parametrize("first, count", [("2026-01", 12), ("2026-11", 4), ("2025-12", 26), ("2026-05", 1)])
def test_a_month_range_steps_one_month_at_a_time_across_years(first, count):
    last = add_months(first, count - 1)
    months = month_range(first, last)
    assert months[0] == first and months[-1] == last and len(months) == count
    assert all(add_months(a, 1) == b for a, b in zip(months[:-1], months[1:], strict=True))


def test_a_range_ending_before_it_starts_is_empty_and_a_bad_month_is_an_error():
    assert month_range("2026-06", "2026-05") == []
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_range("2026-13", "2027-01")


def test_a_half_year_lists_its_six_months():
    assert period_of("2026-10", "half").months == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
