import math
import random
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import Conversation, Message, ReviewSample
from chat.review import Shares, review_sample
from chat.tasks import sample_for_review

Reason = ReviewSample.Reason


def _shares(**shares: float) -> Shares:
    """Nothing drawn but what the test names."""
    none = dict(thumbs_down=0, low_groundedness=0, refused=0, injection=0, random=0)
    return Shares(**{**none, "groundedness_below": 0.5, **shares})


EVERYTHING = _shares(random=1)


def _finished_conversation(key: str, answers: int = 2, idle_minutes: int = 60) -> Conversation:
    conversation = Conversation.objects.create(token_hash=key)
    for n in range(answers):
        Message.objects.create(conversation=conversation, role="user", text=f"q{n}")
        Message.objects.create(
            conversation=conversation, role="assistant", text=f"a{n}", retrieval_score=0.6
        )
    _idle(conversation, idle_minutes)
    return conversation


def _idle(conversation: Conversation, minutes: int = 60) -> None:
    past = timezone.now() - timedelta(minutes=minutes)
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=past)


def _answer(text: str, *, screened: str = "", **fields) -> Message:
    """A finished conversation of one question (screened or not) and its answer."""
    conversation = Conversation.objects.create(token_hash=text)
    Message.objects.create(conversation=conversation, role="user", text="q", screened=screened)
    answer = Message.objects.create(
        conversation=conversation, role="assistant", text=text, **fields
    )
    _idle(conversation)
    return answer


def _queued() -> dict[str, str]:
    """{answer text: reason} of the queue."""
    return dict(ReviewSample.objects.values_list("answer", "reason"))


def test_the_beat_task_fills_the_review_queue(db, settings):
    settings.REVIEW_SHARE_RANDOM = 1.0
    _finished_conversation("a")
    _finished_conversation("b", answers=1)

    assert sample_for_review() == 3
    assert ReviewSample.objects.count() == 3
    assert all(s.message.role == "assistant" for s in ReviewSample.objects.all())


def test_the_task_reads_each_share_from_the_settings(db, settings):
    settings.REVIEW_SHARE_THUMBS_DOWN, settings.REVIEW_SHARE_RANDOM = 0.0, 0.0
    settings.REVIEW_SHARE_LOW_GROUNDEDNESS, settings.REVIEW_GROUNDEDNESS_BELOW = 1.0, 0.6
    settings.REVIEW_SHARE_REFUSED, settings.REVIEW_SHARE_INJECTION = 0.0, 1.0
    _answer("down", feedback="down")
    _answer("grounded 0.55", groundedness=0.55)
    _answer("no evidence", refused=True)
    _answer("attack", refused=True, screened="override")

    assert sample_for_review() == 2
    assert _queued() == {"grounded 0.55": "low_groundedness", "attack": "injection"}


def test_each_conversation_is_considered_once(db, settings):
    settings.REVIEW_SHARE_RANDOM = 1.0
    _finished_conversation("a")
    sample_for_review()

    assert sample_for_review() == 0
    assert ReviewSample.objects.count() == 2


def test_conversations_still_going_are_left_alone(db):
    _finished_conversation("live", idle_minutes=1)
    assert review_sample(shares=EVERYTHING, idle_minutes=30) == 0
    assert Conversation.objects.get().sampled_at is None


def test_a_thumbs_down_is_always_queued_at_share_1_and_never_at_0(db):
    for n in range(20):
        _answer(f"down {n}", feedback="down", groundedness=0.9)
    _answer("up", feedback="up", groundedness=0.9)
    review_sample(shares=_shares(thumbs_down=0), idle_minutes=30, rng=random.Random(1))
    assert _queued() == {}

    Conversation.objects.update(sampled_at=None)
    review_sample(shares=_shares(thumbs_down=1), idle_minutes=30, rng=random.Random(1))
    assert _queued() == {f"down {n}": "thumbs_down" for n in range(20)}


def test_answers_below_the_groundedness_threshold_are_queued_at_their_share(db):
    _answer("invented", groundedness=0.2)
    _answer("just below", groundedness=0.49)
    _answer("at the threshold", groundedness=0.5)
    _answer("a refusal has no score", refused=True)
    review_sample(shares=_shares(low_groundedness=0), idle_minutes=30)
    assert _queued() == {}

    Conversation.objects.update(sampled_at=None)
    review_sample(shares=_shares(low_groundedness=1), idle_minutes=30)
    assert _queued() == {"invented": "low_groundedness", "just below": "low_groundedness"}


def test_refusals_and_injection_refusals_are_queued_at_their_own_shares(db):
    _answer("no evidence", refused=True)
    _answer("attack", refused=True, screened="override")
    _answer("answered", groundedness=0.9)
    review_sample(shares=_shares(refused=1), idle_minutes=30)
    assert _queued() == {"no evidence": "refused"}

    ReviewSample.objects.all().delete()
    Conversation.objects.update(sampled_at=None)
    review_sample(shares=_shares(injection=1), idle_minutes=30)
    assert _queued() == {"attack": "injection"}


