"""Retrieval latency and HNSW recall@10 at 10k and 100k chunks, through the product's search.

Each size has a database of its own (`helpdesk_bench_retrieval_<N>`, kept between runs)
holding N chunks in the product's Chunk table and the HNSW index its service creates.
Questions are dev.jsonl's, embedded by the product's embedder. See benchmarks/README.md.
"""

import argparse
import json
import os
import random
import re
import shlex
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")  # for printing the command line
LOAD_AT_START = os.getloadavg()[0]


def int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",")]


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--sizes", type=int_list, default=[10_000, 100_000], help="chunk counts")
parser.add_argument("--real", type=int, default=2000, help="chunks with real embeddings")
parser.add_argument("--rounds", type=int, default=2, help="timed passes over the questions")
parser.add_argument("--ef", type=int_list, default=[10, 20, 40, 64, 100, 200], help="sweep")
parser.add_argument("--rebuild", action="store_true", help="reload even if the data is cached")
args = parser.parse_args()

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

# The embedded services (no LLM started here) for what the environment leaves unset, started
# (or reused) under HELPDESK_VAR_DIR and handed over before Django loads.
devstack.hand_over(llm=False)
django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from pgvector.psycopg import register_vector  # noqa: E402

from benchmarks.benchdb import describe, description, use_database  # noqa: E402
from knowledge import embeddings  # noqa: E402
from knowledge.chunking import article_chunks  # noqa: E402
from knowledge.extract import extract  # noqa: E402
from knowledge.indexes import (  # noqa: E402
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    embedding_index_create,
    hnsw_create,
)
from knowledge.management.commands.eval_retrieval import (  # noqa: E402
    history_of,
    previous_question,
)
from knowledge.models import Article, Chunk, EmbeddingIndex  # noqa: E402
from knowledge.retrieval import embed, query_for, retrieve  # noqa: E402
from knowledge.selectors import (  # noqa: E402
    HYBRID_SQL,
    chunk_search,
    common_lexemes,
    fulltext_words,
    index_size,
    search,
    serving_index,
)

# Bump when the generated data changes: a cached database of another version is reloaded.
DATA_VERSION = 1
SEED = 20261201
# Synthetic vectors: a mixture of two real ones plus isotropic noise of this norm.
NOISE = 0.3
CHUNKS_PER_ARTICLE = 10
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- The data -------------------------------------------------------------------------


class BaseSet:
    """The chunks with real embeddings: the demo KB's, chunked and embedded by the product's
    pipeline, and recombinations of their sentences, embedded by the product's embedder."""

    def __init__(self, count: int):
        rng = random.Random(SEED)
        self.rows = []  # (article title, heading, text)
        vectors = []
        for path in sorted((ROOT / "knowledge" / "demo_kb").glob("*.md")):
            extracted = extract(filename=path.name, data=path.read_bytes())
            for chunk in article_chunks(Article(title=extracted.title, body=extracted.body)):
                self.rows.append((extracted.title, chunk.heading, chunk.text))
                vectors.append(chunk.embedding)
        self.demo = len(self.rows)
        sentences = [[s for s in SENTENCE.split(text) if len(s) > 20] for *_, text in self.rows]
        texts = []
        while len(self.rows) + len(texts) < count:
            i = rng.randrange(self.demo)
            own = sentences[i]
            if not own:
                continue
            picked = sorted(rng.sample(range(len(own)), min(len(own), rng.randint(2, 4))))
            text = [own[k] for k in picked]
            if rng.random() < 0.5:  # a sentence from elsewhere, as real chunks wander
                text.append(rng.choice(sentences[rng.randrange(self.demo)] or [""]))
            texts.append((self.rows[i][0], self.rows[i][1], " ".join(text).strip()))
        for start in range(0, len(texts), 256):
            batch = texts[start : start + 256]
            vectors += embeddings.embed_documents(
                [f"{Chunk.embedding_head(t, h)}\n\n{x}" for t, h, x in batch]
            )
            log(f"  embedded {start + len(batch)}/{len(texts)} generated texts")
        self.rows += texts
        self.vectors = np.array(vectors[:count], dtype=np.float32)
        self.rows = self.rows[:count]
        self.sentences = [[s for s in SENTENCE.split(text) if s] for *_, text in self.rows]


