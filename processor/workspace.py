"""The workspace as a library: create one, open one, and run each stage of the pipeline on it.

Scripts use this module the way the command line does (the command line is a thin layer over it)::

    from processor.workspace import Workspace

    ws = Workspace.open("/srv/qyz")
    ws.process()                          # the inbox, once: validate, record, archive, receipts
    print(ws.status("2026-10")["summary"])
    ws.consolidate(month="2026-10")       # reports, workbooks, dossiers, overview, manifest
    ws.send(dry_run=True)                 # the mail as an .eml file in outbox/邮件/

Long steps report progress through callbacks (``on_start``/``on_done``, ``on_output``); nothing
here prints.  Errors are raised as the stages define them (``ConfigError``, ``StorageError``, ...).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from collections.abc import Callable

from typing import TYPE_CHECKING

from processor.common.config import (CONFIG_NAME, DEFAULT_ADDRESSEE, DEFAULT_CONFIG_TEXT, DEFAULT_OFFICE,
                                     Workspace as WorkspaceConfig, WorkspaceExists, find_workspace, load_workspace)
from processor.common.clock import office_today
from processor.common.fsutil import atomic_write_text

if TYPE_CHECKING:
    from processor.consolidate.run import ConsolidationResult
    from processor.deliver.mail import SendResult
    from processor.deliver.remind import RemindResult
    from processor.deliver.replies import FetchResult
    from processor.intake.run import InboxPass, IntakeOutcome
    from processor.record.backup import BackupResult
    from processor.record.check import CheckReport
    from processor.record.restore import RestoreResult

# Each step imports its stage when called: a command loads only the libraries it uses.


class Workspace:
    """One workspace folder (config.toml, inbox, outbox, archive, ledger, roster) and the
    pipeline's steps on it.  Open one with :meth:`open`, make one with :meth:`create`."""

    def __init__(self, config: WorkspaceConfig):
        self.config = config  # the loaded config.toml with its paths and settings

    @classmethod
    def open(cls, path: Path | str | None = None) -> Workspace:
        """Open the workspace in ``path``; without one, ``$PROCESSOR_WORKSPACE``, then the nearest
        folder with a config.toml at or above the current directory.  Every config value is
        checked here (:class:`processor.common.config.ConfigError` names a wrong key)."""
        return cls(find_workspace(path))

    @classmethod
    def create(cls, path: Path | str) -> Workspace:
        """Make a new workspace in ``path`` (see :func:`init_workspace`) and open it."""
        init_workspace(path)
        return cls.open(path)

    @property
    def root(self) -> Path:
        return self.config.root

    def process(self, *, jobs: int | None = None, on_start: Callable[[int], None] | None = None,
                on_done: Callable[[IntakeOutcome | None], None] | None = None) -> InboxPass:
        """Take every file in the inbox once: validate, record in the ledger, archive, write its receipt.

        ``jobs``: files validated at once (one process each; default from the CPU count, at most 4).
        ``on_start(n)``: called once with the number of files found; ``on_done(outcome)`` after each.
        Holds the workspace lock meanwhile (:class:`processor.common.lock.AlreadyRunning` if another
        process has it).  Returns the pass: ``outcomes`` and the files still ``waiting`` with why."""
        from processor.common.lock import WorkspaceLock
        from processor.intake.run import default_jobs, run_inbox_pass

        with WorkspaceLock(self.config):
            return run_inbox_pass(self.config, settle_seconds=self.config.intake.stable_seconds,
                                  jobs=jobs or default_jobs(), on_start=on_start, on_done=on_done)

    def status(self, month: str | None = None, *, today: dt.date | None = None) -> dict:
        """Who has submitted for ``month`` (``YYYY-MM``; default: the latest month whose deadline has
        passed), recent rejections, the files still in the inbox and the outputs a person changed
        (``edited_outputs``), as plain data."""
        from processor.common.periods import last_due_month
        from processor.consolidate.recorder import edited_outputs
        from processor.consolidate.status import status_report
        from processor.intake.run import waiting_files
        from processor.record.ledger import Ledger
        from processor.validate.roster import workspace_roster

        today = today or office_today(self.config)
        book = self.config.rulebook
        month = month or max(last_due_month(today, book.submission_deadline_day), book.start)
        roster = workspace_roster(self.config)  # before the ledger: a missing roster stops here first
        with Ledger(self.config.ledger_path) as ledger:
            report = status_report(self.config, ledger, roster, month, today)
            report["edited_outputs"] = edited_outputs(self.config, ledger)  # files a person changed: never overwritten
            waiting = waiting_files(self.config, ledger=ledger)
        report["inbox"] = [{"file": w.name, "reason": w.reason} for w in waiting]
        return report

    def consolidate(self, *, month: str | None = None, half: str | None = None, year: str | None = None,
                    all_months: bool = False, today: dt.date | None = None, as_of: dt.date | None = None,
                    on_output: Callable[[str], None] | None = None, wait: bool = True,
                    on_wait: Callable[[str], None] | None = None) -> ConsolidationResult:
        """Build the reports of ``month`` (``YYYY-MM``), ``half`` (e.g. ``2026-H2``) and/or ``year``
        (e.g. ``2026``: the yearly summary), or of every period when ``all_months``; with none,
        the latest month due.  Unchanged outputs are not rewritten.
        ``as_of`` (or ``today``): the as-of day — the outputs as they stood at the end of that day
        (forms received later do not count).  ``on_output(path)`` after each output.
        While another consolidation runs this one waits (``on_wait(message)`` once), or with
        ``wait=False`` raises :class:`processor.common.lock.ConsolidationBusy`.
        See :func:`processor.consolidate.run.consolidate`."""
        from processor.consolidate.run import consolidate

        return consolidate(self.config, month=month, half=half, year=year, all_months=all_months, today=today,
                           as_of=as_of, on_output=on_output, wait=wait, on_wait=on_wait)

    def send(self, *, dry_run: bool = False, retry_now: bool = True) -> SendResult:
        """Mail the reports not yet delivered to the office, in one message; with ``dry_run`` (or no
        SMTP host configured) write it as an ``.eml`` file instead.  ``retry_now``: retry queued
        deliveries now rather than after their back-off (what an operator's ``send`` does)."""
        from processor.consolidate.mail_summary import ledger_summary
        from processor.deliver.mail import send_pending

        return send_pending(self.config, dry_run=dry_run, ignore_backoff=retry_now, summary_fallback=ledger_summary)

    def fetch(self, *, dry_run: bool = False) -> FetchResult:
        """Take the forms mailed to the 报送 mailbox (``[imap]``) once, each through the intake, and
        answer every message by reply; ``dry_run`` lists what would be taken and changes nothing."""
        from processor.common.lock import WorkspaceLock
        from processor.deliver.replies import fetch_mail

        if dry_run:
            return fetch_mail(self.config, dry_run=True)
        with WorkspaceLock(self.config):
            return fetch_mail(self.config)

    def remind(self, *, dry_run: bool = False, month: str | None = None) -> RemindResult:
        """Mail the reminders due now to units that have not submitted ``month`` (default: the month
        now due) or whose file was returned; nothing while ``[remind] enabled`` is false."""
        from processor.deliver.remind import send_reminders

        return send_reminders(self.config, dry_run=dry_run, month=month)

    def check(self) -> CheckReport:
        """Check the ledger and the archive (integrity, every archived original and its hash, every
        receipt, stray files); reads, never repairs."""
        from processor.record.check import check_workspace

        return check_workspace(self.config)

    def backup(self, dest: Path | str) -> BackupResult:
        """Copy the ledger (online backup), archive, receipts, config and roster into the new folder
        ``dest`` and verify the copy."""
        from processor.record.backup import backup_workspace

        return backup_workspace(self.config, dest)

    def restore(self, source: Path | str) -> RestoreResult:
        """Put the backup in ``source`` (made by :meth:`backup`) back: refuses while serve/watch runs,
        checks the backup, moves the current ledger (with its -wal/-shm), archive, receipts, config and
        roster into ``恢复前-<时间>/``, copies the backup in and checks the result.
        See :func:`processor.record.restore.restore_workspace`."""
        from processor.record.restore import restore_workspace

        return restore_workspace(self.config, source)


