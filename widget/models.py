"""A site that embeds the chat with one script tag (static/widget/loader.js).

Below the chat in the layers: a conversation remembers the site it came from, and the chat
reads its brand, language and KB collection from it.
"""

import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

# Scheme, host and port only. Each origin goes into a header (frame-ancestors) and CORS
# answers as it is, so nothing but these characters may reach them.
ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:(?P<port>[0-9]{1,5}))?")


def key_new() -> str:
    return secrets.token_urlsafe(12)


def secret_new() -> str:
    return secrets.token_urlsafe(32)


def origin_normalised(text: str) -> str:
    """'https://Shop.Example.com/' -> 'https://shop.example.com'. ValidationError for anything
    that is not a bare http(s) origin: a path, a wildcard or a userinfo would each widen
    what may frame the chat."""
    origin = text.strip().lower().removesuffix("/")
    match = ORIGIN.fullmatch(origin)
    if not match or int(match["port"] or 0) > 65535:
        raise ValidationError(f"{text.strip()!r} is not an origin like https://www.example.com")
    return origin


colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #1f6feb.")


class Site(models.Model):
    class Position(models.TextChoices):
        RIGHT = "right", "Bottom right"
        LEFT = "left", "Bottom left"

    name = models.CharField(max_length=100)
    # Public: it is in the host page's script tag.
    key = models.CharField(max_length=32, unique=True, default=key_new, editable=False)
    # Private: the host's server signs its users' identity with it (widget/identity.py).
    secret = models.CharField(max_length=64, default=secret_new, editable=False)
    active = models.BooleanField(default=True)
    allowed_origins = models.TextField(
        help_text="One origin per line, such as https://www.example.com. Only pages on "
        "these origins can show the widget."
    )
    # Appearance.
    title = models.CharField(max_length=100, blank=True, help_text="Defaults to the desk's.")
    colour = models.CharField(max_length=7, default="#1f6feb", validators=[colour_validator])
    position = models.CharField(max_length=5, choices=Position, default=Position.RIGHT)
    language = models.CharField(
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text="The widget's language; the assistant answers in the customer's own.",
    )
    # Brand: each blank one falls back to the desk's setting (helpdesk/settings/brand.py).
    greeting = models.TextField(blank=True)
    product_name = models.CharField(max_length=100, blank=True)
    assistant_name = models.CharField(max_length=100, blank=True)
    refusal_text = models.TextField(
        blank=True, help_text="What the assistant says when the articles do not answer."
    )
    fallback_text = models.TextField(
        blank=True, help_text="What the customer reads while the model is down."
    )
    prompt_intro = models.TextField(
        blank=True, help_text="The system prompt's opening sentence: who the assistant is."
    )
    # Answers on this site come from this collection's articles only.
    collection = models.ForeignKey(
        "knowledge.Collection", null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        lines = [line for line in self.allowed_origins.splitlines() if line.strip()]
        if not lines:
            raise ValidationError({"allowed_origins": "Name at least one origin."})
        try:
            self.allowed_origins = "\n".join(dict.fromkeys(map(origin_normalised, lines)))
        except ValidationError as exc:
            raise ValidationError({"allowed_origins": exc.messages}) from exc

    @property
    def origins(self) -> list[str]:
        return [line.strip() for line in self.allowed_origins.splitlines() if line.strip()]

    # A blank field is the desk's own setting (helpdesk/settings/brand.py).
    @property
    def shown_title(self) -> str:
        return self.title or settings.SITE_NAME

    @property
    def shown_greeting(self) -> str:
        return self.greeting or settings.DESK_GREETING

    def allows(self, origin: str) -> bool:
        try:
            return origin_normalised(origin) in self.origins
        except ValidationError:
            return False