def test_an_answer_of_several_kinds_is_drawn_at_the_highest_share_and_named_by_the_worst(db):
    _answer("down and invented", feedback="down", groundedness=0.1)
    review_sample(shares=_shares(low_groundedness=1), idle_minutes=30)
    assert _queued() == {"down and invented": "thumbs_down"}


def test_trouble_is_never_drawn_less_often_than_an_ordinary_answer(db):
    # REVIEW_SAMPLE_SHARE=1 ("review everything") keeps reviewing everything.
    _answer("no evidence", refused=True)
    _answer("answered", groundedness=0.9)
    review_sample(shares=_shares(random=1), idle_minutes=30)
    assert _queued() == {"no evidence": "refused", "answered": "random"}


def test_each_kind_is_drawn_at_about_its_share(db):
    kinds = {
        Reason.THUMBS_DOWN: ({"feedback": "down", "groundedness": 0.9}, ""),
        Reason.LOW_GROUNDEDNESS: ({"groundedness": 0.3}, ""),
        Reason.REFUSED: ({"refused": True}, ""),
        Reason.INJECTION: ({"refused": True}, "override"),
        Reason.RANDOM: ({"groundedness": 0.9}, ""),
    }
    shares = _shares(
        thumbs_down=0.9, low_groundedness=0.5, refused=0.25, injection=0.1, random=0.05
    )
    for n in range(40):  # 40 conversations of 5 questions of each kind: 1,000 answers
        conversation = Conversation.objects.create(token_hash=f"c{n}")
        for kind, (fields, screened) in kinds.items():
            rows = []
            for k in range(5):
                rows.append(Message(conversation=conversation, role="user", text="q",
                                    screened=screened))  # fmt: skip
                rows.append(Message(conversation=conversation, role="assistant",
                                    text=f"{kind} {n}.{k}", **fields))  # fmt: skip
            Message.objects.bulk_create(rows)
        _idle(conversation)

    review_sample(shares=shares, idle_minutes=30, rng=random.Random(18))

    drawn = {kind: ReviewSample.objects.filter(reason=kind).count() / 200 for kind in kinds}
    for kind, fraction in drawn.items():
        share = getattr(shares, kind)
        # Three standard deviations of a fraction of 200 draws at that share.
        assert abs(fraction - share) < 3 * math.sqrt(share * (1 - share) / 200), drawn


def test_sampling_makes_the_same_few_queries_however_many_answers(db):
    def queries(conversations: int) -> int:
        for n in range(conversations):
            _finished_conversation(f"{conversations}-{n}", answers=3)
        with CaptureQueriesContext(connection) as captured:
            assert review_sample(shares=EVERYTHING, idle_minutes=30) == 3 * conversations
        return len(captured)

    assert queries(1) == queries(20)


def test_beat_runs_the_sampler_on_a_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["sample-answers-for-review"]
    assert entry["task"] == sample_for_review.name


def test_the_queue_lists_the_trouble_first(admin_client, db):
    for text, reason in [("r1", "random"), ("d1", "thumbs_down"), ("i1", "injection"),
                         ("f1", "refused"), ("g1", "low_groundedness"), ("d2", "thumbs_down"),
                         ("r2", "random")]:  # fmt: skip
        ReviewSample.objects.create(message=_answer(text), answer=f"<<{text}>>", reason=reason)

    page = admin_client.get("/admin/chat/reviewsample/").content.decode()
    order = sorted(["d1", "d2", "g1", "f1", "i1", "r1", "r2"], key=lambda t: page.index(f"{t}&gt;"))
    # Newest first within a reason.
    assert order == ["d2", "d1", "g1", "f1", "i1", "r2", "r1"]
    assert "Thumbs-down" in page and "Low groundedness" in page

    refused = admin_client.get("/admin/chat/reviewsample/?reason=refused").content.decode()
    assert "f1&gt;" in refused and "d1&gt;" not in refused and "r1&gt;" not in refused


def test_reviewers_mark_answers_good_or_bad_with_a_note(admin_client, admin_user, db):
    _finished_conversation("r", answers=1)
    review_sample(shares=EVERYTHING, idle_minutes=30)
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
    review_sample(shares=EVERYTHING, idle_minutes=30)
    sample = ReviewSample.objects.get()

    assert sample.question == "I'm [email], card [card]. Why was I charged twice?"
    assert sample.answer == "Sorry [email], refunds take 5 days."
    for url in ("/admin/chat/reviewsample/", f"/admin/chat/reviewsample/{sample.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "Why was I charged twice?" in page and "refunds take 5 days" in page
        assert "ana@example.com" not in page and "4111" not in page


def test_the_question_shown_is_the_one_each_answer_replied_to(db):
    conversation = _finished_conversation("order", answers=3)
    review_sample(shares=EVERYTHING, idle_minutes=30)
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
