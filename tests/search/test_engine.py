"""HybridIndex: hybrid search, filters on both retrievers, incremental builds, lexical fallback."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from companion.search.embeddings import MiniLMEmbedder
from companion.search.engine import HybridIndex, Passage, content_hash, matches
from companion.search.vectors import VectorStoreUnavailable

from .conftest import PASSAGES, BrokenEmbedder, CountingEmbedder

MakeIndex = Callable[..., HybridIndex]


def _ids(index: HybridIndex, query: str, **kwargs: object) -> list[str]:
    return [hit.id for hit in index.search(query, **kwargs).hits]  # type: ignore[arg-type]


def test_hybrid_search_fuses_both_retrievers(make_index: MakeIndex, embedder: CountingEmbedder) -> None:
    index = make_index(embedder)
    report = index.build(PASSAGES)

    result = index.search("how does a humanoid keep its balance", limit=3)

    assert report.mode == "hybrid" and report.embedded == len(PASSAGES)
    assert result.mode == "hybrid" and result.degraded_reason is None
    top = result.hits[0]
    assert top.id == "hw-1"
    assert top.lexical_rank == 1 and top.semantic_rank == 1
    assert top.text == PASSAGES[5].text and top.payload == PASSAGES[5].payload
    assert [hit.score for hit in result.hits] == sorted((hit.score for hit in result.hits), reverse=True)
    assert top.score == pytest.approx(1.0) and all(0.0 <= hit.score <= 1.0 for hit in result.hits)
    assert len(result.hits) == 3


def test_semantic_retrieval_finds_passages_without_shared_words(
    make_index: MakeIndex, embedder: CountingEmbedder
) -> None:
    index = make_index(embedder)
    index.build(PASSAGES)

    query = "a virtual world where machines are tried without risk"

    hits = index.search(query, limit=2).hits

    assert index.search_lexical(query) == []
    assert hits[0].id == "sim-1"
    assert hits[0].semantic_rank == 1


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        ({"module": 2}, {"sim-1", "sim-2"}),
        ({"difficulty": ["beginner", "intermediate"]}, {"ros-1", "ros-2", "sim-1", "hw-1"}),
        ({"topics": "ros2"}, {"ros-1", "ros-2"}),
        ({"topics": ["sensors", "balance"], "module": 2}, {"sim-2"}),
        ({"chapter": "no-such-chapter"}, set()),
        ({"topics": []}, set()),
    ],
)
def test_filters_apply_to_both_retrievers(
    make_index: MakeIndex, embedder: CountingEmbedder, filters: dict[str, object], allowed: set[str]
) -> None:
    index = make_index(embedder)
    index.build(PASSAGES)
    query = "robot sensors topics messages simulation balance"

    lexical = {pid for pid, _ in index.search_lexical(query, filters=filters, limit=10)}  # type: ignore[arg-type]
    semantic = {pid for pid, _ in index.search_semantic(query, filters=filters, limit=10)}  # type: ignore[arg-type]
    hybrid = set(_ids(index, query, filters=filters, limit=10))

    assert lexical <= allowed and semantic == allowed and hybrid == allowed


def test_rebuild_embeds_only_texts_the_store_lacks(make_index: MakeIndex, embedder: CountingEmbedder) -> None:
    index = make_index(embedder)
    index.build(PASSAGES)
    embedder.embedded.clear()

    unchanged = index.build(PASSAGES)
    assert unchanged.embedded == 0 and embedder.embedded == []

    changed = dataclasses.replace(PASSAGES[0], text="A ROS 2 topic carries messages from publishers.")
    added = Passage(id="new-1", text="Isaac Sim renders photorealistic warehouses.", payload={"module": 2})
    progress: list[tuple[int, int]] = []
    report = index.build(
        [changed, *PASSAGES[1:5], added], on_progress=lambda done, total: progress.append((done, total))
    )

    assert sorted(embedder.embedded) == sorted([changed.text, added.text])
    assert (report.embedded, report.passages) == (2, 6)
    assert progress[0] == (0, 2) and progress[-1] == (2, 2)
    assert "hw-1" not in _ids(index, "humanoid balance centre of mass", limit=10)
    assert index.search_semantic("photorealistic warehouse rendering", limit=1)[0][0] == "new-1"


def test_indexes_share_the_vectors_of_identical_texts(
    make_index: MakeIndex, embedder: CountingEmbedder
) -> None:
    make_index(embedder, collection="course__model").build(PASSAGES)
    embedder.embedded.clear()
    renamed = [dataclasses.replace(passage, id=f"v2-{passage.id}") for passage in PASSAGES]

    second = make_index(embedder, collection="course__model", directory="course__v2")
    report = second.build(renamed)

    assert report.embedded == 0 and embedder.embedded == [] and report.mode == "hybrid"
    assert second.search("humanoid balance", limit=1).hits[0].id == "v2-hw-1"


def test_rebuild_trusts_the_payload_content_hash(make_index: MakeIndex, embedder: CountingEmbedder) -> None:
    hashed = [dataclasses.replace(p, payload={**p.payload, "content_hash": f"v1-{p.id}"}) for p in PASSAGES]
    index = make_index(embedder)
    index.build(hashed)
    embedder.embedded.clear()

    bumped = dataclasses.replace(hashed[2], payload={**hashed[2].payload, "content_hash": "v2-sim-1"})
    report = index.build([*hashed[:2], bumped, *hashed[3:]])

    assert embedder.embedded == [PASSAGES[2].text]
    assert report.embedded == 1
    assert content_hash(bumped) == "v2-sim-1"
    assert content_hash(PASSAGES[0]) != content_hash(PASSAGES[1])


def test_payload_only_changes_update_filters_without_embedding(
    make_index: MakeIndex, embedder: CountingEmbedder
) -> None:
    index = make_index(embedder)
    index.build(PASSAGES)
    embedder.embedded.clear()

    moved = dataclasses.replace(PASSAGES[5], payload={**PASSAGES[5].payload, "module": 2})
    report = index.build([*PASSAGES[:5], moved])

    assert embedder.embedded == [] and report.embedded == 0
    semantic = {pid for pid, _ in index.search_semantic("balance", filters={"module": 2}, limit=10)}
    assert semantic == {"sim-1", "sim-2", "hw-1"}


def test_another_embedding_model_reembeds_everything(
    make_index: MakeIndex, minilm: MiniLMEmbedder, embedder: CountingEmbedder
) -> None:
    make_index(embedder).build(PASSAGES)
    renamed = CountingEmbedder(minilm, name="minilm-retrained")

    report = make_index(renamed).build(PASSAGES)

    assert report.embedded == len(PASSAGES) and len(renamed.embedded) == len(PASSAGES)


def test_search_falls_back_to_lexical_when_the_embedder_fails(
    make_index: MakeIndex, embedder: CountingEmbedder
) -> None:
    make_index(embedder).build(PASSAGES)
    index = make_index(embedder)
    index.embedder = BrokenEmbedder()  # the model breaks after the index was loaded

    result = index.search("humanoid balance", limit=3)

    assert result.mode == "lexical"
    assert result.degraded_reason == "model file vanished"
    assert result.hits[0].id == "hw-1"
    assert result.hits[0].semantic_rank is None and result.hits[0].lexical_rank == 1
    assert result.hits[0].score == pytest.approx(1.0)


def test_build_falls_back_to_lexical_when_the_store_fails(
    make_index: MakeIndex, embedder: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = make_index(embedder)

    def fail(*args: object, **kwargs: object) -> set[str]:
        raise VectorStoreUnavailable("Could not read: connection refused")

    monkeypatch.setattr(index.store, "missing", fail)
    report = index.build(PASSAGES)
    result = index.search("gazebo physics", limit=2)

    assert report.mode == "lexical" and "connection refused" in (report.degraded_reason or "")
    assert result.mode == "lexical" and result.degraded_reason == "the passages are not embedded yet"
    assert result.hits[0].id == "sim-1"


def test_build_without_working_embeddings_still_indexes_lexically(make_index: MakeIndex) -> None:
    report = make_index(BrokenEmbedder()).build(PASSAGES)
    lexical_only = make_index(None)

    assert report.mode == "lexical" and report.degraded_reason == "model file vanished"
    result = lexical_only.search("gazebo physics", limit=2)
    assert result.mode == "lexical" and result.degraded_reason == "no embedding model is configured"
    assert result.hits[0].id == "sim-1"


def test_index_reloads_from_disk(make_index: MakeIndex, embedder: CountingEmbedder) -> None:
    first = make_index(embedder)
    first.build(PASSAGES)
    expected = first.search("ROS 2 services request response", limit=4)

    reopened = make_index(embedder)

    assert len(reopened) == len(PASSAGES)
    assert reopened.search("ROS 2 services request response", limit=4) == expected


def test_hits_carry_the_payload_content_as_given(make_index: MakeIndex, embedder: CountingEmbedder) -> None:
    # In memory a content equal to the text after its title line is held once; hits get it back.
    passages = [
        Passage(
            "same", "Balance\nA humanoid keeps its balance.", {"content": "A humanoid keeps its balance."}
        ),
        Passage("other", "Gait\nWalking robots plan a gait.", {"content": "Walking **robots** plan a gait."}),
        Passage("none", "Wheels\nWheeled robots keep their balance easily.", {"chapter_id": "c"}),
    ]
    index = make_index(embedder)
    index.build(passages)

    for searched in (index, make_index(embedder)):  # as built, and as loaded from disk
        hits = {hit.id: hit for hit in searched.search("robots balance gait", limit=3).hits}
        assert {passage.id: passage.payload for passage in passages} == {
            hit_id: hit.payload for hit_id, hit in hits.items()
        }
    assert passages[0].payload == {"content": "A humanoid keeps its balance."}  # the caller's, untouched


def test_empty_index_and_empty_query(make_index: MakeIndex, embedder: CountingEmbedder) -> None:
    index = make_index(embedder)
    assert index.search("anything").hits == []

    index.build(PASSAGES)
    assert index.search("   ").hits == []

    report = index.build([])
    assert report.passages == 0 and index.search("robot").hits == []


def test_duplicate_passage_ids_are_rejected(make_index: MakeIndex) -> None:
    with pytest.raises(ValueError):
        make_index(None).build([PASSAGES[0], PASSAGES[0]])


def test_matches_follows_qdrant_semantics() -> None:
    payload = {"module": 1, "topics": ["ros2", "nodes"], "title": "Nodes"}

    assert matches(payload, {"module": 1, "topics": "nodes"})
    assert matches(payload, {"topics": ["vla", "ros2"]})
    assert not matches(payload, {"module": "1"})
    assert not matches(payload, {"missing": "x"})
    assert not matches(payload, {"topics": []})


async def test_search_runs_in_a_worker_thread(make_index: MakeIndex, embedder: CountingEmbedder) -> None:
    index = make_index(embedder)
    await asyncio.to_thread(index.build, PASSAGES)

    results = await asyncio.gather(*(asyncio.to_thread(index.search, "robot simulation") for _ in range(4)))

    assert all(result.mode == "hybrid" and result.hits for result in results)
