"""Bulk uploads: the request stores the files' bytes, and a Celery worker reads them.

Reading a file (pypdf, BeautifulSoup, the sanitiser) can take seconds on a large or
hostile one; inside daphne's request it held up every other page of that process. In a
worker it runs under a time limit (KB_EXTRACT_SOFT_TIME_LIMIT), one file per task, and
each file ends done or failed with its reason on the upload's status page.

The same limits hold on every path: bytes per file (KB_UPLOAD_MAX_BYTES), files per upload
(KB_UPLOAD_MAX_FILES) and bytes per upload (KB_UPLOAD_MAX_TOTAL_BYTES), where a .zip
counts as its members, their sizes as declared and as read; and PDF pages (in extract).
"""

import io
import logging
import zipfile
import zlib
from datetime import timedelta
from pathlib import PurePath

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from knowledge.enqueue import PROCESS_UPLOAD_FILE, task_on_commit
from knowledge.extract import SUPPORTED, ExtractionError, extract
from knowledge.models import Article, Upload, UploadFile
from knowledge.services import (
    article_file_failed,
    article_fill_from_file,
    article_schedule_embedding,
    article_upsert_extracted,
    stale_requeue,
)

logger = logging.getLogger(__name__)
# A file that stopped its worker this many times (past the hard time limit, or by taking
# the process down) is given up on instead of being requeued forever.
MAX_ATTEMPTS = 3
# What unpacking a damaged member can raise, from zipfile or the decompressors under it.
UNPACK_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
                 ValueError, OSError)  # fmt: skip


def too_large(name: str, size: int) -> str | None:
    """The editor's message when one file is over KB_UPLOAD_MAX_BYTES."""
    if size <= settings.KB_UPLOAD_MAX_BYTES:
        return None
    return f"{name} is larger than {filesizeformat(settings.KB_UPLOAD_MAX_BYTES)}."


def file_problem(name: str, size: int) -> str | None:
    """Why one file cannot be uploaded on an article's form, from its name and size alone:
    the request reads nothing (extract() gives the same message for a type it cannot read)."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED:
        return (
            f"{name}: unsupported file type {suffix or '(none)'}; upload .md, .txt, .html or .pdf."
        )
    return too_large(name, size)


def upload_limits_problems(*, files: list[tuple[str, int]]) -> list[str]:
    """Why these files (name, size) cannot be uploaded together; empty when they can.
    A .zip is only counted by its own size here: its members are checked in the worker."""
    problems = []
    if len(files) > settings.KB_UPLOAD_MAX_FILES:
        problems.append(
            f"{len(files)} files were sent; at most {settings.KB_UPLOAD_MAX_FILES} "
            "can be uploaded at once."
        )
    problems += [
        message
        for name, size in files
        if not name.lower().endswith(".zip") and (message := too_large(name, size))
    ]
    total = sum(size for _, size in files)
    if total > settings.KB_UPLOAD_MAX_TOTAL_BYTES:
        problems.append(
            f"The files add up to {filesizeformat(total)}; at most "
            f"{filesizeformat(settings.KB_UPLOAD_MAX_TOTAL_BYTES)} can be uploaded at once."
        )
    return problems


def _queue(upload_file_id: int) -> None:
    # Celery sends the time limits in the message, so they are read here, when queued.
    task_on_commit(
        PROCESS_UPLOAD_FILE,
        upload_file_id,
        soft_time_limit=settings.KB_EXTRACT_SOFT_TIME_LIMIT,
        time_limit=settings.KB_EXTRACT_TIME_LIMIT,
    )


def upload_create(*, files: list[tuple[str, bytes]], user=None) -> Upload:
    """Store the files (already within upload_limits_problems) and queue each for a worker."""
    with transaction.atomic():
        upload = Upload.objects.create(created_by=user)
        for name, data in files:
            _store(upload, name, data)
    return upload


def upload_create_for_article(
    *, article: Article, name: str, data: bytes, fill_title: bool, publish: bool | None,
    user=None,
) -> Upload:  # fmt: skip
    """Store a file uploaded on an article's form (already within file_problem) and queue
    it: the worker replaces that article's body with its text, and its title too when
    fill_title, then sets `published` to `publish` unless None (article_fill_from_file)."""
    with transaction.atomic():
        upload = Upload.objects.create(created_by=user)
        _store(upload, name, data, target=article, fill_title=fill_title, publish=publish)
    return upload


def _store(upload: Upload, name: str, data: bytes, **fields) -> UploadFile:
    row = UploadFile.objects.create(
        upload=upload, name=PurePath(name).name[:255], data=data, size=len(data),
        queued_at=timezone.now(), **fields,
    )  # fmt: skip
    _queue(row.pk)
    return row


def upload_file_process(*, upload_file_id: int) -> str:
    """Read one uploaded file into an article, or a .zip into one queued file per member.
    Returns the row's status. Safe to run twice: only a pending row is read, and the row
    is locked and checked again before anything is written."""
    if not UploadFile.objects.filter(pk=upload_file_id, status=UploadFile.Status.PENDING).update(
        attempts=F("attempts") + 1
    ):
        return "skipped"  # done already, or deleted
    row = UploadFile.objects.select_related("upload").get(pk=upload_file_id)
    try:
        if row.attempts > MAX_ATTEMPTS:
            raise ExtractionError(
                f"{row.name} stopped its worker {MAX_ATTEMPTS} times; it was given up on."
            )
        if row.is_zip():
            _expand(row)
        else:
            _read(row)
    except SoftTimeLimitExceeded:
        limit = settings.KB_EXTRACT_SOFT_TIME_LIMIT
        _fail(row, f"{row.name} took longer than {limit} s to read; split or simplify it.")
    except ExtractionError as exc:
        _fail(row, str(exc))
    except Exception as exc:  # one bad file is reported and skipped; the others go on
        logger.exception("Reading uploaded file %s failed", upload_file_id)
        _fail(row, f"{row.name} could not be read: {exc}"[:2000])
    return UploadFile.objects.values_list("status", flat=True).get(pk=upload_file_id)


def _read(row: UploadFile) -> None:
    # Outside the transaction: reading may take up to the time limit.
    extracted = extract(filename=row.name, data=bytes(row.data))
    with transaction.atomic():
        if not _lock_pending(row):
            return  # another delivery of the task finished it meanwhile
        if row.target_id:  # uploaded on that article's form
            article, changed = article_fill_from_file(
                article_id=row.target_id, extracted=extracted,
                fill_title=row.fill_title, publish=row.publish,
            )  # fmt: skip
        else:
            article, changed = article_upsert_extracted(filename=row.name, extracted=extracted)
        article_schedule_embedding(article=article)
        _finish(row, UploadFile.Status.DONE, "changed" if changed else "unchanged", article)


def _expand(row: UploadFile) -> None:
    members = _unpack(row)
    with transaction.atomic():
        # One .zip of an upload at a time, so their members are counted together.
        Upload.objects.select_for_update().get(pk=row.upload_id)
        if not _lock_pending(row):
            return
        files = row.upload.files.exclude(name__iendswith=".zip", archive="").count()
        if files + len(members) > settings.KB_UPLOAD_MAX_FILES:
            raise ExtractionError(
                f"{row.name} holds {len(members)} files; with the others that is more than "
                f"the {settings.KB_UPLOAD_MAX_FILES} one upload may hold. Nothing in it was read."
            )
        for name, data, problem in members:
            member = UploadFile.objects.create(
                upload_id=row.upload_id, archive=row.name, name=name[:255], data=data,
                size=len(data), queued_at=timezone.now(),
                status=UploadFile.Status.FAILED if problem else UploadFile.Status.PENDING,
                message=problem, finished_at=timezone.now() if problem else None,
            )  # fmt: skip
            if not problem:
                _queue(member.pk)
        _finish(row, UploadFile.Status.DONE, f"unpacked: {len(members)} file(s)")


def _unpack(row: UploadFile) -> list[tuple[str, bytes, str]]:
    """The members of a .zip as (name, data, problem): a damaged or oversized member has
    a problem and no data. Raises ExtractionError when the whole archive is refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(bytes(row.data)))
    except UNPACK_ERRORS:
        raise ExtractionError(f"{row.name} is not a valid .zip file.") from None
    members = [m for m in archive.infolist() if not m.is_dir() and _wanted(m.filename)]
    if len(members) > settings.KB_UPLOAD_MAX_FILES:
        raise ExtractionError(
            f"{row.name} holds {len(members)} files; at most {settings.KB_UPLOAD_MAX_FILES} "
            "can be uploaded at once. Nothing in it was read."
        )
    # Zip bombs: the declared sizes are checked before anything is unpacked...
    limit = settings.KB_UPLOAD_MAX_TOTAL_BYTES
    if (declared := sum(m.file_size for m in members)) > limit:
        raise ExtractionError(
            f"{row.name} unpacks to {filesizeformat(declared)}; at most "
            f"{filesizeformat(limit)} can be uploaded at once. Nothing in it was read."
        )
    unpacked, total = [], 0
    for member in members:
        name = PurePath(member.filename).name
        data, problem = _unpack_member(archive, member, name)
        total += len(data)
        # ...and the sizes as read, in case the archive lies about them.
        if total > limit:
            raise ExtractionError(f"{row.name} unpacks to more than {filesizeformat(limit)}.")
        unpacked.append((name, data, problem))
    return unpacked


