"""Read-only commands answer without loading the heavy libraries.

``processor status`` prints a table from the ledger and the roster; ``check`` reads the ledger and the
archive.  Neither needs pandas, pandera, openpyxl, matplotlib or the Word libraries, which together
cost several times the command's own work.  Each command runs in a fresh workspace in its own
interpreter under ``python -X importtime``, and the test names every heavy module it imported and
the chain of imports that brought it in.  No timing is asserted: the list of modules is the measure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from importtime_helpers import heavy_imports, imported_modules, run_importtime, workspace_with_one_form
from processor.common.paths import RULEBOOK_PATH
from processor.common.rulebook import RulebookError, load_rulebook
from processor.workspace import init_workspace


@pytest.fixture(scope="module")
def fresh_workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("import-cost") / "ws"
    init_workspace(root)
    return root


def test_the_parser_finds_a_heavy_import_and_its_chain():
    stderr = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:       100 |        100 |       pandas.core",
        "import time:       200 |        300 |     pandas",
        "import time:        50 |        350 |   processor.schemas.form",
        "import time:        10 |        360 | processor.common.rulebook",
        "import time:         5 |          5 | json",
    ])
    assert heavy_imports(stderr) == {"pandas": "pandas.core ← pandas ← processor.schemas.form ← processor.common.rulebook"}
    assert heavy_imports("import time:         5 |          5 | json") == {}


@pytest.mark.parametrize("args", [["status"], ["status", "--json"], ["check"], ["--help"], ["status", "--help"]],
                         ids=" ".join)
def test_a_read_only_command_imports_no_heavy_library(fresh_workspace, args):
    result = run_importtime(fresh_workspace, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "import time:" in result.stderr  # -X importtime took effect: an empty result means something
    assert heavy_imports(result.stderr) == {}


def test_validating_a_correct_form_imports_no_heavy_library(tmp_path):
    """`processor validate` of a correct form (a clerk checking it before sending) reads it with the plain
    reader and the models' plain data: pandas and pandera come only for a form the plain checks cannot pass."""
    root = workspace_with_one_form(tmp_path)
    form = next((root / "inbox").rglob("*.xlsx"))
    result = run_importtime(root, "validate", str(form))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "通过" in result.stdout
    assert heavy_imports(result.stderr) == {}


