"""Operation torture: `processor serve` as an office runs it, with everything else going on beside it.

    python bench/torture.py [--minutes 20] [--seed 0] [--kills N] [--night-every 45] [--workspace DIR] [--json]

A fresh workspace is made with ``processor init`` (its sample roster; reminders switched on; mail
goes to a loopback SMTP server run by this script, or with ``--no-smtp`` into .eml files).
``processor serve`` runs in it as a real process, with accelerated nights (``PROCESSOR_NIGHTLY_EVERY``),
for ``--minutes`` while this driver, from other processes:

* drops real monthly forms into ``inbox/<unit>/`` (written beside the inbox, then renamed in, as a
  copy tool finishes a file): first submissions, resubmissions (same unit and month, new bytes),
  forms with errors, forms in another unit's folder, exact re-sends under a new name, and
  replacements (new bytes renamed over a file still waiting in the inbox);
* runs at random ``status``, ``status --json``, ``check``, ``backup <new dir>``, ``consolidate``,
  ``send --dry-run``, ``remind --dry-run``, ``validate <form>`` and ``template -o x.xlsx``
  (at most ``--parallel`` at once), each judged by its exit code (and its output where it has one);
* SIGKILLs serve's process group ``--kills`` times at seeded random moments and restarts it after
  a short random downtime (files keep arriving meanwhile).

Then a quiet period: serve drains the inbox (waited on, with a bound), the ledger is read from
outside while serve still runs, serve is stopped with SIGTERM, ``processor consolidate --all`` and
``processor check`` run, and:

* every dropped file (its inbox path and the SHA-256 of the bytes dropped) is in the ledger exactly
  once — a file replaced before intake may be missing, but its replacement may not; a form meant to be
  valid is accepted (or a duplicate / superseded), one with errors is rejected;
* nothing is left in the inbox; at most one accepted submission per unit and month; the outbox holds
  no temporary file, every output is whole and has the hash the ledger recorded;
* every receipt file belongs to a ledger row (number, name and the SHA-256 in its JSON twin), every
  row has its receipt pair, no receipt number is used twice;
* ``check`` passes; every side command exited 0 or with its documented code; serve never exited by
  itself and stopped with 0;
* no mail reached the SMTP server twice under different Message-IDs (same recipients, subject and
  attachments — or body, for a mail without attachments): a resend must be recognisable as one.

Prints a summary (serve runs, operations by kind and exit code, kills, files dropped, findings,
notes) and exits 1 on any finding.  The seed fixes the forms and the plan (what is dropped, which
commands, kill times); the machine's speed decides the interleaving.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import io
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from processor.common.fsutil import TEMP_PREFIX  # noqa: E402

NIGHTLY_EVERY_ENV = "PROCESSOR_NIGHTLY_EVERY"  # read by processor/deliver/serve.py
CLEARED_ENV = ("PROCESSOR_CRASH_AT", "PROCESSOR_WORKSPACE", NIGHTLY_EVERY_ENV)
RECEIPTS = "回执"
SEND_BUSY = "另一个发送"  # SendBusy: another send holds the send lock (documented exit 1)
SIDE_WEIGHTS = {"status": 3, "status --json": 3, "check": 2, "backup": 1, "consolidate": 1,
                "send --dry-run": 1, "remind --dry-run": 1, "validate": 2, "template": 1}
DROP_WEIGHTS = {"valid": 30, "resubmission": 20, "invalid": 15, "wrong-folder": 5, "duplicate": 15, "replace": 10}
VALID_STATUSES = {"accepted", "superseded", "duplicate"}
KEEP_FAILED_BACKUPS = 3  # kept for diagnosis; later failed copies are deleted (disk space)


# --- what happened ---------------------------------------------------------------------------------

@dataclass
class Drop:
    seq: int
    kind: str
    rel: str          # path relative to the inbox, e.g. "罗源县/罗源县2026年10月报表_0012.xlsx"
    sha: str
    t: float          # seconds since the start of the operation
    valid: bool       # the bytes are a correct form for that folder
    required: bool = True   # False once replaced: it may or may not have been taken before
    note: str = ""


@dataclass
class TortureReport:
    seconds: float = 0.0
    minutes: float = 0.0
    seed: int = 0
    serve_runs: int = 0
    kills: int = 0
    kills_planned: int = 0
    nights: int = 0
    files_dropped: int = 0
    drops: dict = field(default_factory=dict)       # kind -> count
    operations: dict = field(default_factory=dict)  # kind -> count
    exit_codes: dict = field(default_factory=dict)  # "kind: code" -> count
    mails: int = 0        # received by the loopback SMTP server
    ledger_rows: int = 0
    receipts: int = 0
    findings: list[str] = field(default_factory=list)   # "category: what, which file, which receipt"
    finding_counts: dict = field(default_factory=dict)  # category -> count
    notes: list[str] = field(default_factory=list)
    workspace: str = ""
    findings_file: str = ""

    @property
    def ok(self) -> bool:
        return not self.findings


# --- forms ------------------------------------------------------------------------------------------

def with_marker(data: bytes, n: int) -> bytes:
    """The same workbook with one extra zip member: new bytes, same content."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(f"docProps/torture{n}.xml", f"<v>{n}</v>")
    return out.getvalue()


def recent_months(count: int, today: dt.date | None = None) -> list[str]:
    """The ``count`` months before the current one (their deadlines have passed or are near)."""
    today = today or dt.date.today()
    year, month, months = today.year, today.month, []
    for _ in range(count):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        months.append(f"{year}-{month:02d}")
    return sorted(months)


