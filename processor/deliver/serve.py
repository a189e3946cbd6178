"""``processor serve``: the one long-running process of an office installation.

* takes the workspace lock (one processor per workspace);
* finishes arrivals a crash interrupted (intake recovery);
* watches the inbox on its own thread, answering every file with a receipt;
* every night at ``schedule.nightly_at`` consolidates, then emails what is new
  (APScheduler, BackgroundScheduler + CronTrigger); queued mails are retried
  every few minutes once their back-off delay has passed;
* after each night's send, mails the 催报 reminders due that day (``[remind]``, off by default);
* with ``[imap]``, takes the forms mailed to the 报送 mailbox as they arrive and answers each by reply
  (:func:`processor.deliver.replies.watch_mailbox`);
* on start, if the machine was off at the last scheduled time, runs the night once now;
* logs to ``<workspace>/logs/processor.log`` (rotating) and the console;
* reads roster.xlsx (and a custom rulebook) again when the file changes, saying so in one log line;
* SIGTERM / SIGINT stop it cleanly, exit code 0: a file in the sandbox (validation or its annotated
  copy) is dropped at once and taken again at the next start; a running night finishes first.

For tests and demonstrations the night can be accelerated to "every N seconds"
(``--every N`` or ``PROCESSOR_NIGHTLY_EVERY=N``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
from pathlib import Path
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from processor.common.clock import local_date, office_now
from processor.common.config import ConfigError, Workspace
from processor.common.fsutil import StorageError, atomic_write_text
from processor.common.logs import close_logging, setup_logging

LOG = logging.getLogger(__name__)

NIGHTLY_EVERY_ENV = "PROCESSOR_NIGHTLY_EVERY"
STATE_FILE = ".processor-nightly.json"
RETRY_CHECK_SECONDS = 300.0
RELOAD_CHECK_SECONDS = 2.0  # how often the roster's and the rulebook's files are looked at
MISFIRE_GRACE_SECONDS = 3600  # a night up to an hour late (machine busy, clock jump) still runs


# --- when the night last ran --------------------------------------------------------------

def state_path(ws: Workspace) -> Path:
    return Path(ws.root) / STATE_FILE


def read_state(ws: Workspace) -> dict:
    try:
        data = json.loads(state_path(ws).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(ws: Workspace, **values) -> None:
    state = {**read_state(ws), **values}
    atomic_write_text(state_path(ws), json.dumps(state, ensure_ascii=False, indent=2))


def last_scheduled_time(now: dt.datetime, at: tuple[int, int]) -> dt.datetime:
    """The most recent moment (≤ now) the nightly job was due."""
    due = now.replace(hour=at[0], minute=at[1], second=0, microsecond=0)
    return due if due <= now else due - dt.timedelta(days=1)


def missed_night(state: dict, now: dt.datetime, at: tuple[int, int]) -> bool:
    """True when the last run (or, never run, the first start) predates the last scheduled time."""
    reference = state.get("last_run") or state.get("since")
    if not reference:
        return False
    return dt.datetime.fromisoformat(reference) < last_scheduled_time(now, at)


def parse_every(text: str | None) -> float | None:
    """'5', '5s', '2.5' → seconds between accelerated nights; None/'' → the real schedule."""
    if text is None or not str(text).strip():
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*s?\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"加速调度的间隔应为正的秒数（如 5），而不是“{text}”")
    return float(match.group(1))


# --- the nightly work ------------------------------------------------------------------------

Clock = Callable[[], dt.datetime]


class Nightly:
    """Consolidate then send; and the periodic retry of queued mails.  Never two at once.

    A night reads its clock once: its reports, mails and reminders all speak for that moment."""

    def __init__(self, ws: Workspace, clock: Clock | None = None) -> None:
        self.ws = ws
        self.clock = clock or (lambda: office_now(ws))
        self._busy = threading.Lock()
        self.runs = 0
        self.guard: Callable[[], bool] | None = None  # False: the ledger is gone, no night runs

    def run(self) -> None:
        from processor.consolidate.run import consolidate
        from processor.deliver.mail import send_pending

        with self._busy:
            if self.guard is not None and not self.guard():
                return
            started = self.clock()
            LOG.info("开始夜间汇总……")
            try:
                result = consolidate(self.ws, today=local_date(started, self.ws))
            except StorageError as exc:  # its details are in the log already
                LOG.error("夜间汇总失败：%s；下次启动或下一晚将重试，未发送报告", exc)
                return
            except Exception:  # noqa: BLE001 — logged; the next night (or a restart) tries again
                LOG.exception("夜间汇总失败，未发送报告；下次启动或下一晚将重试")
                return
            LOG.info("夜间汇总完成（%s）：新生成或更新 %d 个文件，%d 个无变化，用时 %.1f 秒",
                     "、".join([*result.months, *result.halves]) or "无可汇总的月份",
                     len(result.written or ()), len(result.unchanged or ()), (self.clock() - started).total_seconds())
            if self.ws.draft_warning:
                LOG.warning(self.ws.draft_warning)
            self._send(send_pending, started)
            self._remind(started)
            try:
                write_state(self.ws, last_run=started.isoformat(timespec="seconds"))
            except OSError as exc:
                LOG.error("夜间汇总已完成，但未能记下完成时间（%s：%s）；重新启动时可能再补做一次",
                          state_path(self.ws), exc.strerror or exc)
            self.runs += 1

    def retry_due(self) -> None:
        from processor.deliver.mail import due_retries, send_pending

        if not self.ws.smtp.host or not self._busy.acquire(blocking=False):
            return
        try:
            now = self.clock()
            if due_retries(self.ws, now):
                LOG.info("重试发送排队中的邮件……")
                self._send(send_pending, now)
        except Exception:  # noqa: BLE001 — the next check tries again
            LOG.exception("检查排队中的邮件时出错，稍后再试")
        finally:
            self._busy.release()

    def _remind(self, now: dt.datetime) -> None:
        from processor.deliver.mail import SendBusy
        from processor.deliver.remind import send_reminders
        from processor.validate.roster import RosterError

        if not self.ws.remind.enabled:
            return
        try:
            result = send_reminders(self.ws, now=now)
        except (ConfigError, StorageError, SendBusy, RosterError) as exc:
            LOG.error("催报邮件未发送：%s", exc)
            return
        except Exception:  # noqa: BLE001 — the next night tries again
            LOG.exception("发送催报邮件时出错")
            return
        if result.sent:
            LOG.info("已发送催报邮件 %d 封", len(result.sent))
        if result.queued:
            LOG.warning("%d 封催报邮件发送失败，下一晚重试：%s", len(result.queued), result.error)

    def _send(self, send_pending, now: dt.datetime) -> None:
        from processor.consolidate.mail_summary import ledger_summary
        from processor.deliver.mail import SendBusy

        try:
            result = send_pending(self.ws, now=now, summary_fallback=ledger_summary)
        except (ConfigError, StorageError, SendBusy) as exc:  # said in full; any details are in the log
            LOG.error("邮件未发送：%s", exc)
            return
        except Exception:  # noqa: BLE001
            LOG.exception("发送报告时出错")
            return
        if result.sent:
            LOG.info("已发送 %d 份报告", len(result.sent))
        elif not result.dry_run_files and not (result.queued or result.failed):
            LOG.info("没有新的或有更新的报告需要发送")
        if result.queued:
            LOG.warning("%d 份报告发送失败，已排队稍后重试：%s", len(result.queued), result.error)
        if result.failed:
            LOG.error("%d 份报告多次发送失败，已放弃；请检查邮件设置后运行 processor send", len(result.failed))


def _now(ws: Workspace) -> dt.datetime:
    return office_now(ws)  # the office's clock, whatever zone the server is set to


# --- the service ---------------------------------------------------------------------------------

def serve(ws: Workspace, *, polling: bool = False, stop_event: threading.Event | None = None,
          schedule_override: str | None = None, clock: Clock | None = None) -> int:
    """Run until ``stop_event`` is set (or SIGTERM/SIGINT when called from the main thread).

    ``clock`` (the system's by default) dates the arrivals and the nights: a rehearsal or a test
    runs a given day.  Returns the exit code: 0 after a clean stop, 1 if the inbox watcher died.
    Raises ``AlreadyRunning`` when another processor holds the workspace.
    """
    from processor.common.lock import WorkspaceLock, install_signal_handlers

    every = parse_every(schedule_override if schedule_override is not None else os.environ.get(NIGHTLY_EVERY_ENV))
    at = ws.nightly_at  # validates the config before anything starts
    stop = stop_event or threading.Event()
    setup_logging(ws)
    restore = install_signal_handlers(stop) if threading.current_thread() is threading.main_thread() else None
    try:
        with WorkspaceLock(ws):
            return _serve_locked(ws, polling=polling, stop=stop, every=every, at=at, clock=clock or (lambda: _now(ws)))
    finally:
        if restore:
            restore()
        close_logging()


def _serve_locked(ws: Workspace, *, polling: bool, stop: threading.Event, every: float | None,
                  at: tuple[int, int], clock: Clock) -> int:
    from processor.intake.run import Intake
    from processor.intake.sandbox import SandboxInterrupted
    from processor.intake.watch import InboxWatcher

    ws.ensure_folders()
    intake = Intake(ws, clock=clock)
    intake.sandboxes.stop_when(stop)  # SIGTERM ends a sandbox's work at once; that file is taken again next start
    if unfinished := len(intake.ledger.unfinished()):
        LOG.info("正在补完上次中断时未完成的 %d 个文件……", unfinished)
    try:
        recovered = intake.recover()
    except SandboxInterrupted:
        intake.close()
        LOG.info("处理程序已停止（补完中断的文件时收到停止信号，下次启动时继续）")
        return 0
    if recovered:
        LOG.info("已补完上次中断时未完成的 %d 个文件", recovered)
    nightly = Nightly(ws, clock)
    ledger_lost: list[str] = []
    said = threading.Lock()

    def ledger_intact() -> bool:
        """Whether the ledger path still names the file serve has open; if not, stop, saying why once."""
        problem = intake.ledger.file_problem()
        with said:
            if problem is not None and not ledger_lost:
                ledger_lost.append(problem)
                LOG.critical("处理程序停止收件并退出：%s", problem)
                stop.set()
        return problem is None

    def handle(path: Path, *args):
        return intake.handle(path, *args) if ledger_intact() else None  # the file stays in the inbox

    nightly.guard = ledger_intact
    scheduler = _scheduler(ws, nightly, every, at)
    watcher = InboxWatcher(ws.inbox, handle, polling=polling, poll_interval=ws.intake.poll_interval,
                           stable_seconds=ws.intake.stable_seconds, rescan_seconds=ws.intake.rescan_seconds,
                           close_settle_seconds=None if polling else ws.intake.close_settle_seconds,
                           on_error=logged_by_intake)
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), name="inbox-watcher", daemon=True)
    mail = None
    if ws.imap.enabled:  # the 报送 mailbox: a second inbox, through the same intake
        from processor.deliver.replies import watch_mailbox

        mail = threading.Thread(target=watch_mailbox, args=(ws, stop), kwargs={"intake": intake, "clock": clock},
                                name="mailbox", daemon=True)
    code = 0
    try:
        scheduler.start()
        thread.start()
        if mail is not None:
            mail.start()
        job = scheduler.get_job("nightly")
        LOG.info("处理程序已启动：监视收件箱 %s（%s模式）；%s；下次汇总时间 %s", ws.inbox,
                 "轮询" if polling else "实时", f"加速调度，每 {every:g} 秒汇总一次" if every else
                 f"每晚 {at[0]:02d}:{at[1]:02d} 汇总并发送", f"{job.next_run_time:%Y-%m-%d %H:%M:%S}")
        sources = _Sources(ws)
        while not stop.wait(0.5):
            sources.reload_if_changed(intake)
            if not thread.is_alive():
                LOG.error("收件箱监视线程意外退出，处理程序停止")
                code = 1
                break
            if not ledger_intact():  # deleted or replaced under a running serve
                break
        if ledger_lost:
            code = 1
    finally:
        LOG.info("正在停止：等待当前文件和正在进行的汇总完成……")
        stop.set()
        watcher.wake()
        thread.join(timeout=120)
        if mail is not None:
            mail.join(timeout=120)
        scheduler.shutdown(wait=True)
        intake.close()
        LOG.info("处理程序已停止")
    return code


class _Sources:
    """The roster and rulebook files serve read at start: when one changes (modification time, size,
    then content hash), it is read again and intake uses it from the next file on.  A file that
    cannot be read (being saved, or wrong) leaves the one in use, with one error line."""

    def __init__(self, ws: Workspace) -> None:
        from processor.common.paths import RULEBOOK_PATH

        self.ws = ws
        custom = ws.raw.get("paths", {}).get("rulebook")
        self.paths = {"roster": ws.roster_path, "rulebook": (ws.root / custom) if custom else RULEBOOK_PATH}
        self.seen = {key: _signature(path) for key, path in self.paths.items()}
        self.failed: dict[str, tuple | None] = {}
        self.next_check = 0.0

    def reload_if_changed(self, intake) -> None:
        import time

        if time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + RELOAD_CHECK_SECONDS
        changed = {}
        for key, path in self.paths.items():
            now, seen = _signature(path, self.seen[key]), self.seen[key]
            if now is None or now == seen:  # missing for a moment (being replaced): the one in use stays
                continue
            if seen is not None and now[2] == seen[2]:  # touched, same content
                self.seen[key] = now
            elif now != self.failed.get(key):
                changed[key] = now
        if changed:
            self._reload(intake, changed)

    def _reload(self, intake, changed: dict) -> None:
        from processor.common.rulebook import RulebookError, load_rulebook
        from processor.validate.roster import RosterError, load_roster

        try:
            roster = load_roster(self.paths["roster"]) if "roster" in changed else intake.roster
            rulebook = load_rulebook(self.paths["rulebook"]) if "rulebook" in changed else intake.rulebook
        except (RosterError, RulebookError, OSError) as exc:
            self.failed.update(changed)
            LOG.error("%s已修改，但无法读取（%s），继续使用原来的%s", _named(changed), exc, _named(changed))
            return
        intake.use(roster, rulebook)
        if "rulebook" in changed:  # the nights read the workspace's rulebook: this one from now on
            self.ws.__dict__["rulebook"] = rulebook
        self.seen.update(changed)
        for key in changed:
            self.failed.pop(key, None)
        LOG.info("%s已修改，已重新读取（名册 %d 个单位），此后收到的文件按新的%s处理", _named(changed),
                 len(roster.units), _named(changed))


def _named(changed: dict) -> str:
    return "、".join({"roster": "名册", "rulebook": "规则库"}[key] for key in changed)


def _signature(path: Path, previous: tuple | None = None) -> tuple | None:
    """(mtime, size, sha256) of a file, None when it cannot be read; the content is hashed only
    when the time or size moved (or on the first look)."""
    import hashlib

    try:
        st = path.stat()
        if previous is not None and previous[:2] == (st.st_mtime_ns, st.st_size):
            return previous
        return st.st_mtime_ns, st.st_size, hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def logged_by_intake(path: Path, exc: BaseException) -> None:
    """The intake has logged the failure in Chinese (details at debug level); the watcher only retries."""


def _scheduler(ws: Workspace, nightly: Nightly, every: float | None, at: tuple[int, int]) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=ws.timezone, job_defaults={"coalesce": True, "max_instances": 1,
                                                  "misfire_grace_time": MISFIRE_GRACE_SECONDS})
    if every:
        trigger = IntervalTrigger(seconds=every)
    else:
        trigger = CronTrigger(hour=at[0], minute=at[1])
    scheduler.add_job(nightly.run, trigger, id="nightly", name="夜间汇总并发送")
    scheduler.add_job(nightly.retry_due, IntervalTrigger(seconds=min(RETRY_CHECK_SECONDS, every or RETRY_CHECK_SECONDS)),
                      id="retry", name="重试发送")
    now = nightly.clock()
    state = read_state(ws)
    if not state:
        write_state(ws, since=now.isoformat(timespec="seconds"))  # from now on a missed night is noticed
    elif not every and missed_night(state, now, at):
        LOG.info("上次夜间汇总（%s）之后错过了 %s 的计划时间，现在补做一次",
                 state.get("last_run") or "从未运行", f"{last_scheduled_time(now, at):%Y-%m-%d %H:%M}")
        scheduler.add_job(nightly.run, DateTrigger(run_date=now), id="catch-up", name="补做夜间汇总",
                          misfire_grace_time=None)
    return scheduler
