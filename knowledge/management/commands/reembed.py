"""Re-embed the knowledge base in the background, e.g. after changing EMBEDDING_MODEL,
and rebuild its full text after changing KB_SEARCH_CONFIG.

The Celery workers do the work; this command queues it and shows the progress. With a new
model the old vectors keep answering until every article has new ones, then the switch
happens in one transaction (see knowledge/indexes.py).
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from knowledge import embeddings
from knowledge.indexes import (
    chunk_search_config_apply,
    embedding_index_build,
    embedding_index_progress,
    stale_articles,
)
from knowledge.models import EmbeddingIndex


class Command(BaseCommand):
    help = "Re-embed every article with EMBEDDING_MODEL, switching models without a gap."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Re-embed articles whose vectors are current."
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="Queue the work and return at once."
        )
        parser.add_argument(
            "--timeout", type=float, default=0, help="Stop waiting after N seconds (0: never)."
        )

    def handle(self, *args, force: bool, no_wait: bool, timeout: float, **options):
        self._apply_search_config()
        model = embeddings.model_name()
        with transaction.atomic():
            index, queued = embedding_index_build(model_name=model, force=force)
        switching = index.state == EmbeddingIndex.State.BUILDING
        verb = "Building a new index" if switching else "Re-embedding"
        self.stdout.write(
            f"{verb} with {model} ({index.dimensions} dimensions): "
            f"{len(queued)} article(s) queued for the Celery workers."
        )
        if switching:
            self.stdout.write("The current index keeps answering until the new one is complete.")
        if no_wait:
            self.stdout.write("Follow the progress under Admin › Embedding indexes.")
            return
        self._follow(index, timeout)
        # Chunks a worker wrote meanwhile with another KB_SEARCH_CONFIG than this one's.
        self._apply_search_config()

    def _apply_search_config(self) -> None:
        # Full text needs no model: the chunks' text is rebuilt where it is, in SQL.
        if changed := chunk_search_config_apply():
            self.stdout.write(
                f"Rebuilt the full text of {changed} chunk(s) with the "
                f"{settings.KB_SEARCH_CONFIG!r} text search configuration."
            )

    def _follow(self, index: EmbeddingIndex, timeout: float) -> None:
        deadline = time.monotonic() + timeout if timeout else None
        done, total = embedding_index_progress(index=index)
        with tqdm(total=total, initial=done, unit="article", file=self.stdout) as bar:
            while not self._finished(index):
                if deadline and time.monotonic() > deadline:
                    raise CommandError(
                        "Timed out waiting; the work goes on in the background. Is a Celery "
                        "worker running?"
                    )
                time.sleep(0.5)
                done, total = embedding_index_progress(index=index)
                bar.total, bar.n = total, done
                bar.refresh()
        self.stdout.write(self.style.SUCCESS(f"Done: {index.model_name} answers questions."))

    def _finished(self, index: EmbeddingIndex) -> bool:
        index.refresh_from_db()
        if index.state == EmbeddingIndex.State.RETIRED:
            raise CommandError("Another reembed replaced this one.")
        return index.state == EmbeddingIndex.State.ACTIVE and not stale_articles(index=index)
