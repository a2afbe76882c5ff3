"""The gate: for any (user, chapter | quiz | feature) — allowed or not, the tier required, and why."""

from __future__ import annotations

from dataclasses import dataclass

from companion.access.tiers import TIER_NAMES, Tier, tier_includes
from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.content import service as content_service
from companion.content.responses import AccessCheck
from companion.content.schemas import Chapter, ContentPack
from companion.content.service import ContentCatalog
from companion.errors import NotFound, UpgradeRequired, ValidationFailed

# The paid features that exist today, with the lowest tier that includes each. Only built features
# belong here: the gate tells learners their plan includes what this table names.
FEATURE_TIERS: dict[str, Tier] = {
    "streak_freeze": "premium",
    # The premium (LLM) features of `companion.premium`; team includes pro.
    "personalization": "pro",
    "translation": "pro",
    "tutor_synthesis": "pro",
    "adaptive_path": "pro",
    "llm_grading": "pro",
    "synthesis": "pro",
    "teams": "team",
    "team_analytics": "team",
}


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
    if tier_includes(current, required):
        if user is None:  # an anonymous caller has no plan: only free content opens for them
            return AccessDecision(
                True, required, current, f"{what} is free: open to everyone, no sign-in needed."
            )
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
    quiz = content_service.get_quiz(pack, quiz_id)
    chapter = content_service.get_chapter(pack, quiz.chapter_id)
    decision = check_chapter(user, chapter)
    return AccessDecision(
        decision.allowed,
        decision.required_tier,
        decision.current_tier,
        decision.reason.replace(f'Chapter "{chapter.title}"', f'The quiz "{quiz.title}"', 1),
    )


def check_feature(user: User | None, feature: str) -> AccessDecision:
    """May the caller use this feature (one of `FEATURE_TIERS`)?"""
    required = FEATURE_TIERS.get(feature)
    if required is None:
        raise NotFound(
            f"Unknown feature '{feature}'. Features: {', '.join(sorted(FEATURE_TIERS))}.",
            details={"argument": "feature", "value": feature, "features": sorted(FEATURE_TIERS)},
        )
    return _decide(user, required, f"The {feature.replace('_', ' ')} feature")


def _invalid(message: str, *fields: str) -> ValidationFailed:
    errors = [{"field": field, "message": message, "type": "value_error"} for field in fields]
    return ValidationFailed(message, details={"errors": errors})


def check_access(
    user: User | None,
    catalog: ContentCatalog,
    *,
    course_id: str | None = None,
    chapter_id: str | None = None,
    quiz_id: str | None = None,
    feature: str | None = None,
) -> AccessCheck:
    """The gate's answer about exactly one chapter (with its course), quiz (with its course) or feature."""
    subjects = {"chapter_id": chapter_id, "quiz_id": quiz_id, "feature": feature}
    asked = [name for name, value in subjects.items() if value]
    if len(asked) != 1:
        raise _invalid("Give exactly one of chapter_id, quiz_id or feature.", *(asked or subjects))
    if feature:
        return AccessCheck.build(check_feature(user, feature), feature=feature)
    if not course_id:
        raise _invalid("course_id is required with chapter_id or quiz_id.", "course_id")
    pack = catalog.pack(course_id)
    if chapter_id:
        decision = check_chapter(user, content_service.get_chapter(pack, chapter_id))
        return AccessCheck.build(decision, course_id=course_id, chapter_id=chapter_id)
    assert quiz_id is not None
    return AccessCheck.build(check_quiz(user, pack, quiz_id), course_id=course_id, quiz_id=quiz_id)
