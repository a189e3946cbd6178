"""The ledger as a storage layer: frozen migrations, the models' fingerprint, upgrades of a
ledger written by the first release, transactions that cannot wedge, and files that fail loudly."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from pandera.typing import Series

from conftest import make_workspace
from ledger_helpers import D, LedgerBuilder, site
from processor.common import fsutil
from processor.cli import main
from processor.consolidate.run import consolidate
from processor.record import migrate
from processor.record.ledger import Ledger, LedgerError
from processor.record.migrate import migrations, model_fingerprint, model_layout, statements
from processor.schemas import fields as col
from processor.schemas.form import FORM_SHEETS, SHEETS_BY_KEY

FIXTURE_V1 = Path(__file__).parent / "fixtures" / "ledger-v1.sqlite"
V1_MIGRATIONS = ["001_files", "002_deliveries", "003_outputs"]


def raw_tables(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, read with plain sqlite3 (no migration)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: conn.execute(f"SELECT * FROM {n} ORDER BY rowid").fetchall() for n in names}
    finally:
        conn.close()


def table_sql(path: Path) -> dict[str, str]:
    """Each table's and index's definition, comments and layout whitespace left out."""
    conn = sqlite3.connect(path)
    try:
        return {name: " ".join(re.sub(r"--[^\n]*", "", sql).split())
                for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}
    finally:
        conn.close()


# --- migrations and the models' fingerprint -------------------------------------------------

def test_committed_migrations_build_exactly_the_columns_the_models_declare(tmp_path):
    conn = sqlite3.connect(tmp_path / "ledger.sqlite")
    for _name, sql in migrations():  # the committed files alone, as a new ledger gets them
        for statement in statements(sql):
            conn.execute(statement)
    actual = {table: [(r[1], r[2]) for r in conn.execute(f"PRAGMA table_info({table})")] for table in model_layout()}
    stored = conn.execute("SELECT value FROM _meta WHERE key = 'model_fingerprint'").fetchone()[0]
    conn.close()
    # a developer who adds a model field without a migration reads here which column is missing
    missing = [f"{table}.{column}" for table, declared in model_layout().items()
               for column, kind in declared if (column, kind) not in actual[table]]
    assert missing == [], f"no migration creates {missing}"
    assert actual == model_layout()
    assert stored == model_fingerprint()


def _with_extra_field(monkeypatch, key: str, name: str):
    """The model of sheet ``key`` with one more field, as a developer would add it."""
    index = next(i for i, spec in enumerate(FORM_SHEETS) if spec.key == key)
    spec = FORM_SHEETS[index]
    model = type(f"{spec.model.__name__}Plus", (spec.model,),
                 {"__annotations__": {name: Series[str]}, name: col.text("新增字段", required=False)})
    wider = dataclasses.replace(spec, model=model)
    sheets = [*FORM_SHEETS[:index], wider, *FORM_SHEETS[index + 1:]]
    monkeypatch.setattr("processor.schemas.form.FORM_SHEETS", sheets)
    monkeypatch.setitem(SHEETS_BY_KEY, key, wider)
    # the developer edited schemas/form.py: the sources' digest the ledger remembers no longer matches
    real_digest = migrate.model_sources_digest
    monkeypatch.setattr(migrate, "model_sources_digest", lambda: "edited-" + real_digest())
    return wider


def test_a_model_field_added_without_a_migration_fails_at_open_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite"
    Ledger.create(path).close()
    wider = _with_extra_field(monkeypatch, "sites", "green_rating")
    assert "green_rating" in [f.name for f in wider.fields]
    with pytest.raises(LedgerError) as failure:
        Ledger(path)
    message = str(failure.value)
    assert "表 sites 缺少列 green_rating" in message and "缺少一个迁移" in message
    assert str(path) in message
    [folder] = re.findall(r"(processor/\S+/) 中没有相应的迁移文件", message)
    assert (Path(__file__).resolve().parent.parent / folder).is_dir(), "the message names the folder a migration goes into"


def test_an_open_with_unchanged_model_sources_trusts_the_recorded_match(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite"
    Ledger.create(path).close()
    with sqlite3.connect(path) as conn:
        proof = conn.execute("SELECT value FROM _meta WHERE key = 'model_sources'").fetchone()[0]
    assert proof == f"{model_fingerprint()}:{migrate.model_sources_digest()}"

    def no_models():
        raise AssertionError("the models were built although their sources did not change")

    monkeypatch.setattr(migrate, "model_fingerprint", no_models)
    Ledger(path).close()
    # a proof recorded for another fingerprint (a migration changed the tables) is not trusted
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE _meta SET value = 'ffff' || substr(value, 5) WHERE key = 'model_sources'")
    with pytest.raises(AssertionError, match="models were built"):
        Ledger(path)


def test_the_migrations_test_names_a_field_added_without_a_migration(tmp_path, monkeypatch):
    _with_extra_field(monkeypatch, "sites", "green_rating")
    with pytest.raises(AssertionError, match=r"sites\.green_rating"):
        test_committed_migrations_build_exactly_the_columns_the_models_declare(tmp_path)


def test_migration_statements_split_as_sqlite_reads_them():
    sql = """