class Forms:
    """Base forms made once (valid: per unit and month; with errors: one per unit), each
    validated in this process so the expected answer is known; variants get new bytes cheaply."""

    def __init__(self, folder: Path, *, units: int, months: int, seed: int, log=print) -> None:
        from processor.common.rulebook import load_rulebook
        from processor.validate.roster import sample_roster
        from processor.validate.samples import form_rows, write_form
        from processor.validate.validator import validate_file

        folder.mkdir(parents=True, exist_ok=True)
        roster, rulebook = sample_roster(), load_rulebook()
        self.units = [u.name for u in roster.units[:units]]
        self.months = recent_months(months)
        self.valid: dict[tuple[str, str], bytes] = {}
        self.invalid: dict[str, bytes] = {}
        self.counter = 0
        rng = random.Random(seed)
        started = time.monotonic()

        def made(name: str, rows, unit: str, month: str) -> tuple[Path, bool]:
            path = write_form(folder / name, rows, roster=roster, rulebook=rulebook, unit=unit, month=month)
            return path, validate_file(path, roster=roster, rulebook=rulebook, expected_unit=unit).accepted

        for unit in self.units:
            for month in self.months:
                rows = form_rows(roster=roster, rulebook=rulebook, unit=unit, month=month, seed=seed)
                path, accepted = made(f"valid-{len(self.valid)}.xlsx", rows, unit, month)
                if not accepted:
                    raise RuntimeError(f"the sample form of {unit} {month} does not validate: {path}")
                self.valid[(unit, month)] = path.read_bytes()
            month = rng.choice(self.months)
            for n, spoil in enumerate(rng.sample(SPOILERS, len(SPOILERS))):
                rows = form_rows(roster=roster, rulebook=rulebook, unit=unit, month=month, seed=seed)
                spoil(rows, month)
                path, accepted = made(f"invalid-{unit}-{n}.xlsx", rows, unit, month)
                if not accepted:
                    self.invalid[unit] = path.read_bytes()
                    break
            else:
                raise RuntimeError(f"no spoiled form of {unit} was rejected")
        if log:
            log(f"forms: {len(self.valid)} valid and {len(self.invalid)} with errors made in "
                f"{time.monotonic() - started:.0f} s")

    def variant(self, data: bytes) -> bytes:
        self.counter += 1
        return with_marker(data, self.counter)


def _blank_filler(rows, month):
    rows["basic_info"][0]["filler"] = None


def _contact_outside_month(rows, month):
    year, mon = int(month[:4]), int(month[5:])
    rows["contacts"][0]["date"] = dt.date(year - 1, mon, 1)


def _unknown_enterprise_kind(rows, month):
    rows["sites"][0]["enterprise_kind"] = "外星企业"


SPOILERS = [_blank_filler, _contact_outside_month, _unknown_enterprise_kind]


# --- processes -------------------------------------------------------------------------------------

def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(extra)
    return env


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def wait_for(condition, timeout: float, step: float = 0.1) -> bool:
    """Poll ``condition`` until true (True) or ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


class MailSink:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) keeping a fingerprint of every message it accepts."""

    def __init__(self) -> None:
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.messages: list[dict] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        attachments = sorted(sha256_of(part.get_payload(decode=True) or b"") for part in message.iter_attachments())
        body = message.get_body(("plain", "html"))
        text = body.get_content() if body is not None else ""
        self.messages.append({
            "message_id": str(message.get("Message-ID", "")), "subject": str(message.get("Subject", "")),
            "to": tuple(sorted(envelope.rcpt_tos)), "attachments": tuple(attachments),
            "content": ("attachments", tuple(attachments)) if attachments else ("body", sha256_of(text.encode())),
        })
        return "250 OK"

    def __enter__(self) -> MailSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def twice(self) -> list[str]:
        """Mails that arrived more than once under different Message-IDs."""
        seen: dict[tuple, list[str]] = collections.defaultdict(list)
        for m in self.messages:
            seen[(m["to"], m["subject"], m["content"])].append(m["message_id"])
        return [f"“{subject}” to {', '.join(to)} "
                f"({what}: {len(content) if what == 'attachments' else 'same text'}) "
                f"arrived {len(ids)} times under {len(set(ids))} Message-IDs: {', '.join(dict.fromkeys(ids))}"
                for (to, subject, (what, content)), ids in seen.items() if len(set(ids)) > 1]


