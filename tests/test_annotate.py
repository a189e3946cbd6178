"""The annotated copy a unit gets back: its own workbook, bad cells red with comments, a 错误清单 first."""

from __future__ import annotations

import datetime as dt

from form_helpers import edit, filled_form, validate
from openpyxl import load_workbook

from processor.validate.annotate import LIST_HEADER, LIST_TITLE, write_annotated_copy


def _break(wb):
    wb["示范点"]["C2"] = "外企"
    wb["联系指导记录"]["D4"] = "微信"
    wb["组织生活"]["E4"] = -1
    wb["工作进展"]["B2"] = "=HYPERLINK(\"http://evil\",\"点我\")"  # formula text must stay the submitter's
    wb["示范点"]["K2"] = "张三丰"  # a warning only: not painted


def _values(path):
    wb = load_workbook(path)
    return {(ws.title, c.coordinate): c.value for ws in wb for row in ws.iter_rows() for c in row
            if c.value is not None}


def test_annotated_copy_marks_exactly_the_error_cells(tmp_path):
    form = edit(filled_form(tmp_path / "月报表.xlsx"), _break)
    result = validate(form)
    errors = result.problems.errors
    assert {p.location for p in errors} >= {"示范点!C2", "联系指导记录!D4", "组织生活!E4"}
    dest = write_annotated_copy(form, list(result.problems), tmp_path / "月报表_批注.xlsx")

    wb = load_workbook(dest)
    assert wb.sheetnames[0] == LIST_TITLE
    marked = {(ws.title, c.coordinate) for ws in wb.worksheets[1:] for row in ws.iter_rows() for c in row
              if c.fill.fgColor.rgb == "00FF9999"}
    assert marked == {(p.sheet, p.cell) for p in errors if p.cell}
    commented = {(ws.title, c.coordinate): c.comment.text for ws in wb.worksheets[1:] for row in ws.iter_rows()
                 for c in row if c.comment}
    assert set(commented) == marked
    assert "电话联系" in commented[("联系指导记录", "D4")]
    assert ("示范点", "K2") not in commented


def test_problem_list_sheet_links_to_cells(tmp_path):
    form = edit(filled_form(tmp_path / "月报表.xlsx"), _break)
    result = validate(form)
    dest = write_annotated_copy(form, list(result.problems), tmp_path / "批注.xlsx")
    ws = load_workbook(dest)[LIST_TITLE]
    assert tuple(c.value for c in ws[1]) == LIST_HEADER
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(result.problems)
    first = ws["A2"]
    assert first.hyperlink.location == f"'{result.problems.errors[0].sheet}'!{result.problems.errors[0].cell}"
    by_location = {r[0]: r for r in rows}
    assert by_location["联系指导记录!D4"][1:4] == ("联系指导记录", "方式", "微信")
    assert any(str(r[4]).startswith("【提示】") for r in rows)  # the warning is listed after the errors


def test_submitters_values_are_kept(tmp_path):
    form = edit(filled_form(tmp_path / "月报表.xlsx"), _break)
    before = _values(form)
    result = validate(form)
    dest = write_annotated_copy(form, list(result.problems), tmp_path / "批注.xlsx")
    after = {k: v for k, v in _values(dest).items() if k[0] != LIST_TITLE}
    assert after == before
    assert after[("工作进展", "B2")].startswith("=HYPERLINK")
    assert isinstance(after[("联系指导记录", "A2")], dt.datetime)


def test_formula_like_values_in_the_list_read_as_typed_and_stay_text(tmp_path):
    def change(wb):
        cell = wb["联系指导记录"]["D4"]
        cell.value, cell.data_type = "=1+1", "s"  # text that a spreadsheet would take for a formula
    form = edit(filled_form(tmp_path / "月报表.xlsx"), change)
    result = validate(form)
    dest = write_annotated_copy(form, list(result.problems), tmp_path / "批注.xlsx")
    ws = load_workbook(dest)[LIST_TITLE]
    shown = [c for row in ws.iter_rows(min_row=2) for c in row if c.value and str(c.value).endswith("1+1")]
    assert [c.value for c in shown] == ["=1+1"], "no apostrophe added to what the clerk typed"
    assert all(c.data_type == "s" and c.quotePrefix for c in shown), "kept as text, never evaluated"


