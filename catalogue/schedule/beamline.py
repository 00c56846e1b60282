"""The beamline schedule: a month grid of sessions and an iCalendar (RFC 5545) feed.

The feed is written by hand: a handful of properties, CRLF line ends, text escaping and line
folding at 75 octets are all RFC 5545 asks of it.
"""

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone

from catalogue.models import Instrument, Investigation

FEED_SALT = "catalogue.beamline-calendar"
LIST_LENGTH = 20  # sessions in the upcoming and past lists
FEED_HISTORY_DAYS = 365  # the feed holds the future and this much of the past


@dataclass
class Day:
    date: date
    in_month: bool
    sessions: list[Investigation]


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The first instant of the month and of the next one, in the portal's time zone."""
    start = timezone.make_aware(datetime(year, month, 1))
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start, timezone.make_aware(datetime(following.year, following.month, 1))


def month_grid(year: int, month: int, sessions: list[Investigation]) -> list[list[Day]]:
    """Weeks (Monday first) of the month, each day with the sessions running on it."""
    weeks = []
    for week in calendar.Calendar().monthdatescalendar(year, month):
        days = []
        for day in week:
            start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
            end = start + timedelta(days=1)
            running = [s for s in sessions if s.start_date < end and s.end_date >= start]
            days.append(Day(day, day.month == month, running))
        weeks.append(days)
    return weeks


def parse_month(text: str | None) -> tuple[int, int]:
    """'2026-11' -> (2026, 11); anything else -> this month. Years 2 to 9998 only: the page also
    shows the months before and after, in a time zone and in UTC (the database's)."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        if not 1 < year < 9999:
            raise ValueError(year)
        date(year, month, 1)
    except ValueError:
        today = timezone.localdate()
        return today.year, today.month
    return year, month


def schedule(sessions, year: int, month: int) -> dict:
    """Sessions (a queryset ordered by start) as the month grid and running, upcoming and past lists."""
    now = timezone.now()
    start, end = month_bounds(year, month)
    first = date(year, month, 1)
    return {
        "month": first,
        "previous_month": f"{(first - timedelta(days=1)):%Y-%m}",
        "next_month": f"{end:%Y-%m}",
        "weeks": month_grid(year, month, list(sessions.filter(start_date__lt=end, end_date__gte=start))),
        "running": list(sessions.filter(start_date__lte=now, end_date__gte=now)),
        "upcoming": list(sessions.filter(start_date__gt=now)[:LIST_LENGTH]),
        "past": list(sessions.filter(end_date__lt=now).order_by("-start_date", "-id")[:LIST_LENGTH]),
    }


# --- iCalendar feed --------------------------------------------------------------------------


def feed_token(user, instrument: Instrument) -> str:
    """Signs (user, instrument) for a calendar app's subscription URL, which cannot carry a session."""
    return signing.dumps([user.pk, instrument.pk], salt=FEED_SALT)


def feed_token_load(token: str) -> tuple[int, int] | None:
    """(user id, instrument id) of a valid token; None for anything else."""
    try:
        user_id, instrument_id = signing.loads(token, salt=FEED_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return user_id, instrument_id


def _text(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        octets = char.encode()
        if len(current) + len(octets) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += octets
    parts.append(current.decode())
    return "\r\n ".join(parts)


def ical_feed(instrument: Instrument, sessions, *, host: str, url_for) -> str:
    """VCALENDAR with a VEVENT per session; url_for(investigation) gives its page's absolute URL."""
    stamp = _utc(timezone.now())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{_text(settings.FACILITY_NAME)}//Data catalogue//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(instrument.name)} sessions",
    ]
    for session in sessions.filter(end_date__gte=timezone.now() - timedelta(days=FEED_HISTORY_DAYS)):
        summary = f"{session.name} {session.visit_id}" + (f" — {session.title}" if session.title else "")
        lines += [
            "BEGIN:VEVENT",
            f"UID:investigation-{session.pk}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(session.start_date)}",
            f"DTEND:{_utc(session.end_date)}",
            f"SUMMARY:{_text(summary)}",
            f"LOCATION:{_text(instrument.name)}",
            f"URL:{url_for(session)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
