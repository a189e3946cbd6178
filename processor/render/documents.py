"""Render the Word reports from the .docx templates in templates/ (docxtpl).

One jinja environment with the project's filters; every string of a context
is cleaned of XML-illegal characters and auto-escaped; a template variable the
context does not supply is an error (never an empty hole in a report); every
run gets an explicit East-Asian font (a template's runs when it is loaded, since
a render only copies them, and an inserted picture's runs after rendering);
repeated cells of the tables marked for it are merged; the file is written
atomically and is byte-identical for an identical context.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
import datetime as dt
from pathlib import Path

import jinja2
from docx import Document
from docx.oxml import OxmlElement
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from lxml import etree

from processor.render import layout as docx_layout
from processor.render import tables
from processor.common.excel_safety import strip_xml_illegal
from processor.common.fsutil import atomic_write_bytes
from processor.common.office import DRAFT_MARK, is_placeholder
from processor.common.paths import TEMPLATES_DIR
from processor.common.cnfmt import cn_date, join_cn, md_date, month_cn, num, pct  # noqa: F401  (jinja filters)

CHART_WIDTH = Mm(150)
REPORT_NAMES = ("monthly_report", "half_year_report", "year_report", "assignment_table", "site_dossier",
                "reminder_list")


# jinja filters: the one formatting module
# ---------------------------------------------------------------------------


# Per-template work is remembered for the templates in use; ``serve`` runs for weeks while people
# edit templates, so each cache keeps only so many entries (the least recently used go first).
CACHED_TEMPLATE_PARTS = 64


class _Bounded(OrderedDict):
    """A dict that forgets its least recently used entry beyond ``limit`` entries."""

    def __init__(self, limit: int = CACHED_TEMPLATE_PARTS):
        super().__init__()
        self.limit = limit

    def remember(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.limit:
            self.popitem(last=False)
        return value


class _CompilingOnceEnvironment(jinja2.Environment):
    """docxtpl compiles each XML part with ``from_string`` on every render; the same source
    (one template, many dossiers) is compiled once per process."""

    def from_string(self, source, globals=None, template_class=None):
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        cache = self.__dict__.setdefault("_compiled", _Bounded())
        return cache.remember(source, lambda: super(_CompilingOnceEnvironment, self).from_string(source))

    def getattr(self, obj, attribute):
        # ``row.date`` on a context dict: jinja tries the attribute first and catches the
        # AttributeError, for every cell of every table; a plain dict's key is looked up
        # directly (the same result: a key that is also a dict attribute still gives the attribute)
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_DICT_ATTRIBUTES = frozenset(dir(dict))


_ENV: jinja2.Environment | None = None


def jinja_env() -> jinja2.Environment:
    """The report environment (shared: its compiled templates are reused across renders)."""
    global _ENV
    if _ENV is None:
        _ENV = _new_jinja_env()
    return _ENV


def _new_jinja_env() -> jinja2.Environment:
    env = _CompilingOnceEnvironment(autoescape=True, undefined=jinja2.StrictUndefined,
                                    trim_blocks=False, lstrip_blocks=False)
    env.filters.update(cn_date=cn_date, md_date=md_date, month_cn=month_cn, pct=pct, num=num, join_cn=join_cn,
                       day=day)
    return env


_PERIOD_KEYS = ("month", "first_month", "last_month", "as_of", "report_date")


def _year_of(value) -> int | None:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.year
    text = str(value or "")[:4]
    return int(text) if text.isdigit() else None


@jinja2.pass_context
def day(ctx, value) -> str:
    """A date as a report prints it: 3月15日 while the report, its day and the date are of one year;
    2026年3月15日 in a report that covers or follows a year boundary (a January report, a report of
    2026 written in 2027) or for a date of another year, so that no date reads as one still to come."""
    if value in (None, ""):
        return ""
    years = {_year_of(value)} | {_year_of(ctx.get(k)) for k in _PERIOD_KEYS if ctx.get(k)}
    years.discard(None)
    first = str(ctx.get("first_month") or ctx.get("month") or "")
    follows = first[5:7] == "01"  # a period starting in January follows a year boundary
    return cn_date(value) if len(years) > 1 or follows else md_date(value)


# ---------------------------------------------------------------------------
# templates and contexts
# ---------------------------------------------------------------------------
def template_path(template_name: str) -> Path:
    name = template_name if template_name.endswith(".docx") else f"{template_name}.docx"
    path = TEMPLATES_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"找不到报告模板：{path}")
    return path


def template_variables(template_path: Path | str) -> set[str]:
    """Undeclared variables of a .docx template (what its context must supply)."""
    path = Path(template_path)
    if not path.is_file():
        path = globals()["template_path"](str(template_path))
    return set(DocxTemplate(path).get_undeclared_template_variables(jinja_env()))


def clean_context(value):
    """Strip XML-illegal control characters from every string, recursively."""
    if isinstance(value, str):  # the illegal characters are all unprintable; most strings are printable
        return value if value.isprintable() else strip_xml_illegal(value)
    if isinstance(value, dict):
        return {k: clean_context(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_context(v) for v in value]
    return value


def _stamp(context: dict) -> dt.datetime:
    """Document timestamps come from the report date, never from the clock."""
    value = context.get("report_date")
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return docx_layout.FIXED_STAMP
    return dt.datetime(day.year, day.month, day.day)


def render_docx(template_name: str, context: dict, out_path: Path, *,
                images: dict[str, Path] | None = None) -> Path:
    """Render ``templates/<template_name>.docx`` with ``context`` into ``out_path``."""
    path = template_path(template_name)
    images = dict(images or {})
    data = clean_context(dict(context))
    env = jinja_env()
    tpl = _Template(path)
    missing = _undeclared(tpl, path, env) - set(data) - set(images)
    if missing:
        raise ValueError(f"报告模板 {path.name} 需要的数据缺失：{'、'.join(sorted(missing))}")
    for name, image in sorted(images.items()):
        data[name] = InlineImage(tpl, str(image), width=CHART_WIDTH)
    tpl.render(data, env, autoescape=True)
    doc = tpl.docx  # post-processed in place: no save and re-open of the rendered package
    _post_process(doc, new_runs=bool(images))
    if "office_name" in context and is_placeholder(str(context["office_name"])):
        mark_draft(doc)
    blob = docx_layout.document_bytes(doc, _stamp(context), author=str(context.get("office_name", "")))
    return atomic_write_bytes(Path(out_path), blob)


_READ_ONLY_PARTS = frozenset(ct + "+xml" for ct in (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.styles",
    "application/vnd.ms-word.stylesWithEffects",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.settings",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.webSettings",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.fontTable",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.numbering",
    "application/vnd.openxmlformats-officedocument.theme"))


_LISTING_CHARS = "\n\t\a\f"
_JINJA_MARKS = (b"{{", b"{%", b"{#", b"{_", b"_}")  # template syntax, and docxtpl's escaped braces
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class _Template(DocxTemplate):
    """docxtpl with its per-template work done once per process: the template's parsed package
    is copied instead of read and parsed again (all but its body, which a render replaces with
    the one rendered from the body's text), and the tag patching of each XML part (a pure
    function of the part's text) is remembered.  The rendered bytes are the same."""

    _packages: dict[str, tuple] = {}  # template path -> (its version, parsed package, body text)
    _patched = _Bounded()

    def __init__(self, path: Path):
        super().__init__(path)
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size)  # an edited template is read afresh, replacing the old
        if self._packages.get(str(path), (None,))[0] != version:
            pristine = Document(str(path))
            # every run of a render is a copy of a template run: giving the template's runs their
            # East-Asian font once spares the pass over each rendered document
            docx_layout.enforce_east_asian_fonts(pristine)
            self._packages[str(path)] = (version, pristine, self.xml_to_string(pristine.element.body))
        _, pristine, self._body_xml = self._packages[str(path)]
        # parts a render only reads (styles alone are ~800 KB of XML) are shared, not copied
        shared = {id(p): p for p in pristine.part.package.iter_parts() if p.content_type in _READ_ONLY_PARTS}
        self.docx = _copy_without_body(pristine, shared)

    def get_xml(self) -> str:
        return self._body_xml

    def patch_xml(self, src_xml: str) -> str:
        return self._patched.remember(src_xml, lambda: super(_Template, self).patch_xml(src_xml))

    def fix_tables(self, xml: str):
        # docxtpl's pass counts every cell of every table, for templates whose column loops
        # ({%tc %}) change a row's number of cells; a tree whose rows fit their grids is kept
        tree = etree.fromstring(xml, parser=etree.XMLParser(recover=True))
        return tree if _grids_fit(tree) else super().fix_tables(xml)

    def get_headers_footers(self, uri):
        # a header or footer without template syntax (page numbers are fields) renders to itself
        for rel_key, part in super().get_headers_footers(uri):
            if any(mark in part.blob for mark in _JINJA_MARKS):
                yield rel_key, part

    def resolve_listing(self, xml: str) -> str:
        # docxtpl turns line breaks, tabs and page breaks inside text into Word elements with a
        # regex pass over every paragraph; a part without any has nothing for it to do
        if not any(char in xml for char in _LISTING_CHARS):
            return xml
        return super().resolve_listing(xml)


