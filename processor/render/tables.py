"""The report tables after rendering: column widths from the content, and groups shown as bands.

Column widths: a table keeps its width (the template's); its columns share it by what they hold,
measured from the cells' text in characters of 小4.  Dates, phone numbers and figures never wrap;
the names of units, sites and people are kept on one line before any long text gets more room
than it needs to wrap to as few lines as the row's other cells, so a name is wrapped only when the
page is full; long texts share what is left so that the table is as short as it can be.

Groups: a table whose caption names its group columns (``分组列：1,2``; templates written before
it say ``重复内容淡显列：``) prints each group once, as a band across the table over its rows, and
merges the cells of the next column that repeat within the group (a staff member with several
sites), instead of repeating them on every row.
"""

from __future__ import annotations

import copy
import functools
import math
import operator
import re

from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from processor.render.layout import CELL_MARGIN_TWIPS, DIM_CAPTION_PREFIX, GROUP_CAPTION_PREFIX, SIZE_TABLE

TABLE_CHAR_MM = SIZE_TABLE.pt * 25.4 / 72  # one character of 小4
_LATIN_EM = 0.56  # a digit or Latin letter of the CJK serif, in characters
_MIXED_GAP_EM = 0.2  # the space Word and LibreOffice put between Chinese and Latin text
CELL_PADDING_MM = 2 * CELL_MARGIN_TWIPS / 56.7 + 0.4  # cell margins and a little slack
SLACK_EM = 0.3  # Word spaces mixed Chinese and Latin text a little wider
_ONE_LINE = re.compile(r"[\d\sA-Za-z\-./:：+%×年月日号（）()第季度半上下一二三四由延提前至]*")  # 2026年第四季度, 延至11月30日
SHORT_WORD_CHARS = 4
BAND_FILL = "E7E6E6"

# a column of names (units, sites, people): never wrapped while another column has room
NAME_TITLES = re.compile(r"单位|示范点|人员|联系人|书记|组别|党委|姓名|名称|县（市、区）")
_COUNT_TITLES = re.compile(r"^(分工联系|本月报送|其中非分工)")  # 分工联系示范点: a count of sites
_PUNCTUATION = re.compile(r"[，。；！？、,;：:]")
NAME_PENALTY = 3.0  # a wrapped name costs as much as three more lines of the table
WORD_PENALTY = 0.5  # a wrapped status or short title (已完成, 逾期284天未办结) half a line
_WORD_CHARS = 12
_MAX_SPLIT = 8  # a cell is considered on up to this many lines
_CANDIDATES = 6  # the next widths each column may take in one step
_TITLE_LINE_CHARS = 8  # a title line up to this long is never broken when the table has room

_W_GRID_COL, _W_TR, _W_TC, _W_W, _W_T = qn("w:gridCol"), qn("w:tr"), qn("w:tc"), qn("w:w"), qn("w:t")
_W_TYPE, _TCPR_TCW, _W_BR, _W_P = qn("w:type"), f"{qn('w:tcPr')}/{qn('w:tcW')}", qn("w:br"), qn("w:p")
_ASCII_RUN = re.compile(r"[\x20-\x7e]+")


@functools.lru_cache(maxsize=8192)  # the same dates, names and statuses fill table after table
def text_width_em(text: str) -> float:
    """The width of one line of ``text`` in characters of its font size: Chinese (and every other
    non-ASCII character) one, a digit or Latin letter a little over half, plus the gap set
    between Chinese and Latin text."""
    width = float(len(text))
    for run in _ASCII_RUN.finditer(text):
        part = run.group()
        width -= len(part) - _LATIN_EM * len(part) + (_LATIN_EM - 0.3) * part.count(" ")
        width += _MIXED_GAP_EM * ((run.start() > 0) + (run.end() < len(text)))
    return width


def cell_plain(tc) -> str:
    return "".join(t.text or "" for t in tc.iter(_W_T)).strip()


def cell_lines(tc) -> list[str]:
    """A cell's text line by line (paragraphs and line breaks), as it is measured for its width."""
    lines = []
    for par in tc.iter(_W_P):
        line = ""
        for node in par.iter(_W_T, _W_BR):
            if node.tag == _W_BR:
                lines.append(line.strip())
                line = ""
            else:
                line += node.text or ""
        lines.append(line.strip())
    return [line for line in lines if line] or [""]


