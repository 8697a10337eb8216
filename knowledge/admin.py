from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count
from django.template.defaultfilters import filesizeformat
from django.utils.text import slugify

from knowledge.extract import SUPPORTED, ExtractionError, extract
from knowledge.models import Article, Chunk
from knowledge.services import article_schedule_embedding


class ArticleForm(forms.ModelForm):
    class Meta:
        model = Article
        fields = ["title", "slug", "body", "file", "source_url"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An upload supplies them, so they are only required when there is no file.
        for name in ("title", "slug", "body"):
            self.fields[name].required = False
        self.fields["file"].widget.attrs["accept"] = ",".join(SUPPORTED)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if isinstance(upload, UploadedFile):
            self._apply_upload(cleaned, upload)
        if not cleaned.get("body", "").strip() and "file" not in self.errors:
            self.add_error("body", "Write the article here or upload a file.")
        if not cleaned.get("title") and cleaned.get("body"):
            self.add_error("title", "Give the article a title.")
        if not cleaned.get("slug") and cleaned.get("title"):
            cleaned["slug"] = slugify(cleaned["title"])[:200]
        if not cleaned.get("slug") and not self.errors:
            # slugify() drops non-Latin titles entirely; an empty slug would break /kb/.
            self.add_error("slug", "Give the article a slug (letters, numbers, hyphens).")
        return cleaned

    def _apply_upload(self, cleaned: dict, upload: UploadedFile) -> None:
        if upload.size > settings.KB_UPLOAD_MAX_BYTES:
            limit = filesizeformat(settings.KB_UPLOAD_MAX_BYTES)
            self.add_error("file", f"{upload.name} is larger than {limit}.")
            return
        try:
            extracted = extract(filename=upload.name, data=upload.read())
        except ExtractionError as exc:
            self.add_error("file", str(exc))
            return
        finally:
            upload.seek(0)
        cleaned["body"] = extracted.body
        cleaned["title"] = cleaned.get("title") or extracted.title[:200]
        cleaned["slug"] = cleaned.get("slug") or slugify(upload.name.rsplit(".", 1)[0])[:200]


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ["position", "heading", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleForm
    list_display = ["title", "slug", "status", "chunk_count", "embedded_at", "short_error"]
    list_filter = ["status"]
    search_fields = ["title", "slug", "body"]
    readonly_fields = ["status", "embedded_at", "embedding_model", "error"]
    inlines = [ChunkInline]
    actions = ["reembed"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_chunks=Count("chunks"))

    @admin.display(description="Chunks", ordering="n_chunks")
    def chunk_count(self, obj) -> int:
        return obj.n_chunks

    @admin.display(description="Error")
    def short_error(self, obj) -> str:
        return obj.error[:80]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        article_schedule_embedding(article=obj)

    @admin.action(description="Re-embed selected articles")
    def reembed(self, request, queryset):
        queryset.update(content_hash="")
        for article in queryset:
            article_schedule_embedding(article=article)
        self.message_user(request, f"Queued {queryset.count()} article(s) for embedding.")
