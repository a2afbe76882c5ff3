"""The data export, checked against every table that holds a learner's rows (read from the schema)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts import security
from companion.accounts.export import is_credential
from companion.accounts.models import User
from companion.analytics import rollup as analytics_rollup
from companion.billing import service as billing_service
from companion.billing.models import BillingEvent
from companion.db import utcnow
from companion.llm.models import LLMUsage
from companion.models import Base
from companion.oauth import service as oauth_service
from companion.premium.models import PersonalizedContentCache
from companion.teams import service as teams_service
from companion.teams.models import Team, TeamMember
from tests.conftest import SignUp
from tests.progress.helpers import quiz, right_answers
from tests.security.world import authorization_params, link_assistant, register_oauth_client

COURSE = "genai-fundamentals"


def learner_tables() -> list[Table]:
    """Every table whose rows belong to a learner: reachable from `users` through foreign keys."""
    owned = {"users"}
    changed = True
    while changed:
        changed = False
        for table in Base.metadata.sorted_tables:
            if table.name not in owned and any(key.column.table.name in owned for key in table.foreign_keys):
                owned.add(table.name)
                changed = True
    return [table for table in Base.metadata.sorted_tables if table.name in owned]


async def _a_row_in_every_table(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    tokens: dict[str, Any],
    other_user_id: str,
) -> list[str]:
    """Use the product as a learner does, so each learner table holds a row; returns the secrets used."""
    headers = tokens["headers"]
    user_id = uuid.UUID(tokens["user"]["id"])
    key = await client.post("/api/v1/me/api-keys", json={"name": "script"}, headers=headers)
    progress = await client.put(f"/api/v1/progress/{COURSE}/01-intro-genai", json={}, headers=headers)
    attempt = await client.post(
        f"/api/v1/courses/{COURSE}/quizzes/01-quiz/submit",
        json={"answers": right_answers(quiz(app, "01-quiz"))},
        headers=headers,
    )
    learning_session = await client.post("/api/v1/sessions", json={"interface": "web"}, headers=headers)
    conversation = await client.post(
        "/api/v1/tutor/conversations",
        json={"course_id": COURSE, "message": {"content": "What is generative AI?"}},
        headers=headers,
    )
    path = await client.get("/api/v1/learning-path", params={"course_id": COURSE}, headers=headers)
    for response in (key, progress, attempt, learning_session, conversation, path):
        assert response.status_code in (200, 201), response.text

    user = await db_session.get_one(User, user_id)
    client_id = await register_oauth_client(db_session)
    linked = await link_assistant(app, db_session, client_id=client_id, user=user, scopes=["content:read"])
    # A code the assistant never exchanged stays stored until it expires.
    params = authorization_params(app, ["content:read"])
    pending = oauth_service.PendingAuthorization(client_id=client_id, params=params)
    code = await oauth_service.create_authorization_code(db_session, pending=pending, user_id=user_id)
    # Tables no learner-facing route fills yet (premium features) get a row as their service would.
    db_session.add(
        PersonalizedContentCache(
            user_id=user_id,
            course_id=COURSE,
            chapter_id="01-intro-genai",
            content_hash="c0ffee",
            original_content="Original.",
            personalized_content="Personalised.",
            software_experience="beginner",
            hardware_experience="none",
            expires_at=utcnow() + timedelta(days=30),
        )
    )
    db_session.add(
        LLMUsage(user_id=user_id, feature="synthesis", provider="test", model="m", outcome="success")
    )
    # Billing and teams: a plan change, a payment event, a team of one's own with an invitation, and a
    # seat in someone else's team; then the analytics roll-up of the learner's activity.
    await billing_service.change_tier(db_session, user=user, tier="team", seats=3)
    db_session.add(
        BillingEvent(
            event_id="evt_export",
            provider="stripe",
            event_type="checkout.session.completed",
            created_at=utcnow(),
            outcome="applied",
            user_id=user_id,
        )
    )
    team = await teams_service.create_team(db_session, owner=user, name="Study group")
    _, invitation_token = await teams_service.invite(
        db_session, team=team, email="friend@example.com", valid_days=7
    )
    other_team = Team(name="Elsewhere", owner_id=uuid.UUID(other_user_id))
    db_session.add(other_team)
    await db_session.flush()
    db_session.add(TeamMember(team_id=other_team.id, user_id=user_id))
    await analytics_rollup.refresh(db_session, now=utcnow())
    await db_session.commit()
    return [
        tokens["password"],
        tokens["access_token"],
        tokens["refresh_token"],
        key.json()["key"],
        linked["access_token"],
        linked["refresh_token"],
        linked["code"],
        code,
        params.code_challenge,
        invitation_token,
    ]


async def test_export_holds_every_learner_table_and_no_credential(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    tokens = await sign_up()
    other = await sign_up()
    await client.post("/api/v1/me/api-keys", json={"name": "not mine"}, headers=other["headers"])
    secrets = await _a_row_in_every_table(app, client, db_session, tokens, other["user"]["id"])
    user = await db_session.get_one(User, uuid.UUID(tokens["user"]["id"]))
    secrets += [security.hash_secret(secret) for secret in secrets]
    assert user.password_hash is not None
    secrets.append(user.password_hash)

    response = await client.get("/api/v1/me/export", headers=tokens["headers"])
    assert response.status_code == 200
    export = response.json()
    for table in learner_tables():
        rows = [export["user"]] if table.name == "users" else export.get(table.name)
        assert rows, f"table {table.name} holds learner rows but the export has none of them"
        expected = {column.name for column in table.columns if not is_credential(column)}
        for row in rows:
            assert set(row) == expected, f"{table.name}: exported {sorted(row)}, expected {sorted(expected)}"
            if "user_id" in row:
                assert row["user_id"] == tokens["user"]["id"], f"{table.name} exports another learner's row"
    text = json.dumps(export)
    leaked = [secret[:12] for secret in secrets if secret in text]
    assert not leaked, f"credential material in the export: {leaked}"
    # Every hash or secret column is recognised; lookalikes that are not credentials are exported.
    credentials = [
        ("users", "password_hash"),
        ("api_keys", "key_hash"),
        ("refresh_tokens", "token_hash"),
        ("oauth_authorization_codes", "code_hash"),
        ("oauth_authorization_codes", "code_challenge"),
        ("oauth_grants", "access_token_hash"),
        ("oauth_grants", "refresh_token_hash"),
        ("oauth_clients", "client_secret"),
    ]
    assert all(is_credential(Base.metadata.tables[table].c[column]) for table, column in credentials)
    assert export["personalized_content_cache"][0]["content_hash"] == "c0ffee"
    assert export["llm_usage"][0]["input_tokens"] == 0