# --- column widths --------------------------------------------------------------------------------
def lines_at(width_em: float, line_em: float) -> int:
    """How many lines a line of text ``line_em`` wide takes in a column ``width_em`` wide (whole
    characters a line: a Chinese line breaks between characters)."""
    if line_em <= 0:
        return 1
    per_line = math.floor(width_em - SLACK_EM + 0.05)  # a rounding of the width in twips is no line less
    if per_line < 1:
        return math.ceil(line_em / max(width_em, 0.25))
    return max(1, math.ceil(line_em / per_line - 1e-9))


def _whole(width_em: float) -> float:
    """The column width (in characters) that holds a line ``width_em`` wide."""
    return math.ceil(width_em - 1e-9) + SLACK_EM


class _Column:
    """One column's text, measured: its title lines, each body row's lines, its least width and
    what a wrapped cell of it costs."""

    def __init__(self, title_lines: list[str], rows: list[list[str]], weights: list[int] | None = None):
        self.title = [text_width_em(t) for t in title_lines if t] or [0.0]
        self.weights = weights or [1] * len(rows)  # how many rows of the table read as each of ``rows``
        self.rows = [[text_width_em(t) for t in lines] for lines in rows]
        texts = [t for lines in rows for t in lines if t]
        title = " ".join(t for t in title_lines if t)
        figures = [text_width_em(t) + SLACK_EM for t in texts if _ONE_LINE.fullmatch(t)]
        # figures and dates never wrap, nor a title of up to three characters (已完成, 未达标)
        words = [_whole(w) for w in self.title if w <= SHORT_WORD_CHARS - 0.5] if len(self.title) == 1 else []
        self.least = max([min(sum(self.title), 2.0), *figures, *words])
        named = bool(NAME_TITLES.search(title)) and not _COUNT_TITLES.match(title)
        worded = bool(texts) and all(len(t) <= _WORD_CHARS and not _PUNCTUATION.search(t) for t in texts)
        self.penalty = NAME_PENALTY if named else WORD_PENALTY if worded else 0.0
        short = [_whole(text_width_em(t)) for t in texts if len(t) <= SHORT_WORD_CHARS]
        # a title of up to three characters (已完成) is a word, and so is each line of a title written on
        # several lines; a longer one-line title may take two lines (企业/类型)
        explicit = len(self.title) > 1
        self.title_lines_allowed = [1 if explicit or w <= SHORT_WORD_CHARS - 0.5 else 2 for w in self.title]
        whole_titles = [_whole(w) for w, allowed in zip(self.title, self.title_lines_allowed, strict=True)
                        if allowed == 1 and w <= _TITLE_LINE_CHARS]
        # what the column takes when the table has room for it: short words and titles whole
        self.firm = max([self.least, *short, *whole_titles])
        self.one_line = max([self.least, *(_whole(w) for w in self.title), *short,
                             *(_whole(w) for lines in self.rows for w in lines)])
        widths = {w for lines in self.rows for w in lines} | set(self.title)
        points = {self.least, self.one_line}
        for w in widths:
            for k in range(1, _MAX_SPLIT + 1):
                points.add(_whole(w / k))
        self.points = sorted(p for p in points if self.least <= p <= self.one_line)
        self.one_line = max(self.one_line, self.firm)
        self.row_weights = [1, *self.weights]  # the title, then the body rows
        self.line_widths = widths
        self._scores: dict[float, tuple] = {}

    def scores(self, width: float) -> tuple[tuple[int, ...], int]:
        """At ``width``: the lines of the title and of each body row (title first), and what the
        column's cells add to the table's cost in twentieths of a line (a line 1, a wrapped name or
        word 20 times its penalty), each row counted as often as it is.  The search tries a
        column's few widths again and again while the others change, so each is measured once."""
        found = self._scores.get(width)
        if found is None:
            at = {w: lines_at(width, w) for w in self.line_widths}  # many cells are alike (dates, names)
            lines = [sum(map(at.__getitem__, self.title)), *(sum(map(at.__getitem__, row)) for row in self.rows)]
            penalties = [max(self.penalty, WORD_PENALTY) if any(
                at[w] > allowed for w, allowed in zip(self.title, self.title_lines_allowed, strict=True)) else 0.0,
                *(self.penalty if n > len(row) else 0.0 for n, row in zip(lines[1:], self.rows, strict=True))]
            parts = [n + round(20 * p) for n, p in zip(lines, penalties, strict=True)]
            found = self._scores[width] = (tuple(lines), sum(map(operator.mul, self.row_weights, parts)))
        return found


