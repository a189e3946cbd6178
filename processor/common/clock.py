"""The office's clock: every arrival time, date, deadline and day count is read in the office's
time zone (``[calendar] timezone`` of config.toml, Asia/Shanghai by default), never in the zone the
server happens to run in.

Stored times (``received_at``) keep the offset they were written with; the *date* of a stored time
is always taken in the office zone (:func:`local_date`), so a ledger written on a server in UTC and
read on one in Beijing gives the same on-time/late answer.

``PROCESSOR_NOW`` (an ISO time with offset, e.g. ``2026-12-05T20:30:00+00:00``) sets the clock for a
rehearsal or a test; unset, the system clock is used.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Shanghai"
NOW_ENV = "PROCESSOR_NOW"


class UnknownTimezone(ValueError):
    """A zone name the zone database does not know."""


def zone(name: str | dt.tzinfo | None) -> dt.tzinfo:
    """The zone called ``name`` (an IANA name such as ``Asia/Shanghai``); None gives the default."""
    if isinstance(name, dt.tzinfo):
        return name
    text = (name or DEFAULT_TIMEZONE).strip()
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimezone(text) from None


def _tz_of(where) -> dt.tzinfo:
    """A workspace config (its ``timezone``), a zone, a zone name, or None (the default zone)."""
    if where is None or isinstance(where, (str, dt.tzinfo)):
        return zone(where)
    return where.timezone


def system_now() -> dt.datetime:
    """The current instant (timezone-aware), or the one ``PROCESSOR_NOW`` names."""
    fixed = os.environ.get(NOW_ENV, "").strip()
    if fixed:
        try:
            moment = dt.datetime.fromisoformat(fixed.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ValueError(f"{NOW_ENV} 应带时区偏移（如 2026-12-05T20:30:00+00:00），而不是“{fixed}”")
        return moment
    return dt.datetime.now(dt.UTC)


def office_now(where=None) -> dt.datetime:
    """Now, as a time in the office's zone (its ISO text carries the office's offset)."""
    return system_now().astimezone(_tz_of(where))


def office_today(where=None) -> dt.date:
    """Today's date in the office's zone."""
    return office_now(where).date()


def local_time(value: str | dt.datetime, where=None) -> dt.datetime:
    """A stored time (ISO text or datetime) as a time in the office's zone.  A time stored without
    an offset is taken as office time already."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).strip())
    tz = _tz_of(where)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


def local_date(value: str | dt.datetime, where=None) -> dt.date:
    """The office-zone date of a stored time: 2026-12-05T20:30:00+00:00 is 6 December in Beijing."""
    return local_time(value, where).date()
