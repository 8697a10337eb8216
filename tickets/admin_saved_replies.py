"""Saved replies in the ticket's admin: the reply box's search (filled in by a later change)."""

from django.http import Http404


class SavedRepliesMixin:
    def saved_replies_view(self, request, ticket_id: int):
        raise Http404
