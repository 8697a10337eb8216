import pytest

from knowledge.embeddings import embed_query
from knowledge.models import Article
from knowledge.retrieval import embed, query_for, retrieve

QUESTION = "I forgot my password and can't sign in"


def _slugs(mode: str) -> set[str]:
    found = retrieve(embedded=embed(query_for(question=QUESTION)), mode=mode, limit=10)
    return {c.article.slug for c in found.chunks}


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_unpublishing_removes_an_article_from_answers_at_once(demo_kb, admin_client, mode):
    article = Article.objects.get(slug="reset-password")
    assert "reset-password" in _slugs(mode)

    admin_client.post(
        "/admin/knowledge/article/", {"action": "unpublish", "_selected_action": [article.pk]}
    )
    assert "reset-password" not in _slugs(mode)
    # Still ten results: the HNSW scan keeps going past the filtered-out chunks.
    assert (
        len(retrieve(embedded=embed(query_for(question=QUESTION)), mode=mode, limit=10).chunks)
        == 10
    )

    admin_client.post(
        "/admin/knowledge/article/", {"action": "publish", "_selected_action": [article.pk]}
    )
    assert "reset-password" in _slugs(mode)


def test_deleting_an_article_removes_its_chunks_from_answers(demo_kb):
    Article.objects.get(slug="reset-password").delete()
    assert "reset-password" not in _slugs("hybrid")
    assert embed_query(QUESTION)  # the embedder is unaffected
