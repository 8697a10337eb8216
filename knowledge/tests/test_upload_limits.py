"""Every upload path has the same limits, and a bad file is reported and skipped: oversized
uploads are refused in the request, zips and PDFs by a real Celery worker, and a file that
takes too long to read is failed by the worker's time limit instead of hanging it."""

import io
import struct
import subprocess
import sys
import zipfile

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfReader, PdfWriter

from helpdesk.testing import celery_env, stop_process
from knowledge.models import Article, Upload, UploadFile
from knowledge.tests.conftest import wait_for
from knowledge.tests.test_extract import tiny_pdf

UPLOAD_URL = "/admin/knowledge/article/upload/"
# Small limits, the same in the test process (the request) and in the worker.
LIMITS = {
    "KB_UPLOAD_MAX_BYTES": 2000,
    "KB_UPLOAD_MAX_FILES": 5,
    "KB_UPLOAD_MAX_TOTAL_BYTES": 20_000,
    "KB_PDF_MAX_PAGES": 2,
}


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {name: str(value) for name, value in LIMITS.items()}


@pytest.fixture(autouse=True)
def _limits(settings):
    for name, value in LIMITS.items():
        setattr(settings, name, value)
    return settings


def _zip(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _md(topic: str) -> bytes:
    return f"# {topic}\n\n{topic} is explained here.".encode()


def _pdf(pages: int) -> bytes:
    writer = PdfWriter()
    page = PdfReader(io.BytesIO(tiny_pdf("Invoices are emailed monthly."))).pages[0]
    for _ in range(pages):
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _corrupt(data: bytes, member: str) -> bytes:
    """Flip bytes in the middle of one member's compressed data."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 :][:4])
    start = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    return data[:start] + bytes(b ^ 0xFF for b in data[start : start + 8]) + data[start + 8 :]


def _understate(data: bytes, member: str, size: int) -> bytes:
    """Make the archive declare `size` uncompressed bytes for a member holding more."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    out = bytearray(data)
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(member)] != member.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", out, central + 24, size)  # the central directory's entry
    struct.pack_into("<I", out, info.header_offset + 22, size)  # the local header
    return bytes(out)


def _post(client, files: dict[str, bytes]):
    uploads = [SimpleUploadedFile(name, data) for name, data in files.items()]
    return client.post(UPLOAD_URL, {"files": uploads})


def _results() -> dict[str, tuple[str, str]]:
    # filesizeformat joins number and unit with a no-break space.
    return {str(f): (f.status, f.message.replace("\xa0", " ")) for f in UploadFile.objects.all()}


def _all_read() -> bool:
    return not UploadFile.objects.filter(status=UploadFile.Status.PENDING).exists()


