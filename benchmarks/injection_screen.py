"""How well chat/screening.py catches prompt injection, and how often it refuses a real question.

    .venv/bin/python benchmarks/injection_screen.py [--json]
    .venv/bin/python benchmarks/injection_screen.py --held-out [--show-missed]

Runs `screen()` over chat/eval/injection.jsonl (attacks, each labelled with its family) and
chat/eval/benign.jsonl (ordinary support questions). No Django, no database, no model: the
screen is pure Python, so this takes well under a second.

Those two files are what the rules were tuned on, so their figures flatter. `--held-out`
measures on text the rules never saw: the attack phrases shipped inside the `promptwl`
package (MIT; `pip install -r benchmarks/requirements.txt`, never in the app), read with
importlib.resources from its `manifest.json` and the `wordlists/**/*.txt` files it names,
and as benign text the questions of knowledge/eval/libreoffice.jsonl. promptwl's `tokens`
category (glitch tokens, separators, confusable letters: fuzzing atoms, not messages) is
left out. Its invisible-characters list names code points ("U+200B ZERO WIDTH SPACE"): each
is put inside an ordinary question, which is how it would reach us. `--show-missed` lists
the held-out misses: not while tuning the rules, or they stop being held out.
"""

import argparse
import importlib.metadata
import importlib.resources
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat.screening import FAMILIES, screen  # noqa: E402

EVAL = ROOT / "chat" / "eval"
LIBREOFFICE = ROOT / "knowledge" / "eval" / "libreoffice.jsonl"

HELD_OUT_PACKAGE = "promptwl"
# promptwl's files (under wordlists/) to our families; what has no family of ours is "other".
HELD_OUT_FAMILIES = {
    "injection/instruction-override": "override",
    "injection/delimiter-confusion": "delimiter",
    "jailbreak/persona-override": "roleplay",
    "jailbreak/hypothetical-framing": "roleplay",
    "extraction/system-prompt-leak": "system_prompt",
    "evasion/encoding-obfuscation": "encoded",
    "evasion/invisible-characters": "invisible",
}
HELD_OUT_SKIPPED = {"tokens"}  # categories of fuzzing atoms, not messages
# Where a listed code point goes: inside an ordinary question, as it would reach us.
INVISIBLE_CARRIER = "Where do I find the export{char} button?"


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


def held_out_attacks() -> list[dict]:
    """promptwl's phrases, each with our family and the package's own category and file."""
    package = importlib.resources.files(HELD_OUT_PACKAGE)
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    attacks = []
    for category in manifest["categories"]:
        if category["id"] in HELD_OUT_SKIPPED:
            continue
        for entry in category["files"]:
            name = entry["path"].removeprefix("wordlists/").removesuffix(".txt")
            family = HELD_OUT_FAMILIES.get(name, "other")
            for line in (package / entry["path"]).read_text(encoding="utf-8").splitlines():
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                if family == "invisible":
                    codepoint = re.match(r"U\+([0-9A-F]{4,6})\b", text)
                    text = INVISIBLE_CARRIER.format(char=chr(int(codepoint.group(1), 16)))
                attacks.append(
                    {"family": family, "category": category["id"], "file": name, "text": text}
                )
    return attacks


def run_held_out() -> dict:
    if not LIBREOFFICE.exists():
        sys.exit(f"{LIBREOFFICE.relative_to(ROOT)} is missing: the benign side needs it")
    attacks = held_out_attacks()
    with open(LIBREOFFICE, encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()]
    started = time.perf_counter()
    results = {
        "package": f"{HELD_OUT_PACKAGE} {importlib.metadata.version(HELD_OUT_PACKAGE)}",
        "attacks": [{**a, "screened": screen(a["text"])} for a in attacks],
        "libreoffice": [{"text": q, "screened": screen(q)} for q in questions],
        "benign": [{**b, "screened": screen(b["text"])} for b in load("benign.jsonl")],
    }
    screened = len(attacks) + len(questions) + len(results["benign"])
    results["ms_per_message"] = (time.perf_counter() - started) * 1000 / screened
    return results


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def report_held_out(results: dict, *, show_missed: bool) -> None:
    print(f"Held-out attacks: {results['package']} (tokens category left out)\n")
    tried, caught, as_family = Counter(), Counter(), Counter()
    by_file_tried, by_file_caught = Counter(), Counter()
    for attack in results["attacks"]:
        tried[attack["family"]] += 1
        caught[attack["family"]] += attack["screened"] is not None
        as_family[attack["family"]] += attack["screened"] == attack["family"]
        by_file_tried[attack["file"]] += 1
        by_file_caught[attack["file"]] += attack["screened"] is not None
    print(f"{'family':<15}{'tried':>7}{'caught':>8}{'share':>7}{'as family':>11}")
    for family in (*FAMILIES, "other"):
        print(f"{family:<15}{tried[family]:>7}{caught[family]:>8}"
              f"{_share(caught[family], tried[family]):>7}{as_family[family]:>11}")  # fmt: skip
    total, total_caught = sum(tried.values()), sum(caught.values())
    print(f"{'all attacks':<15}{total:>7}{total_caught:>8}{_share(total_caught, total):>7}"
          f"{sum(as_family.values()):>11}")  # fmt: skip
    print(f"\n{'promptwl file':<40}{'family':<15}{'tried':>6}{'caught':>8}{'share':>7}")
    for name in by_file_tried:
        family = HELD_OUT_FAMILIES.get(name, "other")
        print(f"{name:<40}{family:<15}{by_file_tried[name]:>6}{by_file_caught[name]:>8}"
              f"{_share(by_file_caught[name], by_file_tried[name]):>7}")  # fmt: skip
    print(f"\n{'benign':<36}{'tried':>7}{'wrongly refused':>17}{'share':>7}")
    for label, key in (("knowledge/eval/libreoffice.jsonl", "libreoffice"),
                       ("chat/eval/benign.jsonl", "benign")):  # fmt: skip
        refused = sum(b["screened"] is not None for b in results[key])
        print(f"{label:<36}{len(results[key]):>7}{refused:>17}"
              f"{_share(refused, len(results[key])):>7}")  # fmt: skip
    print(f"\n{results['ms_per_message']:.2f} ms per message")
    if not show_missed:
        return
    missed = [a for a in results["attacks"] if a["screened"] is None]
    print(f"\nMissed held-out attacks ({len(missed)}):")
    for attack in missed:
        print(f"  [{attack['family']} / {attack['file']}] {attack['text']!r}")
    refused = [b for key in ("libreoffice", "benign") for b in results[key] if b["screened"]]
    print(f"\nWrongly refused benign questions ({len(refused)}):")
    for question in refused:
        print(f"  [{question['screened']}] {question['text']!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="also print every result as JSON")
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="measure on promptwl's phrases and the LibreOffice questions instead",
    )
    parser.add_argument(
        "--show-missed", action="store_true", help="with --held-out, list what it missed"
    )
    args = parser.parse_args()
    if args.held_out:
        results = run_held_out()
        report_held_out(results, show_missed=args.show_missed)
    else:
        results = run()
        report(results)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
