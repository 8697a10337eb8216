"""Opening hours: when a person can answer the chat (BUSINESS_HOURS, BUSINESS_TIMEZONE).

A spec such as "mon-fri 09:00-12:00,13:00-17:30; sat 10:00-14:00" lists wall-clock times
in the business time zone, so "09:00" stays 09:00 on both sides of a DST change. Empty
means always open. Rules for the same day add up; a range that ends before it starts
("fri 22:00-02:00") runs on into the next day, and "24:00" ends a day.

A small parser of our own: the opening-hours libraries on PyPI are either unmaintained or
a compiled one for OpenStreetMap's much larger grammar (holidays, sunrise), which the
desk does not need.

`now()` is the one clock the chat's escalation and page read, so a test can fix it.
Everything else takes the instant as `at=`.
"""

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Marked for makemessages; translated where they are shown.
DAY_NAMES = (
    gettext_noop("Monday"),
    gettext_noop("Tuesday"),
    gettext_noop("Wednesday"),
    gettext_noop("Thursday"),
    gettext_noop("Friday"),
    gettext_noop("Saturday"),
    gettext_noop("Sunday"),
)
EXAMPLE = "mon-fri 09:00-17:30; sat 10:00-14:00"
DAY_SECONDS = 24 * 3600
_TIME = re.compile(r"(\d{1,2}):(\d{2})")

IN_HOURS = gettext_noop("A person will reply here shortly.")


@dataclass(frozen=True)
class Hours:
    """Opening hours: for each weekday (0 is Monday), its open spans as (start, end)
    seconds after local midnight. No span on any day means always open."""

    spans: tuple[tuple[tuple[int, int], ...], ...]
    zone: ZoneInfo

    @property
    def always_open(self) -> bool:
        return not any(self.spans)

    def is_open(self, *, at: datetime) -> bool:
        if self.always_open:
            return True
        local = at.astimezone(self.zone)
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(start <= second < end for start, end in self.spans[local.weekday()])

    def next_opening(self, *, at: datetime) -> datetime | None:
        """The first instant from `at` on when it is open (`at` itself while open), in
        UTC; None when always open. UTC, because an aware datetime in the hour that
        repeats when clocks go back never compares equal to one in another zone (PEP 495)."""
        if self.always_open:
            return None
        if self.is_open(at=at):
            return at.astimezone(UTC)
        today = at.astimezone(self.zone).date()
        # Eight days: today's later spans, the next six days, and today's weekday again.
        for offset in range(8):
            day = today + timedelta(days=offset)
            for start, _ in sorted(self.spans[day.weekday()]):
                opening = self._instant(day, start)
                if opening > at:
                    return opening
        raise AssertionError("a schedule with a span opens within a week")

    def _instant(self, day: date, second: int) -> datetime:
        """When the wall clock of `day` first shows `second`. On the night clocks go
        forward, a time in the skipped hour (02:30 in Berlin) is reached when the clock
        jumps past it (03:00), and the instants around the jump are searched for it."""
        wall = datetime.combine(day, time()) + timedelta(seconds=second)
        instant = wall.replace(tzinfo=self.zone).astimezone(UTC)
        if instant.astimezone(self.zone).replace(tzinfo=None) == wall:
            return instant  # the usual case; fold=0 is the earlier of a repeated hour
        # In whole seconds, as the zone's transitions are.
        low = int(wall.replace(tzinfo=self.zone, fold=1).timestamp())  # before the jump
        high = int(instant.timestamp())  # after it
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self.zone).replace(tzinfo=None) >= wall:
                high = middle
            else:
                low = middle
        return datetime.fromtimestamp(high, UTC)