class Serve:
    """``processor serve`` as a real process in its own process group, output in serve-<n>.log."""

    def __init__(self, ws_root: Path, logs: Path, night_every: float, report: TortureReport) -> None:
        self.ws_root, self.logs, self.night_every, self.report = ws_root, logs, night_every, report
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None

    def start(self) -> None:
        self.report.serve_runs += 1
        self.log_path = self.logs / f"serve-{self.report.serve_runs:03d}.log"
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "processor", "-w", str(self.ws_root), "serve"],
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=_env(**{NIGHTLY_EVERY_ENV: f"{self.night_every:g}"}))

    def exited_by_itself(self) -> int | None:
        """The exit code if serve ended without being told to (then it is no longer running)."""
        if self.proc is None or self.proc.poll() is None:
            return None
        code = self.proc.returncode
        self._reap()
        return code

    def kill(self) -> None:
        """SIGKILL the whole process group (serve and its workers), as a power cut or a killed service."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._reap()

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, as systemd stops it; the exit code, or None when it did not stop in time (then killed)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reap()
        return code

    def _reap(self) -> None:
        pgid = self.proc.pid
        self.proc = None
        wait_for(lambda: _group_gone(pgid), 30)  # its workers die with it: no lock holder left behind

    def tail(self, chars: int = 1500) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]


@dataclass
class SideOp:
    n: int
    kind: str
    args: list[str]
    proc: subprocess.Popen
    out: Path
    err: Path
    started: float
    expect: dict = field(default_factory=dict)


# --- the driver ------------------------------------------------------------------------------------

class Torture:
    def __init__(self, root: Path, *, minutes: float, seed: int, kills: int | None, night_every: float,
                 units: int, months: int, parallel: int, pace: float, quiet_timeout: float,
                 op_timeout: float, smtp: bool = True, log=print) -> None:
        self.root = Path(root).resolve()
        self.mail = MailSink() if smtp else None
        self.minutes, self.seed, self.parallel, self.pace = minutes, seed, parallel, pace
        self.quiet_timeout, self.op_timeout, self.log = quiet_timeout, op_timeout, log or (lambda *_: None)
        self.rng = random.Random(seed)
        self.report = TortureReport(minutes=minutes, seed=seed)
        self.kills_planned = kills if kills is not None else max(1, round(minutes * 2))
        self.ws_root = self.root / "ws"
        self.staging = self.root / "staging"   # same file system as the inbox: renames are atomic
        self.scratch = self.root / "scratch"
        self.opdir = self.root / "ops"
        for folder in (self.staging, self.scratch, self.opdir, self.root / "backups"):
            folder.mkdir(parents=True, exist_ok=True)
        self.drops: list[Drop] = []
        self.drops_by_kind: collections.Counter = collections.Counter()
        self.ops: collections.Counter = collections.Counter()
        self.codes: collections.Counter = collections.Counter()
        self.inflight: list[SideOp] = []
        self.failed_backups = 0
        self.t0 = time.monotonic()
        self.make_workspace(recent_months(months)[0])
        self.forms = Forms(self.scratch / "forms", units=units, months=months, seed=seed, log=self.log)
        self.validate_pool = self._validate_pool()
        self.serve = Serve(self.ws_root, self.root, night_every, self.report)

    # workspace ---------------------------------------------------------------------------------
    def make_workspace(self, first_month: str) -> None:
        done = subprocess.run([sys.executable, "-m", "processor", "init", str(self.ws_root)], capture_output=True,
                              text=True, env=_env(), timeout=300, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"processor init failed ({done.returncode}): {done.stderr[-800:]}")
        config = self.ws_root / "config.toml"
        text = set_config(config.read_text(encoding="utf-8"), "remind", "enabled", "true")
        # an office that starts collecting later would not count the months the forms are for
        text = set_config(text, "calendar", "start_month", f'"{first_month}"', required=False)
        if self.mail is not None:
            for key, value in (("host", '"127.0.0.1"'), ("port", str(self.mail.port)), ("security", '"none"'),
                               ("sender", '"qyz-processor@example.gov.cn"'),
                               ("recipients", '["qyz@example.gov.cn"]')):
                text = set_config(text, "smtp", key, value)
        config.write_text(text, encoding="utf-8")
        self.inbox = self.ws_root / "inbox"
        self.outbox = self.ws_root / "outbox"
        self.ledger_path = self.ws_root / "ledger.sqlite"

    def _validate_pool(self) -> list[tuple[Path, int]]:
        """Forms for ``processor validate``, with the exit code each must give."""
        pool = []
        for (unit, month), data in list(self.forms.valid.items())[:4]:
            path = self.scratch / f"validate-{unit}-{month}.xlsx"
            path.write_bytes(data)
            pool.append((path, 0))
        for unit, data in list(self.forms.invalid.items())[:2]:
            path = self.scratch / f"validate-{unit}-errors.xlsx"
            path.write_bytes(data)
            pool.append((path, 1))
        return pool

    def now(self) -> float:
        return time.monotonic() - self.t0

    def find(self, category: str, message: str) -> None:
        self.report.findings.append(f"{category}: {message}")
        self.report.finding_counts[category] = self.report.finding_counts.get(category, 0) + 1
        self.log(f"  FINDING {category}: {message}")

    # drops ---------------------------------------------------------------------------------------
    def waiting_drops(self) -> list[Drop]:
        """Drops whose path still holds exactly the bytes dropped (not yet taken by serve)."""
        latest: dict[str, Drop] = {}
        for d in self.drops:
            latest[d.rel] = d
        return [d for d in latest.values() if (self.inbox / d.rel).exists()]

    def drop(self) -> None:
        kind = self.rng.choices(list(DROP_WEIGHTS), weights=list(DROP_WEIGHTS.values()))[0]
        seq = len(self.drops) + 1
        units, months = self.forms.units, self.forms.months
        dropped_valid = [d for d in self.drops if d.valid and d.kind != "duplicate"]
        if kind == "replace":
            waiting = self.waiting_drops()
            if not waiting:
                kind = "resubmission"
            else:
                old = self.rng.choice(waiting)
                unit = old.rel.split("/")[0]
                valid = self.rng.random() < 0.7
                data = self.forms.variant(self.forms.valid[(unit, self.rng.choice(months))] if valid
                                          else self.forms.invalid[unit])
                self._place(Drop(seq, kind, old.rel, "", self.now(), valid), data, replacing=old)
                return
        if kind == "duplicate" and self.drops:
            source = self.rng.choice(self.drops)
            unit = source.rel.split("/")[0]
            data = self._bytes_of(source)
            if data is not None:
                name = f"{Path(source.rel).stem}({seq}).xlsx"  # "copy (2)": a new name, the same bytes
                self._place(Drop(seq, kind, f"{unit}/{name}", "", self.now(), source.valid), data)
                return
            kind = "valid"
        if kind == "resubmission" and not dropped_valid:
            kind = "valid"
        if kind == "duplicate":
            kind = "valid"
        if kind == "resubmission":
            source = self.rng.choice(dropped_valid)
            unit, month = source.rel.split("/")[0], self._month_of(source)
            valid = True
        elif kind == "valid":
            unit, month = self.rng.choice(units), self.rng.choice(months)
            valid = True
        elif kind == "invalid":
            unit, month, valid = self.rng.choice(units), None, False
        else:  # wrong-folder: another unit's correct form in this unit's folder
            unit = self.rng.choice(units)
            other, month = self.rng.choice([u for u in units if u != unit]), self.rng.choice(months)
            data = self.forms.variant(self.forms.valid[(other, month)])
            self._place(Drop(seq, kind, f"{unit}/{other}{month[:4]}年{int(month[5:])}月报表_{seq:04d}.xlsx", "",
                             self.now(), False), data)
            return
        base = self.forms.valid[(unit, month)] if valid else self.forms.invalid[unit]
        label = f"{month[:4]}年{int(month[5:])}月报表" if month else "月报表"
        self._place(Drop(seq, kind, f"{unit}/{unit}{label}_{seq:04d}.xlsx", "", self.now(), valid),
                    self.forms.variant(base))

    def _month_of(self, drop: Drop) -> str:
        match = re.search(r"(\d{4})年(\d{1,2})月", drop.rel)
        return f"{match.group(1)}-{int(match.group(2)):02d}" if match else self.rng.choice(self.forms.months)

    def _bytes_of(self, drop: Drop) -> bytes | None:
        kept = self.staging / f"kept-{drop.seq}.xlsx"
        return kept.read_bytes() if kept.exists() else None

    def _place(self, drop: Drop, data: bytes, replacing: Drop | None = None) -> None:
        drop.sha = sha256_of(data)
        kept = self.staging / f"kept-{drop.seq}.xlsx"   # for later exact re-sends
        kept.write_bytes(data)
        tmp = self.staging / f"incoming-{drop.seq}.tmp"
        tmp.write_bytes(data)
        target = self.inbox / drop.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if replacing is not None:
            replacing.required = False
            replacing.note = f"replaced by drop #{drop.seq} at +{drop.t:.1f} s"
            drop.note = f"renamed over drop #{replacing.seq}"
        os.replace(tmp, target)
        self.drops.append(drop)
        self.drops_by_kind[drop.kind] += 1

    # side commands -------------------------------------------------------------------------------
    def start_side(self) -> None:
        kind = self.rng.choices(list(SIDE_WEIGHTS), weights=list(SIDE_WEIGHTS.values()))[0]
        n = sum(self.ops.values()) + 1
        expect: dict = {}
        if kind == "backup":
            dest = self.root / "backups" / f"b{n:04d}"
            args, expect["dest"] = ["backup", str(dest)], dest
        elif kind == "validate":
            path, code = self.rng.choice(self.validate_pool)
            args, expect["code"] = ["validate", str(path)], code
        elif kind == "template":
            out = self.scratch / f"template-{n:04d}.xlsx"
            args, expect["output"] = ["template", "-o", str(out)], out
        elif kind == "consolidate" and self.rng.random() < 0.5:
            args = ["consolidate", "--month", self.rng.choice(self.forms.months)]
        else:
            args = kind.split()
        out, err = self.opdir / f"{n:04d}-{kind.split()[0]}.out", self.opdir / f"{n:04d}-{kind.split()[0]}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            proc = subprocess.Popen([sys.executable, "-m", "processor", "-w", str(self.ws_root), *args],
                                    stdout=o, stderr=e, start_new_session=True, env=_env())
        self.ops[kind] += 1
        self.inflight.append(SideOp(n, kind, args, proc, out, err, time.monotonic(), expect))

    def poll_sides(self, wait: bool = False) -> None:
        for op in list(self.inflight):
            if op.proc.poll() is None:
                if time.monotonic() - op.started > self.op_timeout:
                    os.killpg(op.proc.pid, signal.SIGKILL)
                    op.proc.wait()
                    self.inflight.remove(op)
                    self.codes[f"{op.kind}: hung"] += 1
                    self.find("side command", f"#{op.n} `processor {' '.join(op.args)}` hung: killed after "
                              f"{self.op_timeout:.0f} s (output in {op.out.parent})")
                continue
            self.inflight.remove(op)
            self.judge(op)
        if wait:
            while self.inflight:
                time.sleep(0.1)
                self.poll_sides()

    def judge(self, op: SideOp) -> None:
        code = op.proc.returncode
        self.codes[f"{op.kind}: {code}"] += 1
        out = op.out.read_text(encoding="utf-8", errors="replace")
        err = op.err.read_text(encoding="utf-8", errors="replace")
        what = f"side command #{op.n} `processor {' '.join(op.args)}` (+{op.started - self.t0:.0f} s)"
        problem = None
        if "Traceback (most recent call last)" in err:
            problem = f"exit {code} with a traceback: {_brief(err)}"
        elif op.kind in ("status", "template", "consolidate") and code != 0:
            problem = f"exit {code}: {_brief(err or out)}"
        elif op.kind == "status --json":
            if code != 0:
                problem = f"exit {code}: {_brief(err)}"
            else:
                try:
                    json.loads(out)
                except ValueError as exc:
                    problem = f"exit 0 but its output is not JSON ({exc}): {out[:300]}"
        elif op.kind == "check":
            if code == 1:  # documented: problems found; with serve at work it may see work in flight
                lines = [line for line in out.splitlines() if line.startswith("问题")]
                self.report.notes.append(f"{what} exited 1 (documented): {'; '.join(lines[:3])}"
                                         + (f" … {len(lines)} problems" if len(lines) > 3 else ""))
            elif code != 0:
                problem = f"exit {code}: {_brief(err or out)}"
        elif op.kind == "backup":
            dest = op.expect["dest"]
            kept = code != 0 and self.failed_backups < KEEP_FAILED_BACKUPS
            if not kept:  # a good one was verified by the command itself: keep the disk free
                shutil.rmtree(dest, ignore_errors=True)
            if code != 0:
                self.failed_backups += 1
                problem = (f"exit {code} ({f'backup kept in {dest}' if kept else 'backup deleted'}): "
                           f"{_brief(out + err)}")
        elif op.kind in ("send --dry-run", "remind --dry-run"):
            if code == 1 and SEND_BUSY in err:
                self.codes[f"{op.kind}: busy"] += 1
            elif code != 0:
                problem = f"exit {code}: {_brief(err or out)}"
        elif op.kind == "validate":
            if code != op.expect["code"]:
                problem = f"exit {code}, expected {op.expect['code']}: {_brief(out + err)}"
        if op.kind == "template" and code == 0:
            output = op.expect["output"]
            if not zipfile.is_zipfile(output):
                problem = f"exit 0 but {output} is not a workbook"
            else:
                output.unlink()
        if problem:
            self.find("side command", f"{what}: {problem}")

    # the operation -------------------------------------------------------------------------------
    def run(self) -> TortureReport:
        report = self.report
        report.workspace = str(self.ws_root)
        report.kills_planned = self.kills_planned
        duration = self.minutes * 60
        self.t0 = time.monotonic()
        kill_plan = sorted(self.rng.uniform(0.05, 0.95) * duration for _ in range(self.kills_planned))
        restart_at = 0.0
        if self.mail is not None:
            self.mail.__enter__()
        self.serve.start()
        self.log(f"workspace {self.ws_root}: serve started; {duration:.0f} s of operation, "
                 f"{len(kill_plan)} kills planned")
        last_said = 0.0
        while self.now() < duration:
            self.poll_sides()
            self.watch_serve()
            kill_due = bool(kill_plan) and self.now() >= kill_plan[0]
            if not self.serve.running and (self.now() >= restart_at or kill_due):
                self.serve.start()  # a kill due while serve is down lands on the start itself
            if kill_due:
                kill_plan.pop(0)
                self.serve.kill()
                report.kills += 1
                restart_at = self.now() + self.rng.uniform(0.0, 3.0)
            if self.rng.random() < 0.4 and len(self.inflight) < self.parallel:
                self.start_side()
            else:
                self.drop()
            if self.now() - last_said > 30:
                last_said = self.now()
                self.log(f"  +{self.now():.0f} s: {len(self.drops)} files dropped, {sum(self.ops.values())} commands, "
                         f"{report.kills} kills, {len(report.findings)} findings")
            time.sleep(self.rng.uniform(0.05, 2 * self.pace))
        self.finish()
        return report

    def watch_serve(self) -> None:
        code = self.serve.exited_by_itself()
        if code is not None:
            self.find("serve", f"run {self.report.serve_runs} exited by itself with code {code} at "
                      f"+{self.now():.0f} s: {_brief(self.serve.tail(3000))}")
            self.serve.start()

    def finish(self) -> None:
        report = self.report
        self.log(f"quiet period: {len(self.drops)} files dropped; waiting for the side commands and the inbox")
        self.poll_sides(wait=True)
        if not self.serve.running:
            self.serve.start()

        def drained() -> bool:
            self.watch_serve()
            return not inbox_files(self.inbox)

        if not wait_for(drained, self.quiet_timeout, step=0.2):
            self.log(f"  the inbox still holds files after {self.quiet_timeout:.0f} s")
        self.verify_live()
        code = self.serve.stop(timeout=180)
        if code is None:
            self.find("serve", "did not stop within 180 s of SIGTERM (killed)")
        elif code != 0:
            self.find("serve", f"exited {code} on SIGTERM: {_brief(self.serve.tail(3000))}")
        self.final_consolidate()
        self.final_check()
        self.verify_final()
        self.read_serve_log()
        if self.mail is not None:
            self.mail.__exit__(None, None, None)
            report.mails = len(self.mail.messages)
            for text in self.mail.twice():
                self.find("mail twice", text)
        report.seconds = time.monotonic() - self.t0
        report.drops = dict(self.drops_by_kind)
        report.files_dropped = len(self.drops)
        report.operations = dict(self.ops)
        report.exit_codes = dict(sorted(self.codes.items()))
        findings = self.root / "findings.txt"
        findings.write_text("".join(f"{f}\n" for f in report.findings), encoding="utf-8")
        report.findings_file = str(findings)

    def read_serve_log(self) -> None:
        """Errors serve logged: a failed night, send or reminder run is a finding; the intake's own
        retries (a file that changed or vanished while read stays for the next pass) are notes."""
        log_file = self.ws_root / "logs" / "processor.log"
        if not log_file.exists():
            return
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        self.report.nights = sum("开始夜间汇总" in line for line in lines)
        grouped: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        for i, line in enumerate(lines):
            match = re.match(r"(\S+ \S+) \[错误\] (\S+?)：(.*)", line)
            if not match:
                continue
            when, logger, message = match.groups()
            cause = ""
            for following in lines[i + 1:i + 60]:  # its traceback, up to the next log line
                if re.match(r"\d{4}-\d\d-\d\d ", following):
                    break
                if re.match(r"[\w.]+(Error|Exception|Busy)\b", following):
                    cause = following.strip()
            key = re.sub(r"\d+", "N", message)[:120] + (f" ← {cause[:200]}" if cause else "")
            grouped[(logger, key)].append(when)
        for (logger, message), times in grouped.items():
            text = f"{logger} logged ×{len(times)} (first {times[0]}, last {times[-1]}): {message}"
            if logger == "processor.deliver.serve":
                self.find("serve log", text)
            else:
                self.report.notes.append(text)

    # verification --------------------------------------------------------------------------------
    def ledger_rows(self) -> list[dict]:
        """The files table as another process sees it (read-only: this never migrates or writes)."""
        conn = sqlite3.connect(f"{self.ledger_path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(
                "SELECT id, sha256, inbox_path, original_name, status, unit, month, received_at, receipt_path, "
                "inbox_removed, duplicate_of, error_count, problems_json FROM files ORDER BY id")]
        finally:
            conn.close()

    def receipt_index(self) -> dict[tuple[str, str], list[str]]:
        """(sha256, file name) -> the receipt numbers that answered it, from the receipts' JSON twins."""
        found: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        for path in (self.outbox / RECEIPTS).rglob("*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found[(data["sha256"], data["file_name"])].append(data["receipt"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return found

    @staticmethod
    def answered(index: dict, drop: Drop) -> str:
        numbers = sorted(set(index.get((drop.sha, Path(drop.rel).name), ())))
        return f"receipt {', '.join(numbers)} answered it" if numbers else "no receipt answered it"

    def verify_live(self) -> None:
        """With serve still running and the inbox drained: what `status` or a consolidation would see."""
        try:
            rows = self.ledger_rows()
        except sqlite3.Error as exc:
            self.find("unseen while serving", f"the ledger cannot be read by another process: {exc}")
            return
        seen = {(_text(r["inbox_path"]), r["sha256"]) for r in rows}
        index = self.receipt_index()
        for d in self.drops:
            if d.required and (d.rel, d.sha) not in seen and not (self.inbox / d.rel).exists():
                self.find("unseen while serving", f"drop #{d.seq} ({d.kind}, +{d.t:.1f} s) inbox/{d.rel} "
                          f"sha256 {d.sha[:12]} left the inbox, {self.answered(index, d)}, but the ledger as "
                          "other processes read it has no row for it")

    def whose_bytes(self, problem: dict) -> str:
        """For an archive file that is not what the ledger says: which drops the name and the bytes are."""
        if problem.get("code") not in ("archive-changed", "orphan-archive"):
            return ""
        path = Path(problem.get("path", ""))
        try:
            actual = sha256_of(path.read_bytes())
        except OSError:
            return ""

        def drops_of(sha: str) -> str:
            found = [f"#{d.seq} ({d.kind}, inbox/{d.rel})" for d in self.drops if d.sha == sha]
            return ", ".join(found) or "no drop"

        named = path.stem
        if named == actual:
            return f" [the bytes of drop {drops_of(actual)}]"
        return f" [named after the bytes of drop {drops_of(named)}; holds the bytes of drop {drops_of(actual)}]"

    def final_consolidate(self) -> None:
        """After the kills, one consolidation of everything must succeed and leave every output whole,
        each with the hash the ledger recorded for it."""
        done = subprocess.run([sys.executable, "-m", "processor", "-w", str(self.ws_root), "consolidate", "--all",
                               "--json"], capture_output=True, text=True, env=_env(), timeout=1200)
        self.codes[f"final consolidate: {done.returncode}"] += 1
        if done.returncode != 0:
            self.find("final consolidate", f"`processor consolidate --all` exited {done.returncode}: "
                                           f"{_brief(done.stderr or done.stdout)}")
        for path in sorted(p for p in self.outbox.rglob("*") if p.is_file()):
            rel = path.relative_to(self.outbox).as_posix()
            if path.name.startswith(TEMP_PREFIX) or path.suffix in (".tmp", ".part"):
                self.find("outbox", f"{rel} is a temporary file left behind")
            elif path.suffix in (".xlsx", ".docx"):
                try:
                    with zipfile.ZipFile(path) as archive:
                        if archive.testzip() is not None:
                            self.find("outbox", f"{rel} is a damaged workbook or document")
                except zipfile.BadZipFile:
                    self.find("outbox", f"{rel} is not a whole workbook or document")
            elif path.suffix == ".json":
                try:
                    json.loads(path.read_text(encoding="utf-8"))
                except ValueError:
                    self.find("outbox", f"{rel} is not whole JSON")
        try:
            conn = sqlite3.connect(f"{self.ledger_path.as_uri()}?mode=ro", uri=True, timeout=30)
            try:
                outputs = conn.execute("SELECT path, sha256, version FROM outputs ORDER BY path").fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self.find("outbox", f"the ledger's outputs table cannot be read: {exc}")
            return
        for rel, sha, version in outputs:
            target = self.outbox / rel
            if not target.is_file():
                self.find("outbox", f"{rel} (version {version} in the ledger) is missing")
            elif sha256_of(target.read_bytes()) != sha:
                self.find("outbox", f"{rel} is not the version {version} the ledger recorded (sha256 {sha[:12]})")

    def final_check(self) -> None:
        done = subprocess.run([sys.executable, "-m", "processor", "-w", str(self.ws_root), "check", "--json"],
                              capture_output=True, text=True, env=_env(), timeout=600)
        self.codes[f"final check: {done.returncode}"] += 1
        if done.returncode == 0:
            return
        try:
            problems = json.loads(done.stdout)["problems"]
        except (ValueError, KeyError):
            self.find("final check", f"`processor check` exited {done.returncode}: "
                                     f"{_brief(done.stderr or done.stdout)}")
            return
        self.find("final check", f"`processor check` exited {done.returncode} with {len(problems)} problems")
        for p in problems[:40]:
            self.find("final check", f"{p.get('label')}: {p.get('message')}{self.whose_bytes(p)}")
        if len(problems) > 40:
            self.find("final check", f"… and {len(problems) - 40} more")

    def verify_final(self) -> None:
        try:
            rows = self.ledger_rows()
        except sqlite3.Error as exc:
            self.find("ledger", f"the ledger cannot be read after serve stopped: {exc}")
            return
        self.report.ledger_rows = len(rows)
        self._verify_drops(rows)
        self._verify_inbox()
        self._verify_receipts(rows)
        current = collections.Counter((r["unit"], r["month"]) for r in rows if r["status"] == "accepted")
        for (unit, month), n in sorted(current.items()):
            if n > 1:
                ids = [r["id"] for r in rows if r["status"] == "accepted" and (r["unit"], r["month"]) == (unit, month)]
                self.find("two current", f"{unit} {month} has {n} current accepted submissions (rows {ids}); "
                                         "the last one should have superseded the others")

    def _verify_drops(self, rows: list[dict]) -> None:
        by_key: dict[tuple, list[dict]] = collections.defaultdict(list)
        for r in rows:
            by_key[(_text(r["inbox_path"]), r["sha256"])].append(r)
        drops_by_key: dict[tuple, list[Drop]] = collections.defaultdict(list)
        for d in self.drops:
            drops_by_key[(d.rel, d.sha)].append(d)
        index = self.receipt_index()
        for key, drops in drops_by_key.items():
            recorded = by_key.get(key, [])
            must = [d for d in drops if d.required]
            if len(recorded) < len(must):
                for d in must[len(recorded):]:
                    where = "still in the inbox" if (self.inbox / d.rel).exists() else "gone from the inbox"
                    self.find("lost", f"drop #{d.seq} ({d.kind}, +{d.t:.1f} s) inbox/{d.rel} sha256 {d.sha[:12]} "
                              f"is not in the ledger, {where}, {self.answered(index, d)}"
                              + (f" ({d.note})" if d.note else ""))
            elif len(recorded) > len(drops):
                self.find("counted twice", f"inbox/{key[0]} sha256 {key[1][:12]} dropped {len(drops)} time(s) "
                          f"(#{', #'.join(str(d.seq) for d in drops)}) but recorded {len(recorded)} times: rows "
                          + ", ".join(f"{r['id']} ({r['status']})" for r in recorded))
            for r in recorded:
                valid = drops[0].valid
                if valid and r["status"] not in VALID_STATUSES:
                    first = (json.loads(r["problems_json"] or "[]") or [{}])[0]
                    self.find("wrong answer", f"row {r['id']} (drop #{drops[0].seq}, {drops[0].kind}, inbox/{key[0]}, "
                              f"sha256 {key[1][:12]}) is a correct form but was {r['status']}: "
                              f"{first.get('message', '')}"
                              + (f" ({drops[0].note})" if drops[0].note else ""))
                elif not valid and r["status"] != "rejected":
                    self.find("wrong answer", f"row {r['id']} (drop #{drops[0].seq}, {drops[0].kind}, inbox/{key[0]}, "
                              f"sha256 {key[1][:12]}) has errors but was {r['status']}"
                              + (f" ({drops[0].note})" if drops[0].note else ""))
        for key, recorded in by_key.items():
            if key not in drops_by_key:
                for r in recorded:
                    self.find("unknown row", f"row {r['id']} (inbox/{key[0]}, sha256 {key[1][:12]}, {r['status']}) "
                                             "matches no "
                              "dropped file: its hash is not that of the bytes dropped at that path")

    def _verify_inbox(self) -> None:
        latest = {d.rel: d for d in self.drops}
        for path in inbox_files(self.inbox):
            rel = path.relative_to(self.inbox).as_posix()
            d = latest.get(rel)
            self.find("left in the inbox", f"{rel}" + (f" (drop #{d.seq}, {d.kind}, +{d.t:.1f} s)" if d else
                                                      " (not a dropped file)"))

    def _verify_receipts(self, rows: list[dict]) -> None:
        outbox, folder = self.outbox, self.outbox / RECEIPTS
        by_id = {r["id"]: r for r in rows}
        numbered: dict[int, set[str]] = collections.defaultdict(set)
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        self.report.receipts = sum(1 for p in files if p.suffix == ".html")
        for path in files:
            rel = path.relative_to(outbox).as_posix()
            match = re.match(r"(\d{6})_", path.name)
            if path.name.startswith(".") or not match:
                self.find("stray receipt", f"receipt folder holds {rel}, which is no receipt (temp or stray file)")
                continue
            number = int(match.group(1))
            stem = path.name.removesuffix("_批注.xlsx") if path.name.endswith("_批注.xlsx") else path.stem
            if path.suffix == ".html":
                numbered[number].add(rel)
            row = by_id.get(number)
            if row is None:
                self.find("receipt without row", f"receipt {rel} (number {number:06d}) belongs to no ledger row: "
                                                 f"there is no row {number}")
                continue
            own = row["receipt_path"]
            if own and (Path(own).stem != stem or Path(own).parent != Path(rel).parent):
                self.find("receipt of another row", f"receipt {rel} (number {number:06d}) is not row {number}'s "
                                                    f"receipt: row {number} is "
                          f"“{row['original_name']}” ({row['status']}) with receipt {own}")
            if path.suffix == ".json":
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    self.find("receipt of another row", f"receipt {rel} cannot be read: {exc}")
                    continue
                if data.get("sha256") != row["sha256"]:
                    self.find("receipt of another row", f"receipt {rel} answers “{data.get('file_name')}” sha256 "
                                                        f"{str(data.get('sha256'))[:12]}, "
                              f"but ledger row {number} is “{row['original_name']}” sha256 {row['sha256'][:12]}")
        for number, receipts in sorted(numbered.items()):
            if len(receipts) > 1:
                self.find("receipt number reused", f"receipt number {number:06d} is used by {len(receipts)} receipts: "
                                                   f"{', '.join(sorted(receipts))}")
        for r in rows:
            if not r["receipt_path"]:
                self.find("row without receipt", f"row {r['id']} “{r['original_name']}” ({r['status']}) "
                                                 "has no receipt")
                continue
            html = outbox / r["receipt_path"]
            for part in (html, html.with_suffix(".json")):
                if not part.is_file():
                    self.find("row without receipt", f"row {r['id']} “{r['original_name']}”: its receipt file "
                                                     f"{part.relative_to(outbox)} "
                              "is missing")


def set_config(text: str, section: str, key: str, value: str, *, required: bool = True) -> str:
    """config.toml with ``key = value`` (a one-line TOML value) in ``[section]``, its other lines as they were."""
    lines = text.splitlines(keepends=True)
    current = None
    for i, line in enumerate(lines):
        header = re.match(r"\s*\[([\w.-]+)\]\s*(#.*)?$", line)
        if header:
            current = header.group(1)
        elif current == section and re.match(rf"\s*{re.escape(key)}\s*=", line):
            lines[i] = f"{key} = {value}\n"
            return "".join(lines)
    if required:
        raise RuntimeError(f"config.toml has no {key} in [{section}] to set")
    return text


def sha256_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _brief(text: str, limit: int = 700) -> str:
    """A command's output in one line: its first problem lines (问题：…) and its last lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    problems = [line for line in lines if line.startswith("问题")]
    picked = problems[:2] + ([f"… {len(problems)} 问题 lines in all"] if len(problems) > 2 else []) + lines[-2:]
    joined = " | ".join(dict.fromkeys(picked))
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def _text(value) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def inbox_files(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.rglob("*") if p.is_file() or p.is_symlink()) if inbox.is_dir() else []


def run_torture(root: Path, *, minutes: float = 20.0, seed: int = 0, kills: int | None = None,
                night_every: float = 45.0, units: int = 6, months: int = 3, parallel: int = 2, pace: float = 0.6,
                quiet_timeout: float = 300.0, op_timeout: float = 600.0, smtp: bool = True,
                log=print) -> TortureReport:
    """Run the torture in a new folder ``root`` (workspace in root/ws); returns the figures and findings."""
    torture = Torture(root, minutes=minutes, seed=seed, kills=kills, night_every=night_every, units=units,
                      months=months, parallel=parallel, pace=pace, quiet_timeout=quiet_timeout,
                      op_timeout=op_timeout, smtp=smtp, log=log)
    try:
        return torture.run()
    finally:
        if torture.mail is not None and torture.mail.controller.loop.is_running():
            torture.mail.__exit__(None, None, None)
        for op in torture.inflight:  # only after an exception: nothing of ours keeps running
            with_group_killed(op.proc)
        if torture.serve.proc is not None:
            with_group_killed(torture.serve.proc)


def with_group_killed(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def print_report(report: TortureReport, shown_per_category: int = 6) -> None:
    print(f"workspace: {report.workspace}")
    print(f"time: {report.seconds:.0f} s ({report.minutes:g} min of operation, seed {report.seed})")
    print(f"serve runs: {report.serve_runs}; kills: {report.kills} of {report.kills_planned} planned; "
          f"nights started: {report.nights}")
    print(f"files dropped: {report.files_dropped} — "
          + ", ".join(f"{k} {v}" for k, v in sorted(report.drops.items())))
    print(f"side commands: {sum(report.operations.values())} — "
          + ", ".join(f"{k} {v}" for k, v in sorted(report.operations.items())))
    print("exit codes: " + ", ".join(f"{k} ×{v}" for k, v in report.exit_codes.items()))
    print(f"ledger rows: {report.ledger_rows}; receipts: {report.receipts}; mails received: {report.mails}")
    for note in report.notes[:20]:
        print(f"note: {note}")
    if len(report.notes) > 20:
        print(f"note: … and {len(report.notes) - 20} more")
    print(f"findings: {len(report.findings)}"
          + (f" (all of them in {report.findings_file})" if report.findings else ""))
    for category, count in report.finding_counts.items():
        print(f"  {category}: {count}")
        shown = [f for f in report.findings if f.startswith(f"{category}: ")][:shown_per_category]
        for finding in shown:
            print(f"    - {finding.removeprefix(f'{category}: ')}")
        if count > len(shown):
            print(f"    - … {count - len(shown)} more")
    print("PASS" if report.ok else "FAIL")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="minutes of operation before the quiet period")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kills", type=int, default=None, help="SIGKILLs of serve (default: 2 per minute)")
    parser.add_argument("--night-every", type=float, default=45.0,
                        help=f"seconds between serve's nights ({NIGHTLY_EVERY_ENV})")
    parser.add_argument("--units", type=int, default=6, help="units of the sample roster that submit")
    parser.add_argument("--months", type=int, default=3, help="months submitted (the ones before this month)")
    parser.add_argument("--parallel", type=int, default=2, help="side commands running at once, at most")
    parser.add_argument("--pace", type=float, default=0.6, help="mean pause between two actions, seconds")
    parser.add_argument("--quiet-timeout", type=float, default=300.0, help="bound on the final drain, seconds")
    parser.add_argument("--no-smtp", dest="smtp", action="store_false",
                        help="no SMTP server: every mail is written as an .eml file")
    parser.add_argument("--workspace", type=Path, help="a new folder for the run (default: a temp folder)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="torture-"))
    report = run_torture(root, minutes=args.minutes, seed=args.seed, kills=args.kills, night_every=args.night_every,
                         units=args.units, months=args.months, parallel=args.parallel, pace=args.pace,
                         quiet_timeout=args.quiet_timeout, smtp=args.smtp, log=None if args.json else print)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
