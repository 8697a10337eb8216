"""The customer's language, so the assistant answers in it from an English knowledge base.

`language_of(text)` names the language of a question (an ISO 639-1 code) or None when it
cannot tell: a word, an order number, a URL. None is a real answer, not a failure: a
short follow-up ("ok", "Passwort") then keeps the conversation's language instead of
flipping it (chat/answering.py).

py3langid (a maintained fork of langid.py): pure Python and numpy, offline, a few ms a
question. Its normalised probabilities are the confidence. It is limited to the languages
below: among its 200, a short German question may read as Luxembourgish and a casual
English one as Nigerian Pidgin, and a support desk's customers write in major languages.
The thresholds are tuned on chat/eval/language_tuning.jsonl and measured on
chat/eval/language_heldout.jsonl (chat/tests/test_language.py).

Pure Python, no Django: like the screen, it can run in a benchmark without settings.
"""

import functools
import re

# The languages detected, and how the prompt names them (in English, for the model).
NAMES = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "ca": "Catalan",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "ms": "Malay",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sr": "Serbian",
    "sv": "Swedish",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
}
# Below either, no verdict. Tuned on the tuning set: every question there scored 0.83 or
# more, every single word, number or URL 0.19 or less.
MIN_CONFIDENCE = 0.5
MIN_LETTERS = 6
# Words that say nothing of a language: links, addresses, and anything with a digit in it
# (order numbers, versions, "2FA").
NOISE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|\S*\d\S*")


@functools.cache
def _identifier():
    # Loaded once per process, on first use (a few hundred ms): not at import.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(NAMES))
    return identifier


def language_of(text: str) -> str | None:
    """The ISO 639-1 code of `text`'s language, or None when it is too short to tell or
    the detector is unsure."""
    words = NOISE.sub(" ", text)
    if sum(c.isalpha() for c in words) < MIN_LETTERS:
        return None
    code, confidence = _identifier().classify(words)
    return code if confidence >= MIN_CONFIDENCE else None


def language_name(code: str) -> str:
    return NAMES.get(code, code)


def answer_language(question: str, *, earlier: list[str]) -> str | None:
    """The language to answer `question` in: its own, else that of the latest of the
    conversation's `earlier` questions (oldest first) that has one, so "und wie lange?"
    after a German question is answered in German."""
    for text in (question, *reversed(earlier)):
        if code := language_of(text):
            return code
    return None
