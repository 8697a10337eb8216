"""An agent's reply is emailed by a Celery task that records its status on a ReplyEmail
row, retries through a mail server outage, and sends a sent email only once."""

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from chat.models import Conversation
from helpdesk.testing import free_port, stop_process
from knowledge.tests.conftest import start_worker, wait_for
from tickets.models import ReplyEmail
from tickets.services import ticket_escalate, ticket_reply
from tickets.tasks import send_reply_email


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user(
        "sam", password="x", is_staff=True, first_name="Sam", last_name="Agent"
    )


@pytest.fixture
def mail_server_down(settings) -> int:
    """Django's SMTP backend pointed at a port where nothing listens: connection refused."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    return settings.EMAIL_PORT


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def replied(agent, email: str = "pat@example.com", text: str = "Fixed it.") -> ReplyEmail:
    ticket = ticket_escalate(conversation=Conversation.objects.create(), email=email)
    message = ticket_reply(ticket=ticket, agent=agent, text=text)
    return ReplyEmail.objects.get(message=message)


@pytest.mark.django_db
def test_a_reply_is_queued_not_sent_in_the_agents_request(agent, mailoutbox):
    reply_email = replied(agent)

    assert (reply_email.status, reply_email.attempts) == ("queued", 0)
    assert reply_email.ticket.email == "pat@example.com"
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_reply_to_a_customer_without_an_email_queues_nothing(agent):
    ticket = ticket_escalate(conversation=Conversation.objects.create())

    ticket_reply(ticket=ticket, agent=agent, text="Fixed it.")

    assert not ReplyEmail.objects.exists()


@pytest.mark.django_db
def test_the_task_sends_it_once_and_marks_it_sent(agent, mailoutbox):
    reply_email = replied(agent, text="Your export is back.")

    first = send_reply_email.apply(args=[reply_email.pk])
    second = send_reply_email.apply(args=[reply_email.pk])

    assert (first.get(), second.get()) == (True, False)
    [sent] = mailoutbox
    assert sent.to == ["pat@example.com"]
    assert reply_email.ticket.number in sent.subject and "Sam Agent" in sent.subject
    assert "Your export is back." in sent.body
    reply_email.refresh_from_db()
    assert (reply_email.status, reply_email.attempts, reply_email.last_error) == ("sent", 1, "")
    assert reply_email.sent_at is not None


@pytest.mark.django_db
def test_an_outage_is_retried_up_to_a_limit_then_marked_failed(
    agent, mail_server_down, settings, admin_client
):
    reply_email = replied(agent)

    # apply() runs each retry at once, in this process, against the closed port.
    result = send_reply_email.apply(args=[reply_email.pk])

    assert isinstance(result.result, ConnectionRefusedError)
    reply_email.refresh_from_db()
    assert reply_email.status == "failed"
    assert reply_email.attempts == settings.REPLY_EMAIL_MAX_RETRIES + 1
    assert reply_email.last_error.startswith("ConnectionRefusedError")
    page = admin_client.get(f"/admin/tickets/ticket/{reply_email.ticket_id}/change/")
    assert "Failed" in page.text and "ConnectionRefusedError" in page.text


@pytest.mark.django_db
def test_the_ticket_page_shows_a_sent_reply_email(agent, admin_client, mailoutbox):
    reply_email = replied(agent, text="All set now.")
    send_reply_email.apply(args=[reply_email.pk])

    page = admin_client.get(f"/admin/tickets/ticket/{reply_email.ticket_id}/change/").text

    assert "<strong>Sent</strong> (1 attempt(s))" in page
    assert "All set now." in page


@pytest.mark.django_db
def test_a_reply_whose_address_was_erased_is_failed_not_sent(agent, mailoutbox):
    reply_email = replied(agent)
    reply_email.ticket.email = ""
    reply_email.ticket.save()

    assert send_reply_email.apply(args=[reply_email.pk]).get() is False

    reply_email.refresh_from_db()
    assert (reply_email.status, reply_email.attempts) == ("failed", 0)
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_a_reply_once_the_mail_server_is_back(agent, tmp_path):
    port = free_port()
    log = tmp_path / "worker.log"
    worker = start_worker(
        log,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        REPLY_EMAIL_RETRY_BACKOFF="1",
    )
    inbox, server = Inbox(), None
    try:
        with transaction.atomic():  # the task is enqueued when the reply commits
            reply_email = replied(agent, text="Back online soon.")
        # The mail server is down: the worker tries, records the error and retries.
        wait_for(lambda: _row(reply_email).attempts >= 2, log)
        assert _row(reply_email).status == "queued"
        assert "ConnectionRefusedError" in _row(reply_email).last_error

        server = Controller(inbox, hostname="127.0.0.1", port=port)
        server.start()
        wait_for(lambda: _row(reply_email).status == "sent", log)
    finally:
        stop_process(worker)
        if server is not None:
            server.stop()

    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["pat@example.com"]
    assert "Back online soon." in envelope.content.decode()
    assert _row(reply_email).last_error == ""


def _row(reply_email: ReplyEmail) -> ReplyEmail:
    return ReplyEmail.objects.get(pk=reply_email.pk)
