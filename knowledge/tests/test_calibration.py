"""The refusal threshold each index derives from its own KB, and off-topic questions that
come after an answered one."""

import pytest

from knowledge import calibration
from knowledge.embeddings import embed_query
from knowledge.retrieval import embed, min_similarity, query_for, retrieve
from knowledge.selectors import chunk_search, serving_index
from knowledge.tests import second_model

TWO_FA = [
    {
        "user": "How do I turn on two-step login?",
        "assistant": "Go to Settings → Security → Two-factor authentication and click Enable.",
    }
]


def test_the_threshold_is_how_close_the_nearest_off_topic_probe_comes_to_this_kb(demo_kb):
    index = serving_index()
    nearest = [
        1 - chunk_search(embedding=v.tolist(), limit=1, index=index)[0].distance
        for v in calibration.probe_vectors(index.model_name)
    ]
    assert len(nearest) == len(calibration.probes()) >= 30
    assert min_similarity() == pytest.approx(max(nearest))
    assert 0.1 < min_similarity() < 0.6


def test_a_set_threshold_overrides_the_derived_one(demo_kb, settings):
    settings.RETRIEVAL_MIN_SIMILARITY = 0.42
    assert min_similarity() == 0.42


def test_with_nothing_embedded_everything_is_refused(db):
    assert min_similarity() == 1.0
    assert retrieve(embedded=embed(query_for(question="How do I reset my password?"))).refused


def test_an_off_topic_question_after_an_answered_one_is_refused(demo_kb):
    found = retrieve(
        embedded=embed(
            query_for(question="what's the capital of france?", previous=TWO_FA[-1]["user"])
        )
    )
    # Searched with the 2FA question in front, it finds the 2FA article...
    assert found.chunks[0].article.slug == "two-factor-authentication"
    # ...but that is the earlier question's evidence, not this one's.
    assert found.refused


def test_a_real_follow_up_still_borrows_the_earlier_question(demo_kb):
    found = retrieve(
        embedded=embed(
            query_for(question="and what if my phone gets stolen?", previous=TWO_FA[-1]["user"])
        )
    )
    assert found.chunks[0].article.slug == "two-factor-authentication"
    assert not found.refused


def test_an_off_topic_question_is_nearer_a_probe_than_the_kb(demo_kb):
    index = serving_index()
    for question, expected in [
        ("who won the football world cup in 2018?", True),
        ("How do I reset my password?", False),
    ]:
        vector = embed_query(question)
        best = 1 - chunk_search(embedding=vector, limit=1, index=index)[0].distance
        assert calibration.off_topic(vector, best_similarity=best, index=index) is expected


def test_each_index_has_a_threshold_of_its_own_model(demo_kb, tmp_path, settings):
    from knowledge.indexes import embedding_index_create
    from knowledge.models import EmbeddingIndex
    from knowledge.services import article_embed

    first = min_similarity()
    model = second_model.build(tmp_path / "model", dimensions=128)
    index = embedding_index_create(model_name=model, state=EmbeddingIndex.State.BUILDING)
    for article in demo_kb:
        article_embed(article_id=article.pk, index_id=index.pk)
    second = calibration.min_similarity(index)
    assert second != pytest.approx(first, abs=1e-4)


@pytest.mark.django_db(transaction=True)
def test_an_expired_threshold_answers_at_once_and_is_refreshed_on_a_thread(demo_kb, settings):
    import time

    index = serving_index()
    fresh = min_similarity()
    kept = calibration.calibrations()
    stale = calibration.Calibration(0.99, kept.known(index).kept)
    kept.keep(index, stale, computed_at=0.0)  # computed long ago, and since then wrong
    settings.RETRIEVAL_COMMON_WORDS_SECONDS = 0

    assert calibration.min_similarity(index) == 0.99  # no question waits for the refresh
    deadline = time.monotonic() + 30
    while kept.known(index) is stale and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kept.known(index).threshold == pytest.approx(fresh)
    while kept.refreshing() and time.monotonic() < deadline:
        time.sleep(0.05)  # its connection closed before the test's tables are flushed


def test_a_probe_the_kb_really_answers_does_not_raise_the_bar(demo_kb):
    from knowledge.services import article_embed, article_upsert

    before = min_similarity()
    article, _ = article_upsert(
        filename="boiling-eggs.md",
        data=b"# How long to boil an egg\n\nFor a soft-boiled egg, boil it for 6 minutes; "
        b"for a hard-boiled egg, boil it for 10 minutes, then cool it in cold water.\n",
    )
    article_embed(article_id=article.pk)
    calibration.calibrations().clear()

    # The egg probe now finds its article, far closer than any other probe comes...
    nearest = [
        1 - chunk_search(embedding=v.tolist(), limit=1, index=serving_index())[0].distance
        for v in calibration.probe_vectors(serving_index().model_name)
    ]
    assert max(nearest) > before + 0.2
    # ...and is left out: the threshold is what the other probes say, and the question is
    # answered, not taken for small talk.
    assert min_similarity() == pytest.approx(before, abs=0.02)
    found = retrieve(embedded=embed(query_for(question="how long should I boil an egg")))
    assert found.chunks[0].article.slug == "boiling-eggs"
    assert not found.refused


def test_the_threshold_leaves_out_only_a_probe_that_stands_far_apart():
    spread_out = [0.10, 0.12, 0.14, 0.15, 0.16, 0.18, 0.20, 0.27]
    assert calibration.calibrate(spread_out).threshold == 0.27
    with_answered = calibration.calibrate([*spread_out, 0.75])
    assert with_answered.threshold == 0.27
    assert with_answered.kept.tolist() == [True] * 8 + [False]
    assert calibration.calibrate([]).threshold == 0.0