def test_writing_a_template_loads_only_its_workbook_writer(fresh_workspace, tmp_path):
    """`processor template` writes the form from the models' plain data: no pandas or pandera (the models),
    and a writer that costs a fraction of openpyxl's import; a blank template (no unit to prefill) does
    not open the ledger."""
    out = tmp_path / "月报表模板.xlsx"
    result = run_importtime(fresh_workspace, "template", "-o", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.is_file()
    assert set(heavy_imports(result.stderr)) <= {"xlsxwriter"}, heavy_imports(result.stderr)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "processor.validate.template" in imported and "processor.record.ledger" not in imported


def test_status_after_the_roster_changed_checks_it_again(tmp_path):
    """The remembered roster is only used for the same bytes: an edited roster is read and checked
    (pandas included), and a broken one stops status with its message."""
    from openpyxl import load_workbook

    root = tmp_path / "ws"
    init_workspace(root)
    roster = root / "roster.xlsx"
    wb = load_workbook(roster)
    assert wb["单位"]["B2"].value == "榕城区" and wb["单位"]["C2"].value == "县市区"
    wb["单位"]["C2"] = "系统党委"
    wb.save(roster)
    result = run_importtime(root, "status", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pandera" in heavy_imports(result.stderr)
    kinds = {u["unit"]: u["kind"] for u in json.loads(result.stdout)["units"]}
    assert kinds["榕城区"] == "系统党委"
    assert heavy_imports(run_importtime(root, "status", "--json").stderr) == {}  # remembered again
    wb["单位"]["C3"] = "乡镇"
    wb.save(roster)
    result = run_importtime(root, "status")
    assert result.returncode == 2 and "单位类型" in result.stderr and "C3" in result.stderr


# --- the rulebook's check of hardware items, which needs the form's models ------------------------

def test_the_built_in_rulebook_names_only_hardware_columns():
    """The built-in rulebook is loaded without this check (it costs pandas); here it is checked."""
    from processor.schemas.form import SHEETS_BY_KEY

    book = load_rulebook(check_items=True)
    titles = set(SHEETS_BY_KEY["hardware"].titles)
    items = [item for version in book.versions for rule in version.rules.values()
             for item in rule.params.get("items", ())]
    assert items and set(items) <= titles


def _custom_rulebook(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "rules.toml"
    text = RULEBOOK_PATH.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_custom_rulebook_is_checked_against_the_hardware_columns(tmp_path):
    path = _custom_rulebook(tmp_path, '"党员活动室", "党旗"', '"党员活动室", "党旗帜"')
    with pytest.raises(RulebookError, match="“党旗帜”不是“硬件设施”表的列"):
        load_rulebook(path)
    load_rulebook(path, check_items=False)  # the only check the built-in file skips
    shutil.copy(RULEBOOK_PATH, tmp_path / "copy.toml")
    load_rulebook(tmp_path / "copy.toml")


def test_a_custom_rulebook_names_only_sheets_and_words_of_the_form(tmp_path):
    path = _custom_rulebook(tmp_path, 'copy_sheets = ["联系指导记录"', 'copy_sheets = ["联系记录"')
    with pytest.raises(RulebookError, match="“联系记录”不是月报表的工作表"):
        load_rulebook(path, check_items=False)
    path = _custom_rulebook(tmp_path, 'onsite_modes = ["现场指导"', 'onsite_modes = ["上门"')
    with pytest.raises(RulebookError, match="“上门”不是联系方式"):
        load_rulebook(path, check_items=False)


def test_each_word_list_is_defined_once():
    from processor.schemas import fields, form, vocabulary

    for name in ("UNIT_KINDS", "ENTERPRISE_KINDS", "ORG_KINDS", "FORMATIONS", "SITE_LEVELS", "CONTACT_MODES",
                 "CLOSE_STATES", "ACTIVITY_KINDS", "SHEET_TITLES"):
        assert getattr(form, name) is getattr(vocabulary, name), name
    for name in ("TEXT", "CHOICE", "YESNO", "YES_NO"):
        assert getattr(fields, name) is getattr(vocabulary, name), name
    assert [(s.key, s.title) for s in form.FORM_SHEETS] == list(vocabulary.SHEET_TITLES.items())
    contact = form.SHEETS_BY_KEY["contacts"]
    assert contact.field_by_name("mode").options == vocabulary.CONTACT_MODES


# --- intake: the readers and the validation processes come with the first file -------------------

@pytest.mark.slow  # the processor run twice, its validation processes included
def test_process_of_an_empty_inbox_loads_no_reader_and_starts_no_validation_process(tmp_path):
    """`processor process` (run by the office's scheduler every few minutes) finds the inbox empty
    most of the time: it then answers without pandas, pandera or openpyxl and starts no fork server;
    the first form brings them in."""
    root = tmp_path / "ws"
    init_workspace(root)
    result = run_importtime(root, "process")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "收件箱中没有待处理的文件" in result.stdout
    names = {name for _, name in imported_modules(result.stderr)}
    assert "processor.intake.run" in names  # the intake ran
    assert heavy_imports(result.stderr) == {}
    assert not names & {"processor.intake.sandbox", "multiprocessing.forkserver"}, "no validation process"

    from form_helpers import filled_form

    (root / "inbox" / "罗源县").mkdir(exist_ok=True)
    filled_form(root / "inbox" / "罗源县" / "月报表.xlsx")
    result = run_importtime(root, "process")
    assert result.returncode == 0, result.stderr[-2000:]
    names = {name for _, name in imported_modules(result.stderr)}
    assert {"processor.intake.sandbox", "multiprocessing.forkserver"} <= names
    assert not any(p.is_file() for p in (root / "inbox").rglob("*")), "the form was taken"


@pytest.mark.slow  # the processor run twice, its validation processes included
def test_accepted_forms_load_no_openpyxl_and_a_rejected_one_still_gets_its_annotated_copy(tmp_path):
    """openpyxl only builds the annotated copy of a rejected form: a batch of good forms is read,
    recorded and answered without it, in the processor and in its validation processes (their
    imports are printed to the same stderr); the first rejected form brings it in for its copy."""
    from form_helpers import edit, filled_form

    root = workspace_with_one_form(tmp_path)
    result = run_importtime(root, "process")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "processor.validate.validator" in {name for _, name in imported_modules(result.stderr)}
    assert "openpyxl" not in heavy_imports(result.stderr)
    assert len(list((root / "outbox" / "回执").rglob("*.html"))) == 1

    def wrong_total(wb):
        wb["党员队伍"]["B2"] = "二十八"

    edit(filled_form(root / "inbox" / "罗源县" / "月报表（二）.xlsx"), wrong_total)
    result = run_importtime(root, "process")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "openpyxl" in heavy_imports(result.stderr)
    copies = [p for p in (root / "outbox" / "回执").rglob("*.xlsx")]
    assert len(copies) == 1, "the rejected form's annotated copy lies beside its receipt"


@pytest.mark.slow  # the processor run, then a consolidation
def test_a_consolidation_reads_the_models_plain_data_and_loads_no_pandera(tmp_path):
    """The nightly consolidation names sheets and columns from the models' plain data: pandera (its
    import alone is a fifth of a second and some 17 MB in every nightly run) stays out of it."""
    root = workspace_with_one_form(tmp_path)
    assert run_importtime(root, "process").returncode == 0
    result = run_importtime(root, "consolidate", "--month", "2026-10")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert any(p.suffix == ".docx" for p in (root / "outbox").rglob("*")), "the reports were written"
    assert "pandera" not in heavy_imports(result.stderr)


@pytest.mark.slow  # the processor run once, its validation process included
def test_the_processor_records_and_answers_forms_without_pandas_or_pandera(tmp_path):
    """Only the validation processes read a form with the models (pandas, pandera); the processor
    that records it in the ledger, checks it across months and writes its receipt loads neither,
    which would cost more than recording a whole batch of small forms."""

    root = workspace_with_one_form(tmp_path)
    script = ("import json, sys\n"
              "from processor.workspace import Workspace\n"
              f"done = Workspace.open({str(root)!r}).process(jobs=1)\n"
              "print(json.dumps({'status': [o.status for o in done.outcomes],\n"
              "                  'loaded': [m for m in ('pandas', 'pandera', 'numpy') if m in sys.modules]}))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, encoding="utf-8",
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == ["accepted"]
    assert seen["loaded"] == []
    assert len(list((root / "outbox" / "回执").rglob("*.html"))) == 1
