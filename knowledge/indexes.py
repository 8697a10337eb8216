"""Writes to embedding indexes: creating one per model, switching models without a gap,
and retiring the old vectors.

A switch (`manage.py reembed` after changing EMBEDDING_MODEL) builds the new index beside
the active one. Questions keep being embedded with the active index's model and searched
in its vectors until every article has vectors in the new index; then one transaction
makes the new index active. The old vectors are deleted a grace period later, so a
question embedded with the old model just before the switch still finds its vectors.
"""

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from knowledge import calibration, embeddings
from knowledge.chunking import embedding_pipeline
from knowledge.enqueue import EMBED_ARTICLE, PURGE_INDEX, task_on_commit
from knowledge.models import Article, ArticleEmbedding, Chunk, EmbeddingIndex
from knowledge.selectors import live_indexes

logger = logging.getLogger(__name__)
State = EmbeddingIndex.State
# Chunks whose full text is rebuilt per transaction by chunk_search_config_apply.
SEARCH_CONFIG_BATCH = 2000


def live_indexes_ensure() -> list[EmbeddingIndex]:
    """The indexes new vectors go to (selectors.live_indexes), creating the active one
    where there is none: on a fresh install the configured model's index starts active,
    as there is nothing to switch from."""
    indexes = live_indexes()
    if not any(index.state == State.ACTIVE for index in indexes):
        return [embedding_index_create(model_name=embeddings.model_name(), state=State.ACTIVE)]
    return indexes


def embedding_index_create(*, model_name: str, state: str) -> EmbeddingIndex:
    """The index of `model_name`, created with its HNSW index if it is new."""
    dimensions = embeddings.dimension(model_name)
    now = timezone.now() if state == State.ACTIVE else None
    try:
        with transaction.atomic():
            index, _ = EmbeddingIndex.objects.get_or_create(
                model_name=model_name,
                defaults={"dimensions": dimensions, "state": state, "activated_at": now},
            )
    except IntegrityError:  # another process created it (or activated one) first
        index = EmbeddingIndex.objects.get(model_name=model_name)
    if index.dimensions != dimensions:
        raise ImproperlyConfigured(
            f"Embedding model {model_name!r} now makes {dimensions}-dimension vectors, but "
            f"its stored index has {index.dimensions}. Run `manage.py reembed --force`."
        )
    hnsw_create(index)
    return index


# m is pgvector's default: a larger m lifted recall, but Postgres's planner then priced
# the index above a sequential scan at 10k chunks, and dense search got slower there.
# ef_construction 128 (the default is 64) builds a better graph of the same size, so the
# plan and the search cost stay and recall rises (docs/decisions/0010). It costs a slower
# build and insert; an index built before keeps its own.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128


def hnsw_create(index: EmbeddingIndex) -> None:
    """The index's own HNSW index, unless it exists (benchmarks/retrieval.py builds it
    again after a bulk load)."""
    # A partial index per model on a dimension cast: pgvector can only index vectors of
    # one fixed dimension, and the column holds every model's. Queries repeat the cast and
    # the model filter (selectors.py) so the planner uses it.
    with connection.cursor() as cursor:
        # Postgres refuses DDL on a table with deferred FK checks pending in this
        # transaction (chunks written earlier in it): run those checks first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {index.index_name()} ON knowledge_chunk USING hnsw "
            f"((embedding::vector({int(index.dimensions)})) vector_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
            f"WHERE index_id = {int(index.pk)}"
        )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def embedding_index_build(*, model_name: str, force: bool = False) -> tuple[EmbeddingIndex, list]:
    """Start (re)embedding the knowledge base with `model_name`. Returns the index and
    the ids of the articles queued. The caller commits; the tasks run after that.

    Another model's unfinished build is abandoned: only one switch at a time."""
    active = EmbeddingIndex.objects.filter(state=State.ACTIVE).first()
    state = State.ACTIVE if active is None or active.model_name == model_name else State.BUILDING
    for other in EmbeddingIndex.objects.filter(state=State.BUILDING).exclude(model_name=model_name):
        _retire(other)
    index = embedding_index_create(model_name=model_name, state=state)
    if force:
        ArticleEmbedding.objects.filter(index=index).update(content_hash="")
    queued = stale_articles(index=index)
    for article_id in queued:
        task_on_commit(EMBED_ARTICLE, article_id, index.pk)
    if not queued and index.state == State.BUILDING:
        transaction.on_commit(lambda: embedding_index_activate_if_complete(index_id=index.pk))
    return index, queued


def stale_articles(*, index: EmbeddingIndex) -> list[int]:
    """Ids of the articles whose vectors in `index` are missing or older than their text.

    Articles held back for review are not counted: they are embedded when approved, and
    must not keep a new model's index from ever becoming active."""
    pipeline = embedding_pipeline(index.model_name)
    hashes = dict(index.article_embeddings.values_list("article_id", "content_hash"))
    articles = Article.objects.exclude(status=Article.Status.FLAGGED).only("pk", "title", "body")
    return [a.pk for a in articles if hashes.get(a.pk) != a.compute_hash(pipeline=pipeline)]


