"""chunk_markdown and split_sections: structure-following chunks with heading paths and anchors."""

import pytest

from knowledge.chunking import (
    SENTENCE_END,
    chunk_markdown,
    heading_anchor,
    split_sections,
    word_count,
)

BILLING = """\
# Billing guide

How billing works in general.

## Billing

Invoices are sent monthly.

### Refunds

Annual plans can be refunded within 14 days.

### Failed payments

We retry a failed card three times.

## Security

Cards are stored by the payment provider.
"""


def test_nested_headings_give_a_heading_path():
    headings = [s.heading for s in split_sections(BILLING)]

    assert headings == [
        "",
        "Billing",
        "Billing › Refunds",
        "Billing › Failed payments",
        "Security",
    ]


def test_the_h1_is_not_repeated_in_the_heading_path():
    chunks = chunk_markdown(BILLING)

    assert chunks
    assert not any("Billing guide" in c.heading for c in chunks)
    # The text under the H1 belongs to the article as a whole: no heading, no anchor.
    assert (chunks[0].heading, chunks[0].anchor) == ("", "")
    assert chunks[0].text == "How billing works in general."


def test_a_shallower_heading_closes_the_deeper_ones():
    markdown = "## A\n\na\n\n### B\n\nb\n\n#### C\n\nc\n\n### D\n\nd\n\n## E\n\ne\n"

    assert [s.heading for s in split_sections(markdown)] == [
        "A",
        "A › B",
        "A › B › C",
        "A › D",
        "E",
    ]


def test_anchors_are_the_heading_anchor_of_the_innermost_heading():
    chunks = chunk_markdown(BILLING)

    by_heading = {c.heading: c.anchor for c in chunks}
    assert by_heading["Billing"] == heading_anchor("Billing") == "billing"
    assert by_heading["Billing › Refunds"] == heading_anchor("Refunds") == "refunds"
    assert by_heading["Billing › Failed payments"] == heading_anchor("Failed payments")
    assert by_heading["Billing › Failed payments"] == "failed-payments"


def test_heading_anchor_matches_what_the_page_links_to():
    assert heading_anchor("Didn't get the email?") == "didnt-get-the-email"
    assert heading_anchor('"Too many attempts" – temporary lockout') == (
        "too-many-attempts-temporary-lockout"
    )


def test_closing_hashes_are_not_part_of_the_heading():
    sections = split_sections("## Refund policy ##\n\nText.\n")

    assert sections[0].heading == "Refund policy"
    assert sections[0].anchor == "refund-policy"


def test_a_hash_at_the_end_of_a_heading_word_is_kept():
    sections = split_sections("## Using C#\n\nSharp.\n")

    assert sections[0].heading == "Using C#"


def test_headings_without_text_below_them_give_no_section():
    sections = split_sections("# Title\n\n## Empty\n\n## Full\n\nSomething.\n")

    assert [s.heading for s in sections] == ["Full"]


def test_headings_inside_code_fences_are_ignored():
    markdown = (
        "## Install\n\n"
        "Run this:\n\n"
        "```bash\n"
        "# install the CLI\n"
        "pip install tasklane\n"
        "\n"
        "## not a heading either\n"
        "```\n\n"
        "~~~\n"
        "### nor this\n"
        "~~~\n\n"
        "Done.\n"
    )

    chunks = chunk_markdown(markdown)

    assert {c.heading for c in chunks} == {"Install"}
    text = "\n\n".join(c.text for c in chunks)
    assert "# install the CLI" in text
    assert "## not a heading either" in text
    assert "### nor this" in text


def test_a_code_fence_with_blank_lines_stays_one_paragraph():
    markdown = "## Example\n\n```\nline one\n\nline two\n```\n"

    sections = split_sections(markdown)

    assert sections[0].paragraphs == ["```\nline one\n\nline two\n```"]


