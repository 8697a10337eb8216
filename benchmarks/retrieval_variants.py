"""Retrieval variants side by side on both evaluation corpora: why rank fusion hurt.

Loads each corpus as `manage.py eval_retrieval --corpus` does (knowledge/demo_kb with
dev.jsonl, knowledge/eval/libreoffice with libreoffice.jsonl, each in a database of its
own, kept between runs), reads its chunks (vectors, tsvectors), embeds the answerable
questions as the product searches them (query_for's follow-up rewrite, the serving
index's model) and ranks articles for them in numpy, one way per row:

- dense: articles by their most similar chunk (the product's dense mode, exact search)
- BM25 (k1 1.2, b 0.75) of the query's words over the chunks' tsvectors, counted as
  HYBRID_SQL counts them (length: distinct lexemes; idf: chunks holding the word);
  "+ title" adds each word's idf when the article's title holds it
- RRF: reciprocal rank fusion (k 60) of the dense article ranking (weight 1) and the
  BM25 + title one (weight w; articles matching no word left out), the fusion shipped
  before (there at chunk level)
- linear: over the 40 nearest chunks, cosine + w * BM25 / (sum of the words' idf), which
  is the shipped hybrid at w = RETRIEVAL_SPARSE_WEIGHT; the row after it checks the numpy
  copy against the product's own search() (HNSW, top 10 chunks)
- aggregation: the best chunk's similarity + a * the similarity to the article's
  centroid (mean chunk vector), to its title's vector, or to its second-best chunk
- --rechunk: articles re-split (sections packed up to 120/200/250 tokens, the whole
  article, 1000-character windows every 800) and embedded by the product's model

Per corpus: recall@1, recall@3, MRR over the answerable questions (rankings uncut), and
+/-@1, how many questions the row ranks right first where dense does not / the reverse.

    HELPDESK_VAR_DIR=var/eval .venv/bin/python benchmarks/retrieval_variants.py [--rechunk]

The first run ingests both corpora (minutes); later ones reuse them. An analysis tool:
the product's own retrieval figures come from `manage.py eval_retrieval`.
"""

import argparse
import functools
import json
import os
import re
import shlex
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")  # for printing the command line

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--rechunk", action="store_true", help="also re-chunk and re-embed the corpora (minutes)"
)
args = parser.parse_args()

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# The embedded services (no LLM started here) for what the environment leaves unset, started
# (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
devstack.hand_over(llm=False)
django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils.text import slugify  # noqa: E402

from knowledge import embeddings, selectors  # noqa: E402
from knowledge.chunking import chunk_markdown, split_sections  # noqa: E402
from knowledge.management.commands.eval_retrieval import (  # noqa: E402
    first_hit,
    load_corpus,
    load_questions,
    previous_question,
)
from knowledge.models import Article  # noqa: E402
from knowledge.retrieval import query_for  # noqa: E402
from knowledge.sanitise import sanitise  # noqa: E402

CORPORA = {
    "demo": ("knowledge/demo_kb", "knowledge/eval/dev.jsonl"),
    "libreoffice": ("knowledge/eval/libreoffice", "knowledge/eval/libreoffice.jsonl"),
}
RRF_K = 60
K1, B = selectors.BM25_K1, selectors.BM25_B
AGGREGATIONS = [(a, "centroid", "centroid") for a in (0.2, 0.4, 0.6)]
AGGREGATIONS += [(a, "title", "title vector") for a in (0.2, 0.4, 0.6)]
AGGREGATIONS += [(a, "second", "second-best chunk") for a in (0.2, 0.4)]
WEIGHT = settings.RETRIEVAL_SPARSE_WEIGHT
log = functools.partial(print, file=sys.stderr, flush=True)
TSVECTOR_ENTRY = re.compile(r"'((?:[^']|'')*)'(?::([0-9A-D,]+))?")
NONE = np.array([], dtype=int)
CHUNKS_SQL = """
SELECT a.slug, a.title, c.embedding::text, c.search_vector::text,
       to_tsvector(%(search_config)s::regconfig, a.title)::text
FROM knowledge_chunk c JOIN knowledge_article a
    ON a.id = c.article_id AND a.published AND a.status <> %(held_back)s
WHERE c.index_id = %(index_id)s ORDER BY c.id
"""


