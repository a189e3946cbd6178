"""A real install, as docs/deploy.md does it: build the wheel, install it into a venv of its own
outside the checkout, and run the daily commands there.

Without network: the wheel is built with the build tools already in the test venv
(``--no-build-isolation``), and the new venv sees the test venv's libraries through a ``.pth``
path line (standing in for the dependencies deploy.md's ``pip install`` downloads); a path line
adds the folder only, so the editable install's own finder there is not run, and ``processor``
comes from the wheel or nowhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from form_helpers import filled_form
from processor.common.paths import PROJECT_ROOT

# What the wheel is built from: the project's package, its data, and the files its metadata names.
SOURCES = ("pyproject.toml", "README.md", "processor", "schemas", "templates")


def run(args: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PROCESSOR_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    return env


@pytest.mark.slow
def test_the_wheel_installed_into_its_own_venv_runs_init_process_consolidate_and_send(tmp_path):
    env = clean_env(tmp_path)
    # 1. the wheel (deploy.md: `python3 -m pip wheel --no-deps -w dist .` in the checkout)
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(PROJECT_ROOT / name, source / name)
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", dist, "."],
        cwd=source, env=env)
    [wheel] = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("processor/templates/receipt.html", "processor/templates/overview.html.j2",
                 "processor/templates/monthly_report.docx", "processor/fonts/fonts.conf",
                 "processor/schemas/requirements.toml", "processor/schemas/form.py",
                 "processor/record/migrations/001_files.sql"):
        assert data in names, data
    assert not any(name.startswith("schemas/") for name in names), "a top-level schemas package in site-packages"

    # 2. its own venv (deploy.md: `python3 -m venv /opt/processor/venv`), the test venv's libraries beside it
    venv = tmp_path / "opt" / "processor" / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                    cwd=tmp_path, env=env).stdout.strip())
    (site / "test-venv-libraries.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    # 3. the wheel into it (deploy.md: `/opt/processor/venv/bin/pip install dist/*.whl`)
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", wheel], cwd=tmp_path, env=env)

    where = run([python, "-c", "import processor, processor.schemas.form as f; print(processor.__file__); print(f.__file__)"],
                cwd=tmp_path, env=env).stdout.split()
    for path in where:
        assert Path(path).is_relative_to(venv), where
        assert not Path(path).is_relative_to(PROJECT_ROOT), where

    # 4. the daily commands, from a folder outside the checkout
    processor = venv / "bin" / "processor"
    ws = tmp_path / "srv" / "qyz"
    run([processor, "init", ws, "--start-month", "2026-01"], cwd=tmp_path, env=env)
    (ws / "inbox" / "罗源县").mkdir()  # a unit's own folder speaks for it
    filled_form(ws / "inbox" / "罗源县" / "罗源县.xlsx")
    processed = run([processor, "-w", ws, "process", "--jobs", "1"], cwd=tmp_path, env=env)
    receipts = list((ws / "outbox" / "回执").rglob("*.html"))
    assert receipts, processed.stdout
    assert "已接收" in receipts[0].read_text(encoding="utf-8")
    consolidated = run([processor, "-w", ws, "consolidate", "--month", "2026-10", "--json"], cwd=tmp_path, env=env)
    result = json.loads(consolidated.stdout)
    assert not result["skipped"], result["skipped"]
    written = {Path(p).relative_to(ws / "outbox").as_posix() for p in result["written"]}
    assert "总览.html" in written
    assert any(p.startswith("月度汇总报告/2026-10/") and p.endswith(".docx") for p in written), written
    sent = run([processor, "-w", ws, "send", "--dry-run", "--json"], cwd=tmp_path, env=env)
    [eml] = json.loads(sent.stdout)["dry_run_files"]
    assert Path(eml).is_file() and Path(eml).is_relative_to(ws)
