"""The subscription lifecycle: every transition and job keeps users and subscriptions in agreement."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from companion.accounts import service as accounts_service
from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.billing.models import SubscriptionChange
from companion.cli import app as cli
from companion.config import get_settings
from companion.db import utcnow
from companion.errors import Conflict
from companion.jobs.registry import JOBS, run_job
from tests.billing.conftest import assert_invariant
from tests.conftest import SignUp


async def _user(session: AsyncSession, tokens: dict[str, object]) -> User:
    user = await session.get(User, uuid.UUID(tokens["user"]["id"]))  # type: ignore[index]
    assert user is not None
    return user


async def test_transitions_follow_the_rules_and_never_disagree(
    app: FastAPI, sign_up: SignUp, db_session: AsyncSession
) -> None:
    user = await _user(db_session, await sign_up())
    user_id = user.id
    now = utcnow()
    await assert_invariant(db_session)

    await billing_service.change_tier(
        db_session, user=user, tier="premium", expires_at=now + timedelta(days=30)
    )
    await assert_invariant(db_session)
    await billing_service.change_tier(db_session, user=user, tier="pro", expires_at=now + timedelta(days=30))
    await assert_invariant(db_session)
    with pytest.raises(Conflict):
        await billing_service.change_tier(db_session, user=user, tier="free")
    assert user.subscription_tier == "pro"

    await billing_service.change_tier(
        db_session, user=user, tier="premium", expires_at=now + timedelta(days=2)
    )
    await assert_invariant(db_session)

    canceled = await billing_service.cancel(db_session, user=user, now=now)
    assert (canceled.status, canceled.tier, canceled.auto_renew) == ("canceled", "premium", False)
    assert billing_service.effective_tier(user, now=now) == "premium"  # until expires_at
    await assert_invariant(db_session)
    await db_session.commit()

    # The expiry job at a time after expires_at drops the row and the user together.
    later = now + timedelta(days=3)
    assert billing_service.effective_tier(user, now=later) == "free"  # a stale row never grants access
    assert await run_job(app.state.sessionmaker, JOBS["expire-subscriptions"], now=later) == 1
    assert await run_job(app.state.sessionmaker, JOBS["expire-subscriptions"], now=later) == 0
    db_session.expire_all()
    await assert_invariant(db_session)
    user = await _user(db_session, {"user": {"id": str(user_id)}})
    subscription = await billing_service.get_subscription(db_session, user=user)
    assert (user.subscription_tier, subscription.tier, subscription.status) == ("free", "free", "expired")

    # Renewal after expiry, then every other job leaves the invariant intact.
    await billing_service.change_tier(
        db_session, user=user, tier="pro", expires_at=later + timedelta(days=30)
    )
    await db_session.commit()
    for job in JOBS.values():
        await run_job(app.state.sessionmaker, job, now=later)
        await assert_invariant(db_session)

    history = list(
        await db_session.execute(
            select(SubscriptionChange.to_tier, SubscriptionChange.to_status, SubscriptionChange.source).where(
                SubscriptionChange.user_id == user.id
            )
        )
    )
    assert sorted(history) == sorted(
        [
            ("premium", "active", "admin"),
            ("pro", "active", "admin"),
            ("premium", "active", "admin"),
            ("premium", "canceled", "learner"),
            ("free", "expired", "job"),
            ("pro", "active", "admin"),
        ]
    )


async def test_cancel_without_an_end_date_ends_now_and_on_free_changes_nothing(
    sign_up: SignUp, db_session: AsyncSession
) -> None:
    user = await _user(db_session, await sign_up())
    unchanged = await billing_service.cancel(db_session, user=user)  # on free: nothing to stop
    assert (unchanged.tier, unchanged.status) == ("free", "active")
    await billing_service.change_tier(db_session, user=user, tier="pro")
    subscription = await billing_service.cancel(db_session, user=user)
    assert (subscription.tier, subscription.status, user.subscription_tier) == ("free", "expired", "free")
    await assert_invariant(db_session)


async def test_admin_route_and_cli_share_the_rules(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession, settings: object
) -> None:
    learner = await sign_up()
    admin_tokens = await sign_up(email="boss@example.com")
    admin = await _user(db_session, admin_tokens)
    admin.role = "admin"
    await db_session.commit()
    url = f"/api/v1/admin/users/{learner['user']['id']}/subscription"

    refused = await client.put(url, json={"tier": "pro"}, headers=learner["headers"])
    assert refused.status_code == 403
    expires = (utcnow() + timedelta(days=30)).isoformat()
    granted = await client.put(
        url, json={"tier": "pro", "expires_at": expires}, headers=admin_tokens["headers"]
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["tier"] == "pro" and granted.json()["effective_tier"] == "pro"
    to_free = await client.put(url, json={"tier": "free"}, headers=admin_tokens["headers"])
    assert to_free.status_code == 409 and to_free.json()["error"]["code"] == "conflict"
    no_seats = await client.put(url, json={"tier": "team"}, headers=admin_tokens["headers"])
    assert no_seats.status_code == 422
    past = (utcnow() - timedelta(days=1)).isoformat()
    in_the_past = await client.put(
        url, json={"tier": "pro", "expires_at": past}, headers=admin_tokens["headers"]
    )
    assert in_the_past.status_code == 422 and in_the_past.json()["error"]["code"] == "validation_error"
    missing = await client.put(
        f"/api/v1/admin/users/{uuid.uuid4()}/subscription",
        json={"tier": "pro"},
        headers=admin_tokens["headers"],
    )
    assert missing.status_code == 404
    mine = await client.get("/api/v1/subscription", headers=learner["headers"])
    assert mine.json()["tier"] == "pro" and mine.json()["payment_provider"] == "manual"

    # The CLI goes through the same service (and the same refusal).
    runner = CliRunner()
    get_settings.cache_clear()  # the CLI reads its settings from the environment given here
    env = {"COMPANION_DATABASE_URL": app_database_url(settings)}
    result = await asyncio.to_thread(
        runner.invoke, cli, ["users", "set-tier", learner["user"]["email"], "free"], env=env
    )
    assert result.exit_code == 1 and "cannot drop straight to free" in result.output
    result = await asyncio.to_thread(
        runner.invoke, cli, ["users", "set-tier", learner["user"]["email"], "premium"], env=env
    )
    assert result.exit_code == 0, result.output
    get_settings.cache_clear()
    db_session.expire_all()
    assert (await _user(db_session, learner)).subscription_tier == "premium"
    await assert_invariant(db_session)
    assert await accounts_service.get_user_by_email(db_session, "boss@example.com") is not None


def app_database_url(settings: object) -> str:
    """The test database's URL, for CLI commands run in-process."""
    return settings.resolved_database_url  # type: ignore[attr-defined,no-any-return]
