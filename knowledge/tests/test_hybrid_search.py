from knowledge.embeddings import embed_query
from knowledge.retrieval import Query, embed, query_for, retrieve
from knowledge.selectors import (
    COMMON_LEXEMES_SQL,
    chunk_search,
    common_lexemes,
    fulltext_words,
    hybrid_search,
    serving_index,
)


def test_the_full_text_query_takes_the_questions_words():
    assert fulltext_words("How do I get a REFUND?!") == "how do get refund"
    assert fulltext_words("?! ' ;") == ""


def test_hybrid_search_returns_ranked_chunks_with_their_articles(demo_kb):
    question = "refund for an annual plan"
    result = hybrid_search(
        embedding=embed_query(question), text=question, limit=3, index=serving_index()
    )

    assert len(result.chunks) == 3
    assert result.chunks[0].article.slug == "cancel-downgrade-and-refunds"
    assert 0 < result.best_similarity <= 1


def test_a_follow_up_is_searched_with_the_previous_question(demo_kb):
    previous, question = (
        "How do I set up two-factor authentication?",
        "And what if I lose my phone?",
    )
    query = query_for(question=question, previous=previous)
    assert query == Query(question, f"{previous} {question}")

    found = retrieve(embedded=embed(query))
    assert found.chunks[0].article.slug == "two-factor-authentication"
    assert not found.refused


def test_a_first_question_is_searched_with_its_own_words():
    assert query_for(question="Refund?") == Query("Refund?", "Refund?")


def test_with_the_rewrite_off_a_follow_up_is_searched_alone():
    query = query_for(question="And if I lose it?", previous="My phone?", rewrite=False)
    assert query.text == "And if I lose it?"


def test_an_off_topic_question_is_refused(demo_kb):
    found = retrieve(embedded=embed(query_for(question="What's the weather in Paris tomorrow?")))
    assert found.refused


def test_every_connection_searches_hnsw_with_a_wide_candidate_list(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT '[1,0]'::vector <=> '[0,1]'::vector")  # loads pgvector
        cursor.execute("SHOW hnsw.ef_search")
        assert cursor.fetchone()[0] == "200"
        # Priced for SSDs, so the planner keeps the HNSW index at ef_search 200.
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"


def test_full_text_leaves_out_words_that_too_many_chunks_hold(demo_kb, settings):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE knowledge_chunk")  # what autovacuum does on its own
        cursor.execute(COMMON_LEXEMES_SQL, {"max_matches": 1000})
        assert cursor.fetchall() == []  # a KB this small keeps every word
        cursor.execute(COMMON_LEXEMES_SQL, {"max_matches": 30})
        common = {lexeme for (lexeme,) in cursor.fetchall()}
    assert {"tasklan", "workspac"} <= common  # the product's name is in most chunks
    assert "refund" not in common

    # A question of only such words gets nothing from full text: it ranks as dense does.
    settings.RETRIEVAL_SPARSE_MAX_MATCHES = 30
    assert {"tasklan", "workspac"} <= set(common_lexemes(max_matches=30))
    question = "Tasklane workspace plan"
    index, embedding = serving_index(), embed_query(question)
    hybrid = hybrid_search(embedding=embedding, text=question, limit=3, index=index)
    dense = chunk_search(embedding=embedding, limit=3, index=index)
    assert [c.pk for c in hybrid.chunks] == [c.pk for c in dense]


def test_the_common_words_are_read_once_per_process_until_they_expire(demo_kb, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from knowledge import selectors

    selectors.kept().clear()
    with CaptureQueriesContext(connection) as first:
        assert common_lexemes(max_matches=1000) == []
    with CaptureQueriesContext(connection) as again:
        common_lexemes(max_matches=1000)
    settings.RETRIEVAL_COMMON_WORDS_SECONDS = 0
    with CaptureQueriesContext(connection) as expired:
        common_lexemes(max_matches=1000)

    assert (len(first), len(again), len(expired)) == (1, 0, 1)
