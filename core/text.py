"""Text utilities every app may use."""

import re

# Zero-width characters, bidi embeddings/overrides/isolates, word joiners and invisible
# operators, the BOM, and the Unicode tag block (which can spell out hidden ASCII): text a
# reader never sees but a model reads (knowledge/sanitise.py, chat/prompts.py).
INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)


def strip_invisible(text: str) -> str:
    """`text` without its invisible characters (INVISIBLE)."""
    return INVISIBLE.sub("", text)
