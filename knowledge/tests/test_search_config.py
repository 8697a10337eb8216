"""Full text in the KB's language (KB_SEARCH_CONFIG): the chunks' stored vectors and the
questions' words are stemmed with the same configuration, `manage.py reembed` moves
existing chunks to a new one, and the checks say when the setting is wrong or not yet
applied."""

import io

import pytest
from django.core.checks import Tags, run_checks
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from knowledge.checks import search_config_current, search_config_exists, search_config_form
from knowledge.embeddings import embed_query
from knowledge.models import Article, Chunk
from knowledge.selectors import fulltext_words, hybrid_search, serving_index
from knowledge.services import article_embed

ARTICLES = {
    # "Rechnung" only: the question asks for "Rechnungen", which german stems to
    # "rechnung" and english leaves as it is.
    "rechnung-herunterladen": (
        "Rechnung herunterladen",
        "Jede Rechnung liegt unter Einstellungen › Abrechnung als PDF bereit. "
        "Klicken Sie auf das Datum, um sie zu öffnen.",
    ),
    "passwort-zuruecksetzen": (
        "Passwort zurücksetzen",
        "Klicken Sie auf der Anmeldeseite auf „Passwort vergessen“. Der Link in der "
        "E-Mail gilt eine Stunde lang.",
    ),
    "refunds": (
        "Refunds",
        "We refund an annual plan within 30 days of its purchase, in full.",
    ),
}
GERMAN_QUESTION = "Wo finde ich meine Rechnungen?"


@pytest.fixture
def articles(db):
    """The articles above, ingested as the product ingests them (KB_SEARCH_CONFIG's
    default, english)."""
    for slug, (title, body) in ARTICLES.items():
        article = Article.objects.create(slug=slug, title=title, body=body)
        article_embed(article_id=article.pk)


def full_text_scores(question: str) -> dict[str, float]:
    """Per article found, what full text (BM25) added to its chunk's similarity."""
    found = hybrid_search(
        embedding=embed_query(question), text=question, limit=10, index=serving_index()
    )
    return {c.article.slug: c.score - (1 - c.distance) for c in found.chunks}


def lexemes(slug: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(DISTINCT u.lexeme) FROM knowledge_chunk c "
            "JOIN knowledge_article a ON a.id = c.article_id, unnest(c.search_vector) u "
            "WHERE a.slug = %s",
            [slug],
        )
        return set(cursor.fetchone()[0])


@pytest.mark.django_db
def test_with_the_german_configuration_rechnungen_finds_the_article_about_a_rechnung(settings):
    settings.KB_SEARCH_CONFIG = "german"
    for slug, (title, body) in ARTICLES.items():
        article_embed(article_id=Article.objects.create(slug=slug, title=title, body=body).pk)

    assert set(Chunk.objects.values_list("search_config", flat=True)) == {"german"}
    assert "rechnung" in lexemes("rechnung-herunterladen")
    scores = full_text_scores(GERMAN_QUESTION)
    assert scores["rechnung-herunterladen"] > 0
    assert scores["passwort-zuruecksetzen"] == 0
    assert max(scores, key=lambda slug: scores[slug]) == "rechnung-herunterladen"


def test_with_the_english_configuration_rechnungen_is_not_rechnung(articles):
    # The same KB and question, stemmed as English: the plural is another word, which is
    # what a German KB gets today without KB_SEARCH_CONFIG.
    assert set(Chunk.objects.values_list("search_config", flat=True)) == {"english"}
    assert full_text_scores(GERMAN_QUESTION)["rechnung-herunterladen"] == 0


def test_with_the_english_configuration_an_english_inflection_still_matches(articles):
    assert full_text_scores("Can I get my annual plan refunded?")["refunds"] > 0


