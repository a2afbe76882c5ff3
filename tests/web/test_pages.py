"""Web pages over HTTP: cookie sessions and CSRF, the reader's anchors, gates and errors as pages, forms."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts import service as accounts_service
from companion.config import Settings
from companion.content.schemas import Chapter, ContentPack, Course, Section
from companion.progress import service as progress_service
from companion.progress.models import LearningSession
from companion.web import reading
from companion.web.dependencies import _cookie_headers
from tests.web.helpers import HTML, PASSWORD, csrf, section_ids, serving, web_sign_up

COURSE = "genai-fundamentals"
READER = f"/courses/{COURSE}/chapters/02-llms"


async def test_reader_anchors_are_the_sections_citations_link_to(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    pack = app.state.catalog.pack(COURSE)
    page = await client.get(READER, headers=HTML)
    assert page.status_code == 200
    assert section_ids(page.text) == [section.anchor for section in pack.chapter("02-llms").sections]
    # The API's and the tutor's citation links land on those anchors.
    found = await client.get("/api/v1/search", params={"q": "what does temperature do", "course_id": COURSE})
    citation = found.json()["results"][0]["citation"]
    path, anchor = citation["url"].split("#")
    cited_page = await client.get(path, headers=HTML)
    assert anchor in section_ids(cited_page.text)
    assert "<script" not in cited_page.text.split('<article class="chapter"')[1].split("</article>")[0]


async def test_gates_and_errors_are_pages_for_browsers_and_json_for_the_api(
    client: httpx.AsyncClient,
) -> None:
    premium = await client.get(f"/courses/{COURSE}/chapters/04-rag", headers=HTML)
    assert premium.status_code == 403
    assert "Premium plan needed" in premium.text and 'href="/upgrade"' in premium.text
    api = await client.get(f"/api/v1/courses/{COURSE}/chapters/04-rag", headers=HTML)
    assert api.status_code == 403 and api.json()["error"]["code"] == "upgrade_required"
    missing = await client.get("/courses/nope", headers=HTML)
    assert missing.status_code == 404 and "<h1>Page not found</h1>" in missing.text
    assert (await client.get("/no/such/page", headers=HTML)).status_code == 404
    assert (await client.get("/api/v1/nope", headers=HTML)).json()["error"]["code"] == "not_found"
    assert (await client.get("/no/such/page")).json()["error"]["code"] == "not_found"  # not a browser
    # Signed-in pages send anonymous browsers to the login page, and back afterwards.
    dashboard = await client.get("/dashboard", headers=HTML)
    assert dashboard.status_code == 303 and dashboard.headers["location"] == "/login?next=%2Fdashboard"
    token = await csrf(client)
    asked = await client.post(
        "/tutor/ask", data={"content": "hi", "csrf_token": token}, headers={**HTML, "HX-Request": "true"}
    )
    assert asked.status_code == 401 and asked.headers["HX-Redirect"].startswith("/login?next=")


async def test_forms_refuse_a_missing_or_wrong_csrf_token(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    form = {
        "email": "forged@example.com",
        "password": PASSWORD,
        "software_experience": "beginner",
        "hardware_experience": "none",
    }
    refused = await client.post("/signup", data=form, headers=HTML)
    assert refused.status_code == 403 and "did not come from this site" in refused.text
    await csrf(client)
    wrong = await client.post("/signup", data={**form, "csrf_token": "x" * 43}, headers=HTML)
    assert wrong.status_code == 403
    assert await accounts_service.get_user_by_email(db_session, "forged@example.com") is None


async def test_a_cookie_session_reads_records_progress_renews_and_logs_out(
    client: httpx.AsyncClient, db_session: AsyncSession, app: FastAPI
) -> None:
    email = await web_sign_up(client)
    page = await client.get(READER, headers=HTML)
    assert 'data-reading-url="/courses/genai-fundamentals/chapters/02-llms/reading"' in page.text
    token = client.cookies["cc_csrf"]
    section = app.state.catalog.pack(COURSE).chapter("02-llms").sections[0].section_id
    read = await client.post(
        f"{READER}/reading", data={"section_id": section, "seconds": "42"}, headers={"X-CSRF-Token": token}
    )
    assert read.status_code == 204
    bad = await client.post(f"{READER}/reading", data={"section_id": "nope"}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 422
    user = await accounts_service.get_user_by_email(db_session, email)
    assert user is not None
    states = await progress_service.chapter_states(db_session, user_id=user.id, course_id=COURSE)
    assert states["02-llms"].last_section_id == section and states["02-llms"].state == "in_progress"
    web_sessions = (
        await db_session.scalars(select(LearningSession).where(LearningSession.user_id == user.id))
    ).all()
    assert [(item.interface, item.chapters_accessed) for item in web_sessions] == [("web", ["02-llms"])]

    # An expired (here: missing) access cookie is renewed from the refresh cookie.
    old_refresh = client.cookies["cc_refresh"]
    client.cookies.delete("cc_access")
    renewed = await client.get("/dashboard", headers=HTML)
    assert renewed.status_code == 200 and "cc_access=" in renewed.headers["set-cookie"]
    assert client.cookies["cc_refresh"] != old_refresh

    logout = await client.post("/logout", data={"csrf_token": token}, headers=HTML)
    assert logout.status_code == 303
    assert (await client.get("/dashboard", headers=HTML)).status_code == 303
    # The logged-out refresh token no longer signs anyone in.
    client.cookies.set("cc_refresh", old_refresh)
    assert (await client.get("/dashboard", headers=HTML)).status_code == 303


def test_session_cookies_are_httponly_lax_and_secure_in_production(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    for config, secure in ((settings, False), (production, True)):
        headers = [
            value.decode() for _, value in _cookie_headers({"cc_access": "token", "cc_csrf": "t"}, config)
        ]
        assert all("HttpOnly" in header and "SameSite=lax" in header for header in headers)
        assert all(("Secure" in header) == secure for header in headers)


async def test_quiz_form_names_missing_answers_then_shows_feedback(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await web_sign_up(client)
    token = client.cookies["cc_csrf"]
    quiz = app.state.catalog.pack(COURSE).quiz("01-quiz")
    url = f"/courses/{COURSE}/quizzes/01-quiz"
    partial = await client.post(url, data={"csrf_token": token}, headers=HTML)
    assert partial.status_code == 422 and f"{len(quiz.questions)} still unanswered" in partial.text

    answers: dict[str, object] = {"csrf_token": token}
    for question in quiz.questions:
        name = f"q-{question.question_id}"
        if question.type == "multiple_choice":
            answers[name] = question.correct_answer
        elif question.type == "multiple_select":
            answers[name] = question.correct_answers
        elif question.type == "true_false":
            answers[name] = "true" if question.correct_answer else "false"
        elif question.type == "short_answer":
            answers[name] = question.accepted_answers[0]
        else:
            answers[name] = "My own words."
    result = await client.post(url, data=answers, headers=HTML)
    assert result.status_code == 200
    assert "100%" in result.text and "Passed" in result.text
    assert result.text.count("feedback-item") == len(quiz.questions)
    if any(question.type == "open_ended" for question in quiz.questions):
        assert "awaiting review" in result.text.lower()
    history = await client.get(url, headers=HTML)
    assert "Best score: <strong>100%</strong>" in history.text


async def test_account_page_edits_profile_keys_exports_and_deletes(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    email = await web_sign_up(client)
    token = client.cookies["cc_csrf"]
    invalid = await client.post(
        "/account/profile",
        data={
            "csrf_token": token,
            "timezone": "Mars/Base",
            "software_experience": "advanced",
            "hardware_experience": "none",
        },
        headers=HTML,
    )
    assert invalid.status_code == 422 and "IANA time zone" in invalid.text
    saved = await client.post(
        "/account/profile",
        data={
            "csrf_token": token,
            "timezone": "Asia/Karachi",
            "software_experience": "advanced",
            "hardware_experience": "none",
        },
        headers=HTML,
    )
    assert saved.status_code == 200 and "Profile saved." in saved.text

    created = await client.post(
        "/account/api-keys", data={"csrf_token": token, "name": "Claude Desktop"}, headers=HTML
    )
    key = re.search(r'data-testid="new-api-key">([^<]+)<', created.text)
    assert key is not None
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert me.json()["timezone"] == "Asia/Karachi" and me.json()["software_experience"] == "advanced"

    export = await client.get("/account/export")
    assert export.headers["content-disposition"].startswith("attachment")
    data = json.loads(export.text)
    assert data["user"]["email"] == email and "password_hash" not in data["user"]

    kept = await client.post(
        "/account/delete", data={"csrf_token": token, "confirm_email": "other@example.com"}, headers=HTML
    )
    assert kept.status_code == 422
    deleted = await client.post(
        "/account/delete", data={"csrf_token": token, "confirm_email": email.upper()}, headers=HTML
    )
    assert deleted.status_code == 303 and deleted.headers["location"] == "/?deleted=1"
    assert await accounts_service.get_user_by_email(db_session, email) is None
    assert (await client.get("/dashboard", headers=HTML)).status_code == 303


async def test_login_form_reports_bad_credentials_and_only_redirects_on_site(
    client: httpx.AsyncClient,
) -> None:
    email = await web_sign_up(client)
    token = client.cookies["cc_csrf"]
    await client.post("/logout", data={"csrf_token": token}, headers=HTML)
    wrong = await client.post(
        "/login", data={"csrf_token": token, "email": email, "password": "nope"}, headers=HTML
    )
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text
    right = await client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": PASSWORD, "next": "https://evil.example/"},
        headers=HTML,
    )
    assert right.status_code == 303 and right.headers["location"] == "/"
    assert (await client.get("/dashboard", headers=HTML)).status_code == 200


async def test_right_to_left_courses_render_rtl(client: httpx.AsyncClient, app: FastAPI) -> None:
    chapter = Chapter(
        chapter_id="01-taaruf",
        chapter_number=1,
        title="تعارف",
        access_tier="free",
        sections=[
            Section(
                section_id="01-aghaz",
                title="آغاز",
                order=1,
                content_markdown="یہ **پہلا** حصہ ہے\n\n```mermaid\ngraph TD; A-->B\n```",
            )
        ],
    )
    pack = ContentPack(
        course=Course(
            id=f"urdu-{uuid.uuid4().hex[:6]}", title="اردو کورس", language="ur", chapters=["01-taaruf"]
        ),
        chapters=[chapter],
    )
    with serving(app, [pack]):
        page = await client.get(f"/courses/{pack.course.id}/chapters/01-taaruf", headers=HTML)
    assert page.status_code == 200
    assert '<html lang="ur" dir="rtl">' in page.text
    assert '<article class="chapter" lang="ur" dir="rtl"' in page.text
    assert "<strong>پہلا</strong>" in page.text
    # Diagrams come with their renderer, served by the application itself; other chapters go without.
    assert (
        '<pre class="mermaid">graph TD; A--&gt;B' in page.text
        and "/static/vendor/mermaid.min.js" in page.text
    )
    assert "mermaid.min.js" not in (await client.get(READER, headers=HTML)).text


async def test_an_unexpected_error_is_a_page_with_a_reference(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_packs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(reading.outline, "course_summaries", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        page = await browser.get("/", headers=HTML)
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.text and "Reference: <code>" in page.text
    assert "boom" not in page.text and "Traceback" not in page.text
