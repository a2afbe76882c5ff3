"""Response bodies of the content API (the pack model itself lives in schemas.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from companion.content.schemas import Chapter, LearnerQuiz, Section
from companion.progress.schemas import ChapterStateSummary


class Access(BaseModel):
    """Whether the caller may open something, the tier it needs, and why."""

    allowed: bool
    required_tier: str
    current_tier: str
    reason: str


class CourseSummary(BaseModel):
    """A course in the catalogue."""

    course_id: str
    title: str
    description: str
    language: str
    chapter_count: int
    free_chapter_count: int
    content_version: str


# How much of each chapter the outline carries: its section count, or its sections too.
OutlineDetail = Literal["chapters", "sections"]


class SectionSummary(BaseModel):
    """A section's place in the table of contents."""

    section_id: str
    title: str
    anchor: str
    estimated_time_minutes: int | None


class ChapterOutline(BaseModel):
    """A chapter in the course outline, with the caller's access and progress."""

    chapter_id: str
    chapter_number: int
    title: str
    subtitle: str
    module: str | None
    difficulty_level: str
    estimated_time_minutes: int | None
    prerequisites: list[str]
    access_tier: str
    access: Access
    quiz_id: str | None
    section_count: int
    sections: list[SectionSummary] | None = Field(
        default=None, description="The chapter's sections, with `detail=sections`; null otherwise."
    )
    progress: ChapterStateSummary | None = Field(description="Your progress; null when anonymous.")


class ModuleOutline(BaseModel):
    """A module in the course outline; its chapter ids are listed with `detail=sections`."""

    id: str
    title: str
    parent: str | None
    description: str
    collapsed: bool
    chapters: list[str] | None = Field(
        default=None,
        description="The module's chapter ids, with `detail=sections`; each chapter names its module.",
    )


class CourseOutline(BaseModel):
    """A course's table of contents for the caller."""

    course_id: str
    title: str
    description: str
    content_version: str
    modules: list[ModuleOutline]
    chapter_count: int = Field(description="Chapters in the course; `chapters` holds this page of them.")
    chapters: list[ChapterOutline]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page of chapters; null on the last page."
    )


class ChapterRead(Chapter):
    """A chapter verbatim, with its quiz and neighbours."""

    course_id: str
    content_version: str
    quiz_id: str | None
    previous_chapter_id: str | None


class SectionLink(BaseModel):
    """Where a neighbouring section is."""

    chapter_id: str
    section_id: str
    title: str


class SectionRead(BaseModel):
    """One section verbatim, with its chapter and neighbours."""

    course_id: str
    content_version: str
    chapter_id: str
    chapter_title: str
    section: Section
    previous: SectionLink | None
    next: SectionLink | None


class ChapterNeighbour(BaseModel):
    """The chapter before or after another, if any, and whether the caller may open it."""

    direction: str
    chapter_id: str | None
    title: str | None
    access: Access | None
    message: str


class SectionNeighbour(BaseModel):
    """The section before or after another, if any (crossing chapter boundaries)."""

    direction: str
    section: SectionLink | None
    access: Access | None
    message: str


class QuizRead(LearnerQuiz):
    """A quiz as a learner sees it: never answers, rubrics or sample answers."""

    course_id: str
    content_version: str


class AccessCheck(Access):
    """The gate's answer for a chapter, quiz or feature."""

    course_id: str | None = None
    chapter_id: str | None = None
    quiz_id: str | None = None
    feature: str | None = None

    @classmethod
    def build(cls, decision: Any, **subject: str | None) -> AccessCheck:
        """From an AccessDecision and what was asked about."""
        return cls(
            allowed=decision.allowed,
            required_tier=decision.required_tier,
            current_tier=decision.current_tier,
            reason=decision.reason,
            **subject,
        )