-- a comment; with a semicolon
CREATE TABLE t (a TEXT DEFAULT 'x;y');  -- trailing; comment
INSERT INTO t (a) VALUES ('one;two');
CREATE TRIGGER tr AFTER INSERT ON t BEGIN
    UPDATE t SET a = a || ';' WHERE rowid = new.rowid;
END;
"""
    split = statements(sql)
    assert len(split) == 3
    conn = sqlite3.connect(":memory:")
    for statement in split:
        conn.execute(statement)
    assert conn.execute("SELECT a FROM t").fetchall() == [("one;two",)]


# --- a ledger written by the first release --------------------------------------------------

@pytest.fixture
def v1_workspace(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    shutil.copyfile(FIXTURE_V1, ws.ledger_path)
    return ws


def test_ledger_of_the_first_release_opens_and_migrates_with_every_row_intact(v1_workspace):
    path = v1_workspace.ledger_path
    before = raw_tables(path)
    old_schema = table_sql(path)
    assert [r[0] for r in before["_migrations"]] == V1_MIGRATIONS
    assert len(before["files"]) == 9 and len(before["sites"]) == 14 and before["outputs"] and before["deliveries"]

    with Ledger(path) as ledger:
        names = [r["name"] for r in ledger.query("SELECT name FROM _migrations ORDER BY name")]
        statuses = {r["status"] for r in ledger.files()}
        records = ledger.accepted_records("sites")
    after = raw_tables(path)
    assert names[:3] == V1_MIGRATIONS and len(names) > 3
    renamed = {"outputs": 1}  # 007 turns the Chinese output kinds into identifiers (column 1, kind)
    for table, rows in before.items():
        if table != "_migrations":  # later migrations may add columns, never change what was there
            assert len(after[table]) == len(rows), table
            kept = [tuple(v for i, v in enumerate(row[:len(old)]) if i != renamed.get(table))
                    for row, old in zip(after[table], rows, strict=True)]
            assert kept == [tuple(v for i, v in enumerate(old) if i != renamed.get(table)) for old in rows], table
    assert after["_migrations"][:3] == before["_migrations"]
    assert statuses == {"accepted", "superseded", "duplicate", "rejected"}
    assert len(records) == 12  # the 6 current submissions' 2 sites each; the superseded one left out
    # the frozen first migrations are the schema the first release built, and an upgraded ledger
    # ends with exactly the schema of a new one
    fresh = path.with_name("fresh.sqlite")
    Ledger.create(fresh).close()
    assert table_sql(path) == table_sql(fresh)
    assert set(old_schema) <= set(table_sql(fresh))


def test_output_kinds_of_an_older_ledger_become_identifiers(v1_workspace):
    path = v1_workspace.ledger_path
    before = {r[0]: r[1] for r in sqlite3.connect(path).execute("SELECT path, kind FROM outputs")}
    assert "月度汇总报告" in before.values()
    with Ledger(path) as ledger:
        after = {r["path"]: r["kind"] for r in ledger.query("SELECT path, kind FROM outputs")}
    assert after.keys() == before.keys()  # the outbox paths keep their Chinese folders
    assert {before[p]: after[p] for p in after} == {
        "月度汇总报告": "monthly_report", "汇总数据": "summary_data", "催报名单": "reminder_list",
        "分组情况一览表": "assignment_table", "示范点档案": "site_dossier", "图表": "chart"}


def test_consolidation_works_on_the_first_release_ledger(v1_workspace):
    result = consolidate(v1_workspace, month="2026-10", today=D(2026, 11, 26))
    assert not result.skipped
    names = {p.relative_to(v1_workspace.outbox).as_posix() for p in result.written}
    assert "汇总数据/2026-10/汇总数据.xlsx" in names
    assert any(n.startswith("示范点档案/") for n in names)


# --- transactions ------------------------------------------------------------------------

def test_a_failed_commit_is_rolled_back_and_the_next_transaction_works(workspace):
    lb = LedgerBuilder(workspace.ledger_path)
    ledger = lb.ledger
    # a deferred foreign-key violation is only found by COMMIT, which then fails
    with pytest.raises(sqlite3.IntegrityError):
        with ledger.atomic() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            conn.execute("INSERT INTO sites (file_id, unit, month, row, site) VALUES (999, '罗源县', '2026-10', 2, 'x')")
    assert not ledger.conn.in_transaction
    assert ledger.query("SELECT COUNT(*) FROM sites")[0][0] == 0
    file_id = lb.submit("罗源县", "2026-10", sites=[site("罗源电子")])
    assert [r["id"] for r in ledger.files()] == [file_id]
    ledger.close()


def test_a_nested_transaction_is_a_savepoint(workspace):
    lb = LedgerBuilder(workspace.ledger_path)
    ledger = lb.ledger
    with ledger.atomic():
        outer = lb.reject("罗源县", "2026-10")
        with pytest.raises(RuntimeError):
            with ledger.atomic():
                lb.reject("鼓山区", "2026-10")
                raise RuntimeError("inner fails")
    assert [(r["id"], r["unit"]) for r in ledger.files()] == [(outer, "罗源县")]
    with pytest.raises(RuntimeError):
        with ledger.atomic():
            lb.reject("闽江区", "2026-10")
            raise RuntimeError("outer fails")
    assert [r["id"] for r in ledger.files()] == [outer]
    ledger.close()


# --- a ledger that cannot be used fails loudly ------------------------------------------------

def _garbage_pages(path: Path) -> None:
    """Keep the header page, overwrite the rest with junk, as a bad sector or a bad copy would."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(4096)
        fh.write(bytes(range(256)) * ((size - 4096) // 256 + 1))


@pytest.mark.parametrize("damage", ["missing", "empty", "not-a-database", "garbage-pages"])
def test_an_unusable_ledger_stops_every_command_with_a_chinese_message(v1_workspace, damage):
    ws = v1_workspace
    path = ws.ledger_path
    if damage == "missing":
        path.unlink()
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "not-a-database":
        path.write_bytes(b"PK\x03\x04 this is a zip, not a ledger" * 100)
    else:
        _garbage_pages(path)
    damaged = None if damage == "missing" else path.read_bytes()
    form = ws.inbox / "罗源县" / "月报表.xlsx"
    form.parent.mkdir()
    form.write_bytes(b"any bytes")

    with pytest.raises(LedgerError) as failure:
        Ledger(path)
    assert str(path) in str(failure.value) and "processor check" in str(failure.value)
    for command in (["status", "--month", "2026-10"], ["process"], ["consolidate", "--month", "2026-10"]):
        result = CliRunner().invoke(main, ["-w", str(ws.root), *command])
        assert result.exit_code == 2, (command, result.output)
        assert "台账" in result.output and str(path) in result.output.replace("\n", "")
        assert "Traceback" not in result.output and not isinstance(result.exception, sqlite3.Error)
    # nothing was created, repaired over, or taken from the inbox
    assert (damaged is None and not path.exists()) or path.read_bytes() == damaged
    assert form.read_bytes() == b"any bytes"


def test_only_init_creates_a_ledger(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "new")]).exit_code == 0
    assert (tmp_path / "new" / "ledger.sqlite").is_file()
    with Ledger(tmp_path / "new" / "ledger.sqlite") as ledger:
        assert ledger.files() == []


