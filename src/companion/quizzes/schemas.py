"""Quiz attempt request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from companion.content.schemas import LearnerQuiz

ANSWERS_DESCRIPTION = (
    "One answer per question id: an option id for multiple_choice, a list of option ids for "
    "multiple_select, a JSON boolean for true_false, text for short_answer and open_ended."
)


# No quiz has more questions than this; a longer answer map is refused before grading.
MAX_QUESTIONS = 200


class AttemptSubmit(BaseModel):
    """The answers to a started attempt."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[Annotated[str, Field(max_length=100)], Any] = Field(
        max_length=MAX_QUESTIONS, description=ANSWERS_DESCRIPTION
    )


class QuizSubmit(AttemptSubmit):
    """Answers submitted without starting an attempt first (start and submit in one call)."""

    time_taken_seconds: int | None = Field(
        default=None,
        ge=0,
        le=7 * 24 * 3600,
        description="How long the learner took, as measured by the client; beyond the time limit it is late.",
    )


class CriterionResult(BaseModel):
    """How an open-ended answer meets one rubric criterion."""

    criterion: str = Field(min_length=1, max_length=200)
    score: float = Field(ge=0, le=1, description="0 (not met) to 1 (fully met).")
    comment: str = Field(default="", max_length=2000)


class OpenAnswerGrade(BaseModel):
    """A grade for one open-ended answer: points, feedback for the learner, and per-criterion scores."""

    model_config = ConfigDict(extra="forbid")

    earned_points: float = Field(ge=0, description="At most the question's points.")
    feedback: str = Field(min_length=1, max_length=5000)
    criteria: list[CriterionResult] = Field(default_factory=list, max_length=50)


class InstructorGrades(BaseModel):
    """An instructor's grades for open-ended answers of one attempt, keyed by question id."""

    model_config = ConfigDict(extra="forbid")

    grades: dict[Annotated[str, Field(max_length=100)], OpenAnswerGrade] = Field(min_length=1, max_length=200)


class QuestionResult(BaseModel):
    """How one answer was graded; shown only once the attempt is submitted."""

    question_id: str
    type: str
    status: Literal["correct", "incorrect", "partial", "pending"]
    correct: bool | None = Field(description="None while an open-ended answer awaits grading.")
    answer: Any
    correct_answer: Any = Field(description="The key (a sample answer for open-ended questions).")
    explanation: str | None
    points: int
    earned_points: float
    graded_by: Literal["key", "llm", "instructor"] | None = Field(
        default=None, description="Who graded an open-ended answer: the LLM grader or an instructor."
    )
    feedback: str | None = None
    criteria: list[CriterionResult] | None = None


class AttemptSummary(BaseModel):
    """One attempt at a quiz, without the answers."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    course_id: str
    quiz_id: str
    chapter_id: str
    attempt_number: int
    status: Literal["started", "submitted"]
    started_at: datetime
    deadline_at: datetime | None = Field(description="Set for timed quizzes.")
    submitted_at: datetime | None
    time_taken_seconds: int | None
    is_late: bool = Field(
        description="Submitted after the time limit (plus 30 s grace): still graded and counted, but flagged."
    )
    score: float | None = Field(
        description="0-100 over the graded answers; answers awaiting grading (pending_points) are left out."
    )
    passed: bool | None = Field(
        description="Whether the attempt reached the passing_score over all its points. While answers "
        "await grading it is set only if they cannot change the outcome, otherwise None."
    )
    grading_status: Literal["complete", "awaiting_grading"] | None = Field(
        description="awaiting_grading while open-ended answers are pending; None before submission."
    )
    total_questions: int
    correct_answers: int
    pending_questions: int = Field(description="Open-ended answers awaiting a grader.")
    earned_points: float = Field(description="Points earned on the graded answers.")
    pending_points: float = Field(description="Points of the answers awaiting a grader.")
    total_points: float = Field(description="Points of all questions, graded or pending.")


class AttemptStarted(AttemptSummary):
    """A freshly started attempt with the quiz to answer (never the answer key)."""

    quiz: LearnerQuiz


class AttemptRead(AttemptSummary):
    """An attempt with the learner's answers and, once submitted, the grading of each question."""

    answers: dict[str, Any]
    grading_details: dict[str, QuestionResult] | None = Field(description="Keyed by question id.")


class AttemptHistory(BaseModel):
    """A learner's attempts at one quiz, oldest first, with the best score."""

    course_id: str
    quiz_id: str
    best_score: float | None
    passed: bool
    attempts_count: int
    attempts: list[AttemptSummary]


class QuizScoreSummary(BaseModel):
    """A learner's best result on one quiz."""

    quiz_id: str
    best_score: float | None
    passed: bool
    attempts: int