def embedding_index_progress(*, index: EmbeddingIndex) -> tuple[int, int]:
    """(articles whose vectors in the index are current, articles in the knowledge base)."""
    total = Article.objects.count()
    return total - len(stale_articles(index=index)), total


def embedding_index_activate_if_complete(*, index_id: int) -> bool:
    """Make a building index the active one once every article has vectors in it.

    One transaction retires the old index and activates the new, so every question is
    answered from one complete index or the other. Safe to call any number of times."""
    with transaction.atomic():
        index = EmbeddingIndex.objects.select_for_update().filter(pk=index_id).first()
        if index is None or index.state != State.BUILDING:
            return False
        if stale_articles(index=index):
            return False
        now = timezone.now()
        old = list(EmbeddingIndex.objects.select_for_update().filter(state=State.ACTIVE))
        EmbeddingIndex.objects.filter(pk__in=[o.pk for o in old]).update(
            state=State.RETIRED, retired_at=now
        )
        index.state, index.activated_at = State.ACTIVE, now
        index.save(update_fields=["state", "activated_at"])
        _show_index_on_articles(index)
        for o in old:
            task_on_commit(PURGE_INDEX, o.pk, countdown=settings.REEMBED_GRACE_SECONDS)
    logger.info("Embedding index %s is now active", index.model_name)
    return True


def _show_index_on_articles(index: EmbeddingIndex) -> None:
    rows = ArticleEmbedding.objects.filter(index=index, article=OuterRef("pk"))
    Article.objects.exclude(status=Article.Status.FLAGGED).update(
        status=Article.Status.READY,
        error="",
        embedding_model=index.model_name,
        embedded_at=Subquery(rows.values("embedded_at")[:1]),
    )


def _retire(index: EmbeddingIndex) -> None:
    EmbeddingIndex.objects.filter(pk=index.pk).update(
        state=State.RETIRED, retired_at=timezone.now()
    )
    task_on_commit(PURGE_INDEX, index.pk, countdown=settings.REEMBED_GRACE_SECONDS)


def embedding_index_purge(*, index_id: int) -> bool:
    """Delete a retired index: its chunks, its HNSW index and its row. Safe to rerun."""
    index = EmbeddingIndex.objects.filter(pk=index_id, state=State.RETIRED).first()
    if index is None:
        return False
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as in hnsw_create
            cursor.execute(f"DROP INDEX IF EXISTS {index.index_name()}")
        index.delete()  # cascades to its chunks and article rows
    return True


def embeddings_warm_up() -> None:
    """Load, at process start, every model that serves or builds an index, and check each
    against its stored vectors: a mismatch fails here, not at the first question."""
    names = {embeddings.model_name()}
    indexes = live_indexes()
    for index in indexes:
        if embeddings.dimension(index.model_name) != index.dimensions:
            raise ImproperlyConfigured(
                f"The knowledge base stores {index.dimensions}-dimension vectors of "
                f"{index.model_name!r}, but that model now makes "
                f"{embeddings.dimension(index.model_name)}. Run `manage.py reembed --force`."
            )
        names.add(index.model_name)
    for name in names:
        embeddings.embed_query("warm up", model=name)
    for index in indexes:  # the refusal thresholds, so the first question does not pay
        if index.state == State.ACTIVE:
            calibration.calibration_of(index)
    if indexes and embeddings.model_name() not in {i.model_name for i in indexes}:
        logger.warning(
            "EMBEDDING_MODEL is %s but the knowledge base is embedded with %s: answers keep "
            "using the latter until `manage.py reembed` switches them.",
            embeddings.model_name(),
            ", ".join(i.model_name for i in indexes),
        )


def chunk_search_config_apply() -> int:
    """Give every chunk built with another text search configuration KB_SEARCH_CONFIG's
    (Postgres regenerates its search_vector), for `manage.py reembed`; the vectors stay.
    In batches of their own transactions, so that a large KB is never locked whole and an
    interrupted run resumes where it stopped. Returns how many chunks changed."""
    config, last, changed = settings.KB_SEARCH_CONFIG, 0, 0
    while True:
        others = Chunk.objects.filter(pk__gt=last).exclude(search_config=config).order_by("pk")
        ids = list(others.values_list("pk", flat=True)[:SEARCH_CONFIG_BATCH])
        if not ids:
            break
        changed += Chunk.objects.filter(pk__in=ids).update(search_config=config)
        last = ids[-1]
    if changed:
        # Full text's common words come from these statistics (selectors.common_lexemes):
        # until autovacuum analyzes, they would be the old configuration's lexemes.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE knowledge_chunk")
    return changed
