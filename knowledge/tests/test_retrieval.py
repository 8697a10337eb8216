"""chunk_search over the demo knowledge base: customers' own words find the right article."""

import pytest

from knowledge.embeddings import embed_query
from knowledge.selectors import chunk_search, serving_index


def search(question: str, limit: int):
    return chunk_search(embedding=embed_query(question), limit=limit, index=serving_index())


def top_slugs(question: str, limit: int = 3) -> list[str]:
    chunks = search(question, limit)
    slugs = []
    for chunk in chunks:
        if chunk.article.slug not in slugs:
            slugs.append(chunk.article.slug)
    return slugs


@pytest.mark.parametrize(
    ("question", "slug"),
    [
        ("I can't remember my login password", "reset-password"),
        ("how do I get a refund for my yearly plan", "cancel-downgrade-and-refunds"),
        ("the iPhone app closes as soon as I open it", "mobile-app-crashes"),
        (
            "my bank card was declined when you tried to charge us",
            "payment-method-and-failed-payments",
        ),
        ("where can I download a PDF of last month's bill", "invoices-and-receipts"),
        (
            "I got a new phone and now I can't get the login codes anymore",
            "two-factor-authentication",
        ),
        ("we are moving all our boards over from Trello", "import-from-other-tools"),
        ("changes I make on my laptop don't show up on my tablet", "sync-troubleshooting"),
        ("I'd like to bring a new team member on board", "invite-teammates"),
    ],
)
def test_a_paraphrased_question_finds_its_article_first(demo_kb, question, slug):
    assert top_slugs(question)[0] == slug


@pytest.mark.parametrize(
    ("question", "slug"),
    [
        ("can someone who isn't in our company see only one project", "roles-and-permissions"),
        ("is there a way to get fewer emails from you", "notification-settings"),
        ("our integration keeps hitting too many requests errors", "api-keys-and-rate-limits"),
        # Ranks second, behind create-account's "Create or join a workspace".
        ("how do I add a coworker to our team in Tasklane", "invite-teammates"),
        # "Close my account" reads as cancelling too: cancel-downgrade-and-refunds ranks first
        # by 0.01 of cosine distance.
        ("I want to close my account for good", "delete-account"),
    ],
)
def test_a_looser_question_finds_its_article_in_the_top_three(demo_kb, question, slug):
    assert slug in top_slugs(question)


@pytest.mark.xfail(
    reason="retrieval quality, not a code bug: all-MiniLM-L6-v2 ranks create-account and "
    "export-data above sync-troubleshooting's 'Offline mode' (\"work without a connection\")",
    raises=AssertionError,
    strict=True,
)
def test_asking_about_working_without_internet_finds_offline_mode(demo_kb):
    assert "sync-troubleshooting" in top_slugs("can I use Tasklane without internet")


def test_results_come_nearest_first_with_their_articles(demo_kb):
    chunks = search("how do I turn on two-factor login", 8)

    assert len(chunks) == 8
    distances = [c.distance for c in chunks]
    assert distances == sorted(distances)
    assert all(0 <= d <= 2 for d in distances)
    assert chunks[0].article.slug == "two-factor-authentication"


def test_the_limit_is_respected(demo_kb):
    assert len(search("refund", 1)) == 1
    assert search("refund", 0) == []


def test_an_empty_knowledge_base_returns_nothing(db):
    from knowledge.indexes import live_indexes_ensure

    assert serving_index() is None
    index = live_indexes_ensure()[0]
    assert chunk_search(embedding=embed_query("anything at all"), limit=3, index=index) == []
