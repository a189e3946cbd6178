"""The install is reproducible: the lock files pin every package within the ranges pyproject.toml declares."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import processor

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def locked(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / name).read_text(encoding="utf-8").splitlines():
        if found := re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line):
            pins[canonicalize_name(found.group(1))] = found.group(2)
    return pins


def test_every_declared_dependency_is_locked_within_its_range():
    for lock, declared in (("run.lock", PYPROJECT["project"]["dependencies"]),
                           ("test.lock", PYPROJECT["project"]["dependencies"]
                            + PYPROJECT["project"]["optional-dependencies"]["test"])):
        pins = locked(lock)
        for text in declared:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{lock}: {name} is not locked"
            assert requirement.specifier.contains(pins[name]), f"{lock}: {name}=={pins[name]} outside {requirement}"


def test_the_locks_pin_what_lies_below_the_direct_dependencies():
    run = locked("run.lock")
    assert {"numpy", "lxml", "pydantic", "typeguard", "tzlocal"} <= set(run), "indirect packages are pinned too"
    assert set(run) <= set(locked("test.lock")), "the test install is the run install plus the test tools"


def test_the_declared_python_is_the_one_the_code_needs():
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(f"{sys.version_info.major}."
                                                                          f"{sys.version_info.minor}")
    assert not SpecifierSet(PYPROJECT["project"]["requires-python"]).contains("3.10"), \
        "tomllib and the pinned pandas need Python 3.11"


def test_the_version_is_written_once():
    assert "version" in PYPROJECT["project"]["dynamic"] and "version" not in PYPROJECT["project"]
    from importlib.metadata import version

    assert version("demo-site-processor") == processor.__version__
