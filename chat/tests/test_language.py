"""The assistant answers in the customer's language, from an English knowledge base: the
question's language is detected (chat/language.py) and the prompt's last message tells the
model to answer in it; the system prompt stays the same whatever the language."""

import json
import math

import pytest
from django.conf import settings

from chat.language import answer_language, language_of
from chat.prompts import build_messages, system_prompt
from chat.tests.helpers import ask, chat_socket

GERMAN = "Answer in German (the customer's language), even if the excerpts are in another language."
# The held-out set's accuracy when the thresholds were tuned on the tuning set (40 of 40),
# rounded down. The tuning set is chat/eval/language_tuning.jsonl.
HELD_OUT_ACCURACY = 1.0


def accuracy(name: str) -> float:
    rows = (settings.BASE_DIR / "chat" / "eval" / name).read_text().splitlines()
    right = 0
    for row in map(json.loads, rows):
        expected = row["expected"] if isinstance(row["expected"], list) else [row["expected"]]
        right += language_of(row["text"]) in expected
    return right / len(rows)


def test_the_held_out_questions_are_told_apart_as_well_as_when_measured():
    assert math.floor(accuracy("language_heldout.jsonl") * 100) / 100 >= HELD_OUT_ACCURACY


@pytest.mark.parametrize(
    "text", ["ok", "Passwort", "https://app.example.com/settings", "#48213", "ORD-2024-00917"]
)
def test_a_word_a_number_or_a_link_has_no_language(text):
    assert language_of(text) is None


def test_a_short_follow_up_keeps_the_conversations_language():
    earlier = ["Wie exportiere ich meine Daten als CSV?"]

    assert answer_language("und wie lange?", earlier=earlier) == "de"
    assert answer_language("PDF?", earlier=earlier) == "de"
    assert answer_language("And how long does it take?", earlier=earlier) == "en"
    assert answer_language("PDF?", earlier=[]) is None


def test_english_and_unknown_questions_get_the_prompt_they_always_had():
    plain = build_messages(question="Refund?", chunks=[], history=[])

    assert build_messages(question="Refund?", chunks=[], history=[], language="en") == plain
    assert build_messages(question="Refund?", chunks=[], history=[], language=None) == plain
    assert plain[-1]["content"].endswith("</question>")


def test_the_instruction_follows_the_question_and_never_enters_the_system_prompt():
    messages = build_messages(question="Rückerstattung?", chunks=[], history=[], language="de")

    assert messages[0] == {"role": "system", "content": system_prompt()}
    assert messages[-1]["content"].endswith(f"</question>\n\n{GERMAN}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
async def test_a_german_question_to_the_english_kb_is_answered_in_german(
    demo_kb, session_key, recording_llm, settings
):
    # The prompt is what is tested, not the answer: a short one, from one article's excerpt.
    settings.LLM_MAX_TOKENS, settings.RETRIEVAL_TOP_K = 8, 1
    socket = chat_socket(session_key)
    await socket.connect()
    german = await ask(socket, "Wie exportiere ich meine Daten als CSV?", timeout=120)
    follow_up = await ask(socket, "und PDF?", timeout=120)
    english = await ask(socket, "How do I reset my password?", timeout=120)

    assert [m["type"] for m in german][-2:] == ["sources", "done"]
    assert [m["type"] for m in follow_up][-2:] == ["sources", "done"]
    assert [m["type"] for m in english][-2:] == ["sources", "done"]
    first, second, third = (r["messages"] for r in recording_llm.requests)
    assert first[-1]["content"].endswith(f"</question>\n\n{GERMAN}")
    # "und PDF?" says nothing of its language: the conversation's German holds.
    assert second[-1]["content"].endswith(f"<question>\nund PDF?\n</question>\n\n{GERMAN}")
    assert third[-1]["content"].endswith("<question>\nHow do I reset my password?\n</question>")
    # One system prompt for every language: the LLM server's prefix cache keeps it.
    assert first[0] == second[0] == third[0] == {"role": "system", "content": system_prompt()}
