from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify

from core.admin import ReadOnlyAdmin
from knowledge.extract import SUPPORTED
from knowledge.indexes import embedding_index_progress
from knowledge.models import (
    Article,
    ArticleEmbedding,
    Collection,
    EmbeddingIndex,
    Upload,
    UploadFile,
)
from knowledge.sanitise import ADDRESSES_ASSISTANT, HIDDEN_HTML, HTML_COMMENT, INVISIBLE_CHARACTERS
from knowledge.services import article_approve, article_schedule_embedding
from knowledge.uploads import (
    file_problem,
    upload_create,
    upload_create_for_article,
    upload_limits_problems,
)

FINDING_LABELS = {
    ADDRESSES_ASSISTANT: "Addresses the assistant (left out of the embedding)",
    HIDDEN_HTML: "Hidden HTML removed",
    HTML_COMMENT: "HTML comments removed",
    INVISIBLE_CHARACTERS: "Invisible characters removed",
}
SHORT_LABELS = {HIDDEN_HTML: "hidden HTML", HTML_COMMENT: "comments",
                INVISIBLE_CHARACTERS: "invisible characters"}  # fmt: skip


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    # Django's documented recipe for <input type=file multiple>.
    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ",".join(SUPPORTED + (".zip",))})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    files = MultipleFileField(label="Files or .zip archives")
    url = forms.URLField(
        required=False,
        disabled=True,
        label="Fetch from a URL",
        help_text="Disabled: this server has no outbound network access. Download the page "
        "and upload the file instead.",
    )

    def clean_files(self):
        files = self.cleaned_data["files"]
        # Refused whole, before anything is stored: a partial upload would surprise more.
        if problems := upload_limits_problems(files=[(f.name, f.size) for f in files]):
            raise forms.ValidationError([*problems, "Nothing was uploaded."])
        return files