def test_reembed_rebuilds_the_full_text_with_a_new_configuration(articles, settings):
    settings.KB_SEARCH_CONFIG = "german"
    warnings = search_config_current(databases=["default"])
    assert [w.id for w in warnings] == ["knowledge.W001"]
    assert "english" in warnings[0].msg and "reembed" in warnings[0].hint

    out = io.StringIO()
    call_command("reembed", timeout=30, stdout=out)

    assert f"Rebuilt the full text of {Chunk.objects.count()} chunk(s)" in out.getvalue()
    assert set(Chunk.objects.values_list("search_config", flat=True)) == {"german"}
    assert "rechnung" in lexemes("rechnung-herunterladen")
    assert full_text_scores(GERMAN_QUESTION)["rechnung-herunterladen"] > 0
    assert search_config_current(databases=["default"]) == []
    # The vectors were not embedded again: only the full text changed.
    assert "queued" in out.getvalue() and "0 article(s) queued" in out.getvalue()


def test_reembed_with_the_configuration_unchanged_rebuilds_nothing(articles):
    out = io.StringIO()
    call_command("reembed", timeout=30, stdout=out)
    assert "Rebuilt the full text" not in out.getvalue()


def test_the_mismatch_check_runs_with_the_database_checks(articles, settings):
    settings.KB_SEARCH_CONFIG = "simple"
    found = run_checks(tags=[Tags.database], databases=["default"])
    assert "knowledge.W001" in [m.id for m in found]
    assert "knowledge.W001" not in [m.id for m in run_checks()]  # plain `check`: no query


@pytest.mark.parametrize(
    "name", ["english; drop table knowledge_chunk", "english'::regconfig, 'x", "English", ""]
)
def test_a_configuration_that_is_not_a_bare_lower_case_name_is_an_error(settings, name):
    settings.KB_SEARCH_CONFIG = name
    assert [e.id for e in search_config_form()] == ["knowledge.E001"]
    assert "knowledge.E001" in [m.id for m in run_checks()]


def test_the_database_checks_never_send_a_malformed_name(settings, db):
    settings.KB_SEARCH_CONFIG = "english; drop table knowledge_chunk"
    assert search_config_exists(databases=["default"]) == []  # the form check reports it
    assert search_config_current(databases=["default"]) == []


def test_a_configuration_the_database_lacks_is_an_error(settings, db):
    settings.KB_SEARCH_CONFIG = "klingon"
    errors = search_config_exists(databases=["default"])
    assert [e.id for e in errors] == ["knowledge.E002"]
    assert "pg_ts_config" in errors[0].msg
    assert "knowledge.E002" in [
        m.id for m in run_checks(tags=[Tags.database], databases=["default"])
    ]


def test_the_mismatch_check_passes_on_a_database_not_migrated_yet(db):
    # `migrate` runs the database checks before it creates the table: on an empty database
    # too. The table renamed away stands for it (the test's transaction puts it back).
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE knowledge_chunk RENAME TO knowledge_chunk_away")
    assert search_config_current(databases=["default"]) == []


def test_the_default_configuration_passes_every_check(db):
    ids = [m.id for m in run_checks(databases=["default"]) if m.id.startswith("knowledge.")]
    assert ids == []


def test_a_name_that_slipped_past_the_checks_reaches_postgres_only_as_a_value(articles, settings):
    # Were it formatted into the SQL, this would end the query and drop a table.
    settings.KB_SEARCH_CONFIG = "english', 'x')) t; DROP TABLE knowledge_article; --"
    with pytest.raises(DatabaseError, match="invalid name syntax"), transaction.atomic():
        full_text_scores("refund")
    assert Article.objects.count() == len(ARTICLES)


def test_a_word_with_an_umlaut_is_one_word():
    assert fulltext_words("Bestätigung der Zahlung") == "bestätigung der zahlung"
    # Decomposed (a + combining diaeresis), as some keyboards send it: the same word.
    assert fulltext_words("Besta\u0308tigung") == "bestätigung"


def test_the_multilingual_bge_m3_encodes_questions_without_the_english_bge_instruction():
    from knowledge.embeddings.models import BGE_QUERY_PREFIX, query_text

    assert query_text("Wo?", "BAAI/bge-m3") == "Wo?"
    assert query_text("Where?", "BAAI/bge-small-en-v1.5") == BGE_QUERY_PREFIX + "Where?"
