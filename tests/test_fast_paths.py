"""The fast paths that stand in for library code give exactly what the library gives.

- the validator skips pandera for a sheet it can prove valid
  (``processor.validate.pandera_step._plainly_valid``): on random mutations of a valid form, its
  verdict equals pandera's own ``Model.validate(lazy=True)``;
- reports are rendered with a docxtpl subclass (``processor.render.documents._Template``):
  byte-identical to stock docxtpl;
- documents are written by python-docx's package writer into a fixed-stamp zip
  (``processor.render.layout.document_bytes``): part for part what python-docx's own
  ``Document.save`` writes.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import decimal
import io
import random
import sys
import zipfile

import jinja2
import numpy as np
import pandas as pd
import pandera.errors as pa_errors
import pytest
from docx import Document
from docxtpl import DocxTemplate, InlineImage
from form_helpers import ROSTER, RULEBOOK, filled_form

from processor.render import layout as docx_layout
from processor.render import documents as render
from processor.validate import pandera_step
from processor.validate import validator as validate
from processor.render.charts import build_charts
from processor.common.fsutil import ZIP_STAMP
from processor.common.paths import TEMPLATES_DIR
from processor.validate.readers import read_workbook
from report_samples import sample_context
from processor.schemas.form import FORM_SHEETS

SEED = 20261130

# --- the pandera fast path -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def read_form(tmp_path_factory):
    """Each sheet of a valid form as read: (the located sheet, its raw records before normalisation)."""
    book = read_workbook(filled_form(tmp_path_factory.mktemp("fast") / "月报表.xlsx"))
    ctx = _context()
    found = validate._locate_sheets(ctx, book)
    sheets = {}
    for spec in FORM_SHEETS:
        sheet = validate.SheetRead(spec, found[spec.key].name)
        reader = validate._read_form if spec.layout == "form" else validate._read_table
        sheets[spec.key] = (sheet, reader(ctx, sheet, found[spec.key]))
    assert not ctx.problems.items, [p.message for p in ctx.problems]
    return sheets


def _context() -> validate.Context:
    return validate.Context(ROSTER, RULEBOOK, None, validate.ValidationResult())


def _odd_values(f) -> list:
    """Cell values a clerk (or a broken export) might leave in field ``f``, valid ones among them."""
    options = list(f.options or [])
    return [
        None, "", "  ", "\u3000", "无", "abc", "十二", True, False,
        0, 1, -1, 7, 3.5, -0.0, 1e-9, 1_000_000, 1_000_001, 10 ** 12, 2 ** 63, -(2 ** 63) - 1, 10 ** 30,
        float("nan"), float("inf"), float("-inf"), 1e308,
        "12", " 7 ", "12.0", "1e3", "-3", "１２", "１２．５", "二〇二六年十月",
        "2026-10-08", "2026/10/8", "2026年10月8日", "10月8日", "2026-13-01", "2026-10",
        "２０２６－１０", "2026-1", "2026-00", "202610", 202610, "2026-10 ",
        dt.date(2026, 10, 8), dt.datetime(2026, 10, 8, 12, 30), dt.date(1500, 1, 1), dt.date(9999, 12, 31),
        dt.time(8, 0), "字" * 41, "字" * 101, "字" * 501, "字" * 2001,
        *options, *(o + " " for o in options), "是", "否", "国企", "党支部",
    ]


def _odd_objects() -> list:
    """Values no reader produces but a record could hold after a change to normalisation:
    what pandas holds differently from plain Python values."""
    return [True, np.int64(5), np.float64(2.5), np.nan, pd.NaT, pd.Timestamp("2026-10-08"),
            dt.datetime(2026, 10, 8), decimal.Decimal("3.5"), 2 ** 64, -5, b"bytes", ["list"],
            dt.date(1600, 1, 1), dt.date(2300, 1, 1), float("inf"), "", " ", 12.0]


def _mutate(rng: random.Random, sheet: validate.SheetRead, raw_records: list, valid_values: dict):
    """A fresh sheet from ``raw_records`` with one to four cells changed, then normalised as the
    validator does; sometimes a normalised value is replaced by an object no reader makes."""
    spec = sheet.spec
    records = copy.deepcopy(raw_records)
    for _ in range(rng.randint(1, 4)):
        _, values = rng.choice(records)
        f = rng.choice(spec.fields)
        pool = valid_values[f.name] if rng.random() < 0.3 else _odd_values(f)
        values[f.name] = rng.choice(pool)
    mutated = validate.SheetRead(spec, sheet.name, dict(sheet.columns), dict(sheet.form_rows))
    scratch = _context()
    for excel_row, values in records:
        mutated.records.append(validate._normalize_record(scratch, mutated, excel_row, values))
    if rng.random() < 0.2:
        record = rng.choice(mutated.records)
        record[rng.choice(spec.fields).name] = rng.choice(_odd_objects())
    return mutated


def _key(p) -> tuple:
    return (p.sheet, p.row, p.cell, p.code)


def _library_verdict(sheet: validate.SheetRead):
    """Pandera's own lazy validation of the sheet's frame, mapped to problems as the validator maps
    them; (raw failure count, problem keys), or the exception's type when the frame cannot be made."""
    try:
        sheet.spec.model.validate(pandera_step._pandera_frame(sheet), lazy=True)
    except pa_errors.SchemaErrors as exc:
        cases = exc.failure_cases.to_dict("records")
        mapped = [pandera_step._failure_problem(sheet, case) for case in cases]
        return len(cases), sorted(_key(p) for p in mapped if p is not None)
    except Exception as exc:  # noqa: BLE001 - a value pandas cannot hold: the validator must not skip it
        return "raises", type(exc).__name__
    return 0, []


