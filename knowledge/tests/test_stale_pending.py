"""Work whose task was lost (a broker blip, a worker killed past its time limit) is not
left pending forever: the beat task requeue_stale_work queues it again, once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.celery import app as celery_app
from knowledge.models import Article, Chunk, Upload, UploadFile
from knowledge.tasks import requeue_stale_work
from knowledge.tests.conftest import wait_for
from knowledge.uploads import upload_file_process

BODY = "# Pausing a project\n\nOpen the project and choose Pause. Paused projects keep tasks."


def _article(slug: str, *, queued_minutes_ago: int | None, status=Article.Status.PENDING):
    article = Article.objects.create(title=slug.title(), slug=slug, body=BODY, status=status)
    queued = None if queued_minutes_ago is None else timedelta(minutes=queued_minutes_ago)
    Article.objects.filter(pk=article.pk).update(
        embedding_queued_at=queued and timezone.now() - queued
    )
    return article


@pytest.mark.django_db(transaction=True)
def test_a_pending_article_whose_task_was_lost_is_requeued_and_gets_embedded(worker):
    # Queued half an hour ago, but the message never reached a worker: nothing is queued.
    article = _article("pausing", queued_minutes_ago=30)

    requeue_stale_work.delay()

    wait_for(lambda: Article.objects.get(pk=article.pk).status == Article.Status.READY, worker)
    assert Chunk.objects.filter(article=article).exists()


@pytest.mark.django_db
def test_running_the_requeue_twice_queues_each_stale_article_once(
    django_capture_on_commit_callbacks, settings
):
    settings.KB_STALE_PENDING_MINUTES = 10
    _article("lost", queued_minutes_ago=30)
    _article("never-queued", queued_minutes_ago=None)  # e.g. saved before this release
    _article("fresh", queued_minutes_ago=1)  # its task may still be waiting in the queue
    _article("done", queued_minutes_ago=30, status=Article.Status.READY)
    _article("held", queued_minutes_ago=30, status=Article.Status.FLAGGED)

    with django_capture_on_commit_callbacks() as callbacks:
        first = requeue_stale_work()
        second = requeue_stale_work()

    assert first == {"articles": 2, "upload_files": 0}
    assert second == {"articles": 0, "upload_files": 0}
    assert len(callbacks) == 2


@pytest.mark.django_db
def test_an_uploaded_file_whose_task_was_lost_is_requeued_once(
    django_capture_on_commit_callbacks,
):
    upload = Upload.objects.create()
    lost = UploadFile.objects.create(upload=upload, name="lost.md", data=b"# Lost\n\nText.")
    UploadFile.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    UploadFile.objects.create(upload=upload, name="fresh.md", queued_at=timezone.now())

    with django_capture_on_commit_callbacks() as callbacks:
        assert requeue_stale_work() == {"articles": 0, "upload_files": 1}
        assert requeue_stale_work() == {"articles": 0, "upload_files": 0}

    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_file_that_stopped_its_worker_three_times_is_given_up_on():
    upload = Upload.objects.create()
    row = UploadFile.objects.create(upload=upload, name="killer.html", data=b"<p>x</p>", attempts=3)

    assert upload_file_process(upload_file_id=row.pk) == UploadFile.Status.FAILED

    row.refresh_from_db()
    assert row.message == "killer.html stopped its worker 3 times; it was given up on."
    assert not Article.objects.exists()


def test_beat_runs_the_requeue(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stale-work"]
    assert entry["task"] == requeue_stale_work.name
    assert entry["task"] in celery_app.tasks
