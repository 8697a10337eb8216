from django.contrib import admin
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from chat.models import Conversation, Message, ReviewSample


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["created_at", "role", "text", "sources", "interrupted", "fallback", "screened",
              "timings_ms"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="Timings")
    def timings_ms(self, obj) -> str:
        # Where the answer's time went (chat/timings.py), so a slow answer can be explained.
        return obj.timings_summary()

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class InjectionAttemptsFilter(admin.SimpleListFilter):
    """Conversations with questions the prompt-injection screen refused, for review."""

    title = "injection attempts"
    parameter_name = "injection"

    def lookups(self, request, model_admin):
        return [("yes", "Has injection attempts"), ("no", "None")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(injection_attempts__gt=0)
        if self.value() == "no":
            return queryset.filter(injection_attempts=0)
        return queryset


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "updated_at", "anonymised_at", "injection_attempts"]
    list_filter = [InjectionAttemptsFilter, "site"]
    # No session key or token: a conversation must never lead an agent to a live session.
    readonly_fields = ["created_at", "updated_at", "anonymised_at",
                       "injection_attempts"]  # fmt: skip
    inlines = [MessageInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ReviewSample)
class ReviewSampleAdmin(admin.ModelAdmin):
    """The review queue: sampled answers with their automatic signals.

    Question and answer are the redacted copies stored on the sample; nothing here reads
    the raw message text."""

    list_display = ["message_id", "reason", "question", "answer", "retrieval_score", "refused",
                    "groundedness", "feedback", "verdict", "created_at"]  # fmt: skip
    list_filter = ["reason", "verdict", "message__refused", "message__feedback"]
    list_select_related = ["message"]
    # The trouble first (ReviewSample.Reason's order), newest first within each reason.
    ordering = [
        Case(
            *[When(reason=r, then=Value(n)) for n, r in enumerate(ReviewSample.Reason.values)],
            output_field=IntegerField(),
        ),
        "-created_at",
    ]
    fields = ["reason", "question", "answer", "retrieval_score", "refused", "groundedness",
              "feedback", "sources", "verdict", "note", "reviewer", "reviewed_at"]  # fmt: skip
    readonly_fields = ["reason", "question", "answer", "retrieval_score", "refused",
                       "groundedness", "feedback", "sources", "reviewer",
                       "reviewed_at"]  # fmt: skip
    actions = ["mark_good", "mark_bad"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message")

    @admin.display(description="Evidence score")
    def retrieval_score(self, obj):
        return obj.message.retrieval_score

    @admin.display(boolean=True)
    def refused(self, obj) -> bool:
        return obj.message.refused

    @admin.display(description="Groundedness")
    def groundedness(self, obj):
        return obj.message.groundedness

    @admin.display(description="Customer feedback")
    def feedback(self, obj) -> str:
        return obj.message.get_feedback_display()

    @admin.display(description="Sources")
    def sources(self, obj) -> str:
        return ", ".join(s.get("slug", "") for s in obj.message.sources)

    def save_model(self, request, obj, form, change):
        if "verdict" in form.changed_data or "note" in form.changed_data:
            obj.reviewer, obj.reviewed_at = request.user, timezone.now()
        super().save_model(request, obj, form, change)

    def _mark(self, request, queryset, verdict: str) -> None:
        count = queryset.update(verdict=verdict, reviewer=request.user, reviewed_at=timezone.now())
        self.message_user(request, f"Marked {count} answer(s) {verdict}.")

    @admin.action(description="Mark selected answers good")
    def mark_good(self, request, queryset):
        self._mark(request, queryset, ReviewSample.Verdict.GOOD)

    @admin.action(description="Mark selected answers bad")
    def mark_bad(self, request, queryset):
        self._mark(request, queryset, ReviewSample.Verdict.BAD)
