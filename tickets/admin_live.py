"""The ticket admin's live parts: the agents' queue page, and the buttons that take a chat,
hand it back to the bot, or close it (tickets/handoff.py)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from tickets.handoff import ticket_close, ticket_hand_back, ticket_take
from tickets.models import Ticket
from tickets.selectors import queue_waiting

HANDOFFS = {
    "take": (lambda ticket, user: ticket_take(ticket=ticket, agent=user), "You have the chat"),
    "hand_back": (
        lambda ticket, user: ticket_hand_back(ticket=ticket, by=user),
        "The bot has the chat again",
    ),
    "close": (lambda ticket, user: ticket_close(ticket=ticket, by=user), "Chat closed, resolved"),
}


class LiveMixin:
    """For TicketAdmin (tickets/admin.py), which routes to these (get_urls)."""

    def queue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        count, tickets = queue_waiting()
        now = timezone.now()
        rows = [
            (ticket, ticket.sla_state(now=now), now - ticket.waiting_since) for ticket in tickets
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Live queue ({count} waiting)",
            "opts": self.model._meta,
            "count": count,
            "rows": rows,
        }
        return TemplateResponse(request, "admin/tickets/ticket/queue.html", context)

    def handoff_view(self, request, ticket_id: int, action: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ticket = get_object_or_404(Ticket.objects.select_related("conversation"), pk=ticket_id)
        if action not in HANDOFFS or not self.has_change_permission(request, ticket):
            raise PermissionDenied
        handoff, said = HANDOFFS[action]
        try:
            handoff(ticket, request.user)
        except ValueError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
        else:
            self.message_user(request, f"{ticket.number}: {said}.")
        return redirect("admin:tickets_ticket_change", ticket.pk)
