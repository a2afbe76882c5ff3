"""Tutor chat request and response bodies: conversations, questions, grounded answers and their sources."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_MESSAGE_CHARS = 5000
Grounding = Literal["course", "selection", "locked", "not_covered"]


class SelectedContext(BaseModel):
    """Where a selected passage comes from: its chapter, its section (id or title) and offsets in it."""

    model_config = ConfigDict(extra="forbid")

    chapter_id: str = Field(min_length=1, max_length=200)
    section_id: str | None = Field(default=None, max_length=200)
    section_title: str | None = Field(default=None, max_length=500)
    start_offset: int | None = Field(default=None, ge=0)
    end_offset: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _offsets_in_order(self) -> SelectedContext:
        if (
            self.start_offset is not None
            and self.end_offset is not None
            and self.end_offset < self.start_offset
        ):
            raise ValueError("end_offset must not be before start_offset")
        return self


class MessageCreate(BaseModel):
    """A question, optionally about a passage the learner selected."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=r"\S")
    selected_text: str | None = Field(
        default=None,
        max_length=MAX_MESSAGE_CHARS,
        description="A passage of the course the question is about; the answer draws on it and its section.",
    )
    selected_context: SelectedContext | None = None


class ConversationCreate(BaseModel):
    """A new conversation, about one course or all of them, optionally with its first question."""

    model_config = ConfigDict(extra="forbid")

    course_id: str | None = Field(
        default=None,
        max_length=200,
        description="The course to ask about; the only course, or all courses, when omitted.",
    )
    message: MessageCreate | None = Field(default=None, description="The first question, answered at once.")


class Source(BaseModel):
    """A passage an answer draws on, with where to read it."""

    course_id: str
    chapter_id: str
    chapter_title: str
    section_id: str
    section_title: str
    chunk_id: str
    anchor: str
    url: str
    relevance_score: float = Field(
        description="How well the passage matches the question, 0 to 1: cosine similarity in hybrid "
        "search, the share of the question's terms (weighted by rarity) in lexical search."
    )


class MessageRead(BaseModel):
    """A message of a conversation; assistant messages list the sources their [n] markers refer to."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    role: Literal["user", "assistant"]
    content: str
    selected_text: str | None
    selected_context: dict[str, Any] | None
    sources: list[Source] | None
    sequence_number: int
    created_at: datetime


class ConversationRead(BaseModel):
    """A conversation's summary; it disappears 24 hours after creation."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    course_id: str | None
    title: str | None
    created_at: datetime
    expires_at: datetime
    last_message_at: datetime | None
    message_count: int


class ConversationDetail(ConversationRead):
    """A conversation with its messages in order."""

    messages: list[MessageRead]


class ExchangeRead(BaseModel):
    """A question and the tutor's answer to it."""

    conversation: ConversationRead
    question: MessageRead
    answer: MessageRead
    grounding: Grounding = Field(
        description="course: answered from passages you can read; selection: from the selected passage "
        "and its section; locked: only chapters above your tier cover it; not_covered: the course does not."
    )