def parse_tsvector(text: str) -> dict[str, int]:
    """Each lexeme of a tsvector's text with its number of positions (its tf)."""
    return {
        m.group(1).replace("''", "'"): len(m.group(2).split(",")) if m.group(2) else 1
        for m in TSVECTOR_ENTRY.finditer(text)
    }


@dataclass
class Question:
    expected: set[int]  # article indices
    query: str
    vector: np.ndarray
    lexemes: list[str]


class Corpus:
    """One corpus's chunks as arrays, an inverted index of their lexemes, its questions."""

    def __init__(self, name: str, database: str, index, rows: list[tuple]):
        self.name, self.database, self.index = name, database, index
        slugs = [row[0] for row in rows]
        self.articles = list(dict.fromkeys(slugs))  # article_of points into it
        self.position = {slug: i for i, slug in enumerate(self.articles)}
        titles = dict(zip(slugs, (row[1] for row in rows), strict=True))
        self.titles = [titles[slug] for slug in self.articles]
        self.article_of = np.array([self.position[slug] for slug in slugs])
        self.vectors = np.array([json.loads(row[2]) for row in rows], dtype=np.float32)
        tfs = [parse_tsvector(row[3]) for row in rows]
        self.chunks = len(rows)
        self.lengths = np.array([len(tf) for tf in tfs], dtype=float)  # distinct lexemes
        self.avg_length = self.lengths.mean()
        postings, in_title = defaultdict(lambda: ([], [])), defaultdict(list)
        for i, row in enumerate(rows):
            for lexeme, tf in tfs[i].items():
                postings[lexeme][0].append(i)
                postings[lexeme][1].append(tf)
            for lexeme in parse_tsvector(row[4]):
                in_title[lexeme].append(i)
        # lexeme: (rows of the chunks holding it, its tf in each); lexeme: rows of the
        # chunks whose article's title holds it
        self.postings = {t: (np.array(r), np.array(f, float)) for t, (r, f) in postings.items()}
        self.in_title = {t: np.array(r) for t, r in in_title.items()}
        self.questions: list[Question] = []
        self.extra: dict = {}  # centroids, title vectors, re-chunkings
        self.results: dict = {}  # row label: each question's rank of its right article

    def idf(self, lexeme: str) -> float:
        n = len(self.postings.get(lexeme, (NONE,))[0])
        return float(np.log(1 + (self.chunks - n + 0.5) / (n + 0.5)))


def load(name: str, original_database: str) -> Corpus:
    folder, questions = CORPORA[name]
    # load_corpus names the database after the connection's current one: start from the
    # original each time, or the second corpus would land in <first>_eval_<second>.
    settings.DATABASES["default"]["NAME"] = original_database
    connection.settings_dict["NAME"] = original_database
    log(f"{name}: loading {folder} (ingest_kb, unchanged files skipped)")
    load_corpus(ROOT / folder)
    database = connection.settings_dict["NAME"]
    wanted = f"{original_database}_eval_{slugify(Path(folder).name)}"[:63]
    assert database == wanted, f"{name} loaded into {database}, not {wanted}"
    index = selectors.serving_index()
    with connection.cursor() as cursor:
        cursor.execute(
            CHUNKS_SQL,
            {
                "held_back": Article.Status.FLAGGED.value,
                "index_id": index.pk,
                "search_config": settings.KB_SEARCH_CONFIG,
            },
        )
        corpus = Corpus(name, database, index, cursor.fetchall())
    corpus.questions = read_questions(corpus, ROOT / questions)
    corpus.extra = aggregates(corpus)
    if args.rechunk:
        corpus.extra.update(rechunked(corpus))
    return corpus


