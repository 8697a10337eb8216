"""The Content-Security-Policy header, and pages that keep to it (no inline script or style)."""

import re

import pytest
from django.conf import settings

from chat.models import Conversation, Message
from core.csp import POLICY
from knowledge.models import Article
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

EXPECTED = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# What the policy would block: an inline <script> (one without src), a style attribute,
# an on* event handler, a javascript: URL.
INLINE = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I)


@pytest.fixture
def article():
    return Article.objects.create(title="Refunds", slug="refunds", body="# Refunds\n\nText.")


@pytest.fixture
def ticket():
    conversation = Conversation.objects.create()
    Message.objects.create(conversation=conversation, role="user", text="Help")
    return Ticket.objects.create(conversation=conversation, subject="Help")


def test_the_policy_is_the_documented_one():
    assert POLICY == EXPECTED


@pytest.mark.parametrize("url", ["/", "/kb/", "/kb/refunds/", "/admin/login/", "/nowhere/"])
def test_every_public_page_carries_the_header(client, article, url):
    response = client.get(url)

    assert response["Content-Security-Policy"] == EXPECTED


def test_static_files_and_admin_pages_carry_it_too(admin_client, article, ticket):
    for url in [
        "/static/chat/chat.js",
        "/admin/",
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        f"/admin/knowledge/article/{article.pk}/change/",
    ]:
        assert admin_client.get(url)["Content-Security-Policy"] == EXPECTED, url


def test_the_support_and_kb_pages_have_nothing_inline_for_the_policy_to_block(client, article):
    for url in ["/", "/kb/", "/kb/refunds/"]:
        page = client.get(url).content.decode()
        assert not INLINE.findall(page), url


def test_the_admin_pages_the_project_adds_or_changes_have_nothing_inline(
    admin_client, article, ticket
):
    urls = [
        "/admin/",
        "/admin/knowledge/article/",
        "/admin/knowledge/article/add/",
        f"/admin/knowledge/article/{article.pk}/change/",
        f"/admin/knowledge/article/{article.pk}/chunks/",
        "/admin/knowledge/article/upload/",
        "/admin/tickets/ticket/",
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        f"/admin/chat/conversation/{ticket.conversation_id}/change/",
        "/admin/chat/reviewsample/",
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert not INLINE.findall(response.content.decode()), url


def test_no_template_of_the_project_has_inline_script_or_style():
    for path in (settings.BASE_DIR / "templates").rglob("*.html"):
        assert not INLINE.findall(path.read_text()), path