# --- finding 11 --------------------------------------------------------------------------------

def test_atomic_write_syncs_the_folder_after_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    fsutil.atomic_write_text(tmp_path / "回执" / "a.html", "回执")
    assert (tmp_path / "回执" / "a.html").read_text(encoding="utf-8") == "回执"
    assert synced == [False, True]  # the file's bytes, then the folder's entry for its new name


def test_consolidate_all_on_an_empty_ledger_says_so(workspace):
    result = CliRunner().invoke(main, ["-w", str(workspace.root), "consolidate", "--all"])
    assert result.exit_code == 0, result.output
    assert "台账中还没有收到任何报表" in result.output
    assert result.exception is None


def test_init_gives_a_never_used_workspace_its_ledger_but_never_replaces_a_record(tmp_path):
    runner = CliRunner()
    root = tmp_path / "old"
    root.mkdir()
    (root / "config.toml").write_text('[paths]\nledger = "台账.sqlite"\n', encoding="utf-8")
    result = runner.invoke(main, ["init", str(root)])
    assert result.exit_code == 0, result.output
    assert "已新建空台账" in result.output and (root / "台账.sqlite").is_file()
    assert (root / "config.toml").read_text(encoding="utf-8") == '[paths]\nledger = "台账.sqlite"\n'
    # with originals archived, a missing ledger is a lost record: init refuses to paper over it
    (root / "台账.sqlite").unlink()
    (root / "archive" / "ab").mkdir(parents=True)
    (root / "archive" / "ab" / "ab12.xlsx").write_bytes(b"original")
    result = runner.invoke(main, ["init", str(root)])
    assert result.exit_code == 2 and "已存在" in result.output
    assert not (root / "台账.sqlite").exists()


