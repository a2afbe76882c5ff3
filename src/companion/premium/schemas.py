"""Premium (LLM) feature bodies: requests, answers, and what each call cost."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from companion.quizzes.schemas import AttemptRead
from companion.recommendations.schemas import LearningPathRead
from companion.search.schemas import Citation
from companion.tutor.schemas import ExchangeRead

LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class UsageRead(BaseModel):
    """What this request cost: tokens and USD of the model call, or nothing when served from a cache."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cached: bool = Field(description="Served from a cache: no model call, no cost.")


class ChapterSectionText(BaseModel):
    """One section of a rewritten or translated chapter, with the original's id and anchor."""

    section_id: str
    anchor: str
    title: str
    content_markdown: str


class PersonalizedChapterRead(BaseModel):
    """A chapter rewritten for the learner's background: the same sections and anchors as the original."""

    course_id: str
    chapter_id: str
    title: str
    software_experience: str
    hardware_experience: str
    content_hash: str = Field(description="The hash of the chapter text it was written from.")
    sections: list[ChapterSectionText]
    generated_at: datetime
    expires_at: datetime
    access_count: int
    usage: UsageRead


class TranslatedChapterRead(BaseModel):
    """A chapter translated, shared by every learner; code, math and anchors are kept as they are."""

    course_id: str
    chapter_id: str
    language: str
    direction: Literal["ltr", "rtl"] = Field(description="rtl for right-to-left scripts (Urdu, Arabic...).")
    title: str
    content_hash: str
    sections: list[ChapterSectionText]
    generated_at: datetime
    access_count: int
    usage: UsageRead


class PremiumExchangeRead(ExchangeRead):
    """A tutor exchange answered by LLM synthesis over the same passages the core tutor retrieves."""

    usage: UsageRead


class AdaptivePathRequest(BaseModel):
    """Which course to plan (the only one when omitted)."""

    model_config = ConfigDict(extra="forbid")

    course_id: str | None = Field(default=None, max_length=100)


class AdaptivePathRead(BaseModel):
    """The learning path planned by the LLM, now the learner's active path (7 days)."""

    learning_path: LearningPathRead
    usage: UsageRead


class GradedAttemptRead(BaseModel):
    """An attempt after the LLM graded its pending open-ended answers."""

    attempt: AttemptRead
    graded_questions: list[str]
    usage: UsageRead


class SynthesisRequest(BaseModel):
    """Chapters to connect into one big-picture answer, with an optional question to focus it."""

    model_config = ConfigDict(extra="forbid")

    course_id: str | None = Field(default=None, max_length=100, description="The only course when omitted.")
    chapter_ids: list[Annotated[str, Field(max_length=200)]] = Field(min_length=2, max_length=6)
    question: str | None = Field(default=None, max_length=2000, pattern=r"\S")


class SynthesisRead(BaseModel):
    """How the chosen chapters connect, every claim cited [n] to a section listed in `sources`."""

    course_id: str
    chapter_ids: list[str]
    question: str | None
    answer: str = Field(description="Markdown with [n] markers; n is a position in `sources`.")
    sources: list[Citation] = Field(description="The sections cited, in marker order ([1] is the first).")
    usage: UsageRead