def test_unreadable_source_gives_no_copy(tmp_path):
    path = tmp_path / "坏文件.xlsx"
    path.write_bytes(b"not a workbook")
    assert write_annotated_copy(path, [], tmp_path / "out.xlsx") is None
    assert not (tmp_path / "out.xlsx").exists()


def test_every_sheet_of_the_annotated_copy_prints_one_page_wide_with_its_header(tmp_path):
    form = edit(filled_form(tmp_path / "月报表.xlsx"), _break)
    dest = write_annotated_copy(form, list(validate(form).problems), tmp_path / "批注.xlsx")
    wb = load_workbook(dest)
    for ws in wb.worksheets:
        assert (ws.page_setup.orientation, ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == ("landscape", 1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
    problems = wb[LIST_TITLE]
    assert problems.print_title_rows.replace("$", "") == "1:1"
    long_rows = [r for r in range(2, problems.max_row + 1) if len(str(problems.cell(r, 5).value)) > 40]
    assert long_rows and all(problems.row_dimensions[r].height for r in long_rows), "wrapped messages show whole"


EXTERNAL_LINK = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                 b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                 b'<externalBook r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames>'
                 b'<sheetDataSet><sheetData sheetId="0"/></sheetDataSet></externalBook></externalLink>')
EXTERNAL_LINK_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                      '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                      'relationships/externalLinkPath" Target="file:///C:/机密/其他单位.xlsx" '
                      'TargetMode="External"/></Relationships>').encode()


def _with_external_link(path):
    """The workbook with an externalLink part (a link to another workbook), as Excel writes one."""
    import zipfile

    from form_helpers import rewrite_zip

    with zipfile.ZipFile(path) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        types = z.read("[Content_Types].xml").decode()
    workbook = workbook.replace("</sheets>", '</sheets><externalReferences><externalReference r:id="rIdX1"/>'
                                             '</externalReferences>', 1)
    if 'xmlns:r=' not in workbook.split(">", 2)[1]:
        workbook = workbook.replace("<workbook ", '<workbook xmlns:r="http://schemas.openxmlformats.org/'
                                                  'officeDocument/2006/relationships" ', 1)
    rels = rels.replace("</Relationships>", '<Relationship Id="rIdX1" Type="http://schemas.openxmlformats.org/'
                        'officeDocument/2006/relationships/externalLink" Target="externalLinks/externalLink1.xml"/>'
                        "</Relationships>")
    types = types.replace("</Types>", '<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType='
                          '"application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/></Types>')
    linked = path.with_name("外部链接.xlsx")
    rewrite_zip(path, linked, replace={"xl/workbook.xml": workbook.encode(),
                                       "xl/_rels/workbook.xml.rels": rels.encode(), "[Content_Types].xml": types.encode()},
                add={"xl/externalLinks/externalLink1.xml": EXTERNAL_LINK,
                     "xl/externalLinks/_rels/externalLink1.xml.rels": EXTERNAL_LINK_RELS})
    return linked


def test_the_annotated_copy_carries_no_hyperlink_or_link_to_another_workbook(tmp_path):
    import zipfile

    def break_and_link(wb):
        wb["示范点"]["C2"] = "外企"
        wb["联系指导记录"]["B2"].hyperlink = "http://evil.example/登录"
        wb["工作进展"]["A2"].hyperlink = "file:///C:/Windows/System32/calc.exe"

    form = _with_external_link(edit(filled_form(tmp_path / "月报表.xlsx"), break_and_link))
    assert load_workbook(form)._external_links, "the submission does link to another workbook"
    result = validate(form)
    assert result.problems.errors
    dest = write_annotated_copy(form, list(result.problems), tmp_path / "批注.xlsx")

    with zipfile.ZipFile(dest) as z:
        names = z.namelist()
        xml = "\n".join(z.read(n).decode("utf-8", "replace") for n in names
                        if n.endswith((".xml", ".rels")))
    assert not [n for n in names if "externalLink" in n]
    assert "evil.example" not in xml and "calc.exe" not in xml and "其他单位" not in xml
    assert 'TargetMode="External"' not in xml
    wb = load_workbook(dest)
    links = [c.hyperlink for ws in wb for row in ws.iter_rows() for c in row if c.hyperlink]
    assert links and all(link.location and not link.target for link in links)  # only the 错误清单's own
    assert wb["联系指导记录"]["B2"].value == load_workbook(form)["联系指导记录"]["B2"].value  # the values stay
