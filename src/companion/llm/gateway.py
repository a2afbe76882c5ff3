"""The one door to language models: provider and model per feature, timeouts, retries, structured
output validated against a schema, and a ledger row with tokens and cost for every call.

Ledger rows are written in a session of their own and committed at once, so a failed call's cost is
kept even though the request that made it is rolled back. Callers therefore make the model call before
they write anything in their own transaction (sessions do not autoflush), which keeps SQLite's single
writer free for the ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from companion import metrics
from companion.access import service as access_service
from companion.accounts.models import User
from companion.config import Settings
from companion.db import utcnow
from companion.errors import BudgetExceeded, LLMInvalidOutput, LLMTimeout, LLMUnavailable
from companion.llm import prices
from companion.llm import service as llm_service
from companion.llm.models import LLMUsage

if TYPE_CHECKING:  # pydantic-ai (about 25 MB) is imported by the first model call, not by every server
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.models import Model
    from pydantic_ai.usage import RunUsage

logger = logging.getLogger(__name__)

OutputT = TypeVar("OutputT")

DEFAULT_MODELS = {"anthropic": "claude-haiku-4-5", "openai": "gpt-4o-mini"}
UNAVAILABLE_MESSAGE = (
    "This AI feature is not switched on for this site yet: no AI model is configured. "
    "Everything else in the course works as usual."
)


@dataclass(frozen=True)
class ModelChoice:
    """Which provider and model a feature uses."""

    provider: str
    name: str


@dataclass(frozen=True)
class CallUsage:
    """What one feature request cost: tokens, USD, latency, and whether it was served from a cache."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: int
    cached: bool = False


@dataclass(frozen=True)
class Completion(Generic[OutputT]):
    """A validated model answer, its usage, and the messages of the run (for follow-up turns)."""

    output: OutputT
    usage: CallUsage
    messages: list[ModelMessage]


def choose_model(settings: Settings, feature: str) -> ModelChoice | None:
    """The provider and model for a feature, or None when no provider is configured."""
    if settings.llm_base_url:
        provider, default = "openai-compatible", settings.llm_model
    elif settings.anthropic_api_key:
        provider, default = "anthropic", settings.llm_model or DEFAULT_MODELS["anthropic"]
    elif settings.openai_api_key:
        provider, default = "openai", settings.llm_model or DEFAULT_MODELS["openai"]
    else:
        return None
    name = settings.llm_feature_models.get(feature) or default
    if name and ":" in name and name.split(":", 1)[0] in ("anthropic", "openai", "openai-compatible"):
        provider, name = name.split(":", 1)
    return ModelChoice(provider, name) if name else None


def _build_model(settings: Settings, choice: ModelChoice) -> Model:
    """A pydantic-ai model for the choice; the provider SDKs are imported only when one is used."""
    if choice.provider == "anthropic":
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        if not settings.anthropic_api_key:
            raise LLMUnavailable(UNAVAILABLE_MESSAGE, details={"reason": "no_anthropic_key"})
        return AnthropicModel(choice.name, provider=AnthropicProvider(api_key=settings.anthropic_api_key))
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    if choice.provider == "openai":
        if not settings.openai_api_key:
            raise LLMUnavailable(UNAVAILABLE_MESSAGE, details={"reason": "no_openai_key"})
        provider = OpenAIProvider(base_url=settings.openai_base_url, api_key=settings.openai_api_key)
    else:
        if not settings.llm_base_url:
            raise LLMUnavailable(UNAVAILABLE_MESSAGE, details={"reason": "no_base_url"})
        # Local servers (Ollama, llama.cpp) accept any key; the SDK insists on one.
        provider = OpenAIProvider(base_url=settings.llm_base_url, api_key=settings.llm_api_key or "unused")
    return OpenAIChatModel(choice.name, provider=provider)