def generated(base: BaseSet, n: int):
    """N rows (title, heading, text, vector): the real ones first, then noisy mixtures."""
    real = min(n, len(base.rows))
    for k in range(real):
        yield (*base.rows[k], base.vectors[k])
    rng = np.random.default_rng(SEED + n)
    pick = random.Random(SEED + n)
    synthetic = n - real
    for start in range(0, synthetic, 10_000):
        size = min(10_000, synthetic - start)
        i = rng.integers(len(base.rows), size=size)
        j = rng.integers(len(base.rows), size=size)
        alpha = rng.uniform(0.5, 0.9, size=size)[:, None]
        noise = rng.standard_normal((size, base.vectors.shape[1])).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        mixed = alpha * base.vectors[i] + (1 - alpha) * base.vectors[j] + noise
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        for k in range(size):
            # The text follows the vector: most of the main parent's sentences, one of the other's.
            own = base.sentences[i[k]]
            text = pick.sample(own, max(1, len(own) - 1)) + [pick.choice(base.sentences[j[k]])]
            title, heading, _ = base.rows[i[k]]
            yield title, heading, " ".join(text), mixed[k].astype(np.float32)


def data_key(n: int) -> dict:
    """What the data of size N is made of; a cached database must match it."""
    return {"version": DATA_VERSION, "chunks": n, "real": min(n, args.real), "noise": NOISE,
            "model": embeddings.model_name(), "seed": SEED}  # fmt: skip


def cached_data(n: int) -> dict | None:
    """The description of the data loaded for size N, if it is what this run would load."""
    try:
        loaded = json.loads(description())
    except ValueError:
        return None
    same = {k: loaded.get(k) for k in data_key(n)} == data_key(n)
    return loaded if same and Chunk.objects.exists() else None


def load(n: int, base: BaseSet) -> dict:
    """Empty the database, then load N chunks into the product's tables and index."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE knowledge_chunk, knowledge_articleembedding, knowledge_article, "
            "knowledge_embeddingindex RESTART IDENTITY CASCADE"
        )
    # The product's own service creates the index row and its HNSW index; the HNSW index
    # is dropped for the load and rebuilt by the same function after it (much faster than
    # inserting 100k rows into a graph one by one).
    index = embedding_index_create(
        model_name=embeddings.model_name(), state=EmbeddingIndex.State.ACTIVE
    )
    with connection.cursor() as cursor:
        for (name,) in _hnsw_indexes(cursor):
            cursor.execute(f'DROP INDEX "{name}"')
    rows = list(generated(base, n))
    now = timezone.now()
    articles = Article.objects.bulk_create(
        [
            Article(
                title=f"{rows[k][0]} ({k // CHUNKS_PER_ARTICLE})",
                slug=f"bench-{k}",
                status=Article.Status.READY,
                embedded_at=now,
                embedding_model=index.model_name,
            )
            for k in range(0, n, CHUNKS_PER_ARTICLE)
        ],
        batch_size=2000,
    )
    register_vector(connection.connection)  # binary COPY of numpy vectors
    copy_sql = (
        "COPY knowledge_chunk (article_id, index_id, position, heading, anchor, text, "
        "embedding) FROM STDIN WITH (FORMAT BINARY)"
    )
    with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        copy.set_types(["int8", "int8", "int4", "varchar", "varchar", "text", "vector"])
        for k, (_, heading, text, vector) in enumerate(rows):
            article = articles[k // CHUNKS_PER_ARTICLE]
            copy.write_row(
                (article.pk, index.pk, k % CHUNKS_PER_ARTICLE, heading, "", text, vector)
            )
    loaded = time.perf_counter()
    log(f"  copied {n} chunks in {loaded - started:.1f} s; building the HNSW index")
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")  # the whole graph in memory
        hnsw_create(index)
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("VACUUM ANALYZE knowledge_chunk")
        cursor.execute("VACUUM ANALYZE knowledge_article")
    built = time.perf_counter()
    describe(json.dumps({**data_key(n), "demo": base.demo}))
    connection.close()  # the measured connection is a fresh one, as a request's would be
    return {"load s": loaded - started, "index s": built - loaded}


def _hnsw_indexes(cursor) -> list[tuple[str]]:
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'knowledge_chunk' "
        "AND indexdef LIKE '%USING hnsw%'"
    )
    return cursor.fetchall()


# --- The measurements -----------------------------------------------------------------


def ms_stats(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    p95 = statistics.quantiles(ms, n=100, method="inclusive")[94]
    return {"p50": statistics.median(ms), "p95": p95, "min": min(ms)}


@contextmanager
def setting(name: str, value: int | str):
    """A transaction in which one planner or pgvector setting differs (SET LOCAL)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL {name} = {value}")
        yield


