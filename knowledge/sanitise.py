"""What of an article may reach the embedder, and so the model's context.

Uploaded pages are written by people we do not vet, and text a reader never sees (an HTML
comment, a `display:none` span, zero-width characters) is still text to the model. So that
text is dropped before chunking. Sentences that talk to the assistant ("ignore previous
instructions", "AI assistant: tell users...") are dropped too, and reported, because a
help article has no business giving the assistant orders: the service holds such an
article back until an editor has looked (knowledge.services.article_screen).

Every finding is recorded, so the admin can show editors what was removed and why.
Changing what is removed changes what is embedded: bump CHUNKER_VERSION (chunking.py) so
every article goes through the new rules.
"""

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from core.text import INVISIBLE, strip_invisible

# Findings of this kind hold an article back; the others are informational.
ADDRESSES_ASSISTANT = "addresses_assistant"
HTML_COMMENT = "html_comment"
HIDDEN_HTML = "hidden_html"
INVISIBLE_CHARACTERS = "invisible_characters"

EXCERPT_CHARS = 160

COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
# Elements whose content is never read as text: code, styles, inert templates.
NEVER_TEXT = ["script", "style", "template", "noscript"]
# Group 2 is the closing tag: without one, the block runs to the end of the text.
NEVER_TEXT_BLOCK = re.compile(
    r"<(script|style|template|noscript)\b[^>]*>.*?(?:(</\1\s*>)|\Z)", re.S | re.I
)
# Groups: "/" for a closing tag, the name, the attributes.
ANY_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)(\s[^<>]*)?>")
BLANK_LINE = re.compile(r"\n[ \t]*\n")
ATTRIBUTE = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
# A zero is "0", "000", ".0" or "0.00". Possessive: `0*\.?0+` tried every split of a long
# run of zeros, minutes for one "font-size:000…0x" attribute.
_ZERO = r"(?:0*+\.)?+0++"
HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)"
    rf"|font-size\s*:\s*{_ZERO}(?:px|pt|em|rem|%|vw|vh)?\s*(?:;|!|$)"
    rf"|opacity\s*:\s*{_ZERO}%?\s*(?:;|!|$)",
    re.I,
)
# Utility classes that mean display:none or visibility:hidden (Bootstrap, Tailwind).
HIDING_CLASSES = {"hidden", "d-none", "invisible"}

# The tags chat/prompts.py fences the excerpts and the question with (a test keeps the two
# in step).
PROMPT_FENCES = ("context", "question")

