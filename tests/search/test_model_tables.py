"""The served MiniLM keeps its embedding tables int8 (the very same vectors) and embeds queries in int8."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from companion.config import Settings
from companion.content.validation import load_pack
from companion.search import embeddings, model_tables
from companion.search.embeddings import (
    MiniLMEmbedder,
    load_embedder,
    load_query_embedder,
    shipped_model_files,
)
from companion.search.index import CourseSearch
from companion.search.model_tables import (
    GATHERED_MODEL_FILE,
    QUERY_MODEL_FILE,
    QUERY_MODEL_SHA256,
    compact_model,
    saved_model,
)
from tests.search.conftest import CountingEmbedder

GOLDEN = Path(__file__).with_name("golden_minilm.json")
SHIPPED_COURSE = Path(__file__).resolve().parents[2] / "courses" / "genai-fundamentals"


def test_the_served_model_embeds_exactly_as_the_shipped_one(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    golden = json.loads(GOLDEN.read_text())
    texts = [*golden["sentences"], "a longer passage about robots and sensors " * 30]

    served = load_embedder(Settings(data_dir=tmp_path))

    assert isinstance(served, MiniLMEmbedder) and served.name == minilm.name
    assert (tmp_path / "models" / GATHERED_MODEL_FILE).exists()
    assert np.array_equal(served.embed(texts), minilm.embed(texts))


def test_the_saved_rewrite_is_reused_and_a_damaged_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = shipped_model_files().model
    rewritten = compact_model(shipped, tmp_path)
    assert rewritten != shipped and (tmp_path / GATHERED_MODEL_FILE).read_bytes() == rewritten

    def no_rewrite(model: bytes) -> bytes:
        raise RuntimeError("the onnx package is broken")

    monkeypatch.setattr(model_tables, "gather_before_dequantising", no_rewrite)
    assert compact_model(shipped, tmp_path) == rewritten  # read back, not rewritten

    (tmp_path / GATHERED_MODEL_FILE).write_bytes(rewritten[:-10])
    assert compact_model(shipped, tmp_path) == shipped  # a damaged file is never loaded


def test_a_damaged_saved_rewrite_is_written_again(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / GATHERED_MODEL_FILE).write_bytes(b"not the rewritten model")

    served = load_embedder(Settings(data_dir=tmp_path))

    assert served is not None and saved_model(models) is not None


def test_a_saved_rewrite_is_served_without_reading_the_shipped_model_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compact_model(shipped_model_files().model, tmp_path / "models")
    # Were the shipped file read, it would be refused now; the rewrite is pinned by its own sha256.
    monkeypatch.setattr(embeddings, "MINILM_MODEL_SHA256", "0" * 64)

    served = load_embedder(Settings(data_dir=tmp_path))

    assert isinstance(served, MiniLMEmbedder) and served.name == embeddings.MINILM_NAME


def test_queries_are_embedded_by_the_int8_model_near_the_exact_vectors(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    golden = json.loads(GOLDEN.read_text())
    queries = [*golden["sentences"], "How does a ROS 2 service differ from a topic?"]

    fast = load_query_embedder(Settings(data_dir=tmp_path))

    assert isinstance(fast, MiniLMEmbedder) and fast.name == minilm.name  # the same vector space
    assert saved_model(tmp_path / "models", QUERY_MODEL_FILE, QUERY_MODEL_SHA256) is not None
    vectors, exact = fast.embed(queries), minilm.embed(queries)
    assert not np.array_equal(vectors, exact)  # another computation...
    assert np.min(np.sum(vectors * exact, axis=1)) > 0.97  # ...of nearly the same vectors
    assert load_query_embedder(Settings(data_dir=tmp_path, embedding_query_precision="float32")) is None


def test_a_damaged_query_model_is_never_loaded_but_written_again(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / QUERY_MODEL_FILE).write_bytes(b"not the query model")

    assert load_query_embedder(Settings(data_dir=tmp_path)) is not None
    assert saved_model(models, QUERY_MODEL_FILE, QUERY_MODEL_SHA256) is not None


async def test_a_search_embeds_queries_with_its_query_model_and_passages_with_the_exact_one(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    passages, queries = CountingEmbedder(minilm), CountingEmbedder(minilm)
    search = CourseSearch(settings, embedder=passages, query_embedder=queries)
    pack = load_pack(SHIPPED_COURSE)
    try:
        search.build(pack)
        await search.retrieve(pack, "What is a token?")
    finally:
        search.close()

    assert len(passages.embedded) > 10 and "What is a token?" not in passages.embedded
    assert queries.embedded == ["What is a token?"]


def test_a_restarted_server_loads_only_the_query_model_and_a_build_only_the_exact_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    load_query_embedder(settings)  # a first start saved it

    search = CourseSearch.open(settings)
    try:
        assert search.build_in_child and not search.query_model_pending
        assert search._passage_embedder is None  # loaded only by a process that builds
        assert search.passage_embedder().name == embeddings.MINILM_NAME
    finally:
        search.close()

    builder = CourseSearch.open(settings, searching=False)  # `companion index build`, a build child
    try:
        assert builder.embedder is not None and builder.embedder.inner is builder._passage_embedder
    finally:
        builder.close()


async def test_a_first_start_embeds_queries_exactly_until_the_query_model_is_derived(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    search = CourseSearch.open(settings)
    try:
        assert search.query_model_pending and search.embedder is not None
        exact = search.embedder.inner
        assert exact is search._passage_embedder  # nothing derived yet: no wait for it at start

        await search.start([])
        await search.wait_for_builds()

        assert not search.query_model_pending and search.embedder.inner is not exact
        assert search._passage_embedder is None  # builds run in child processes: the exact model went
        fast = load_query_embedder(settings, derive=False)
        assert fast is not None
        query = ["How does a ROS 2 service differ from a topic?"]
        assert np.array_equal(search.embedder.embed(query), fast.embed(query))
    finally:
        search.close()
