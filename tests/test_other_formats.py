"""Forms saved as Excel 97-2003 (.xls) or OpenDocument (.ods) are read for their values, with a warning.

The files are real LibreOffice conversions of a filled form; macro-enabled and encrypted files are still refused.
"""

from __future__ import annotations

import shutil
import zipfile

import pytest
from form_helpers import edit, filled_form, ole_file, soffice_available, soffice_convert, validate
from openpyxl import load_workbook

from processor.validate.annotate import LIST_TITLE
from processor.intake.run import process_inbox
from processor.record.ledger import Ledger

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not soffice_available(), reason="LibreOffice (soffice) is not installed")]

FORMATS = ["xls", "ods"]
BAD_CELLS = {"示范点!C2", "联系指导记录!D4"}


def _break(wb):
    wb["示范点"]["C2"] = "外企"
    wb["联系指导记录"]["D4"] = "微信"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """{(fmt, "valid"|"invalid"): path} converted by LibreOffice, plus the .xlsx originals."""
    folder = tmp_path_factory.mktemp("formats")
    for kind in ("valid", "invalid"):
        (folder / kind).mkdir()
    valid = filled_form(folder / "valid" / "月报表.xlsx")
    invalid = edit(filled_form(folder / "invalid" / "月报表.xlsx"), _break)
    files = {("xlsx", "valid"): valid, ("xlsx", "invalid"): invalid}
    for fmt in FORMATS:
        files[(fmt, "valid")] = soffice_convert(valid, fmt, folder / fmt / "valid")
        files[(fmt, "invalid")] = soffice_convert(invalid, fmt, folder / fmt / "invalid")
    return files


def _rows(result):
    return {key: frame.drop(columns="row").to_dict("records") for key, frame in result.frames.items()}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["月报表", "改名的月报表.xlsx"])
def test_a_valid_form_saved_as_xls_or_ods_is_accepted_with_a_warning(converted, tmp_path, fmt, name):
    path = converted[(fmt, "valid")]
    if name.endswith(".xlsx"):  # the content decides, not the name
        path = shutil.copyfile(path, tmp_path / name)
    result = validate(path)
    assert result.accepted, [p.message for p in result.problems]
    [warning] = result.problems.items
    assert warning.code == "other-format" and f".{fmt}" in warning.message
    assert "下拉列表" in warning.message and ".xlsx" in warning.hint and "模板" in warning.hint
    assert _rows(result) == _rows(validate(converted[("xlsx", "valid")])), "every value is read as in the xlsx"


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_invalid_form_saved_as_xls_or_ods_is_rejected_with_cell_references(converted, fmt):
    result = validate(converted[(fmt, "invalid")])
    assert not result.accepted
    assert {p.location for p in result.problems.errors} == BAD_CELLS
    assert {p.location for p in result.problems.errors} == {
        p.location for p in validate(converted[("xlsx", "invalid")]).problems.errors}


@pytest.mark.parametrize("fmt", FORMATS)
def test_intake_accepts_the_valid_one_and_annotates_the_invalid_one_as_xlsx(workspace, converted, fmt):
    shutil.copyfile(converted[(fmt, "valid")], workspace.inbox / f"罗源县-好.{fmt}")
    shutil.copyfile(converted[(fmt, "invalid")], workspace.inbox / f"罗源县-错.{fmt}")
    outcomes = {o.name: o for o in process_inbox(workspace)}
    assert outcomes[f"罗源县-好.{fmt}"].status == "accepted"
    assert outcomes[f"罗源县-错.{fmt}"].status == "rejected"
    with Ledger(workspace.ledger_path) as ledger:
        assert len(ledger.accepted_rows("contacts")) == 8
        rejected = next(r for r in ledger.files() if r["status"] == "rejected")
    receipt = workspace.outbox / rejected["receipt_path"]
    [annotated] = list(receipt.parent.glob("*_批注.xlsx"))
    wb = load_workbook(annotated)
    assert wb.sheetnames[0] == LIST_TITLE
    listed = {r[0] for r in wb[LIST_TITLE].iter_rows(min_row=2, values_only=True)}
    assert BAD_CELLS <= listed
    red = {f"{ws.title}!{c.coordinate}" for ws in wb.worksheets[1:] for row in ws.iter_rows() for c in row
           if c.fill.fgColor.rgb == "00FF9999"}
    assert red == BAD_CELLS
    assert wb["示范点"]["C2"].value == "外企" and wb["示范点"]["A1"].value == "示范点名称"


def test_an_xls_with_macros_is_still_refused(tmp_path):
    path = tmp_path / "月报表.xls"
    path.write_bytes(ole_file({"Workbook": b"\x09\x08" + bytes(200), "_VBA_PROJECT_CUR": bytes(100)}))
    assert [p.code for p in validate(path).problems] == ["macro-enabled"]


def test_an_ods_with_basic_macros_is_still_refused(converted, tmp_path):
    path = tmp_path / "月报表.ods"
    with zipfile.ZipFile(converted[("ods", "valid")]) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        zout.writestr("Basic/Standard/Module1.xml", '<?xml version="1.0"?><module/>')
    assert [p.code for p in validate(path).problems] == ["macro-enabled"]
