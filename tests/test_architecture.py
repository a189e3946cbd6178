"""The stage layering of docs/architecture.md is a contract (pyproject's [tool.importlinter]):
the real tree keeps it, and one import against the flow of the pipeline breaks it."""

from __future__ import annotations

import ast
import os
import re
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


FILE_NAMES = {"log", "lock", "local"}  # processor.log, .processor.lock, processor.local: files and a domain


MAPPED = {("processor", "schemas"): ("schemas",)}  # pyproject.toml's package-dir: the folder beside the package


def _module_file(dotted: list[str]) -> Path | None:
    head = tuple(dotted[:2])
    path = ROOT.joinpath(*MAPPED.get(head, head), *dotted[2:])
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_every_module_the_code_names_exists():
    """A docstring, comment or message naming a module (``processor.stage.module``, perhaps with a
    name in it) names one that exists and defines that name: a reader following it lands in the file."""
    stale = []
    for source in sorted((ROOT / "processor").rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            for match in re.finditer(r"\bprocessor((?:\.[A-Za-z_]\w*)+)", line):
                parts = match.group(1).split(".")[1:]
                if parts[0] in FILE_NAMES:
                    continue
                found = next(((k, f) for k in range(len(parts), 0, -1)
                              if (f := _module_file(["processor", *parts[:k]])) is not None), None)
                if found is None or found[0] == 0:
                    stale.append(f"{source.relative_to(ROOT)}:{number}: {match.group(0)}")
                    continue
                k, module = found
                rest = parts[k:]
                if len(rest) > 2 or (rest and not re.search(rf"^(?:def|class) {rest[0]}\b|^{rest[0]}\b.*=",
                                                             module.read_text(encoding="utf-8"), re.M)):
                    stale.append(f"{source.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert not stale, "names of modules that moved or never existed:\n" + "\n".join(stale)


def test_every_logger_is_named_after_its_module():
    """logs/processor.log names, on each line, the module that wrote it: every logger is
    ``logging.getLogger(__name__)``, never a name typed by hand."""
    typed = [f"{source.relative_to(ROOT)}:{number}: {line.strip()}"
             for source in sorted((ROOT / "processor").rglob("*.py"))
             for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"getLogger\(\s*[\"']processor", line)]
    assert not typed, "\n".join(typed)


def test_tests_share_code_only_through_helper_modules():
    """No test module imports another: what tests share lives in tests/*_helpers.py (or conftest.py),
    so changing or removing one test never breaks another."""
    tests = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    coupled = []
    for source in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                     [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            coupled += [f"{source.name}:{node.lineno} imports {name}" for name in names
                        if name.split(".")[0] in tests]
    assert not coupled, "\n".join(coupled)


MAX_LINES = 700


def test_no_run_time_module_is_over_700_lines():
    """A module a newcomer opens can be read whole: none of the package's modules passes 700 lines."""
    long = {f"{source.relative_to(ROOT)} ({lines} lines)"
            for source in sorted((ROOT / "processor").rglob("*.py"))
            if (lines := len(source.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, "\n".join(sorted(long))


def test_the_models_are_imported_under_the_package_name_only():
    """The schemas/ folder installs as processor/schemas/: an import of a top-level ``schemas`` works
    in a checkout but fails in an installed wheel (and loads a second copy of the models beside it)."""
    top_level = re.compile(r"^\s*(from schemas[ .]|import schemas\b)", re.M)
    found = [f"{source.relative_to(ROOT)}"
             for folder in ("processor", "schemas", "tests", "bench", "tools")
             for source in (ROOT / folder).rglob("*.py")
             if top_level.search(source.read_text(encoding="utf-8"))]
    assert not found, found
