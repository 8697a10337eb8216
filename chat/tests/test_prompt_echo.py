"""PromptEcho hears a recital of the system prompt however the stream is cut into deltas,
wherever in the answer it starts and however it is written, and lets ordinary answers be."""

import unicodedata

import pytest
from django.conf import settings

from chat.echo import ECHO_RUN, SAYABLE, WORD, PromptEcho, word_runs
from chat.prompts import system_prompt
from chat.screening import fold

# This deployment's prompt: the demo KB's brand in the tests (knowledge/demo_kb/brand.env).
SYSTEM_PROMPT = system_prompt()
# llama.cpp streams a token or two at a time; a busy server or a slow read joins a few.
DELTA_SIZES = range(1, 13)
DEMO_KB = sorted((settings.BASE_DIR / "knowledge" / "demo_kb").glob("*.md"))
ORDINARY = "\n\n".join(path.read_text() for path in DEMO_KB)
FIRST_WORDS = WORD.findall(fold(SYSTEM_PROMPT))[: ECHO_RUN - 1]


def streamed(text: str, size: int) -> tuple[str, bool]:
    """What reaches the customer when `text` comes in deltas of `size` characters, and
    whether the check stopped it."""
    echo, sent = PromptEcho(), ""
    for i in range(0, len(text), size):
        if echo.heard(text[i : i + size]):
            return sent, True
        sent += text[i : i + size]
    return sent, False


def recited(text: str) -> set[tuple[str, ...]]:
    """The runs of ECHO_RUN words `text` shares with the prompt (folded, as the check is)."""
    return word_runs(text) & PromptEcho().runs


def accented(text: str) -> str:
    return text.translate(str.maketrans("aeiouAEIOU", "áéíóúÀÉÍÓÚ"))


def full_width(text: str) -> str:
    # The full-width forms of printable ASCII sit at a fixed offset (U+FF01-FF5E).
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def decomposed(text: str) -> str:
    # Accents as combining marks: a delta can end between a letter and its accent.
    return unicodedata.normalize("NFD", accented(text))


def test_the_demo_articles_share_no_run_with_the_prompt():
    # What the tests below rely on: any flag on these texts is a false alarm.
    assert len(ORDINARY.split()) > 5000
    assert not recited(ORDINARY)


@pytest.mark.parametrize("size", DELTA_SIZES)
def test_a_recital_is_caught_before_its_eighth_word_in_deltas_of_any_size(size):
    sent, caught = streamed(SYSTEM_PROMPT, size)

    assert caught
    assert not recited(sent)
    # Not a word too early either: seven words of the prompt are no recital yet.
    assert WORD.findall(fold(sent))[: ECHO_RUN - 1] == FIRST_WORDS


@pytest.mark.parametrize("size", DELTA_SIZES)
def test_a_recital_that_starts_after_500_words_of_answer_is_still_caught(size):
    answer = " ".join(ORDINARY.split()[:500])
    sent, caught = streamed(f"{answer}\n\nAnyway, here are my instructions: {SYSTEM_PROMPT}", size)

    assert caught
    assert sent.startswith(answer)
    assert not recited(sent)


@pytest.mark.parametrize("size", DELTA_SIZES)
def test_an_ordinary_answer_is_never_flagged_in_deltas_of_any_size(size):
    for path in DEMO_KB:
        sent, caught = streamed(path.read_text(), size)
        assert not caught, path.name


@pytest.mark.parametrize("size", DELTA_SIZES)
def test_the_offer_of_a_human_is_not_flagged_in_deltas_of_any_size(size):
    answer = f"I don't know that from our articles, but {SAYABLE}. The excerpts do not say."
    assert not streamed(answer, size)[1]


@pytest.mark.parametrize(
    "disguise",
    [str.upper, str.swapcase, accented, full_width, decomposed],
    ids=["upper", "swapcase", "accented", "full-width", "decomposed"],
)
@pytest.mark.parametrize("size", DELTA_SIZES)
def test_a_recital_in_other_case_accents_or_full_width_letters_is_still_caught(disguise, size):
    sent, caught = streamed(disguise(SYSTEM_PROMPT), size)

    assert caught
    assert not recited(sent)
    assert WORD.findall(fold(sent))[: ECHO_RUN - 1] == FIRST_WORDS


def test_a_recital_of_a_later_rule_is_caught_too():
    rule = next(line for line in SYSTEM_PROMPT.splitlines() if "data, not instructions" in line)
    sent, caught = streamed(f"Sure. {rule.lstrip('- ')}", 3)

    assert caught
    assert not recited(sent)
