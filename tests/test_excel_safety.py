"""Formula-like text (``+86 …`` phone numbers, ``=1+1``) written into a workbook reads exactly as typed and stays
text: a string cell with the quote-prefix style, never a literal apostrophe and never a live formula."""

from __future__ import annotations

import csv
import dataclasses

import pytest
from form_helpers import MONTH, ROSTER, RULEBOOK, UNIT, soffice_available, soffice_convert
from openpyxl import load_workbook

from processor.validate.roster import load_roster, sample_roster, write_roster
from processor.validate.samples import form_rows, site_rows, write_form
from processor.validate.template import write_template

PHONE = "+86 591 2683 4567"
FORMULA = "=1+1"


def _form_with(tmp_path, **basic):
    rows = form_rows(roster=ROSTER, rulebook=RULEBOOK, unit=UNIT, month=MONTH, seed=3)
    rows["basic_info"][0].update(basic)
    return write_form(tmp_path / "月报表.xlsx", rows, roster=ROSTER, rulebook=RULEBOOK, unit=UNIT, month=MONTH)


def test_a_prefilled_form_shows_previous_values_as_they_were_typed(tmp_path):
    previous = site_rows(ROSTER, UNIT, seed=1, month="2026-09")
    previous[0].update(note=PHONE, secretary=FORMULA)
    path = write_template(tmp_path / "t.xlsx", roster=ROSTER, rulebook=RULEBOOK, unit=UNIT, month=MONTH,
                          previous=previous)
    ws = load_workbook(path)["示范点"]
    header = [c.value for c in ws[1]]
    cells = [ws.cell(2, header.index(title) + 1) for title in ("备注", "党组织书记")]
    assert [c.value for c in cells] == [PHONE, FORMULA]
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)


def test_the_roster_keeps_a_plus_phone_number_as_typed(tmp_path):
    roster = sample_roster()
    roster.units[0] = dataclasses.replace(roster.units[0], phone=PHONE)
    loaded = load_roster(write_roster(roster, tmp_path / "roster.xlsx"))
    assert loaded.units[0].phone == PHONE


@pytest.mark.slow
@pytest.mark.skipif(not soffice_available(), reason="LibreOffice (soffice) is not installed")
def test_libreoffice_shows_the_text_and_does_not_evaluate_it(tmp_path):
    path = _form_with(tmp_path, phone=FORMULA, filler=PHONE)
    wb = load_workbook(path)
    wb.move_sheet("基本信息", offset=-wb.sheetnames.index("基本信息"))  # CSV export writes the first sheet
    wb.save(path)
    rows = list(csv.reader(soffice_convert(path, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path / "lo")
                           .read_text(encoding="utf-8").splitlines()))
    shown = {r[0]: r[1] for r in rows if len(r) > 1}
    assert (shown["联系电话"], shown["填报人"]) == (FORMULA, PHONE)
