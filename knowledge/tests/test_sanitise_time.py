"""knowledge/sanitise.py's time: linear in the article's length, whatever the article.

The pathological bodies are those benchmarks/worst_case.py found before this was fixed
(0.5-20 s for 64 KB, in the editor's request). Each is timed against an ordinary article of
the same length at the same moment, so a loaded machine slows both sides alike; the
absolute bound is a generous backstop.
"""

import time

import pytest

from knowledge.sanitise import HIDDEN_HTML, is_hidden, sanitise

ARTICLE_CHARS = 64 * 1024
ORDINARY = (
    "## Exporting invoices\n\nOpen **Billing**, choose a month and press <kbd>Export</kbd>. "
    "The file is a CSV that [any spreadsheet](https://example.com/csv) opens.\n\n"
)

# (motif, what it took before for 64 KB)
PATHOLOGICAL = [
    ("<span hidden>x\n\n", "3.5 s: each unclosed element searched to the end for its close"),
    ("<a hidden>x\n\n", "13 s"),
    ('<a class="d-none">x\n\n', "4.4 s"),
    ("<style", "1.2 s: each '<style' searched to the end for a '>'"),
    ("<script ", "0.8 s"),
    ("<div hidden>", "nested openings, none closed"),
    ("<span hidden>x</span>", "closed ones, many"),
]


def best_ms(text: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        sanitise(text)
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def article(motif: str, length: int = ARTICLE_CHARS) -> str:
    return motif * (length // len(motif))


@pytest.mark.parametrize("motif", [pytest.param(m, id=repr(m)) for m, _ in PATHOLOGICAL])
def test_it_sanitises_a_pathological_article_about_as_fast_as_an_ordinary_one(motif):
    ordinary = best_ms(article(ORDINARY))
    hostile = best_ms(article(motif))

    assert hostile < 10 * ordinary + 20, (hostile, ordinary)
    assert hostile < 1000, hostile


def test_a_long_run_of_zeros_in_a_style_is_judged_at_once():
    # `0*\.?0+` tried every split of the run: 5,000 zeros took ~1.3 s, 20,000 took 20 s.
    style = "font-size:" + "0" * 5000 + "x"
    started = time.perf_counter()

    assert not is_hidden({"style": style})
    assert not is_hidden({"style": "opacity:" + "0" * 5000 + "x"})
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize(
    "style, hidden",
    [("font-size:0", True), ("font-size: 000px;", True), ("font-size:.0em", True),
     ("font-size:0.00 !important", True), ("opacity:0.0", True), ("opacity: 00%;", True),
     ("font-size:0.5em", False), ("font-size:00.", False), ("opacity:0.0.0", False),
     ("opacity:05", False)],
)  # fmt: skip
def test_a_zero_size_or_opacity_still_hides_and_nothing_else_does(style, hidden):
    assert is_hidden({"style": style}) is hidden


def test_each_unclosed_hidden_element_goes_to_the_end_of_its_own_paragraph():
    body = "<span hidden>secret one\n\nKept one.\n\n<span hidden>secret two\n\nKept two."

    result = sanitise(body)

    assert result.text == "Kept one.\n\nKept two."
    assert [f.kind for f in result.findings] == [HIDDEN_HTML, HIDDEN_HTML]


def test_a_hidden_element_closed_far_ahead_is_removed_whole_with_what_it_holds():
    body = "A <div hidden>" + "<div>x</div>\n\n" * 500 + "</div> B <div hidden/> C"

    assert sanitise(body).text == "A  B  C"


def test_a_script_left_open_hides_the_rest_even_with_no_closing_bracket_after_it():
    body = "Visible. <script>alert(1)</script> Still visible. <style>p {} <style"

    assert sanitise(body).text == "Visible.  Still visible."
