"""Retention jobs remove exactly what has expired, and are safe to run twice at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.cli import app as cli
from companion.db import utcnow
from companion.jobs.registry import JOBS, run_job
from companion.recommendations.models import LearningPathRecommendation
from companion.tutor.models import ChatConversation, ChatMessage
from tests.conftest import SignUp


async def test_jobs_remove_only_what_expired(app: FastAPI, sign_up: SignUp, db_session: AsyncSession) -> None:
    learner = await sign_up()
    user_id = uuid.UUID(learner["user"]["id"])
    now = utcnow()
    old = ChatConversation(
        user_id=user_id,
        title="old",
        created_at=now - timedelta(hours=25),
        expires_at=now - timedelta(hours=1),
    )
    fresh = ChatConversation(user_id=user_id, title="fresh", expires_at=now + timedelta(hours=23))
    db_session.add_all([old, fresh])
    await db_session.flush()
    db_session.add(ChatMessage(conversation_id=old.id, role="user", content="hi", sequence_number=1))
    db_session.add(
        LearningPathRecommendation(
            user_id=user_id,
            course_id="genai-fundamentals",
            recommended_chapters=[],
            software_experience="beginner",
            hardware_experience="none",
            expires_at=now - timedelta(days=1),
        )
    )
    user = await db_session.get(User, user_id)
    assert user is not None
    await billing_service.change_tier(
        db_session, user=user, tier="premium", expires_at=now + timedelta(seconds=1)
    )
    await db_session.commit()
    soon = now + timedelta(minutes=1)  # the subscription has lapsed by then; nothing else changes

    # Two schedulers firing at the same moment must not fail or double-count.
    results = await asyncio.gather(
        *(run_job(app.state.sessionmaker, job, now=soon) for job in JOBS.values() for _ in range(2))
    )
    assert all(count >= 0 for count in results)

    db_session.expire_all()
    titles = list(await db_session.scalars(select(ChatConversation.title)))
    assert titles == ["fresh"]
    assert await db_session.scalar(select(func.count()).select_from(ChatMessage)) == 0
    assert not await db_session.scalar(select(LearningPathRecommendation.is_active))
    refreshed = await db_session.get(User, user_id)
    assert refreshed is not None and refreshed.subscription_tier == "free"


def test_cli_lists_jobs_and_rejects_unknown_names() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["jobs", "list"])
    assert listed.exit_code == 0 and "purge-chats" in listed.output
    unknown = runner.invoke(cli, ["jobs", "run", "nope"])
    assert unknown.exit_code == 2 and "unknown job" in unknown.output
