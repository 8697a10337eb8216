"""How well chat/screening.py catches prompt injection, and how often it refuses a real question.

    .venv/bin/python benchmarks/injection_screen.py [--json]

Runs `screen()` over chat/eval/injection.jsonl (attacks, each labelled with its family) and
chat/eval/benign.jsonl (ordinary support questions). No Django, no database, no model: the
screen is pure Python, so this takes well under a second.
"""

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat.screening import FAMILIES, screen  # noqa: E402

EVAL = ROOT / "chat" / "eval"


def load(name: str) -> list[dict]:
    with open(EVAL / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run() -> dict:
    attacks, benign = load("injection.jsonl"), load("benign.jsonl")
    started = time.perf_counter()
    results = {
        "attacks": [{**a, "screened": screen(a["text"])} for a in attacks],
        "benign": [{**b, "screened": screen(b["text"])} for b in benign],
    }
    screened = len(attacks) + len(benign)
    results["ms_per_message"] = (time.perf_counter() - started) * 1000 / screened
    return results


def report(results: dict) -> None:
    tried, caught, as_family = Counter(), Counter(), Counter()
    for attack in results["attacks"]:
        tried[attack["family"]] += 1
        caught[attack["family"]] += attack["screened"] is not None
        as_family[attack["family"]] += attack["screened"] == attack["family"]
    print(f"{'family':<15}{'tried':>7}{'caught':>8}{'as family':>11}")
    for family in FAMILIES:
        print(f"{family:<15}{tried[family]:>7}{caught[family]:>8}{as_family[family]:>11}")
    print(f"{'all attacks':<15}{sum(tried.values()):>7}{sum(caught.values()):>8}"
          f"{sum(as_family.values()):>11}")  # fmt: skip
    refused = [b for b in results["benign"] if b["screened"]]
    print(f"\n{'benign':<15}{'tried':>7}{'wrongly refused':>17}")
    print(f"{'questions':<15}{len(results['benign']):>7}{len(refused):>17}")
    print(f"\n{results['ms_per_message']:.2f} ms per message")
    missed = [a for a in results["attacks"] if a["screened"] is None]
    print(f"\nMissed attacks ({len(missed)}):")
    for attack in missed:
        print(f"  [{attack['family']}] {attack['text']!r}")
    print(f"\nWrongly refused benign questions ({len(refused)}):")
    for question in refused:
        print(f"  [{question['screened']}] {question['text']!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="also print every result as JSON")
    args = parser.parse_args()
    results = run()
    report(results)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