class ArticleForm(forms.ModelForm):
    class Meta:
        model = Article
        fields = ["title", "slug", "collection", "published", "body", "file", "source_url"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fill_title = False  # the worker gives the article its file's title
        # An upload supplies them, so they are only required when there is no file.
        for name in ("title", "slug", "body"):
            self.fields[name].required = False
        self.fields["file"].widget.attrs["accept"] = ",".join(SUPPORTED)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if isinstance(upload, UploadedFile):
            self._take_upload(cleaned, upload)
        elif not cleaned.get("body", "").strip() and "file" not in self.errors:
            self.add_error("body", "Write the article here or upload a file.")
        if not cleaned.get("title") and cleaned.get("body"):
            self.add_error("title", "Give the article a title.")
        if not cleaned.get("slug") and cleaned.get("title"):
            cleaned["slug"] = slugify(cleaned["title"])[:200]
        if not cleaned.get("slug") and not self.errors:
            # slugify() drops non-Latin titles entirely; an empty slug would break /kb/.
            self.add_error("slug", "Give the article a slug (letters, numbers, hyphens).")
        return cleaned

    def _take_upload(self, cleaned: dict, upload: UploadedFile) -> None:
        # Only its type and size are checked here. Reading it (pypdf, BeautifulSoup, the
        # sanitiser) can take seconds, so a worker does it (ArticleAdmin.save_model).
        if problem := file_problem(upload.name, upload.size):
            self.add_error("file", problem)
            return
        # The body it replaces stays live until it is read: none, for a new article.
        cleaned["body"] = self.instance.body
        self.fill_title = not cleaned.get("title")
        # Until then a new article is called by its file's name.
        cleaned["title"] = cleaned.get("title") or self.instance.title or upload.name[:200]
        cleaned["slug"] = cleaned.get("slug") or slugify(PurePath(upload.name).stem)[:200]


def _limits() -> dict[str, str | int]:
    return {
        "file": filesizeformat(settings.KB_UPLOAD_MAX_BYTES),
        "total": filesizeformat(settings.KB_UPLOAD_MAX_TOTAL_BYTES),
        "files": settings.KB_UPLOAD_MAX_FILES,
        "pages": settings.KB_PDF_MAX_PAGES,
    }


class FindingsFilter(admin.SimpleListFilter):
    title = "sanitising findings"
    parameter_name = "findings"

    def lookups(self, request, model_admin):
        return [("any", "Any"), ("assistant", "Addresses the assistant"), ("none", "None")]

    def queryset(self, request, queryset):
        if self.value() == "any":
            return queryset.exclude(flags=[])
        if self.value() == "assistant":
            return queryset.filter(flags__contains=[{"kind": ADDRESSES_ASSISTANT}])
        if self.value() == "none":
            return queryset.filter(flags=[])
        return queryset


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleForm
    list_display = ["title", "slug", "published", "status", "chunk_count", "embedded_at",
                    "embedding_model", "short_findings", "short_error"]  # fmt: skip
    list_filter = ["published", "status", "collection", FindingsFilter]
    search_fields = ["title", "slug", "body"]
    readonly_fields = ["status", "last_upload", "findings", "embedded_at", "embedding_model",
                       "error", "chunks_link"]  # fmt: skip
    actions = ["approve_and_embed", "reembed", "publish", "unpublish"]

    def get_queryset(self, request):
        # The chunks that answer customers: those of the active index.
        active = Q(chunks__index__state=EmbeddingIndex.State.ACTIVE)
        return super().get_queryset(request).annotate(n_chunks=Count("chunks", filter=active))

    def get_urls(self):
        upload = path(
            "upload/",
            self.admin_site.admin_view(self.upload_view),
            name="knowledge_article_upload",
        )
        chunks = path(
            "<int:article_id>/chunks/",
            self.admin_site.admin_view(self.chunks_view),
            name="knowledge_article_chunks",
        )
        status = path(
            "upload/<int:upload_id>/",
            self.admin_site.admin_view(self.upload_status_view),
            name="knowledge_article_upload_status",
        )
        return [upload, status, chunks, *super().get_urls()]

    def chunks_view(self, request, article_id: int):
        """Preview chunks: how the article was split, per index, as the model reads it."""
        article = get_object_or_404(Article, pk=article_id)
        if not self.has_view_permission(request, article):
            raise PermissionDenied
        indexes = [
            (index, list(article.chunks.filter(index=index).order_by("position")))
            for index in EmbeddingIndex.objects.exclude(
                state=EmbeddingIndex.State.RETIRED
            ).order_by("state")
        ]
        context = {
            **self.admin_site.each_context(request),
            "article": article,
            "indexes": indexes,
            "title": f"Chunks of {article.title}",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/knowledge/article/chunks.html", context)

    def upload_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            # Only stored here: workers read the files (knowledge/uploads.py).
            files = [(f.name, f.read()) for f in form.cleaned_data["files"]]
            upload = upload_create(files=files, user=request.user)
            self.message_user(request, f"{len(files)} file(s) uploaded; reading them now.")
            return redirect("admin:knowledge_article_upload_status", upload.pk)
        context = {**self.admin_site.each_context(request), "form": form, "title": "Upload",
                   "limits": _limits()}  # fmt: skip
        return TemplateResponse(request, "admin/knowledge/article/upload.html", context)

    def upload_status_view(self, request, upload_id: int):
        """What became of each file of an upload: pending, an article, or why it failed."""
        upload = get_object_or_404(Upload, pk=upload_id)
        if not self.has_view_permission(request):
            raise PermissionDenied
        files = list(upload.files.defer("data").select_related("article", "target"))
        context = {
            **self.admin_site.each_context(request),
            "upload": upload,
            "files": files,
            "pending": sum(f.status == f.Status.PENDING for f in files),
            "failed": sum(f.status == f.Status.FAILED for f in files),
            "title": f"Upload of {upload.created_at:%Y-%m-%d %H:%M}",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/knowledge/article/upload_status.html", context)

    @admin.display(description="Chunks", ordering="n_chunks")
    def chunk_count(self, obj) -> str:
        url = reverse("admin:knowledge_article_chunks", args=[obj.pk])
        return format_html('<a href="{}" title="Preview chunks">{}</a>', url, obj.n_chunks)

    @admin.display(description="Chunks")
    def chunks_link(self, obj) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:knowledge_article_chunks", args=[obj.pk])
        return format_html('<a href="{}">Preview chunks</a>', url)

    @admin.display(description="Error")
    def short_error(self, obj) -> str:
        return obj.error[:80]

    @admin.display(description="Findings")
    def short_findings(self, obj) -> str:
        addressing = sum(f["kind"] == ADDRESSES_ASSISTANT for f in obj.flags)
        others = dict.fromkeys(
            SHORT_LABELS[f["kind"]] for f in obj.flags if f["kind"] != ADDRESSES_ASSISTANT
        )
        parts = [f"{addressing} address the assistant"] if addressing else []
        return "; ".join([*parts, *others])

    @admin.display(description="Sanitising findings")
    def findings(self, obj):
        # Excerpts of uploaded text: untrusted, so escaped like everything format_html fills.
        if not obj.flags:
            return "None"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><strong>{}</strong> ({}): {}{}</li>",
                (
                    (FINDING_LABELS.get(f["kind"], f["kind"]), f["where"], f["text"],
                     " — approved" if f in obj.approved_flags else "")
                    for f in obj.flags
                ),
            ),
        )  # fmt: skip

    @admin.display(description="Last upload")
    def last_upload(self, obj) -> str:
        """What became of the last file uploaded on this form, linked to its status page."""
        row = obj.pk and obj.form_uploads.defer("data").order_by("-pk").first()
        if not row:
            return "—"
        if row.status == UploadFile.Status.PENDING:
            state = "pending: waiting for a worker to read it"
        elif row.status == UploadFile.Status.DONE:
            state = f"read {row.finished_at:%Y-%m-%d %H:%M}"
        else:
            state = f"failed: {row.message}"
        url = reverse("admin:knowledge_article_upload_status", args=[row.upload_id])
        return format_html(
            '<a href="{}">{}</a>: <span class="upload-{}">{}</span>', url, row.name, row.status,
            state,
        )  # fmt: skip

    def save_model(self, request, obj, form, change):
        upload = form.cleaned_data.get("file")
        upload = upload if isinstance(upload, UploadedFile) else None
        publish = None
        if upload:
            # Read now: storing the file may move a large one's temporary file away.
            data = upload.read()
            upload.seek(0)
            if not obj.body:  # nothing to show until it is read, so no empty page is public
                publish, obj.published = obj.published, False
        super().save_model(request, obj, form, change)
        if upload:
            self._queue_upload(request, obj, upload.name, data, form.fill_title, publish)
        if obj.body.strip():  # with a file: the old body, until the worker replaces it
            article_schedule_embedding(article=obj)
        if obj.status == Article.Status.FLAGGED:
            self.message_user(
                request,
                f"“{obj.title}” is held back: its text addresses the assistant. Review the "
                "findings, then use “Approve and embed” on the article list.",
                level=messages.WARNING,
            )

    def _queue_upload(self, request, article, name, data, fill_title, publish) -> None:
        upload = upload_create_for_article(
            article=article, name=name, data=data, fill_title=fill_title, publish=publish,
            user=request.user,
        )  # fmt: skip
        until = {
            True: "it is saved unpublished until then, and published once read",
            False: "it stays unpublished",
            None: "its current text stays live until then",
        }[publish]
        self.message_user(
            request,
            format_html(
                "The file {} is being read by a worker; the article “{}” gets its text then ({}). "
                '<a href="{}">See the file’s status</a>.',
                name, article.title, until,
                reverse("admin:knowledge_article_upload_status", args=[upload.pk]),
            ),
        )  # fmt: skip

    @admin.action(
        description="Approve and embed (sentences that address the assistant stay out)",
        permissions=["change"],
    )
    def approve_and_embed(self, request, queryset):
        approved = 0
        for article in queryset.filter(status=Article.Status.FLAGGED):
            article_approve(article=article)
            self.log_change(request, article, "Approved its sanitising findings and embedded it.")
            approved += 1
        self.message_user(request, f"Approved {approved} held-back article(s); embedding queued.")

    @admin.action(description="Publish selected articles")
    def publish(self, request, queryset):
        # updated_at too (update() skips auto_now): what insights' re-check of content
        # gaps looks at to learn that an article may answer more now.
        published = queryset.update(published=True, updated_at=timezone.now())
        self.message_user(request, f"Published {published} article(s).")

    @admin.action(description="Unpublish selected articles (they stop answering at once)")
    def unpublish(self, request, queryset):
        unpublished = queryset.update(published=False, updated_at=timezone.now())
        self.message_user(request, f"Unpublished {unpublished} article(s).")

    @admin.action(description="Re-embed selected articles")
    def reembed(self, request, queryset):
        # Forget the stored hashes: the old vectors keep answering until the new replace them.
        ArticleEmbedding.objects.filter(article__in=queryset).update(content_hash="")
        for article in queryset:
            article_schedule_embedding(article=article)
        self.message_user(request, f"Queued {queryset.count()} article(s) for embedding.")


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    """Groups of articles, for editors and the insights dashboard's filter. They do not
    scope retrieval yet: that comes with sites (issue 19)."""

    list_display = ["name", "slug", "article_count"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        # Counted in the list's one query, not one query per row.
        return super().get_queryset(request).annotate(n_articles=Count("articles"))

    @admin.display(description="Articles", ordering="n_articles")
    def article_count(self, obj) -> str:
        url = reverse("admin:knowledge_article_changelist") + f"?collection__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.n_articles)


@admin.register(EmbeddingIndex)
class EmbeddingIndexAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Read-only: indexes are built by `manage.py reembed` and switched automatically."""

    list_display = ["model_name", "state", "dimensions", "progress", "created_at", "activated_at"]
    list_filter = ["state"]

    @admin.display(description="Articles embedded")
    def progress(self, obj) -> str:
        done, total = embedding_index_progress(index=obj)
        return f"{done} / {total}"
