"""`companion serve --workers 2`: both worker processes start, open their own runtime and answer.

PostgreSQL only (several processes share one database: the documented multi-worker deployment). The
server is a real subprocess on a free port; which worker answered a connection is read from /proc
(the worker process holding the server side of that connection).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.config import Settings
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL only")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> set[int]:
    """The direct children of a process (the supervisor's workers and its resource tracker)."""
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        found.update(int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    return found


def _process_holding(server_port: int, client_port: int, candidates: set[int]) -> int | None:
    """The process among `candidates` holding the server side of the connection from `client_port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            inode = fields[9]
    if inode is None:
        return None
    for pid in candidates:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:  # the process ended meanwhile
            continue
        if f"socket:[{inode}]" in links:
            return pid
    return None


def _ask_readyz(port: int, candidates: set[int]) -> tuple[int | None, bytes]:
    """GET /readyz on a new connection: the worker that answered and the response's status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        response = connection.recv(65536)
        worker = _process_holding(port, connection.getsockname()[1], candidates)
    return worker, response.split(b"\r\n", 1)[0]


def test_two_workers_start_and_both_answer(settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "COMPANION_ENVIRONMENT": "test",
        "COMPANION_DATABASE_URL": settings.resolved_database_url,
        "COMPANION_REDIS_URL": settings.redis_url or "",
        "COMPANION_JWT_SECRET": settings.signing_secret(),
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_CONTENT_STORE_DIR": str(settings.resolved_content_store_dir),
        "COMPANION_EMBEDDING_PROVIDER": "none",  # lexical search: no model to load in each worker
        "COMPANION_RUN_JOBS": "false",
    }
    command = [str(Path(sys.executable).parent / "companion"), "serve", "--port", str(port), "--workers", "2"]
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*command, "--no-prepare"], env=env, stdout=output, stderr=output, start_new_session=True
        )
    try:
        answered: dict[int, bytes] = {}
        asked = 0
        # Generous: each worker imports the application and opens its runtime; a busy machine is slow.
        deadline = time.monotonic() + 240
        while len(answered) < 2 and time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()[-3000:]
            workers = _children(server.pid)
            try:
                worker, status_line = _ask_readyz(port, workers)
            except OSError:  # not listening yet
                time.sleep(0.5)
                continue
            asked += 1
            if worker is not None:
                answered[worker] = status_line
        assert len(answered) == 2, f"answered by {sorted(answered)}:\n{log.read_text()[-3000:]}"
        assert set(answered.values()) == {b"HTTP/1.1 200 OK"}
        # Whichever worker a scrape reaches, /metrics counts the requests both workers answered.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            scraped = b"".join(iter(lambda: connection.recv(65536), b"")).decode()
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in scraped.splitlines()
            if line.startswith("companion_http_request_duration_seconds_count") and 'route="/readyz"' in line
        )
        assert counted == asked, scraped[-3000:]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
