"""The Qdrant wrapper in embedded mode: content-addressed vectors, retention, the one-process lock."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from companion.config import Settings
from companion.search.vectors import VectorStore, VectorStoreUnavailable, collection_name, point_id


def _vectors(*rows: tuple[float, ...]) -> np.ndarray:
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture
def store(vector_store: VectorStore) -> VectorStore:
    vector_store.ensure_collection("test", dimension=3, embedder_name="fake")
    vector_store.upsert("test", ["h-a", "h-b", "h-c"], _vectors((1, 0, 0), (0.9, 0.1, 0), (0, 0, 1)))
    return vector_store


def test_collection_names_are_per_course_and_embedder_and_safe() -> None:
    assert collection_name("physical-ai", "minilm-l6-v2-int8") == "physical-ai__minilm-l6-v2-int8"
    assert collection_name("a b/c", "m") == "a_b_c__m"


def test_point_ids_are_stable_uuids_of_text_hashes() -> None:
    assert point_id("hash-1") == point_id("hash-1") != point_id("hash-2")
    assert len(point_id("hash-1")) == 36


def test_vectors_are_read_back_by_text_hash_in_the_order_asked(store: VectorStore) -> None:
    matrix = store.vectors("test", ["h-c", "h-a", "h-c"], dimension=3)

    assert matrix.shape == (3, 3) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix[0], [0, 0, 1]) and np.testing.assert_allclose(matrix[1], [1, 0, 0])
    assert store.missing("test", ["h-a", "h-z", "h-c", "h-y"]) == {"h-z", "h-y"}
    with pytest.raises(VectorStoreUnavailable, match="lacks 1 vector"):
        store.vectors("test", ["h-a", "h-z"], dimension=3)


def test_retain_deletes_the_vectors_of_texts_no_longer_used(store: VectorStore) -> None:
    assert store.retain("test", {"h-a", "h-c", "never-stored"}) == 1

    assert store.missing("test", ["h-a", "h-b", "h-c"]) == {"h-b"}
    assert store.retain("test", {"h-a", "h-c"}) == 0


def test_ensure_collection_recreates_for_another_model(store: VectorStore) -> None:
    assert store.ensure_collection("test", dimension=3, embedder_name="fake") is False
    assert store.missing("test", ["h-a"]) == set()

    assert store.ensure_collection("test", dimension=3, embedder_name="other-model") is True
    assert store.missing("test", ["h-a"]) == {"h-a"}
    assert store.ensure_collection("test", dimension=4, embedder_name="other-model") is True
    assert "test" in store.collections()


def test_errors_become_vector_store_unavailable(vector_store: VectorStore) -> None:
    with pytest.raises(VectorStoreUnavailable, match="missing"):
        vector_store.missing("missing", ["h-a"])
    vector_store.drop_collection("missing")


def test_the_embedded_store_admits_one_process_and_a_second_may_wait(
    vector_store: VectorStore, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, qdrant_url=None, qdrant_path=None)
    with pytest.raises(VectorStoreUnavailable, match="already accessed"):
        VectorStore.open(settings)

    # The first holder lets go a little later: a writer waiting for the lock gets it then.
    releaser = threading.Timer(0.5, vector_store.close)
    releaser.start()
    second = VectorStore.open(settings, wait_seconds=30)
    second.close()