def _copy_without_body(doc, shared: dict):
    """A deep copy of ``doc`` with an empty body in place of the original's."""
    document = doc.element
    body = document.body
    position = document.index(body)
    document.remove(body)
    try:
        copied = copy.deepcopy(doc, shared)
    finally:
        document.insert(position, body)
    copied.element.insert(position, OxmlElement("w:body"))
    return copied


def _grids_fit(tree) -> bool:
    """Whether docxtpl's table fix would leave ``tree`` as it is: no row has more cells than its
    table's grid has columns, and the widest row spans the whole grid."""
    spans = next(tree.iter(f"{_W}gridSpan"), None) is not None
    for table in tree.iter(f"{_W}tbl"):
        grid = table.find(f"{_W}tblGrid")
        if grid is None:
            return False
        columns = len(grid.findall(f"{_W}gridCol"))
        widest = 0
        for row in table.iter(f"{_W}tr"):
            cells = row.findall(f"{_W}tc")
            if len(cells) > columns:
                return False
            widest = max(widest, sum(map(_cell_span, cells)) if spans else len(cells))
        if widest < columns:
            return False
    return True


def _cell_span(cell) -> int:
    span = cell.find(f"{_W}tcPr/{_W}gridSpan")
    return int(span.get(f"{_W}val")) if span is not None else 1


