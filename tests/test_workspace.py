"""Finding the workspace, and the clear Chinese errors for a broken config or rulebook."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from processor.cli import main
from processor.common.config import DEFAULT_CONFIG_TEXT, WORKSPACE_ENV, ConfigError, find_workspace, load_workspace
from processor.common.paths import PROJECT_ROOT, RULEBOOK_PATH
from processor.common.rulebook import RulebookError, load_rulebook


def test_workspace_is_found_upwards_like_git(tmp_path, monkeypatch):
    monkeypatch.delenv(WORKSPACE_ENV, raising=False)
    (tmp_path / "config.toml").write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
    deep = tmp_path / "outbox" / "月度汇总报告"
    deep.mkdir(parents=True)
    assert find_workspace(start=deep).root == tmp_path.resolve()


def test_explicit_folder_and_environment_variable_win(tmp_path, monkeypatch):
    for name in ("other", "explicit"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.toml").write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
    (tmp_path / "config.toml").write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "other"))
    assert find_workspace(start=tmp_path).root == (tmp_path / "other").resolve()
    assert find_workspace(tmp_path / "explicit").root == (tmp_path / "explicit").resolve()


def _checkout_state() -> dict:
    """What a command run in the wrong place would make in the source checkout: entries at its top level
    (a ledger, an archive, logs), and files in its inbox and outbox.  Names only at the top level: other
    tests running beside this one may touch what is already there."""
    folders = [PROJECT_ROOT / name for name in ("inbox", "outbox") if (PROJECT_ROOT / name).is_dir()]
    return {"top": sorted(p.name for p in PROJECT_ROOT.iterdir()),
            **{str(p): p.stat().st_mtime_ns for folder in folders for p in folder.rglob("*")}}


def _text(result) -> str:
    """The command's output without the console's line wrapping."""
    return result.output.replace("\n", "")


def _cli_in(folder: Path, *args: str):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv(WORKSPACE_ENV, raising=False)
        return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("command", [["status"], ["process"], ["consolidate"], ["send"]])
def test_a_command_outside_any_workspace_stops_and_creates_nothing(tmp_path, command):
    outside = tmp_path / "somewhere"
    outside.mkdir()
    checkout_before = _checkout_state()
    result = _cli_in(outside, *command)
    assert result.exit_code == 2, result.output
    assert "没有找到工作区" in _text(result) and "processor init" in _text(result)
    assert list(outside.iterdir()) == []
    assert _checkout_state() == checkout_before, "the source checkout is never used as a workspace"


@pytest.mark.parametrize("kind", ["missing folder", "folder without config", "environment variable"])
def test_a_named_folder_that_is_not_a_workspace_is_refused(tmp_path, monkeypatch, kind):
    named = tmp_path / "工作区"
    if kind != "missing folder":
        named.mkdir()
    if kind == "environment variable":
        monkeypatch.setenv(WORKSPACE_ENV, str(named))
        result = CliRunner().invoke(main, ["status"])
    else:
        result = CliRunner().invoke(main, ["-w", str(named), "status"])
    assert result.exit_code == 2, result.output
    assert str(named) in _text(result) and "processor init" in _text(result)
    if kind == "missing folder":
        assert not named.exists() and "不存在" in _text(result)
    else:
        assert list(named.iterdir()) == [] and "config.toml" in _text(result)


@pytest.mark.parametrize("setting, allowed", [
    ("timeout_seconds = 0", "1 至 3600"),
    ("max_rows = 0", "1 至 1048576"),
    ("memory_mb = 1", "64 至 1048576"),
    ("poll_interval = 0", "0.1 至 3600"),
    ("max_file_mb = 1e9", "0.01 至 10240"),
    ("timeout_seconds = nan", "1 至 3600"),
])
def test_an_absurd_intake_limit_is_refused_at_load(workspace, setting, allowed):
    key = setting.split(" = ")[0]
    config = workspace.root / "config.toml"
    text = config.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(f"{key} = "))
    config.write_text(text.replace(line, setting), encoding="utf-8")
    form = workspace.inbox / "月报表.xlsx"
    form.write_bytes(b"PK\x05\x06" + bytes(18))
    ledger = workspace.ledger_path.read_bytes()
    result = CliRunner().invoke(main, ["-w", str(workspace.root), "process"])
    assert result.exit_code == 2, result.output
    assert f"intake.{key}" in _text(result) and allowed in _text(result) and "允许范围" in _text(result)
    assert form.exists() and workspace.ledger_path.read_bytes() == ledger


@pytest.mark.parametrize("text, key", [
    ("[intake]\nstable_seconds = \"快\"\n", "intake.stable_seconds"),
    ("[intake]\nmax_rowz = 10\n", "intake.max_rowz"),
    ("[smtp]\nsecurity = \"tls1\"\n", "smtp.security"),
    ("[schedule]\nnightly_at = \"25:00\"\n", "schedule.nightly_at"),
])
def test_a_bad_config_value_is_named_in_chinese(tmp_path, text, key):
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    ws = load_workspace(tmp_path)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as info:
        _ = (ws.intake, ws.smtp, ws.nightly_at)
    assert "配置项" in str(info.value)


def test_cli_reports_a_broken_config_with_exit_code_2(tmp_path):
    (tmp_path / "config.toml").write_text("[intake\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["-w", str(tmp_path), "status"])
    assert result.exit_code == 2 and "配置文件" in result.output


@pytest.mark.parametrize("edit, key", [
    (("min_sites = 1", "min_sites = \"一\""), "rules.G-1.min_sites"),
    (("\"民主生活会\" = 1 }", "\"民主生活会议\" = 1 }"), "rules.S-4a.activities"),
    (("\"组合音响\"", "\"音箱\""), "rules.S-5.items"),
    (("deadline = 2026-10-01", "deadline = \"10-32\""), "rules.M-1a.deadline"),
    (("period = \"quarter\"\nactivities = { \"党员大会\" = 1 }", "period = \"season\"\nactivities = { \"党员大会\" = 1 }"),
     "rules.N-4a.period"),
])
def test_a_broken_rulebook_names_the_key(tmp_path, edit, key):
    text = RULEBOOK_PATH.read_text(encoding="utf-8")
    assert edit[0] in text
    broken = tmp_path / "requirements.toml"
    broken.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook(broken)
    assert key in str(info.value)


def test_the_shipped_rulebook_carries_clause_wording_for_every_rule():
    book = load_rulebook()
    assert {"G-1", "M-1a", "M-1b", "M-1c", "M-2", "M-4b", "S-4b", "N-4a", "S-5", "N-5", "X-1", "X-2"} <= set(book.rules)
    assert all(rule.wording and rule.title for rule in book.rules.values())
    assert book.hardware_rule("非公").params["min_room_area"] == 50