def _validator_verdict(sheet: validate.SheetRead):
    ctx = _context()
    try:
        pandera_step.run_pandera(ctx, sheet)
    except Exception as exc:  # noqa: BLE001
        return "raises", type(exc).__name__
    return sorted(_key(p) for p in ctx.problems)


@pytest.mark.parametrize("mutations, seed", [
    pytest.param(150, SEED, id="edit-loop"),
    pytest.param(1200, SEED + 1, id="full", marks=pytest.mark.slow),
])
def test_pandera_fast_path_gives_pandera_verdict_on_random_mutations_of_a_valid_form(read_form, mutations, seed):
    rng = random.Random(seed)
    valid_values = {key: {f.name: [values.get(f.name) for _, values in raw] for f in sheet.spec.fields}
                    for key, (sheet, raw) in read_form.items()}
    skipped = reported = 0
    for i in range(mutations):
        key = rng.choice(sorted(read_form))
        sheet, raw = read_form[key]
        mutated = _mutate(rng, sheet, raw, valid_values[key])
        library = _library_verdict(mutated)
        fast = pandera_step._plainly_valid(mutated)
        where = f"mutation {i} of {sheet.spec.title}: {mutated.records!r}"
        if fast:
            skipped += 1
            assert library == (0, []), f"the fast path passed what pandera fails: {library} — {where}"
        reported += bool(library[1])
        # where the fast path cannot decide, the validator makes the library's call itself: every
        # tenth such mutation is enough to show it maps the result the same way
        if fast or i % 10 == 0:
            assert _validator_verdict(mutated) == (library if library[0] == "raises" else library[1]), where
    # both verdicts were exercised many times, or the comparison proves little
    assert skipped >= mutations // 5 and reported >= mutations // 5, (skipped, reported)


def test_pandera_fast_path_is_taken_for_every_sheet_of_a_valid_form(read_form):
    for sheet, raw in read_form.values():
        fresh = validate.SheetRead(sheet.spec, sheet.name, dict(sheet.columns), dict(sheet.form_rows))
        scratch = _context()
        fresh.records = [validate._normalize_record(scratch, fresh, row, values) for row, values in raw]
        assert pandera_step._plainly_valid(fresh), sheet.spec.title
        assert _library_verdict(fresh) == (0, [])


# --- the docxtpl subclass and the deterministic writer -----------------------------------------------

TEMPLATES = sorted(p.stem for p in TEMPLATES_DIR.glob("*.docx"))