class LLMGateway:
    """Runs structured model calls for premium features, within budgets, recording each in the ledger."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self._sessionmaker = sessionmaker
        self._models: dict[ModelChoice, Model] = {}
        self._override: Model | None = None

    @contextmanager
    def override(self, model: Model) -> Iterator[None]:
        """Use `model` for every feature meanwhile (tests and benchmarks: TestModel, FunctionModel)."""
        previous, self._override = self._override, model
        try:
            yield
        finally:
            self._override = previous

    def choice(self, feature: str) -> ModelChoice:
        """The model a feature would use now; `llm_unavailable` when none is configured."""
        if self._override is not None:
            return ModelChoice(self._override.system, self._override.model_name)
        choice = choose_model(self.settings, feature)
        if choice is None:
            raise LLMUnavailable(UNAVAILABLE_MESSAGE, details={"feature": feature})
        return choice

    def _model(self, choice: ModelChoice) -> Model:
        if self._override is not None:
            return self._override
        if choice not in self._models:
            self._models[choice] = _build_model(self.settings, choice)
        return self._models[choice]

    async def ensure_budget(self, *, user: User, feature: str, now: datetime | None = None) -> None:
        """Refuse with `budget_exceeded` (and a ledger row) once the learner's month is spent."""
        now = now or utcnow()
        tier = access_service.tier_of(user)
        budget = llm_service.monthly_budget(self.settings, tier)
        async with self._sessionmaker() as session:
            spent = await llm_service.spent_this_month(session, user_id=user.id, now=now)
            if spent < budget:
                return
            choice = self.choice(feature)
            session.add(
                LLMUsage(
                    user_id=user.id,
                    feature=feature,
                    provider=choice.provider,
                    model=choice.name,
                    outcome="budget_exceeded",
                    created_at=now,
                )
            )
            await session.commit()
        raise BudgetExceeded(
            f"You have used this month's AI budget for your plan (${budget:.2f}). "
            "It renews on the first of next month; the rest of the course keeps working.",
            details={"budget_usd": budget, "spent_usd": round(spent, 6), "feature": feature},
        )

    async def run(
        self,
        *,
        user: User,
        feature: str,
        instructions: str,
        prompt: str,
        output_type: type[OutputT],
        history: Sequence[ModelMessage] = (),
        check: Callable[[OutputT], list[str]] | None = None,
    ) -> Completion[OutputT]:
        """One structured call for a learner: budget first, then the model.

        The output must fit `output_type` and pass `check` (which lists what is wrong with it); the model
        gets one retry with the problems named, then the call fails with `llm_invalid_output`.
        """
        from pydantic_ai import Agent, ModelRetry, ModelSettings
        from pydantic_ai.exceptions import (
            AgentRunError,
            ModelAPIError,
            ModelRequestTimeout,
            ModelTimeoutError,
            UnexpectedModelBehavior,
        )
        from pydantic_ai.usage import RunUsage

        choice = self.choice(feature)
        await self.ensure_budget(user=user, feature=feature)
        model = self._model(choice)
        agent: Agent[None, OutputT] = Agent(
            model,
            output_type=output_type,
            instructions=instructions,
            retries={"output": 1},
            model_settings=ModelSettings(
                request_timeout=self.settings.llm_timeout_seconds,
                max_retries=self.settings.llm_max_retries,
                max_tokens=self.settings.llm_max_output_tokens,
                temperature=0.2,
            ),
        )
        if check is not None:
            validate = check

            @agent.output_validator
            def _check(output: OutputT) -> OutputT:
                problems = validate(output)
                if problems:
                    raise ModelRetry("Fix these problems and answer again:\n- " + "\n- ".join(problems))
                return output

        usage = RunUsage()
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await agent.run(prompt, message_history=list(history) or None, usage=usage)
            outcome = "success"
        except (ModelRequestTimeout, ModelTimeoutError) as error:
            raise LLMTimeout(
                "The AI model took too long to answer. Please try again in a moment.",
                details={"feature": feature, "timeout_seconds": self.settings.llm_timeout_seconds},
            ) from error
        except UnexpectedModelBehavior as error:
            logger.warning("model %s gave unusable output for %s: %s", choice.name, feature, error)
            raise LLMInvalidOutput(
                "The AI model's answer could not be used, even after a retry. Please try again.",
                details={"feature": feature},
            ) from error
        except (ModelAPIError, AgentRunError) as error:
            logger.warning("model %s failed for %s: %s", choice.name, feature, error)
            raise LLMUnavailable(
                "The AI model could not answer just now. Please try again in a moment.",
                details={"feature": feature, "reason": "provider_error"},
            ) from error
        finally:
            call = await self._record(
                user=user, feature=feature, choice=choice, usage=usage, started=started, outcome=outcome
            )
        return Completion(output=result.output, usage=call, messages=result.all_messages())

    async def _record(
        self, *, user: User, feature: str, choice: ModelChoice, usage: RunUsage, started: float, outcome: str
    ) -> CallUsage:
        """Write the ledger row of a call, successful or not, in its own committed transaction."""
        call = CallUsage(
            provider=choice.provider,
            model=choice.name,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=prices.cost_usd(
                model=choice.name,
                provider=choice.provider,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                overrides=self.settings.llm_prices,
            ),
            latency_ms=int((time.perf_counter() - started) * 1000),
        )
        async with self._sessionmaker() as session:
            session.add(
                LLMUsage(
                    user_id=user.id,
                    feature=feature,
                    provider=call.provider,
                    model=call.model,
                    input_tokens=call.input_tokens,
                    output_tokens=call.output_tokens,
                    cost_usd=call.cost_usd,
                    latency_ms=call.latency_ms,
                    outcome=outcome,
                )
            )
            await session.commit()
        metrics.record_llm_usage(
            feature=feature,
            input_tokens=call.input_tokens,
            output_tokens=call.output_tokens,
            cost_usd=call.cost_usd,
        )
        return call


def no_cost(choice: ModelChoice | None, *, cached: bool) -> CallUsage:
    """The usage of a request that made no model call: served from a cache, or answered by the core."""
    return CallUsage(
        provider=choice.provider if choice else "cache",
        model=choice.name if choice else "cache",
        input_tokens=0,
        output_tokens=0,
        cost_usd=0.0,
        latency_ms=0,
        cached=cached,
    )
