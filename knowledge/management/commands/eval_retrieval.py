"""Measure retrieval on a question set, every mode side by side, in one run."""

import json
import statistics
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils.text import slugify

from core.databases import use_database
from knowledge import embeddings
from knowledge.indexes import embeddings_warm_up
from knowledge.retrieval import MODES, embed, min_similarity, query_for, retrieve

SWEEP = (0.20, 0.25, 0.30, 0.33, 0.35, 0.37, 0.40, 0.45, 0.50)
# The most answerable questions a calibration may refuse (issue 13's bar).
MAX_WRONG_REFUSALS = 0.02


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


def previous_question(item: dict) -> str:
    """The previous user turn's text that a follow-up is searched with ("" if none)."""
    turns = history_of(item)
    return turns[-1]["user"] if turns else ""


def ranked_slugs(chunks) -> list[str]:
    return list(dict.fromkeys(c.article.slug for c in chunks))


def first_hit(slugs: list[str], expected: list[str]) -> int | None:
    return next((i for i, s in enumerate(slugs) if s in expected), None)


def run(items: list[dict], mode: str) -> list[dict]:
    """Each question's outcome: rank of the first right article, refusal, evidence, time."""
    outcomes, threshold = [], min_similarity()
    for item in items:
        start = time.perf_counter()
        query = query_for(question=item["question"], previous=previous_question(item))
        result = retrieve(embedded=embed(query), mode=mode, limit=10)
        outcomes.append(
            {
                "item": item,
                "rank": first_hit(ranked_slugs(result.chunks), item["expected"]),
                "refused": result.refused,
                "evidence": result.best_similarity,
                # Refused as off topic on its own (knowledge/calibration.py), whatever the
                # threshold: kept apart so the sweep below varies the threshold alone.
                "off_topic": result.refused and result.best_similarity >= threshold,
                "ms": (time.perf_counter() - start) * 1000,
            }
        )
    return outcomes


def recall(outcomes: list[dict], k: int) -> float:
    return _share([o["rank"] is not None and o["rank"] < k for o in outcomes])


def summary(outcomes: list[dict], mode: str) -> dict:
    answerable = [o for o in outcomes if o["item"]["expected"]]
    unanswerable = [o for o in outcomes if not o["item"]["expected"]]
    followups = [o for o in answerable if history_of(o["item"])]
    ms = [o["ms"] for o in outcomes]
    result = {
        "mode": mode,
        "recall@1": recall(answerable, 1),
        "recall@3": recall(answerable, 3),
        "mrr": round(statistics.fmean([_rr(o) for o in answerable] or [0]), 3),
        "followup_recall@3": recall(followups, 3),
        "refused_unanswerable": _share([o["refused"] for o in unanswerable]),
        "refused_answerable": _share([o["refused"] for o in answerable]),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(_p95(ms), 1),
        "threshold_sweep": {
            f"{t:.2f}": _refusals(answerable, unanswerable, t) for t in SWEEP
        },  # fmt: skip
        "best_threshold": best_threshold(answerable, unanswerable),
    }
    for kind in sorted({o["item"].get("kind") for o in answerable if o["item"].get("kind")}):
        of_kind = [o for o in answerable if o["item"].get("kind") == kind]
        result[f"{kind}_recall@1"] = recall(of_kind, 1)
    for kind in sorted({o["item"].get("kind") for o in unanswerable if o["item"].get("kind")}):
        of_kind = [o for o in unanswerable if o["item"].get("kind") == kind]
        result[f"{kind}_refused"] = _share([o["refused"] for o in of_kind])
    return result


def _rr(outcome: dict) -> float:
    return 0 if outcome["rank"] is None else 1 / (outcome["rank"] + 1)


def _refusals(answerable: list[dict], unanswerable: list[dict], t: float) -> dict:
    return {
        "refused_unanswerable": _share([_refused_at(o, t) for o in unanswerable]),
        "refused_answerable": _share([_refused_at(o, t) for o in answerable]),
    }


def _refused_at(outcome: dict, threshold: float) -> bool:
    return outcome["off_topic"] or outcome["evidence"] < threshold