# --- Refused in the request, before anything is stored ---------------------------------------


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"small.md": _md("Small"), "big.md": b"x" * 2001}, "big.md is larger than 2.0 KB."),
        ({f"page-{i}.md": _md("Page") for i in range(6)}, "6 files were sent; at most 5"),
        ({"kb.zip": b"x" * 25_000}, "The files add up to 24.4 KB; at most 19.5 KB"),
    ],
    ids=["a file over the per-file limit", "too many files", "too many bytes in all"],
)
@pytest.mark.django_db
def test_it_refuses_an_oversized_bulk_upload_with_a_clear_message_and_saves_nothing(
    admin_client, django_capture_on_commit_callbacks, files, message
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(admin_client, files)

    assert response.status_code == 200
    page = response.content.decode().replace("\xa0", " ")
    assert message in page
    assert "Nothing was uploaded." in page
    assert not Upload.objects.exists()
    assert not UploadFile.objects.exists()
    assert not Article.objects.exists()
    assert not callbacks


# --- Refused or skipped by the worker, the rest of the upload saved ----------------------------


@pytest.mark.django_db(transaction=True)
def test_a_zip_with_too_many_members_or_bytes_is_refused_and_the_other_files_are_saved(
    admin_client, worker
):
    # Six small members: over the five files one upload may hold.
    crowded = _zip({f"kb/page-{i}.md": _md(f"Page {i}") for i in range(6)})
    # A zip bomb in miniature: 30 KB of one letter packs into a few dozen bytes.
    bomb = _zip({"huge.md": b"# Huge\n\n" + b"a" * 30_000})
    assert len(bomb) < 200
    _post(admin_client, {"crowded.zip": crowded, "bomb.zip": bomb, "fine.md": _md("Fine")})
    wait_for(_all_read, worker)

    results = _results()
    assert results["crowded.zip"] == (
        "failed",
        "crowded.zip holds 6 files; at most 5 can be uploaded at once. Nothing in it was read.",
    )
    assert results["bomb.zip"][0] == "failed"
    assert "bomb.zip unpacks to 29.3 KB; at most 19.5 KB" in results["bomb.zip"][1]
    assert results["fine.md"][0] == "done"
    assert list(Article.objects.values_list("slug", flat=True)) == ["fine"]


@pytest.mark.django_db(transaction=True)
def test_a_corrupt_zip_member_is_reported_and_skipped_while_the_others_are_saved(
    admin_client, worker
):
    archive = _zip({name: _md(name) * 20 for name in ("a.md", "corrupt.md", "liar.md", "z.md")})
    archive = _understate(_corrupt(archive, "corrupt.md"), "liar.md", 10)
    response = _post(admin_client, {"kb.zip": archive})
    wait_for(_all_read, worker)

    results = _results()
    assert results["kb.zip"] == ("done", "unpacked: 4 file(s)")
    assert results["kb.zip › a.md"][0] == results["kb.zip › z.md"][0] == "done"
    for member in ("corrupt.md", "liar.md"):
        status, message = results[f"kb.zip › {member}"]
        assert status == "failed"
        assert message.startswith(f"{member} could not be unpacked")
    assert sorted(Article.objects.values_list("slug", flat=True)) == ["a", "z"]
    page = " ".join(admin_client.get(response.url).content.decode().split())
    assert "5 files: all read, 2 failed." in page
    assert "Failed: corrupt.md could not be unpacked" in page


@pytest.mark.django_db(transaction=True)
def test_a_pdf_over_the_page_limit_is_refused_and_one_within_it_is_saved(admin_client, worker):
    _post(admin_client, {"manual.pdf": _pdf(3), "invoices.pdf": _pdf(2)})
    wait_for(_all_read, worker)

    results = _results()
    assert results["manual.pdf"] == (
        "failed",
        "manual.pdf has 3 pages; at most 2 are read (KB_PDF_MAX_PAGES). Split it.",
    )
    assert results["invoices.pdf"][0] == "done"
    assert list(Article.objects.values_list("slug", flat=True)) == ["invoices"]


def _start_prefork_worker(log, **env: str) -> subprocess.Popen:
    # Celery enforces time limits in its prefork pool (production's), not in the solo pool
    # the other tests' worker uses.
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool", "prefork",
             "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=settings.BASE_DIR, env=celery_env(**env), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _slow_html() -> bytes:
    # Parsed twice (BeautifulSoup, then markdownify): several seconds on any CPU.
    paragraphs = "".join(f"<div><p>Step {i} <b>now</b> <a href='#s{i}'>see</a></p></div>"
                         for i in range(10_000))  # fmt: skip
    return f"<html><body><main>{paragraphs}</main></body></html>".encode()


@pytest.mark.django_db(transaction=True)
def test_a_file_that_takes_longer_than_the_time_limit_fails_and_the_worker_goes_on(
    admin_client, tmp_path, _limits
):
    # The default size limits: the slow file is within them.
    _limits.KB_UPLOAD_MAX_BYTES = _limits.KB_UPLOAD_MAX_TOTAL_BYTES = 10 * 1024 * 1024
    # As in production, the web (which queues) and the worker read the same limits.
    _limits.KB_EXTRACT_SOFT_TIME_LIMIT, _limits.KB_EXTRACT_TIME_LIMIT = 1, 30
    log = tmp_path / "worker.log"
    proc = _start_prefork_worker(log, KB_EXTRACT_SOFT_TIME_LIMIT="1", KB_EXTRACT_TIME_LIMIT="30")
    try:
        _post(admin_client, {"slow.html": _slow_html(), "quick.md": _md("Quick")})
        wait_for(_all_read, log, timeout=60)
    finally:
        stop_process(proc)

    results = _results()
    assert results["slow.html"] == (
        "failed",
        "slow.html took longer than 1 s to read; split or simplify it.",
    )
    assert results["quick.md"][0] == "done"
    assert list(Article.objects.values_list("slug", flat=True)) == ["quick"]
