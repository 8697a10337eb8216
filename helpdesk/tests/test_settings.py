import pytest
from django.core.exceptions import ImproperlyConfigured

from helpdesk.settings import envbool, envfloat, envint, envlist


def test_envbool_reads_the_usual_spellings(monkeypatch):
    for value, expected in [
        ("1", True),
        ("yes", True),
        ("TRUE", True),
        ("0", False),
        ("off", False),
    ]:
        monkeypatch.setenv("FLAG", value)
        assert envbool("FLAG", not expected) is expected


def test_unset_or_empty_variables_take_the_default(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    monkeypatch.setenv("NUMBER", "")
    assert envbool("FLAG", True) is True
    assert envint("NUMBER", 7) == 7


def test_it_rejects_malformed_values_with_the_variables_name(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    monkeypatch.setenv("NUMBER", "ten")
    monkeypatch.setenv("RATIO", "half")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        envbool("FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="NUMBER"):
        envint("NUMBER", 1)
    with pytest.raises(ImproperlyConfigured, match="RATIO"):
        envfloat("RATIO", 1.0)


def test_envlist_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , ,b.example")
    assert envlist("HOSTS", "") == ["a.example", "b.example"]


def test_the_default_embedding_model_is_the_bundled_minilm(settings):
    from knowledge import embeddings

    settings.EMBEDDING_MODEL = ""
    assert embeddings.model_name() == embeddings.DEFAULT_MODEL
    assert embeddings.dimension() == 384


def test_envrate_accepts_django_ratelimit_rates_and_rejects_others(monkeypatch):
    from helpdesk.settings import envrate

    for rate in ("10/m", "3/h", "100/d", "5/10s"):
        monkeypatch.setenv("RATE", rate)
        assert envrate("RATE", "1/s") == rate
    monkeypatch.setenv("RATE", "ten per minute")
    with pytest.raises(ImproperlyConfigured, match="RATE"):
        envrate("RATE", "1/s")