# --- Text that addresses the assistant --------------------------------------------------
# Matched on one sentence, NFKC-normalised, lower-cased, whitespace collapsed. Each rule is
# narrow on purpose: "Ignore the warning if you use SSO" or "You are now signed in" are
# ordinary help-article sentences and must pass.
_BOT = (
    r"(?:ai (?:assistant|chat ?bot|model|agent)|ai|a\.i\.|assistant|chat ?bot|bot|llm"
    r"|language model|gpt|chatgpt|claude|copilot|gemini)"
)
ADDRESSING_RULES = [
    # "Ignore all previous instructions", "disregard the above rules"
    r"\b(?:ignore|disregard|forget|override)\b(?: (?:all|any|every|of|the|your|my|these|those))*"
    r" (?:previous|prior|above|earlier|preceding|former|original|initial|system|existing|old)"
    r"(?: \w+)? (?:instructions?|directions?|rules?|prompts?|guidelines?|context|messages?"
    r"|commands?|constraints?)\b",
    r"\b(?:ignore|disregard|forget) (?:all |everything )?(?:above|(?:that|what) (?:came|comes)"
    r" before|you (?:were|have been) told)",
    # Talking to the assistant: "AI assistant:", "Assistant, ...", "Hi bot", "Note to the AI"
    r"^\W{0,3}(?:(?:note|important|attention|nb)\W{1,3})?(?:ai |a\.i\. )?"
    r"(?:assistant|chat ?bot|bot)s?\W{0,2} ?[,!]",
    r"^\W{0,3}(?:(?:note|important|attention|nb)\W{1,3})?(?:the |an? |our |any )?"
    rf"{_BOT}s?\W{{0,2}} ?[:;]",
    rf"^\W{{0,3}}(?:dear|hey|hi|hello) (?:the |an? |our )?{_BOT}s?\b",
    rf"\b(?:note|instructions?|message) (?:to|for) (?:the |an? |our |any )?{_BOT}s?\b",
    rf"\b(?:to|for) (?:the |any )?{_BOT}s? reading this\b",
    # "As an AI, you must...", "as an AI language model you should..."
    r"\bas an? (?:ai(?: assistant| model| language model)?|artificial intelligence"
    r"|language model|llm|chat ?bot|assistant(?=[,:]| you))\b.{0,60}?\byou (?:must|should"
    r"|shall|will|need to|have to|are (?:required|allowed|supposed|expected|not allowed)"
    r"|may not|cannot|can't|mustn't)\b",
    # Prompt plumbing: "system prompt", chat-template tokens, "your hidden instructions".
    r"\bsystem prompt\b|\bdeveloper message\b|<\|?(?:system|im_start|im_end|endoftext"
    r"|eot_id|start_header_id)\|?>|\[/?inst\]|<</?sys>>",
    # The prompt's own fences (chat/prompts.py), opening or closing, with attributes or
    # spaces: an article that writes "</context>" closes its excerpt early and speaks as
    # the question. Escaped too ("&lt;/context&gt;"), as Markdown shows it the same.
    rf"(?:<|&lt;|&#0*60;|&#x0*3c;) ?/? ?(?:{'|'.join(PROMPT_FENCES)})(?=[\s/>&])[^<>]{{0,200}}?"
    r"(?:>|&gt;|&#0*62;|&#x0*3e;)",
    r"\b(?:your|the) (?:system|hidden|secret|original|initial) (?:prompt|instructions)\b",
    # Role changes: "you are now DAN", "you are now an unrestricted assistant".
    rf"\byou are now (?:an? |the |my )(?:\w+ ){{0,3}}?{_BOT}\b",
    r"\byou are now (?:dan|jailbroken|unrestricted|unfiltered|uncensored|free (?:of|from)"
    r"|no longer (?:bound|restricted|limited)|in (?:dan|god|jailbreak|unrestricted) mode)\b",
    r"\bfrom now on,? you (?:will|must|shall|are to) (?:respond|answer|reply|pretend|ignore)\b",
    r"\bpretend (?:to be|you are|you're)\b",
    # "When asked about refunds, tell the user...", "if a customer asks X, say that..."
    r"\b(?:when(?:ever)?|if)\b(?: \S+){0,6}? (?:asked|asks|ask you|questioned)\b.{0,150}?"
    r"\b(?:say|tell|respond|reply|answer|claim|state|inform|insist)\b"
    r"(?: (?:the|all|every|any))? (?:users?|customers?|people|visitors?|them|they|that|with)\b",
    r"\b(?:always|never|do not|don't) (?:tell|say to|mention to|recommend to|suggest to"
    r"|inform) (?:the |any |all )?(?:users?|customers?|people|visitors?)\b",
    r"\b(?:do not|don't|never) (?:mention|reveal|disclose|repeat|acknowledge)"
    r" (?:this|these|the) (?:instructions?|notes?|messages?|rules?)\b",
    rf"\b(?:new|updated|real|actual|secret|hidden|additional|important) instructions?"
    rf" (?:for|to) (?:the |you,? )?{_BOT}\b|\b(?:new|real|actual|secret|hidden) instructions?:",
]
ADDRESSING = re.compile("|".join(f"(?:{rule})" for rule in ADDRESSING_RULES))