def read_questions(corpus: Corpus, path: Path) -> list[Question]:
    """The answerable questions, searched as the product searches them."""
    items = [item for item in load_questions(path) if item["expected"]]
    queries = [
        query_for(question=item["question"], previous=previous_question(item), rewrite=True).text
        for item in items
    ]
    vectors = embeddings.embed_queries(queries, model=corpus.index.model_name)
    # As HYBRID_SQL: the words of fulltext_words, less those too common to count.
    common = set(selectors.common_lexemes(max_matches=settings.RETRIEVAL_SPARSE_MAX_MATCHES))
    questions = []
    with connection.cursor() as cursor:
        for item, query, vector in zip(items, queries, vectors, strict=True):
            cursor.execute(
                "SELECT to_tsvector(%s::regconfig, %s)::text",
                [settings.KB_SEARCH_CONFIG, selectors.fulltext_words(query)],
            )
            lexemes = [t for t in parse_tsvector(cursor.fetchone()[0]) if t not in common]
            expected = {corpus.position[s] for s in item["expected"] if s in corpus.position}
            questions.append(Question(expected, query, np.array(vector, np.float32), lexemes))
    return questions


def aggregates(corpus: Corpus) -> dict:
    centroids = np.zeros((len(corpus.articles), corpus.vectors.shape[1]))
    np.add.at(centroids, corpus.article_of, corpus.vectors)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    titles = embeddings.embed_documents(corpus.titles, model=corpus.index.model_name)
    return {"centroids": centroids, "title vectors": np.array(titles)}


# --- Re-chunking (--rechunk) -----------------------------------------------------------


def rechunked(corpus: Corpus) -> dict:
    """Each re-chunking's (article of each chunk, chunk vectors)."""
    tokenizer = embeddings.get_model(corpus.index.model_name).tokenizer

    def count(text: str) -> int:
        return len(tokenizer.tokenize(text))

    public = selectors.article_public_list().filter(slug__in=corpus.articles)
    articles = [(a.slug, a.title, sanitise(a.body).text) for a in public]
    ways = {f"pack{n}": lambda b, n=n: packed(b, n, count) for n in (120, 200, 250)}
    ways["whole"] = lambda b: [b]
    ways["char1000"] = lambda b: [b[i : i + 1000] for i in range(0, max(1, len(b)), 800)]
    result = {}
    for way, split in ways.items():
        log(f"{corpus.name}: re-chunking, {way}")
        slugs, texts = [], []
        for slug, title, body in articles:
            for text in split(body):
                slugs.append(slug)
                texts.append(f"{title}\n\n{text}")
        vectors = embeddings.embed_documents(texts, model=corpus.index.model_name)
        article_of = np.array([corpus.position[slug] for slug in slugs])
        result[way] = (article_of, np.array(vectors, dtype=np.float32))
    return result


def packed(body: str, budget: int, count) -> list[str]:
    """Whole sections (heading line kept) packed up to `budget` tokens; a section too long
    for it split by the product's chunker at that budget."""
    texts, current, size = [], [], 0
    for section in split_sections(body):
        heading = f"{section.heading}\n" if section.heading else ""
        block = heading + "\n\n".join(section.paragraphs)
        pieces = [block]
        if count(block) > budget:
            drafts = chunk_markdown(block, max_tokens=budget, count=count)
            pieces = [f"{d.heading}\n{d.text}" if d.heading else d.text for d in drafts]
        for piece in pieces:
            n = count(piece)
            if current and size + n > budget:
                texts.append("\n\n".join(current))
                current, size = [], 0
            current.append(piece)
            size += n
    if current:
        texts.append("\n\n".join(current))
    return texts


# --- Rankings: each returns article indices, best first --------------------------------


