"""Learning-path bodies: the ordered chapters with a reason each, and the path around them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from companion.progress.schemas import ChapterState

# Why a chapter is where it is: a failed quiz to revisit, a chapter already started, the next
# chapter to study, or material the learner's background likely covers (optional, at the end).
PathStep = Literal["revisit", "continue", "study", "review"]


class RecommendedChapter(BaseModel):
    """One entry of a stored path (the seed's `recommended_chapters` item, plus its kind)."""

    chapter_id: str
    module: str | None
    priority: int = Field(description="1 is the first chapter to study.")
    reason: str
    kind: PathStep = "study"


class PathChapter(RecommendedChapter):
    """A path entry as shown to the learner, with the chapter's current state and access."""

    title: str
    difficulty_level: str
    estimated_time_minutes: int | None
    prerequisites: list[str]
    quiz_id: str | None
    state: ChapterState = Field(description="The learner's state in the chapter now, not when planned.")
    access_tier: str
    locked: bool = Field(description="The learner's plan cannot open this chapter yet.")
    required_tier: str | None = Field(description="The plan that opens it, when locked.")


class LearningPathRead(BaseModel):
    """The learner's active learning path for a course: valid for 7 days or until the background changes."""

    id: uuid.UUID
    course_id: str
    generator: Literal["rules", "llm"]
    rationale: str | None
    software_experience: str = Field(description="The learner's background when the path was made.")
    hardware_experience: str
    created_at: datetime
    expires_at: datetime
    chapters: list[PathChapter]