def test_a_validations_records_are_stored_as_its_frames_would_be(tmp_path):
    """The intake stores a form's typed records straight from the validation (no frame is built
    in the processor); every sheet's rows come out of the ledger as from the frames of old."""
    from form_helpers import filled_form, validate

    result = validate(filled_form(tmp_path / "月报表.xlsx"))
    assert result.accepted and result.records["contacts"]
    builder = LedgerBuilder(tmp_path / "ledger.sqlite")
    ledger = builder.ledger
    by_frames, by_records = builder.reject("罗源县", "2026-10"), builder.reject("罗源县", "2026-11")
    with ledger.atomic() as conn:
        counts = ledger.insert_rows(conn, by_frames, result.unit, result.month, result.frames)
        assert ledger.insert_records(conn, by_records, result.unit, result.month, result.records) == counts
    assert counts["contacts"] == len(result.records["contacts"]) > 0
    for spec in FORM_SHEETS:
        rows = [[dict(r) for r in ledger.query(f"SELECT * FROM {spec.key} WHERE file_id = ? ORDER BY row", (i,))]
                for i in (by_frames, by_records)]
        for row in (*rows[0], *rows[1]):
            row.pop("file_id")
            row.pop("id", None)
        assert rows[0] == rows[1] and len(rows[0]) == counts[spec.key], spec.key
    ledger.close()
