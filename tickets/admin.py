from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.defaultfilters import linebreaksbr
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from tickets.admin_live import LiveMixin
from tickets.admin_saved_replies import SavedRepliesMixin
from tickets.models import SavedReply, Ticket, TicketChange, TicketNote
from tickets.services import ticket_merge, ticket_record_changes, ticket_reply, ticket_update


class TicketForm(forms.ModelForm):
    reply = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Sent live to the customer's chat (and by email when they left one: see "
        "Reply emails above for its status). "
        "From your first reply on, the bot stays silent in this conversation.",
    )

    class Meta:
        model = Ticket
        fields = ["status", "priority", "assignee", "customer_name", "email", "subject"]


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):
    # Django's own model permissions: content editors write replies, agents only read and
    # use them (migration 0006).
    list_display = ["title", "updated_at"]
    search_fields = ["title", "text"]


class NoteInline(admin.TabularInline):
    model = TicketNote
    fields = ["text", "author", "created_at"]
    readonly_fields = ["author", "created_at"]
    extra = 1
    verbose_name_plural = "Internal notes (never shown to the customer)"

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # notes are a record: add, don't rewrite


class ChangeInline(admin.TabularInline):
    model = TicketChange
    fields = ["changed_at", "who", "field", "old", "new"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "History"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")

    @admin.display(description="Changed by")
    def who(self, obj) -> str:
        # Agents are recorded by user; no user is the customer, escalating again from the
        # chat (or an agent account deleted since).
        return obj.changed_by.get_username() if obj.changed_by_id else "customer (chat)"


class MineFilter(admin.SimpleListFilter):
    title = "assigned to me"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("1", "Mine")]

    def queryset(self, request, queryset):
        return queryset.filter(assignee=request.user) if self.value() == "1" else queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("1", "Overdue")]

    def queryset(self, request, queryset):
        if self.value() != "1":
            return queryset
        return queryset.filter(due_at__lt=timezone.now()).exclude(status__in=Ticket.DONE)


