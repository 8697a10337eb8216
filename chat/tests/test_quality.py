from chat.quality import content_words, groundedness, used_sources
from knowledge.models import Article, Chunk


def _chunk(pk: int, slug: str, text: str) -> Chunk:
    return Chunk(article=Article(pk=pk, title=slug, slug=slug), text=text)


def test_an_answer_restating_the_article_is_fully_grounded():
    context = ["The Team plan costs $8 per user per month, billed monthly."]
    assert groundedness("The Team plan costs $8 per user per month.", context) == 1.0


def test_invented_numbers_and_names_lower_groundedness():
    context = ["The Team plan costs $8 per user per month."]
    score = groundedness("The Team plan costs $1.25 per user via PayPal Express.", context)
    assert score < 0.7


def test_an_answer_without_content_words_has_no_score():
    assert groundedness("Yes, sure!", ["anything"]) is None
    assert "the" not in content_words("the refund")


def test_only_the_articles_the_answer_used_are_sources():
    chunks = [
        _chunk(1, "reset-password", "Click Forgot password on the sign-in page; the link expires."),
        _chunk(2, "mobile-app-crashes", "Reinstall the iOS app if it crashes at launch."),
    ]
    answer = "Click Forgot password on the sign-in page and use the link before it expires."
    assert [c.article.slug for c in used_sources(answer, chunks)] == ["reset-password"]
