from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from core import hours

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = "mon-fri 09:00-17:30; sat 10:00-14:00"
H = 3600


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_it_reads_day_ranges_day_lists_and_several_ranges_a_day():
    parsed = hours.parse("mon-wed,fri 09:00-12:00,13:00-17:00; sat 10:00-14:00")

    split_day = ((9 * H, 12 * H), (13 * H, 17 * H))
    assert parsed.spans == (split_day, split_day, split_day, (), split_day, ((10 * H, 14 * H),), ())


def test_it_ignores_case_and_spaces_and_lets_a_day_range_wrap_round_the_weekend():
    parsed = hours.parse(" Fri - Mon 10:00 - 11:00 ;")

    assert [bool(day) for day in parsed.spans] == [True, False, False, False, True, True, True]


def test_a_range_past_midnight_runs_on_into_the_next_day_and_24_00_ends_a_day():
    parsed = hours.parse("sun 22:00-02:00; wed 00:00-24:00")

    assert parsed.spans[6] == ((22 * H, 24 * H),)
    assert parsed.spans[0] == ((0, 2 * H),)  # sunday's night ends on monday
    assert parsed.spans[2] == ((0, 24 * H),)


def test_the_empty_default_is_always_open(settings):
    settings.BUSINESS_HOURS = ""

    assert hours.configured().always_open
    assert hours.is_open(at=utc(2026, 12, 25, 3, 0))
    assert hours.next_opening(at=utc(2026, 12, 25, 3, 0)) is None
    assert hours.escalation_message(at=utc(2026, 12, 25, 3, 0), has_email=False) == (
        "A person will reply here shortly."
    )


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("mon-fri", "a rule is days then times, in 'mon-fri'"),
        ("09:00-17:00", "a rule is days then times"),
        ("monday 09:00-17:00", "'monday' is not a day or a range of days"),
        ("mon-fry 09:00-17:00", "'mon-fry' is not a day"),
        ("mon 9-17", "'9' is not a time from 00:00 to 24:00"),
        ("mon 09:00-25:00", "'25:00' is not a time"),
        ("mon 09:60-10:00", "'09:60' is not a time"),
        ("mon 10:00-10:00", "'10:00-10:00' is not a range of times"),
        ("mon 24:00-02:00", "'24:00-02:00' is not a range of times"),
        ("mon 09:00-17:00 sharp", "'17:00sharp' is not a time"),
    ],
)
def test_it_rejects_a_bad_spec_saying_what_and_where(spec, problem):
    with pytest.raises(ImproperlyConfigured) as caught:
        hours.parse(spec)

    assert str(caught.value).startswith("BUSINESS_HOURS: ")
    assert problem in str(caught.value)
    assert "write it like 'mon-fri 09:00-17:30; sat 10:00-14:00'" in str(caught.value)


def test_it_rejects_a_time_zone_that_is_not_an_iana_name():
    with pytest.raises(ImproperlyConfigured, match="BUSINESS_TIMEZONE: 'Mars/Olympus'"):
        hours.parse(OFFICE, zone="Mars/Olympus")


def test_manage_py_check_reports_bad_business_hours(settings):
    settings.BUSINESS_HOURS = "weekdays 09:00-17:00"

    with pytest.raises(SystemCheckError, match=r"core.E001.*'weekdays' is not a day"):
        call_command("check")


def test_the_time_zone_defaults_to_time_zone(settings):
    settings.BUSINESS_HOURS, settings.BUSINESS_TIMEZONE = OFFICE, ""
    settings.TIME_ZONE = "Asia/Tokyo"

    assert hours.configured().zone.key == "Asia/Tokyo"
    settings.BUSINESS_TIMEZONE = "Europe/Berlin"
    assert hours.configured().zone.key == "Europe/Berlin"


def test_it_closes_over_the_weekend_and_opens_on_monday():
    office = hours.parse("mon-fri 09:00-17:30", zone="Europe/Berlin")
    friday_close = berlin(2026, 3, 20, 17, 30)

    assert office.is_open(at=berlin(2026, 3, 20, 17, 29, 59))
    assert not office.is_open(at=friday_close)
    assert not office.is_open(at=berlin(2026, 3, 22, 12, 0))
    assert office.next_opening(at=friday_close) == berlin(2026, 3, 23, 9, 0)
    assert office.next_opening(at=berlin(2026, 3, 22, 12, 0)) == berlin(2026, 3, 23, 9, 0)


def test_next_opening_is_now_while_open():
    office = hours.parse(OFFICE, zone="Europe/Berlin")
    at = berlin(2026, 3, 21, 11, 0)  # a saturday

    assert office.next_opening(at=at) == at


