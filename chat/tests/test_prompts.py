from chat.prompts import build_messages, format_context, system_prompt
from knowledge.models import Article, Chunk


def _chunk(title="Refunds", heading="Annual plans", text="Refunds within 14 days."):
    return Chunk(article=Article(title=title, slug="refunds"), heading=heading, text=text)


def test_the_system_prompt_comes_first_and_never_changes():
    a = build_messages(question="one", chunks=[_chunk()], history=[])
    b = build_messages(question="two", chunks=[], history=[{"user": "u", "assistant": "a"}])
    # A constant first message is what the LLM server's prefix cache can reuse.
    assert a[0] == b[0] == {"role": "system", "content": system_prompt()}


def test_earlier_turns_come_before_the_new_question():
    history = [{"user": "How do I enable 2FA?", "assistant": "Go to Settings → Security."}]
    messages = build_messages(question="And if I lose my phone?", chunks=[], history=history)

    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "How do I enable 2FA?"
    assert messages[2]["content"] == "Go to Settings → Security."
    assert "And if I lose my phone?" in messages[3]["content"]


def test_context_and_question_are_fenced_as_data():
    messages = build_messages(question="Refund?", chunks=[_chunk()], history=[])
    last = messages[-1]["content"]
    assert (
        last.index("<context>") < last.index("Refunds within 14 days.") < last.index("</context>")
    )
    assert "<question>\nRefund?\n</question>" in last
    assert "Refunds — Annual plans" in last


def test_the_prompt_says_so_when_nothing_was_found():
    messages = build_messages(question="Weather?", chunks=[], history=[])
    assert "no matching knowledge-base articles" in messages[-1]["content"]


def test_invisible_characters_in_an_article_title_never_reach_the_model():
    from types import SimpleNamespace

    article = SimpleNamespace(title="Refunds\u200b\u202e policy\u2066")
    chunk = SimpleNamespace(article=article, heading="", text="Refunds take 5 days.")

    context = format_context([chunk])

    assert "[1] Refunds policy\n" in context
