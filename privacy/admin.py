"""The "Erase customer data" action (privacy/erasure.py) on the conversation and the ticket
admin. Chat and tickets register their admins knowing nothing of erasure; this module, above
both, registers each again as a subclass that adds the action. Only for staff who may delete
conversations: administrators."""

from django.contrib import admin, messages
from redis.exceptions import RedisError

from chat.admin import ConversationAdmin
from chat.models import Conversation
from privacy.erasure import HISTORY_EXPIRES, conversation_erase
from tickets.admin import TicketAdmin
from tickets.models import Ticket


class EraseActionMixin:
    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("chat.delete_conversation")

    def erase(self, request, conversation_ids: list[int]) -> None:
        for conversation_id in conversation_ids:
            try:
                erased = conversation_erase(conversation_id=conversation_id)
            except (RedisError, OSError):
                self.message_user(
                    request,
                    f"Redis is unavailable: the data in Postgres is erased. {HISTORY_EXPIRES}",
                    messages.ERROR,
                )
                continue
            self.message_user(request, str(erased))


# Importing chat.admin and tickets.admin above has registered their admins already.
admin.site.unregister(Conversation)
admin.site.unregister(Ticket)


@admin.register(Conversation)
class ErasableConversationAdmin(EraseActionMixin, ConversationAdmin):
    actions = [*ConversationAdmin.actions, "erase_customer_data"]

    @admin.action(description="Erase customer data", permissions=["erase"])
    def erase_customer_data(self, request, queryset):
        self.erase(request, list(queryset.values_list("pk", flat=True)))


@admin.register(Ticket)
class ErasableTicketAdmin(EraseActionMixin, TicketAdmin):
    actions = [*TicketAdmin.actions, "erase_customer_data"]

    @admin.action(description="Erase customer data", permissions=["erase"])
    def erase_customer_data(self, request, queryset):
        # The ticket stays, anonymised, with its number, status and history (erasure.py).
        self.erase(request, list(queryset.values_list("conversation_id", flat=True)))
