from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat.history import history_key
from chat.models import Conversation, Message, ReviewSample
from knowledge.tests.conftest import wait_for, worker, worker_env  # noqa: F401
from privacy.retention import conversation_purge_expired
from privacy.tasks import purge_old_conversations
from tickets.models import Ticket, TicketChange, TicketNote


def _conversation(key: str, days_idle: int, *texts: str) -> Conversation:
    """A conversation whose last message is `days_idle` days old."""
    conversation = Conversation.objects.create(token_hash=key)
    for n, text in enumerate(texts or ("hello", "hi there")):
        Message.objects.create(
            conversation=conversation, role="user" if n % 2 == 0 else "assistant", text=text
        )
    then = timezone.now() - timedelta(days=days_idle)
    Message.objects.filter(conversation=conversation).update(created_at=then)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=then, updated_at=then)
    return conversation


def _ticket(conversation: Conversation, status: str, days_idle: int, **fields) -> Ticket:
    ticket = Ticket.objects.create(conversation=conversation, status=status, **fields)
    then = timezone.now() - timedelta(days=days_idle)
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=then)
    return ticket


def _purge(days: int = 90, **kwargs):
    return conversation_purge_expired(now=timezone.now(), days=days, **kwargs)


def test_it_deletes_idle_conversations_without_a_ticket(db):
    old = _conversation("old", 91)
    ReviewSample.objects.create(message=old.messages.last(), answer="hi there")
    recent = _conversation("recent", 89)

    assert _purge().deleted == 1
    assert list(Conversation.objects.all()) == [recent]
    assert not Message.objects.filter(conversation_id=old.pk).exists()
    assert not ReviewSample.objects.exists()


def test_a_conversation_that_began_long_ago_but_is_still_going_is_kept(db):
    conversation = _conversation("long", 200)
    Message.objects.create(conversation=conversation, role="user", text="still there?")

    assert _purge().deleted == 0
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_a_finished_tickets_conversation_is_anonymised_and_the_ticket_kept(db, admin_user):
    conversation = _conversation(
        "done", 120, "I'm Ana, ana@example.com, +44 20 7946 0958. My export fails.", "Try again."
    )
    ticket = _ticket(
        conversation, "closed", 100, customer_name="Ana Lopez", email="ana@example.com",
        subject="I'm Ana, ana@example.com, +44 20 7946 0958. My export fails.",
    )  # fmt: skip
    TicketNote.objects.create(ticket=ticket, author=admin_user, text="Called +44 20 7946 0958")
    TicketChange.objects.create(ticket=ticket, field="status", old="Open", new="Closed")

    assert _purge().anonymised == 1

    ticket.refresh_from_db()
    assert (ticket.number, ticket.status, ticket.changes.count()) == (ticket.number, "closed", 1)
    assert (ticket.customer_name, ticket.email) == ("", "")
    assert ticket.subject == "I'm Ana, [email], [phone]. My export fails."
    assert [m.text for m in ticket.conversation.messages.all()] == [
        "I'm Ana, [email], [phone]. My export fails.",
        "Try again.",
    ]
    assert ticket.notes.get().text == "Called [phone]"
    assert ticket.conversation.token_hash != "done"  # unlinked from the browser session
    assert ticket.conversation.anonymised_at is not None


def test_a_ticket_still_being_worked_is_left_alone(db):
    for status in ("new", "open", "pending"):
        _ticket(_conversation(status, 120, "mail me at ana@example.com"), status, 100)
    # Closed, but an agent touched it last week: the clock starts again.
    _ticket(_conversation("reopened", 120, "ana@example.com"), "resolved", 7)

    assert _purge() == type(_purge())(deleted=0, anonymised=0)
    assert Message.objects.filter(text__contains="ana@example.com").count() == 4


def test_zero_days_keeps_everything(db):
    _conversation("ancient", 3650)
    assert _purge(days=0).deleted == 0
    assert Conversation.objects.count() == 1


def test_running_it_twice_changes_nothing_more(db):
    _conversation("a", 100)
    _ticket(_conversation("b", 100, "ana@example.com"), "resolved", 100, email="ana@example.com")
    first = _purge()
    key = Conversation.objects.get().token_hash

    assert (first.deleted, first.anonymised) == (1, 1)
    second = _purge()
    assert (second.deleted, second.anonymised) == (0, 0)
    assert Conversation.objects.get().token_hash == key


def test_it_works_through_more_conversations_than_one_batch(db):
    for n in range(7):
        _conversation(f"c{n}", 100)
    for n in range(5):
        _ticket(_conversation(f"t{n}", 100), "closed", 100)

    result = _purge(batch=2)
    assert (result.deleted, result.anonymised) == (7, 5)
    assert Conversation.objects.filter(anonymised_at__isnull=True).count() == 0


def test_it_clears_the_purged_conversations_history_from_redis(db):
    client = redis.from_url(settings.REDIS_URL)
    purged, kept = "p" * 64, "k" * 64
    _conversation(purged, 100)
    client.rpush(history_key(purged), '{"user": "q", "assistant": "a"}')
    _conversation(kept, 1)
    client.rpush(history_key(kept), '{"user": "q", "assistant": "a"}')

    _purge()

    assert client.keys(f"*{purged}*") == []
    assert len(client.keys(f"*{kept}*")) == 1


def test_the_task_reads_the_retention_setting(db, settings):
    _conversation("old", 40)
    settings.CHAT_RETENTION_DAYS = 0
    assert purge_old_conversations() == {"deleted": 0, "anonymised": 0}
    settings.CHAT_RETENTION_DAYS = 30
    assert purge_old_conversations() == {"deleted": 1, "anonymised": 0}


def test_beat_runs_the_purge_on_a_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-old-conversations"]
    assert entry["task"] == purge_old_conversations.name
    assert purge_old_conversations.soft_time_limit and purge_old_conversations.time_limit


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_purge_and_logs_through_the_redacting_formatter(worker):  # noqa: F811
    with transaction.atomic():
        _conversation("old", 100)
        _conversation("new", 1)
    purge_old_conversations.delay()

    wait_for(lambda: not Conversation.objects.filter(token_hash="old").exists(), worker)
    assert Conversation.objects.filter(token_hash="new").exists()
    # Django's LOGGING format, not Celery's: the worker writes through the redacting formatter.
    wait_for(
        lambda: "INFO celery.app.trace: Task privacy.tasks.purge" in worker.read_text(), worker
    )