class _Heights:
    """The table's cost at ``widths`` (:func:`_table_cost`), kept so that the cost with one column
    at another width is measured from that column alone, against each row's tallest cell among the
    other columns.  Costs are counted in twentieths of a line, so every sum is exact."""

    def __init__(self, columns: list[_Column], widths: list[float]):
        self.columns, self.weights = columns, columns[0].row_weights
        scores = [c.scores(w) for c, w in zip(columns, widths, strict=True)]
        self.lines = [lines for lines, _ in scores]
        self.parts = [parts for _, parts in scores]
        tallest = list(map(max, *self.lines)) if len(columns) > 1 else list(self.lines[0])
        self.total = 20 * sum(map(operator.mul, self.weights, tallest)) + sum(self.parts)
        self._others: dict[int, list[int]] = {}

    def cost(self) -> float:
        return self.total / 20

    def cost_with(self, i: int, width: float) -> float:
        """The table's cost with column ``i`` at ``width``, the others as they are."""
        lines, parts = self.columns[i].scores(width)
        others = self._others.get(i)
        if others is None:  # each row's tallest cell of the other columns
            rest = [col for j, col in enumerate(self.lines) if j != i]
            others = self._others[i] = list(map(max, *rest)) if len(rest) > 1 else list(rest[0]) if rest else \
                [0] * len(lines)
        tallest = sum(map(operator.mul, self.weights, map(max, others, lines)))
        return (20 * tallest + sum(self.parts) - self.parts[i] + parts) / 20


def _table_cost(columns: list[_Column], widths: list[float]) -> float:
    """The table's height in lines (header and body), plus a little for every wrapped line, plus
    the penalties of wrapped names and words."""
    return _Heights(columns, widths).cost()


def share_width(room: float, columns: list[_Column]) -> list[float]:
    """Widths (in characters) summing to ``room``: every column its least (figures and dates whole);
    then, step by step, the column whose next width shortens the table most for the room it takes
    (a wrapped name or word counting as more lines); what is left when every column is on one line
    (or when no step fits) is spread over the columns."""
    least = [c.least for c in columns]
    if sum(least) >= room:  # too many columns: shrink all alike
        return [w * room / sum(least) for w in least]
    widths = list(least)
    for i in sorted(range(len(columns)), key=lambda i: columns[i].firm - least[i]):  # the cheapest first
        if sum(widths) + columns[i].firm - widths[i] <= room:
            widths[i] = columns[i].firm
    heights = _Heights(columns, widths)
    cost = heights.cost()
    while True:
        left = room - sum(widths)
        best = None
        for i, column in enumerate(columns):
            steps = [p for p in column.points if widths[i] + 1e-6 < p <= widths[i] + left + 1e-6][:_CANDIDATES]
            for p in steps:
                gain = cost - heights.cost_with(i, p)
                if gain <= 1e-9:
                    continue
                rate = gain / (p - widths[i])
                if best is None or rate > best[0] + 1e-9:
                    best = (rate, i, p, cost - gain)
        if best is None:
            break
        _, i, p, cost = best
        widths[i] = p
        heights = _Heights(columns, widths)
    widths = _rebalance(columns, widths)
    left = room - sum(widths)
    if left > 1e-6:  # spread the rest: to the columns still wrapping by how much they lack, else to all
        lack = [max(0.0, c.one_line - widths[i]) for i, c in enumerate(columns)]
        weight = lack if sum(lack) > 1e-6 else widths
        total = sum(weight)
        widths = [w + left * x / total for w, x in zip(widths, weight, strict=True)]
    return widths


