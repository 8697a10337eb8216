from django import forms
from django.contrib import admin
from django.template.defaultfilters import linebreaksbr
from django.utils.html import format_html_join

from tickets.models import Ticket
from tickets.services import ticket_reply


class TicketForm(forms.ModelForm):
    reply = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Sent live to the customer's chat (and by email when they left one). "
        "From your first reply on, the bot stays silent in this conversation.",
    )

    class Meta:
        model = Ticket
        fields = ["status", "priority", "assignee", "email", "subject"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketForm
    list_display = ["number", "subject", "status", "priority", "assignee", "email", "created_at"]
    list_filter = ["status", "priority", "assignee"]
    list_select_related = ["assignee"]
    search_fields = ["number", "email", "subject"]
    raw_id_fields = ["assignee"]
    readonly_fields = ["number", "conversation", "created_at", "updated_at", "transcript"]
    fields = ["number", "status", "priority", "assignee", "email", "subject", "created_at",
              "updated_at", "transcript", "reply"]  # fmt: skip

    @admin.display(description="Transcript")
    def transcript(self, obj) -> str:
        # Customer and model text is untrusted: linebreaksbr escapes it, then marks it safe.
        messages = obj.conversation.messages.all()
        return format_html_join(
            "",
            '<p class="transcript-line"><strong>{}:</strong> {}</p>',
            ((m.get_role_display(), linebreaksbr(m.text, autoescape=True)) for m in messages),
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("reply", "").strip():
            ticket_reply(ticket=obj, agent=request.user, text=form.cleaned_data["reply"])
            self.message_user(request, f"Reply sent to the customer of {obj.number}.")
