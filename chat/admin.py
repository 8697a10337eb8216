from django.contrib import admin

from chat.models import Conversation, Message


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
