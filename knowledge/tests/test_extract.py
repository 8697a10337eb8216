"""extract(): uploaded files become a title and a Markdown body, or a readable ExtractionError."""

import pytest

from knowledge.extract import ExtractionError, extract


def tiny_pdf(text: str, *, length: bytes | None = None) -> bytes:
    """A valid one-page PDF showing `text` in Helvetica, with a correct xref table."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    length = length or str(len(content)).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + length + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


# --- Markdown and text ---------------------------------------------------------------------


def test_a_markdown_title_comes_from_the_first_h1():
    data = b"Intro line.\n\n# Refund policy\n\nText.\n\n# Second H1\n\nMore.\n"

    extracted = extract(filename="whatever.md", data=data)

    assert extracted.title == "Refund policy"
    assert extracted.body == data.decode().strip()


def test_an_h2_is_not_taken_for_the_title():
    extracted = extract(filename="billing_faq.md", data=b"## Refunds\n\nText.\n")

    assert extracted.title == "Billing faq"


@pytest.mark.parametrize(
    ("filename", "title"),
    [
        ("refund-policy.txt", "Refund policy"),
        ("two_factor_setup.md", "Two factor setup"),
        ("notes.markdown", "Notes"),
    ],
)
def test_without_an_h1_the_title_comes_from_the_file_name(filename, title):
    extracted = extract(filename=filename, data=b"Plain text without any heading.\n")

    assert extracted.title == title
    assert extracted.body == "Plain text without any heading."


def test_a_utf8_byte_order_mark_does_not_hide_the_title():
    data = "\ufeff# Café opening hours\n\nWe open at nine.\n".encode()

    extracted = extract(filename="hours.md", data=data)

    assert extracted.title == "Café opening hours"
    assert not extracted.body.startswith("\ufeff")


def test_a_comment_inside_a_code_fence_is_not_the_title():
    data = b"Install it:\n\n```bash\n# install the CLI\npip install tasklane\n```\n"

    extracted = extract(filename="cli-setup.md", data=data)

    assert extracted.title == "Cli setup"


# --- HTML ------------------------------------------------------------------------------------

PAGE = b"""<!doctype html>
<html>
<head>
  <title>Refunds and cancellations</title>
  <style>.secret-style { color: red }</style>
  <script>var trackingSecret = 1;</script>
</head>
<body>
  <nav>Home | Pricing</nav>
  <h2>Annual plans</h2>
  <p>Annual plans get a <strong>full refund</strong> within 14 days.</p>
  <script>alert("inline secret")</script>
  <ul><li>Cancel first</li><li>Then contact support</li></ul>
  <footer>Copyright footer</footer>
</body>
</html>
"""


def test_the_html_title_tag_becomes_the_title():
    assert extract(filename="page.html", data=PAGE).title == "Refunds and cancellations"


def test_html_headings_and_lists_become_markdown():
    body = extract(filename="page.html", data=PAGE).body

    assert "## Annual plans" in body.splitlines()
    assert "**full refund**" in body
    assert "Cancel first" in body
    assert "Then contact support" in body


def test_script_style_and_page_chrome_are_dropped_from_html():
    body = extract(filename="page.htm", data=PAGE).body

    for junk in (
        "trackingSecret",
        "inline secret",
        "secret-style",
        "Home | Pricing",
        "Copyright footer",
    ):
        assert junk not in body


def test_an_html_page_without_a_title_tag_uses_its_h1():
    data = b"<html><body><h1>Export your data</h1><p>Go to settings.</p></body></html>"

    assert extract(filename="export.html", data=data).title == "Export your data"


# --- PDF ---------------------------------------------------------------------------------------


def test_the_text_of_a_pdf_is_extracted():
    extracted = extract(filename="refund-policy.pdf", data=tiny_pdf("Hello refund policy"))

    assert "Hello refund policy" in extracted.body
    assert extracted.title == "Refund policy"


# --- Errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("handbook.docx", b"PK\x03\x04 not really a docx", "unsupported file type .docx"),
        ("README", b"# Hello\n", "unsupported file type (none)"),
        ("empty.md", b"", "is empty"),
        ("blank.txt", b"  \n\n\t\n", "is empty"),
        ("latin1.txt", "Café crème".encode("latin-1"), "is not UTF-8"),
        ("latin1.html", "<p>Café</p>".encode("latin-1"), "is not UTF-8"),
        ("broken.pdf", b"this is not a pdf at all", "could not be read as a PDF"),
        ("truncated.pdf", tiny_pdf("Hello refund policy")[:150], "could not be read as a PDF"),
        ("nothing.html", b"<html><body><script>x()</script></body></html>", "no text"),
    ],
)
def test_a_file_that_cannot_become_an_article_raises_an_error_naming_it(filename, data, message):
    with pytest.raises(ExtractionError) as caught:
        extract(filename=filename, data=data)

    assert filename in str(caught.value)
    assert message in str(caught.value)


def test_a_pdf_with_a_self_referencing_stream_length_raises_an_extraction_error():
    data = tiny_pdf("Hello refund policy", length=b"4 0 R")

    with pytest.raises(ExtractionError, match="loop.pdf"):
        extract(filename="loop.pdf", data=data)


def test_a_corrupt_pdf_error_names_the_file_as_uploaded():
    with pytest.raises(ExtractionError, match=r"Manual\.PDF"):
        extract(filename="Manual.PDF", data=b"junk, not a PDF")
