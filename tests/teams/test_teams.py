"""Teams: seats, invitations by email, access while seated, removal, expiry, and the owner's analytics."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.db import utcnow
from companion.jobs.registry import JOBS, run_job
from tests.billing.conftest import assert_invariant, state
from tests.conftest import SignUp
from tests.progress.helpers import COURSE, quiz, wrong_answers

TEAMS = "/api/v1/teams"


async def test_owner_invites_members_into_seats_and_they_lose_access_when_removed_or_expired(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    owner = await sign_up(email="owner@example.com")
    ada = await sign_up(email="ada@example.com")
    bob = await sign_up(email="bob@example.com")
    mallory = await sign_up(email="mallory@example.com")

    refused = await client.post(TEAMS, json={"name": "Robotics Lab"}, headers=owner["headers"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "upgrade_required"
    owner_user = await db_session.get(User, uuid.UUID(owner["user"]["id"]))
    assert owner_user is not None
    expires_at = utcnow() + timedelta(days=30)
    await billing_service.change_tier(
        db_session, user=owner_user, tier="team", seats=2, expires_at=expires_at
    )
    await db_session.commit()

    created = await client.post(TEAMS, json={"name": "Robotics Lab"}, headers=owner["headers"])
    assert created.status_code == 201, created.text
    assert created.json()["seats"] == 2 and created.json()["seats_taken"] == 0

    invited = {}
    for email in ("ada@example.com", "BOB@example.com"):
        response = await client.post(
            f"{TEAMS}/mine/invitations", json={"email": email}, headers=owner["headers"]
        )
        assert response.status_code == 201, response.text
        invited[email.lower()] = response.json()
    full = await client.post(
        f"{TEAMS}/mine/invitations", json={"email": "eve@example.com"}, headers=owner["headers"]
    )
    assert full.status_code == 409 and "seats" in full.json()["error"]["message"]

    # Accepting needs the invited address; a token is single-use.
    ada_token = invited["ada@example.com"]["token"]
    wrong_account = await client.post(
        f"{TEAMS}/invitations/accept", json={"token": ada_token}, headers=mallory["headers"]
    )
    assert wrong_account.status_code == 403
    joined = await client.post(
        f"{TEAMS}/invitations/accept", json={"token": ada_token}, headers=ada["headers"]
    )
    assert joined.status_code == 200 and joined.json()["team_name"] == "Robotics Lab"
    reused = await client.post(
        f"{TEAMS}/invitations/accept", json={"token": ada_token}, headers=ada["headers"]
    )
    assert reused.status_code == 404
    bob_token = invited["bob@example.com"]["token"]
    assert (
        await client.post(f"{TEAMS}/invitations/accept", json={"token": bob_token}, headers=bob["headers"])
    ).status_code == 200
    assert await state(app, ada["user"]["id"]) == ("team", "team", "active")
    premium_chapter = await client.get(
        f"/api/v1/courses/{COURSE}/chapters/05-fine-tuning", headers=ada["headers"]
    )
    assert premium_chapter.status_code == 200
    await assert_invariant(db_session)

    # Ada learns something; the owner sees it, as JSON and as CSV.
    sheet = wrong_answers(quiz(app, "01-quiz"))
    submitted = await client.post(
        f"/api/v1/courses/{COURSE}/quizzes/01-quiz/submit", json={"answers": sheet}, headers=ada["headers"]
    )
    assert submitted.status_code in (200, 201), submitted.text
    report = await client.get(f"{TEAMS}/mine/analytics", headers=owner["headers"])
    assert report.status_code == 200
    rows = {row["email"]: row for row in report.json()["members"]}
    assert rows["ada@example.com"]["quiz_attempts"] == 1 and rows["ada@example.com"]["quizzes_passed"] == 0
    assert rows["bob@example.com"]["quiz_attempts"] == 0
    exported = await client.get(f"{TEAMS}/mine/analytics.csv", headers=owner["headers"])
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert {row["email"] for row in table} == {"ada@example.com", "bob@example.com"}
    assert (await client.get(f"{TEAMS}/mine/analytics", headers=ada["headers"])).status_code == 404

    # Removing Bob frees his seat and drops him to free.
    removed = await client.delete(f"{TEAMS}/mine/members/{bob['user']['id']}", headers=owner["headers"])
    assert removed.status_code == 204
    assert await state(app, bob["user"]["id"]) == ("free", "free", "active")
    locked = await client.get(f"/api/v1/courses/{COURSE}/chapters/05-fine-tuning", headers=bob["headers"])
    assert locked.status_code == 403
    again = await client.post(
        f"{TEAMS}/mine/invitations", json={"email": "eve@example.com"}, headers=owner["headers"]
    )
    assert again.status_code == 201
    await assert_invariant(db_session)

    # When the owner's plan lapses, the expiry job drops the seated member too.
    assert (
        await run_job(
            app.state.sessionmaker, JOBS["expire-subscriptions"], now=expires_at + timedelta(hours=1)
        )
        == 2
    )
    assert await state(app, ada["user"]["id"]) == ("free", "free", "expired")
    assert await state(app, owner["user"]["id"]) == ("free", "free", "expired")
    db_session.expire_all()
    await assert_invariant(db_session)


async def test_deleting_the_owner_ends_the_seats(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    owner = await sign_up(email="lead@example.com")
    member = await sign_up(email="member@example.com")
    owner_user = await db_session.get(User, uuid.UUID(owner["user"]["id"]))
    assert owner_user is not None
    await billing_service.change_tier(db_session, user=owner_user, tier="team", seats=1)
    await db_session.commit()
    assert (await client.post(TEAMS, json={"name": "Lab"}, headers=owner["headers"])).status_code == 201
    token = (
        await client.post(
            f"{TEAMS}/mine/invitations", json={"email": "member@example.com"}, headers=owner["headers"]
        )
    ).json()["token"]
    assert (
        await client.post(f"{TEAMS}/invitations/accept", json={"token": token}, headers=member["headers"])
    ).status_code == 200
    assert await state(app, member["user"]["id"]) == ("team", "team", "active")
    assert (await client.delete("/api/v1/me", headers=owner["headers"])).status_code == 204
    assert await state(app, member["user"]["id"]) == ("free", "free", "active")
    await assert_invariant(db_session)
