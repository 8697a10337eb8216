"""The slowest inputs found for the injection screen and the KB sanitiser, and their times.

    .venv/bin/python benchmarks/worst_case.py [--budget 20] [--seed 1] [--save FILE]
    .venv/bin/python benchmarks/worst_case.py --tree DIR [--save FILE]   # another tree's code
    .venv/bin/python benchmarks/worst_case.py --replay FILE              # also time FILE's finds

`screen()` runs on every customer message and `sanitise()` on every uploaded article, so
one input that makes a regex backtrack, or a scan start over, freezes a process. This
searches for such inputs, each a motif repeated up to the size limit (2,000 characters
for a message, 64 KB for an article), family by family:

- screen: every character whose folded form is longer than itself (NFKC, casefold:
  "⩶" reads "==="), every character the rules spell, the words and fragments of the
  rules (alone, after a space, in pairs), and a random search over short motifs of all of
  these, mutating the slowest found;
- sanitiser: hidden elements (closed, unclosed, nested, per kind of hiding), tags left
  open ("<script ", "<!--", "<a "), long runs inside a hiding style's value, the words of
  the addressing rules as one long sentence, and the same random search over HTML pieces.

Each candidate is timed on a short version first (an eighth of the limit), and the
slowest of each family again at the full limit (the best of three). `--tree DIR` imports
`chat/` and `knowledge/` from DIR instead, e.g. the code before a fix:

    mkdir -p /tmp/old && git archive HEAD chat knowledge | tar -x -C /tmp/old

No Django, no database: both modules are pure Python.
"""

import argparse
import importlib
import json
import multiprocessing
import random
import re
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGE_CHARS = 2000  # CHAT_MAX_MESSAGE_CHARS' default: the consumer refuses longer ones
ARTICLE_CHARS = 64 * 1024
SHORT = 8  # the first pass times candidates at 1/SHORT of the limit
KEEP = 6  # candidates per family timed again at the full limit


