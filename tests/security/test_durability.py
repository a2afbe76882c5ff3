"""Durability: `companion serve` killed with SIGKILL in a stream of writes loses no acknowledged write.

PostgreSQL only (the production engine). The server is a real subprocess on port 8102, on the test
database; quiz submissions stream in from concurrent writers until the process is killed mid-stream,
then it is started again and every submission it acknowledged must be there.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from companion.config import Settings
from tests.conftest import BACKEND
from tests.progress.helpers import COURSE, quiz, right_answers

PORT = int(os.environ.get("COMPANION_TEST_SERVER_PORT", "8102"))
BASE = f"http://127.0.0.1:{PORT}"
WRITERS = 4
ACKNOWLEDGED_BEFORE_KILL = 24

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL only")


def _start_server(settings: Settings, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "COMPANION_ENVIRONMENT": "test",
        "COMPANION_DATABASE_URL": settings.resolved_database_url,
        "COMPANION_REDIS_URL": settings.redis_url or "",
        "COMPANION_JWT_SECRET": settings.signing_secret(),
        "COMPANION_DATA_DIR": str(data_dir),
        "COMPANION_CONTENT_STORE_DIR": str(settings.resolved_content_store_dir),
        "COMPANION_EMBEDDING_PROVIDER": "none",  # lexical search: no model to load at start
        "COMPANION_RUN_JOBS": "false",
    }
    executable = str(Path(sys.executable).parent / "companion")
    command = [executable, "serve", "--port", str(PORT), "--no-prepare"]
    with log.open("ab") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output, start_new_session=True)
    deadline = time.monotonic() + 90  # imports dominate; seconds on an idle machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{BASE}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    _kill(process)
    pytest.fail(f"the server did not start within 90 s:\n{log.read_text()[-3000:]}")


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def _stream_submissions(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    answers: dict[str, Any],
    acknowledged: list[str],
    enough: asyncio.Event,
) -> None:
    """Submit attempts one after another until the server stops answering; record each acknowledged id."""
    url = f"/api/v1/courses/{COURSE}/quizzes/01-quiz/submit"
    while True:
        try:
            response = await http.post(url, json={"answers": answers}, headers=headers)
        except httpx.TransportError:
            return
        assert response.status_code == 201, response.text
        acknowledged.append(response.json()["id"])
        if len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL:
            enough.set()


async def _raw_get(target: str) -> tuple[int, str, bytes]:
    """A GET sent byte for byte (an HTTP client would refuse to send such a URL): status, type, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("content-type", ""), body


async def test_kill_9_mid_stream_loses_no_acknowledged_write(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    answers = right_answers(quiz(app, "01-quiz"))
    server = _start_server(settings, tmp_path / "data", log)
    acknowledged: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=BASE, timeout=10) as http:
            signed_up = await http.post(
                "/api/v1/auth/register",
                json={
                    "email": "durable@example.com",
                    "password": "correct horse battery",
                    "software_experience": "beginner",
                    "hardware_experience": "none",
                },
            )
            assert signed_up.status_code == 201, signed_up.text
            headers = {"Authorization": f"Bearer {signed_up.json()['access_token']}"}
            enough = asyncio.Event()
            writers = [
                asyncio.create_task(_stream_submissions(http, headers, answers, acknowledged, enough))
                for _ in range(WRITERS)
            ]
            await asyncio.wait_for(enough.wait(), timeout=20)
            _kill(server)  # SIGKILL with requests in flight: no shutdown, no flush
            await asyncio.gather(*writers)
        assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL

        server = _start_server(settings, tmp_path / "data", log)
        async with httpx.AsyncClient(base_url=BASE, timeout=10) as http:
            history = await http.get(f"/api/v1/courses/{COURSE}/quizzes/01-quiz/attempts", headers=headers)
        stored = [attempt["id"] for attempt in history.json()["attempts"]]
        assert set(acknowledged) <= set(stored), "an acknowledged submission was lost"
        # Attempt numbers stay 1..N with no gap, including any write that committed unacknowledged.
        numbers = sorted(attempt["attempt_number"] for attempt in history.json()["attempts"])
        assert numbers == list(range(1, len(numbers) + 1))

        # The real server, not only the app: URLs too long even for its HTTP parser get the error body.
        for size in (9_000, 100_000):
            status, content_type, body = await _raw_get(f"/api/v1/search?q={'x' * size}")
            assert content_type == "application/json" and json.loads(body)["error"]["code"], (size, body)
            assert status == (414 if size < 60_000 else 400)
    finally:
        _kill(server)
