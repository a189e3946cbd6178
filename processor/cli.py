"""The ``processor`` command: parses arguments, calls one library function, prints.

Every subcommand works on the workspace found from the current directory (or
``--workspace`` / ``PROCESSOR_WORKSPACE``).  Messages are Chinese; ``--json``
gives machine-readable output.  Exit codes: 0 success, 1 the input was
rejected / something needs attention, 2 a usage or configuration error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from processor import __version__
from processor.common.paths import WORKSPACE_ENV

# Imports of the library stay inside the commands: importing this module is cheap (``--help``,
# and every worker process, which imports the command's main module when it starts).

from processor import click_cn
from processor.cli_support import (DAY, HALF, MONTH, YEAR, ChineseGroup, console, err_console, friendly_errors, logged_to_file,
                                   print_check, print_json, print_problems, print_waiting, progress_bar,
                                   reminder_rows, workspace_of)

click_cn.install()


@click.group(cls=ChineseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--workspace", "-w", type=click.Path(file_okay=False, path_type=Path), envvar=WORKSPACE_ENV,
              help="工作区文件夹（含 config.toml）；默认从当前文件夹向上查找。")
@click.version_option(__version__, prog_name="processor", help="显示版本并退出。",
                      message="%(prog)s 版本 %(version)s")
@click.pass_context
def main(ctx: click.Context, workspace: Path | None) -> None:
    """企业组联系党建示范点月报表处理程序。"""
    ctx.ensure_object(dict)
    ctx.obj["workspace"] = workspace


# --- workspace, form and validation ----------------------------------------------------
@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--start-month", type=MONTH,
              help="本工作区开始收集的第一个报表月份，此前的月份不计入任何统计；默认为当前正在收集的月份"
                   "（上月报表截止日之前为上月，之后为本月）。写入 config.toml 的 [calendar] start_month。")
@click.option("--office", metavar="单位全称",
              help="报告落款单位的全称，如“中共福州市委组织部企业组”；写入 config.toml 的 [report] office。"
                   "未填写时在终端中询问；仍为示例名称时，报告均标注“样稿”。")
@click.option("--addressee", metavar="主送",
              help="报告主送的上级机关或领导（不能是落款单位本身）；默认为落款单位所属的机关，如“中共福州市委组织部”。")
@click.pass_context
@friendly_errors
def init(ctx: click.Context, folder: Path | None, start_month: str | None, office: str | None,
         addressee: str | None) -> None:
    """新建工作区：配置文件 config.toml、示例名册 roster.xlsx、收件箱和发件箱。

    FOLDER 省略时为 --workspace（或环境变量 PROCESSOR_WORKSPACE）所指的文件夹，再省略则为当前文件夹。"""
    from processor.common.config import CONFIG_NAME
    from processor.common.office import parent_of
    from processor.workspace import first_collected_month, init_workspace

    folder = folder or ctx.obj.get("workspace") or Path.cwd()  # `processor -w 文件夹 init` makes that folder one
    had_config = (folder / CONFIG_NAME).exists()
    if not had_config and office is None and sys.stdin.isatty():
        office = click.prompt("报告落款单位的全称（如“中共福州市委组织部企业组”；直接回车则暂用示例名称，报告标注“样稿”）",
                              default="", show_default=False).strip() or None
        if office and addressee is None:
            addressee = click.prompt("报告主送的上级机关或领导", default=parent_of(office) or "部领导").strip()
    ws = init_workspace(folder, start_month=start_month or first_collected_month(),
                        office=office, addressee=addressee)
    if had_config:
        console.print(f"工作区 {escape(str(ws.root))} 已有配置文件，尚无台账，也没有存档：已新建空台账 {escape(str(ws.ledger_path))}。")
        return
    console.print(f"已新建工作区：{escape(str(ws.root))}")
    console.print(f"  配置文件：{escape(str(ws.root / 'config.toml'))}")
    console.print(f"  名册：{escape(str(ws.roster_path))}（示例数据，请按实际修改）")
    console.print(f"  收件箱：{escape(str(ws.inbox))}    发件箱：{escape(str(ws.outbox))}")
    console.print(f"  第一个报表月份：{ws.rulebook.start}（此前的月份不计入统计；可在 config.toml 的 [calendar] start_month 修改）")
    console.print(f"  落款：{escape(ws.office_name)}    主送：{escape(ws.addressee)}")
    if ws.draft_warning:
        console.print(escape(ws.draft_warning))


@main.command()
@click.option("--unit", help="单位名称；给出时预填基本信息和该单位上次报送的示范点。")
@click.option("--month", type=MONTH, help="报送月份 YYYY-MM。")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="输出的 .xlsx 文件。")
@click.pass_context
@friendly_errors
def template(ctx: click.Context, unit: str | None, month: str | None, output: Path) -> None:
    """生成月报表模板（可按单位预填）。"""
    from processor.validate.roster import workspace_roster
    from processor.validate.template import write_template

    ws = workspace_of(ctx).config
    roster = workspace_roster(ws)
    if unit and roster.unit(unit) is None:
        raise click.BadParameter(f"“{unit}”不在名册中（可选：{'、'.join(roster.unit_names)}）", param_hint="--unit")
    unit = roster.unit(unit).name if unit else None
    previous = []
    if unit:  # a blank template reads no ledger
        from processor.record.resubmission import previous_sites

        previous = previous_sites(ws.ledger_path, unit, before=month)
    from processor.common.imap_settings import submission_ways

    path = write_template(output, roster=roster, rulebook=ws.rulebook, unit=unit, month=month, previous=previous,
                          submit_to=submission_ways(ws, unit))
    console.print(f"已生成模板：{escape(str(path))}" + (f"（已预填“{escape(unit)}”）" if unit else ""))


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--unit", help="报送单位（文件来自该单位的文件夹时），与“填报单位”不符则退回。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
@friendly_errors
def validate(ctx: click.Context, file: Path, unit: str | None, as_json: bool) -> None:
    """校验一份月报表（只读，不登记）：通过退出码 0，退回退出码 1。"""
    from processor.validate.roster import workspace_roster
    from processor.validate.validator import validate_file

    ws = workspace_of(ctx).config
    if not file.exists():
        raise click.BadParameter(f"文件不存在：{file}", param_hint="FILE")
    result = validate_file(file, roster=workspace_roster(ws), rulebook=ws.rulebook, expected_unit=unit,
                           limits=ws.intake)
    if as_json:
        print_json(result.to_json())
    else:
        print_problems(file, result)
    sys.exit(0 if result.accepted else 1)


# --- intake ------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.option("--jobs", "-j", type=click.IntRange(1, 32), default=None,
              help="同时校验的文件数（每个占用一个进程）；默认按本机 CPU 核数，最多 4。登记仍按收件顺序逐个进行。")
@click.pass_context
@friendly_errors
def process(ctx: click.Context, as_json: bool, jobs: int | None) -> None:
    """处理收件箱中的全部文件一次（登记、存档、回执）。"""
    workspace = workspace_of(ctx)
    ws = workspace.config
    with logged_to_file(ws), progress_bar("处理收件箱") as bar:
        task = bar.add_task("", total=None)
        done = workspace.process(jobs=jobs, on_start=lambda n: bar.update(task, total=n),
                                 on_done=lambda _: bar.advance(task))
    outcomes = done.outcomes
    if as_json:
        print_json([{"id": o.file_id, "file": o.name, "status": o.status, "unit": o.unit, "month": o.month,
                     "errors": o.errors, "warnings": o.warnings, "receipt": str(o.receipt or "")}
                    for o in outcomes] +
                   [{"id": None, "file": w.name, "status": "waiting", "reason": w.reason} for w in done.waiting])
    elif not outcomes and not done.waiting:
        console.print("收件箱中没有待处理的文件。")
    elif outcomes:
        table = Table(title=f"本次处理 {len(outcomes)} 个文件")
        for column in ("文件", "结果", "单位", "月份", "问题"):
            table.add_column(column)
        from processor.record.ledger import STATUS_CN

        for o in outcomes:
            table.add_row(escape(o.name), STATUS_CN[o.status], escape(o.unit or "—"), escape(o.month or "—"),
                          f"{o.errors} 处错误" if o.errors else "")
        console.print(table)
        console.print(f"回执在：{escape(str(ws.receipts_dir))}")
    if done.waiting:
        if not as_json:
            print_waiting(done.waiting, err_console)
        sys.exit(1)


@main.command()
@click.option("--polling", is_flag=True, help="轮询模式：收件箱在网络共享文件夹（SMB/NFS）上时使用。")
@click.option("--interval", type=float, default=None, help="轮询间隔（秒）。")
@click.pass_context
@friendly_errors
def watch(ctx: click.Context, polling: bool, interval: float | None) -> None:
    """持续监视收件箱，文件一到即处理（Ctrl+C 停止）。"""
    from processor.intake.run import Intake
    from processor.common.lock import WorkspaceLock, install_signal_handlers
    from processor.deliver.serve import logged_by_intake
    from processor.intake.watch import InboxWatcher

    ws = workspace_of(ctx).config
    stop = threading.Event()
    install_signal_handlers(stop)
    with WorkspaceLock(ws), logged_to_file(ws, console_too=True):
        intake = Intake(ws)
        intake.recover()
        intake.sandboxes.stop_when(stop)  # Ctrl+C ends a sandbox's work at once; the file is taken again
        watcher = InboxWatcher(ws.inbox, intake.handle, polling=polling,
                               poll_interval=interval or ws.intake.poll_interval,
                               stable_seconds=ws.intake.stable_seconds, rescan_seconds=ws.intake.rescan_seconds,
                               close_settle_seconds=None if polling else ws.intake.close_settle_seconds,
                               on_error=logged_by_intake)
        mode = "轮询" if polling else "实时"
        console.print(f"正在监视收件箱（{mode}模式）：{escape(str(ws.inbox))}；按 Ctrl+C 停止。")
        watcher.start()
        try:
            watcher.run_forever(stop)
        finally:
            watcher.stop()
            intake.close()
    console.print("已停止监视。")


@main.command()
@click.option("--month", type=MONTH, help="月份 YYYY-MM；默认为最近一个已过报送截止日的月份。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
@friendly_errors
def status(ctx: click.Context, month: str | None, as_json: bool) -> None:
    """查看某月各单位的报送情况和最近退回的文件。"""
    from processor.common.clock import local_time

    workspace = workspace_of(ctx)
    report = workspace.status(month)
    month = report["month"]
    if as_json:
        print_json(report)
        return
    table = Table(title=f"{month[:4]}年{int(month[5:])}月报送情况（截止日 {report['deadline']}）")
    from processor.consolidate.status import CHANNEL_CN

    for column in ("单位", "类型", "状态", "收到日期", "逾期天数", "退回次数", "报送方式"):
        table.add_column(column)
    for line in report["units"]:
        table.add_row(escape(line["unit"]), escape(line["kind"] or ""), line["state"], line["received"] or "—",
                      str(line["days_late"] or ""), str(line["rejections"] or ""),
                      CHANNEL_CN.get(line.get("channel"), ""))
    console.print(table)
    console.print("；".join(f"{k} {v} 个" for k, v in report["summary"].items()))
    if report["recent_rejections"]:
        console.print("最近退回的文件：")
        for r in report["recent_rejections"]:
            when = local_time(r["received_at"], workspace.config.timezone_name)  # on the office's clock
            console.print(f"  {when:%Y-%m-%d %H:%M}  {escape(r['unit'] or '未识别单位')}  {escape(r['file'])}"
                          f"（{r['errors']} 处错误）")
    if report["inbox"]:
        console.print(f"收件箱中还有 {len(report['inbox'])} 个文件：")
        for w in report["inbox"]:
            console.print(f"  {escape(w['file'])}：{escape(w['reason'])}")
    for line in report.get("warnings", []):
        err_console.print(f"[bold yellow]警告：[/]{escape(line)}")
    for held in report.get("held_mail", []):
        err_console.print(f"[bold yellow]报送邮箱中暂不处理的邮件：[/]{escape(held['sender'])}"
                          f"“{escape(held['subject'] or '')}”（{escape(held['why'] or '发件人验证未通过')}），请人工核对")
    if report.get("edited_outputs"):
        console.print(f"发件箱中有 {len(report['edited_outputs'])} 个文件被人工修改过（程序不会覆盖，新版另存在旁边）：")
        for e in report["edited_outputs"]:
            beside = f"（程序新版：{Path(e['new_version']).name}）" if e["new_version"] else ""
            console.print(f"  {escape(e['path'] + beside)}")


# --- consolidation -------------------------------------------------------------------
@main.command()
@click.option("--month", type=MONTH, help="汇总的月份 YYYY-MM；默认为最近一个已过报送截止日的月份。")
@click.option("--half", type=HALF, help="生成半年工作报告的半年，如 2026-H2。")
@click.option("--year", type=YEAR, help="生成年度工作总结的年度，如 2026。")
@click.option("--all", "all_months", is_flag=True, help="台账中所有月份、半年和年度都重新汇总（未变化的不重写）。")
@click.option("--as-of", "day", type=DAY,
              help="按该日结束时的台账重新生成（用于核查）：只计该日及以前收到的报表，逾期天数、问题整改状态都算到该日。")
@click.option("--no-wait", is_flag=True, help="另一个汇总正在运行时不等待，立即退出（退出码 2）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
@friendly_errors
def consolidate(ctx: click.Context, month: str | None, half: str | None, year: str | None, all_months: bool,
                day: dt.date | None, no_wait: bool, as_json: bool) -> None:
    """汇总台账，生成月度汇总报告、半年工作报告、年度工作总结、分组情况一览表、示范点档案、催报名单和汇总数据。"""
    from processor.consolidate.run import ConsolidationError
    from processor.common.fsutil import StorageError
    from processor.common.logs import file_logging

    workspace = workspace_of(ctx)
    ws = workspace.config
    try:
        with file_logging(ws), (contextlib.nullcontext() if as_json else progress_bar("汇总生成")) as bar:
            task = bar.add_task("", total=None) if bar else None
            result = workspace.consolidate(month=month, half=half, year=year, all_months=all_months, as_of=day,
                                           on_output=(lambda path: bar.advance(task)) if bar else None,
                                           wait=not no_wait, on_wait=lambda message: err_console.print(message))
    except StorageError as exc:  # details in the log
        err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")
        sys.exit(1)
    except ConsolidationError as exc:
        err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")
        sys.exit(2)
    if as_json:
        print_json(result.to_dict())
    elif not (result.months or result.halves or result.years):
        console.print("台账中还没有收到任何报表，没有可汇总的月份。")
    else:
        periods = "、".join([*result.months, *result.halves, *result.years])
        if day is not None:
            periods += f"，数据截至{day.year}年{day.month}月{day.day}日"
        console.print(f"汇总完成（{periods}）：新生成或更新 {len(result.written)} 个文件，"
                      f"{len(result.unchanged)} 个无变化。")
        for path in result.written:
            console.print(f"  {escape(str(path.relative_to(ws.outbox)))}")
        for line in result.updates:  # an earlier period rebuilt for a late or corrected form
            console.print(f"更新：{escape(line)}")
        console.print(f"清单：{escape(str(result.manifest))}")
    if not as_json:
        for line in result.edited_lines:
            console.print(f"[bold yellow]注意：[/]{escape(line)}")
        if ws.draft_warning:
            err_console.print(f"[bold yellow]{escape(ws.draft_warning)}[/]")
    if result.skipped:
        for line in result.skipped:
            err_console.print(f"[yellow]未生成：[/]{escape(line)}")
        sys.exit(1)


# --- delivery ------------------------------------------------------------------------
@main.command()
@click.option("--dry-run", is_flag=True, help="不发送，只把邮件写成 .eml 文件（在 发件箱/邮件/ 中）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
@friendly_errors
def send(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """把新生成或有更新的报告用邮件发给企业组（已发送过的不会重发）。"""
    from processor.deliver.mail import SendBusy
    from processor.common.fsutil import StorageError
    from processor.common.logs import file_logging

    workspace = workspace_of(ctx)
    ws = workspace.config
    try:
        with file_logging(ws):
            # An explicit send retries queued deliveries now instead of waiting for their back-off.
            result = workspace.send(dry_run=dry_run, retry_now=True)
    except (StorageError, SendBusy) as exc:  # details in the log
        err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")
        sys.exit(1)
    if as_json:
        print_json({"sent": result.sent, "queued": result.queued, "failed": result.failed,
                    "dry_run_files": [str(p) for p in result.dry_run_files], "error": result.error,
                    "dry_run": result.dry_run, "warnings": result.warnings})
    elif result.dry_run:
        why = "演练模式" if dry_run else "未配置邮件服务器"
        if result.dry_run_files:
            console.print(f"已生成 {len(result.dry_run_files)} 封邮件（未发送，{why}）：")
            for path in result.dry_run_files:
                console.print(f"  {escape(str(path))}")
        else:
            console.print(f"没有新的或有更新的报告，未生成新的邮件（未发送，{why}）。")
    elif result.sent:
        console.print(f"已发送 {len(result.sent)} 份报告给：{escape('、'.join(result.sent_to or ws.smtp.recipients))}")
        for path in result.sent:
            console.print(f"  {escape(str(path))}")
    elif not (result.queued or result.failed):
        console.print("没有需要发送的报告（都已发送过）。")
    if not as_json:
        for warning in result.warnings:
            err_console.print(f"[bold yellow]警告：[/]{escape(warning)}")  # it names [smtp]: literal text
    if result.queued or result.failed:
        err_console.print(f"[bold red]发送失败：[/]{escape(result.error or '未知原因')}；"
                          f"{len(result.queued)} 份报告已排队，稍后自动重试。")
        sys.exit(1)


@main.command()
@click.option("--dry-run", is_flag=True, help="不发送，只把邮件写成 .eml 文件（在 发件箱/邮件/ 中）。")
@click.option("--month", type=MONTH, help="催报的报表月份 YYYY-MM；默认为上个月（本月应报送的报表）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
@friendly_errors
def remind(ctx: click.Context, dry_run: bool, month: str | None, as_json: bool) -> None:
    """给尚未报送或已退回待重报的单位发催报邮件（每个单位、月份、类型每个周期只发一次）。"""
    from processor.deliver.mail import SendBusy
    from processor.common.fsutil import StorageError
    from processor.common.logs import file_logging

    workspace = workspace_of(ctx)
    try:
        with file_logging(workspace.config):
            result = workspace.remind(dry_run=dry_run, month=month)
    except (StorageError, SendBusy) as exc:  # details in the log
        err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")
        sys.exit(1)
    if as_json:
        print_json({"enabled": result.enabled, "month": result.month, "sent": reminder_rows(result.sent),
                    "queued": reminder_rows(result.queued), "failed": reminder_rows(result.failed),
                    "dry_run_files": [str(p) for p in result.dry_run_files], "no_address": result.no_address,
                    "error": result.error})
    elif not result.enabled:
        console.print("催报邮件未启用：如需启用，请在 config.toml 的 [remind] 中设 enabled = true。")
    else:
        for path in result.dry_run_files:
            console.print(f"未发送（演练模式或未配置邮件服务器），催报邮件已写入：{escape(str(path))}")
        for r in result.sent:
            console.print(f"已发送{r.kind}邮件：{escape(r.unit)}（{escape(r.address)}）")
        if not (result.dry_run_files or result.sent or result.queued or result.failed):
            console.print("没有需要发送的催报邮件（都已发送过，或各单位均已报送）。")
        for unit in result.no_address:
            console.print(f"[yellow]注意：[/]{escape(unit)} 尚未报送，但名册中没有该单位的电子邮箱，未发催报邮件。")
        for line in result.warnings:
            err_console.print(f"[bold yellow]警告：[/]{escape(line)}")
    if result.queued or result.failed:
        err_console.print(f"[bold red]发送失败：[/]{escape(result.error or '未知原因')}；"
                          f"{len(result.queued)} 封催报邮件已排队，稍后自动重试。")
        sys.exit(1)


@main.command()
@click.option("--dry-run", is_flag=True, help="只列出邮箱中将要收取的邮件和附件，不登记、不移动、不回复。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
@friendly_errors
def fetch(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """收取报送邮箱（config.toml 的 [imap]）中的报表一次：登记、回执，并回复每封邮件。"""
    from processor.common.logs import file_logging
    from processor.deliver.mail import SendBusy
    from processor.intake.mailbox import MailboxError

    workspace = workspace_of(ctx)
    try:
        with file_logging(workspace.config):
            result = workspace.fetch(dry_run=dry_run)
    except (MailboxError, SendBusy) as exc:
        err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")
        sys.exit(1)
    report, replies = result.report, result.replies
    if as_json:
        print_json({"mailbox": report.mailbox, "dry_run": report.dry_run,
                    "taken": [{"uid": t.uid, "sender": t.sender, "unit": t.unit, "subject": t.subject,
                               "verdict": t.verdict, "forms": t.forms, "others": t.others, "files": t.file_ids,
                               "again": t.again} for t in report.taken],
                    "held": [{"sender": h["sender"], "subject": h["subject"], "why": h["note"]} for h in report.held],
                    "replies": {"sent": replies.sent, "queued": replies.queued, "failed": replies.failed,
                                "error": replies.error}})
    else:
        if not report.taken:
            console.print(f"报送邮箱（{escape(report.mailbox)}）中没有新邮件。")
        else:
            table = Table(title=f"{'将收取' if dry_run else '本次收取'} {len(report.taken)} 封邮件")
            for column in ("发件人", "单位", "主题", "附件", "结果"):
                table.add_column(column)
            for t in report.taken:
                table.add_row(escape(t.sender), escape(t.unit or "不在名册中"), escape(t.subject),
                              escape("、".join(t.forms + t.others) or "—"),
                              t.verdict_cn + ("（已收取过）" if t.again else ""))
            console.print(table)
        for held in report.held:
            err_console.print(f"[bold yellow]暂不处理：[/]{escape(held['sender'])}“{escape(held['subject'] or '')}”"
                              f"（{escape(held['note'] or '发件人验证未通过')}），请人工核对")
        if replies.sent:
            console.print(f"已回复 {len(replies.sent)} 封邮件。")
    if replies.queued or replies.failed:
        err_console.print(f"[bold red]回复发送失败：[/]{escape(replies.error or '未知原因')}；稍后自动重试。")
        sys.exit(1)


@main.command()
@click.option("--polling", is_flag=True, help="轮询模式：收件箱在网络共享文件夹（SMB/NFS）上时使用。")
@click.option("--every", "every", default=None, hidden=True,
              help="加速调度：每隔多少秒做一次“夜间”汇总（测试和演示用）。")
@click.pass_context
@friendly_errors
def serve(ctx: click.Context, polling: bool, every: str | None) -> None:
    """常驻运行：监视收件箱 + 每晚汇总并发送报告（SIGTERM 或 Ctrl+C 停止）。"""
    from processor.deliver.serve import serve as run_service

    ws = workspace_of(ctx).config
    sys.exit(run_service(ws, polling=polling, schedule_override=every))


# --- the record: check and backup ----------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
@friendly_errors
def check(ctx: click.Context, as_json: bool) -> None:
    """检查台账和存档是否完整：数据库完整性、每个存档原件及其哈希、每份回执、无主文件；有问题退出码 1。"""
    report = workspace_of(ctx).check()
    if as_json:
        print_json(report.to_dict())
    else:
        print_check(report)
    sys.exit(0 if report.ok else 1)


@main.command(epilog="恢复：先停止 processor（serve/watch），再运行 processor restore 备份文件夹：它把工作区原来的"
                     "台账（连同 -wal/-shm）、存档和回执移到“恢复前-时间”文件夹，把备份复制回工作区，再检查。")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
@friendly_errors
def backup(ctx: click.Context, dest: Path, as_json: bool) -> None:
    """把台账（SQLite 在线备份）、存档原件、回执、配置和名册备份到新文件夹 DEST，并校验备份。"""
    from processor.record.backup import BackupError

    try:
        result = workspace_of(ctx).backup(dest)
    except BackupError as exc:
        err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")
        sys.exit(2)
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        console.print(f"[bold green]备份完成并已校验[/]：{len(result.copied)} 个文件在 {escape(str(result.dest))}")
    else:
        print_check(result.verification)
        err_console.print(f"[bold red]备份校验未通过[/]：{escape(str(result.dest))} 不能作为可靠的备份。")
    sys.exit(0 if result.ok else 1)


@main.command()
@click.argument("source", metavar="备份文件夹", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
@friendly_errors
def restore(ctx: click.Context, source: Path, as_json: bool) -> None:
    """从 processor backup 生成的备份恢复台账、存档原件、回执、配置和名册（须先停止 serve/watch），恢复后检查。"""
    from processor.record.restore import RestoreError

    try:
        result = workspace_of(ctx).restore(source)
    except RestoreError as exc:
        if exc.report is not None:
            print_check(exc.report)
        err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")
        sys.exit(2)
    if as_json:
        print_json(result.to_dict())
        sys.exit(0 if result.ok else 1)
    if result.moved:
        console.print(f"工作区原来的台账、存档和回执已移到 {result.aside}（没有删除任何文件）。", soft_wrap=True)
    console.print(f"已从备份 {result.source} 恢复 {len(result.copied)} 个文件。", soft_wrap=True)
    if result.not_in_backup:
        console.print(f"[yellow]注意：[/]工作区原有 {len(result.not_in_backup)} 个存档原件不在备份中（备份之后收到的报表），"
                      f"在 {result.aside} 的存档文件夹中；如需补录，把它们复制到收件箱重新处理。",
                      soft_wrap=True)
    print_check(result.verification)
    sys.exit(0 if result.ok else 1)


# --- demo --------------------------------------------------------------------------------
@main.command()
@click.argument("folder", required=False, default="demo-workspace",
                type=click.Path(file_okay=False, path_type=Path))
@friendly_errors
def demo(folder: Path) -> None:
    """生成演示工作区（一年的模拟报送）并全流程处理：收件、校验、回执、汇总、邮件。"""
    from processor.demo import DemoError, run_demo

    bar = progress_bar("{task.description}")
    current = {}

    def on_stage(name: str, total: int) -> None:
        if "task" in current:
            bar.update(current["task"], completed=bar.tasks[current["task"]].total)
        current["task"] = bar.add_task(name, total=total)

    try:
        with bar:
            result = run_demo(folder, on_stage=on_stage, on_step=lambda: bar.advance(current["task"]))
    except DemoError as exc:
        err_console.print(f"[bold red]错误：[/]{escape(str(exc))}")
        sys.exit(2)
    ws = result.workspace
    from processor.record.ledger import STATUS_CN

    console.print(f"\n演示工作区：{escape(str(ws.root))}")
    if result.months:
        console.print(f"模拟日期：{result.today.year}年{result.today.month}月{result.today.day}日；"
                      f"报送月份 {result.months[0]} 至 {result.months[-1]}（跨越年度）")
    console.print(f"共收到 {len(result.arrivals)} 个文件：" +
                  "，".join(f"{STATUS_CN[k]} {v} 个" for k, v in sorted(result.outcomes.items())))
    console.print(f"回执：{escape(str(ws.receipts_dir))}")
    console.print(f"报告和汇总表（{len(result.outputs)} 个）：{escape(str(ws.outbox))}")
    for sub in sorted(p for p in ws.outbox.iterdir() if p.is_dir()):
        console.print(f"  {escape(sub.name)}/")
    console.print(f"待发送的邮件（.eml，{len(result.emails)} 封）：{escape(str(ws.outbox / '邮件'))}")
    console.print(f"查看报送情况：processor -w {escape(str(ws.root))} status")