def best_threshold(answerable: list[dict], unanswerable: list[dict]) -> dict:
    """What tuning on this very set would give: the threshold that refuses the most
    unanswerable questions while wrongly refusing at most MAX_WRONG_REFUSALS. Reported
    beside the figures as transferred, never used by the product."""
    # The exact scores: a threshold equal to an answerable question's score keeps it.
    candidates = sorted({o["evidence"] for o in answerable + unanswerable})
    best = {"threshold": 0.0, **_refusals(answerable, unanswerable, 0.0)}
    for t in candidates:
        shares = _refusals(answerable, unanswerable, t)
        if shares["refused_answerable"] <= MAX_WRONG_REFUSALS and (
            shares["refused_unanswerable"] > best["refused_unanswerable"]
        ):
            best = {"threshold": round(t, 4), **shares}
    return best


def _share(flags: list[bool]) -> float:
    return round(sum(flags) / max(1, len(flags)), 3)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def evaluate(items: list[dict], mode: str) -> dict:
    return summary(run(items, mode), mode)


def load_corpus(folder: Path) -> None:
    """Switch to a database of the corpus's own and load the folder with the product's own
    ingest (idempotent: unchanged files are not embedded again)."""
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder.")
    use_database(f"{connection.settings_dict['NAME']}_eval_{slugify(folder.name)}"[:63])
    call_command("ingest_kb", str(folder), verbosity=0)


class Command(BaseCommand):
    help = "Retrieval quality per mode (dense, hybrid, with rerank) on a JSONL question set."

    def add_arguments(self, parser):
        parser.add_argument("questions", type=Path)
        parser.add_argument(
            "--corpus",
            type=Path,
            help="Load this folder into a database of its own first, and measure there.",
        )
        parser.add_argument("--json", action="store_true", help="One JSON object per mode.")
        parser.add_argument("--limit", type=int, default=0, help="Only the first N questions.")

    def handle(self, *args, questions: Path, corpus: Path | None, json: bool, limit: int, **o):
        if not questions.exists():
            raise CommandError(f"{questions} does not exist.")
        items = load_questions(questions)[: limit or None]
        if corpus is not None:
            load_corpus(corpus)
        embeddings_warm_up()
        results = []
        for mode in MODES:
            if mode.endswith("rerank") and embeddings.reranker().model() is None:
                results.append({"mode": mode, "unavailable": "RERANK_MODEL unset or not loadable"})
                continue
            results.append(evaluate(items, mode))
        if json:
            for result in results:
                self.stdout.write(_json_dumps(result))
        else:
            self._table(results, len(items))

    def _table(self, results: list[dict], n: int) -> None:
        measured = [r for r in results if "unavailable" not in r]
        kinds = sorted({k for r in measured for k in r if k.endswith("_recall@1")} - {"recall@1"})
        refusals = sorted({k for r in measured for k in r if k.endswith("_refused")})
        keys = ["recall@1", "recall@3", "mrr", "followup_recall@3", *kinds,
                "refused_unanswerable", *refusals, "refused_answerable",
                "p50_ms", "p95_ms"]  # fmt: skip
        self.stdout.write(f"{n} questions; refusal threshold {min_similarity():.3f} (as set)")
        self.stdout.write(f"{'':36}" + "".join(f"{r['mode']:>15}" for r in results))
        for key in keys:
            cells = "".join(f"{r.get(key, '-')!s:>15}" for r in results)
            self.stdout.write(f"{key:36}{cells}")
        for r in results:
            if "unavailable" in r:
                self.stdout.write(f"{r['mode']}: not measured, {r['unavailable']}")
        for r in measured:
            best = r["best_threshold"]
            self.stdout.write(
                f"\n{r['mode']}: tuned on this set, threshold {best['threshold']:.3f} would refuse"
                f" {best['refused_unanswerable']:.3f} of unanswerable and"
                f" {best['refused_answerable']:.3f} of answerable"
            )
            self.stdout.write("threshold sweep: refused unanswerable / answerable")
            for t, v in r["threshold_sweep"].items():
                self.stdout.write(
                    f"  {t}: {v['refused_unanswerable']:.3f} / {v['refused_answerable']:.3f}"
                )


def _json_dumps(value) -> str:
    import json as jsonlib

    return jsonlib.dumps(value)
