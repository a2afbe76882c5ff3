"""Retention jobs change exactly what has expired, once, even when two schedulers fire together."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.cli import app as cli
from companion.db import utcnow
from companion.jobs.registry import JOBS, run_job
from companion.oauth.models import OAuthAuthorizationCode, OAuthClient, OAuthGrant
from companion.premium.models import PersonalizedContentCache, TranslationCache
from companion.progress.models import LearningSession
from companion.recommendations.models import LearningPathRecommendation
from companion.tutor.models import ChatConversation, ChatMessage
from tests.conftest import SignUp


def _personalized(user_id: uuid.UUID, chapter_id: str, expires_at: datetime) -> PersonalizedContentCache:
    return PersonalizedContentCache(
        user_id=user_id,
        course_id="genai-fundamentals",
        chapter_id=chapter_id,
        content_hash="h",
        original_content="original",
        personalized_content="rewritten",
        software_experience="beginner",
        hardware_experience="none",
        expires_at=expires_at,
    )


def _code(user_id: uuid.UUID, name: str, expires_at: datetime) -> OAuthAuthorizationCode:
    return OAuthAuthorizationCode(
        code_hash=name.ljust(64, "0"),
        client_id="client-1",
        user_id=user_id,
        code_challenge="challenge",
        redirect_uri="https://example.com/callback",
        redirect_uri_provided_explicitly=True,
        expires_at=expires_at,
    )


def _grant(
    user_id: uuid.UUID, name: str, *, refresh_expires_at: datetime, revoked_at: datetime | None = None
) -> OAuthGrant:
    return OAuthGrant(
        client_id="client-1",
        user_id=user_id,
        family_id=uuid.uuid4(),
        access_token_hash=("a" + name).ljust(64, "0"),
        refresh_token_hash=("r" + name).ljust(64, "0"),
        access_expires_at=refresh_expires_at,
        refresh_expires_at=refresh_expires_at,
        revoked_at=revoked_at,
    )


async def _seed(
    db_session: AsyncSession, user_id: uuid.UUID, other_id: uuid.UUID, now: datetime
) -> dict[str, int]:
    """Expired and live rows for every job; returns how many rows each job must change."""
    hour, day = timedelta(hours=1), timedelta(days=1)
    # purge-chats: two expired conversations (one with messages, deleted by cascade), one live.
    old = [
        ChatConversation(user_id=user_id, title=f"old {n}", created_at=now - 25 * hour, expires_at=now - hour)
        for n in range(2)
    ]
    fresh = ChatConversation(user_id=user_id, title="fresh", expires_at=now + 23 * hour)
    # end-idle-sessions: two idle for over 30 minutes, one active, one already ended.
    idle = [
        LearningSession(
            user_id=user_id,
            interface="web",
            started_at=now - 2 * hour,
            last_activity_at=now - 30 * minutes - timedelta(minutes=10),
        )
        for minutes in (timedelta(minutes=1), timedelta(minutes=2))
    ]
    active = LearningSession(user_id=user_id, interface="api", started_at=now - hour, last_activity_at=now)
    ended = LearningSession(
        user_id=user_id,
        interface="chatgpt",
        started_at=now - 3 * hour,
        last_activity_at=now - 2 * hour,
        ended_at=now - 2 * hour,
    )
    # expire-recommendations: one expired and active, one expired but already retired, and another
    # learner's live one (a learner has at most one active path).
    paths = [
        LearningPathRecommendation(
            user_id=owner,
            course_id=course_id,
            recommended_chapters=[],
            software_experience="beginner",
            hardware_experience="none",
            expires_at=expires_at,
            is_active=is_active,
        )
        for owner, course_id, expires_at, is_active in (
            (user_id, "genai-fundamentals", now - day, True),
            (user_id, "genai-fundamentals", now - 2 * day, False),
            (other_id, "other-course", now + day, True),
        )
    ]
    # purge-personalized: three expired, one live.
    personalized = [_personalized(user_id, f"0{n}-chapter", now - day) for n in range(3)]
    personalized.append(_personalized(user_id, "09-chapter", now + 29 * day))
    # purge-oauth: one expired code, one live; one revoked grant, one refresh-expired, one live.
    client = OAuthClient(client_id="client-1", client_name="Assistant", registration={})
    codes = [_code(user_id, "expired", now - hour), _code(user_id, "live", now + hour)]
    grants = [
        _grant(user_id, "revoked", refresh_expires_at=now + day, revoked_at=now - hour),
        _grant(user_id, "expired", refresh_expires_at=now - hour),
        _grant(user_id, "live", refresh_expires_at=now + day),
    ]
    db_session.add_all([*old, fresh, *idle, active, ended, *paths, *personalized, client])
    await db_session.flush()
    db_session.add_all([*codes, *grants])
    db_session.add(ChatMessage(conversation_id=old[0].id, role="user", content="hi", sequence_number=1))
    # expire-subscriptions: this learner's premium lapsed yesterday.
    user = await db_session.get(User, user_id)
    assert user is not None
    await billing_service.change_tier(db_session, user=user, tier="premium", expires_at=now - day)
    # purge-translations: one unopened for 91 days, one opened yesterday.
    for days_idle in (91, 1):
        db_session.add(
            TranslationCache(
                course_id="genai-fundamentals",
                chapter_id="01-intro-genai",
                language="ur",
                content_hash=f"sha256:{days_idle}",
                translated_content="{}",
                last_accessed_at=now - days_idle * day,
            )
        )
    await db_session.commit()
    return {
        "purge-chats": 2,
        "end-idle-sessions": 2,
        "expire-recommendations": 1,
        "purge-personalized": 3,
        "purge-translations": 1,
        "expire-subscriptions": 1,
        "purge-oauth": 3,
    }


async def test_each_job_changes_exactly_what_expired_once(
    app: FastAPI, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    user_id = uuid.UUID(learner["user"]["id"])
    now = utcnow()
    other_id = uuid.UUID((await sign_up())["user"]["id"])
    expected = await _seed(db_session, user_id, other_id, now)
    # The retention jobs; refresh-analytics rebuilds roll-ups (tests/analytics covers it).
    jobs = [job for job in JOBS.values() if job.name != "refresh-analytics"]
    assert set(expected) == {job.name for job in jobs}, "every retention job needs seeded data here"

    # Two schedulers firing at the same moment: between them each expired row is changed once.
    counts = await asyncio.gather(
        *(run_job(app.state.sessionmaker, job, now=now) for job in jobs for _ in range(2))
    )
    changed = {job.name: counts[2 * index] + counts[2 * index + 1] for index, job in enumerate(jobs)}
    assert changed == expected
    # A third run finds nothing left to do.
    again = {job.name: await run_job(app.state.sessionmaker, job, now=now) for job in jobs}
    assert again == dict.fromkeys(expected, 0)

    db_session.expire_all()
    assert list(await db_session.scalars(select(ChatConversation.title))) == ["fresh"]
    assert await db_session.scalar(select(func.count()).select_from(ChatMessage)) == 0
    sessions = {row.interface: row for row in await db_session.scalars(select(LearningSession))}
    assert sessions["api"].ended_at is None
    idle = list(await db_session.scalars(select(LearningSession).where(LearningSession.interface == "web")))
    # An idle session ends at its last activity, not when the job noticed.
    assert [session.ended_at == session.last_activity_at for session in idle] == [True, True]
    active_paths = await db_session.scalars(
        select(LearningPathRecommendation.course_id).where(LearningPathRecommendation.is_active)
    )
    assert list(active_paths) == ["other-course"]
    kept = await db_session.scalars(select(PersonalizedContentCache.chapter_id))
    assert list(kept) == ["09-chapter"]
    assert [code.code_hash[:4] for code in await db_session.scalars(select(OAuthAuthorizationCode))] == [
        "live"
    ]
    assert [grant.access_token_hash[:5] for grant in await db_session.scalars(select(OAuthGrant))] == [
        "alive"
    ]
    assert list(await db_session.scalars(select(TranslationCache.content_hash))) == ["sha256:1"]
    refreshed = await db_session.get(User, user_id)
    assert refreshed is not None and refreshed.subscription_tier == "free"


def test_cli_lists_jobs_and_rejects_unknown_names() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["jobs", "list"])
    assert listed.exit_code == 0 and all(name in listed.output for name in JOBS)
    unknown = runner.invoke(cli, ["jobs", "run", "nope"])
    assert unknown.exit_code == 2 and "unknown job" in unknown.output
