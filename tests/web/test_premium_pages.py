"""The reader's "Personalise for me" and "Translate": gate, no provider, budget, and the rewritten chapter."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.llm.models import LLMUsage
from tests.premium.helpers import MODEL, chapter, rewrite, scripted
from tests.web.helpers import HTML, csrf, section_ids, web_sign_up

COURSE = "genai-fundamentals"
CHAPTER = "02-llms"
READER = f"/courses/{COURSE}/chapters/{CHAPTER}"


async def _learner(client: httpx.AsyncClient, session: AsyncSession, tier: str) -> User:
    """A learner signed up through the form (the client holds the session) on `tier`."""
    email = await web_sign_up(client)
    user = await session.scalar(select(User).where(User.email == email))
    assert user is not None
    await billing_service.change_tier(session, user=user, tier=tier)
    await session.commit()
    return user


def _actions(page: str) -> str:
    """The reader's premium actions block."""
    match = re.search(r'<section class="premium-actions".*?</section>', page, re.S)
    assert match, "the reader shows no premium actions"
    return match.group(0)


async def test_plans_without_the_features_explain_why_and_link_to_the_plans(
    client: httpx.AsyncClient, db_session: AsyncSession, app: FastAPI
) -> None:
    anonymous = _actions((await client.get(READER, headers=HTML)).text)
    assert "Sign in and upgrade" in anonymous and "/login?next=" in anonymous and "<form" not in anonymous

    await _learner(client, db_session, "free")
    with scripted(app, lambda call: rewrite(chapter(app, CHAPTER), "x")) as model:
        actions = _actions((await client.get(READER, headers=HTML)).text)
        refused = await client.post(
            f"{READER}/personalized", data={"csrf_token": await csrf(client)}, headers=HTML
        )
    assert "<form" not in actions and actions.count('href="/upgrade"') == 2
    assert "The personalization feature is part of the Pro plan; you are on Free" in actions
    assert "The translation feature is part of the Pro plan" in actions
    # A hand-made request meets the same gate, as a page.
    assert refused.status_code == 403 and "Pro plan needed" in refused.text
    assert 'href="/upgrade"' in refused.text and model.calls == []


async def test_without_a_provider_the_buttons_say_so_and_nothing_breaks(
    client: httpx.AsyncClient, db_session: AsyncSession, app: FastAPI, settings: Any
) -> None:
    await _learner(client, db_session, "pro")
    gateway = app.state.llm
    gateway.settings = settings.model_copy(
        update={"llm_base_url": None, "anthropic_api_key": None, "openai_api_key": None}
    )
    try:
        page = await client.get(READER, headers=HTML)
        posted = await client.post(
            f"{READER}/translation", data={"csrf_token": await csrf(client), "lang": "ur"}, headers=HTML
        )
    finally:
        gateway.settings = settings

    assert page.status_code == 200
    actions = _actions(page.text)
    assert actions.count("not switched on for this site") == 2 and "<form" not in actions
    assert posted.status_code == 503 and "not switched on for this site" in posted.text
    assert "<h1>Not available right now</h1>" in posted.text


async def test_pro_learners_read_the_chapter_personalised_and_translated_with_its_anchors(
    client: httpx.AsyncClient, db_session: AsyncSession, app: FastAPI
) -> None:
    await _learner(client, db_session, "pro")
    original = chapter(app, CHAPTER)
    anchors = [section.anchor for section in original.sections]
    with scripted(app, lambda call: rewrite(original, "for a beginner")):
        actions = _actions((await client.get(READER, headers=HTML)).text)
        token = await csrf(client)
        personal = await client.post(f"{READER}/personalized", data={"csrf_token": token}, headers=HTML)
    assert f'action="{READER}/personalized"' in actions and f'action="{READER}/translation"' in actions
    assert '<option value="ur" selected>Urdu</option>' in actions
    assert personal.status_code == 200, personal.text
    assert section_ids(personal.text) == anchors
    assert f"{original.title} (for a beginner)" in personal.text and "software: beginner" in personal.text
    assert f'href="{READER}"' in personal.text  # back to the original

    with scripted(app, lambda call: rewrite(original, "اردو")) as model:
        urdu = await client.post(f"{READER}/translation", data={"csrf_token": token}, headers=HTML)
        again = await client.post(f"{READER}/translation", data={"csrf_token": token}, headers=HTML)
        spanish = await client.post(
            f"{READER}/translation", data={"csrf_token": token, "lang": "es"}, headers=HTML
        )
    assert urdu.status_code == 200, urdu.text
    assert '<article class="chapter" lang="ur" dir="rtl"' in urdu.text and '<html lang="en"' in urdu.text
    assert section_ids(urdu.text) == anchors and "Translated into Urdu" in urdu.text
    assert "Urdu" in model.calls[0].info.instructions and len(model.calls) == 2  # Urdu once, then cached
    assert again.text.count("(اردو)") == urdu.text.count("(اردو)")
    assert '<article class="chapter" lang="es" dir="ltr"' in spanish.text
    assert '<option value="es" selected>Spanish</option>' in spanish.text
    bad = await client.post(f"{READER}/translation", data={"csrf_token": token, "lang": "x y"}, headers=HTML)
    assert bad.status_code == 422 and "not a language code" in bad.text


async def test_a_spent_budget_is_explained_before_any_model_call(
    client: httpx.AsyncClient, db_session: AsyncSession, app: FastAPI, settings: Any
) -> None:
    user = await _learner(client, db_session, "pro")
    budget = settings.llm_monthly_budget_usd["pro"]
    db_session.add(
        LLMUsage(
            user_id=user.id,
            feature="synthesis",
            provider="anthropic",
            model=MODEL,
            cost_usd=budget,
            outcome="success",
        )
    )
    await db_session.commit()
    with scripted(app, lambda call: rewrite(chapter(app, CHAPTER), "x")) as model:
        response = await client.post(
            f"{READER}/personalized", data={"csrf_token": await csrf(client)}, headers=HTML
        )
    assert response.status_code == 402 and "<h1>AI budget used up</h1>" in response.text
    assert "AI budget for your plan ($2.00)" in response.text
    assert model.calls == []
