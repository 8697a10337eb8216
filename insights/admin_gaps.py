"""The content gaps in the admin: read-only topics for staff with "view insights", and a
draft article from one for those who may also add articles."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyAdmin
from insights.gaps import gap_draft_article, gap_examples, gap_list, gap_recheck
from insights.models import ContentGap


@admin.register(ContentGap)
class ContentGapAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["label", "asked", "trend", "nearest", "draft_link", "answered", "checked_at"]
    list_display_links = ["label"]
    search_fields = ["label"]
    fields = ["label", "asked", "trend", "examples", "nearest", "draft_link", "answered",
              "checked_at"]  # fmt: skip
    readonly_fields = fields
    actions = ["draft_article", "recheck"]

    def get_queryset(self, request):
        # Counts and the trend annotated once: the list runs a constant number of queries.
        return gap_list()

    # Gaps are made by regrouping questions (insights.tasks.recheck_gaps), never by hand;
    # reading them shows customers' (redacted) words, so it takes "view insights".
    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("insights.view_insights")

    def has_draft_permission(self, request) -> bool:
        # A draft is a new (unpublished) article: the knowledge base's own permission.
        return self.has_view_permission(request) and request.user.has_perm("knowledge.add_article")

    @admin.display(description="Questions", ordering="question_count")
    def asked(self, obj) -> int:
        return obj.question_count

    @admin.display(description="Last 7 days (7 before)", ordering="recent")
    def trend(self, obj) -> str:
        arrow = "↑" if obj.recent > obj.before else "↓" if obj.recent < obj.before else "→"
        return f"{arrow} {obj.recent} ({obj.before})"

    @admin.display(description="Nearest article")
    def nearest(self, obj) -> str:
        if obj.nearest_article is None:
            return "none close enough"
        url = reverse("admin:knowledge_article_change", args=[obj.nearest_article.pk])
        return format_html(
            '<a href="{}">{}</a> ({:.2f})', url, obj.nearest_article.title, obj.nearest_similarity
        )

    @admin.display(description="Draft")
    def draft_link(self, obj) -> str:
        if obj.draft is None:
            return "—"
        url = reverse("admin:knowledge_article_change", args=[obj.draft.pk])
        state = "published" if obj.draft.published else "unpublished"
        return format_html('<a href="{}">{}</a> ({})', url, obj.draft.title, state)

    @admin.display(description="Answered now")
    def answered(self, obj) -> str:
        if obj.checked_at is None:
            return "not checked"
        return f"{obj.answered_now} of {obj.question_count}"

    @admin.display(description="Example questions (redacted)")
    def examples(self, obj) -> str:
        items = format_html_join("", "<li>{}</li>", ((text,) for text in gap_examples(gap=obj)))
        return format_html("<ul>{}</ul>", items)

    @admin.action(description="Draft an article from this gap", permissions=["draft"])
    def draft_article(self, request, queryset):
        for gap in queryset:
            if gap.draft is not None:  # one draft per gap: the editor may be writing it
                article, verb = gap.draft, "Already drafted:"
            else:
                article, verb = gap_draft_article(gap=gap, by=request.user), "Drafted"
            url = reverse("admin:knowledge_article_change", args=[article.pk])
            self.message_user(
                request,
                format_html('{} <a href="{}">{}</a> (unpublished).', verb, url, article.title),
            )

    @admin.action(description="Re-check now", permissions=["view"])
    def recheck(self, request, queryset):
        for gap in queryset:
            answered = gap_recheck(gap=gap)
            self.message_user(request, f"“{gap.label}”: {answered} question(s) answered now.")
