"""Questions run the embedding model's transformer in ONNX Runtime: exported once from the
installed weights, checked against torch, and never a reason for a question to fail."""

import logging

import pytest

from knowledge import embeddings
from knowledge.tests.test_query_batcher import LONG, QUESTIONS, assert_same_vector, model_vector


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    """One export shared by the tests that only read it (each one takes a few seconds)."""
    path = tmp_path_factory.mktemp("onnx")
    assert embeddings.onnx_session(embeddings.get_model(), cache_dir=str(path)) is not None
    return path


@pytest.fixture
def fresh_sessions(settings):
    """The in-process path, with no session made yet; the process's own put back after."""
    settings.EMBEDDING_QUERY_PROCESS = False
    sessions = embeddings.onnx_sessions()
    saved = dict(sessions)
    sessions.clear()
    yield settings
    sessions.clear()
    sessions.update(saved)


def test_it_gives_torchs_vectors_for_questions_of_different_lengths_in_one_batch(export_dir):
    encoder = embeddings.get_model()
    session = embeddings.onnx_session(encoder, cache_dir=str(export_dir))
    # One batch pads every question to the longest (here one cut at the model's maximum
    # length): the graph must honour the mask and take any length it was not traced with.
    texts = [*QUESTIONS, "refund", LONG * 3]
    got = embeddings.encode_questions(encoder, texts, session=session)
    expected = encoder.encode(texts, normalize_embeddings=True)
    for vector, reference in zip(got, expected, strict=True):
        assert_same_vector(vector, reference.tolist())


def test_the_export_is_made_once_and_then_reused(export_dir):
    (exported,) = export_dir.glob("*.onnx")
    made_at = exported.stat().st_mtime_ns

    assert embeddings.onnx_session(embeddings.get_model(), cache_dir=str(export_dir))
    assert [p.name for p in export_dir.iterdir()] == [exported.name]
    assert exported.stat().st_mtime_ns == made_at


def test_a_damaged_export_is_made_again(tmp_path, export_dir):
    (good,) = export_dir.glob("*.onnx")
    (tmp_path / good.name).write_bytes(b"half a file")

    session = embeddings.onnx_session(embeddings.get_model(), cache_dir=str(tmp_path))

    assert session is not None
    assert (tmp_path / good.name).stat().st_size == good.stat().st_size


def test_questions_go_through_torch_when_the_export_cannot_be_written(
    tmp_path, fresh_sessions, caplog
):
    (tmp_path / "a-file").write_text("not a directory")
    fresh_sessions.EMBEDDING_ONNX_DIR = tmp_path / "a-file" / "onnx"

    with caplog.at_level(logging.WARNING, logger="knowledge.embeddings"):
        vector = embeddings.embed_query("How do I reset my password?")

    assert embeddings.onnx_sessions() == {embeddings.model_name(): None}
    assert "embedded with torch, not ONNX Runtime" in caplog.text
    assert_same_vector(vector, model_vector("How do I reset my password?"))


def test_with_onnx_turned_off_nothing_is_exported(tmp_path, fresh_sessions):
    fresh_sessions.EMBEDDING_ONNX = False
    fresh_sessions.EMBEDDING_ONNX_DIR = tmp_path

    embeddings.embed_query("How do I reset my password?")

    assert embeddings.onnx_sessions() == {embeddings.model_name(): None}
    assert list(tmp_path.iterdir()) == []


def test_the_in_process_path_uses_the_onnx_session(export_dir, fresh_sessions):
    fresh_sessions.EMBEDDING_ONNX_DIR = export_dir

    vector = embeddings.embed_query("Where do I download my invoices?")

    assert embeddings.onnx_sessions()[embeddings.model_name()] is not None
    assert_same_vector(vector, model_vector("Where do I download my invoices?"))


def test_the_embedding_process_exports_and_uses_the_model_on_its_first_question(tmp_path, settings):
    settings.EMBEDDING_QUERY_PROCESS = True
    settings.EMBEDDING_ONNX_DIR = tmp_path
    batcher = embeddings.QueryBatcher()  # a child of its own, started with this directory
    try:
        vector = batcher.submit("Is my data encrypted at rest?", "").result(timeout=120)
    finally:
        if batcher.child is not None:
            batcher.child.stop()

    assert len(list(tmp_path.glob("*.onnx"))) == 1
    assert_same_vector(vector, model_vector("Is my data encrypted at rest?"))
