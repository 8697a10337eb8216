"""The public KB page links an article's source URL only where the chat would: this site's
own pages and the hosts in DOCS_DOMAINS (core/links.py)."""

import pytest

from knowledge.models import Article

pytestmark = pytest.mark.django_db

BODY = "# Reset your password\n\nOpen Settings and choose Reset."


@pytest.fixture(autouse=True)
def _docs_domains(settings):
    settings.DOCS_DOMAINS = ["docs.tasklane.example", ".help.example"]


def page(client, source_url: str) -> str:
    Article.objects.create(title="Reset", slug="reset", body=BODY, source_url=source_url)
    response = client.get("/kb/reset/")
    assert response.status_code == 200
    return response.text


def test_it_links_a_source_url_on_a_docs_domain(client):
    html = page(client, "https://docs.tasklane.example/account/reset")

    assert '<a href="https://docs.tasklane.example/account/reset"' in html


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/reset-password",
        "https://docs.tasklane.example.evil.example/reset",
        "https://user:pw@docs.tasklane.example/reset",
        "javascript:alert(1)",
        "//evil.example/reset",
    ],
)
def test_it_does_not_link_a_source_url_off_the_allow_list(client, url):
    html = page(client, url)

    assert "evil.example" not in html
    assert "javascript:" not in html
    assert "user:pw" not in html
    assert 'class="kb-source"' not in html


def test_without_docs_domains_it_links_no_other_site(client, settings):
    settings.DOCS_DOMAINS = []

    html = page(client, "https://docs.tasklane.example/account/reset")

    assert "docs.tasklane.example" not in html
