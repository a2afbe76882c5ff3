"""What a model call costs: the settings' price table first, then the maintained `genai-prices` table."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache

logger = logging.getLogger(__name__)

# Providers genai-prices knows under our names; others (a local OpenAI-compatible server) are matched
# by model name alone.
_PRICE_PROVIDERS = {"anthropic": "anthropic", "openai": "openai"}


@lru_cache(maxsize=256)
def _warn_unpriced(model: str) -> None:
    logger.warning(
        "no price known for model %r: its calls are recorded at cost 0; set COMPANION_LLM_PRICES", model
    )


def cost_usd(
    *,
    model: str,
    provider: str,
    input_tokens: int,
    output_tokens: int,
    overrides: Mapping[str, tuple[float, float]],
) -> float:
    """The USD cost of a call's tokens; 0 for a model no table prices (e.g. a self-hosted one)."""
    if model in overrides:
        per_million_in, per_million_out = overrides[model]
        return round((input_tokens * per_million_in + output_tokens * per_million_out) / 1_000_000, 6)
    from genai_prices import Usage, calc_price  # its tables: loaded by the first priced call, not at start

    try:
        price = calc_price(
            Usage(input_tokens=input_tokens, output_tokens=output_tokens),
            model,
            provider_id=_PRICE_PROVIDERS.get(provider),
        )
    except (LookupError, ValueError):  # a model the table does not know
        _warn_unpriced(model)
        return 0.0
    return round(float(price.total_price), 6)
