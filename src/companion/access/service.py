"""The gate: for any (user, chapter | quiz | feature) — allowed or not, the tier required, and why."""

from __future__ import annotations

from dataclasses import dataclass

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.content.schemas import Chapter, ContentPack
from companion.errors import NotFound, UpgradeRequired

# Hybrid (LLM) features and premium extras, with the lowest tier that includes each.
FEATURE_TIERS: dict[str, str] = {
    "streak_freeze": "premium",
    "adaptive_path": "pro",
    "llm_grading": "pro",
    "synthesis": "pro",
    "tutor_synthesis": "pro",
    "personalization": "pro",
    "translation": "pro",
    "teams": "team",
    "team_analytics": "team",
}

TIER_NAMES = {"free": "Free", "premium": "Premium", "pro": "Pro", "team": "Team"}


@dataclass(frozen=True)
class AccessDecision:
    """The gate's answer, with a reason a learner can read."""

    allowed: bool
    required_tier: str
    current_tier: str
    reason: str

    def enforce(self) -> None:
        """Raise `upgrade_required` when access is refused."""
        if not self.allowed:
            raise UpgradeRequired(
                self.reason, required_tier=self.required_tier, current_tier=self.current_tier
            )


def tier_of(user: User | None) -> str:
    """The tier a caller may use now (anonymous callers are free; lapsed subscriptions are free)."""
    return "free" if user is None else billing_service.effective_tier(user)


def _decide(user: User | None, required: str, what: str) -> AccessDecision:
    current = tier_of(user)
    if billing_service.tier_includes(current, required):
        return AccessDecision(
            True, required, current, f"{what} is included in your {TIER_NAMES[current]} plan."
        )
    if user is None:
        reason = f"{what} needs a {TIER_NAMES[required]} plan. Sign in and upgrade to open it."
    else:
        reason = (
            f"{what} is part of the {TIER_NAMES[required]} plan; you are on {TIER_NAMES[current]}. "
            f"Upgrade to {TIER_NAMES[required]} to open it."
        )
    return AccessDecision(False, required, current, reason)


def check_chapter(user: User | None, chapter: Chapter) -> AccessDecision:
    """May the caller open this chapter?"""
    return _decide(user, chapter.access_tier, f'Chapter "{chapter.title}"')


def check_quiz(user: User | None, pack: ContentPack, quiz_id: str) -> AccessDecision:
    """May the caller take this quiz? A quiz is open to whoever may open its chapter."""
    quiz = pack.quiz(quiz_id)
    if quiz is None:
        raise NotFound(f"No quiz '{quiz_id}' in course '{pack.course.id}'.")
    chapter = pack.chapter(quiz.chapter_id)
    if chapter is None:
        raise NotFound(f"Quiz '{quiz_id}' belongs to no chapter.")
    decision = check_chapter(user, chapter)
    return AccessDecision(
        decision.allowed,
        decision.required_tier,
        decision.current_tier,
        decision.reason.replace(f'Chapter "{chapter.title}"', f'The quiz "{quiz.title}"', 1),
    )


def check_feature(user: User | None, feature: str) -> AccessDecision:
    """May the caller use this feature (e.g. `streak_freeze`, `adaptive_path`)?"""
    required = FEATURE_TIERS.get(feature)
    if required is None:
        raise NotFound(f"Unknown feature '{feature}'.", details={"features": sorted(FEATURE_TIERS)})
    return _decide(user, required, f"The {feature.replace('_', ' ')} feature")
