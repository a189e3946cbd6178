"""Everything the command prints is Chinese, click's own usage, help and errors included, and
output that is piped or logged is never wrapped."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from processor.cli import main

ENGLISH = ("Usage:", "Options:", "Commands:", "Error:", "Missing", "No such", "Try ", "is a directory",
           "Show this message")


def run(*args):
    return CliRunner().invoke(main, list(args), prog_name="processor")


def test_help_is_chinese():
    result = run("-h")
    assert result.exit_code == 0
    assert "用法：processor [选项] 命令 [参数]..." in result.output
    assert "选项：" in result.output and "命令：" in result.output
    assert not [word for word in ENGLISH if word in result.output]


def test_usage_errors_are_chinese_with_exit_code_2(tmp_path):
    missing = run("validate")
    assert missing.exit_code == 2
    assert "错误：缺少参数 'FILE'。" in missing.output
    assert "请运行“processor validate -h”查看帮助。" in missing.output

    unknown = run("nosuch")
    assert unknown.exit_code == 2 and "错误：没有命令 'nosuch'。" in unknown.output

    folder = run("validate", str(tmp_path))
    assert folder.exit_code == 2 and f"'{tmp_path}' 是文件夹，不是文件。" in folder.output

    for result in (missing, unknown, folder):
        assert not [word for word in ENGLISH if word in result.output], result.output


def test_a_real_process_prints_chinese_usage_on_stderr(tmp_path):
    run_ = subprocess.run([sys.executable, "-m", "processor", "status", "--nope"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert run_.returncode == 2
    assert "错误：没有选项 '--nope'。" in run_.stderr and "用法：" in run_.stderr
    assert not [word for word in ENGLISH if word in run_.stderr]


def test_init_without_a_folder_makes_the_workspace_named_by_the_option_not_the_current_folder(tmp_path):
    """`processor -w 文件夹 init` (the option every other command takes) sets up that folder; the folder the
    command was typed in is left as it was."""
    here, named = tmp_path / "here", tmp_path / "工作区"
    here.mkdir()
    result = subprocess.run([sys.executable, "-m", "processor", "-w", str(named), "init"], capture_output=True,
                            text=True, cwd=here)
    assert result.returncode == 0, result.stderr
    assert (named / "config.toml").is_file() and (named / "roster.xlsx").is_file()
    assert list(here.iterdir()) == []


def test_piped_output_keeps_long_paths_on_one_line(tmp_path):
    root = tmp_path / ("很长的工作区文件夹名称" * 6) / "示范点联系指导月报表处理"
    result = subprocess.run([sys.executable, "-m", "processor", "init", str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(str(root / "config.toml")) > 120
    assert lines[0] == f"已新建工作区：{root}"
    assert f"  配置文件：{root / 'config.toml'}" in lines


MONTH_ERROR = "月份应为 YYYY-MM 格式（如 2026-10），而不是“2026-13”"


def test_a_wrong_month_is_refused_alike_by_every_command_that_takes_one(tmp_path):
    commands = [["init", str(tmp_path / "ws"), "--start-month"], ["template", "-o", str(tmp_path / "表.xlsx"), "--month"],
                ["status", "--month"], ["consolidate", "--month"], ["remind", "--month"]]
    for command in commands:
        result = run("-w", str(tmp_path), *command, "2026-13")
        assert result.exit_code == 2, result.output
        said = result.output.splitlines()[-1]
        assert said.startswith("错误：") and command[-1] in said and said.endswith(f"的值无效：{MONTH_ERROR}"), said
    assert not (tmp_path / "ws").exists() and not (tmp_path / "表.xlsx").exists()
    half = run("-w", str(tmp_path), "consolidate", "--half", "2026-H3")
    assert half.exit_code == 2 and "'--half' 的值无效：半年应写作 2026-H1 或 2026-H2" in half.output
    day = run("-w", str(tmp_path), "consolidate", "--as-of", "2027-02-30")
    assert day.exit_code == 2 and "'--as-of' 的值无效：日期应为 YYYY-MM-DD" in day.output


def test_help_shows_how_a_month_is_written():
    for command in ("template", "status", "consolidate", "remind"):
        shown = run(command, "-h").output
        assert "--month YYYY-MM" in shown, shown
    assert "--start-month YYYY-MM" in run("init", "-h").output
    assert "--as-of YYYY-MM-DD" in run("consolidate", "-h").output
