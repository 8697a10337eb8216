"""Services enqueue knowledge's tasks by name (knowledge/enqueue.py), on commit."""

import pytest

from knowledge import enqueue, tasks


def test_the_names_enqueued_are_the_names_the_worker_registers():
    assert tasks.embed_article.name == enqueue.EMBED_ARTICLE
    assert tasks.purge_index.name == enqueue.PURGE_INDEX
    assert tasks.process_upload_file.name == enqueue.PROCESS_UPLOAD_FILE


@pytest.mark.django_db
def test_a_task_is_sent_only_once_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue.task_on_commit(enqueue.PURGE_INDEX, 0, countdown=3600)

    assert len(callbacks) == 1
