from django.contrib import admin
from django.template.defaultfilters import linebreaksbr
from django.utils.html import format_html_join

from tickets.models import Ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["number", "subject", "status", "priority", "assignee", "email", "created_at"]
    list_filter = ["status", "priority", "assignee"]
    list_select_related = ["assignee"]
    search_fields = ["number", "email", "subject"]
    raw_id_fields = ["assignee"]
    readonly_fields = ["number", "conversation", "created_at", "updated_at", "transcript"]
    fields = ["number", "status", "priority", "assignee", "email", "subject", "created_at",
              "updated_at", "transcript"]  # fmt: skip

    @admin.display(description="Transcript")
    def transcript(self, obj) -> str:
        # Customer and model text is untrusted: linebreaksbr escapes it, then marks it safe.
        messages = obj.conversation.messages.all()
        return format_html_join(
            "",
            '<p class="transcript-line"><strong>{}:</strong> {}</p>',
            ((m.get_role_display(), linebreaksbr(m.text, autoescape=True)) for m in messages),
        )
