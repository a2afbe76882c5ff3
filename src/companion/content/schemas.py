"""The typed model of a course content pack: course, modules, chapters, sections, quizzes, questions."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, model_validator

from companion.access.tiers import Tier

Difficulty = Literal["beginner", "intermediate", "advanced"]
Severity = Literal["error", "warning"]

# Ids end up in URLs and object-store keys, so they are restricted to URL-safe characters.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def slugify(text: str) -> str:
    """A lowercase URL-safe slug of `text` (letters, digits and dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


# --- Quizzes -----------------------------------------------------------------------------------


class Option(BaseModel):
    """One answer choice of a multiple choice or multiple select question."""

    id: str
    text: str


class _QuestionBase(BaseModel):
    question_id: str
    question_text: str
    explanation: str | None = None
    points: int = Field(default=1, ge=0)


class MultipleChoiceQuestion(_QuestionBase):
    """Exactly one option is correct."""

    type: Literal["multiple_choice"] = "multiple_choice"
    options: list[Option]
    correct_answer: str


class MultipleSelectQuestion(_QuestionBase):
    """A set of options is correct; the learner must pick exactly that set."""

    type: Literal["multiple_select"] = "multiple_select"
    options: list[Option]
    correct_answers: list[str]


class TrueFalseQuestion(_QuestionBase):
    """A statement that is either true or false."""

    type: Literal["true_false"] = "true_false"
    correct_answer: bool


class ShortAnswerQuestion(_QuestionBase):
    """A short free-text answer compared (normalised) against accepted answers."""

    type: Literal["short_answer"] = "short_answer"
    accepted_answers: list[str]


class OpenEndedQuestion(_QuestionBase):
    """A free-text answer graded against a rubric, never automatically in the core."""

    type: Literal["open_ended"] = "open_ended"
    rubric: dict[str, str] = Field(default_factory=dict)
    sample_answer: str | None = None


Question = Annotated[
    MultipleChoiceQuestion
    | MultipleSelectQuestion
    | TrueFalseQuestion
    | ShortAnswerQuestion
    | OpenEndedQuestion,
    Field(discriminator="type"),
]
QUESTION_TYPES = ("multiple_choice", "multiple_select", "true_false", "short_answer", "open_ended")


class LearnerQuestion(BaseModel):
    """A question as shown to a learner: no answers, rubric, sample answer or explanation."""

    question_id: str
    type: str
    question_text: str
    points: int
    options: list[Option] | None = None


class LearnerQuiz(BaseModel):
    """A quiz as served to a learner; it never contains anything that reveals an answer."""

    quiz_id: str
    chapter_id: str
    title: str
    description: str
    time_limit_minutes: int | None
    passing_score: int
    total_points: int
    questions: list[LearnerQuestion]


class Quiz(BaseModel):
    """A chapter's quiz with its answer key."""

    quiz_id: Identifier
    chapter_id: str
    title: str
    description: str = ""
    time_limit_minutes: int | None = Field(default=None, ge=1)
    passing_score: int = Field(default=70, ge=0, le=100)
    questions: list[Question]

    def total_points(self) -> int:
        """The sum of the points of every question."""
        return sum(question.points for question in self.questions)

    def question(self, question_id: str) -> Question | None:
        """The question with this id, or None."""
        return next((q for q in self.questions if q.question_id == question_id), None)

    def for_learner(self) -> LearnerQuiz:
        """The learner-facing view of this quiz, without any answer material."""
        return LearnerQuiz(
            quiz_id=self.quiz_id,
            chapter_id=self.chapter_id,
            title=self.title,
            description=self.description,
            time_limit_minutes=self.time_limit_minutes,
            passing_score=self.passing_score,
            total_points=self.total_points(),
            questions=[_learner_question(question) for question in self.questions],
        )


def _learner_question(question: Question) -> LearnerQuestion:
    # Fields are copied one by one (never model_dump) so that a new answer field can never leak.
    options = None
    if isinstance(question, MultipleChoiceQuestion | MultipleSelectQuestion):
        options = [Option(id=option.id, text=option.text) for option in question.options]
    return LearnerQuestion(
        question_id=question.question_id,
        type=question.type,
        question_text=question.question_text,
        points=question.points,
        options=options,
    )


# --- Chapters ----------------------------------------------------------------------------------


class Section(BaseModel):
    """One section of a chapter; unknown fields of the source format are kept."""

    model_config = ConfigDict(extra="allow")

    section_id: Identifier
    title: str
    order: int
    content_markdown: str
    examples: list[dict[str, Any]] = Field(default_factory=list)
    key_concepts: list[str] = Field(default_factory=list)
    estimated_time_minutes: int | None = None
    timeline: list[dict[str, Any]] = Field(default_factory=list)
    anchor: str = ""

    @model_validator(mode="after")
    def _default_anchor(self) -> Section:
        if not self.anchor:
            self.anchor = slugify(self.section_id)
        return self


class Chapter(BaseModel):
    """One chapter with its ordered sections; unknown fields of the source format are kept."""

    model_config = ConfigDict(extra="allow")

    chapter_id: Identifier
    chapter_number: int
    title: str
    subtitle: str = ""
    module: str | None = None
    difficulty_level: Difficulty = "beginner"
    topics: list[str] = Field(default_factory=list)
    learning_objectives: list[str] = Field(default_factory=list)
    estimated_time_minutes: int | None = None
    prerequisites: list[str] = Field(default_factory=list)
    access_tier: Tier
    sections: list[Section]
    summary: str = ""
    next_chapter_id: str | None = None

    @model_validator(mode="after")
    def _sort_sections(self) -> Chapter:
        # Sections are served in `order`; a stable sort keeps file order for equal values.
        self.sections = sorted(self.sections, key=lambda section: section.order)
        return self

    def section(self, section_id: str) -> Section | None:
        """The section with this id, or None."""
        return next((s for s in self.sections if s.section_id == section_id), None)


# --- Course and pack ---------------------------------------------------------------------------


class Module(BaseModel):
    """A named group of chapters."""

    id: Identifier
    title: str
    chapters: list[str] = Field(default_factory=list)


class Course(BaseModel):
    """Course metadata and the order of its chapters."""

    id: Identifier
    title: str
    description: str = ""
    language: str = "en"
    modules: list[Module] = Field(default_factory=list)
    chapters: list[str]


class SectionRef(NamedTuple):
    """A section together with the chapter it belongs to."""

    chapter: Chapter
    section: Section


class ContentPack(BaseModel):
    """A validated course: its chapters in course order, its quizzes, and its content hash as version."""

    course: Course
    chapters: list[Chapter]
    quizzes: list[Quiz] = Field(default_factory=list)
    version: str = ""

    _chapters: dict[str, Chapter] = PrivateAttr(default_factory=dict)
    _quizzes: dict[str, Quiz] = PrivateAttr(default_factory=dict)
    _quiz_by_chapter: dict[str, Quiz] = PrivateAttr(default_factory=dict)
    _reading_order: list[SectionRef] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        """Compute the version when missing and build the lookup indexes."""
        if not self.version:
            self.version = self.content_hash()
        self._chapters = {chapter.chapter_id: chapter for chapter in self.chapters}
        self._quizzes = {quiz.quiz_id: quiz for quiz in self.quizzes}
        self._quiz_by_chapter = {quiz.chapter_id: quiz for quiz in self.quizzes}
        self._reading_order = [SectionRef(ch, section) for ch in self.chapters for section in ch.sections]

    def content_hash(self) -> str:
        """The sha256 of the pack's canonical JSON, ignoring the stored version itself."""
        body = self.model_dump(mode="json", exclude={"version"})
        return hashlib.sha256(_canonical_json(body).encode("utf-8")).hexdigest()

    def canonical_json(self) -> str:
        """The whole pack, version included, as JSON with sorted keys and no insignificant whitespace."""
        return _canonical_json(self.model_dump(mode="json"))

    def chapter(self, chapter_id: str) -> Chapter | None:
        """The chapter with this id, or None."""
        return self._chapters.get(chapter_id)

    def section(self, chapter_id: str, section_id: str) -> Section | None:
        """The section of a chapter, or None when either does not exist."""
        chapter = self.chapter(chapter_id)
        return chapter.section(section_id) if chapter else None

    def quiz(self, quiz_id: str) -> Quiz | None:
        """The quiz with this id, or None."""
        return self._quizzes.get(quiz_id)

    def quiz_for_chapter(self, chapter_id: str) -> Quiz | None:
        """The quiz of a chapter, or None when it has none."""
        return self._quiz_by_chapter.get(chapter_id)

    def next_chapter_id(self, chapter_id: str) -> str | None:
        """The chapter after this one in course order, or None at the end (or for an unknown id)."""
        return self._neighbour_chapter_id(chapter_id, step=1)

    def previous_chapter_id(self, chapter_id: str) -> str | None:
        """The chapter before this one in course order, or None at the start (or for an unknown id)."""
        return self._neighbour_chapter_id(chapter_id, step=-1)

    def next_section(self, chapter_id: str, section_id: str) -> SectionRef | None:
        """The section after this one, continuing into the next chapter; None at the end of the course."""
        return self._neighbour_section(chapter_id, section_id, step=1)

    def previous_section(self, chapter_id: str, section_id: str) -> SectionRef | None:
        """The section before this one, going back into the previous chapter; None at the start."""
        return self._neighbour_section(chapter_id, section_id, step=-1)

    def _neighbour_chapter_id(self, chapter_id: str, *, step: int) -> str | None:
        ids = [chapter.chapter_id for chapter in self.chapters]
        if chapter_id not in ids:
            return None
        index = ids.index(chapter_id) + step
        return ids[index] if 0 <= index < len(ids) else None

    def _neighbour_section(self, chapter_id: str, section_id: str, *, step: int) -> SectionRef | None:
        for index, ref in enumerate(self._reading_order):
            if ref.chapter.chapter_id == chapter_id and ref.section.section_id == section_id:
                neighbour = index + step
                return self._reading_order[neighbour] if 0 <= neighbour < len(self._reading_order) else None
        return None


def _canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- Validation problems -----------------------------------------------------------------------


class Problem(BaseModel):
    """One problem found in a content pack, located by file and position within it."""

    file: str
    location: str = ""
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.location}" if self.location else self.file
        return f"{where}: {self.severity}: {self.message}"