def _stock_env() -> jinja2.Environment:
    """A plain jinja environment with the report filters (no compile cache, no dict shortcut)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update({name: render.jinja_env().filters[name]
                        for name in ("cn_date", "md_date", "month_cn", "pct", "num", "join_cn", "day")})
    return env


def _stock_document(name: str, context: dict, images: dict):
    """The report as stock ``docxtpl.DocxTemplate`` renders it, followed by the same post-processing.
    The one documented difference: ``_Template`` gives the template's runs their East-Asian font when
    it loads the template instead of after each render, so here it is done after rendering."""
    data = render.clean_context(dict(context))
    tpl = DocxTemplate(render.template_path(name))
    for key, image in sorted(images.items()):
        data[key] = InlineImage(tpl, str(image), width=render.CHART_WIDTH)
    tpl.render(data, _stock_env(), autoescape=True)
    docx_layout.enforce_east_asian_fonts(tpl.docx)
    render._post_process(tpl.docx, new_runs=bool(images))
    return tpl.docx


def _stock_bytes(name: str, context: dict, images: dict) -> bytes:
    doc = _stock_document(name, context, images)
    return docx_layout.document_bytes(doc, render._stamp(context), author=str(context.get("office_name", "")))


@pytest.fixture(scope="module")
def charts(tmp_path_factory):
    """Each template's sample context and its charts, drawn once (the same image files for both renders)."""
    folder = tmp_path_factory.mktemp("charts")
    out = {}
    for name in TEMPLATES:
        context = sample_context(name)
        (folder / name).mkdir()
        specs = context.get("charts") or {}
        out[name] = (context, build_charts(specs, folder / name) if specs else {})
    return out


def _differing_parts(a: bytes, b: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(a)) as za, zipfile.ZipFile(io.BytesIO(b)) as zb:
        if za.namelist() != zb.namelist():
            return [f"part list: {za.namelist()} != {zb.namelist()}"]
        return [n for n in za.namelist() if za.read(n) != zb.read(n)]


def test_every_template_has_a_sample_context():
    assert set(TEMPLATES) == set(render.REPORT_NAMES)


def _with_line_breaks(value):
    """The context with a line break and a tab in every Chinese text: docxtpl's listing pass
    (which the subclass skips for parts without such characters) has work to do."""
    if isinstance(value, str):
        return value.replace("，", "，\n", 1).replace("：", "：\t", 1) if value.isprintable() else value
    if isinstance(value, dict):
        return {k: _with_line_breaks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_line_breaks(v) for v in value]
    return value


@pytest.mark.parametrize("breaks", [False, True], ids=["sample", "line-breaks"])
@pytest.mark.parametrize("name", TEMPLATES)
def test_docxtpl_subclass_renders_byte_identical_to_stock_docxtpl(name, breaks, charts, tmp_path):
    context, images = charts[name]
    context = _with_line_breaks(context) if breaks else context
    stock = _stock_bytes(name, context, images)
    # twice: the second render reuses the parsed template and patched parts the first one cached
    for attempt in ("first", "cached"):
        fast = render.render_docx(name, context, tmp_path / f"{attempt}.docx", images=images).read_bytes()
        assert fast == stock, f"{attempt} render differs from stock docxtpl in {_differing_parts(fast, stock)}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_deterministic_writer_writes_the_parts_python_docx_saves(name, charts):
    context, images = charts[name]
    doc = _stock_document(name, context, images)
    ours = docx_layout.document_bytes(doc, render._stamp(context), author="福州市委组织部")
    saved = io.BytesIO()
    doc.save(saved)  # after document_bytes: the same core properties
    with zipfile.ZipFile(io.BytesIO(ours)) as za, zipfile.ZipFile(saved) as zb:
        assert za.namelist() == zb.namelist()
        for part in zb.namelist():
            assert za.read(part) == zb.read(part), part
        # what the writer is for: fixed entry stamps (python-docx stamps the clock's time)
        assert {info.date_time for info in za.infolist()} == {ZIP_STAMP}


def test_deterministic_writer_writes_the_parts_of_a_blank_document():
    doc = Document()
    doc.add_paragraph("示范点联系工作月度汇总报告")
    ours = docx_layout.document_bytes(doc)
    saved = io.BytesIO()
    doc.save(saved)
    assert _differing_parts(ours, saved.getvalue()) == []


# --- the form's layout as plain data --------------------------------------------------------------

def test_the_plain_layout_is_the_models_own():
    """The sheets and columns the ledger and the receipts use without pandera are the models':
    key, title and every field's name, title and kind, in order, stamped with the sources' digest
    (after a model changes, `python -m processor.schemas.layout` rewrites the table)."""
    from processor.schemas import layout

    assert layout._TABLE_DIGEST == layout.sources_digest(), "run: python -m processor.schemas.layout"
    assert layout._TABLE == layout.derived_table()
    assert [(s.key, s.title, [(f.name, f.title, f.kind) for f in s.fields]) for s in layout.FORM_LAYOUT] == \
        [(s.key, s.title, [(f.name, f.title, f.kind) for f in s.fields]) for s in FORM_SHEETS]
    assert all(layout.LAYOUT_BY_KEY[s.key].names == s.names for s in FORM_SHEETS)


