import random
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from chat.models import Conversation, Message, ReviewSample
from chat.review import review_sample
from chat.tasks import sample_for_review


def _finished_conversation(key: str, answers: int = 2, idle_minutes: int = 60) -> Conversation:
    conversation = Conversation.objects.create(token_hash=key)
    for n in range(answers):
        Message.objects.create(conversation=conversation, role="user", text=f"q{n}")
        Message.objects.create(
            conversation=conversation, role="assistant", text=f"a{n}", retrieval_score=0.6
        )
    past = timezone.now() - timedelta(minutes=idle_minutes)
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=past)
    return conversation


def test_the_beat_task_fills_the_review_queue(db, settings):
    settings.REVIEW_SAMPLE_SHARE = 1.0
    _finished_conversation("a")
    _finished_conversation("b", answers=1)

    assert sample_for_review() == 3
    assert ReviewSample.objects.count() == 3
    assert all(s.message.role == "assistant" for s in ReviewSample.objects.all())


def test_each_conversation_is_considered_once(db, settings):
    settings.REVIEW_SAMPLE_SHARE = 1.0
    _finished_conversation("a")
    sample_for_review()

    assert sample_for_review() == 0
    assert ReviewSample.objects.count() == 2


def test_conversations_still_going_are_left_alone(db):
    _finished_conversation("live", idle_minutes=1)
    assert review_sample(share=1.0, idle_minutes=30) == 0
    assert Conversation.objects.get().sampled_at is None


def test_only_the_configured_share_is_drawn(db):
    for n in range(200):
        _finished_conversation(f"c{n}", answers=1)
    queued = review_sample(share=0.1, idle_minutes=30, rng=random.Random(7))
    assert 10 <= queued <= 30


def test_beat_runs_the_sampler_on_a_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["sample-answers-for-review"]
    assert entry["task"] == sample_for_review.name


def test_reviewers_mark_answers_good_or_bad_with_a_note(admin_client, admin_user, db):
    _finished_conversation("r", answers=1)
    review_sample(share=1.0, idle_minutes=30)
    sample = ReviewSample.objects.get()

    page = admin_client.get("/admin/chat/reviewsample/")
    assert page.status_code == 200 and "a0" in page.content.decode()
    response = admin_client.post(
        f"/admin/chat/reviewsample/{sample.pk}/change/",
        {"verdict": "bad", "note": "Invented a price."},
    )
    assert response.status_code == 302
    sample.refresh_from_db()
    assert (sample.verdict, sample.note, sample.reviewer) == (
        "bad",
        "Invented a price.",
        admin_user,
    )


def test_reviewers_see_the_question_and_answer_redacted(admin_client, db):
    conversation = Conversation.objects.create()
    Message.objects.create(
        conversation=conversation,
        role="user",
        text="I'm ana@example.com, card 4111 1111 1111 1111. Why was I charged twice?",
    )
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        text="Sorry ana@example.com, refunds take 5 days.",
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    review_sample(share=1.0, idle_minutes=30)
    sample = ReviewSample.objects.get()

    assert sample.question == "I'm [email], card [card]. Why was I charged twice?"
    assert sample.answer == "Sorry [email], refunds take 5 days."
    for url in ("/admin/chat/reviewsample/", f"/admin/chat/reviewsample/{sample.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "Why was I charged twice?" in page and "refunds take 5 days" in page
        assert "ana@example.com" not in page and "4111" not in page


def test_the_question_shown_is_the_one_each_answer_replied_to(db):
    conversation = _finished_conversation("order", answers=3)
    review_sample(share=1.0, idle_minutes=30)
    pairs = {(s.question, s.answer) for s in ReviewSample.objects.all()}
    assert pairs == {("q0", "a0"), ("q1", "a1"), ("q2", "a2")}
    assert conversation.messages.count() == 6


def test_samples_queued_before_the_redacted_copies_get_them_on_migration(db):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("chat.migrations.0004_privacy_redacted_review_and_anonymised")
    conversation = Conversation.objects.create()
    Message.objects.create(conversation=conversation, role="user", text="I'm bo@example.com")
    answer = Message.objects.create(conversation=conversation, role="assistant", text="Hi bo")
    ReviewSample.objects.create(message=answer)

    migration.fill_redacted_copies(apps, None)

    sample = ReviewSample.objects.get()
    assert (sample.question, sample.answer) == ("I'm [email]", "Hi bo")