def by_article(scores, article_of, articles: int, among=None) -> list[int]:
    """Articles by their best chunk's score; with `among`, only those chunks count."""
    rows = np.arange(len(scores)) if among is None else among
    best = np.full(articles, -np.inf)
    np.maximum.at(best, article_of[rows], scores[rows])
    order = np.argsort(-best, kind="stable")
    return [int(a) for a in order if best[a] > -np.inf]


def bm25(c: Corpus, lexemes: list[str], title_boost: float = 0.0) -> np.ndarray:
    scores = np.zeros(c.chunks)
    for lexeme in lexemes:
        idf = c.idf(lexeme)
        rows, tf = c.postings.get(lexeme, (NONE, NONE))
        length = 1 - B + B * c.lengths[rows] / c.avg_length
        scores[rows] += idf * tf * (K1 + 1) / (tf + K1 * length)
        if title_boost:
            scores[c.in_title.get(lexeme, NONE)] += title_boost * idf
    return scores


def dense(c: Corpus, q: Question) -> list[int]:
    return by_article(c.vectors @ q.vector, c.article_of, len(c.articles))


def sparse(c: Corpus, q: Question, title_boost: float = 0.0) -> list[int]:
    scores = bm25(c, q.lexemes, title_boost)
    return by_article(scores, c.article_of, len(c.articles), np.flatnonzero(scores > 0))


def rrf(c: Corpus, q: Question, weight: float) -> list[int]:
    fused = np.zeros(len(c.articles))
    for order, w in ((dense(c, q), 1.0), (sparse(c, q, title_boost=1.0), weight)):
        fused[order] += w / (RRF_K + np.arange(1, len(order) + 1))
    return [int(a) for a in np.argsort(-fused, kind="stable")]


def linear(c: Corpus, q: Question, weight: float) -> list[int]:
    similarity = c.vectors @ q.vector
    nearest = np.argsort(-similarity, kind="stable")[: selectors.CANDIDATES]
    idf_sum = max(sum(c.idf(t) for t in q.lexemes), 1e-9)
    scores = similarity + weight * bm25(c, q.lexemes) / idf_sum
    return by_article(scores, c.article_of, len(c.articles), nearest)


def product_hybrid(c: Corpus, q: Question) -> list[int]:
    result = selectors.search(
        embedding=q.vector.tolist(), text=q.query, limit=10, mode="hybrid", index=c.index
    )
    return [c.position[slug] for slug in dict.fromkeys(ch.article.slug for ch in result.chunks)]


def aggregated(c: Corpus, q: Question, centroid=0.0, title=0.0, second=0.0) -> list[int]:
    similarity = c.vectors @ q.vector
    order = np.lexsort((-similarity, c.article_of))  # by article, best chunk first
    owner, ranked = c.article_of[order], similarity[order]
    first = np.r_[True, owner[1:] != owner[:-1]]
    runner_up = np.r_[False, first[:-1]] & ~first
    best = np.zeros(len(c.articles))
    best[owner[first]] = ranked[first]
    next_best = best.copy()  # an article of one chunk counts it twice
    next_best[owner[runner_up]] = ranked[runner_up]
    score = best + second * next_best
    score += centroid * (c.extra["centroids"] @ q.vector)
    score += title * (c.extra["title vectors"] @ q.vector)
    return [int(a) for a in np.argsort(-score, kind="stable")]


def rechunk_dense(c: Corpus, q: Question, way: str) -> list[int]:
    article_of, vectors = c.extra[way]
    return by_article(vectors @ q.vector, article_of, len(c.articles))