def _rebalance(columns: list[_Column], widths: list[float], rounds: int = 40) -> list[float]:
    """Growing one column at a time can leave a column wider than its rows need once the others have
    grown: give a wrapped name (or word) its next width from the columns that lose least by it, as long
    as the table gets shorter for it."""
    cost = _table_cost(columns, widths)
    for _ in range(rounds):
        better = None
        for i, column in enumerate(columns):
            if not column.penalty:
                continue
            for p in [p for p in column.points if p > widths[i] + 1e-6][:_CANDIDATES]:
                trial = _taken_for(columns, widths, i, p)
                if trial is None:
                    continue
                trial_cost = _table_cost(columns, trial)
                if trial_cost < cost - 1e-9 and (better is None or trial_cost < better[0]):
                    better = (trial_cost, trial)
        if better is None:
            break
        cost, widths = better
    return widths


def _taken_for(columns: list[_Column], widths: list[float], i: int, width: float) -> list[float] | None:
    """``widths`` with column ``i`` at ``width``, the room taken from the other columns, each in turn
    the one that loses least by giving it (None when they have not that much above their least)."""
    trial = list(widths)
    need = width - trial[i]
    trial[i] = width
    donors = [j for j in range(len(columns)) if j != i and trial[j] > columns[j].least + 1e-6]

    heights = _Heights(columns, trial)
    base = heights.cost()

    def loss(j):
        give = min(need, trial[j] - columns[j].least)
        return (heights.cost_with(j, trial[j] - give) - base) / give

    while need > 1e-6 and donors:
        j = min(donors, key=loss)
        give = min(need, trial[j] - columns[j].least)
        trial[j] -= give
        need -= give
        donors.remove(j)
        heights = _Heights(columns, trial)
    return trial if need <= 1e-6 else None


def fit_column_widths(table, header_rows: int = 1) -> list[float] | None:
    """Share the table's width among its columns by their content; returns the widths in mm
    (None for a table with merged or spanned cells, left as the template made it)."""
    tbl = table._tbl
    grid = tbl.tblGrid.findall(_W_GRID_COL)
    rows = tbl.findall(_W_TR)
    cells = [tr.findall(_W_TC) for tr in rows]
    if not grid or len(rows) <= header_rows or any(len(r) != len(grid) for r in cells) \
            or next(tbl.iter(qn("w:gridSpan")), None) is not None or next(tbl.iter(qn("w:vMerge")), None) is not None:
        return None
    total_mm = sum(int(c.get(_W_W)) for c in grid) / 56.7
    texts = [[cell_lines(tc) for tc in r] for r in cells]
    body: dict[tuple, list] = {}  # each different row measured once, counted as often as it is
    for row in texts[header_rows:]:
        body.setdefault(tuple(map(tuple, row)), [row, 0])[1] += 1
    weights = [n for _, n in body.values()]
    columns = [_Column([line for row in texts[:header_rows] for line in row[i]], [row[i] for row, _ in body.values()],
                       weights) for i in range(len(grid))]
    room = (total_mm - len(grid) * CELL_PADDING_MM) / TABLE_CHAR_MM  # in characters
    widths = [c * TABLE_CHAR_MM + CELL_PADDING_MM for c in share_width(room, columns)]
    twips = [str(int(w * 56.7)) for w in widths]
    for col, w in zip(grid, twips, strict=True):
        col.set(_W_W, w)
    for r in cells:
        for tc, w in zip(r, twips, strict=True):
            tcw = tc.find(_TCPR_TCW)  # the templates' cells have one
            if tcw is None:
                tcw = tc.get_or_add_tcPr().get_or_add_tcW()
            tcw.set(_W_W, w)
            tcw.set(_W_TYPE, "dxa")
    return widths


# --- groups as bands ------------------------------------------------------------------------------
def group_columns(table) -> tuple[int, ...]:
    """0-based group columns named by the table's caption (the group first, then what merges within it)."""
    cap = table._tbl.tblPr.find(qn("w:tblCaption"))
    value = (cap.get(qn("w:val")) or "") if cap is not None else ""
    for prefix in (GROUP_CAPTION_PREFIX, DIM_CAPTION_PREFIX):
        if value.startswith(prefix):
            return tuple(int(n) - 1 for n in re.findall(r"\d+", value[len(prefix):]))
    return ()


