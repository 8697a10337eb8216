"""Answer sources link only to this site's KB pages and the hosts in DOCS_DOMAINS."""

import pytest
from django.db.models import Value
from django.db.models.functions import Concat

from chat.answering import sources_for
from chat.tests.helpers import ask, chat_socket
from core.links import link_allowed
from knowledge.models import Article, Chunk


def chunk(source_url: str = "", anchor: str = "steps", pk: int = 1) -> Chunk:
    article = Article(pk=pk, title="Reset your password", slug="reset-password",
                      source_url=source_url)  # fmt: skip
    return Chunk(article=article, heading="Steps", anchor=anchor, text="...")


@pytest.fixture(autouse=True)
def _docs_domains(settings):
    settings.DOCS_DOMAINS = ["docs.tasklane.example", ".help.example"]


def test_an_article_without_a_source_url_links_to_its_kb_section():
    [source] = sources_for([chunk()])

    assert source == {"title": "Reset your password", "url": "/kb/reset-password/#steps",
                      "slug": "reset-password", "section": "Steps"}  # fmt: skip


def test_a_source_url_on_another_host_is_replaced_by_the_kb_page():
    [source] = sources_for([chunk("https://evil.example/reset-password")])

    assert source["url"] == "/kb/reset-password/#steps"


def test_a_source_url_on_a_docs_domain_is_kept():
    [source] = sources_for([chunk("https://docs.tasklane.example/account/reset")])

    assert source["url"] == "https://docs.tasklane.example/account/reset"


def test_without_docs_domains_every_source_is_a_kb_page(settings):
    settings.DOCS_DOMAINS = []

    [source] = sources_for([chunk("https://docs.tasklane.example/account/reset")])

    assert source["url"] == "/kb/reset-password/#steps"


@pytest.mark.parametrize(
    "url",
    [
        "/kb/reset-password/",
        "/kb/reset-password/#steps",
        "https://docs.tasklane.example/guide",
        "http://DOCS.tasklane.example/guide",
        "https://help.example/faq",
        "https://eu.help.example/faq",
    ],
)
def test_these_links_are_allowed(url):
    assert link_allowed(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://evil.example/",
        "//evil.example/kb/",
        "/\\evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://docs.tasklane.example/file",
        "https://docs.tasklane.example.evil.example/",
        "https://evildocs.tasklane.example/",
        "https://docs.tasklane.example@evil.example/",
        "https://user:pass@docs.tasklane.example/",
        "https://nothelp.example/",
        "https://docs.tasklane.example/\nx",
        " https://evil.example/",
    ],
)
def test_these_links_are_refused(url):
    assert not link_allowed(url)


@pytest.mark.django_db(transaction=True)
async def test_through_the_socket_a_planted_source_url_never_reaches_the_customer(
    demo_kb, session_key, dead_llm, settings
):
    # The fallback answer lists the best-matching articles without a model in the way;
    # ten chunks, so that several articles are among them.
    settings.RETRIEVAL_TOP_K = 10
    await Article.objects.aupdate(
        source_url=Concat(Value("https://docs.tasklane.example/"), "slug")
    )
    await Article.objects.filter(slug="reset-password").aupdate(
        source_url="https://evil.example/reset-password"
    )
    socket = chat_socket(session_key)
    await socket.connect()
    received = await ask(socket, "How do I reset my password?", timeout=15)

    urls = {s["slug"]: s["url"] for s in received[0]["sources"]}
    assert len(urls) > 1
    assert urls.pop("reset-password").startswith("/kb/reset-password/")
    for slug, url in urls.items():
        assert url == f"https://docs.tasklane.example/{slug}"
