"""`manage.py check --deploy` passes with the production environment docker-compose.yml
gives the app (plus the few values a .env must supply), and fails without it."""

import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from helpdesk.testing import child_env
from helpdesk.tests.test_compose import environment, load_compose

pytestmark = pytest.mark.django_db

# What docs/production.md has the operator put in .env.
DOT_ENV = {
    "POSTGRES_PASSWORD": "pw",
    "REDIS_PASSWORD": secrets.token_hex(24),
    "SECRET_KEY": secrets.token_urlsafe(50),
    "VLLM_API_KEY": secrets.token_hex(32),
    "HF_TOKEN": "hf",
    "TLS_CERT_DIR": "/etc/helpdesk/tls",
    "ALLOWED_HOSTS": "support.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://support.example.com",
}
# The services stay this test run's own: only the app's configuration is production's.
SERVICES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "LLM_BASE_URL",
    "EMBEDDING_MODEL",
    "MEDIA_ROOT",
)


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env() -> dict[str, str]:
    web = environment(load_compose(DOT_ENV)["services"]["web"])
    return {name: value for name, value in web.items() if name not in SERVICES}


def test_the_compose_production_environment_passes_check_deploy():
    result = check_deploy(production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_on_the_development_defaults():
    # The same check, with the secure settings left at their (plain http) defaults.
    env = production_env()
    for name in ("SECURE_COOKIES", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        env[name] = ""
    result = check_deploy(env)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr
