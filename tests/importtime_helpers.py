"""Reading ``python -X importtime``: which heavy libraries a command loaded, and through which chain of
imports (the import-cost tests' measure: the list of modules, never a time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("pandas", "pandera", "openpyxl", "matplotlib", "docx", "docxtpl", "xlsxwriter")


def imported_modules(stderr: str) -> list[tuple[int, str]]:
    """(depth, module) for each line of ``-X importtime`` output, in the order printed
    (a module's line follows the lines of the modules it imported)."""
    found = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        name = line.split("|")[2]
        stripped = name.lstrip(" ")
        if stripped == "imported package":  # the header line
            continue
        found.append(((len(name) - len(stripped) - 1) // 2, stripped.strip()))
    return found


def heavy_imports(stderr: str) -> dict[str, str]:
    """Each heavy top-level package imported → the chain of modules that imported it."""
    modules = imported_modules(stderr)
    chains = {}
    for i, (depth, name) in enumerate(modules):
        top = name.split(".")[0]
        if top not in HEAVY or top in chains:
            continue
        chain, want = [name], depth - 1
        for d, parent in modules[i + 1:]:
            if d == want:
                chain.append(parent)
                want -= 1
        chains[top] = " ← ".join(chain)
    return chains


def run_importtime(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "processor", "--workspace", str(workspace), *args],
                          capture_output=True, text=True, encoding="utf-8", timeout=300)


def workspace_with_one_form(folder: Path) -> Path:
    """A new workspace in ``folder``/ws with one valid form waiting in 罗源县's inbox folder."""
    from form_helpers import filled_form
    from processor.workspace import init_workspace

    root = folder / "ws"
    init_workspace(root)
    (root / "inbox" / "罗源县").mkdir(exist_ok=True)
    filled_form(root / "inbox" / "罗源县" / "月报表.xlsx")
    return root
