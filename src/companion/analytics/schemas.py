"""Analytics response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DailyActive(BaseModel):
    day: str
    learners: int


class ActiveLearners(BaseModel):
    """Distinct learners with any learning action in each period."""

    today: int
    last_7_days: int
    last_30_days: int
    daily: list[DailyActive]


class Retention(BaseModel):
    """Of the learners active 14 to 28 days ago, how many were active in the last 14 days."""

    active_previous_14_days: int
    active_last_14_days: int
    retained: int
    retention_rate: float | None
    churn_rate: float | None
    churned_learners: int  # active once, nothing for 14 days or more


class ChapterFunnelStep(BaseModel):
    course_id: str
    chapter_id: str
    title: str
    started: int
    completed: int
    completion_rate: float | None


class QuizResult(BaseModel):
    course_id: str
    quiz_id: str
    title: str
    attempts: int
    passed: int
    pass_rate: float | None
    average_score: float


class MissedQuestion(BaseModel):
    course_id: str
    quiz_id: str
    question_id: str
    question_text: str
    misses: int


class Conversions(BaseModel):
    """Subscription changes in the window: free → paid, upgrades, step-downs, cancels, expiries."""

    signups: int
    free_to_paid: int
    conversion_rate: float | None
    upgrades: int
    step_downs: int
    cancellations: int
    expirations: int
    by_tier: dict[str, int]


class AnalyticsReport(BaseModel):
    """The course owner's numbers over the last `days` days (funnel and tier mix: all time, now).

    Activity, quiz results and missed questions come from daily roll-ups that the
    `refresh-analytics` job rebuilds every 15 minutes; `rollup_refreshed_at` says when it last did.
    """

    generated_at: datetime
    rollup_refreshed_at: datetime | None
    days: int
    active_learners: ActiveLearners
    retention: Retention
    chapter_funnel: list[ChapterFunnelStep]
    quizzes: list[QuizResult]
    most_missed_questions: list[MissedQuestion]
    tier_mix: dict[str, int]
    conversions: Conversions


class MemberSummary(BaseModel):
    """One learner's progress, quiz results and activity, for a team owner."""

    user_id: str
    email: str
    full_name: str | None
    joined_at: datetime | None
    chapters_started: int = 0
    chapters_completed: int = 0
    time_spent_seconds: int = 0
    quiz_attempts: int = 0
    quizzes_passed: int = 0
    average_score: float | None = None
    best_score: float | None = None
    current_streak: int = 0
    active_days: int = 0
    last_active_at: datetime | None = None
