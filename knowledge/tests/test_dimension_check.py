"""check_stored_dimension: start-up fails clearly when the model and the stored vectors disagree."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from knowledge import embeddings

pytestmark = pytest.mark.django_db


def test_the_stored_dimension_is_the_configured_one(settings):
    assert embeddings.stored_dimension() == settings.EMBEDDING_DIMENSIONS == 384


def test_it_passes_when_the_configured_dimension_matches(settings):
    embeddings.check_stored_dimension()


@pytest.mark.parametrize("dimensions", [768, 1024, 256])
def test_it_fails_clearly_when_the_configured_dimension_differs(settings, dimensions):
    settings.EMBEDDING_DIMENSIONS = dimensions

    with pytest.raises(ImproperlyConfigured) as caught:
        embeddings.check_stored_dimension()

    message = str(caught.value)
    assert "stores 384-dimension vectors" in message
    assert f"produces {dimensions}" in message
    assert embeddings.model_name() in message
    assert "re-embed" in message
