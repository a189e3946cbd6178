"""Consolidation memory bounded by design (issue 28): a province's rows are read once into the run's
snapshot and never copied wholesale, nor written into one string, to fingerprint or build an output."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tracemalloc

from processor.consolidate.sources import rows_digest


def contact_rows(count: int) -> list[dict]:
    """Rows as the snapshot holds a full 联系指导记录 sheet: every text its own."""
    return [{"file_id": 1 + i // 5000, "unit": "鼓楼区", "month": "2026-01", "row": 2 + i % 5000,
             "date": dt.date(2026, 1, 1 + i % 28), "site": f"示范点{i % 2}", "staff": "陈卫东", "mode": "现场指导",
             "content": f"指导开展主题党日活动（第{i}次）", "problem": "党员活动室面积偏小" if i % 4 == 0 else None,
             "suggestion": None, "deadline": None, "state": None} for i in range(count)]


def test_fingerprint_of_a_provinces_rows_takes_a_small_part_of_their_memory():
    tracemalloc.start()
    try:
        rows = contact_rows(10_000)
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = rows_digest(rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - held < held / 8  # not a copy of every row, not the rows' whole JSON text
    # the same fingerprint the rows always had: an upgrade rebuilds no 汇总数据 whose rows did not change
    shown = [{k: v for k, v in r.items() if k not in ("file_id", "row")} for r in rows]
    assert digest == hashlib.sha256(json.dumps(shown, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def test_fingerprint_leaves_out_where_a_row_came_from_and_sees_what_it_shows():
    rows = contact_rows(3)
    moved = [{**r, "file_id": 9, "row": r["row"] + 10} for r in rows]
    assert rows_digest(moved) == rows_digest(rows)
    changed = [dict(r) for r in rows]
    changed[2]["content"] = "另一项内容"
    assert rows_digest(changed) != rows_digest(rows)
    assert rows_digest([]) == hashlib.sha256(b"[]").hexdigest()
