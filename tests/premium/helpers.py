"""Scripted models for the premium tests: a FunctionModel that records what it was sent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.content.schemas import Chapter

COURSE = "genai-fundamentals"
MODEL = "claude-haiku-4-5"  # priced by genai-prices at $1 / $5 per million input / output tokens
INPUT_TOKENS, OUTPUT_TOKENS = 1200, 400
CALL_COST = round((INPUT_TOKENS * 1.0 + OUTPUT_TOKENS * 5.0) / 1_000_000, 6)

Reply = Callable[["Call"], dict[str, Any]]


class Call:
    """What the model was sent on one request."""

    def __init__(self, messages: list[ModelMessage], info: AgentInfo, number: int) -> None:
        self.messages = messages
        self.info = info
        self.number = number

    @property
    def prompt(self) -> str:
        """Every user prompt of the request, joined."""
        return "\n".join(
            str(part.content)
            for message in self.messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, UserPromptPart)
        )

    @property
    def retry_feedback(self) -> str:
        """What the agent told the model was wrong with its previous answer."""
        return "\n".join(
            part.model_response() if isinstance(part, RetryPromptPart) else str(part.content)
            for message in self.messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, RetryPromptPart | ToolReturnPart)
        )


class Scripted:
    """A model whose structured answers come from `reply`; it keeps every call for assertions."""

    def __init__(self, reply: Reply, *, delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.calls: list[Call] = []

    async def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        call = Call(messages, info, len(self.calls) + 1)
        self.calls.append(call)
        if self.delay:
            await asyncio.sleep(self.delay)
        return ModelResponse(
            parts=[ToolCallPart(info.output_tools[0].name, self.reply(call))],
            usage=RequestUsage(input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS),
            model_name=MODEL,
        )


@contextmanager
def scripted(app: FastAPI, reply: Reply, *, delay: float = 0.0) -> Iterator[Scripted]:
    """Answer every premium model call with `reply` meanwhile."""
    script = Scripted(reply, delay=delay)
    with app.state.llm.override(FunctionModel(script, model_name=MODEL)):
        yield script


async def set_tier(session: AsyncSession, tokens: dict[str, Any], tier: str) -> User:
    """Move a signed-up learner to a tier."""
    user = await session.get(User, uuid.UUID(tokens["user"]["id"]))
    assert user is not None
    seats = 5 if tier == "team" else None  # a team plan is bought for a number of seats
    await billing_service.change_tier(session, user=user, tier=tier, seats=seats)
    await session.commit()
    return user


def chapter(app: FastAPI, chapter_id: str) -> Chapter:
    """A chapter of the shipped course."""
    found = app.state.catalog.pack(COURSE).chapter(chapter_id)
    assert found is not None
    return found


def rewrite(chapter: Chapter, note: str) -> dict[str, Any]:
    """A chapter as a model would return it: every section kept, with `note` added at the end."""
    return {
        "title": f"{chapter.title} ({note})",
        "sections": [
            {
                "section_id": section.section_id,
                "title": f"{section.title} ({note})",
                "content_markdown": f"{section.content_markdown}\n\n{note}",
            }
            for section in chapter.sections
        ],
    }
