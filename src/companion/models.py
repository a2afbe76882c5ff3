"""Imports every domain's tables so Alembic and tests see the whole schema."""

from companion.accounts.models import ApiKey, RefreshToken, User
from companion.analytics.models import ActivityDay, QuestionMissDay, QuizDay
from companion.billing.models import BillingEvent, Subscription, SubscriptionChange
from companion.db import Base
from companion.jobs.models import JobRun
from companion.llm.models import LLMUsage
from companion.oauth.models import OAuthAuthorizationCode, OAuthClient, OAuthGrant
from companion.premium.models import PersonalizedContentCache, TranslationCache
from companion.progress.models import ChapterProgress, LearningSession, Streak
from companion.quizzes.models import QuizAttempt
from companion.recommendations.models import LearningPathRecommendation
from companion.teams.models import Team, TeamInvitation, TeamMember
from companion.tutor.models import ChatConversation, ChatMessage

__all__ = [
    "ActivityDay",
    "ApiKey",
    "Base",
    "BillingEvent",
    "ChapterProgress",
    "ChatConversation",
    "ChatMessage",
    "JobRun",
    "LLMUsage",
    "LearningPathRecommendation",
    "LearningSession",
    "OAuthAuthorizationCode",
    "OAuthClient",
    "OAuthGrant",
    "PersonalizedContentCache",
    "QuestionMissDay",
    "QuizAttempt",
    "QuizDay",
    "RefreshToken",
    "Streak",
    "Subscription",
    "SubscriptionChange",
    "Team",
    "TeamInvitation",
    "TeamMember",
    "TranslationCache",
    "User",
]
