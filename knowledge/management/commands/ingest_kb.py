from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from knowledge.extract import SUPPORTED, ExtractionError
from knowledge.models import Article
from knowledge.services import article_embed, article_schedule_embedding, article_upsert_from_file


class Command(BaseCommand):
    help = "Load .md, .txt, .html and .pdf files from a folder into the knowledge base."

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Leave the embedding to the Celery workers instead of doing it here.",
        )

    def handle(self, *args, folder: Path, enqueue: bool, **options):
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED)
        if not files:
            raise CommandError(f"{folder} holds no {', '.join(SUPPORTED)} files.")
        changed, failed, held = 0, [], []
        for path in tqdm(files, desc="Ingesting", unit="file", disable=options["verbosity"] == 0):
            try:
                article, was_changed = article_upsert_from_file(path=path)
            except ExtractionError as exc:
                failed.append(str(exc))
                continue
            changed += was_changed
            if enqueue:
                article_schedule_embedding(article=article)
            else:
                try:
                    article_embed(article_id=article.pk)
                except Exception as exc:  # marked failed on the article; the rest still load
                    failed.append(f"{path.name}: embedding failed: {exc}")
            if Article.objects.filter(pk=article.pk, status=Article.Status.FLAGGED).exists():
                held.append(path.name)
        self.stdout.write(f"{len(files)} files: {changed} new or changed, {len(failed)} failed.")
        for message in failed:
            self.stderr.write(f"  {message}")
        if held:
            self.stdout.write(
                f"{len(held)} held back for review, not embedded (their text addresses the "
                f"assistant; approve them in the admin): {', '.join(held)}"
            )
