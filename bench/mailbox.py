"""Forms by email at scale: N messages (200 by default) in a real IMAP server, taken by one
``processor fetch`` and each answered by reply to a real SMTP server.

Starts Dovecot (unprivileged, 127.0.0.1, as the tests do) and aiosmtpd, fills the mailbox with
one form per message from the sample roster's units (months and contents varied, some units sending
a corrected form again), runs ``processor fetch`` in its own process and reports messages per
second and the peak resident memory of the fetch process (and of its largest sandbox).

    .venv/bin/python bench/mailbox.py [--messages 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from deliver_helpers import make_workspace, smtp_server  # noqa: E402
from form_helpers import scenario_form  # noqa: E402
from imap_helpers import PASSWORD, PASSWORD_ENV, imap_config, start_dovecot, stop_dovecot  # noqa: E402
from test_mailbox import form_mail  # noqa: E402


def forms(folder: Path, count: int) -> list[tuple[str, str, bytes]]:
    """(unit's address, file name, form bytes) for ``count`` messages."""
    from processor.validate.roster import sample_roster

    units = sample_roster().units
    months = [f"2026-{m:02d}" for m in range(1, 11)]
    made = []
    for n in range(count):
        unit = units[n % len(units)]
        month = months[(n // len(units)) % len(months)]
        seed = n // (len(units) * len(months))  # past one round: a corrected form sent again
        path = scenario_form(folder / f"{n}.xlsx", unit.name, month, seed=seed)
        made.append((unit.email, f"{unit.name}{month}月报表.xlsx", path.read_bytes()))
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="processor-bench-mail-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o711)
        server = start_dovecot(root / "dovecot")
        try:
            user = server.new_user()
            made = forms(root / "forms", args.messages)
            for address, name, data in made:
                server.append(user, form_mail(address, [(name, data)], subject=name[:-5]))
            with smtp_server() as (replies, port):
                ws = make_workspace(root / "ws", port=port, extra=imap_config(server, user))
                env = {**os.environ, PASSWORD_ENV: PASSWORD}
                started = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "fetch", "--json"],
                                      env=env, capture_output=True, text=True)
                seconds = time.perf_counter() - started
                if done.returncode != 0:
                    print(done.stdout, done.stderr, file=sys.stderr)
                    return 1
                taken = json.loads(done.stdout)["taken"]
                answered = len(replies.messages)
        finally:
            stop_dovecot(server)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child: fetch or a sandbox
    result = {"messages": args.messages, "taken": len(taken), "answered": answered,
              "forms": sum(len(t["forms"]) for t in taken), "seconds": round(seconds, 1),
              "messages_per_second": round(args.messages / seconds, 1), "peak_rss_mb": round(peak_mb)}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{result['messages']} 封邮件：收取 {result['taken']} 封、回复 {result['answered']} 封，"
              f"用时 {result['seconds']} 秒（{result['messages_per_second']} 封/秒），"
              f"峰值内存 {result['peak_rss_mb']} MB")
    ok = result["taken"] == result["answered"] == result["forms"] == args.messages
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
