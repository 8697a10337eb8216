"""Personal data out of text that leaves the live ticket: logs, the review queue, old chats.

Each kind is a regex for its shape plus, where the kind has one, its check: Luhn for cards,
python-stdnum for IBANs and national IDs (chat/redaction_ids.py), libphonenumber's
numbering plans for phone numbers, so order numbers, dates, versions and prices survive.
Why not scrubadub or presidio: scrubadub (last release 2023) pulls in scikit-learn and
textblob, presidio needs spaCy and a downloaded language model; neither is small and
offline, and both find these kinds with regexes and checksums like these.

Matching runs on a copy of the text with each character NFKC-mapped alone, so "ａｎａ＠ｘ．ｏｒｇ"
is found as an email; a character whose mapping has another length ("ﬁ", "½") stays as
it is, so the copy's offsets are the original's and each span is replaced in the original.

Names and street addresses are not found: no regex finds them without also eating ordinary
words. That is one reason the raw transcript is access-controlled and retention-limited.

Pure Python on purpose: settings.LOGGING loads this module before Django's apps are ready.
"""

import ipaddress
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator

import phonenumbers
from django.core.exceptions import ImproperlyConfigured
from stdnum import iban, luhn

from chat.redaction_ids import Span, credentials, national_ids, us_ssns

PLACEHOLDERS = {
    "secret": "[secret]",
    "email": "[email]",
    "iban": "[iban]",
    "national_id": "[national-id]",
    "card": "[card]",
    "ssn": "[ssn]",
    "ip": "[ip]",
    "phone": "[phone]",
}
# Regions whose national formats ("030/1234567", "98765 43210") are phone numbers when no
# +country code is written; settings.REDACTION_PHONE_REGIONS replaces this default.
PHONE_REGIONS = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "BR", "AU"]

# Starts only where a local part can start: without the lookbehind, a long run with no "@"
# is rescanned from each of its characters (20,000 digits took 4.5 s).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# Country code, check digits, then the account in groups of four (split by a space or a
# dash), or unbroken.
IBAN = re.compile(
    r"(?<![\w-])[a-z]{2}\d{2}(?:[ -]?[a-z0-9]{4}){2,7}(?:[ -]?[a-z0-9]{1,3})?(?![\w-])",
    re.IGNORECASE,
)
# 13-19 digits, unbroken or in groups split by single spaces or dashes (4111 1111-1111 1111).
CARD = re.compile(r"(?<![\w.,+-])\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
# Hex groups and colons, perhaps ending in an IPv4 address; ipaddress decides.
IPV6 = re.compile(r"(?<![\w:.%])[0-9a-f:.]{2,45}(?![\w:]|\.\d)", re.IGNORECASE)
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# A bare run of digits ("order 100234567") is a phone number only right after a word that
# says so; the other phone numbers are written like one, and found by libphonenumber.
PHONE_AFTER_WORD = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|call me(?: on| at)?|whatsapp|sms|text me)"
    r"(?: number)?(?: is)?[\s:.#-]*(\+?\d[\d .()-]{5,18}\d)(?![\w-])",
    re.IGNORECASE,
)
PHONE_DIGITS_AFTER_WORD = range(7, 16)
# Written like a phone number: a "+", a "(" or a separator between digits.
PHONE_SHAPE = re.compile(r"[+(]|\d[ ./-]+\d")
# Digits with short separators between them: where libphonenumber looks. A spaced " / "
# or " - " separates two numbers ("030/1234567 / 0151 23456789").
PHONE_RUN = re.compile(r"(?:\+|\(\+?)?\d(?:(?:[ .()-]{1,2}|/)\d|\d){8,24}\)?")
# "01.02.2024 10" is a date and an hour, not a phone number.
DATE_START = re.compile(r"\(?\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})(?:$|\s)")
PHONE_DIGITS = range(9, 17)  # E.164 allows 15, plus a "(0)" trunk prefix
NOT_PHONE_BEFORE = re.compile(
    r"(?:[\w#/.,:+-]|\b(?:order|invoice|ticket|ref|reference|account|tracking|sku|id)"
    r"(?: ?(?:no\.?|number|nr\.?))?[ :#]*)$",
    re.IGNORECASE,
)
NOT_PHONE_BEFORE_CHAR = re.compile(r"[\w#/.,:+-]")
NOT_PHONE_AFTER = re.compile(r"[\w/-]|[.,]\d")
LEADING_DATE = re.compile(
    r"(?:(?:\d{4}([./-])\d\d?\1\d\d?|\d\d?([./-])\d\d?\2(?:\d{4}|\d{2}))(?=\s|$))?\s*"
)
# Shaped like a US SSN, but refused by its check: not a phone number in any country either.
SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")


