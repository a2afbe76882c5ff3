"""Learning-record request and response bodies: chapter progress, dashboard, streak, sessions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from companion.quizzes.schemas import QuizScoreSummary

ChapterState = Literal["not_started", "in_progress", "completed"]
Interface = Literal["web", "chatgpt", "claude", "mcp", "api"]


class ProgressUpdate(BaseModel):
    """A section read and/or time spent in a chapter, and optionally its explicit completion."""

    model_config = ConfigDict(extra="forbid")

    section_id: str | None = Field(
        default=None, max_length=200, description="The section read; it becomes the resume point."
    )
    time_spent_seconds: int = Field(default=0, ge=0, le=24 * 3600, description="Time to add to the chapter.")
    completed: bool | None = Field(
        default=None,
        description="true completes the chapter (as does reading all sections or passing its quiz).",
    )


class ChapterStateSummary(BaseModel):
    """A learner's state in one chapter, for the course outline."""

    state: ChapterState
    completion_percentage: float
    last_section_id: str | None


class ChapterProgressRead(ChapterStateSummary):
    """A learner's record in one chapter."""

    course_id: str
    chapter_id: str
    sections_read: list[str]
    time_spent_seconds: int
    started_at: datetime | None
    completed_at: datetime | None


class StreakRead(BaseModel):
    """The learner's daily streak, as of today in the learner's time zone."""

    current_streak: int = Field(description="0 once a day was missed that no freeze covers.")
    longest_streak: int
    total_active_days: int
    last_activity_date: date | None
    active_today: bool
    freeze_held: bool
    timezone: str
    today: date


class ChapterProgressItem(ChapterStateSummary):
    """One chapter on the dashboard."""

    chapter_id: str
    chapter_number: int
    title: str
    access_tier: str
    locked: bool = Field(description="The learner's tier cannot open this chapter.")
    prerequisites_met: bool
    time_spent_seconds: int
    completed_at: datetime | None
    quiz: QuizScoreSummary | None


class NextChapter(BaseModel):
    """What to study next, or why there is nothing to open."""

    chapter_id: str | None
    title: str | None
    resume_section_id: str | None
    reason: str
    upgrade_required: bool
    required_tier: str | None


class CourseProgress(BaseModel):
    """A learner's progress through one course."""

    course_id: str
    title: str
    content_version: str
    chapters_total: int
    chapters_completed: int
    completion_percentage: float = Field(
        description="Mean over chapters, a completed chapter counting 100 and others their sections read."
    )
    time_spent_seconds: int
    locked_chapters: list[str]
    next_chapter: NextChapter
    chapters: list[ChapterProgressItem]


class CourseDashboard(CourseProgress):
    """One course's progress with the learner's streak."""

    streak: StreakRead


class ProgressDashboard(BaseModel):
    """Every course's progress with the learner's streak."""

    streak: StreakRead
    courses: list[CourseProgress]


class LearningSessionCreate(BaseModel):
    """The start of a sitting in one interface."""

    model_config = ConfigDict(extra="forbid")

    interface: Interface
    device: str | None = Field(default=None, max_length=100, description="e.g. desktop, mobile, tablet")
    metadata: dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict,
        max_length=20,
        description="Small client facts, e.g. app version: at most 20 entries, keys up to 50 and values up "
        "to 200 characters.",
    )


class LearningSessionUpdate(BaseModel):
    """Ending a sitting."""

    model_config = ConfigDict(extra="forbid")

    ended: Literal[True] = True


class LearningSessionRead(BaseModel):
    """A sitting: when, where, and what the learner touched."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    interface: Interface
    started_at: datetime
    last_activity_at: datetime
    ended_at: datetime | None
    interaction_count: int
    chapters_accessed: list[str]
    quizzes_taken: list[str]
    metadata: dict[str, Any] = Field(validation_alias="session_metadata")