def uses_index(run, index: EmbeddingIndex) -> bool:
    """Whether the vector query that `run` makes (not hybrid's article prefetch) is
    planned on the product's HNSW index."""
    with CaptureQueriesContext(connection) as queries:
        run()
    sql = next(q["sql"] for q in queries.captured_queries if "<=>" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return any(index.index_name() in line for (line,) in cursor.fetchall())


def timed(run) -> tuple[object, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def exact_neighbours(vectors: list, index: EmbeddingIndex) -> tuple[list[set], list[float]]:
    """The true 10 nearest of each question: the product's query with index scans off,
    which leaves Postgres a sequential scan and a sort (checked on the plan)."""
    truth, seconds = [], []
    with setting("enable_indexscan", "off"):
        assert not uses_index(lambda: chunk_search(embedding=vectors[0], limit=10, index=index),
                              index)  # fmt: skip
        for vector in vectors:
            chunks, took = timed(lambda v=vector: chunk_search(embedding=v, limit=10, index=index))
            truth.append({c.pk for c in chunks})
            seconds.append(took)
    return truth, seconds


def ef_sweep(vectors: list, truth: list[set], index: EmbeddingIndex) -> dict:
    sweep = {}
    for ef in args.ef:
        recall, seconds = [], []
        with setting("hnsw.ef_search", int(ef)):
            # The planner prices an HNSW scan by ef_search: above some value a small table
            # is searched by a sequential scan instead, which the table says.
            hnsw = uses_index(lambda: chunk_search(embedding=vectors[0], limit=10, index=index),
                              index)  # fmt: skip
            for round_ in range(args.rounds + 1):  # round 0 warms the cache and is untimed
                for vector, true in zip(vectors, truth, strict=True):
                    run = lambda v=vector: chunk_search(embedding=v, limit=10, index=index)  # noqa: E731
                    chunks, took = timed(run)
                    if round_ == 0:
                        recall.append(len(true & {c.pk for c in chunks}) / len(true))
                    else:
                        seconds.append(took)
        sweep[ef] = {"recall": statistics.mean(recall), "hnsw": hnsw, **ms_stats(seconds)}
    return sweep


# The full-text half of hybrid search, cut out of the product's query so it stays the same:
# each question word's weight, from the chunks of the index that hold it (the words not too
# common, read as the product reads them).
_TERMS = HYBRID_SQL[HYBRID_SQL.index("terms AS (") : HYBRID_SQL.index("), lexical AS")] + ")"
SPARSE_SQL = "WITH " + _TERMS + " SELECT * FROM terms"
MATCHED_SQL = (
    "WITH " + _TERMS + " SELECT count(*) FROM knowledge_chunk c WHERE c.index_id = {index_id} "
    "AND c.search_vector @@ (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery FROM terms)"
)


def sparse_only(query: str, index: EmbeddingIndex) -> tuple[int, float]:
    """(chunks the question's full-text query matches, seconds for the product's
    full-text part)."""
    params = {
        "words": fulltext_words(query),
        "common": common_lexemes(max_matches=settings.RETRIEVAL_SPARSE_MAX_MATCHES),
        "chunks": index_size(index=index)[0],
        "search_config": settings.KB_SEARCH_CONFIG,
    }
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(SPARSE_SQL.format(index_id=int(index.pk)), params)
        cursor.fetchall()
        took = time.perf_counter() - started
        cursor.execute(MATCHED_SQL.format(index_id=int(index.pk)), params)
        return cursor.fetchone()[0], took


def latencies(questions: list[tuple], index: EmbeddingIndex) -> dict:
    """Per question, interleaved so drift hits every column alike: the embedding, each
    search mode's SQL, the full-text part alone, and the product's retrieve() whole."""
    samples = {key: [] for key in LATENCY_ROWS.values()}
    matched, per_row = [], []
    limit, total = settings.RETRIEVAL_TOP_K, index.chunks.count()
    for round_ in range(args.rounds + 1):
        for _, query, _ in questions:
            took = {}
            embedded, took["embed"] = timed(lambda q=query: embed(q, index=index))
            for mode in ("dense", "hybrid"):
                run = lambda m=mode, q=query.text, v=embedded.vector: search(  # noqa: E731
                    embedding=v, text=q, limit=limit, mode=m, index=index
                )
                _, took[mode] = timed(run)
            # What the chat runs per question: it reads the serving index in the trip
            # that loads the conversation, then embeds and searches (chat/answering.py).
            for mode in ("dense", "hybrid"):
                took[f"chat {mode}"] = took["embed"] + took[mode]
            count, took["sparse"] = sparse_only(query.text, index)
            for mode in ("dense", "hybrid"):
                run = lambda m=mode, q=query: retrieve(embedded=embed(q), mode=m)  # noqa: E731
                _, took[f"retrieve {mode}"] = timed(run)
            if round_:  # round 0 is the warm-up
                for key, seconds in took.items():
                    samples[key].append(seconds)
            else:
                matched.append(count / total)
                per_row.append(took["sparse"] / max(count, 1))
    queries = {}
    for mode in ("dense", "hybrid"):
        with CaptureQueriesContext(connection) as captured:
            retrieve(embedded=embed(questions[0][1]), mode=mode)
        queries[mode] = len(captured.captured_queries)
    return {"latency": {k: ms_stats(v) for k, v in samples.items()},
            "matched": statistics.median(matched), "us per match": statistics.median(per_row) * 1e6,
            "queries": queries}  # fmt: skip


def measure(n: int, questions: list[tuple], base_set) -> dict:
    use_database(f"helpdesk_bench_retrieval_{n}")
    built, loaded = None, None if args.rebuild else cached_data(n)
    if loaded is None:
        log(f"Loading {n} chunks into {connection.settings_dict['NAME']}")
        built = load(n, base_set())
        loaded = cached_data(n)
    index = serving_index()
    count = index.chunks.count()
    assert count == n, f"{count} chunks in the index, expected {n}"
    log(f"Measuring {n} chunks")

    vectors = [embed(query, index=index).vector for _, query, _ in questions]
    # Small tables are cheaper to scan than to search: the planner's choice is reported.
    uses = {
        mode: uses_index(lambda m=mode, q=query: search(embedding=vectors[0], text=q, limit=3,
                                                        mode=m, index=index), index)
        for mode, query in (("dense", ""), ("hybrid", questions[0][1].text))
    }  # fmt: skip
    truth, exact_seconds = exact_neighbours(vectors, index)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_relation_size(%s::regclass))", [index.index_name()]
        )
        hnsw_size = cursor.fetchone()[0]
    top = [chunk_search(embedding=v, limit=10, index=index) for v in vectors]
    result = {
        "chunks": n,
        "real": loaded["real"],
        "demo": loaded["demo"],
        "built": built,
        "uses index": uses,
        "hnsw size": hnsw_size,
        "top similarity": {
            "1st": statistics.median(1 - c[0].distance for c in top),
            "10th": statistics.median(1 - c[-1].distance for c in top),
        },
        "exact": ms_stats(exact_seconds),
        "sweep": ef_sweep(vectors, truth, index),
        **latencies(questions, index),
    }
    connection.close()
    return result


