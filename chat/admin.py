from django.contrib import admin
from django.utils import timezone

from chat.models import Conversation, Message, ReviewSample


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["created_at", "role", "text", "sources", "interrupted", "fallback"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "updated_at"]
    readonly_fields = ["session_key", "created_at", "updated_at"]
    inlines = [MessageInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ReviewSample)
class ReviewSampleAdmin(admin.ModelAdmin):
    """The review queue: sampled answers with their automatic signals."""

    list_display = ["message_id", "question", "answer", "retrieval_score", "refused",
                    "groundedness", "feedback", "verdict", "created_at"]  # fmt: skip
    list_filter = ["verdict", "message__refused", "message__feedback"]
    list_select_related = ["message"]
    fields = ["question", "answer", "retrieval_score", "refused", "groundedness", "feedback",
              "sources", "verdict", "note", "reviewer", "reviewed_at"]  # fmt: skip
    readonly_fields = ["question", "answer", "retrieval_score", "refused", "groundedness",
                       "feedback", "sources", "reviewer", "reviewed_at"]  # fmt: skip
    actions = ["mark_good", "mark_bad"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message")

    @admin.display(description="Question")
    def question(self, obj) -> str:
        asked = (
            Message.objects.filter(
                conversation_id=obj.message.conversation_id,
                role=Message.Role.USER,
                created_at__lte=obj.message.created_at,
            )
            .order_by("-created_at", "-id")
            .values_list("text", flat=True)
            .first()
        )
        return asked or ""

    @admin.display(description="Answer")
    def answer(self, obj) -> str:
        return obj.message.text

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
