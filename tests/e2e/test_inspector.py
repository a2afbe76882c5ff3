"""End to end with a client nobody here wrote: the official MCP Inspector CLI, over HTTP and stdio.

The Inspector (pinned in tests/e2e/package.json) is installed by scripts/install-e2e-clients into a
cache folder (scripts/test does it before the run; this module does it too if it is missing), so the
tests themselves never reach npm. A missing Node.js or a failed install fails the tests: nothing skips.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from companion.config import Settings
from tests.conftest import SignUp
from tests.mcp.conftest import COURSE
from tests.mcp.test_stdio import COMPANION, environment
from tests.oauth.test_account_linking import EMAIL, PASSWORD, Linking

ROOT = Path(__file__).parents[2]
# The server answers the first call only once its search index and content are loaded.
CONNECT_TIMEOUT_MS = "150000"


@pytest.fixture(scope="session")
def inspector() -> str:
    """The Inspector CLI's executable, installed (once) by the same script scripts/test runs."""
    installed = subprocess.run(
        [str(ROOT / "scripts" / "install-e2e-clients")], capture_output=True, text=True, check=False
    )
    if installed.returncode != 0:
        pytest.fail(f"the MCP Inspector could not be installed:\n{installed.stderr}")
    executable = Path(installed.stdout.strip()) / "node_modules" / ".bin" / "mcp-inspector"
    assert executable.exists(), executable
    return str(executable)


# The CLI's exit code for a tool result with isError: true (it still prints the result).
TOOL_ERROR_EXIT = 5


def inspect(inspector: str, *arguments: str, cwd: Path | None = None, exit_code: int = 0) -> dict[str, Any]:
    """Run the Inspector CLI once and return the JSON result it prints."""
    finished = subprocess.run(
        [inspector, "--cli", "--connect-timeout", CONNECT_TIMEOUT_MS, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )
    assert finished.returncode == exit_code, (finished.stdout, finished.stderr)
    result: dict[str, Any] = json.loads(finished.stdout)
    assert "error" not in result, result
    return result


async def test_the_inspector_over_http(
    inspector: str, live_server: str, sign_up: SignUp, client: httpx.AsyncClient
) -> None:
    url = f"{live_server}/mcp"
    listed = inspect(inspector, url, "--method", "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert {"list_courses", "read_chapter", "get_quiz", "submit_quiz_answers", "my_streak"} <= set(tools)
    # Its MCP Apps probe finds the widget a host such as Claude renders for read_chapter.
    app = inspect(inspector, url, "--method", "tools/call", "--tool-name", "read_chapter", "--app-info")
    assert app["hasApp"] is True and app["resourceUri"] == "ui://course-companion/chapter-reader.html"
    assert app["resourceMimeType"] == "text/html;profile=mcp-app"

    # Anonymous: a free chapter, with a short text beside the structured content.
    chapter = inspect(
        inspector,
        url,
        "--method",
        "tools/call",
        "--tool-name",
        "read_chapter",
        "--tool-arg",
        f"course_id={COURSE}",
        "chapter_id=01-intro-genai",
    )
    assert chapter["isError"] is False and chapter["structuredContent"]["status"] == "ok"
    assert chapter["content"][0]["text"].startswith("# Chapter 1: Introduction to Generative AI")
    assert not chapter["content"][0]["text"].startswith("{")

    # Authenticated: a token from the OAuth flow (registration, consent, PKCE), sent as a header.
    await sign_up(email=EMAIL, password=PASSWORD, full_name="Linda Linker")
    async with httpx.AsyncClient(base_url=live_server) as http:
        tokens = await Linking(http, live_server).link()
    bearer = f"Authorization: Bearer {tokens['access_token']}"
    me = inspect(inspector, url, "--header", bearer, "--method", "tools/call", "--tool-name", "whoami")
    assert me["structuredContent"]["signed_in"] is True
    assert me["structuredContent"]["user"]["email"] == EMAIL
    assert me["structuredContent"]["auth_method"] == "oauth"
    streak = inspect(inspector, url, "--header", bearer, "--method", "tools/call", "--tool-name", "my_streak")
    assert streak["isError"] is False and "Streak: 0 day(s)" in streak["content"][0]["text"]
    # Without the token the same tool asks to link an account.
    anonymous = inspect(
        inspector, url, "--method", "tools/call", "--tool-name", "my_streak", exit_code=TOOL_ERROR_EXIT
    )
    assert anonymous["isError"] is True and anonymous["structuredContent"]["status"] == "sign_in_required"


async def test_the_inspector_over_stdio(inspector: str, settings: Settings, tmp_path: Path) -> None:
    variables = [part for key, value in environment(settings).items() for part in ("-e", f"{key}={value}")]
    server = [*variables, COMPANION, "mcp"]
    listed = inspect(inspector, "--method", "tools/list", *server, cwd=tmp_path)
    assert "read_section" in {tool["name"] for tool in listed["tools"]}
    section = inspect(
        inspector,
        "--method",
        "tools/call",
        "--tool-name",
        "read_section",
        "--tool-arg",
        f"course_id={COURSE}",
        "chapter_id=02-llms",
        "section_id=01-tokens",
        *server,
        cwd=tmp_path,
    )
    assert section["structuredContent"]["section"]["section_id"] == "01-tokens"
    assert "## Tokens and Tokenization" in section["content"][0]["text"]