def first_collected_month(today: dt.date | None = None) -> str:
    """The month whose forms the office collects now: this month once last month's deadline has passed
    (on 2026-12-06 → 2026-12), else last month (on 2026-12-03, November's forms are still due → 2026-11)."""
    from processor.common.periods import add_months, last_due_month
    from processor.common.rulebook import load_rulebook

    book = load_rulebook()
    return max(add_months(last_due_month(today or office_today(), book.submission_deadline_day), 1), book.start)


def config_text(start_month: str | None = None) -> str:
    """The commented default config.toml, with ``[calendar] start_month`` set when given."""
    if not start_month:
        return DEFAULT_CONFIG_TEXT
    from processor.common.periods import parse_month

    parse_month(start_month)  # ValueError in Chinese for a bad month
    start = DEFAULT_CONFIG_TEXT.index('\nstart_month = ""') + 1
    comment = DEFAULT_CONFIG_TEXT.index("#", start)  # the comments stay in their column
    return (DEFAULT_CONFIG_TEXT[:start] + f'start_month = "{start_month}"'.ljust(comment - start - 1) + " "
            + DEFAULT_CONFIG_TEXT[comment:])


def init_workspace(folder: Path | str, *, start_month: str | None = None, office: str | None = None,
                   addressee: str | None = None) -> WorkspaceConfig:
    """Create a workspace: config.toml with commented defaults, a sample roster, inbox/ and outbox/,
    and an empty ledger.  ``start_month`` (``YYYY-MM``): the first month the office collects
    (``[calendar] start_month``; nothing before it is counted); None leaves the rulebook's start.
    ``office``: the 落款 of every report (``[report] office``; None leaves the placeholder, and the
    reports are marked 样稿); ``addressee``: their 主送 (default: the organisation the office's name
    shows it belongs to), never the office itself (:class:`ConfigError`).

    A workspace whose config exists but which never had a ledger (made before ``init`` created
    one, and nothing archived yet) only gets its ledger; anything else that exists is refused."""
    from processor.record.ledger import Ledger
    from processor.validate.roster import sample_roster, workspace_roster, write_roster

    root = Path(folder).resolve()
    config = root / CONFIG_NAME
    if config.exists():
        existing = load_workspace(root)
        if existing.ledger_path.exists() or any(p.is_file() for p in existing.archive.rglob("*")):
            raise WorkspaceExists(f"{config} 已存在，不会覆盖；如需重新初始化，请先删除或改名该文件。")
        Ledger.create(existing.ledger_path).close()
        return existing
    text = config_text(start_month)
    if office or addressee:
        from processor.common.config import ConfigError
        from processor.common.office import addressee_problem, parent_of, with_report_names

        office = (office or "").strip() or DEFAULT_OFFICE
        addressee = (addressee or "").strip() or parent_of(office) or DEFAULT_ADDRESSEE
        problem = addressee_problem(office, addressee)
        if problem:
            raise ConfigError(problem)
        text = with_report_names(text, office, addressee)
    ws = WorkspaceConfig(root, tomllib.loads(text))
    _ = ws.rulebook  # a start month outside the rulebook's months stops here, before anything is made
    root.mkdir(parents=True, exist_ok=True)
    ws.inbox.mkdir(parents=True, exist_ok=True)
    ws.outbox.mkdir(parents=True, exist_ok=True)
    if not ws.roster_path.exists():
        write_roster(sample_roster(), ws.roster_path)
        workspace_roster(ws)  # checked and remembered now: the first `status` answers without pandas
    Ledger.create(ws.ledger_path).close()  # only init and demo make a ledger; every other command needs one

    atomic_write_text(config, text)
    return ws
