"""Finders for chat/redaction.py: national ID numbers, and credentials typed into the chat.

Each finder takes the (length-preserving, NFKC-mapped) text and yields (start, end) spans.

National IDs: a regex for the number's written shape, confirmed by python-stdnum's own
validator (its checksum and structure) so order numbers and dates survive. A bare run of
digits whose only check is one digit (Dutch BSN, German tax ID, Aadhaar, an unformatted
CPF or SSN) passes that check for one order number in ten, so it counts only right after
a word that names it.

Credentials: tokens whose issuers gave them a recognisable prefix (sk-, ghp_, AKIA, JWTs),
URL passwords, a value after "password"/"api key"/"token", and long random-looking hex or
base64. Why not detect-secrets: it scans source lines for `key = "value"` assignments, and
returns values, not positions; a chat message says "my password is hunter2".
"""

import re
from collections.abc import Callable, Iterator
from itertools import pairwise

from stdnum.br import cpf
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.us import ssn

Span = tuple[int, int]

# Standing alone: not inside a longer word, number, version or reference.
_BEFORE, _AFTER = r"(?<![\w./#-])", r"(?![\w-]|[.,/]\w)"
# Italian codice fiscale: a digit may be swapped for one of these letters (omocodia).
_CF_DIGIT = r"[\dLMNP-V]"


def _nino_valid(number: str) -> bool:
    # UK National Insurance number: no checksum, but prefixes are allocated by rule (HMRC
    # NIM39110): neither letter D, F, I, Q, U or V, the second not O, and these pairs unused.
    prefix = number[:2].upper()
    return (
        not set(prefix) & set("DFIQUV")
        and prefix[1] != "O"
        and prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    )


# (validator, shape): shapes specific enough, with their checks, to be found anywhere.
_SHAPED: list[tuple[Callable[[str], bool], str]] = [
    (cpf.is_valid, r"\d{3}\.\d{3}\.\d{3}-\d{2}"),  # Brazil CPF, two check digits
    (nir.is_valid, r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}"),  # France NIR
    (dni.is_valid, r"\d{8}-?[A-Z]"),  # Spain DNI, check letter
    (nie.is_valid, r"[XYZ]-?\d{7}-?[A-Z]"),  # Spain NIE, check letter
    (
        codicefiscale.is_valid,
        rf"[A-Z]{{6}}{_CF_DIGIT}{{2}}[A-EHLMPR-T]{_CF_DIGIT}{{2}}[A-Z]{_CF_DIGIT}{{3}}[A-Z]",
    ),
    (_nino_valid, r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]"),  # UK National Insurance
]
# (validator, words that name it, shape): a weak check, so only after its name.
_NAMED: list[tuple[Callable[[str], bool], str, str]] = [
    (bsn.is_valid, r"bsn|burgerservicenummer|sofi(?:nummer)?", r"\d{9}|\d{4}\.\d{2}\.\d{3}"),
    (idnr.is_valid, r"steuer-?id|idnr|identifikationsnummer", r"\d{2} ?\d{3} ?\d{3} ?\d{3}"),
    (aadhaar.is_valid, r"aadhaa?r|uidai|uid", r"\d{4}[ -]?\d{4}[ -]?\d{4}"),
    (cpf.is_valid, r"cpf", r"\d{11}"),
]
# "SSN: ", "BSN nr. ", "Steuer-ID ist ", "aadhaar number is ".
_NAME_TAIL = r"(?: ?(?:number|no\.?|nr\.?|num[eé]ro|nummer))?(?: ?(?:is|ist|es|:|=|#))?\s*"


def _compile(shaped: list, named: list) -> list[tuple[Callable[[str], bool], re.Pattern]]:
    return [
        (valid, re.compile(rf"{_BEFORE}(?P<id>{shape}){_AFTER}", re.IGNORECASE))
        for valid, shape in shaped
    ] + [
        (valid, re.compile(rf"\b(?:{words}){_NAME_TAIL}(?P<id>{shape}){_AFTER}", re.IGNORECASE))
        for valid, words, shape in named
    ]


# US SSNs apart: they keep the placeholder they always had. stdnum refuses area 000, 666
# and 9xx, group 00, serial 0000, and numbers known to be published (078-05-1120).
_SSN_PATTERNS = _compile(
    [(ssn.is_valid, r"\d{3}-\d{2}-\d{4}")],
    [(ssn.is_valid, r"ssn|social security", r"\d{9}|\d{3} \d{2} \d{4}")],
)
_ID_PATTERNS = _compile(_SHAPED, _NAMED)


