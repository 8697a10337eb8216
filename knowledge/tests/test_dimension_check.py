"""embeddings_warm_up: start-up fails clearly when a model and its stored vectors disagree."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured

from knowledge import embeddings
from knowledge.indexes import embeddings_warm_up, live_indexes_ensure
from knowledge.models import EmbeddingIndex
from knowledge.selectors import live_indexes

pytestmark = pytest.mark.django_db


def test_nothing_is_created_by_reading_the_live_indexes():
    assert live_indexes() == []
    assert not EmbeddingIndex.objects.exists()


def test_the_first_index_takes_its_dimension_from_the_model():
    index = live_indexes_ensure()[0]

    assert index.model_name == embeddings.model_name()
    assert index.dimensions == embeddings.dimension() == 384
    assert index.state == EmbeddingIndex.State.ACTIVE


def test_it_passes_when_the_stored_dimension_matches():
    live_indexes_ensure()
    embeddings_warm_up()


@pytest.mark.parametrize("dimensions", [768, 1024, 256])
def test_it_fails_clearly_when_the_stored_dimension_differs(dimensions):
    index = live_indexes_ensure()[0]
    EmbeddingIndex.objects.filter(pk=index.pk).update(dimensions=dimensions)

    with pytest.raises(ImproperlyConfigured) as caught:
        embeddings_warm_up()

    message = str(caught.value)
    assert f"stores {dimensions}-dimension vectors" in message
    assert "now makes 384" in message
    assert embeddings.model_name() in message
    assert "reembed" in message


def test_a_changed_model_without_reembed_warns_and_keeps_the_old_one(settings, caplog):
    live_indexes_ensure()
    settings.EMBEDDING_MODEL = embeddings.model_path(embeddings.DEFAULT_MODEL)

    with caplog.at_level(logging.WARNING):
        embeddings_warm_up()

    assert "until `manage.py reembed` switches them" in caplog.text
    assert EmbeddingIndex.objects.get().model_name == embeddings.DEFAULT_MODEL