def test_a_stale_layout_table_gives_way_to_the_models(monkeypatch):
    from processor.schemas import layout

    monkeypatch.setattr(layout, "_TABLE", [("sites", "旧表", (("site", "旧列", "text"),))])
    assert [s.title for s in layout._layout()] == ["旧表"]  # the digest matches: the table is used
    monkeypatch.setattr(layout, "_TABLE_DIGEST", "0" * 16)
    assert [s.key for s in layout._layout()] == [s.key for s in FORM_SHEETS]
    assert layout._layout()[1].fields[0].title == FORM_SHEETS[1].fields[0].title


# --- the receipt's JSON twin ----------------------------------------------------------------------

def _random_json(rng: random.Random, depth: int = 0):
    texts = ["", "已接收", "a\"b\\c", "换\n行\t制表", "\u2028\x00\x1f", "😀", "  空格 "]
    leaves = [None, True, False, 0, -7, 2 ** 70, 1.5, -0.0, 1e-9, 1e308, float("nan"), float("inf"),
              float("-inf"), *texts]
    if depth >= 4 or rng.random() < 0.3:
        return rng.choice(leaves)
    if rng.random() < 0.5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(texts) + str(i): _random_json(rng, depth + 1) for i in range(rng.randrange(4))}


def test_the_receipts_json_is_what_the_json_module_writes():
    """The receipt's JSON twin is written by ``receipts.indented_json``: character for character
    ``json.dumps(value, ensure_ascii=False, indent=2)``, on random documents and on odd ones it
    leaves to the json module (keys that are not text, tuples)."""
    import json

    from processor.record.receipts import indented_json

    rng = random.Random(SEED)
    for _ in range(500):
        value = {"receipt": "000001", "problems": [_random_json(rng) for _ in range(3)], "rows": _random_json(rng)}
        assert indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)
    for odd in ({1: "a", "b": [()]}, {"t": (1, "二")}, [{}, [], [[]], {"x": {}}], "只是文字", 3):
        assert indented_json(odd) == json.dumps(odd, ensure_ascii=False, indent=2)
    with pytest.raises(TypeError):
        indented_json({"day": dt.date(2026, 10, 8)})


# --- the validator on plain data against the validator on the pandera models ---------------------

@contextlib.contextmanager
def _models_validator():
    """The validator as it reads a form with the pandera models themselves: the models' sheets,
    fields, template version and fingerprint, pandera for every sheet with records."""
    from processor.schemas import fields as model_fields
    from processor.schemas import form as model_form
    from processor.validate import checks

    saved = [(validate, name, getattr(validate, name)) for name in (
        "FORM_SHEETS", "SHEET_ORDER", "models_hash", "TEMPLATE_VERSION", "META_SHEET_TITLE", "PREVIOUS_TEMPLATES",
        "KIND_DESCRIPTIONS")]
    saved += [(checks, "FORM_SHEETS", checks.FORM_SHEETS), (checks, "SHEETS_BY_KEY", checks.SHEETS_BY_KEY),
              (pandera_step, "_plainly_valid", pandera_step._plainly_valid),
              (pandera_step, "_kind_description", pandera_step._kind_description)]
    validate.FORM_SHEETS, validate.models_hash = model_form.FORM_SHEETS, model_form.models_hash
    validate.SHEET_ORDER = {s.title: i for i, s in enumerate(model_form.FORM_SHEETS)}
    validate.TEMPLATE_VERSION, validate.META_SHEET_TITLE = model_form.TEMPLATE_VERSION, model_form.META_SHEET_TITLE
    validate.PREVIOUS_TEMPLATES, validate.KIND_DESCRIPTIONS = model_form.PREVIOUS_TEMPLATES, model_fields.KIND_DESCRIPTIONS
    checks.FORM_SHEETS, checks.SHEETS_BY_KEY = model_form.FORM_SHEETS, model_form.SHEETS_BY_KEY
    pandera_step._plainly_valid = lambda sheet: False
    pandera_step._kind_description = model_fields.KIND_DESCRIPTIONS.__getitem__
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def _whole_result(result) -> tuple:
    """All a validation gives: every problem as its receipt shows it, the records the ledger stores,
    the summary (unit, month, template, counts)."""
    return ([p.to_dict() for p in result.problems], result.records, result.to_json())


