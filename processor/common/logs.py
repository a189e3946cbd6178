"""Logging for the long-running commands: a rotating file in the workspace plus the console.

Messages are Chinese (operators read them); level names are shown in Chinese too.
``<workspace>/logs/processor.log`` rotates at 5 MB, keeping 5 old files, so an
unattended machine never fills its disk.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import unicodedata
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOGGER_NAME = "processor"
LOG_FILE = "processor.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
LEVEL_CN = {"DEBUG": "调试", "INFO": "信息", "WARNING": "警告", "ERROR": "错误", "CRITICAL": "严重"}
_MARK = "_processor_handler"  # set on our handlers so a second setup replaces, never duplicates


_SHOWN = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with its control characters and line separators shown escaped (``\\n``, ``\\x1b``,
    ``\\u2028``): a file name written by anyone can never start a line of the log of its own."""
    return "".join(_SHOWN.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


class ChineseLevelFormatter(logging.Formatter):
    """Chinese level names; each message on one line (its tracebacks, the log file's, follow it)."""

    def format(self, record: logging.LogRecord) -> str:
        record.level_cn = LEVEL_CN.get(record.levelname, record.levelname)
        return super().format(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


class OneLineFormatter(ChineseLevelFormatter):
    """For the console: the message only; tracebacks belong in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def log_path(ws) -> Path:
    return Path(ws.root) / "logs" / LOG_FILE


def setup_logging(ws, *, console: bool = True, level: int = logging.INFO) -> logging.Logger:
    """Route the ``processor`` loggers to the workspace log file and (optionally) stderr."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    for handler in [h for h in logger.handlers if getattr(h, _MARK, False)]:
        logger.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [_file_handler(ws)]
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(max(level, logging.INFO))  # debug details go to the file only
        stream.setFormatter(OneLineFormatter("%(asctime)s [%(level_cn)s] %(message)s", "%H:%M:%S"))
        handlers.append(stream)
    for handler in handlers:
        setattr(handler, _MARK, True)
        logger.addHandler(handler)
    # APScheduler logs its own housekeeping in English; only its warnings are worth an operator's eye.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return logger


class _LogFile(RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        """A log the full disk cannot take is lost quietly: no traceback on the operator's console."""


def _file_handler(ws) -> logging.Handler:
    path = log_path(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _LogFile(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(ChineseLevelFormatter("%(asctime)s [%(level_cn)s] %(name)s：%(message)s"))
    return handler


@contextlib.contextmanager
def file_logging(ws):
    """The workspace log for a one-off command (``serve`` has its own): a failure's details land in
    ``logs/processor.log`` while the console shows one line.  Without a log file (the disk that is
    full or read-only may hold it) the details are dropped rather than printed."""
    logger = logging.getLogger(LOGGER_NAME)
    if any(getattr(h, _MARK, False) for h in logger.handlers):  # serve's logging is already in place
        yield
        return
    try:
        handler = _file_handler(ws)
    except OSError:
        handler = logging.NullHandler()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(level)


def close_logging() -> None:
    logger = logging.getLogger(LOGGER_NAME)
    for handler in [h for h in logger.handlers if getattr(h, _MARK, False)]:
        logger.removeHandler(handler)
        handler.close()
