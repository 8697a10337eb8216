"""article_embed and article_schedule_embedding: chunks and vectors, idempotent, on commit."""

import pytest

from knowledge import embeddings
from knowledge.chunking import embedding_pipeline
from knowledge.indexes import stale_articles
from knowledge.models import Article, ArticleEmbedding, Chunk, EmbeddingIndex
from knowledge.services import article_embed, article_schedule_embedding

pytestmark = pytest.mark.django_db

BODY = """\
# Refunds

Tasklane refunds annual plans bought in the last fourteen days.

## Ask for a refund

Cancel the plan first, then write to support with the invoice number.

## Monthly plans

Monthly plans are not refunded; cancelling stops the next charge.
"""


def make_article(**fields) -> Article:
    defaults = {"title": "Refunds", "slug": "refunds", "body": BODY}
    return Article.objects.create(**(defaults | fields))


def test_it_creates_chunks_with_vectors_and_marks_the_article_ready():
    article = make_article()

    assert article_embed(article_id=article.pk) is True

    article.refresh_from_db()
    chunks = list(article.chunks.order_by("position"))
    assert [c.heading for c in chunks] == ["", "Ask for a refund", "Monthly plans"]
    assert [c.anchor for c in chunks] == ["", "ask-for-a-refund", "monthly-plans"]
    assert all(len(c.embedding) == 384 for c in chunks)
    assert article.status == Article.Status.READY
    assert article.error == ""
    assert article.embedded_at is not None
    assert article.embedding_model == embeddings.model_name()
    index = EmbeddingIndex.objects.get()
    assert index.state == EmbeddingIndex.State.ACTIVE
    assert index.model_name == embeddings.model_name() and index.dimensions == 384
    assert {c.index_id for c in chunks} == {index.pk}
    row = ArticleEmbedding.objects.get(article=article, index=index)
    assert row.content_hash == article.compute_hash(pipeline=embedding_pipeline(index.model_name))
    assert row.chunk_count == 3
    assert stale_articles(index=index) == []


def test_the_vectors_are_normalised_and_differ_per_chunk():
    article = make_article()
    article_embed(article_id=article.pk)

    vectors = [list(c.embedding) for c in article.chunks.all()]
    for vector in vectors:
        assert sum(x * x for x in vector) == pytest.approx(1.0, abs=1e-3)
    assert len({tuple(v) for v in vectors}) == len(vectors)


def test_embedding_an_unchanged_article_twice_does_nothing_the_second_time():
    article = make_article()
    article_embed(article_id=article.pk)
    article.refresh_from_db()
    chunk_ids = list(article.chunks.values_list("pk", flat=True))
    embedded_at = article.embedded_at

    assert article_embed(article_id=article.pk) is False

    article.refresh_from_db()
    assert list(article.chunks.values_list("pk", flat=True)) == chunk_ids
    assert article.embedded_at == embedded_at


def test_editing_the_body_replaces_the_chunks():
    article = make_article()
    article_embed(article_id=article.pk)
    old_ids = set(article.chunks.values_list("pk", flat=True))

    article.body = (
        "# Refunds\n\nRefunds are now handled by the reseller.\n\n"
        "## Resellers\n\nContact the store where you bought Tasklane.\n\n"
        "## App stores\n\nApple and Google refund purchases made in their stores.\n\n"
        "## Timing\n\nStores usually answer within two days.\n"
    )
    article.save()

    assert article_embed(article_id=article.pk) is True

    chunks = list(Chunk.objects.filter(article=article).order_by("position"))
    assert [c.position for c in chunks] == list(range(len(chunks))) == [0, 1, 2, 3]
    assert not old_ids & {c.pk for c in chunks}
    assert not any("fourteen days" in c.text or "invoice number" in c.text for c in chunks)
    assert [c.heading for c in chunks] == ["", "Resellers", "App stores", "Timing"]
    assert stale_articles(index=EmbeddingIndex.objects.get()) == []


def test_editing_only_the_title_re_embeds_too():
    article = make_article()
    article_embed(article_id=article.pk)
    article.refresh_from_db()
    first_embedded_at = article.embedded_at

    article.title = "Getting your money back"
    article.save()

    assert article_embed(article_id=article.pk) is True
    article.refresh_from_db()
    assert article.embedded_at > first_embedded_at


def test_the_content_hash_depends_on_the_embedding_model():
    article = make_article()

    assert article.compute_hash(pipeline=embedding_pipeline("a")) != article.compute_hash(
        pipeline=embedding_pipeline("BAAI/bge-small-en-v1.5")
    )


def test_embedding_a_deleted_article_does_nothing():
    article = make_article()
    article_id = article.pk
    article.delete()

    assert article_embed(article_id=article_id) is False
    assert not Chunk.objects.exists()


def test_scheduling_marks_the_article_pending_and_enqueues_once_on_commit(
    django_capture_on_commit_callbacks,
):
    article = make_article(status=Article.Status.FAILED, error="boom")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        article_schedule_embedding(article=article)

    assert len(callbacks) == 1
    article.refresh_from_db()
    assert article.status == Article.Status.PENDING
    assert article.error == ""


def test_scheduling_an_article_that_is_already_embedded_does_nothing(
    django_capture_on_commit_callbacks,
):
    article = make_article()
    article_embed(article_id=article.pk)
    article.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        article_schedule_embedding(article=article)

    assert callbacks == []
    article.refresh_from_db()
    assert article.status == Article.Status.READY


# A long title and heading, a paragraph ending in a ~25-token sentence (carried as overlap)
# and a ~200-token paragraph: the second chunk's embedding text is 264 tokens.
_SENTENCE = "Refunds for annual plans go back to the card you paid with within ten business days."
_TAIL = (
    "If you bought the plan through a reseller or an app store, that store handles the "
    "refund under its own rules."
)
LONG_TITLE = "Cancelling, downgrading and refunds for subscriptions bought through resellers"
LONG_BODY = (
    f"# {LONG_TITLE}\n\n## Refund policy\n\n"
    "### Refunds for annual plans bought through the Apple App Store or Google Play\n\n"
    + " ".join([_SENTENCE] * 9)
    + f" {_TAIL}\n\n"
    + " ".join([_SENTENCE] * 11)
    + "\n"
)


def test_every_chunk_fits_in_the_embedding_models_window():
    article = make_article(title=LONG_TITLE, slug="long-refunds", body=LONG_BODY)
    article_embed(article_id=article.pk)

    model = embeddings.get_model()
    chunks = list(article.chunks.select_related("article"))
    assert len(chunks) >= 2
    for chunk in chunks:
        n_tokens = len(model.tokenizer(chunk.embedding_text())["input_ids"])
        assert n_tokens <= model.max_seq_length, (chunk.position, n_tokens)