_UNDECLARED: dict[tuple, frozenset] = {}


def _undeclared(tpl, path: Path, env) -> frozenset:
    """The template's variables, parsed once per template file version."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _UNDECLARED:
        _UNDECLARED[key] = frozenset(tpl.get_undeclared_template_variables(env))
    return _UNDECLARED[key]


def _post_process(doc, *, new_runs: bool) -> None:
    nest_quotes(doc)
    for table in _all_tables(doc):
        groups = tables.group_columns(table)
        group_of_row = tables.take_group_column(table, groups[0]) if groups and len(table.rows) > 1 else None
        if _has_header_row(table):  # a data table (a cover's label | value table keeps its widths)
            tables.fit_column_widths(table)
        if group_of_row is not None:
            merge = tuple(c - (c > groups[0]) for c in groups[1:])
            tables.band_groups(table, group_of_row, merge)
    docx_layout.keep_signature_with_text(doc)
    if new_runs:  # an inserted picture sits in runs of its own, which the template never had
        docx_layout.enforce_east_asian_fonts(doc)


def mark_draft(doc) -> int:
    """Print 样稿 at the top right of every page (every header of every section that has its own):
    a report signed with the placeholder office is a draft, never one to sign.  Returns how many
    headers it marked."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    seen: set[int] = set()
    for section in doc.sections:
        for header in (section.header, section.even_page_header):
            if header.is_linked_to_previous and section is not doc.sections[0]:
                continue  # the previous section's header, marked already
            element = header._element  # a first section without one of its own gets one
            if id(element) in seen:
                continue
            seen.add(id(element))
            par = header.paragraphs[0] if header.paragraphs and not header.paragraphs[0].text else header.add_paragraph()
            par.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            run = par.add_run(DRAFT_MARK)
            run.bold = True
            run.font.size = docx_layout.SIZE_BODY
            docx_layout.set_rfonts(run._element, docx_layout.FONT_HEI)
    return len(seen)


def _has_header_row(table) -> bool:
    rows = table._tbl.tr_lst
    return bool(rows) and rows[0].find(f"{_W}trPr/{_W}tblHeader") is not None


# ---------------------------------------------------------------------------
# nested quotes
# ---------------------------------------------------------------------------
_OPEN, _CLOSE, _INNER_OPEN, _INNER_CLOSE = "“", "”", "‘", "’"
_QUOTED_PARAGRAPHS = etree.XPath(f".//w:p[.//w:t[contains(., '{_OPEN}')]]",
                                 namespaces={"w": _W.strip("{}")})


def nested_quotes(text: str) -> str:
    """“…“…”…” -> “…‘…’…”: a quotation inside a quotation takes single quotes (and one inside
    that double quotes again).  Only matched pairs change; a stray mark is left as it is."""
    if text.count(_OPEN) < 2:
        return text
    chars, stack = list(text), []
    for i, char in enumerate(text):
        if char == _OPEN:
            stack.append(i)
        elif char == _CLOSE and stack:
            start = stack.pop()
            if len(stack) % 2:  # inside an odd number of open quotations
                chars[start], chars[i] = _INNER_OPEN, _INNER_CLOSE
    return "".join(chars)


def nest_quotes(doc) -> int:
    """Apply :func:`nested_quotes` to every paragraph of the body, across its runs: a value
    quoted by the template (“{{ x }}”) and a quotation inside a value alike.  Returns how many
    paragraphs changed."""
    changed = 0
    for par in _QUOTED_PARAGRAPHS(doc.element.body):
        nodes = [t for t in par.iter(f"{_W}t") if t.text]
        text = "".join(t.text for t in nodes)
        fixed = nested_quotes(text)
        if fixed == text:
            continue
        at = 0
        for t in nodes:  # one character for one: every run keeps its length
            t.text, at = fixed[at:at + len(t.text)], at + len(t.text)
        changed += 1
    return changed


def _all_tables(doc):
    yield from doc.tables
