"""Every declared problem code is raised somewhere, and every message gets all its parameters.

A code is "raised" when its quoted name appears in the source of ``processor/`` outside its
declaration.  Codes built from parts at run time would not be found that way: they must be listed
in ``COMPUTED_CODES`` below with where they come from (there are none today: every code a computed
expression can yield, such as ``read.error`` of the normaliser, is spelled out where it is chosen).
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from processor.validate.errors import PROBLEM_TYPES, problem

PACKAGE = Path(__file__).resolve().parents[1] / "processor"
ERRORS = PACKAGE / "validate" / "errors.py"
COMPUTED_CODES: dict[str, str] = {}  # code -> where it is built at run time
# what problem() fills in itself
LOCATION_FIELDS = {"sheet", "cell", "row", "column", "value"}
# the functions that turn a code and keyword parameters into a message
BUILDERS = {"problem", "at", "_rejected"}


def _sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py") if p != ERRORS}


def test_every_declared_code_is_raised_somewhere():
    sources = "\n".join(_sources().values())
    never = [code for code in PROBLEM_TYPES
             if f'"{code}"' not in sources and f"'{code}'" not in sources and code not in COMPUTED_CODES]
    assert never == [], f"declared in errors.py but raised nowhere in processor/: {never}"
    assert set(COMPUTED_CODES) <= set(PROBLEM_TYPES)


def _parameters(code: str) -> set[str]:
    ptype = PROBLEM_TYPES[code]
    names = set()
    for text in (ptype.template, ptype.hint):
        names |= {field for _, field, _, _ in string.Formatter().parse(text) if field}
    return names - LOCATION_FIELDS


def _calls():
    """(where, code, keyword names) of every builder call whose code is a literal."""
    for path, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            first = node.args[0]
            if name in BUILDERS and isinstance(first, ast.Constant) and first.value in PROBLEM_TYPES:
                if any(k.arg is None for k in node.keywords):
                    continue  # **params passed through: its callers are checked instead
                yield f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", first.value, {k.arg for k in node.keywords}


def test_every_call_supplies_its_messages_parameters():
    calls = list(_calls())
    assert len({code for _, code, _ in calls}) > 30  # the scan sees the call sites
    missing = [f"{where} {code}: {sorted(_parameters(code) - given)}" for where, code, given in calls
               if _parameters(code) - given]
    assert missing == []


@pytest.mark.parametrize("code", ["future-date", "deadline-before-found", "type-error", "timeout"])
def test_a_missing_parameter_is_a_clear_error_not_a_blank(code):
    needed = _parameters(code)
    absent = sorted(needed)[0]
    params = {name: "x" for name in needed - {absent}}
    with pytest.raises(ValueError) as caught:
        problem(code, **params)
    assert code in str(caught.value) and absent in str(caught.value)
