import io
import logging

import pytest

from chat import llm
from chat.redaction import RedactingFormatter, iban_valid, luhn_valid, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to bob.smith+billing@example.co.uk please", "Write to [email] please"),
        ("MAIL: ANNA@EXAMPLE.COM", "MAIL: [email]"),
        ("+44 20 7946 0958", "[phone]"),
        ("call +1 (415) 555-2671 today", "call [phone] today"),
        ("my number: 020 7946 0958.", "my number: [phone]."),
        ("portable 06 12 34 56 78", "portable [phone]"),
        ("portable 06.12.34.56.78", "portable [phone]"),
        ("(415) 555-2671 or 415.555.2671", "[phone] or [phone]"),
        ("call me on 5552671", "call me on [phone]"),
        ("my phone number is 4155552671", "my phone number is [phone]"),
    ],
)
def test_it_redacts_emails_and_phone_numbers(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 thanks", "card [card] thanks"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("5500005555555559", "[card]"),
        ("amex 3782 822463 10005", "amex [card]"),
        # A card written next to its expiry: the card goes, the date stays.
        ("4111 1111 1111 1111 12 27", "[card] 12 27"),
    ],
)
def test_it_redacts_card_numbers_that_pass_the_luhn_check(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00, ref 7", "IBAN [iban], ref 7"),
        ("de89370400440532013000", "[iban]"),
        ("GB82 WEST 1234 5698 7654 32.", "[iban]."),
        ("NL91ABNA0417164300 and 1234", "[iban] and 1234"),
        ("ssn 123-45-6789", "ssn [ssn]"),
        ("from 81.2.69.160 today", "from [ip] today"),
    ],
)
def test_it_redacts_ibans_ssns_and_public_ip_addresses(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Where is order #100234567?",
        "order 100234567 and ORD-2024-118843",
        "invoice INV-0042, ticket HD-ABC234",
        "It broke on 2024-03-15, or 15/03/2024, or 03/15/2024",
        "on 01.02.2024 10:30 it stopped",
        "2026-11-25 10:30:45,123 INFO chat.services: done",
        "I run v2.14.3, version 1.2.10 and Tasklane 3.1",
        "The Pro plan costs $1,299.00 a year, 1 299,00 € in France, or 0.99 a day",
        "Card ending 4242, 12 seats, 3 projects",
        "4111 1111 1111 1112",  # fails the Luhn check
        "Reference AB12 CDEF GHIJ KLMN",  # shaped like an IBAN, fails its check
        "SSN-like 666-12-3456 and 123-00-4567",
        "Redis at 127.0.0.1:6379, Postgres at 10.0.3.4",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "postcode SW1A 1AA",
    ],
)
def test_it_leaves_order_numbers_dates_versions_and_prices_alone(text):
    assert redact(text) == text


def test_redacting_twice_changes_nothing_more():
    once = redact("bob@example.com, +44 20 7946 0958, 4111 1111 1111 1111, DE89370400440532013000")
    assert once == "[email], [phone], [card], [iban]"
    assert redact(once) == once


def test_the_checksums_are_the_standard_ones():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234")


@pytest.fixture
def console():
    """The console handler settings.LOGGING installed, writing into a buffer."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_the_configured_log_handler_writes_through_the_redacting_formatter():
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    assert isinstance(handler.formatter, RedactingFormatter)
    # Django's default handlers (unredacted) are gone: its records reach this one instead.
    for name in ("django", "django.request", "django.server"):
        assert not logging.getLogger(name).handlers and logging.getLogger(name).propagate


async def test_the_llm_prompt_debug_log_comes_out_redacted(console, dead_llm):
    logger = logging.getLogger("chat.llm")
    logger.setLevel(logging.DEBUG)
    try:
        question = "I'm ana@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958"
        with pytest.raises(llm.LLMUnavailable):
            async for _ in llm.stream_chat([{"role": "user", "content": question}]):
                pass
    finally:
        logger.setLevel(logging.NOTSET)

    written = console.getvalue()
    assert "Prompt messages" in written
    assert "I'm [email], card [card], call [phone]" in written
    assert "ana@example.com" not in written and "4111" not in written


def test_an_exceptions_traceback_comes_out_redacted(console):
    try:
        raise ValueError("'ana@example.com' is not a valid email address.")
    except ValueError:
        logging.getLogger("chat.consumers").exception("Escalation failed for %s", "bo@x.org")

    written = console.getvalue()
    assert "Escalation failed for [email]" in written
    assert "ValueError: '[email]' is not a valid email address." in written
    assert "@example.com" not in written and "bo@x.org" not in written


def test_a_malformed_log_call_is_still_written_redacted():
    # Handler.handleError would print the raw arguments of a call that fails to format.
    record = logging.LogRecord(
        "chat", logging.WARNING, __file__, 1, "two %s %s", ("ana@example.com",), None
    )
    written = RedactingFormatter("%(message)s").format(record)
    assert "ana@example.com" not in written and "[email]" in written
