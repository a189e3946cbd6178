"""The stage layering of docs/architecture.md is a contract (pyproject's [tool.importlinter]):
the real tree keeps it, and one import against the flow of the pipeline breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project)}  # the copy's package, not the installed one
    return subprocess.run([str(LINT_IMPORTS), "--no-logo", "--no-cache"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=240)


def _copy_project(dest: Path) -> Path:
    shutil.copytree(ROOT / "processor", dest / "processor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_stages_keep_their_layering():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "BROKEN" not in run.stdout


def test_a_backward_import_breaks_the_layering(tmp_path):
    project = _copy_project(tmp_path)
    assert _lint_imports(project).returncode == 0  # the copy as it is keeps the contract
    ledger = project / "processor" / "record" / "ledger.py"
    # the record stage reaching up into the rules of consolidation: the kind of edge the contract forbids
    ledger.write_text(ledger.read_text(encoding="utf-8") + "\nfrom processor.consolidate import findings  # noqa\n",
                      encoding="utf-8")
    run = _lint_imports(project)
    assert run.returncode != 0
    assert "Stages import only downwards BROKEN" in run.stdout
    assert "processor.record.ledger -> processor.consolidate.findings" in run.stdout
