"""Saved replies in the ticket's admin: the reply box's search (static/tickets/saved_replies.js).
Replies themselves are managed on their own admin page (SavedReplyAdmin, tickets/admin.py)."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404

from tickets.models import Ticket
from tickets.saved_replies import saved_replies_search, saved_reply_render

MAX_QUERY = 100


class SavedRepliesMixin:
    """For TicketAdmin (tickets/admin.py), which routes to this through admin_view, so only
    a logged-in staff member (with the second factor, when required) gets this far."""

    def saved_replies_view(self, request, ticket_id: int):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        # Both: the replies are for staff who may use them, and a rendered reply carries the
        # ticket's customer name, so only someone who may see that ticket gets one.
        if not request.user.has_perm("tickets.view_savedreply"):
            raise PermissionDenied
        ticket = get_object_or_404(Ticket, pk=ticket_id)
        if not self.has_view_permission(request, ticket):
            raise PermissionDenied
        query = request.GET.get("q", "")[:MAX_QUERY]
        replies = [
            {
                "id": reply.pk,
                "title": reply.title,
                "text": saved_reply_render(text=reply.text, ticket=ticket, agent=request.user),
            }
            for reply in saved_replies_search(query=query)
        ]
        return JsonResponse({"replies": replies})