def _find(patterns: list[tuple[Callable[[str], bool], re.Pattern]], text: str) -> Iterator[Span]:
    for valid, pattern in patterns:
        for match in pattern.finditer(text):
            if valid(match.group("id")):
                yield match.span("id")


def us_ssns(text: str) -> Iterator[Span]:
    return _find(_SSN_PATTERNS, text)


def national_ids(text: str) -> Iterator[Span]:
    return _find(_ID_PATTERNS, text)


# Prefixes their issuers document so that scanners can find leaked keys: OpenAI and
# Stripe-like sk-/sk_live_, GitHub, GitLab, Slack, AWS access key ids, Google API keys, JWTs.
TOKEN = re.compile(
    r"(?<![\w-])(?:"
    r"sk-[\w-]{16,}|[sr]k_(?:live|test)_\w{16,}|gh[pousr]_\w{30,}|github_pat_\w{40,}"
    r"|glpat-[\w-]{20,}|xox[abprs]-[\w-]{10,}|(?:AKIA|ASIA)[A-Z0-9]{16}|AIza[\w-]{35}"
    r"|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"
    r")(?![\w-])"
)
# Bounded, so a BEGIN without its END cannot make the search quadratic.
PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----[\s\S]{0,8000}?-----END [A-Z ]{0,20}PRIVATE KEY-----"
)
URL_CREDENTIALS = re.compile(r"(?<=://)[^\s/:@]{1,200}:[^\s/@]{1,200}(?=@)")
# "my password is hunter2", "Password: Tr0ub4dor&3", "api_key=...", "pin: 4821".
SECRET_AFTER_WORD = re.compile(
    r"(?<![A-Za-z])(?:pass(?:word|wort|code|phrase)?|pw|pwd|pin|mot de passe|contrase[ñn]a|senha"
    r"|wachtwoord|(?:api|access|secret|private)[ _-]?key|(?:access |auth |api )?token"
    r"|secret|client[ _-]secret)"
    r"(?:\s+(?:is|was|ist|es|est)\s+|\s*[:=]\s*)"
    r"(?:(?P<quote>[\"'`‘“])(?P<quoted>[^\"'`’”\n]{1,100})[\"'`’”]|(?P<value>[^\s\"'`]{1,200}))",
    re.IGNORECASE,
)
HEX = re.compile(r"(?<![\w-])[0-9a-f]{32,}(?![\w-])", re.IGNORECASE)
BASE64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{32,}={0,2}(?![\w+/=-])")


def _looks_secret(value: str) -> bool:
    # "my password is wrong" names no password; "is hunter2" or "is Tr0ub4dor&3" does.
    # An all-letter password without quotes cannot be told from a word, and stays.
    if len(value) < 4 or re.fullmatch(r"\[[a-z-]+\]", value):
        return False
    if re.match(r"[\w.]+[(\[]", value):  # code: api_key=os.environ["KEY"]
        return False
    return bool(re.search(r"[^A-Za-z]|[a-z][A-Z]", value))


def _random_looking(run: str) -> bool:
    # Slugs, paths and CamelCase names have letters in runs of one case and digits at
    # the end; random base64 changes case at half its letter pairs and scatters digits.
    # Measured: 95% of 32-character random tokens pass, 98% of 40-character ones.
    if not (re.search(r"[A-Z]", run) and re.search(r"[a-z]", run)):
        return False
    pairs = [(a, b) for a, b in pairwise(run) if a.isalpha() and b.isalpha()]
    changes = sum(a.isupper() != b.isupper() for a, b in pairs) / max(len(pairs), 1)
    return changes >= 0.25 and len(re.findall(r"\d+", run)) >= 2


def credentials(text: str) -> Iterator[Span]:
    for pattern in (PRIVATE_KEY, TOKEN, URL_CREDENTIALS, HEX):
        yield from (match.span() for match in pattern.finditer(text))
    for match in SECRET_AFTER_WORD.finditer(text):
        if match.group("quote") and not re.fullmatch(r"\[[a-z-]+\]", match.group("quoted")):
            yield match.span("quoted")
        elif match.group("value"):
            # "is hunter2." ends the sentence; the full stop is not the password's.
            value = match.group("value").rstrip(".,;:)")
            if _looks_secret(value):
                yield match.start("value"), match.start("value") + len(value)
    for match in BASE64.finditer(text):
        if _random_looking(match.group()):
            yield match.span()
