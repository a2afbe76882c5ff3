"""The premium MCP tools: gated like the HTTP routes, cost-tracked in the same ledger."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import SignUp
from tests.mcp.conftest import call, create_api_key, structured
from tests.mcp.test_learning_tools import in_process_server
from tests.premium.helpers import CALL_COST, COURSE, chapter, rewrite, scripted, set_tier


async def test_personalise_through_the_assistant_is_gated_budgeted_and_recorded(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession, app: FastAPI
) -> None:
    learner = await sign_up()
    key = await create_api_key(client, learner["headers"])
    arguments = {"course_id": COURSE, "chapter_id": "02-llms"}
    original = chapter(app, "02-llms")

    async with in_process_server(app, api_key=key) as mcp:
        locked = structured(await call(mcp, "personalize_chapter", **arguments))
        await set_tier(db_session, learner, "pro")
        unavailable = await call(mcp, "personalize_chapter", **arguments)
        with scripted(app, lambda call: rewrite(original, "for you")) as model:
            done = structured(await call(mcp, "personalize_chapter", **arguments))
            again = structured(await call(mcp, "personalize_chapter", **arguments))
        usage = structured(await call(mcp, "my_ai_usage"))

    assert locked["status"] == "upgrade_required" and locked["required_tier"] == "pro"
    assert unavailable.is_error and structured(unavailable)["error"]["code"] == "llm_unavailable"
    assert len(model.calls) == 1
    assert done["chapter"]["usage"]["cost_usd"] == pytest.approx(CALL_COST)
    assert again["chapter"]["usage"]["cached"] is True
    assert [s["section_id"] for s in done["chapter"]["sections"]] == [s.section_id for s in original.sections]
    assert usage["usage"]["calls"] == 1 and usage["usage"]["cost_usd"] == pytest.approx(CALL_COST)
