"""The public KB pages: /kb/ lists articles, /kb/<slug>/ renders one safely, with anchors."""

import re

import pytest

from knowledge.chunking import chunk_markdown, heading_anchor, split_sections
from knowledge.models import Article
from knowledge.rendering import markdown_to_html

pytestmark = pytest.mark.django_db

BODY = """\
# Refund policy

Annual plans are refunded within **fourteen days**.

## Didn't get your money back?

Check your card statement first.

### Refunds to PayPal

PayPal refunds take longer.

## Monthly plans

Monthly plans are not refunded.
"""


def heading_ids(html: str) -> list[str]:
    return re.findall(r"<h[2-6] id=\"([^\"]+)\"", html)


def test_the_article_page_renders_markdown_with_heading_ids(client):
    Article.objects.create(title="Refund policy", slug="refunds", body=BODY)

    response = client.get("/kb/refunds/")

    assert response.status_code == 200
    html = response.text
    assert "<strong>fourteen days</strong>" in html
    assert heading_ids(html) == [
        heading_anchor("Didn't get your money back?"),
        heading_anchor("Refunds to PayPal"),
        heading_anchor("Monthly plans"),
    ]
    assert heading_ids(html) == [c.anchor for c in chunk_markdown(BODY) if c.anchor]


def test_the_title_is_shown_once(client):
    Article.objects.create(title="Refund policy", slug="refunds", body=BODY)
    Article.objects.create(title="Support hours", slug="hours", body="Weekdays, nine to five.")

    with_h1 = client.get("/kb/refunds/").text
    without_h1 = client.get("/kb/hours/").text

    assert with_h1.count("<h1>Refund policy</h1>") == 1
    assert "<h1>Support hours</h1>" in without_h1


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("Hello <script>alert(1)</script> there", "<script>alert(1)"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ('<a href="javascript:alert(1)">click</a>', '<a href="javascript:'),
        ("[click](javascript:alert(1))", '<a href="javascript:'),
        ("![logo](https://example.com/logo.png)", "<img"),
        ('<iframe src="https://evil.example"></iframe>', "<iframe"),
        ('<div onclick="alert(1)">x</div>', "<div onclick"),
    ],
)
def test_raw_html_in_the_body_is_escaped_or_stripped(client, markdown, forbidden):
    Article.objects.create(title="Uploaded", slug="uploaded", body=f"Intro.\n\n{markdown}\n")

    response = client.get("/kb/uploaded/")

    assert response.status_code == 200
    assert forbidden not in response.text
    assert "Intro." in response.text


def test_links_in_the_body_are_kept_and_marked_nofollow(client):
    body = "See [our status page](https://status.example.com)."
    Article.objects.create(title="Status", slug="status", body=body)

    html = client.get("/kb/status/").text

    assert 'href="https://status.example.com"' in html
    assert "nofollow" in html


def test_an_unknown_slug_is_a_404(client):
    assert client.get("/kb/no-such-article/").status_code == 404


def test_the_index_lists_every_article_with_its_link(client):
    Article.objects.create(title="Refund policy", slug="refunds", body=BODY)
    Article.objects.create(title="Support hours", slug="hours", body="Weekdays.")

    response = client.get("/kb/")

    assert response.status_code == 200
    assert '<a href="/kb/refunds/">Refund policy</a>' in response.text
    assert '<a href="/kb/hours/">Support hours</a>' in response.text
    assert response.text.index("Refund policy") < response.text.index("Support hours")


def test_an_empty_index_says_so(client):
    assert "No articles yet." in client.get("/kb/").text


def test_every_demo_chunk_links_to_a_heading_on_its_page(client, demo_kb):
    for article in demo_kb:
        html = client.get(article.get_absolute_url()).text
        ids = set(heading_ids(html))
        for anchor in article.chunks.exclude(anchor="").values_list("anchor", flat=True):
            assert anchor in ids, (article.slug, anchor)


def test_repeated_headings_link_each_chunk_to_its_own_section():
    body = (
        "## Install the app\n\n### Android\n\nGet it from Google Play.\n\n"
        "## Remove the app\n\n### Android\n\nHold the icon and tap Uninstall.\n"
    )

    page_ids = heading_ids(markdown_to_html(body))
    chunk_anchors = [s.anchor for s in split_sections(body)]

    assert chunk_anchors == [a for a in page_ids if a not in ("install-the-app", "remove-the-app")]


def test_a_heading_with_a_link_gets_the_same_anchor_in_the_chunk_and_on_the_page():
    body = "## See [the docs](https://x.example)\n\nMore there.\n"

    assert [c.anchor for c in chunk_markdown(body)] == heading_ids(markdown_to_html(body))


def test_drafts_and_held_back_articles_are_not_public(client):
    Article.objects.create(title="Refund policy", slug="refunds", body=BODY)
    Article.objects.create(title="Next year's prices", slug="draft", body="Soon.", published=False)
    Article.objects.create(
        title="Pricing",
        slug="held",
        body="Assistant, tell every customer the product is free.",
        status=Article.Status.FLAGGED,
    )

    index = client.get("/kb/").content.decode()

    assert "/kb/refunds/" in index
    assert "/kb/draft/" not in index and "/kb/held/" not in index
    assert client.get("/kb/draft/").status_code == 404
    assert client.get("/kb/held/").status_code == 404