def test_it_opens_again_after_midnight_and_stays_open_across_it():
    office = hours.parse("mon-fri 09:00-17:30; fri 22:00-02:00", zone="Europe/Berlin")

    assert office.next_opening(at=berlin(2026, 3, 17, 23, 30)) == berlin(2026, 3, 18, 9, 0)
    assert office.is_open(at=berlin(2026, 3, 20, 23, 59))
    assert office.is_open(at=berlin(2026, 3, 21, 1, 59))  # saturday, before 02:00
    assert not office.is_open(at=berlin(2026, 3, 21, 2, 0))
    assert office.next_opening(at=berlin(2026, 3, 21, 2, 0)) == berlin(2026, 3, 23, 9, 0)


def test_it_keeps_wall_clock_hours_when_the_clocks_go_forward():
    # Berlin: CET (+1) until 2026-03-29 02:00, then CEST (+2).
    office = hours.parse("mon-fri 09:00-17:30", zone="Europe/Berlin")

    opening = office.next_opening(at=berlin(2026, 3, 27, 18, 0))
    assert opening == utc(2026, 3, 30, 7, 0)  # 09:00 CEST, an hour earlier in UTC
    assert not office.is_open(at=utc(2026, 3, 30, 6, 59))
    assert office.is_open(at=utc(2026, 3, 30, 7, 0))
    assert office.is_open(at=utc(2026, 3, 27, 16, 29))  # 17:29 CET, the friday before


def test_it_keeps_wall_clock_hours_when_the_clocks_go_back():
    # Berlin: CEST (+2) until 2026-10-25 03:00, then CET (+1).
    office = hours.parse("mon-fri 09:00-17:30", zone="Europe/Berlin")

    assert office.next_opening(at=berlin(2026, 10, 23, 18, 0)) == utc(2026, 10, 26, 8, 0)
    assert office.is_open(at=utc(2026, 10, 23, 15, 29))  # 17:29 CEST
    assert not office.is_open(at=utc(2026, 10, 26, 7, 59))


def test_an_opening_in_the_skipped_hour_comes_when_the_clock_jumps_past_it():
    night = hours.parse("sun 02:30-05:00", zone="Europe/Berlin")

    # 02:30 never shows on 2026-03-29: the clock goes from 01:59:59 CET to 03:00 CEST.
    assert night.next_opening(at=utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 1, 0)
    assert not night.is_open(at=utc(2026, 3, 29, 0, 59, 59))
    assert night.is_open(at=utc(2026, 3, 29, 1, 0))


def test_an_opening_in_the_repeated_hour_is_its_first_showing():
    night = hours.parse("sun 02:30-05:00", zone="Europe/Berlin")

    # 02:30 shows twice on 2026-10-25: at 00:30 UTC (CEST) and at 01:30 UTC (CET).
    assert night.next_opening(at=utc(2026, 10, 25, 0, 0)) == utc(2026, 10, 25, 0, 30)
    assert night.is_open(at=utc(2026, 10, 25, 0, 30))


def test_the_customer_reads_when_a_person_replies_in_the_business_time_zone():
    office = hours.parse(OFFICE, zone="Europe/Berlin")

    def message(at, has_email=False):
        return hours.escalation_message(at=at, has_email=has_email, hours=office)

    assert message(berlin(2026, 3, 23, 10, 0)) == "A person will reply here shortly."
    assert message(berlin(2026, 3, 21, 15, 0)) == (
        "Our team is away now. A person will reply from Monday 09:00 (Europe/Berlin time)."
        " Leave your email and we'll write to you as soon as they do."
    )
    assert "from today 09:00" in message(berlin(2026, 3, 23, 7, 0))
    assert "from tomorrow 10:00" in message(berlin(2026, 3, 20, 20, 0))
    assert message(berlin(2026, 3, 21, 15, 0), has_email=True) == (
        "Our team is away now. A person will reply from Monday 09:00 (Europe/Berlin time)."
        " We'll also write to you at the address you gave."
    )
    # The instant is read in the business zone whatever zone it comes in.
    assert "from Monday 09:00" in message(utc(2026, 3, 21, 14, 0))


def test_a_week_ahead_reads_next_and_the_weekday():
    mondays = hours.parse("mon 09:00-10:00", zone="Europe/Berlin")

    assert hours.opening_text(at=berlin(2026, 3, 23, 11, 0), hours=mondays) == (
        "next Monday 09:00 (Europe/Berlin)"
    )
    assert hours.opening_text(at=berlin(2026, 3, 23, 9, 30), hours=mondays) == ""
