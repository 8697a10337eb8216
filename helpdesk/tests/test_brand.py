"""The code names no product: its brand defaults are generic, the demo knowledge base
brings Tasklane's as environment defaults for the development tooling only, and no code
outside the demo KB says "Tasklane"."""

import os
import runpy
from pathlib import Path

from django.conf import settings
from django.db import OperationalError

from chat.prompts import RULES, system_prompt
from helpdesk import devstack
from helpdesk.views import server_error

SETTINGS = settings.BASE_DIR / "helpdesk" / "settings"
BRAND_VARIABLES = (
    "DESK_PRODUCT_NAME",
    "DESK_ASSISTANT_NAME",
    "DESK_SYSTEM_PROMPT_INTRO",
    "DESK_GREETING",
    "SITE_NAME",
)
TEXTS = ("REFUSAL_TEXT", "FALLBACK_TEXT", "FALLBACK_TEXT_NO_SOURCES")
# Where the demo's product may be named: its KB, its eval questions, and tests about them.
DEMO_DIRS = {"demo_kb", "eval", "tests"}
# Not the project's code: the virtualenv, git, caches, services' data, collected static.
SKIPPED_DIRS = {"var", "staticfiles", "test-results", "__pycache__", "node_modules"}
CODE = (".py", ".html", ".js", ".css", ".txt", ".toml", ".yml", ".yaml", ".sh")


def settings_module(name: str, monkeypatch, **env: str) -> dict:
    """The settings module `name` as it reads this environment, without touching the
    loaded settings (settings only read the environment, so reading them is harmless)."""
    for variable in (*BRAND_VARIABLES, *TEXTS):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    return runpy.run_path(str(SETTINGS / name))


def test_the_defaults_name_no_product(monkeypatch):
    brand = settings_module("brand.py", monkeypatch)

    assert brand["DESK_PRODUCT_NAME"] == "our product"
    assert brand["DESK_ASSISTANT_NAME"] == brand["DESK_SYSTEM_PROMPT_INTRO"] == ""
    assert brand["SITE_NAME"] == "Support"
    assert brand["DESK_GREETING"] == (
        "Hi! Ask me anything about our product. If I can't help, you can escalate to a "
        "human at any time."
    )
    texts = settings_module("answers.py", monkeypatch)
    for value in [brand[name] for name in BRAND_VARIABLES] + [texts[name] for name in TEXTS]:
        assert "Tasklane" not in value


def test_the_default_prompt_names_no_product(monkeypatch, settings):
    brand = settings_module("brand.py", monkeypatch)
    for name in BRAND_VARIABLES:
        setattr(settings, name, brand[name])

    assert system_prompt() == f"You are the customer-support assistant for our product.\n\n{RULES}"


def test_a_named_product_names_the_desk(monkeypatch):
    brand = settings_module(
        "brand.py", monkeypatch, DESK_PRODUCT_NAME="Acme", DESK_ASSISTANT_NAME="Ada"
    )

    assert brand["SITE_NAME"] == "Acme Support"
    assert brand["DESK_GREETING"].startswith("Hi! I'm Ada. Ask me anything about Acme.")


def test_the_demo_kb_brings_tasklanes_brand_to_the_tooling(monkeypatch):
    brand = settings_module("brand.py", monkeypatch, **devstack.demo_brand())

    assert brand["SITE_NAME"] == "Tasklane Support"
    assert "Tasklane" in brand["DESK_GREETING"]
    # The demo's prompt is the one the tests and benchmarks were written against.
    assert brand["DESK_SYSTEM_PROMPT_INTRO"] == (
        "You are the customer-support assistant for Tasklane, a task and project management app."
    )


def test_the_demo_brand_is_only_a_default(monkeypatch):
    monkeypatch.delenv("DESK_PRODUCT_NAME", raising=False)
    monkeypatch.setenv("DESK_GREETING", "Hello from Acme.")

    env = devstack.environ(llm=False)

    assert env["DESK_PRODUCT_NAME"] == "Tasklane"
    assert "DESK_GREETING" not in env


def test_the_degraded_page_names_the_desk(rf, settings):
    # Rendered without context processors (the session lives in the services that are down).
    settings.SITE_NAME = "Acme <Help>"
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(rf.get("/"))

    assert response.status_code == 503
    assert "<title>Acme &lt;Help&gt;: service degraded</title>" in response.content.decode()


def code_files():
    for root, dirs, files in os.walk(settings.BASE_DIR):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS | DEMO_DIRS]
        for name in files:
            if name.endswith(CODE):
                yield os.path.join(root, name)


def test_no_code_outside_the_demo_kb_names_tasklane():
    files = list(code_files())
    named = [
        os.path.relpath(path, settings.BASE_DIR)
        for path in files
        if "tasklane" in Path(path).read_text(encoding="utf-8", errors="replace").lower()
    ]

    assert any(path.endswith("templates/chat/index.html") for path in files)  # it looks
    assert named == []
