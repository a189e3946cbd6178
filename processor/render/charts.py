"""Charts for the Word reports (matplotlib, Agg, no pyplot state).

The CJK font is looked up at run time among the installed fonts; without one
the charts would show boxes instead of Chinese, so :class:`ChartFontError`
says what to install.  PNG output is deterministic (no timestamp or software
metadata), so re-running a night rewrites no chart.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from processor.common.fsutil import atomic_path  # noqa: E402

PREFERRED_FONTS = (
    "Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "Source Han Serif SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN",
    "SimHei", "Microsoft YaHei", "SimSun",
)
PROBE_TEXT = "中国共产党"
COLORS = ("#c0392b", "#2e6fa7", "#d98e04", "#4d8b31", "#7d3c98", "#7f8c8d")
SIZE_CM = (15.0, 8.0)
DPI = 150
CROWDED_LABELS = 16
ROW_CHART_BASE_CM, ROW_CM = 2.6, 0.6  # a row chart: title and axis, then one row per label


class ChartFontError(RuntimeError):
    """No installed font can draw Chinese text."""


@lru_cache(maxsize=1)
def cjk_font() -> font_manager.FontProperties:
    """A font that can draw Chinese: preferred names first, then any font that covers CJK."""
    by_name = {}
    for entry in font_manager.fontManager.ttflist:
        by_name.setdefault(entry.name, entry)
    for name in PREFERRED_FONTS:
        entry = by_name.get(name)
        if entry and _covers_cjk(entry.fname):
            return font_manager.FontProperties(fname=entry.fname)
    for entry in sorted(font_manager.fontManager.ttflist, key=lambda e: e.fname):
        if _covers_cjk(entry.fname):
            return font_manager.FontProperties(fname=entry.fname)
    raise ChartFontError(
        "未找到可显示中文的字体，无法生成图表。请安装中文字体（如 Debian/Ubuntu 的 fonts-noto-cjk："
        "sudo apt-get install fonts-noto-cjk），然后删除 matplotlib 字体缓存后重试。"
    )


def _covers_cjk(path: str) -> bool:
    try:
        from matplotlib.ft2font import FT2Font

        charmap = FT2Font(path).get_charmap()
    # Any system font file is probed and FreeType reports a bad one with assorted exception types
    # (matplotlib's own font manager catches everything the same way): just not a candidate.
    except Exception:  # noqa: BLE001
        return False
    return all(ord(ch) in charmap for ch in PROBE_TEXT)


def _figure(height_cm: float = SIZE_CM[1], grid_axis: str = "y"):
    fig = Figure(figsize=(SIZE_CM[0] / 2.54, height_cm / 2.54), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis=grid_axis, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return path


def _finish(fig, ax, title: str, labels, path: Path, ylabel: str | None) -> Path:
    font = cjk_font()
    ax.set_title(title, fontproperties=font, fontsize=12)
    if ylabel:
        ax.set_ylabel(ylabel, fontproperties=font, fontsize=9)
    ax.set_xticks(range(len(labels)))
    rotate = len(labels) > 6 or max((len(str(x)) for x in labels), default=0) > 5
    if len(labels) > CROWDED_LABELS:  # slanted labels would overlap: stand them upright
        ax.set_xticklabels([str(x) for x in labels], fontproperties=font, fontsize=7, rotation=90, ha="center")
    else:
        ax.set_xticklabels([str(x) for x in labels], fontproperties=font, fontsize=8,
                           rotation=30 if rotate else 0, ha="right" if rotate else "center")
    for tick in ax.get_yticklabels():
        tick.set_fontproperties(font)
        tick.set_fontsize(8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    legend = ax.get_legend_handles_labels()[1]
    if legend:
        ax.legend(prop=font.copy(), fontsize=8, frameon=False)
        for text in ax.get_legend().get_texts():
            text.set_fontproperties(font)
            text.set_fontsize(8)
    return _save(fig, path)


def bar_chart(labels: list[str], values: list[float], title: str, path: Path,
              *, ylabel: str | None = None) -> Path:
    fig, ax = _figure()
    bars = ax.bar(range(len(labels)), values, color=[COLORS[i % len(COLORS)] for i in range(len(labels))],
                  width=0.6)
    ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=8, padding=2)
    ax.margins(y=0.15)
    return _finish(fig, ax, title, labels, path, ylabel)


def row_chart(labels: list[str], values: list[float], title: str, path: Path, *, ylabel: str | None = None,
              scale_max: float | None = None) -> Path:
    """One horizontal bar per label, the labels read left to right however long or many they are
    (a row each: the chart grows taller with them), the value at the end of each bar.  ``ylabel``
    titles the value axis (here under the bars, as in every chart); ``scale_max`` fixes its end
    (100 for a rate in %)."""
    font = cjk_font()
    fig, ax = _figure(max(SIZE_CM[1], ROW_CHART_BASE_CM + ROW_CM * len(labels)), grid_axis="x")
    rows = range(len(labels))
    bars = ax.barh(rows, values, color=COLORS[1], height=0.6)
    ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=8, padding=3)
    ax.set_yticks(rows)
    ax.set_yticklabels([str(x) for x in labels], fontproperties=font, fontsize=9)
    ax.invert_yaxis()  # the first label on top, as in the report's table
    ax.set_xlim(0, (scale_max if scale_max is not None else max(values, default=0) or 1) * 1.1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    for tick in ax.get_xticklabels():
        tick.set_fontproperties(font)
        tick.set_fontsize(8)
    if ylabel:
        ax.set_xlabel(ylabel, fontproperties=font, fontsize=9)
    ax.set_title(title, fontproperties=font, fontsize=12)
    return _save(fig, path)


def grouped_bar_chart(labels: list[str], series: dict[str, list[float]], title: str, path: Path,
                      *, ylabel: str | None = None) -> Path:
    fig, ax = _figure()
    n = max(len(series), 1)
    width = 0.8 / n
    for k, (name, values) in enumerate(series.items()):
        xs = [i - 0.4 + width * (k + 0.5) for i in range(len(labels))]
        ax.bar(xs, values, width=width * 0.95, label=name, color=COLORS[k % len(COLORS)])
    ax.margins(y=0.15)
    return _finish(fig, ax, title, labels, path, ylabel)


def line_chart(labels: list[str], series: dict[str, list[float]], title: str, path: Path,
               *, ylabel: str | None = None) -> Path:
    fig, ax = _figure()
    for k, (name, values) in enumerate(series.items()):
        ax.plot(range(len(labels)), values, marker="o", linewidth=1.6, markersize=4,
                label=name, color=COLORS[k % len(COLORS)])
    ax.set_ylim(bottom=0)
    ax.margins(y=0.15)
    return _finish(fig, ax, title, labels, path, ylabel)


def _fmt(value) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return str(int(value))


CHART_KINDS = {"bar": bar_chart, "rows": row_chart, "grouped_bar": grouped_bar_chart, "line": line_chart}


def build_charts(specs: dict[str, dict], outdir: Path) -> dict[str, Path]:
    """Draw every chart described in a report context's ``charts`` entry.

    ``specs`` maps the template variable (e.g. ``chart_submission``) to
    ``{"kind": "bar"|"rows"|"grouped_bar"|"line", "title": str, "labels": [...],
    "values": [...]}`` (bar, rows) or ``"series": {name: [...]}`` (grouped_bar, line),
    optional ``"ylabel"`` (the value axis's title) and, for rows, ``"max"`` (the scale's end).
    Returns ``{variable: png path}``.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, spec in sorted(specs.items()):
        data = spec["series"] if "series" in spec else spec["values"]
        options = {"scale_max": spec["max"]} if "max" in spec else {}
        out[name] = CHART_KINDS[spec["kind"]](list(spec["labels"]), data, spec["title"], outdir / f"{name}.png",
                                              ylabel=spec.get("ylabel"), **options)
    return out
