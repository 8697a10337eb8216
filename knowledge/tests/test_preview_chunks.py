"""The admin's "Preview chunks" view, and the read-only list of embedding indexes."""

import pytest
from django.contrib.auth.models import Group, User

from knowledge.models import Chunk, EmbeddingIndex

pytestmark = pytest.mark.django_db


def chunks_url(article) -> str:
    return f"/admin/knowledge/article/{article.pk}/chunks/"


def test_it_shows_how_an_article_was_split(admin_client, demo_kb):
    article = next(a for a in demo_kb if a.slug == "cancel-downgrade-and-refunds")

    response = admin_client.get(chunks_url(article))

    assert response.status_code == 200
    chunks = Chunk.objects.filter(article=article)
    assert chunks.count() > 1
    for chunk in chunks:
        assert chunk.heading in response.text
    assert "active index" in response.text
    assert response.text.count('<tr class="chunk">') == chunks.count()


def test_the_article_list_and_page_link_to_it(admin_client, demo_kb):
    article = demo_kb[0]

    assert chunks_url(article) in admin_client.get("/admin/knowledge/article/").text
    assert (
        chunks_url(article)
        in admin_client.get(f"/admin/knowledge/article/{article.pk}/change/").text
    )


def test_chunk_text_is_escaped(admin_client, demo_kb):
    Chunk.objects.filter(article=demo_kb[0]).update(text="<script>alert(1)</script>")

    response = admin_client.get(chunks_url(demo_kb[0]))

    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)" in response.text


def test_an_unknown_article_is_a_404(admin_client, db):
    assert admin_client.get("/admin/knowledge/article/999999/chunks/").status_code == 404


def test_an_agent_cannot_preview_chunks(client, demo_kb):
    agent = User.objects.create_user("agent", password="pw", is_staff=True)
    agent.groups.add(Group.objects.get(name="Support agents"))
    client.force_login(agent)

    assert client.get(chunks_url(demo_kb[0])).status_code == 403


def test_the_index_list_shows_each_models_progress(admin_client, demo_kb):
    response = admin_client.get("/admin/knowledge/embeddingindex/")

    assert response.status_code == 200
    index = EmbeddingIndex.objects.get()
    assert index.model_name in response.text
    assert "20 / 20" in response.text
    assert admin_client.get("/admin/knowledge/embeddingindex/add/").status_code == 403
