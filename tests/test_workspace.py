"""Finding the workspace, and the clear Chinese errors for a broken config or rulebook."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from processor.cli import main
from processor.config import DEFAULT_CONFIG_TEXT, WORKSPACE_ENV, ConfigError, find_workspace, load_workspace
from processor.paths import PROJECT_ROOT, RULEBOOK_PATH
from processor.rulebook import RulebookError, load_rulebook


def test_workspace_is_found_upwards_like_git(tmp_path, monkeypatch):
    monkeypatch.delenv(WORKSPACE_ENV, raising=False)
    (tmp_path / "config.toml").write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
    deep = tmp_path / "outbox" / "月度汇总报告"
    deep.mkdir(parents=True)
    assert find_workspace(start=deep).root == tmp_path.resolve()


def test_explicit_folder_and_environment_variable_win(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv(WORKSPACE_ENV, str(other))
    assert find_workspace(start=tmp_path).root == other.resolve()
    assert find_workspace(tmp_path / "explicit").root == (tmp_path / "explicit").resolve()


def test_a_fresh_checkout_works_without_init(tmp_path, monkeypatch):
    monkeypatch.delenv(WORKSPACE_ENV, raising=False)
    ws = find_workspace(start=Path("/"))
    assert ws.root == PROJECT_ROOT and not ws.has_config
    assert ws.inbox == PROJECT_ROOT / "inbox" and ws.rulebook.year >= 2026


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
    (("deadline = \"10-01\"", "deadline = \"10-32\""), "rules.M-1a.deadline"),
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