def parse(spec: str, *, zone: str = "UTC") -> Hours:
    """BUSINESS_HOURS as Hours; ImproperlyConfigured says what is wrong and where."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"BUSINESS_TIMEZONE: {zone!r} is not an IANA time zone"
        ) from None
    spans: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for rule in filter(str.strip, spec.split(";")):
        digit = re.search(r"\d", rule)
        days_part = "".join((rule[: digit.start()] if digit else rule).split()).lower()
        times_part = "".join(rule[digit.start() :].split()) if digit else ""
        if not days_part or not times_part:
            _bad(rule, "a rule is days then times")
        for start, end in [_range(rule, text) for text in times_part.split(",")]:
            for day in _days(rule, days_part):
                if end > start:
                    spans[day].append((start, end))
                else:  # past midnight: the rest runs on the next day
                    spans[day].append((start, DAY_SECONDS))
                    spans[(day + 1) % 7].append((0, end))
    return Hours(spans=tuple(tuple(sorted(day)) for day in spans), zone=tz)


def _days(rule: str, text: str) -> list[int]:
    days = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            _bad(rule, f"{item!r} is not a day or a range of days ({', '.join(DAYS)})")
        start, stop = DAYS.index(first), DAYS.index(last or first)
        # "fri-mon" wraps round the weekend.
        days += [(start + n) % 7 for n in range((stop - start) % 7 + 1)]
    return days


def _range(rule: str, text: str) -> tuple[int, int]:
    start, _, end = text.partition("-")
    first, last = _second(rule, start), _second(rule, end)
    if first in (last, DAY_SECONDS):
        _bad(rule, f"{text!r} is not a range of times like 09:00-17:30")
    return first, last


def _second(rule: str, text: str) -> int:
    match = _TIME.fullmatch(text)
    if not match or not (int(match[1]) < 24 and int(match[2]) < 60 or text == "24:00"):
        _bad(rule, f"{text!r} is not a time from 00:00 to 24:00")
    return int(match[1]) * 3600 + int(match[2]) * 60


def _bad(rule: str, problem: str):
    raise ImproperlyConfigured(
        f"BUSINESS_HOURS: {problem}, in {rule.strip()!r}; write it like {EXAMPLE!r}, "
        "or leave it empty for always open."
    )


@functools.lru_cache(maxsize=4)
def _parse_once(spec: str, zone: str) -> Hours:
    return parse(spec, zone=zone)


def configured() -> Hours:
    """The settings' hours, parsed once for each value (tests override the settings)."""
    return _parse_once(settings.BUSINESS_HOURS, settings.BUSINESS_TIMEZONE or settings.TIME_ZONE)


def now() -> datetime:
    return timezone.now()


def is_open(*, at: datetime, hours: Hours | None = None) -> bool:
    return (hours or configured()).is_open(at=at)


def next_opening(*, at: datetime, hours: Hours | None = None) -> datetime | None:
    return (hours or configured()).next_opening(at=at)


def _when(*, at: datetime, hours: Hours | None) -> tuple[str, str] | None:
    """The next opening as a customer reads it ("tomorrow 09:00", and the zone's name);
    None while open."""
    hours = hours or configured()
    if hours.is_open(at=at):
        return None
    local = hours.next_opening(at=at).astimezone(hours.zone)
    days = (local.date() - at.astimezone(hours.zone).date()).days
    day = gettext(DAY_NAMES[local.weekday()])
    if days in (0, 1):
        day = gettext("today") if days == 0 else gettext("tomorrow")
    elif days == 7:
        day = gettext("next %(day)s") % {"day": day}
    return f"{day} {local:%H:%M}", hours.zone.key


def opening_text(*, at: datetime, hours: Hours | None = None) -> str:
    """When agents are back: "Monday 09:00 (Europe/Berlin)"; "" while open."""
    when = _when(at=at, hours=hours)
    return f"{when[0]} ({when[1]})" if when else ""


def escalation_message(*, at: datetime, has_email: bool, hours: Hours | None = None) -> str:
    """What the `ticket` frame tells the customer: out of hours, when a person will reply,
    and (without an address to write to) a request for one."""
    when = _when(at=at, hours=hours)
    if when is None:
        return gettext(IN_HOURS)
    away = gettext("Our team is away now. A person will reply from %(when)s (%(zone)s time).")
    away %= {"when": when[0], "zone": when[1]}
    if has_email:
        return away + " " + gettext("We'll also write to you at the address you gave.")
    return away + " " + gettext("Leave your email and we'll write to you as soon as they do.")
