"""manage.py ingest_kb: load a folder of files into the knowledge base, idempotently."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Article

pytestmark = pytest.mark.django_db

REFUNDS_MD = """\
# Refund policy

Annual plans are refunded in full within fourteen days of purchase.

## Monthly plans

Monthly plans are not refunded; cancelling stops the next charge.
"""

HOURS_TXT = """\
# Support hours

Support answers on weekdays from nine to five, Central European Time.
"""

EXPORT_HTML = """\
<html>
<head><title>Exporting your data</title></head>
<body>
<h2>Export a project</h2>
<p>Open the project menu and choose Export to CSV.</p>
</body>
</html>
"""


@pytest.fixture
def kb_folder(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "refunds.md").write_text(REFUNDS_MD)
    (folder / "support-hours.txt").write_text(HOURS_TXT)
    (folder / "export-data.html").write_text(EXPORT_HTML)
    return folder


def ingest(folder, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("ingest_kb", str(folder), *args, verbosity=0, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def embedded_at() -> dict[str, object]:
    return dict(Article.objects.values_list("slug", "embedded_at"))


def test_it_loads_md_txt_and_html_files_as_ready_articles(kb_folder):
    out, err = ingest(kb_folder)

    assert "3 files: 3 new or changed, 0 failed." in out
    assert err == ""
    articles = {a.slug: a for a in Article.objects.all()}
    assert set(articles) == {"refunds", "support-hours", "export-data"}
    assert articles["refunds"].title == "Refund policy"
    assert articles["support-hours"].title == "Support hours"
    assert articles["export-data"].title == "Exporting your data"
    assert "## Export a project" in articles["export-data"].body
    for article in articles.values():
        assert article.status == Article.Status.READY
        assert article.embedded_at is not None
        assert article.chunks.exists()


def test_running_it_again_changes_and_re_embeds_nothing(kb_folder):
    ingest(kb_folder)
    before = embedded_at()

    out, err = ingest(kb_folder)

    assert "3 files: 0 new or changed, 0 failed." in out
    assert err == ""
    assert embedded_at() == before


def test_a_modified_file_is_the_only_one_re_embedded(kb_folder):
    ingest(kb_folder)
    before = embedded_at()

    (kb_folder / "refunds.md").write_text(
        REFUNDS_MD + "\n## Resellers\n\nPurchases made through a reseller are refunded there.\n"
    )
    out, _ = ingest(kb_folder)

    assert "3 files: 1 new or changed, 0 failed." in out
    after = embedded_at()
    assert after["refunds"] > before["refunds"]
    assert after["support-hours"] == before["support-hours"]
    assert after["export-data"] == before["export-data"]
    refunds = Article.objects.get(slug="refunds")
    assert refunds.chunks.filter(heading="Resellers").exists()


def test_a_bad_file_is_reported_on_stderr_and_the_others_still_load(kb_folder):
    (kb_folder / "broken.pdf").write_bytes(b"\x00\x01 these are not the bytes of a PDF \xff")

    out, err = ingest(kb_folder)

    assert "4 files: 3 new or changed, 1 failed." in out
    assert "broken.pdf could not be read as a PDF" in err
    assert set(Article.objects.values_list("slug", flat=True)) == {
        "refunds",
        "support-hours",
        "export-data",
    }
    assert not Article.objects.exclude(status=Article.Status.READY).exists()


def test_files_of_other_types_are_skipped(kb_folder):
    (kb_folder / "notes.docx").write_bytes(b"PK\x03\x04")
    (kb_folder / "logo.png").write_bytes(b"\x89PNG")

    out, err = ingest(kb_folder)

    assert "3 files: 3 new or changed, 0 failed." in out
    assert Article.objects.count() == 3


def test_with_enqueue_it_leaves_embedding_to_the_workers(
    kb_folder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        out, _ = ingest(kb_folder, "--enqueue")

    assert "3 files: 3 new or changed, 0 failed." in out
    assert len(callbacks) == 3
    assert set(Article.objects.values_list("status", flat=True)) == {Article.Status.PENDING}
    assert not Article.objects.filter(chunks__isnull=False).exists()


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        ingest(tmp_path / "nope")


def test_a_folder_without_supported_files_is_an_error(tmp_path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG")

    with pytest.raises(CommandError, match="holds no"):
        ingest(tmp_path)


def test_a_file_name_with_spaces_gives_a_valid_slug(tmp_path):
    (tmp_path / "Refund Policy.md").write_text(REFUNDS_MD)

    ingest(tmp_path)

    slug = Article.objects.get().slug
    assert re.fullmatch(r"[-a-zA-Z0-9_]+", slug), slug


def test_a_file_with_a_very_long_title_is_unchanged_on_the_second_run(tmp_path):
    title = "How refunds work " + "for annual and monthly plans " * 8
    assert len(title) > 200
    (tmp_path / "long.md").write_text(f"# {title}\n\nRefunds are paid within ten days.\n")
    ingest(tmp_path)

    out, _ = ingest(tmp_path)

    assert "1 files: 0 new or changed, 0 failed." in out