def luhn_valid(digits: str) -> bool:
    return luhn.is_valid(digits)


def iban_valid(candidate: str) -> bool:
    # stdnum checks the country's own account format as well as the mod-97 check digits.
    return iban.is_valid(candidate)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _matches(pattern: re.Pattern, check: Callable[[re.Match], Span | None]):
    def find(text: str) -> Iterator[Span]:
        for match in pattern.finditer(text):
            if span := check(match):
                yield span

    return find


def _iban(match: re.Match) -> Span | None:
    # "DE89 3704 0044 0532 0130 00 1234": the regex also took the next group of digits.
    groups = re.split(r"(?<=\w)[ -](?=\w)", match.group())
    for end in range(len(groups), 0, -1):
        if iban_valid("".join(groups[:end])):
            return match.start(), match.start() + len(" ".join(groups[:end]))
    return None


def _card(match: re.Match) -> Span | None:
    # The whole run first, then shorter runs of its groups: a card may be written next to
    # other digits ("4111 1111 1111 1111 12 27"). Numbers sit at even indexes of `parts`.
    parts = re.split(r"([ -])", match.group())
    count = len(parts) // 2 + 1
    for size in range(count, 0, -1):
        for first in range(count - size + 1):
            start, end = 2 * first, 2 * (first + size) - 1
            digits = "".join(parts[start:end:2])
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                offset = match.start() + len("".join(parts[:start]))
                return offset, offset + len("".join(parts[start:end]))
    return None


def _ip(match: re.Match) -> Span | None:
    # Customers' addresses are public ones; private, loopback and documentation addresses
    # are our own services and examples, and error logs need them.
    candidate = match.group().rstrip(".")
    if match.re is IPV6 and candidate.count(":") < 2:
        return None
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    # IPv6 outside 2000::/3 (global unicast) is reserved, or Ruby's and C++'s "A::B".
    if not address.is_global or (address.version == 6 and address not in GLOBAL_UNICAST):
        return None
    return match.start(), match.start() + len(candidate)


def _phone_after_word(match: re.Match) -> Span | None:
    if len(_digits(match.group(1))) not in PHONE_DIGITS_AFTER_WORD:
        return None
    return match.span(1)


def _phone_regions() -> list[str]:
    from django.conf import settings

    try:
        return settings.REDACTION_PHONE_REGIONS
    except (ImproperlyConfigured, AttributeError):  # a log line written before settings load
        return PHONE_REGIONS


def _valid_in(raw: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(raw, region))
    except phonenumbers.NumberParseException:
        return False


def _written_like_a_phone(text: str, start: int, raw: str) -> bool:
    groups = re.findall(r"\d+", raw)
    return bool(
        PHONE_SHAPE.search(raw)
        and len(_digits(raw)) in PHONE_DIGITS
        and not NOT_PHONE_BEFORE.search(text[max(0, start - 30) : start])
        and not NOT_PHONE_AFTER.match(text, start + len(raw))
        and not DATE_START.match(raw)
        and not SSN_SHAPE.fullmatch(raw)
        # "1 2 3 4 5 6", "build 20240315.1": phones end in a group of 2+ digits.
        and sum(len(group) == 1 for group in groups) <= 2
        and len(groups[-1]) > 1
    )


