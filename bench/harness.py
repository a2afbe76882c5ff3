"""What the benchmarks share: CPU time, a free port, emptied stores, a data dir, signed-up learners."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc): steadier than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def reset_stores(database_url: str, redis_url: str) -> None:
    """Empty the bench's PostgreSQL schema and Redis database (the server migrates at start)."""
    from redis.asyncio import Redis
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()


def prepare_data_dir(env: dict[str, str], python: str = sys.executable) -> None:
    """Migrate, publish the shipped course and index it, as configured by `env`, in a child process."""
    subprocess.run(
        [
            python,
            "-c",
            "from companion.bootstrap import prepare_data; from companion.config import get_settings; "
            "prepare_data(get_settings(), echo=lambda _l: None)",
        ],
        env=env,
        cwd=ROOT,
        check=True,
    )


def learner(email: str) -> dict[str, str]:
    """The sign-up body of a bench learner: every learner has the same password and background."""
    return {
        "email": email,
        "password": "correct horse battery staple",
        "timezone": "Europe/London",
        "software_experience": "beginner",
        "hardware_experience": "none",
    }


async def sign_up(client: Any, email: str) -> str:
    """Sign a learner up through an httpx.AsyncClient on the server; their access token."""
    response = await client.post("/api/v1/auth/register", json=learner(email))
    response.raise_for_status()
    return str(response.json()["access_token"])