@pytest.mark.parametrize("markdown", ["", "   \n\n  \n", "# Only a title\n", "## A\n\n### B\n"])
def test_a_document_without_text_gives_no_chunks(markdown):
    assert chunk_markdown(markdown) == []
    assert split_sections(markdown) == []


def _long_section(n_paragraphs: int) -> str:
    paragraphs = []
    for p in range(n_paragraphs):
        sentences = [
            f"Paragraph {p} sentence {s} explains a small detail of the refund process."
            for s in range(4)
        ]
        paragraphs.append(" ".join(sentences))
    return "## Refunds\n\n" + "\n\n".join(paragraphs) + "\n"


@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(40, 12), (60, 20), (25, 5)])
def test_no_chunk_exceeds_the_budget_by_more_than_the_overlap(max_tokens, overlap_tokens):
    run_on = " ".join(f"word{n}" for n in range(170))  # no sentence ends at all
    markdown = _long_section(12) + "\n## Run-on\n\n" + run_on + "\n"

    chunks = chunk_markdown(markdown, max_tokens=max_tokens, overlap_tokens=overlap_tokens)

    assert len(chunks) > 5
    for chunk in chunks:
        assert word_count(chunk.text) <= max_tokens + overlap_tokens, chunk.text
    # Nothing is lost on the way: every word of the run-on text is in some chunk.
    run_on_words = set(" ".join(c.text for c in chunks if c.heading == "Run-on").split())
    assert run_on_words == set(run_on.split())


def test_a_short_section_is_one_chunk():
    chunks = chunk_markdown("## Small\n\nOne paragraph.\n\nAnother paragraph.\n", max_tokens=50)

    assert len(chunks) == 1
    assert chunks[0].text == "One paragraph.\n\nAnother paragraph."


def test_the_overlap_carries_the_last_sentence_into_the_next_chunk():
    markdown = (
        "## Refunds\n\n"
        "Annual plans get a full refund. Ask support within fourteen days.\n\n"
        "Monthly plans are never refunded. Cancelling stops the next charge.\n"
    )

    chunks = chunk_markdown(markdown, max_tokens=12, overlap_tokens=6)

    assert [c.text for c in chunks] == [
        "Annual plans get a full refund. Ask support within fourteen days.",
        "Ask support within fourteen days.\n\n"
        "Monthly plans are never refunded. Cancelling stops the next charge.",
    ]


def test_every_continuation_chunk_starts_with_the_previous_chunks_last_sentence():
    chunks = chunk_markdown(_long_section(8), max_tokens=40, overlap_tokens=15)

    assert len(chunks) > 3
    for previous, current in zip(chunks, chunks[1:], strict=False):
        last_sentence = SENTENCE_END.split(previous.text)[-1]
        assert current.text.startswith(last_sentence)


def test_a_last_sentence_longer_than_the_overlap_is_not_carried():
    long_sentence = " ".join(["word"] * 10) + "."
    markdown = f"## S\n\nShort one. {long_sentence}\n\nNext paragraph here.\n"

    chunks = chunk_markdown(markdown, max_tokens=13, overlap_tokens=5)

    assert [c.text for c in chunks] == [f"Short one. {long_sentence}", "Next paragraph here."]


def test_the_overlap_never_crosses_into_another_section():
    markdown = (
        "## First\n\nAlpha sentence one. Alpha sentence two.\n\n"
        "## Second\n\nBeta sentence one. Beta sentence two.\n"
    )

    chunks = chunk_markdown(markdown, max_tokens=6, overlap_tokens=4)

    second = [c for c in chunks if c.heading == "Second"]
    assert second
    assert all("Alpha" not in c.text for c in second)


def test_it_measures_with_the_count_function_it_is_given():
    markdown = "## S\n\n" + "\n\n".join(["abcdefghij"] * 6) + "\n"

    chunks = chunk_markdown(markdown, max_tokens=25, overlap_tokens=0, count=len)

    assert [c.text.count("abcdefghij") for c in chunks] == [2, 2, 2]