# --- The report -----------------------------------------------------------------------


LATENCY_ROWS = {
    "query embedding (embed)": "embed",
    f"SQL dense (search, top {settings.RETRIEVAL_TOP_K})": "dense",
    f"SQL hybrid (search, top {settings.RETRIEVAL_TOP_K})": "hybrid",
    "  its word weights (df counts) alone": "sparse",
    "chat's path, dense: embedding + SQL": "chat dense",
    "chat's path, hybrid: embedding + SQL": "chat hybrid",
    "retrieve(): lookup+embed+SQL, dense": "retrieve dense",
    "retrieve(): lookup+embed+SQL, hybrid": "retrieve hybrid",
}


def report(results: list[dict], questions: int) -> None:
    report_setup(results, questions)
    report_latency(results)
    report_sweep(results)


def report_setup(results: list[dict], questions: int) -> None:
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    print(f"\nCommand: {prefix}{shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        pgvector = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    options = settings.DATABASES["default"]["OPTIONS"]["options"]
    print(f"embedding model   {embeddings.model_name()}, {settings.EMBEDDING_THREADS} thread")
    print(f"postgres          pgvector {pgvector}, shared_buffers {shared_buffers}; "
          f"connection options {options}")  # fmt: skip
    print(f"hnsw index        {EmbeddingIndex.objects.get().index_name()} "
          f"(knowledge.indexes.hnsw_create: m={HNSW_M}, "
          f"ef_construction={HNSW_EF_CONSTRUCTION})")  # fmt: skip
    print(f"cpus              {os.cpu_count()}; load avg (1 min) {LOAD_AT_START:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")  # fmt: skip
    print(f"questions         {questions} from dev.jsonl (follow-ups searched as the product "
          f"rewrites them); {args.rounds} timed rounds after an untimed one")  # fmt: skip
    for r in results:
        how = "reused from the cache" if r["built"] is None else (
            f"loaded in {r['built']['load s']:.0f} s, HNSW built in {r['built']['index s']:.0f} s"
        )  # fmt: skip
        print(f"data {r['chunks']:>8,}     {r['real']:,} real embeddings ({r['demo']} demo KB "
              f"chunks, the rest recombinations of their sentences) + {r['chunks'] - r['real']:,} "
              f"synthetic; HNSW index {r['hnsw size']}; {how}")  # fmt: skip
    print(f"                  synthetic = normalised mix of two real vectors (weights a, 1 - a, "
          f"a ~ U(0.5, 0.9)) plus noise of norm {NOISE}; its text mixes the two texts")  # fmt: skip


def report_latency(results: list[dict]) -> None:
    print(f"\nRetrieval latency, ms (product settings: hnsw.ef_search {_product_ef()}, "
          f"top {settings.RETRIEVAL_TOP_K}, RETRIEVAL_MODE {settings.RETRIEVAL_MODE})")  # fmt: skip
    print(f"{'':38}" + "".join(f"{r['chunks']:>23,} chunks" for r in results))
    print(f"{'':38}" + "".join(f"{'p50':>10}{'p95':>10}{'min':>10}" for _ in results))
    for label, key in LATENCY_ROWS.items():
        cells = "".join(_p50_p95_min(r["latency"][key]) for r in results)
        print(f"{label:38}{cells}")
    print(f"{'exact dense (seq scan, top 10)':38}" + "".join(_p50_p95_min(r["exact"])
                                                           for r in results))  # fmt: skip
    print()
    cells = "".join(f"{r['matched']:>20.0%}{r['us per match']:>8.1f}us" for r in results)
    print(f"{'full text: chunks matched, time each':38}{cells}   (medians over questions)")
    cells = "".join(f"{r['queries']['dense']:>20}{r['queries']['hybrid']:>10}" for r in results)
    print(f"{'SQL queries per retrieve(): dense, hybrid':38}{cells}")
    cells = "".join(
        f"{r['top similarity']['1st']:>20.3f}{r['top similarity']['10th']:>10.3f}" for r in results
    )
    print(f"{'median similarity: 1st, 10th nearest':38}{cells}")
    cells = "".join(
        f"{_yes(r['uses index']['dense']):>20}{_yes(r['uses index']['hybrid']):>10}"
        for r in results
    )
    print(f"{'HNSW index in the plan: dense, hybrid':38}{cells}")


def report_sweep(results: list[dict]) -> None:
    print("\nhnsw.ef_search sweep: recall@10 against exact search; SQL of search top 10, ms")
    print(f"{'':10}" + "".join(f"{r['chunks']:>29,} chunks" for r in results))
    print(f"{'ef_search':10}" + "".join(f"{'recall@10':>12}{'p50':>9}{'p95':>9}{'plan':>6}"
                                        for _ in results))  # fmt: skip
    for ef in args.ef:
        mark = " *" if ef == _product_ef() else ""
        cells = "".join(
            f"{r['sweep'][ef]['recall']:>12.3f}{r['sweep'][ef]['p50']:>9.2f}"
            f"{r['sweep'][ef]['p95']:>9.2f}{'hnsw' if r['sweep'][ef]['hnsw'] else 'seq':>6}"
            for r in results
        )
        print(f"{str(ef) + mark:10}{cells}")
    print("* the product's setting (HNSW_EF_SEARCH). plan: what Postgres chose at that ef_search")


def _p50_p95_min(stats: dict) -> str:
    return f"{stats['p50']:>10.2f}{stats['p95']:>10.2f}{stats['min']:>10.2f}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _product_ef() -> int:
    options = settings.DATABASES["default"]["OPTIONS"]["options"]
    return int(re.search(r"hnsw\.ef_search=(\d+)", options).group(1))


def main() -> None:
    try:
        lines = (ROOT / "knowledge" / "eval" / "dev.jsonl").read_text().splitlines()
        items = [json.loads(line) for line in lines if line.strip()]
        questions = []
        for item in items:
            query = query_for(question=item["question"], previous=previous_question(item))
            questions.append((item["question"], query, history_of(item)))
        embeddings.embed_query("warm up")
        cache = {}

        def base_set():  # embedded once, and only if some size is not cached
            if "set" not in cache:
                log(f"Embedding {args.real} real chunks (demo KB + recombinations)")
                cache["set"] = BaseSet(max(args.real, 1))
            return cache["set"]

        results = [measure(n, questions, base_set) for n in args.sizes]
        report(results, len(questions))
    finally:
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
