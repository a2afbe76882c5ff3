"""The administrator's analytics: activity, funnel, quiz results, missed questions, tiers, conversions."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.jobs.registry import JOBS, run_job
from tests.conftest import SignUp
from tests.progress.helpers import COURSE, quiz, right_answers, wrong_answers


async def test_report_counts_what_learners_did(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    admin = await sign_up(email="admin@example.com")
    ada = await sign_up()
    bob = await sign_up()
    await sign_up()  # signed up, did nothing
    admin_user = await db_session.get(User, uuid.UUID(admin["user"]["id"]))
    bob_user = await db_session.get(User, uuid.UUID(bob["user"]["id"]))
    assert admin_user is not None and bob_user is not None
    admin_user.role = "admin"
    await billing_service.change_tier(db_session, user=bob_user, tier="premium")
    await db_session.commit()

    submit = f"/api/v1/courses/{COURSE}/quizzes/01-quiz/submit"
    sheet = quiz(app, "01-quiz")
    assert (
        await client.post(submit, json={"answers": wrong_answers(sheet)}, headers=ada["headers"])
    ).is_success
    assert (
        await client.post(submit, json={"answers": right_answers(sheet)}, headers=bob["headers"])
    ).is_success
    read = await client.put(
        f"/api/v1/progress/{COURSE}/01-intro-genai",
        json={"section_id": app.state.catalog.pack(COURSE).chapters[0].sections[0].section_id},
        headers=ada["headers"],
    )
    assert read.is_success, read.text

    # The hourly roll-up (here run by hand, twice: a rerun rebuilds the same rows) feeds the report.
    refresh = JOBS["refresh-analytics"]
    first = await run_job(app.state.sessionmaker, refresh)
    assert first > 0 and await run_job(app.state.sessionmaker, refresh) == first

    assert (await client.get("/api/v1/admin/analytics", headers=ada["headers"])).status_code == 403
    assert (await client.get("/api/v1/admin/analytics")).status_code == 401
    response = await client.get("/api/v1/admin/analytics?days=30&fresh=true", headers=admin["headers"])
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rollup_refreshed_at"] is not None

    assert report["active_learners"]["today"] == 2
    assert report["active_learners"]["last_7_days"] == 2
    assert sum(day["learners"] for day in report["active_learners"]["daily"]) == 2
    assert report["retention"]["active_last_14_days"] == 2
    first = report["chapter_funnel"][0]
    assert first["chapter_id"] == "01-intro-genai" and first["started"] == 2 and first["completed"] == 1
    quiz_row = next(row for row in report["quizzes"] if row["quiz_id"] == "01-quiz")
    assert (quiz_row["attempts"], quiz_row["passed"], quiz_row["pass_rate"]) == (2, 1, 0.5)
    missed = report["most_missed_questions"]
    assert missed and all(row["misses"] == 1 and row["quiz_id"] == "01-quiz" for row in missed)
    assert missed[0]["question_text"]
    assert report["tier_mix"]["premium"] == 1 and report["tier_mix"]["free"] == 3
    assert report["conversions"]["free_to_paid"] == 1 and report["conversions"]["by_tier"]["premium"] == 1
    assert report["conversions"]["signups"] == 4

    bad = await client.get("/api/v1/admin/analytics?days=0", headers=admin["headers"])
    assert bad.status_code == 422
