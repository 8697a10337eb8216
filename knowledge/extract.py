"""Turn an uploaded file into an article title and a Markdown body.

Libraries, not regexes: BeautifulSoup + markdownify keep an HTML page's headings and
lists as Markdown (so the chunker sees its structure), and pypdf reads PDF text.
"""

import io
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings

from knowledge.chunking import title_from_markdown
from knowledge.sanitise import (
    HIDDEN_HTML,
    HTML_COMMENT,
    NEVER_TEXT,
    Finding,
    hidden_text_findings,
    is_hidden,
)

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")


class ExtractionError(ValueError):
    """The file cannot become an article; the message is shown to the editor."""


@dataclass
class Extracted:
    title: str
    body: str
    # What was in the file but left out of the body as hidden from readers (HTML only).
    findings: list[Finding] = field(default_factory=list)


def extract(*, filename: str, data: bytes) -> Extracted:
    suffix = PurePath(filename).suffix.lower()
    stem = PurePath(filename).stem
    if suffix not in SUPPORTED:
        raise ExtractionError(
            f"{filename}: unsupported file type {suffix or '(none)'}; "
            "upload .md, .txt, .html or .pdf."
        )
    if not data.strip():
        raise ExtractionError(f"{filename} is empty.")
    if suffix == ".pdf":
        result = _from_pdf(data, filename)
    elif suffix in (".html", ".htm"):
        result = _from_html(_decode(data, filename), stem)
    else:
        result = _from_markdown(_decode(data, filename), stem)
    if not result.body.strip():
        raise ExtractionError(f"{filename} contains no text that could be extracted.")
    return result


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExtractionError(f"{filename} is not UTF-8 text.") from None


def _from_markdown(text: str, stem: str) -> Extracted:
    return Extracted(title=title_from_markdown(text) or _humanise(stem), body=text.strip())


def _from_html(html: str, stem: str) -> Extracted:
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup([*NEVER_TEXT, "head", "nav", "footer"]):
        tag.decompose()
    findings = _drop_hidden(soup)
    root = soup.find("main") or soup.find("article") or soup.body or soup
    body = markdownify(str(root), heading_style="ATX", strip=["img"]).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    title = title or title_from_markdown(body) or _humanise(stem)
    return Extracted(title=title, body=body, findings=findings)


def _drop_hidden(soup) -> list[Finding]:
    """Remove what a reader of the page never sees, noting it for the editor: comments
    and elements hidden by attribute, aria-hidden, utility class or inline style."""
    from bs4 import Comment

    findings = []
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        findings.extend(hidden_text_findings(HTML_COMMENT, str(comment)))
        comment.extract()
    for tag in soup.find_all(True):
        if tag.decomposed:  # inside a hidden element removed already
            continue
        attrs = {k: " ".join(v) if isinstance(v, list) else (v or "") for k, v in tag.attrs.items()}
        if is_hidden(attrs):
            findings.extend(hidden_text_findings(HIDDEN_HTML, tag.get_text(" ")))
            tag.decompose()
    return findings


def _from_pdf(data: bytes, filename: str) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        # Counted before any page is read: each costs time in the worker.
        if len(reader.pages) > settings.KB_PDF_MAX_PAGES:
            raise ExtractionError(
                f"{filename} has {len(reader.pages)} pages; at most "
                f"{settings.KB_PDF_MAX_PAGES} are read (KB_PDF_MAX_PAGES). Split it."
            )
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except ExtractionError:  # a ValueError too, but already worded for the editor
        raise
    # A malformed PDF can fail anywhere inside pypdf; any failure means "unreadable".
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ExtractionError(f"{filename} could not be read as a PDF: {exc}") from None
    # Pages become paragraphs so the chunker never glues two pages' sentences together.
    body = "\n\n".join(p.strip() for p in pages if p.strip())
    return Extracted(title=meta_title.strip() or _humanise(PurePath(filename).stem), body=body)


def _humanise(stem: str) -> str:
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or "Untitled"
