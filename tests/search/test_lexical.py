"""BM25: stemming, stopwords, filtering masks, save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.search.lexical import LexicalIndex

IDS = ["a", "b", "c", "d"]
TEXTS = [
    "The robot runs across the lab every morning.",
    "Sensors measure distance with lasers.",
    "Cooking pasta needs salted water.",
    "A running robot needs good balance sensors.",
]


@pytest.fixture
def index() -> LexicalIndex:
    return LexicalIndex.build(IDS, TEXTS)


def test_stemming_matches_other_forms_of_a_word(index: LexicalIndex) -> None:
    found = [passage_id for passage_id, _ in index.search("running", 10)]

    assert set(found) == {"a", "d"}


def test_results_are_ranked_and_scored(index: LexicalIndex) -> None:
    results = index.search("robot balance sensors", 10)

    assert results[0][0] == "d"
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    assert len(index.search("robot balance sensors", 1)) == 1


def test_queries_without_indexed_terms_find_nothing(index: LexicalIndex) -> None:
    assert index.search("", 10) == []
    assert index.search("the and of", 10) == []
    assert index.search("zebra quantum", 10) == []
    assert index.search("?!", 10) == []


def test_allowed_restricts_results_as_mask_or_ids(index: LexicalIndex) -> None:
    assert [pid for pid, _ in index.search("robot", 10, allowed={"d"})] == ["d"]
    assert [pid for pid, _ in index.search("robot", 10, allowed=np.array([True, False, False, False]))] == [
        "a"
    ]
    assert index.search("robot", 10, allowed=set()) == []
    assert index.search("robot", 10, allowed={"unknown"}) == []


def test_save_and_load_round_trip(index: LexicalIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")

    assert loaded.ids == IDS
    for query in ("running robot", "lasers", "pasta water"):
        assert loaded.search(query, 10) == index.search(query, 10)


def test_saving_again_replaces_the_previous_index(index: LexicalIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "bm25")
    LexicalIndex.build(["z"], ["zebras graze"]).save(tmp_path / "bm25")

    loaded = LexicalIndex.load(tmp_path / "bm25")

    assert loaded.ids == ["z"]
    assert loaded.search("robot", 10) == []
    assert loaded.search("zebra", 10)[0][0] == "z"


def test_an_empty_index_builds_saves_and_finds_nothing(tmp_path: Path) -> None:
    empty = LexicalIndex.build([], [])
    empty.save(tmp_path / "bm25")

    assert LexicalIndex.load(tmp_path / "bm25").search("robot", 10) == []
    assert len(empty) == 0


def test_ids_must_be_unique_and_aligned() -> None:
    with pytest.raises(ValueError):
        LexicalIndex.build(["a", "a"], ["x", "y"])
    with pytest.raises(ValueError):
        LexicalIndex.build(["a"], ["x", "y"])


def test_tokenize_splits_and_stems_as_bm25s_does() -> None:
    import bm25s
    import Stemmer

    from companion.search.lexical import tokenize

    texts = [
        "Sampling with top-p, the model samples tokens: THE temperature's effect on sampled text.",
        "Ünïcödé straße ÉCOLE İstanbul ΣΊΣΥΦΟΣ x y 12 3d_model a-b-c",
        "",
        "the and of",
        "sampling sampling sampling",
    ]
    expected = bm25s.tokenize(
        texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False, show_progress=False
    )
    assert tokenize(texts) == expected
    assert [tokenize([text])[0] for text in texts] == expected