def phones(text: str) -> Iterator[Span]:
    # Germany's plan allows national numbers of 4 to 15 digits, the widest of any region,
    # so its "possible" check finds every region's national format as a candidate; each
    # is then kept only if it is a valid number of a configured region (or of the country
    # its "+" names). One matcher pass, not one per region: each pass parses every
    # candidate again, and parsing is the slow part.
    regions = _phone_regions()
    for run in PHONE_RUN.finditer(text):
        # Parsing is the slow part (~0.1 ms a candidate): only runs standing alone that
        # could hold a number written like a phone's, past any leading date, reach it.
        offset = run.start() + len(LEADING_DATE.match(run.group()).group())
        candidate = text[offset : run.end()]
        if (
            NOT_PHONE_BEFORE_CHAR.match(text[run.start() - 1 : run.start()])
            or not PHONE_SHAPE.search(candidate)
            or len(_digits(candidate)) < min(PHONE_DIGITS)
        ):
            continue
        for match in phonenumbers.PhoneNumberMatcher(
            candidate, "DE", leniency=phonenumbers.Leniency.POSSIBLE
        ):
            start = offset + match.start
            if _written_like_a_phone(text, start, match.raw_string) and _valid(match, regions):
                yield start, start + len(match.raw_string)


def _valid(match: phonenumbers.PhoneNumberMatch, regions: list[str]) -> bool:
    if match.raw_string.startswith("+"):
        return phonenumbers.is_valid_number(match.number)
    return any(_valid_in(match.raw_string, region) for region in regions)


# Order matters: a secret or an email holds digit runs that later finders would split,
# and a finder never sees what an earlier one replaced.
FINDERS: list[tuple[str, Callable[[str], Iterable[Span]]]] = [
    ("secret", credentials),
    ("email", _matches(EMAIL, re.Match.span)),
    ("iban", _matches(IBAN, _iban)),
    ("ssn", us_ssns),
    ("national_id", national_ids),
    ("card", _matches(CARD, _card)),
    ("ip", _matches(IPV6, _ip)),
    ("ip", _matches(IPV4, _ip)),
    ("phone", _matches(PHONE_AFTER_WORD, _phone_after_word)),
    ("phone", phones),
]


# Full-width letters, digits and "＠" map to ASCII; see the module docstring.
class _SameLengthNFKC(dict):
    def __missing__(self, codepoint: int) -> str:
        mapped = unicodedata.normalize("NFKC", chr(codepoint))
        self[codepoint] = mapped if len(mapped) == 1 else chr(codepoint)
        return self[codepoint]


_NFKC = _SameLengthNFKC()


def _replace(text: str, spans: Iterable[Span], placeholder: str) -> str:
    # Two patterns of one finder may find overlapping spans (a JWT is also base64): the
    # leftmost, then the longest, wins.
    pieces, done = [], 0
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
        if start >= done:
            pieces += [text[done:start], placeholder]
            done = end
    return "".join([*pieces, text[done:]])


def redact(text: str) -> str:
    """`text` with every credential, email, IBAN, national ID, card, SSN, public IP
    address and phone number replaced by a placeholder such as "[email]". Redacting twice
    changes nothing more."""
    if not text:
        return text
    normal = text if text.isascii() else text.translate(_NFKC)
    for kind, find in FINDERS:
        if spans := list(find(normal)):
            text = _replace(text, spans, PLACEHOLDERS[kind])
            normal = _replace(normal, spans, PLACEHOLDERS[kind])
    return text


class RedactingFormatter(logging.Formatter):
    """The formatter of every handler in settings.LOGGING: what it writes (message,
    arguments, traceback, stack) is redacted as a whole.

    A formatter rather than a filter: a filter would have to rewrite the record itself,
    which every other handler and reader shares (Python 3.11 filters cannot return a copy).
    """

    def format(self, record: logging.LogRecord) -> str:
        try:
            return redact(super().format(record))
        except (TypeError, ValueError):
            # A malformed logging call: Handler.handleError would print its arguments raw.
            return redact(f"{record.levelname} {record.name}: {record.msg} {record.args!r}")