def _both_paths(book) -> tuple:
    """(plain-data validation, models validation) of one read workbook (each gets its own copy)."""
    plain_ctx, model_ctx = _context(), _context()
    plain_book, model_book = copy.deepcopy(book), copy.deepcopy(book)
    _validate_book(plain_ctx, plain_book)
    with _models_validator():
        _validate_book(model_ctx, model_book)
    return _whole_result(plain_ctx.result), _whole_result(model_ctx.result)


def _validate_book(ctx, book) -> None:
    """``validate._validate_book`` as ``validate_file`` calls it: a value pandas cannot hold rejects the file."""
    try:
        validate._validate_book(ctx, book)
    except Exception as exc:  # noqa: BLE001
        ctx.problems.add(validate.problem("corrupt", detail=f"{type(exc).__name__}: {exc}"))
        ctx.result.records = {}


_SHEET_EDITS = {  # sheet title → (cells a clerk might edit: header row excluded)
    "基本信息": ["B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "A3", "A5"],
    "示范点": ["A2", "B2", "C2", "E3", "F2", "H2", "I3", "J2", "K2", "L2", "M3", "N2", "C1", "H1"],
    "联系指导记录": ["A2", "B3", "C2", "D4", "E2", "F3", "G2", "H3", "I3", "A5", "D1"],
    "组织生活": ["A2", "B2", "C3", "D2", "E2", "F2", "G4", "E5", "F6"],
    "硬件设施": ["A2", "B2", "C3", "D2", "E2", "E3", "Q2", "B1"],
    "党员队伍": ["A2", "B2", "C2", "D2", "E3", "F2", "G2", "H2", "I3", "J2", "K2", "L2", "C1", "D1"],
    "工作进展": ["A2", "B2", "C3", "D2"],
}


def _edit_raw(rng: random.Random, book) -> None:
    """One to five cells of a read workbook changed the way a clerk (or a broken export) might."""
    for _ in range(rng.randint(1, 5)):
        title = rng.choice(sorted(_SHEET_EDITS))
        sheet = book.sheets.get(title)
        if sheet is None:
            continue
        row, col = validate.cell_position(rng.choice(_SHEET_EDITS[title]))
        while len(sheet.rows) < row:
            sheet.rows.append([])
        cells = sheet.rows[row - 1]
        while len(cells) <= col:
            cells.append("")
        spec = next(s for s in FORM_SHEETS if s.title == title)
        f = rng.choice(spec.fields)
        cells[col] = rng.choice(_odd_values(f) + ["其中一线工人", "联系电话", "日期"])
    if rng.random() < 0.05:
        book.sheets.pop(rng.choice(sorted(_SHEET_EDITS)), None)
    meta = book.sheets.get("模板信息")
    for row in meta.rows if meta is not None and rng.random() < 0.2 else []:
        if row and row[0] == "模板版本":
            row[1] = rng.choice(["2026.1", "2025.9", ""])
        elif row and row[0] == "模型指纹" and rng.random() < 0.5:
            row[1] = "0123456789abcdef"


@pytest.fixture(scope="module")
def read_book(tmp_path_factory):
    return read_workbook(filled_form(tmp_path_factory.mktemp("whole") / "月报表.xlsx"))


@pytest.mark.parametrize("forms, seed", [
    pytest.param(120, SEED + 2, id="edit-loop"),
    pytest.param(200, SEED + 3, id="full", marks=pytest.mark.slow),
])
def test_plain_data_validator_gives_the_models_validation_on_edited_forms(read_book, forms, seed):
    """A form read with the plain data (pandera only for a sheet that fails the plain checks) gets
    exactly the problems, records and summary it gets when read with the pandera models throughout."""
    plain, models = _both_paths(read_book)
    assert plain == models
    assert plain[2]["accepted"] and not plain[0], "the unedited form is valid"
    rng = random.Random(seed)
    rejected = 0
    for i in range(forms):
        book = copy.deepcopy(read_book)
        _edit_raw(rng, book)
        plain, models = _both_paths(book)
        assert plain == models, f"edited form {i}: {[p['message'] for p in plain[0]]} vs {[p['message'] for p in models[0]]}"
        rejected += not plain[2]["accepted"]
    assert forms // 5 <= rejected <= forms - forms // 20, rejected  # valid and invalid forms both compared


def test_plain_data_validator_gives_the_models_validation_on_real_files(tmp_path):
    """The same on real files through validate_file: a valid form, a form of the earlier template,
    a form with a value pandera refuses, a form missing a column."""
    from form_helpers import edit

    def earlier_template(wb):
        wb["党员队伍"]["D1"] = "其中一线工人"
        wb["模板信息"]["B2"] = "2026.1"

    def negative_total(wb):
        wb["党员队伍"]["B2"] = -3
        wb["示范点"]["C2"] = "外企"

    def no_column(wb):
        wb["联系指导记录"].delete_cols(5)

    def earlier_version_same_titles(wb):
        wb["模板信息"]["B2"] = "2026.1"

    paths = [filled_form(tmp_path / "valid.xlsx")]
    for change in (earlier_template, negative_total, no_column, earlier_version_same_titles):
        paths.append(edit(filled_form(tmp_path / f"{change.__name__}.xlsx"), change))
    codes = []
    for path in paths:
        plain = validate.validate_file(path, roster=ROSTER, rulebook=RULEBOOK)
        with _models_validator():
            models = validate.validate_file(path, roster=ROSTER, rulebook=RULEBOOK)
        assert _whole_result(plain) == _whole_result(models), path.name
        codes.append({p.code for p in plain.problems})
    assert codes[0] == set()
    assert "out-of-range" in codes[2] and "not-in-list" in codes[2]
    assert "missing-column" in codes[3] or "template-outdated" in codes[3]
    assert "previous-template" in codes[1] and "previous-template" in codes[4]


def test_the_plain_rules_are_the_models_own():
    """The validator's plain data (required flags, options, reading rules, column checks, template
    version and fingerprint) is what the models give (after a model changes, rewrite the table)."""
    from processor.schemas import layout

    assert layout._RULES == layout.derived_rules(), "run: python -m processor.schemas.layout"
    for plain, model in zip(layout.FORM_LAYOUT, FORM_SHEETS, strict=True):
        assert [(f.required, f.options and list(f.options), f.part_of) for f in plain.fields] == \
            [(f.required, f.options, f.part_of) for f in model.fields]
        assert (plain.layout, plain.one_row_per_site, plain.dates_in_month, plain.unique_on, plain.previous_titles,
                plain.parts) == (model.layout, model.one_row_per_site, model.dates_in_month, model.unique_on,
                                 model.previous_titles, model.parts)
    assert validate.models_hash() == __import__("processor.schemas.form", fromlist=["x"]).models_hash()


@pytest.mark.slow  # the processor run twice, its validation processes included
def test_valid_forms_are_validated_without_pandas_and_a_sheet_that_needs_pandera_loads_it(tmp_path):
    """A batch of valid forms is read, checked and recorded without pandas or pandera in any process
    (the fork server and the validation processes print their imports to the same stderr); the first
    sheet the plain checks cannot pass loads them and gets pandera's verdict on its receipt."""
    import json as json_module

    from form_helpers import edit
    from importtime_helpers import heavy_imports, run_importtime, workspace_with_one_form

    root = workspace_with_one_form(tmp_path)
    result = run_importtime(root, "process")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "multiprocessing.forkserver" in result.stderr, "the form was validated in a validation process"
    assert not {"pandas", "pandera"} & set(heavy_imports(result.stderr)), heavy_imports(result.stderr)

    def negative_total(wb):
        wb["党员队伍"]["B2"] = -3

    edit(filled_form(root / "inbox" / "罗源县" / "月报表（二）.xlsx"), negative_total)
    result = run_importtime(root, "process")
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"pandas", "pandera"} <= set(heavy_imports(result.stderr))
    receipts = [json_module.loads(p.read_text(encoding="utf-8")) for p in (root / "outbox" / "回执").rglob("*.json")]
    codes = [(p["code"], p.get("cell")) for r in receipts for p in r.get("problems", [])]
    assert ("out-of-range", "B2") in codes, codes


def test_a_form_is_recorded_while_another_thread_is_still_importing_pandas(monkeypatch):
    """serve's nightly consolidation imports pandas on its own thread while intake records a form from
    plain values: pandas, half-initialised in ``sys.modules`` meanwhile, has no NA yet and must not
    turn a form's recording into an error."""
    import types

    from processor.common.values import is_missing

    monkeypatch.setitem(sys.modules, "pandas", types.ModuleType("pandas"))  # its own imports still running
    assert is_missing(None) and is_missing(float("nan"))
    assert not is_missing("罗源县") and not is_missing(3) and not is_missing(dt.date(2026, 10, 1))
