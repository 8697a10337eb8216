"""Cheap, explainable answer signals: no model call, a few microseconds per answer.

Groundedness is the share of the answer's content words that also occur in the retrieved
text. A grounded answer restates the article; an invented one brings its own nouns,
numbers and names, which this catches, and those are the errors that hurt in support
("$1.25 per user" when the article says $8). It does not catch a wrong sentence built
from the article's own words; the review queue is where people catch those.
"""

import re

WORD = re.compile(r"[a-z0-9][a-z0-9'’-]*")
# Words that carry no evidence either way.
STOP = frozenset(
    "the a an and or but if then so to of in on at for from by with about as is are was were "
    "be been being it its this that these those you your yours we our us they them their i me "
    "my can could will would should may might must do does did done have has had not no yes "
    "there here what which who whom how when where why all any some more most other such only "
    "own same than too very just also into out up down over under again once please thanks "
    "sure let help".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if len(w) > 2 and w not in STOP} | set(
        re.findall(r"\d+(?:[.,]\d+)?", text)
    )


def groundedness(answer: str, context: list[str]) -> float | None:
    words = content_words(answer)
    if not words:
        return None
    supported = content_words(" ".join(context))
    return round(len(words & supported) / len(words), 3)


def used_sources(answer: str, chunks) -> list:
    """The chunks' articles that the answer actually draws on, best first.

    An article counts when it supports at least half as many of the answer's content
    words as the best-supporting one; the best one always counts."""
    words = content_words(answer)
    by_article: dict[int, tuple[int, object]] = {}
    for chunk in chunks:
        overlap = len(words & content_words(chunk.embedding_text()))
        best = by_article.get(chunk.article_id)
        if best is None or overlap > best[0]:
            by_article[chunk.article_id] = (overlap, chunk)
    if not by_article:
        return []
    top = max(overlap for overlap, _ in by_article.values())
    keep = {aid for aid, (overlap, _) in by_article.items() if overlap * 2 >= top}
    ordered = sorted(by_article.items(), key=lambda kv: kv[1][0], reverse=True)
    return [chunk for aid, (_, chunk) in ordered if aid in keep]