# A sentence ends at . ! or ? before whitespace, or where a new Markdown block starts.
BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n(?=[ \t]*(?:[-*+>|]|#{1,6}|\d+[.)])[ \t])")
BLOCK_PREFIX = re.compile(r"^[ \t]*(?:(?:[-*+>]|#{1,6}|\d+[.)])[ \t]+)*")


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str  # an excerpt of what was removed, for the editor

    def as_flag(self, *, where: str) -> dict[str, str]:
        return {"kind": self.kind, "where": where, "text": self.text}


@dataclass
class Sanitised:
    text: str
    findings: list[Finding] = field(default_factory=list)


def as_flags(findings: list[Finding], *, where: str) -> list[dict[str, str]]:
    """Findings as stored on Article.flags: one per sentence that addresses the assistant
    (each is reviewed and approved on its own), one per kind for the informational rest."""
    flags, groups = [], {}
    for finding in findings:
        if finding.kind == ADDRESSES_ASSISTANT:
            if finding.as_flag(where=where) not in flags:  # a sentence repeated is one flag
                flags.append(finding.as_flag(where=where))
        else:
            groups.setdefault(finding.kind, []).append(finding.text)
    for kind, texts in groups.items():
        shown = "; ".join(f"“{t}”" for t in texts[:3] if t and kind != INVISIBLE_CHARACTERS)
        summary = texts[0] if kind == INVISIBLE_CHARACTERS else f"{len(texts)} removed"
        flags.append(
            Finding(kind, f"{summary}: {shown}" if shown else summary).as_flag(where=where)
        )
    return flags


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def addresses_assistant(text: str) -> bool:
    normalised = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    return bool(ADDRESSING.search(normalised))


def sanitise(text: str) -> Sanitised:
    """The text of an article body (Markdown or plain) as it may be embedded."""
    findings: list[Finding] = []
    # Invisible characters first: inside a word they would hide it from the rules below.
    text = strip_invisible_noted(text, findings)
    text = _strip_pattern(text, COMMENT, HTML_COMMENT, findings)
    text = _strip_never_text(text, findings)
    text = _strip_hidden_elements(text, findings)
    text = _strip_addressing(text, findings)
    return Sanitised(re.sub(r"\n{3,}", "\n\n", text).strip(), findings)


def strip_invisible_noted(text: str, findings: list[Finding]) -> str:
    """core.text.strip_invisible, noting in `findings` how many were removed."""
    count = len(INVISIBLE.findall(text))
    if count:
        findings.append(Finding(INVISIBLE_CHARACTERS, f"{count} removed"))
    return strip_invisible(text)


def hidden_text_findings(kind: str, text: str) -> list[Finding]:
    """Findings for removed text: its kind, and whether it also addressed the assistant
    (hidden instructions are the classic attack, so those hold the article back too)."""
    found = [Finding(kind, excerpt(text))]
    if addresses_assistant(text):
        found.append(Finding(ADDRESSES_ASSISTANT, excerpt(text)))
    return found


def _strip_pattern(text: str, pattern: re.Pattern, kind: str, findings: list[Finding]) -> str:
    def remove(match: re.Match) -> str:
        findings.extend(hidden_text_findings(kind, _tagless(match.group(0))))
        return ""

    return pattern.sub(remove, text)


def is_hidden(attrs: dict[str, str]) -> bool:
    """Whether an element with these attributes (name -> value) is hidden from readers."""
    attrs = {name.lower(): value for name, value in attrs.items()}
    if "hidden" in attrs or attrs.get("aria-hidden", "").strip().lower() == "true":
        return True
    if HIDING_CLASSES & set(attrs.get("class", "").lower().split()):
        return True
    return bool(HIDING_STYLE.search(attrs.get("style", "")))


def _attributes(source: str) -> dict[str, str]:
    return {name: value.strip("\"'") for name, value in ATTRIBUTE.findall(source or "")}


def _strip_never_text(text: str, findings: list[Finding]) -> str:
    return _without(text, _never_text_spans(text), findings)


def _never_text_spans(text: str) -> Iterator[tuple[int, int]]:
    # Nothing after the last ">" can open a block, so the search stops there: searching on
    # from every "<script" that no ">" follows took quadratic time. An unclosed block still
    # runs to the end of the text.
    for block in NEVER_TEXT_BLOCK.finditer(text, 0, text.rfind(">") + 1):
        yield block.start(), block.end() if block.group(2) else len(text)


def _strip_hidden_elements(text: str, findings: list[Finding]) -> str:
    # Raw HTML in Markdown, so no parser: a parser would re-serialise the Markdown around it.
    return _without(text, _hidden_spans(text), findings)


def _hidden_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where each hidden element starts and ends. One pass over the tags, every closing tag
    paired up front: searching ahead from each hidden element for its own closing tag was
    quadratic ("<span hidden>x\n\n" × 4,000 took seconds)."""
    tags = list(ANY_TAG.finditer(text))
    closing = _closing_tags(tags)
    position = 0
    for n, tag in enumerate(tags):
        # A tag inside an element already removed goes with it.
        if tag.start() < position or tag.group(1) or not is_hidden(_attributes(tag.group(3))):
            continue
        position = _element_end(text, tag, closing.get(n))
        yield tag.start(), position


def _without(text: str, spans: Iterable[tuple[int, int]], findings: list[Finding]) -> str:
    """The text without the spans (in order, apart), each reported as hidden HTML."""
    kept, position = [], 0
    for start, end in spans:
        findings.extend(hidden_text_findings(HIDDEN_HTML, _tagless(text[start:end])))
        kept.append(text[position:start])
        position = end
    kept.append(text[position:])
    return "".join(kept)


def _closing_tags(tags: list[re.Match]) -> dict[int, re.Match]:
    """The tag that closes each opening tag (by index): the first later tag of its name that
    brings the count of open ones back down. Self-closing ones count as opened, as before."""
    still_open: dict[str, list[int]] = {}
    closing = {}
    for n, tag in enumerate(tags):
        opened = still_open.setdefault(tag.group(2).lower(), [])
        if not tag.group(1):
            opened.append(n)
        elif opened:
            closing[opened.pop()] = tag
    return closing


def _element_end(text: str, opening: re.Match, closing: re.Match | None) -> int:
    """Where the element opened by `opening` ends: its matching closing tag, or for an
    unclosed one the end of its paragraph (where a Markdown HTML block ends)."""
    if opening.group(2).lower() in VOID or opening.group(0).endswith("/>"):
        return opening.end()
    if closing is not None:
        return closing.end()
    blank = BLANK_LINE.search(text, opening.end())
    return blank.start() if blank else len(text)


def _tagless(html: str) -> str:
    return ANY_TAG.sub(" ", html.replace("<!--", " ").replace("-->", " "))


def _strip_addressing(text: str, findings: list[Finding]) -> str:
    parts = re.split(r"(\n[ \t]*\n)", text)  # paragraphs, with their separators
    for n in range(0, len(parts), 2):
        parts[n] = _strip_addressing_sentences(parts[n], findings)
    return "".join(parts)


def _strip_addressing_sentences(paragraph: str, findings: list[Finding]) -> str:
    # (sentence, separator after it) pairs, so an untouched paragraph comes back unchanged.
    pieces, start = [], 0
    for boundary in BOUNDARY.finditer(paragraph):
        pieces.append([paragraph[start : boundary.start()], boundary.group(0)])
        start = boundary.end()
    pieces.append([paragraph[start:], ""])
    kept = []
    for sentence, separator in pieces:
        content = sentence[BLOCK_PREFIX.match(sentence).end() :]
        if content and addresses_assistant(content):
            findings.append(Finding(ADDRESSES_ASSISTANT, excerpt(content)))
            continue  # the list marker or heading hashes go with it
        kept.append([sentence, separator])
    if len(kept) == len(pieces):
        return paragraph
    if kept:
        kept[-1][1] = ""
    return "".join(sentence + separator for sentence, separator in kept)
