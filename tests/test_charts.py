"""Charts with Chinese labels: a CJK font found at run time, deterministic PNGs."""

from __future__ import annotations

import pytest
from matplotlib import font_manager
from PIL import Image

from processor.render import charts
from ledger_helpers import LedgerBuilder
from processor.render.documents import template_variables
from report_contexts import fill_ledger, production_contexts
from report_samples import sample_context


def test_cjk_font_is_found_and_covers_chinese():
    font = charts.cjk_font()
    assert charts._covers_cjk(font.get_file())


def test_bar_chart_is_a_deterministic_png(tmp_path):
    a = charts.bar_chart(["按时报送", "逾期报送", "未报送"], [10, 1, 1], "2026年10月各单位报送情况", tmp_path / "a.png")
    b = charts.bar_chart(["按时报送", "逾期报送", "未报送"], [10, 1, 1], "2026年10月各单位报送情况", tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    c = charts.bar_chart(["按时报送", "逾期报送", "未报送"], [9, 2, 1], "2026年10月各单位报送情况", tmp_path / "c.png")
    assert c.read_bytes() != a.read_bytes()
    with Image.open(a) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]
        assert "Software" not in im.info


def test_grouped_bar_and_line_charts(tmp_path):
    labels = ["陈明", "林晓华", "黄志强"]
    g = charts.grouped_bar_chart(labels, {"电话联系": [3, 0, 3], "现场指导": [2, 2, 1]}, "联系指导次数", tmp_path / "g.png")
    line = charts.line_chart(["7月", "8月", "9月"], {"联系指导": [0, 4, 9]}, "各月联系指导次数", tmp_path / "l.png")
    for path in (g, line):
        with Image.open(path) as im:
            colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours and len(colours) > 10  # something was drawn


def test_a_row_chart_gives_every_requirement_its_own_row_however_many(tmp_path):
    names = ["每月沟通联系", "每季度现场指导", "国企党支部组织生活", "非公企业硬件设施"]
    few = charts.row_chart(names, [78.6, 85.7, 75, 66.7], "各项要求达标率（%）", tmp_path / "few.png", scale_max=100)
    again = charts.row_chart(names, [78.6, 85.7, 75, 66.7], "各项要求达标率（%）", tmp_path / "again.png", scale_max=100)
    assert few.read_bytes() == again.read_bytes()
    many = charts.row_chart(names * 5, [50.0] * 20, "各项要求达标率（%）", tmp_path / "many.png", scale_max=100)
    with Image.open(few) as a, Image.open(many) as b:
        assert a.size[0] == b.size[0]  # the same width in the report
        assert b.size[1] > a.size[1]  # taller, not squeezed: each of the twenty labels has a row of 6 mm
        assert b.size[1] / 20 >= charts.ROW_CM / 2.54 * charts.DPI


@pytest.fixture
def contexts(workspace, roster):
    """Every report's context as the production builders make it from a small real ledger."""
    builder = fill_ledger(LedgerBuilder(workspace.ledger_path))
    try:
        yield production_contexts(builder.ledger, workspace, roster)
    finally:
        builder.ledger.close()


def test_the_period_reports_draw_their_compliance_rates_as_rows(contexts):
    for name in ("half_year_report", "year_report"):
        spec = contexts[name]["charts"]["chart_compliance"]
        assert spec["kind"] == "rows" and spec["max"] == 100, name
        assert spec["labels"] and len(spec["labels"]) == len(spec["values"]), name
        assert all(0 <= v <= 100 for v in spec["values"]), name


def test_every_chart_a_report_asks_for_is_drawn(contexts, tmp_path):
    """The chart specs the builders produce (not a hand-written sample) are what the renderer draws:
    every chart the template places, each a PNG with something on it."""
    drawn = 0
    for name, context in contexts.items():
        specs = context.get("charts", {})
        assert set(specs) == set(sample_context(name).get("charts", {})), name
        assert {v for v in template_variables(name) if v.startswith("chart_")} <= set(specs), name
        paths = charts.build_charts(specs, tmp_path / name)
        assert set(paths) == set(specs), name
        for chart, path in paths.items():
            with Image.open(path) as im:
                colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
                assert colours and len(colours) > 10, (name, chart)  # something was drawn
        drawn += len(paths)
    assert drawn == 6  # monthly 2, half-year 2, year 2


def test_missing_cjk_font_is_a_clear_chinese_error(monkeypatch, tmp_path):
    latin_only = [f for f in font_manager.fontManager.ttflist if "DejaVu" in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", latin_only)
    charts.cjk_font.cache_clear()
    try:
        with pytest.raises(charts.ChartFontError, match="未找到可显示中文的字体"):
            charts.bar_chart(["甲"], [1], "标题", tmp_path / "x.png")
        assert not (tmp_path / "x.png").exists()
    finally:
        charts.cjk_font.cache_clear()
