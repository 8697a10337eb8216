"""A site's brand reaches its conversations' answers: the system prompt names its product
and assistant, and its refusal and fallback texts replace the desk's; a blank field falls
back to the desk's setting, and a conversation of another site, or of no site, keeps its
own."""

import asyncio
import json

import pytest
from django.conf import settings

from chat.brand import fallback_text, prompt_for, refusal_text, retrieval_scope
from chat.echo import PromptEcho
from chat.models import Conversation
from chat.prompts import RULES, system_prompt
from chat.screening import INJECTION_REFUSAL
from chat.tests.helpers import ask, chat_socket, http_chunk, key_of, read_llm_request
from knowledge.models import Collection
from widget.models import Site

ACME_INTRO = "You are Ada, the helper of Acme Projects, a planning app for builders."
BOLT_INTRO = "You are Volta, who helps riders of the Bolt scooter rental app with their trips."


async def site_conversation(session_key: str, **brand) -> Site:
    """The session's conversation, come from a site with this brand."""
    site = await Site.objects.acreate(
        name=brand.get("product_name") or "A site", allowed_origins="https://a.example", **brand
    )
    await Conversation.objects.acreate(token_hash=key_of(session_key), site=site)
    return site


@pytest.fixture
def session_keys(db):
    """Three customers' sessions, as the support page starts them."""
    from django.contrib.sessions.backends.cache import SessionStore

    from chat.services import session_chat_token

    keys = []
    for _ in range(3):
        session = SessionStore()
        session.create()
        session_chat_token(session=session)
        keys.append(session.session_key)
    return keys


def test_a_sites_brand_makes_its_system_prompt():
    acme = Site(product_name="Acme Projects", assistant_name="Ada", prompt_intro=ACME_INTRO)

    assert prompt_for(acme) == f"{ACME_INTRO}\n\n{RULES}"
    assert prompt_for(None) == system_prompt()


def test_a_sites_blank_fields_are_the_desks():
    blank = Site()

    assert prompt_for(blank) == system_prompt()
    assert refusal_text(blank) == settings.REFUSAL_TEXT
    assert fallback_text(blank, sources=True) == settings.FALLBACK_TEXT
    assert fallback_text(blank, sources=False) == settings.FALLBACK_TEXT_NO_SOURCES
    assert retrieval_scope(blank) == {}
    # A named assistant without an intro of its site's: the desk's product, in the words
    # made from the names (the desk's own intro would not name Ada).
    assert prompt_for(Site(assistant_name="Ada")) == (
        f"You are Ada, the customer-support assistant for {settings.DESK_PRODUCT_NAME}.\n\n{RULES}"
    )


def test_a_sites_fallback_text_stands_with_or_without_articles():
    site = Site(fallback_text="Volta is away; try again soon.")

    assert fallback_text(site, sources=True) == "Volta is away; try again soon."
    assert fallback_text(site, sources=False) == "Volta is away; try again soon."


@pytest.mark.django_db
def test_a_sites_collection_scopes_its_retrieval():
    collection = Collection.objects.create(name="Bolt", slug="bolt")

    assert retrieval_scope(Site(collection=collection)) == {"collection": collection.pk}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
async def test_each_conversation_is_answered_with_its_own_sites_prompt(
    demo_kb, session_keys, recording_llm, settings
):
    # The prompt is what is tested, not the answer: a short one, from one article's excerpt.
    settings.LLM_MAX_TOKENS, settings.RETRIEVAL_TOP_K = 8, 1
    acme_key, bolt_key, desk_key = session_keys
    await site_conversation(
        acme_key, product_name="Acme Projects", assistant_name="Ada", prompt_intro=ACME_INTRO
    )
    await site_conversation(bolt_key, product_name="Bolt")
    for key in session_keys:
        socket = chat_socket(key)
        await socket.connect()
        received = await ask(socket, "How do I reset my password?", timeout=120)
        assert received[-1]["type"] == "done", received

    acme, bolt, desk = (r["messages"][0]["content"] for r in recording_llm.requests)
    assert acme == f"{ACME_INTRO}\n\n{RULES}"
    assert bolt == f"You are the customer-support assistant for Bolt.\n\n{RULES}"
    assert desk == system_prompt()


@pytest.mark.django_db(transaction=True)
async def test_a_no_evidence_question_gets_the_sites_refusal(demo_kb, session_key, counting_llm):
    await site_conversation(session_key, refusal_text="Bolt's guides don't say: ask a human.")
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "What's a good recipe for banana bread?", timeout=15)

    assert received[0] == {
        "type": "refusal", "reason": "no_evidence", "text": "Bolt's guides don't say: ask a human."
    }  # fmt: skip
    assert counting_llm == []


@pytest.mark.django_db(transaction=True)
async def test_with_the_llm_down_the_customer_reads_the_sites_fallback(
    demo_kb, session_key, dead_llm
):
    await site_conversation(session_key, fallback_text="Volta is away; these guides may help.")
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?", timeout=15)

    assert received[0]["type"] == "fallback" and received[0]["sources"]
    assert received[0]["text"] == "Volta is away; these guides may help."


@pytest.mark.django_db(transaction=True)
async def test_a_recital_of_the_sites_own_prompt_is_stopped(demo_kb, session_key, settings):
    # A model that recites the site's intro, which shares no words with the desk's: only an
    # output check that knows the prompt actually sent can catch it.
    assert not PromptEcho().heard(BOLT_INTRO)
    recital = [BOLT_INTRO[i : i + 4] for i in range(0, len(BOLT_INTRO), 4)]
    llm = await asyncio.start_server(_streaming(recital), "127.0.0.1", 0)
    settings.LLM_BASE_URL = f"http://127.0.0.1:{llm.sockets[0].getsockname()[1]}/v1"
    await site_conversation(session_key, product_name="Bolt", prompt_intro=BOLT_INTRO)
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?", timeout=15)
    llm.close()

    assert received[-2] == {"type": "refusal", "reason": "injection", "text": INJECTION_REFUSAL}


def _streaming(pieces: list[str]):
    """An OpenAI-compatible peer's handler that streams `pieces` as deltas."""

    async def answer(reader, writer) -> None:
        await read_llm_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for piece in [*pieces, None]:
            choice = {"index": 0, "delta": {"content": piece} if piece else {}}
            choice["finish_reason"] = None if piece else "stop"
            writer.write(http_chunk(f"data: {json.dumps({'choices': [choice]})}\n\n"))
        writer.write(http_chunk("data: [DONE]\n\n") + b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    return answer
