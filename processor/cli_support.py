"""What the ``processor`` commands share: the consoles, the Chinese click classes, the mapping of
the product's errors to a message and an exit code, and how results are printed.

Importing it is as cheap as importing :mod:`processor.cli`: the library loads inside the functions.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from processor import click_cn

NOT_A_TERMINAL_WIDTH = 100_000  # piped or logged output is never wrapped: paths stay whole for grep and copy


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else NOT_A_TERMINAL_WIDTH)


console = _console()
err_console = _console(stderr=True)


def _known_errors() -> tuple[type[BaseException], ...]:
    from processor.common.config import ConfigError
    from processor.record.ledger import LedgerError
    from processor.common.lock import AlreadyRunning
    from processor.validate.roster import RosterError
    from processor.common.rulebook import RulebookError

    return (ConfigError, RulebookError, RosterError, AlreadyRunning, LedgerError)


def friendly_errors(func):
    """Map the product's own errors to a Chinese message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (SystemExit, click.exceptions.Exit):
            raise  # the command's own exit code: the error classes below need not be imported for it
        except _known_errors() as exc:
            err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")  # a message may name [calendar]
            sys.exit(2)
        except (OSError, sqlite3.Error) as exc:  # full disk, read-only folder, ledger: one line, details in the log
            from processor.common.fsutil import describe_os_error

            what = describe_os_error(exc) if isinstance(exc, OSError) else f"台账数据库出错（{exc}）"
            err_console.print(f"[bold red]错误：[/]{escape(what)}；请处理后重新运行（详情见日志 logs/processor.log）。")
            sys.exit(1)

    return wrapper


def workspace_of(ctx: click.Context):
    from processor.common.rulebook import RulebookError
    from processor.workspace import Workspace

    workspace = Workspace.open(ctx.obj.get("workspace"))
    try:
        notes = workspace.config.rulebook.warnings  # an old rulebook format, converted: update the file
    except RulebookError:
        notes = ()  # a broken rulebook stops the command that reads it, with its own message
    for note in notes:
        err_console.print(f"[yellow]注意：[/]{escape(note)}")
    return workspace


def print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def progress_bar(description: str) -> rich.progress.Progress:  # noqa: F821 — rich.progress loads when a bar is drawn
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console, transient=False)


class _ChineseHelp:
    """The built-in --help option, described in Chinese like everything else an operator reads."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = "显示本帮助并退出。"
        return option


class ChineseCommand(_ChineseHelp, click.Command):
    context_class = click_cn.Context

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", "[选项]")
        super().__init__(*args, **kwargs)


class ChineseGroup(_ChineseHelp, click.Group):
    command_class = ChineseCommand
    context_class = click_cn.Context

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", "[选项]")
        kwargs.setdefault("subcommand_metavar", "命令 [参数]...")
        super().__init__(*args, **kwargs)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """click's standalone handling, with its errors said in Chinese sentences."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            _show_click_error(exc)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo(click_cn.gettext("Aborted!"), err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _show_click_error(exc: click.ClickException) -> None:
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        click.echo(ctx.get_usage(), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            click.echo(click_cn.gettext("Try '{command} {option}' for help.").format(
                command=ctx.command_path, option="-h"), err=True)
    click.echo(click_cn.gettext("Error: {message}").format(message=click_cn.sentence(exc.format_message())),
               err=True)


def print_problems(file: Path, result) -> None:
    who = "、".join(x for x in (result.unit, result.month) if x)
    if result.problems.items:
        table = Table(title=escape(f"{file.name}{'（' + who + '）' if who else ''}"))
        for column in ("级别", "位置", "列", "填写内容", "问题"):
            table.add_column(column, overflow="fold")
        for p in result.problems:
            value = "" if p.value is None else str(p.value)[:30]
            table.add_row("[red]错误[/]" if p.is_error else "[yellow]提示[/]", escape(p.where),
                          escape(p.column or ""), escape(value), escape(p.message))
        console.print(table)
    if result.accepted:
        console.print(f"[bold green]通过[/]：{escape(file.name)} 可以接收" +
                      (f"（{len(result.problems.warnings)} 条提示）" if result.problems.warnings else "") + "。")
    else:
        console.print(f"[bold red]退回[/]：{len(result.problems.errors)} 处错误，请改正后重新报送。")


def print_waiting(waiting, out: Console) -> None:
    """Files still in the inbox, one line each with the reason."""
    out.print(f"[bold red]收件箱中仍有 {len(waiting)} 个文件未处理：[/]")
    for w in waiting:
        out.print(f"  {escape(w.name)}：{escape(w.reason)}")


@contextlib.contextmanager
def logged_to_file(ws, *, console_too: bool = False):
    """Details (tracebacks included) go to <workspace>/logs/processor.log; the console gets one line each."""
    from processor.common.logs import close_logging, setup_logging

    setup_logging(ws, console=console_too, level=logging.DEBUG)
    try:
        yield
    except (OSError, sqlite3.Error) as exc:  # reported in one line by friendly_errors
        logging.getLogger(__name__).debug("命令因错误停止", exc_info=exc)
        raise
    finally:
        close_logging()


class Written(click.ParamType):
    """A month, half-year, year or day as the operator types it, checked by the library's own parser
    (``processor.common.periods``) before the command runs: a wrong one is refused with that parser's
    Chinese sentence, naming the option, exit code 2.  The command gets the text stripped of blanks
    (a day: the date)."""

    def __init__(self, name: str, metavar: str, parser: str):
        self.name, self.metavar, self.parser = name, metavar, parser

    def get_metavar(self, param, ctx) -> str:
        return self.metavar

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value  # converted already (a default, or a value passed in by a caller)
        text = value.strip()
        try:
            parsed = _parsers()[self.parser](text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return parsed if self.parser == "day" else text


def _parsers() -> dict:
    import datetime as dt

    from processor.common import periods

    def day(text: str) -> dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"日期应为 YYYY-MM-DD（如 2027-02-08），而不是“{text}”") from None

    return {"month": periods.parse_month, "half": periods.parse_half, "year": periods.parse_year, "day": day}


MONTH = Written("month", "YYYY-MM", "month")
HALF = Written("half", "YYYY-H1|H2", "half")
YEAR = Written("year", "YYYY", "year")
DAY = Written("day", "YYYY-MM-DD", "day")


def reminder_rows(reminders) -> list[dict]:
    return [{"unit": r.unit, "address": r.address, "month": r.month, "kind": r.kind, "slot": r.slot}
            for r in reminders]


def print_check(report) -> None:
    from rich.markup import escape

    for p in report.problems:  # one line per problem, however long: scripts and people grep them
        console.print(f"[red]问题：[/]{escape(p.message)}", soft_wrap=True)
    for note in report.notes:
        console.print(f"[yellow]注意：[/]{escape(note)}", soft_wrap=True)
    counted = "，".join(f"{k} {v} 个" for k, v in report.counted.items())
    if report.ok:
        console.print(f"[bold green]检查通过[/]：台账 {escape(str(report.ledger))} 完整（{counted}）。")
    else:
        console.print(f"[bold red]发现 {len(report.problems)} 个问题[/]" + (f"（已检查{counted}）" if counted else "") + "。")
