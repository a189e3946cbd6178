"""The order the suite runs in: the longest test files first (conftest.LONGEST_FILES), so that on two
workers the run ends on short files and neither waits idle while the other finishes a long one."""

from __future__ import annotations

from pathlib import Path

import conftest

TESTS = Path(__file__).resolve().parent


def test_every_longest_file_is_a_test_file_of_the_suite():
    assert conftest.LONGEST_FILES, "the longest files are named"
    missing = [name for name in conftest.LONGEST_FILES if not (TESTS / name).is_file()]
    assert missing == [], "a renamed or removed file would silently lose its place at the front of the run"
    assert len(set(conftest.LONGEST_FILES)) == len(conftest.LONGEST_FILES)


class Item:
    def __init__(self, path: Path, name: str):
        self.path, self.name, self.fixturenames, self.markers = path, name, (), []

    def add_marker(self, marker):
        self.markers.append(marker)


def test_collection_puts_the_longest_files_first_and_keeps_each_files_order():
    # as pytest collects them: file by file in name order, each file's tests in their order
    items = [Item(path, f"{path.name}::{k}") for path in sorted(TESTS.glob("test_*.py")) for k in range(3)]
    conftest.pytest_collection_modifyitems(items)
    order = list(dict.fromkeys(item.path.name for item in items))
    assert order[:len(conftest.LONGEST_FILES)] == list(conftest.LONGEST_FILES)
    assert order[len(conftest.LONGEST_FILES):] == sorted(order[len(conftest.LONGEST_FILES):])
    assert [item.name for item in items if item.path.name == "test_demo.py"] == [f"test_demo.py::{k}" for k in range(3)]


def test_this_run_takes_the_longest_files_first_each_file_in_one_piece(request):
    files = [item.path.name for item in request.session.items]
    order = list(dict.fromkeys(files))
    assert sum(1 for k in range(1, len(files)) if files[k] != files[k - 1]) == len(order) - 1, \
        "a file's tests stay together (its module fixtures are built once)"
    longest = [name for name in conftest.LONGEST_FILES if name in order]
    assert order[:len(longest)] == longest


def test_xdist_keeps_the_collection_order(pytestconfig):
    # without --no-loadscope-reorder, xdist hands out the files with the most tests first instead
    assert pytestconfig.getoption("loadscopereorder") is False
