"""Fusion arithmetic: reciprocal rank fusion and the convex combination of min-max scores."""

from __future__ import annotations

import pytest

from companion.search.fusion import FusionConfig, convex_combination, fuse, reciprocal_rank_fusion


def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], weights=[1.0, 2.0], k=10))

    assert fused["a"] == pytest.approx(1 / 11 + 2 / 12)
    assert fused["b"] == pytest.approx(1 / 12)
    assert fused["c"] == pytest.approx(1 / 13 + 2 / 11)


def test_rrf_orders_best_first_and_breaks_ties_by_first_appearance() -> None:
    fused = reciprocal_rank_fusion([["x", "y"], ["y", "x"], ["z"]], k=60)

    assert [item for item, _ in fused] == ["x", "y", "z"]
    assert fused[0][1] == pytest.approx(fused[1][1])


def test_rrf_of_nothing_is_empty_and_weights_must_match() -> None:
    assert reciprocal_rank_fusion([[], []]) == []
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 1.0])


def test_convex_combination_averages_min_max_scaled_scores() -> None:
    lexical = [("a", 12.0), ("b", 7.0), ("c", 2.0)]
    semantic = [("c", 0.9), ("d", 0.7), ("a", 0.5)]

    fused = dict(convex_combination([lexical, semantic], weights=[1.0, 3.0]))

    assert fused["a"] == pytest.approx((1 * 1.0 + 3 * 0.0) / 4)
    assert fused["b"] == pytest.approx((1 * 0.5 + 3 * 0.0) / 4)  # absent from semantic: 0 there
    assert fused["c"] == pytest.approx((1 * 0.0 + 3 * 1.0) / 4)
    assert fused["d"] == pytest.approx((1 * 0.0 + 3 * 0.5) / 4)
    assert [item for item, _ in convex_combination([lexical, semantic], weights=[1.0, 3.0])] == [
        "c",
        "d",
        "a",
        "b",
    ]


def test_convex_combination_edge_cases() -> None:
    assert convex_combination([[("only", 3.2)]]) == [("only", 1.0)]
    assert convex_combination([[("a", 1.0)], []]) == [("a", 0.5)]
    assert convex_combination([[], []]) == []
    with pytest.raises(ValueError):
        convex_combination([[("a", 1.0)]], weights=[0.0])


def test_fuse_uses_the_configured_method() -> None:
    lists = [[("a", 5.0), ("b", 1.0)], [("b", 0.9), ("a", 0.1)]]

    by_rank = fuse(lists, [1.0, 1.0], FusionConfig(method="rrf", k=60))
    by_score = fuse(lists, [2.0, 1.0], FusionConfig(method="convex"))

    assert by_rank[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert by_score == [("a", pytest.approx(2 / 3)), ("b", pytest.approx(1 / 3))]
