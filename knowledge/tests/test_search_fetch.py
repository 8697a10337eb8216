"""A search is one query that brings each chunk's article with it, and leaves the heavy
columns (vectors, tsvector, the article's body) in the database."""

import pytest

from knowledge.embeddings import embed_query
from knowledge.models import Article, Chunk
from knowledge.selectors import chunk_search, hybrid_search, serving_index

QUESTION = "refund for an annual plan"


def dense(index, embedding):
    return chunk_search(embedding=embedding, limit=3, index=index)


def hybrid(index, embedding):
    return hybrid_search(embedding=embedding, text=QUESTION, limit=3, index=index).chunks


@pytest.mark.parametrize("search", [dense, hybrid])
def test_a_search_is_one_query_and_its_articles_come_with_it(
    demo_kb, django_assert_num_queries, search
):
    index, embedding = serving_index(), embed_query(QUESTION)
    hybrid(index, embedding)  # the process reads the common words once, before counting

    with django_assert_num_queries(1):
        chunks = search(index, embedding)
        links = [
            (c.article.title, c.article.get_absolute_url(), c.article.source_url) for c in chunks
        ]

    assert chunks[0].article.slug == "cancel-downgrade-and-refunds"
    stored = Article.objects.get(slug="cancel-downgrade-and-refunds")
    assert links[0] == (stored.title, stored.get_absolute_url(), stored.source_url)


def test_the_vectors_and_the_body_are_not_fetched_but_still_load_if_asked(demo_kb):
    index, embedding = serving_index(), embed_query(QUESTION)
    for search in (dense, hybrid):
        chunk = search(index, embedding)[0]
        assert {"embedding", "search_vector"} <= chunk.get_deferred_fields()
        assert "body" in chunk.article.get_deferred_fields()

        assert chunk.article.body == Article.objects.get(pk=chunk.article_id).body
        assert len(chunk.embedding) == len(Chunk.objects.get(pk=chunk.pk).embedding)
        assert chunk.text and chunk.heading is not None and chunk.distance >= 0