def _unpack_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str):
    if problem := too_large(name, member.file_size):
        return b"", problem
    try:
        with archive.open(member) as stream:
            data = stream.read(settings.KB_UPLOAD_MAX_BYTES + 1)
    except UNPACK_ERRORS as exc:
        return b"", f"{name} could not be unpacked ({exc}); the other files were."
    # zipfile stops at the declared size (then fails the CRC); this bound holds regardless.
    if len(data) > min(member.file_size, settings.KB_UPLOAD_MAX_BYTES):
        return b"", f"{name} unpacks to more than the archive declares; it was skipped."
    return data, ""


def _wanted(name: str) -> bool:
    parts = PurePath(name).parts
    return not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _lock_pending(row: UploadFile) -> bool:
    return (
        UploadFile.objects.select_for_update()
        .filter(pk=row.pk, status=UploadFile.Status.PENDING)
        .exists()
    )


def _finish(row: UploadFile, status: str, message: str, article=None) -> bool:
    # The bytes are in the article now (or of no use): they need not wait in the database.
    return bool(
        UploadFile.objects.filter(pk=row.pk, status=UploadFile.Status.PENDING).update(
            status=status, message=message, article=article, data=b"", finished_at=timezone.now()
        )
    )


def _fail(row: UploadFile, message: str) -> None:
    # An article uploaded onto keeps its old body; one that has none shows the failure.
    if _finish(row, UploadFile.Status.FAILED, message) and row.target_id:
        article_file_failed(article_id=row.target_id, message=message)


def upload_file_requeue_stale(*, older_than: timedelta) -> int:
    """Queue again the files still pending long after they were queued: their task was lost
    (a broker blip) or killed past its hard time limit (services.stale_requeue)."""
    requeued = stale_requeue(
        model=UploadFile,
        status=UploadFile.Status.PENDING,
        queued_field="queued_at",
        older_than=older_than,
        enqueue=_queue,
    )
    if requeued:
        logger.warning("Requeued %d uploaded file(s) pending too long", requeued)
    return requeued
