"""Drop → handled latency of the inbox watcher, with inotify and with polling.

    python bench/latency.py                      # both observers, 20 drops each
    python bench/latency.py --mode inotify --stable 1.0 --drops 50

Each drop writes a small real workbook into a fresh inbox (the way a copy
would) and waits until the handler has finished with it.  The handler is
chosen with ``--handler``; ``trivial`` just removes the file, so the numbers
are the watcher's own share (stability window + loop tick + event delivery).
A handler that runs the real intake plugs in through HANDLERS.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from collections.abc import Callable

import openpyxl

from processor.intake.watch import InboxWatcher

Handle = Callable[[Path], object]


def trivial_handler(root: Path) -> Handle:
    """Reads the file and removes it from the inbox, nothing else."""
    def handle(path: Path) -> None:
        path.read_bytes()
        path.unlink()
    return handle


def intake_handler(roster_path: Path | None = None) -> Callable[[Path], Handle]:
    """The real intake (validate, archive, ledger, receipt) in a workspace at ``root``."""
    def make(root: Path) -> Handle:
        import shutil

        from processor.workspace import init_workspace
        from processor.intake.run import Intake

        ws = init_workspace(root)
        if roster_path is not None:
            shutil.copyfile(roster_path, ws.roster_path)
        return Intake(ws).handle
    return make


HANDLERS: dict[str, Callable[[Path], Handle]] = {"trivial": trivial_handler, "intake": intake_handler()}


def sample_workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in range(50):
        sheet.append([f"示范点{row}", row, "联系指导"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure_latency(make_watcher: Callable[[Path, Handle], InboxWatcher], drops: int = 20,
                    make_handle: Callable[[Path], Handle] = trivial_handler,
                    timeout: float = 30.0, payload: Callable[[int], bytes] | None = None) -> dict:
    """Drop ``drops`` files one after another; return latency numbers in seconds.

    ``make_watcher(inbox, handle)`` builds the watcher under test;
    ``make_handle(root)`` builds the handler (``root`` is a fresh workspace
    folder whose ``inbox`` sub-folder is watched); ``payload(n)`` gives the
    bytes of drop ``n`` (default: one small workbook for every drop).
    """
    if payload is None:
        fixed = sample_workbook()
        payload = lambda _n: fixed  # noqa: E731
    latencies: list[float] = []
    lost = 0
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        root = Path(tmp)
        inbox = root / "inbox"
        inbox.mkdir()
        finished: dict[str, float] = {}
        done = threading.Condition()
        inner = make_handle(root)

        def timed_handle(path: Path) -> object:
            result = inner(path)
            with done:
                finished[path.name] = time.monotonic()
                done.notify_all()
            return result

        watcher = make_watcher(inbox, timed_handle)
        watcher.start()
        stop = threading.Event()
        loop = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
        loop.start()
        try:
            for number in range(drops):
                name = f"单位{number:03d}.xlsx"
                data = payload(number)
                dropped = time.monotonic()
                (inbox / name).write_bytes(data)
                with done:
                    if not done.wait_for(lambda name=name: name in finished, timeout=timeout):
                        lost += 1
                        continue
                latencies.append(finished[name] - dropped)
        finally:
            stop.set()
            loop.join(timeout=10)
    if not latencies:
        return {"drops": drops, "handled": 0, "lost": lost}
    return {
        "drops": drops,
        "handled": len(latencies),
        "lost": lost,
        "median": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
        "min": min(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="收件箱：放入文件到处理完成的延迟")
    parser.add_argument("--mode", choices=["inotify", "polling", "both"], default="both")
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--stable", type=float, default=2.0, help="stable_seconds（默认同配置默认值）")
    parser.add_argument("--interval", type=float, default=2.0, help="轮询间隔（polling 模式）")
    parser.add_argument("--close-settle", type=float, default=None,
                        help="close_settle_seconds：inotify 看到写入关闭且 zip 完整后只需静置这么久")
    parser.add_argument("--handler", choices=sorted(HANDLERS), default="trivial")
    args = parser.parse_args(argv)

    modes = ["inotify", "polling"] if args.mode == "both" else [args.mode]
    print(f"handler={args.handler} stable_seconds={args.stable} poll_interval={args.interval} "
          f"close_settle_seconds={args.close_settle} drops={args.drops}")
    for mode in modes:
        def make(inbox: Path, handle: Handle, mode=mode) -> InboxWatcher:
            return InboxWatcher(inbox, handle, polling=(mode == "polling"), poll_interval=args.interval,
                                stable_seconds=args.stable, rescan_seconds=60.0,
                                close_settle_seconds=args.close_settle)
        result = measure_latency(make, drops=args.drops, make_handle=HANDLERS[args.handler])
        if not result.get("handled"):
            print(f"{mode:8s} no file handled ({result['lost']} lost)")
            continue
        print(f"{mode:8s} median {result['median']:.2f} s   p95 {result['p95']:.2f} s   "
              f"max {result['max']:.2f} s   min {result['min']:.2f} s   lost {result['lost']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
