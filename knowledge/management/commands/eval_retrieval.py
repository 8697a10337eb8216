"""Measure retrieval on a question set, every mode side by side, in one run."""

import json
import statistics
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from knowledge import embeddings
from knowledge.indexes import embeddings_warm_up
from knowledge.retrieval import MODES, retrieve

SWEEP = (0.25, 0.30, 0.33, 0.35, 0.37, 0.40, 0.45)


def load_questions(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise CommandError(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(item.get("question"), str) or not isinstance(item.get("expected"), list):
            raise CommandError(f'{path}:{n}: needs a "question" string and an "expected" list')
        items.append(item)
    return items


def history_of(item: dict) -> list[dict]:
    """`previous` as chat history turns: each user message paired with the reply after it."""
    turns, previous = [], item.get("previous") or []
    for message, reply in zip(previous, previous[1:], strict=False):
        if message.get("role") == "user" and reply.get("role") == "assistant":
            turns.append({"user": message["content"], "assistant": reply["content"]})
    return turns


def ranked_slugs(chunks) -> list[str]:
    return list(dict.fromkeys(c.article.slug for c in chunks))


def first_hit(slugs: list[str], expected: list[str]) -> int | None:
    return next((i for i, s in enumerate(slugs) if s in expected), None)


def evaluate(items: list[dict], mode: str) -> dict:
    answerable = [i for i in items if i["expected"]]
    followups = [i for i in answerable if history_of(i)]
    unanswerable = [i for i in items if not i["expected"]]
    hits, latencies, similarity = {}, [], {}
    for n, item in enumerate(items):
        start = time.perf_counter()
        result = retrieve(question=item["question"], history=history_of(item), mode=mode, limit=10)
        latencies.append((time.perf_counter() - start) * 1000)
        hits[n] = (first_hit(ranked_slugs(result.chunks), item["expected"]), result.refused)
        similarity[n] = result.best_similarity
    index = {id(item): n for n, item in enumerate(items)}

    def recall(group, k):
        found = [hits[index[id(i)]][0] for i in group]
        return round(sum(h is not None and h < k for h in found) / max(1, len(group)), 3)

    no_rewrite = [
        first_hit(ranked_slugs(retrieve(question=i["question"], history=history_of(i),
                                        mode=mode, limit=10, rewrite=False).chunks), i["expected"])
        for i in followups
    ]  # fmt: skip
    ranks = [hits[index[id(i)]][0] for i in answerable]
    return {
        "mode": mode,
        "recall@1": recall(answerable, 1),
        "recall@3": recall(answerable, 3),
        "mrr": round(statistics.fmean(0 if r is None else 1 / (r + 1) for r in ranks or [None]), 3),
        "followup_recall@3": recall(followups, 3),
        "followup_recall@3_without_rewrite": round(
            sum(r is not None and r < 3 for r in no_rewrite) / max(1, len(followups)), 3
        ),
        "refused_unanswerable": _share(unanswerable, index, hits),
        "refused_answerable": _share(answerable, index, hits),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(_p95(latencies), 1),
        "threshold_sweep": {
            f"{t:.2f}": {
                "refused_unanswerable": round(
                    sum(similarity[index[id(i)]] < t for i in unanswerable)
                    / max(1, len(unanswerable)),
                    3,
                ),
                "refused_answerable": round(
                    sum(similarity[index[id(i)]] < t for i in answerable) / max(1, len(answerable)),
                    3,
                ),
            }
            for t in SWEEP
        },  # fmt: skip
    }


def _share(group, index, hits) -> float:
    return round(sum(hits[index[id(i)]][1] for i in group) / max(1, len(group)), 3)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = "Retrieval quality per mode (dense, hybrid, hybrid+rerank) on a JSONL question set."

    def add_arguments(self, parser):
        parser.add_argument("questions", type=Path)
        parser.add_argument("--json", action="store_true", help="One JSON object per mode.")
        parser.add_argument("--limit", type=int, default=0, help="Only the first N questions.")

    def handle(self, *args, questions: Path, json: bool, limit: int, **options):
        if not questions.exists():
            raise CommandError(f"{questions} does not exist.")
        items = load_questions(questions)[: limit or None]
        embeddings_warm_up()
        results = []
        for mode in MODES:
            if mode.endswith("rerank") and embeddings.reranker() is None:
                results.append({"mode": mode, "unavailable": "RERANK_MODEL unset or not loadable"})
                continue
            results.append(evaluate(items, mode))
        if json:
            for result in results:
                self.stdout.write(_json_dumps(result))
        else:
            self._table(results, len(items))

    def _table(self, results: list[dict], n: int) -> None:
        keys = ["recall@1", "recall@3", "mrr", "followup_recall@3",
                "followup_recall@3_without_rewrite", "refused_unanswerable",
                "refused_answerable", "p50_ms", "p95_ms"]  # fmt: skip
        self.stdout.write(
            f"{n} questions; threshold RETRIEVAL_MIN_SIMILARITY={settings.RETRIEVAL_MIN_SIMILARITY}"
        )
        self.stdout.write(f"{'':36}" + "".join(f"{r['mode']:>15}" for r in results))
        for key in keys:
            cells = "".join(f"{r.get(key, '-')!s:>15}" for r in results)
            self.stdout.write(f"{key:36}{cells}")
        for r in results:
            if "unavailable" in r:
                self.stdout.write(f"{r['mode']}: not measured, {r['unavailable']}")
        for r in results:
            if "threshold_sweep" in r:
                self.stdout.write(
                    f"\nthreshold sweep ({r['mode']}): refused unanswerable / answerable"
                )
                for t, v in r["threshold_sweep"].items():
                    self.stdout.write(
                        f"  {t}: {v['refused_unanswerable']:.3f} / {v['refused_answerable']:.3f}"
                    )


def _json_dumps(value) -> str:
    import json as jsonlib

    return jsonlib.dumps(value)