def take_group_column(table, column: int, header_rows: int = 1) -> list[str]:
    """Remove ``column`` from the table (grid, header and rows); returns the body rows' texts of it."""
    tbl = table._tbl
    grid = tbl.tblGrid.findall(_W_GRID_COL)
    removed = int(grid[column].get(_W_W) or 0)
    tbl.tblGrid.remove(grid[column])
    if grid:  # the table keeps its width: the next column takes the group column's room
        neighbour = grid[column + 1] if column + 1 < len(grid) else grid[column - 1]
        neighbour.set(_W_W, str(int(neighbour.get(_W_W) or 0) + removed))
    texts = []
    for i, tr in enumerate(tbl.findall(_W_TR)):
        tc = tr.findall(_W_TC)[column]
        if i >= header_rows:
            texts.append(cell_plain(tc))
        tr.remove(tc)
    return texts


def band_groups(table, groups: list[str], merge: tuple[int, ...] = (), header_rows: int = 1) -> int:
    """A band across the table over the first row of each group (``groups``: each body row's
    group), and the cells of the ``merge`` columns that repeat the row above within a group merged
    into one.  Returns how many bands it added."""
    tbl = table._tbl
    rows = tbl.findall(_W_TR)[header_rows:]
    grid = tbl.tblGrid.findall(_W_GRID_COL)
    total = sum(int(c.get(_W_W) or 0) for c in grid)
    bands = 0
    for i, tr in enumerate(rows):
        if groups[i] and (i == 0 or groups[i] != groups[i - 1]):
            tr.addprevious(_band_row(tr, groups[i], len(grid), total))
            bands += 1
    for col in merge:
        texts = [cell_plain(tr.findall(_W_TC)[col]) for tr in rows]
        for i, tr in enumerate(rows):
            same = i > 0 and texts[i] and texts[i] == texts[i - 1] and groups[i] == groups[i - 1]
            starts = not same and i + 1 < len(rows) and texts[i] and texts[i + 1] == texts[i] \
                and groups[i + 1] == groups[i]
            if same or starts:
                tc = tr.findall(_W_TC)[col]
                vmerge = OxmlElement("w:vMerge")
                if starts:
                    vmerge.set(qn("w:val"), "restart")
                else:
                    for t in tc.iter(_W_T):
                        t.text = ""
                tc.get_or_add_tcPr().get_or_add_tcW().addnext(vmerge)  # schema order: tcW, gridSpan, vMerge
    return bands


def _band_row(model_tr, text: str, columns: int, total_twips: int):
    """A row of one cell spanning the table, shaded, its text bold, kept with the row under it."""
    tr = copy.deepcopy(model_tr)
    cells = tr.findall(_W_TC)
    for tc in cells[1:]:
        tr.remove(tc)
    tc = cells[0]
    tcpr = tc.get_or_add_tcPr()
    for child in list(tcpr):
        tcpr.remove(child)
    tcw = OxmlElement("w:tcW")
    tcw.set(_W_W, str(total_twips))
    tcw.set(_W_TYPE, "dxa")
    tcpr.append(tcw)
    span = OxmlElement("w:gridSpan")
    span.set(qn("w:val"), str(columns))
    tcpr.append(span)
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), BAND_FILL)
    tcpr.append(shd)
    pars = tc.findall(_W_P)
    for par in pars[1:]:
        tc.remove(par)
    par = pars[0]
    runs = par.findall(qn("w:r"))
    for run in runs[1:]:
        par.remove(run)
    if not runs:
        runs = [OxmlElement("w:r")]
        par.append(runs[0])
    run = runs[0]
    for node in [*run.findall(_W_T), *run.findall(_W_BR)]:
        run.remove(node)
    t = OxmlElement("w:t")
    t.text = text
    run.append(t)
    rpr = run.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        run.insert(0, rpr)
    if rpr.find(qn("w:b")) is None:
        rfonts = rpr.find(qn("w:rFonts"))
        bold = OxmlElement("w:b")
        if rfonts is not None:
            rfonts.addnext(bold)
        else:
            rpr.insert(0, bold)
    par.get_or_add_pPr().keepNext_val = True
    return tr
