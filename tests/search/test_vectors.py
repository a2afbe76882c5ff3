"""The Qdrant wrapper in embedded mode: collections, points, payload filters, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qdrant_client import models

from companion.config import Settings
from companion.search.vectors import (
    ID_KEY,
    VectorPoint,
    VectorStore,
    VectorStoreUnavailable,
    build_filter,
    collection_name,
    point_id,
)


def _vector(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


POINTS = [
    VectorPoint("a", _vector(1, 0, 0), {"module": 1, "topics": ["ros2", "nodes"], "content_hash": "h-a"}),
    VectorPoint("b", _vector(0.9, 0.1, 0), {"module": 2, "topics": ["gazebo"], "content_hash": "h-b"}),
    VectorPoint("c", _vector(0, 0, 1), {"module": 2, "topics": ["ros2"], "content_hash": "h-c"}),
]


@pytest.fixture
def store(vector_store: VectorStore) -> VectorStore:
    vector_store.ensure_collection("test", dimension=3, embedder_name="fake")
    vector_store.upsert("test", POINTS)
    return vector_store


def test_collection_names_are_per_course_version_and_safe() -> None:
    assert collection_name("physical-ai", "2025.12.1") == "physical-ai__2025.12.1"
    assert collection_name("a b/c", "v1") == "a_b_c__v1"


def test_point_ids_are_stable_uuids() -> None:
    assert point_id("chunk-1") == point_id("chunk-1") != point_id("chunk-2")
    assert len(point_id("chunk-1")) == 36


def test_build_filter_uses_match_value_and_match_any() -> None:
    built = build_filter({"module": 1, "topics": ["ros2", "vla"]})

    assert built == models.Filter(
        must=[
            models.FieldCondition(key="module", match=models.MatchValue(value=1)),
            models.FieldCondition(key="topics", match=models.MatchAny(any=["ros2", "vla"])),
        ]
    )
    assert build_filter({}) is None
    assert build_filter(None) is None


def test_search_ranks_by_cosine_and_honours_filters(store: VectorStore) -> None:
    query = _vector(1, 0, 0)

    assert [pid for pid, _ in store.search("test", query, limit=3)] == ["a", "b", "c"]
    assert [pid for pid, _ in store.search("test", query, filters={"module": 2})] == ["b", "c"]
    assert [pid for pid, _ in store.search("test", query, filters={"topics": "ros2"})] == ["a", "c"]
    assert [pid for pid, _ in store.search("test", query, filters={"topics": ["gazebo", "x"]})] == ["b"]
    assert store.search("test", query, filters={"module": 2, "topics": "nodes"}) == []
    assert store.search("test", query, limit=1)[0][1] == pytest.approx(1.0)


def test_stored_payloads_upsert_replace_and_delete(store: VectorStore) -> None:
    stored = store.stored_payloads("test")
    assert stored["a"] == {"module": 1, "topics": ["ros2", "nodes"], "content_hash": "h-a"}
    assert set(stored) == {"a", "b", "c"}

    store.replace_payload("test", "a", {"module": 9, "content_hash": "h-a"})
    store.delete("test", ["b", "never-stored"])
    store.delete("test", [])

    stored = store.stored_payloads("test")
    assert set(stored) == {"a", "c"}
    assert stored["a"] == {"module": 9, "content_hash": "h-a"}
    assert ID_KEY not in stored["a"]


def test_ensure_collection_recreates_for_another_model(store: VectorStore) -> None:
    assert store.ensure_collection("test", dimension=3, embedder_name="fake") is False
    assert store.stored_payloads("test")

    assert store.ensure_collection("test", dimension=3, embedder_name="other-model") is True
    assert store.stored_payloads("test") == {}
    assert store.ensure_collection("test", dimension=4, embedder_name="other-model") is True


def test_errors_become_vector_store_unavailable(vector_store: VectorStore) -> None:
    with pytest.raises(VectorStoreUnavailable, match="missing"):
        vector_store.search("missing", _vector(1, 0, 0))
    vector_store.drop_collection("missing")


def test_the_embedded_store_allows_one_client_per_directory(
    vector_store: VectorStore, tmp_path: Path
) -> None:
    with pytest.raises(VectorStoreUnavailable, match="already accessed"):
        VectorStore.open(Settings(data_dir=tmp_path, qdrant_url=None, qdrant_path=None))