@admin.register(Ticket)
class TicketAdmin(LiveMixin, SavedRepliesMixin, admin.ModelAdmin):
    form = TicketForm
    list_display = ["number", "subject", "status", "priority", "assignee", "unverified_email",
                    "message_count", "due", "csat_score", "created_at"]  # fmt: skip
    list_filter = ["status", "priority", MineFilter, OverdueFilter, "assignee"]
    list_select_related = ["assignee", "conversation"]
    search_fields = ["number", "email", "subject", "customer_name", "conversation__messages__text",
                     "conversation__verified_id", "conversation__verified_email"]  # fmt: skip
    raw_id_fields = ["assignee"]
    readonly_fields = ["number", "conversation", "identity", "merged_into", "due_at", "created_at",
                       "updated_at", "csat", "transcript", "reply_emails"]  # fmt: skip
    fields = ["number", "status", "priority", "assignee", "identity", "customer_name", "email",
              "subject",
              "merged_into", "due_at", "created_at", "updated_at", "csat", "transcript",
              "reply_emails", "reply"]  # fmt: skip
    inlines = [NoteInline, ChangeInline]
    actions = ["assign_to_me", "mark_open", "mark_resolved", "mark_closed", "merge"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("queue/", view(self.queue_view), name="tickets_ticket_queue"),
            path(
                "<int:ticket_id>/handoff/<str:action>/",
                view(self.handoff_view),
                name="tickets_ticket_handoff",
            ),
            path(
                "<int:ticket_id>/saved-replies/",
                view(self.saved_replies_view),
                name="tickets_ticket_saved_replies",
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request):
        # Annotated here so the list page runs a constant number of queries.
        return super().get_queryset(request).annotate(n_messages=Count("conversation__messages"))

    @admin.display(description="Messages", ordering="n_messages")
    def message_count(self, obj) -> int:
        return obj.n_messages

    @admin.display(description="Email", ordering="email")
    def unverified_email(self, obj) -> str:
        # Typed in the chat and never confirmed: say so wherever an agent reads it. A host
        # site's signed one (widget/identity.py) is the customer's, checked.
        if obj.conversation.verified_email:
            return f"{obj.conversation.verified_email} (verified)"
        return f"{obj.email} (unverified)" if obj.email else "—"

    @admin.display(description="Identity")
    def identity(self, obj) -> str:
        return obj.conversation.identity_text()

    @admin.display(description="Due", ordering="due_at")
    def due(self, obj):
        if obj.due_at is None:
            return "—"
        when = timezone.localtime(obj.due_at).strftime("%d %b %H:%M")
        if obj.is_overdue():
            return format_html('<strong class="overdue">⚠ overdue since {}</strong>', when)
        return when

    @admin.display(description="Customer's rating")
    def csat(self, obj) -> str:
        if obj.csat_score is None:
            return "—"
        when = timezone.localtime(obj.csat_at).strftime("%d %b %H:%M")
        # The comment is the customer's text: format_html escapes it.
        return format_html(
            "<strong>{}/5</strong> ({}){}", obj.csat_score, when,
            format_html(": {}", obj.csat_comment) if obj.csat_comment else "",
        )  # fmt: skip

    @admin.display(description="Transcript")
    def transcript(self, obj) -> str:
        # Customer and model text is untrusted: linebreaksbr escapes it, then marks it safe.
        messages = obj.conversation.messages.all()
        return format_html_join(
            "",
            '<p class="transcript-line"><strong>{}:</strong> {}</p>',
            ((m.get_role_display(), linebreaksbr(m.text, autoescape=True)) for m in messages),
        )

    @admin.display(description="Reply emails")
    def reply_emails(self, obj) -> str:
        # A field, not an inline: it is read-only, and an inline would add a formset to
        # every save of the form. Queued ones are being retried by the worker.
        rows = obj.reply_emails.select_related("message") if obj.pk else []
        return format_html_join(
            "",
            '<p class="reply-email reply-email-{}"><strong>{}</strong> ({} attempt(s){}) '
            "{}: {}</p>",
            (
                (e.status, e.get_status_display(), e.attempts,
                 f", last error: {e.last_error}" if e.last_error else "",
                 timezone.localtime(e.created_at).strftime("%d %b %H:%M"), e.message.text[:80])
                for e in rows
            ),
        ) or "—"  # fmt: skip

    def save_model(self, request, obj, form, change):
        before = Ticket.objects.get(pk=obj.pk).audited_values() if change else None
        super().save_model(request, obj, form, change)
        if before is not None:
            ticket_record_changes(ticket=obj, before=before, by=request.user)
        if form.cleaned_data.get("reply", "").strip():
            ticket_reply(ticket=obj, agent=request.user, text=form.cleaned_data["reply"])
            self.message_user(request, f"Reply sent to the customer of {obj.number}.")

    def save_formset(self, request, form, formset, change):
        for note in formset.save(commit=False):
            if isinstance(note, TicketNote) and note.author_id is None:
                note.author = request.user
            note.save()
        formset.save_m2m()

    def _bulk(self, request, queryset, label: str, **fields) -> None:
        for ticket in queryset.select_related("assignee"):
            ticket_update(ticket=ticket, by=request.user, **fields)
        self.message_user(request, f"{label}: {queryset.count()} ticket(s).")

    @admin.action(description="Assign to me")
    def assign_to_me(self, request, queryset):
        self._bulk(request, queryset, "Assigned to you", assignee=request.user)

    @admin.action(description="Mark open")
    def mark_open(self, request, queryset):
        self._bulk(request, queryset, "Marked open", status=Ticket.Status.OPEN)

    @admin.action(description="Mark resolved")
    def mark_resolved(self, request, queryset):
        self._bulk(request, queryset, "Marked resolved", status=Ticket.Status.RESOLVED)

    @admin.action(description="Mark closed")
    def mark_closed(self, request, queryset):
        self._bulk(request, queryset, "Marked closed", status=Ticket.Status.CLOSED)

    @admin.action(description="Merge duplicates into the oldest selected ticket")
    def merge(self, request, queryset):
        try:
            survivor = ticket_merge(
                tickets=list(queryset.select_related("conversation")), by=request.user
            )
        except ValueError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        self.message_user(
            request, f"Merged {queryset.count() - 1} ticket(s) into {survivor.number}."
        )
