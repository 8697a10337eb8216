import io
import logging
import time

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


# Each row failed on the regex-only redaction (before issue 14): the piece that must go is
# in the input, and the expected output shows what must stay around it.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ruf mich an: 030/1234567", "ruf mich an: [phone]"),  # Berlin, national format
        ("my number in Pune is 98765 43210", "my number in Pune is [phone]"),  # India
        ("móvil 612 34 56 78", "móvil [phone]"),  # Spain
        ("celular (11) 91234-5678", "celular [phone]"),  # São Paulo
        ("ruf an: ＋４９ ３０ １２３４５６７", "ruf an: [phone]"),  # full-width digits
        ("IBAN DE89-3704-0044-0532-0130-00, ref 7", "IBAN [iban], ref 7"),
        ("iban fr14-2004-1010-0505-0001-3m02-606", "iban [iban]"),
        ("write to ana＠example.com", "write to [email]"),  # full-width at sign
        ("ＡＮＡ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "[email]"),
        ("from 2a00:1450:4001:82b::200e today", "from [ip] today"),
        ("client [2606:4700:4700::1111]:443", "client [[ip]]:443"),
        ("2001:4860:4860:0000:0000:0000:0000:8888.", "[ip]."),
    ],
)
def test_it_redacts_international_phones_ibans_emails_and_ipv6(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("social security number 123456789", "social security number [ssn]"),  # US
        ("NINO JG 10 37 59 A", "NINO [national-id]"),  # UK National Insurance
        ("Steuer-ID: 36 574 261 809", "Steuer-ID: [national-id]"),  # Germany
        ("mon NIR 2 95 10 99 126 111 93", "mon NIR [national-id]"),  # France
        ("DNI 54362315K y NIE X2482300W", "DNI [national-id] y NIE [national-id]"),  # Spain
        ("codice fiscale RCCMNL83S18D969H", "codice fiscale [national-id]"),  # Italy
        ("mijn BSN is 111222333", "mijn BSN is [national-id]"),  # Netherlands
        ("Aadhaar 2341 2341 2346", "Aadhaar [national-id]"),  # India
        ("CPF 390.533.447-05", "CPF [national-id]"),  # Brazil
    ],
)
def test_it_redacts_national_id_numbers_that_pass_their_checks(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my password is hunter2.", "my password is [secret]."),
        ("password: Tr0ub4dor&3", "password: [secret]"),
        ("Passwort ist 'sommerferien'", "Passwort ist '[secret]'"),
        ("contraseña: Gato#99", "contraseña: [secret]"),
        ("my pin is 4821", "my pin is [secret]"),
        ("key sk-live-4eC39HqLyjWDarjtT1zdp7dc works", "key [secret] works"),
        ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a", "token [secret]"),
        ("AKIAIOSFODNN7EXAMPLE", "[secret]"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [secret]",
        ),
        (
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
            ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "Bearer [secret]",
        ),
        ("webhook key c20dd0a36fd629f3445a8805094a7bba1f2e3d4c", "webhook key [secret]"),
        ("it sent OQhN8pJvfdLM74LOSCnPJuPWnbN6qfljhBWo2BeFeQ4 twice", "it sent [secret] twice"),
        (
            "DATABASE_URL=postgres://helpdesk:s3cret@db:5432/helpdesk",
            "DATABASE_URL=postgres://[secret]@db:5432/helpdesk",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "[secret]",
        ),
    ],
)
def test_it_redacts_passwords_and_api_keys_typed_in_chat(text, expected):
    assert redact(text) == expected


def test_it_finds_full_width_text_but_replaces_it_in_the_original():
    # "ﬁ" and "½" become two and three characters under NFKC: whole-text normalising
    # would shift every offset after them.
    text = "ﬁnal ½ price, ana＠example.com or ＋４４ ２０ ７９４６ ０９５８, ｏｋ？"
    assert redact(text) == "ﬁnal ½ price, [email] or [phone], ｏｋ？"


def test_national_phone_formats_follow_the_configured_regions(settings):
    settings.REDACTION_PHONE_REGIONS = ["US"]
    assert redact("ruf mich an: 030/1234567") == "ruf mich an: 030/1234567"
    assert redact("or +49 30 1234567") == "or [phone]"  # a +country code needs no region
    settings.REDACTION_PHONE_REGIONS = ["DE"]
    assert redact("ruf mich an: 030/1234567") == "ruf mich an: [phone]"


def test_a_long_run_of_digits_is_redacted_in_linear_time():
    # The email pattern restarted at every character of a run with no "@": 20,000 digits
    # took seconds, in a log call on the event loop.
    started = time.perf_counter()
    redact("0" * 20_000)
    assert time.perf_counter() - started < 1


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
        "order #12345, INV-2024-000381, tracking 1Z999AA10123456784",
        "Python 3.10.2, build 20240315.1, release 2024.11.2",
        "at 10:30, 14:45 or 9:05pm; on 12.03.2024 14:00",
        "€ 49,90 per month, we paid 1.234.567,89 EUR, 3 x 19.99 = 59.97",
        "the numbers 1 2 3 4 5 6 7 8 9 10",
        "order 111222333 and ticket 36574261809",  # a BSN and a tax ID, but not named
        "my password is wrong, the password is not accepted, password: forgotten",
        "my password is 8 characters long",
        "client = tasklane.Client(api_key=os.environ['TL_KEY'])",
        "token: expired",
        "Tasklane::Client and std::vector, MAC 00:1a:2b:3c:4d:5e, 10:30:45",
        "docs address 2001:db8::1, link-local fe80::1, loopback ::1",
        "sentence-transformers/all-MiniLM-L6-v2 and X-RateLimit-Remaining-Per-Minute-2024",
        "https://docs.example.com/Help/Articles/Reset-Your-Password-2024/edit",
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
