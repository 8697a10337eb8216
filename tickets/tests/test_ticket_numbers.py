"""A new ticket's number is drawn at random. A number another ticket already has is drawn
again; it is never taken for a double click on the same conversation."""

import threading

import pytest
from django.db import connection

from chat.models import Conversation
from tickets.models import Ticket
from tickets.services import NUMBER_ATTEMPTS, ticket_escalate


def numbers(*drawn: str):
    """A number generator that draws these, in order."""
    return iter(drawn).__next__


@pytest.mark.django_db
def test_it_draws_another_number_when_the_first_is_taken():
    other = ticket_escalate(conversation=Conversation.objects.create())
    conversation = Conversation.objects.create()

    ticket = ticket_escalate(
        conversation=conversation, new_number=numbers(other.number, "HD-FRESH2")
    )

    assert ticket.number == "HD-FRESH2"
    assert ticket.conversation_id == conversation.pk
    assert ticket.pk != other.pk
    assert Ticket.objects.count() == 2
    other.refresh_from_db()
    assert other.conversation_id != conversation.pk


@pytest.mark.django_db
def test_it_gives_up_after_a_bounded_number_of_taken_numbers():
    other = ticket_escalate(
        conversation=Conversation.objects.create(), new_number=numbers("HD-TAKEN")
    )
    drawn = []

    def always_taken() -> str:
        drawn.append(other.number)
        return other.number

    with pytest.raises(RuntimeError, match="No free ticket number"):
        ticket_escalate(conversation=Conversation.objects.create(), new_number=always_taken)

    assert len(drawn) == NUMBER_ATTEMPTS
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_a_second_escalation_of_the_same_conversation_returns_its_ticket():
    conversation = Conversation.objects.create()
    first = ticket_escalate(conversation=conversation, new_number=numbers("HD-FIRST2"))

    again = ticket_escalate(conversation=conversation, new_number=numbers("HD-OTHER2"))

    assert again.pk == first.pk
    assert again.number == "HD-FIRST2"
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_double_click_racing_in_two_threads_makes_one_ticket():
    conversation = Conversation.objects.create()
    both_drawn = threading.Barrier(2, timeout=10)
    results, errors = [], []

    def escalate(number: str) -> None:
        def draw() -> str:
            both_drawn.wait()  # both clicks have their number before either inserts
            return number

        try:
            results.append(ticket_escalate(conversation=conversation, new_number=draw))
        except Exception as exc:  # reported below, from the test's own thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=escalate, args=(n,)) for n in ("HD-CLICK1", "HD-CLICK2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len({t.pk for t in results}) == 1
    assert Ticket.objects.filter(conversation=conversation).count() == 1
