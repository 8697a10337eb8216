"""Personal data out of text that leaves the live ticket: logs, the review queue, old chats.

Each kind is a regex for its shape plus, where the kind has one, its checksum (Luhn for
cards, ISO 7064 mod 97 for IBANs), so order numbers, dates, versions and prices survive.
Why our own module rather than a library: scrubadub (last release 2023) pulls in
scikit-learn and textblob, and presidio needs spaCy and a downloaded language model; neither
is small and offline, and both find these kinds with regexes and checksums like these.

Names and street addresses are not found: no regex finds them without also eating ordinary
words. That is one reason the raw transcript is access-controlled and retention-limited.

Pure Python on purpose: settings.LOGGING loads this module before Django's apps are ready.
"""

import ipaddress
import logging
import re

PLACEHOLDERS = {
    "email": "[email]",
    "iban": "[iban]",
    "card": "[card]",
    "ssn": "[ssn]",
    "ip": "[ip]",
    "phone": "[phone]",
}

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# Country code, check digits, then the account in groups of four, or unbroken.
IBAN = re.compile(
    r"(?<![\w-])[a-z]{2}\d{2}(?:[ ]?[a-z0-9]{4}){2,7}(?:[ ]?[a-z0-9]{1,3})?(?![\w-])",
    re.IGNORECASE,
)
# 13-19 digits, unbroken or in groups split by single spaces or dashes (4111 1111-1111 1111).
CARD = re.compile(r"(?<![\w.,+-])\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)")
# US social security numbers: never area 000, 666 or 9xx, group 00 or serial 0000.
SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
# A phone number is written like one: international "+44 20 7946 0958", trunk-prefixed
# "020 7946 0958" or "06 12 34 56 78", North American "(415) 555-2671". A bare run of
# digits ("order 100234567") counts only right after a word that says it is a phone number.
PHONE = re.compile(
    r"(?<![\w#/.,+-])(?:"
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}"
    r"|\(?0\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}"
    r"|(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}"
    r")(?![\w/-]|[.,]\d)"
)
PHONE_AFTER_WORD = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|call me(?: on| at)?|whatsapp|sms|text me)"
    r"(?: number)?(?: is)?[\s:.#-]*(\+?\d[\d .()-]{5,18}\d)(?![\w-])",
    re.IGNORECASE,
)
# "01.02.2024 10" is a date and an hour, not a phone number.
DATE_START = re.compile(r"\(?\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})(?:$|\s)")
PHONE_DIGITS = range(9, 16)  # E.164 allows 15; shorter national numbers need a keyword
PHONE_DIGITS_AFTER_WORD = range(7, 16)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    iban = candidate.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34 or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _iban(match: re.Match) -> str:
    # "DE89 3704 0044 0532 0130 00 1234": the regex also took the next group of digits.
    groups = match.group().split(" ")
    for end in range(len(groups), 0, -1):
        if iban_valid(" ".join(groups[:end])):
            return " ".join([PLACEHOLDERS["iban"], *groups[end:]])
    return match.group()


def _card(match: re.Match) -> str:
    # The whole run first, then shorter runs of its groups: a card may be written next to
    # other digits ("4111 1111 1111 1111 12 27"). Numbers sit at even indexes of `parts`.
    parts = re.split(r"([ -])", match.group())
    count = len(parts) // 2 + 1
    for size in range(count, 0, -1):
        for first in range(count - size + 1):
            start, end = 2 * first, 2 * (first + size) - 1
            digits = "".join(parts[start:end:2])
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                return "".join(parts[:start]) + PLACEHOLDERS["card"] + "".join(parts[end:])
    return match.group()


def _ip(match: re.Match) -> str:
    # Customers' addresses are public ones; private and loopback addresses are our own
    # services, and error logs need them.
    try:
        address = ipaddress.ip_address(match.group())
    except ValueError:
        return match.group()
    return PLACEHOLDERS["ip"] if address.is_global else match.group()


def _phone(match: re.Match) -> str:
    if DATE_START.match(match.group()) or len(_digits(match.group())) not in PHONE_DIGITS:
        return match.group()
    return PLACEHOLDERS["phone"]


def _phone_after_word(match: re.Match) -> str:
    if len(_digits(match.group(1))) not in PHONE_DIGITS_AFTER_WORD:
        return match.group()
    return match.group()[: match.start(1) - match.start()] + PLACEHOLDERS["phone"]


def redact(text: str) -> str:
    """`text` with every email, IBAN, card, SSN, public IPv4 address and phone number
    replaced by a placeholder such as "[email]". Redacting twice changes nothing more."""
    if not text:
        return text
    # Order matters: an email or an IBAN holds digit runs the later patterns would split.
    text = EMAIL.sub(PLACEHOLDERS["email"], text)
    text = IBAN.sub(_iban, text)
    text = CARD.sub(_card, text)
    text = SSN.sub(PLACEHOLDERS["ssn"], text)
    text = IPV4.sub(_ip, text)
    text = PHONE_AFTER_WORD.sub(_phone_after_word, text)
    return PHONE.sub(_phone, text)


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
