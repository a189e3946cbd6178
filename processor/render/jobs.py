"""What the render workers run: each job writes one output (and the files beside it).

Consolidation plans the outputs and builds their contexts; these functions write
the files, usually in worker processes.  A worker loads this module and what
the jobs import (python-docx, docxtpl, openpyxl, matplotlib for charts): not
pandas and not the models, which would double its start-up time and memory.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from pathlib import Path
from collections.abc import Callable

from processor.common.fsutil import atomic_path, atomic_write_bytes

RENDERERS = ["processor.render.documents", "processor.render.charts", "processor.render.workbooks"]  # what the jobs import


def write_report(template: str, rel: str, context: dict, chart_files: dict[str, str],
                 targets: dict[str, Path]) -> None:
    """A report and its chart files, as many of them as ``targets`` names; the charts are
    drawn once for the document and the chart files."""
    specs = context.get("charts") or {}
    with tempfile.TemporaryDirectory(prefix="charts-") as tmp:
        images = {}
        if specs and (rel in targets or any(c in targets for c in chart_files)):
            from processor.render.charts import build_charts

            images = build_charts(specs, Path(tmp))
        if rel in targets:
            from processor.render.documents import render_docx

            render_docx(template, context, targets[rel], images=images)
        for chart_rel, name in chart_files.items():
            if chart_rel in targets:
                with atomic_path(targets[chart_rel]) as target:
                    shutil.copyfile(images[name], target)


def write_workbook(rel: str, build: Callable[[], bytes], targets: dict[str, Path]) -> None:
    atomic_write_bytes(targets[rel], build())


def write_html(template: str, rel: str, context: dict, targets: dict[str, Path]) -> None:
    """A static page from a jinja2 template of ``templates/``; every value is escaped (autoescape)."""
    atomic_write_bytes(targets[rel], render_html(template, context).encode("utf-8"))


def render_html(template: str, context: dict) -> str:
    import jinja2

    from processor.common.paths import TEMPLATES_DIR

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(template).render(**context)


def warm_up() -> None:
    """Load the renderers and the charts' CJK font before the first job arrives (nothing to
    import when the fork server already has)."""
    for name in RENDERERS:
        importlib.import_module(name)
    from processor.render import charts

    try:
        charts.cjk_font()
    except charts.ChartFontError:
        pass  # said by the job that draws a chart


def html_template_variables(template: str) -> set[str]:
    """The top-level names a page template reads (what its context must supply)."""
    import jinja2
    from jinja2 import meta

    from processor.common.paths import TEMPLATES_DIR

    source = (TEMPLATES_DIR / template).read_text(encoding="utf-8")
    return meta.find_undeclared_variables(jinja2.Environment(autoescape=True).parse(source))
