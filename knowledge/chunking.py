"""Split an article into chunks that follow its structure, and embed them: the one
embedding pipeline every path to the vectors goes through (admin, bulk upload, ingest_kb,
reembed).

Sections come from Markdown headings; inside a section, paragraphs are packed up to a
token budget, and a chunk that continues a section repeats the last sentence or so of the
previous one, so that an answer spanning the cut is still found. Each chunk keeps its
heading path and the anchor of its section, so a source can link to `/kb/<slug>/#anchor`.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils.text import slugify
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors.index import unique_slug

from core.text import strip_invisible
from knowledge import embeddings
from knowledge.models import Article, Chunk
from knowledge.sanitise import sanitise

OVERLAP_TOKENS = 30
# Bump when chunking changes in a way that should re-embed every article.
# 3: only sanitised text is embedded (knowledge/sanitise.py).
# 4: the prompt's own fences (</context>, <question>) in article text hold it back.
CHUNKER_VERSION = 4

# A closing run of #s must be separated by a space, so "## Using C#" keeps its "#".
HEADING = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class ChunkDraft:
    heading: str
    anchor: str
    text: str


@dataclass
class Section:
    heading: str
    anchor: str
    paragraphs: list[str]


def word_count(text: str) -> int:
    return len(text.split())


_inline = MarkdownIt("commonmark")


def heading_anchor(title: str) -> str:
    """The id the KB page gives a heading; the chunker and the renderer must agree."""
    return slugify(title)


def heading_text(markdown: str) -> str:
    """A heading's text as the page shows it: links, emphasis and entities resolved.

    Mirrors what mdit-py-plugins' anchors plugin slugifies (text and code spans)."""
    tokens = _inline.parseInline(markdown)[0].children or []
    return "".join(t.content for t in tokens if t.type in ("text", "code_inline")).strip()


def title_from_markdown(text: str) -> str | None:
    """The first level-1 heading outside code fences, if any."""
    in_fence = False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return heading_text(match.group(2))
    return None


def split_sections(markdown: str) -> list[Section]:
    path: list[tuple[int, str]] = []
    sections = [Section("", "", [])]
    anchors: set[str] = set()
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        if paragraph and "".join(paragraph).strip():
            sections[-1].paragraphs.append("\n".join(paragraph).strip())
        paragraph.clear()

    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else HEADING.match(line)
        if match:
            flush()
            level, title = len(match.group(1)), heading_text(match.group(2))
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
            # The H1 is the article title; it does not need repeating in every chunk.
            shown = " › ".join(t for lvl, t in path if lvl > 1)
            # Repeated headings get -1, -2… exactly as the page renderer numbers them.
            anchor = unique_slug(heading_anchor(title), anchors) if level > 1 else ""
            sections.append(Section(shown, anchor, []))
        elif not line.strip() and not in_fence:
            flush()
        else:
            paragraph.append(line)
    flush()
    return [s for s in sections if s.paragraphs]


def _pieces(paragraph: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """A paragraph that fits, or its sentences, or (for run-on text) runs of words."""
    if count(paragraph) <= budget:
        return [paragraph]
    pieces = []
    for sentence in SENTENCE_END.split(paragraph):
        if count(sentence) <= budget:
            pieces.append(sentence)
            continue
        words = sentence.split()
        step = max(1, budget * len(words) // max(1, count(sentence)))
        pieces.extend(" ".join(words[i : i + step]) for i in range(0, len(words), step))
    return pieces


def _overlap(pieces: list[str], overlap: int, count: Callable[[str], int]) -> list[str]:
    tail = SENTENCE_END.split(pieces[-1])[-1] if pieces else ""
    return [tail] if tail and count(tail) <= overlap else []


def chunk_markdown(
    markdown: str,
    *,
    max_tokens: int = 180,
    overlap_tokens: int = 30,
    count: Callable[[str], int] = word_count,
    reserve: Callable[[str], int] = lambda heading: 0,
) -> list[ChunkDraft]:
    """Chunks of at most `max_tokens`, less what `reserve(heading)` keeps for the text
    embedded with each chunk (title, heading) and the overlap carried into it."""
    chunks: list[ChunkDraft] = []
    for section in split_sections(markdown):
        budget = max(min(max_tokens, 32), max_tokens - reserve(section.heading))
        current: list[str] = []
        size = 0
        for paragraph in section.paragraphs:
            for piece in _pieces(paragraph, budget, count):
                piece_size = count(piece)
                if current and size + piece_size > budget:
                    chunks.append(ChunkDraft(section.heading, section.anchor, "\n\n".join(current)))
                    current = _overlap(current, overlap_tokens, count)
                    size = sum(count(p) for p in current)
                current.append(piece)
                size += piece_size
        if current:
            chunks.append(ChunkDraft(section.heading, section.anchor, "\n\n".join(current)))
    return chunks


def embedding_pipeline(model: str) -> str:
    """What produces an article's chunks: part of their hash, so a change re-embeds."""
    return f"{model}|{settings.CHUNK_MAX_TOKENS}|{CHUNKER_VERSION}"


def article_chunks(article: Article, *, model: str = "") -> list[Chunk]:
    """The article's chunks, each with its vector from `model`; unsaved, and with no index.

    Only sanitised text reaches the embedder (knowledge/sanitise.py), whatever the path.
    The stored body stays as the editor wrote it."""
    article = Article(
        pk=article.pk, title=strip_invisible(article.title), body=sanitise(article.body).text
    )
    tokenizer = embeddings.tokenizer(model)

    def count(text: str) -> int:
        return len(tokenizer.tokenize(text))

    def reserve(heading: str) -> int:
        # embedding_text() adds the title and heading; the overlap is carried in; and the
        # model adds two special tokens. All of it must fit in what the model reads.
        return count(Chunk.embedding_head(article.title, heading)) + OVERLAP_TOKENS + 4

    max_tokens = min(settings.CHUNK_MAX_TOKENS, embeddings.max_sequence_length(model))
    drafts = chunk_markdown(
        article.body,
        max_tokens=max_tokens,
        overlap_tokens=OVERLAP_TOKENS,
        count=count,
        reserve=reserve,
    )
    chunks = [
        Chunk(article=article, heading=d.heading, anchor=d.anchor, text=d.text) for d in drafts
    ]
    vectors = embeddings.embed_documents([c.embedding_text() for c in chunks], model=model)
    for chunk, vector in zip(chunks, vectors, strict=True):
        chunk.embedding = vector
    return chunks
