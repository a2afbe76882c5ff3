"""The subscription tiers, lowest first: the one list every schema, constraint and gate is built from."""

from __future__ import annotations

from typing import Literal, get_args

Tier = Literal["free", "premium", "pro", "team"]

# In order: each tier includes everything the tiers before it include.
TIERS: tuple[Tier, ...] = get_args(Tier)
TIER_NAMES: dict[str, str] = {tier: tier.capitalize() for tier in TIERS}
_RANK: dict[str, int] = {tier: rank for rank, tier in enumerate(TIERS)}


def tier_includes(held: str, required: str) -> bool:
    """Whether holding one tier grants what another tier requires."""
    return _RANK[held] >= _RANK[required]
