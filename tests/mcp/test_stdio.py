"""`companion mcp`: the stdio server a desktop assistant spawns, driven by the SDK's stdio client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, get_default_environment

from companion.config import Settings
from tests.conftest import SignUp
from tests.mcp.conftest import COURSE, call, create_api_key, structured

COMPANION = str(Path(sys.executable).parent / "companion")


def environment(settings: Settings, api_key: str | None = None) -> dict[str, str]:
    """The test run's settings as the variables the subprocess reads."""
    env = {
        "COMPANION_ENVIRONMENT": "test",
        "COMPANION_DATA_DIR": str(settings.data_dir),
        "COMPANION_DATABASE_URL": settings.resolved_database_url,
        "COMPANION_JWT_SECRET": str(settings.jwt_secret),
        "COMPANION_RUN_JOBS": "false",
    }
    if settings.redis_url:
        env["COMPANION_REDIS_URL"] = settings.redis_url
    if api_key:
        env["COMPANION_API_KEY"] = api_key
    return env


async def test_anonymous_desktop_client(
    settings: Settings, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # Started from an empty folder (no .env), preparing the data dir as a first run would.
    server = StdioServerParameters(command=COMPANION, args=["mcp"], env=environment(settings), cwd=tmp_path)
    async with Client(server) as mcp:
        tools = {tool.name for tool in (await mcp.list_tools()).tools}
        prompts = {prompt.name for prompt in (await mcp.list_prompts()).prompts}
        chapter = structured(await call(mcp, "read_chapter", course_id=COURSE, chapter_id="02-llms"))
        locked = structured(await call(mcp, "read_chapter", course_id=COURSE, chapter_id="05-fine-tuning"))
        me = structured(await call(mcp, "whoami"))
    assert {"list_courses", "read_chapter", "get_quiz", "whoami"} <= tools
    assert "socratic-tutor" in prompts
    assert chapter["chapter"]["title"]
    assert locked["status"] == "upgrade_required"
    assert me["signed_in"] is False


async def test_desktop_client_with_an_api_key(
    settings: Settings, client: httpx.AsyncClient, sign_up: SignUp, tmp_path: Path
) -> None:
    learner = await sign_up(email="desktop@example.com")
    key = await create_api_key(client, learner["headers"])
    server = StdioServerParameters(
        command=COMPANION, args=["mcp", "--no-prepare"], env=environment(settings, key), cwd=tmp_path
    )
    async with Client(server) as mcp:
        me = structured(await call(mcp, "whoami"))
    assert me["signed_in"] is True
    assert me["user"]["email"] == "desktop@example.com" and me["auth_method"] == "api_key"


def test_a_bad_api_key_stops_the_server_with_a_clear_message(settings: Settings, tmp_path: Path) -> None:
    finished = subprocess.run(
        [COMPANION, "mcp", "--no-prepare", "--api-key", "cc_not-a-real-key"],
        env={**get_default_environment(), **environment(settings)},
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert "The API key is invalid or revoked." in finished.stderr
    assert finished.stdout == ""  # stdout is the protocol channel: nothing else may appear there