@dataclass(frozen=True)
class Candidate:
    family: str
    motif: str
    prefix: str = ""
    suffix: str = ""

    def text(self, limit: int) -> str:
        room = max(limit - len(self.prefix) - len(self.suffix), len(self.motif))
        return self.prefix + self.motif * (room // len(self.motif)) + self.suffix

    def describe(self, limit: int) -> str:
        count = len(self.text(limit)) - len(self.prefix) - len(self.suffix)
        shown = f"{self.motif!r} × {count // len(self.motif)}"
        parts = (
            [repr(self.prefix)] * bool(self.prefix)
            + [shown]
            + [repr(self.suffix)] * bool(self.suffix)
        )
        return " + ".join(parts)


def load_code(tree: Path | None):
    if tree is not None:
        sys.path.insert(0, str(tree.resolve()))
    else:
        sys.path.insert(0, str(ROOT))
    screening = importlib.import_module("chat.screening")
    rules = importlib.import_module("chat.screening_rules")
    sanitise = importlib.import_module("knowledge.sanitise")
    return screening, rules, sanitise


def elapsed_ms(func, text: str) -> float:
    started = time.perf_counter()
    func(text)
    return (time.perf_counter() - started) * 1000


def best_of_three_ms(func, text: str, *, cap: float) -> float:
    """The best of three runs (one if it takes over a second), in a child process that is
    stopped after `cap` seconds (then: inf), since old code can take minutes on one input."""
    reader, writer = multiprocessing.Pipe(duplex=False)

    def child() -> None:
        times = [elapsed_ms(func, text)]
        while len(times) < 3 and sum(times) < 1000:
            times.append(elapsed_ms(func, text))
        writer.send(min(times))

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    got = reader.poll(cap)
    result = reader.recv() if got else float("inf")
    process.kill()
    process.join()
    return result


# --- candidates for the screen -----------------------------------------------------------------


def rule_sources(rules) -> list[str]:
    """Every pattern in the rule modules, as written."""
    sources = []
    modules = [module for name, module in sys.modules.items() if name.startswith("chat.screen")]
    for module in {rules, *modules}:
        for value in vars(module).values():
            items = value if isinstance(value, list) else [value]
            sources += [p.pattern if isinstance(p, re.Pattern) else p for p in items]
    return [s for s in sources if isinstance(s, str)]


def fragments(sources: list[str]) -> list[str]:
    """The words the rules spell, and the runs of punctuation they match."""
    words = set()
    for source in sources:
        words.update(re.findall(r"[^\W\d_]{2,}", re.sub(r"\\[a-zA-Z]", " ", source)))
        words.update(re.findall(r"[^\w\s\\()|?*+{}\[\]^$]{1,3}", source))
    return sorted(words)


def expanding_chars(normalise) -> list[str]:
    """One character per distinct folded form longer than the character itself."""
    seen, chars = set(), []
    for code in range(0x110000):
        char = chr(code)
        if 0xD800 <= code < 0xE000 or unicodedata.category(char) == "Cn":
            continue
        folded = unicodedata.normalize("NFKC", char).casefold()
        if len(folded) > 1 and folded not in seen:
            seen.add(folded)
            if len(normalise(char)) > 1:
                chars.append(char)
    return chars


def screen_candidates(screening, rules) -> list[Candidate]:
    sources = rule_sources(rules)
    words = fragments(sources)
    rule_chars = sorted({c for s in sources for c in s} | {chr(c) for c in range(32, 127)})
    found = [Candidate("expanding char", c) for c in expanding_chars(screening.normalise)]
    found += [Candidate("rule char", c) for c in rule_chars + ["\n", "\t"]]
    found += [Candidate("rule char", c + c2) for c in "<[=#*-_.|" for c2 in " \n:x"]
    for word in words:
        found += [Candidate("rule word", m) for m in (word, word + " ", word + "\n", word + ".")]
    for _ in range(3000):
        found.append(Candidate("rule word pair", f"{random.choice(words)} {random.choice(words)} "))
    return found


# --- candidates for the sanitiser --------------------------------------------------------------

HIDING = ["hidden", 'aria-hidden="true"', 'style="display:none"', 'class="d-none"',
          'style="font-size:0"', 'style="opacity:0"']  # fmt: skip
TAGS = ["span", "div", "p", "a", "script", "style", "template", "br"]


def sanitise_candidates(sanitise) -> list[Candidate]:
    found = []
    for tag in TAGS:
        for hiding in HIDING:
            opening = f"<{tag} {hiding}>"
            for tail in ("x\n\n", "x ", "x", f"x</{tag}>", "\n\n", f"<{tag}>", f"</{tag}>x\n\n"):
                found.append(Candidate("hidden element", opening + tail))
            found.append(Candidate("nested hidden", opening, suffix=f"</{tag}>" * 200))
        for opened in (f"<{tag} ", f"<{tag}", f"<{tag} a=", f"<{tag} a='", f"</{tag} "):
            found.append(Candidate("tag left open", opened))
    found += [Candidate("tag left open", m) for m in ("<", "<!--", "<!-", "-->", "<a b", "<\n")]
    for prop in ("font-size", "opacity", "display", "visibility"):
        for run in ("0", ".", " ", "0.", "0 ", "a", ":"):
            for end in ('">x</span>', 'x">x</span>'):
                found.append(Candidate("hiding style", run, f'<span style="{prop}:', end))
    for word in fragments(sanitise.ADDRESSING_RULES):
        found += [Candidate("addressing words", m) for m in (word + " ", word + "\n", word)]
    return found


# --- the search -------------------------------------------------------------------------------


def mutate(motif: str, pool: list[str]) -> str:
    """The motif with a piece of the pool added at its start, inside it or at its end."""
    cut = random.choice([0, len(motif), random.randrange(len(motif) + 1)])
    return (motif[:cut] + random.choice(pool) + motif[cut:])[:40]


def random_search(func, seeds, pool, *, limit: int, budget: float, family: str) -> list:
    """Short motifs built from `pool`, mutating the slowest: (ms at 1/SHORT, Candidate)."""
    timed = [(elapsed_ms(func, c.text(limit // SHORT)), c) for c in seeds]
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        timed.sort(key=lambda pair: -pair[0])
        parent = random.choice(timed[:10])[1].motif if random.random() < 0.7 else ""
        motif = mutate(parent, pool) if parent else "".join(random.choices(pool, k=3))
        candidate = Candidate(family, motif)
        timed.append((elapsed_ms(func, candidate.text(limit // SHORT)), candidate))
    return timed


def search(func, candidates, pool, *, limit: int, budget: float, cap: float) -> list[dict]:
    """The slowest candidates of each family at the full limit, slowest first."""
    first = [(elapsed_ms(func, c.text(limit // SHORT)), c) for c in candidates]
    seeds = [c for _, c in sorted(first, key=lambda p: -p[0])[:20]]
    first += random_search(func, seeds, pool, limit=limit, budget=budget, family="random motif")
    by_family: dict[str, list] = {}
    for _, candidate in sorted(first, key=lambda pair: -pair[0]):
        by_family.setdefault(candidate.family, []).append(candidate)
    finds = []
    for ranked in by_family.values():
        for candidate in ranked[:KEEP]:
            ms = best_of_three_ms(func, candidate.text(limit), cap=cap)
            finds.append({"ms": ms, **asdict(candidate), "shown": candidate.describe(limit)})
    return sorted(finds, key=lambda find: -find["ms"])


def replayed(path: Path | None, key: str) -> list[Candidate]:
    if path is None:
        return []
    finds = json.loads(path.read_text(encoding="utf-8"))[key]
    return [Candidate("replayed", f["motif"], f["prefix"], f["suffix"]) for f in finds]


def report(screen_finds: list[dict], sanitise_finds: list[dict]) -> None:
    print(f"{'family':<18}{'screen ms':>10}  {'slowest input':<40}{'sanitiser ms':>13}  input")
    print(f"{'':<18}{f'({MESSAGE_CHARS:,} chars)':>10}{'':<42}{f'({ARTICLE_CHARS:,} chars)':>13}")
    families = dict.fromkeys([f["family"] for f in screen_finds + sanitise_finds])
    for family in families:
        left = next((f for f in screen_finds if f["family"] == family), None)
        right = next((f for f in sanitise_finds if f["family"] == family), None)
        print(f"{family:<18}{_ms(left):>10}  {_shown(left):<40}{_ms(right):>13}  {_shown(right)}")
    worst_screen, worst_sanitise = screen_finds[0], sanitise_finds[0]
    print(f"\n{'slowest':<18}{_ms(worst_screen):>10}  {_shown(worst_screen):<40}"
          f"{_ms(worst_sanitise):>13}  {_shown(worst_sanitise)}")  # fmt: skip


def report_replayed(path: Path, screening, sanitise, *, cap: float) -> None:
    """The slowest finds saved in `path` (another tree's, say), timed again with this code."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    print(f"\nThe slowest finds in {path}, timed with this code\n")
    print(f"{'':<10}{'there ms':>10}{'here ms':>10}  input")
    targets = (("screen", screening.screen, MESSAGE_CHARS),
               ("sanitise", sanitise.sanitise, ARTICLE_CHARS))  # fmt: skip
    for key, func, limit in targets:
        inputs = {(f["motif"], f["prefix"], f["suffix"]): f for f in reversed(saved[key])}
        for find in sorted(inputs.values(), key=lambda f: -f["ms"])[:5]:
            candidate = Candidate(find["family"], find["motif"], find["prefix"], find["suffix"])
            here = {"ms": best_of_three_ms(func, candidate.text(limit), cap=cap)}
            print(f"{key:<10}{_ms(find):>10}{_ms(here):>10}  {_shown(find, 60)}")


def _ms(find: dict | None) -> str:
    if find is None:
        return "-"
    return "stopped" if find["ms"] == float("inf") else f"{find['ms']:.1f}"


def _shown(find: dict | None, width: int = 38) -> str:
    if find is None:
        return "-"
    return find["shown"] if len(find["shown"]) <= width else find["shown"][: width - 1] + "…"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="import chat/ and knowledge/ from DIR")
    parser.add_argument("--budget", type=float, default=20, help="seconds of random search each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cap", type=float, default=60, help="seconds before one timing is stopped (inf)"
    )
    parser.add_argument("--save", type=Path, help="write the finds as JSON to FILE")
    parser.add_argument("--replay", type=Path, help="also time the finds saved in FILE")
    args = parser.parse_args()
    random.seed(args.seed)
    screening, rules, sanitise = load_code(args.tree)
    candidates = screen_candidates(screening, rules) + replayed(args.replay, "screen")
    pool = sorted({c.motif for c in candidates if len(c.motif) <= 4})
    screen_finds = search(
        screening.screen, candidates, pool, limit=MESSAGE_CHARS, budget=args.budget, cap=args.cap
    )
    candidates = sanitise_candidates(sanitise) + replayed(args.replay, "sanitise")
    pool = sorted({m for c in candidates for m in re.findall(r"<?/?\w*[^\w<]?|.", c.motif)})
    sanitise_finds = search(
        sanitise.sanitise, candidates, pool, limit=ARTICLE_CHARS, budget=args.budget, cap=args.cap
    )
    report(screen_finds, sanitise_finds)
    if args.replay:
        report_replayed(args.replay, screening, sanitise, cap=args.cap)
    if args.save:
        finds = {"screen": screen_finds, "sanitise": sanitise_finds}
        args.save.write_text(json.dumps(finds, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
