from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html

from widget.models import Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "origins_shown", "language", "collection", "created_at"]
    list_filter = ["active", "language"]
    list_select_related = ["collection"]
    search_fields = ["name", "allowed_origins"]
    readonly_fields = ["key", "secret_shown", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "active", "allowed_origins", "key"]}),
        ("Look", {"fields": ["title", "colour", "position", "language", "greeting"]}),
        (
            "Answers",
            {
                "fields": [
                    "collection",
                    "product_name",
                    "assistant_name",
                    "prompt_intro",
                    "refusal_text",
                    "fallback_text",
                ],  # fmt: skip
                "description": "Blank fields use the desk's own settings.",
            },
        ),
        ("Signed identity", {"fields": ["secret_shown"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Origins")
    def origins_shown(self, obj) -> str:
        return ", ".join(obj.origins)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The embed code names this desk as the editor reached it (its public address).
        extra_context = {**(extra_context or {}), "desk_origin": request.build_absolute_uri("/")}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Secret")
    def secret_shown(self, obj) -> str:
        # Only for the host's server, which signs its users' identity with it (HS256 JWT).
        return format_html(
            "<code>{}</code><p class='help'>Sign <code>{{sub, email, iat, exp}}</code> with "
            "HS256 and this secret, for one visit (exp − iat ≤ {} s), and pass it as the "
            "script tag's <code>data-identity</code>.</p>",
            obj.secret,
            settings.WIDGET_IDENTITY_MAX_SECONDS,
        )
