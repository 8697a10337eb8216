import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from helpdesk.environment import envbool, envfloat, envint, envlist
from helpdesk.testing import child_env


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
    from helpdesk.environment import envrate

    for rate in ("10/m", "3/h", "100/d", "5/10s"):
        monkeypatch.setenv("RATE", rate)
        assert envrate("RATE", "1/s") == rate
    monkeypatch.setenv("RATE", "ten per minute")
    with pytest.raises(ImproperlyConfigured, match="RATE"):
        envrate("RATE", "1/s")


# Addresses where nothing listens: settings must only read them, never connect.
FAKE_SERVICES = {
    "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nothing",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "LLM_BASE_URL": "http://127.0.0.1:9/v1",
    "SECRET_KEY": "not-a-secret",
}
# Run in a fresh interpreter: what the settings started or wrote, and which modules loaded.
LOAD_DJANGO = """
import os, sys, django
django.setup()
from django.conf import settings
children = open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()
print(settings.DATABASE_URL, settings.DB_POOL, "helpdesk.devstack" in sys.modules, children)
"""


def bare_env(tmp_path, **env: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HELPDESK_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        **env,
    }


def test_loading_the_settings_starts_no_process_and_writes_no_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", LOAD_DJANGO],
        env=bare_env(tmp_path, **FAKE_SERVICES),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [FAKE_SERVICES["DATABASE_URL"], "True", "False", "[]"]
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("missing", sorted(FAKE_SERVICES))
def test_a_missing_service_address_stops_the_settings_with_what_to_do(tmp_path, missing):
    env = {name: value for name, value in FAKE_SERVICES.items() if name != missing}
    result = subprocess.run(
        [sys.executable, "-c", "import helpdesk.settings"],
        env=bare_env(tmp_path, **env),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert f"set {missing}, or start through `manage.py`, `make run` or `make test`" in last_line
    assert not (tmp_path / "var").exists()


def test_a_worker_with_a_connection_pool_refuses_to_start(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool", "solo"],
        env=child_env(DB_POOL="1"),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "A Celery worker must not pool database connections" in result.stderr
    assert "start it with DB_POOL=0" in result.stderr


REVIEW_SHARES = """
import django
django.setup()
from django.conf import settings
print(*(getattr(settings, f"REVIEW_{name}") for name in (
    "SHARE_THUMBS_DOWN", "SHARE_LOW_GROUNDEDNESS", "GROUNDEDNESS_BELOW", "SHARE_REFUSED",
    "SHARE_INJECTION", "SHARE_RANDOM")))
"""


def review_shares(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", REVIEW_SHARES],
        env=bare_env(tmp_path, **FAKE_SERVICES, **env),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_review_shares_are_read_from_the_environment(tmp_path):
    assert review_shares(tmp_path).stdout.split() == ["1.0", "0.5", "0.5", "0.25", "0.1", "0.1"]
    result = review_shares(
        tmp_path,
        REVIEW_SHARE_THUMBS_DOWN="0.9",
        REVIEW_SHARE_LOW_GROUNDEDNESS="0.8",
        REVIEW_GROUNDEDNESS_BELOW="0.7",
        REVIEW_SHARE_REFUSED="0.6",
        REVIEW_SHARE_INJECTION="0",
        REVIEW_SHARE_RANDOM="0.05",
    )
    assert result.stdout.split() == ["0.9", "0.8", "0.7", "0.6", "0.0", "0.05"]


def test_the_old_review_sample_share_still_sets_the_random_share(tmp_path):
    # Deployed before answers were drawn by kind: a configuration keeps its volume.
    assert review_shares(tmp_path, REVIEW_SAMPLE_SHARE="0.3").stdout.split()[-1] == "0.3"
    new_and_old = review_shares(tmp_path, REVIEW_SAMPLE_SHARE="0.3", REVIEW_SHARE_RANDOM="0.2")
    assert new_and_old.stdout.split()[-1] == "0.2"


def test_a_review_share_given_as_a_percentage_is_refused(tmp_path):
    result = review_shares(tmp_path, REVIEW_SHARE_REFUSED="25")
    assert result.returncode != 0
    assert "REVIEW_SHARE_REFUSED must be a share between 0 and 1, not 25.0" in result.stderr
