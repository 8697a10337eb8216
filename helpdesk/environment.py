"""Reading settings from the environment: a malformed value is an ImproperlyConfigured
naming the variable, never a silent default. Standard library and Django's exception only,
so the development tooling can use it before Django loads."""

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# What the settings require (envrequired) and the development tooling hands over.
REQUIRED = ("DATABASE_URL", "REDIS_URL", "LLM_BASE_URL", "SECRET_KEY")


def envrequired(name: str) -> str:
    """A variable that has no default: the service it names must be chosen by whoever
    starts the process (the development tooling chooses the embedded one)."""
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(
            f"{name} is unset: set {name}, or start through `manage.py`, `make run` or "
            "`make test`, which start the embedded services and set it."
        )
    return value


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envfloat(name: str, default: float | None) -> float | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envrate(name: str, default: str) -> str:
    """A django-ratelimit rate such as "10/m" (count / optional multiplier and s, m, h or d)."""
    value = os.environ.get(name) or default
    if not re.fullmatch(r"\d+/\d*[smhd]", value):
        raise ImproperlyConfigured(f"{name} must be a rate like 10/m or 3/h, not {value!r}")
    return value


def var_dir() -> Path:
    """Where a checkout keeps its state: HELPDESK_VAR_DIR, default `var/` (git-ignored)."""
    return Path(os.environ.get("HELPDESK_VAR_DIR") or BASE_DIR / "var").resolve()