def variants() -> list[tuple[str, object]]:
    """(label, ranking) per row; a ranking of None is a heading."""
    rows = [("Baseline", None), ("dense (best chunk)", dense)]
    rows += [("Full text alone", None), ("BM25", sparse)]
    rows += [("BM25 + title", lambda c, q: sparse(c, q, title_boost=1.0))]
    rows += [(f"Rank fusion, articles, k {RRF_K}: dense + w * BM25+title", None)]
    rows += [(f"RRF w {w}", lambda c, q, w=w: rrf(c, q, w)) for w in (0.3, 0.5, 1.0)]
    rows += [(f"Linear, {selectors.CANDIDATES} nearest chunks: cos + w * BM25/sum idf", None)]
    for w in sorted({0.1, WEIGHT, 0.3}):
        shipped = " (shipped hybrid)" if w == WEIGHT else ""
        rows.append((f"linear w {w}{shipped}", lambda c, q, w=w: linear(c, q, w)))
    rows.append(("  product search(), hybrid, top 10 chunks", product_hybrid))
    rows.append(("Article aggregation: best chunk + a * ...", None))
    for a, kw, label in AGGREGATIONS:
        rows.append((f"+ {a} {label}", lambda c, q, a=a, kw=kw: aggregated(c, q, **{kw: a})))
    rows.append(("+ 0.3 centroid + 0.3 title vector", lambda c, q: aggregated(c, q, 0.3, 0.3)))
    if args.rechunk:
        rows.append(("Re-chunked, dense (title + text embedded)", None))
        for way in ("pack120", "pack200", "pack250", "whole", "char1000"):
            rows.append((way, lambda c, q, way=way: rechunk_dense(c, q, way)))
    return rows


def figures(found: list[int | None], baseline: list[int | None]) -> str:
    n = len(found)
    r1 = sum(r == 0 for r in found) / n
    r3 = sum(r is not None and r < 3 for r in found) / n
    mrr = sum(0 if r is None else 1 / (r + 1) for r in found) / n
    gained = sum(r == 0 and b != 0 for r, b in zip(found, baseline, strict=True))
    lost = sum(r != 0 and b == 0 for r, b in zip(found, baseline, strict=True))
    return f"{r1:>7.3f}{r3:>7.3f}{mrr:>7.3f}{f'+{gained}/-{lost}':>9}"


def score(c: Corpus) -> None:
    """Every row's ranks, while the corpus's database is the connection's (search() reads it)."""
    for label, ranking in variants():
        if ranking:  # each question's rank of its first right article (None: not ranked)
            c.results[label] = [first_hit(ranking(c, q), q.expected) for q in c.questions]


def table(corpora: list[Corpus]) -> None:
    rows = variants()
    width = max(len(label) for label, _ in rows) + 2
    print(
        "\n" + " " * width + "".join(f"{f'{c.name} ({len(c.questions)} q)':>30}" for c in corpora)
    )
    print(f"{'':{width}}" + f"{'r@1':>7}{'r@3':>7}{'MRR':>7}{'+/-@1':>9}" * len(corpora))
    for label, ranking in rows:
        if ranking is None:
            print(label)
            continue
        cells = "".join(figures(c.results[label], c.results["dense (best chunk)"]) for c in corpora)
        print(f"  {label:{width - 2}}{cells}")


def describe(corpora: list[Corpus]) -> None:
    for c in corpora:
        print(f"{c.name:12} database {c.database}, model {c.index.model_name}: "
              f"{c.chunks} chunks of {len(c.articles)} articles, "
              f"{len(c.questions)} answerable questions")  # fmt: skip
    print(f"RETRIEVAL_SPARSE_WEIGHT {WEIGHT}, BM25 k1 {K1} b {B}; "
          "+/-@1: right first where dense is not / wrong where dense is right")  # fmt: skip


def main() -> None:
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    print(f"Command: {prefix}{shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}")
    started = time.perf_counter()
    original = connection.settings_dict["NAME"]
    try:
        corpora = []
        for name in CORPORA:  # scored while its database is the connection's
            corpus = load(name, original)
            log(f"{name}: scoring")
            score(corpus)
            corpora.append(corpus)
        describe(corpora)
        table(corpora)
        print(f"\n{time.perf_counter() - started:.0f} s")
    finally:
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
