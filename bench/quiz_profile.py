"""Where one quiz submission's server time goes: the app in-process, statements counted, cProfile.

Submits the shipped quiz N times over httpx's ASGI transport (no network, no uvicorn) as a few
learners, counts the SQL statements each submission runs and prints the top of a cProfile.

    .venv/bin/python bench/quiz_profile.py [--submissions 300] [--learners 4] [--sort tottime]
        [--postgres-url postgresql+asyncpg://...] [--redis-url redis://127.0.0.1:6379/14]

Without --postgres-url it runs on SQLite with the in-process cache. The PostgreSQL database's public
schema and the Redis database are wiped first: point them at throwaway ones.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from harness import reset_stores, sign_up
from quiz_load import ANSWERS, SUBMIT_PATH
from sqlalchemy import event

from companion.app import create_app
from companion.bootstrap import prepare_data
from companion.config import Settings


async def _profile(settings: Settings, options: argparse.Namespace) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        statements: list[str] = []
        event.listen(
            app.state.engine.sync_engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, *_rest: statements.append(statement),
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            tokens = []
            for number in range(options.learners):
                tokens.append(await sign_up(client, f"learner{number}@example.com"))

            async def submit(number: int) -> None:
                headers = {"authorization": f"Bearer {tokens[number % len(tokens)]}"}
                response = await client.post(SUBMIT_PATH, json=ANSWERS, headers=headers)
                if response.status_code != 201:
                    raise SystemExit(f"submission answered {response.status_code}: {response.text[:300]}")

            for number in range(len(tokens)):  # warm-up: first-day streaks, caches, compiled statements
                await submit(number)
            statements.clear()
            await submit(0)
            print(f"statements in one submission ({len(statements)}):")
            for statement in statements:
                print("   ", " ".join(statement.split())[:160])
            statements.clear()
            gc_seconds = _time_collections()
            cpu = time.process_time()
            for number in range(options.submissions):
                await submit(number)
            cpu = time.process_time() - cpu
            count = options.submissions
            print(
                f"\n{count} submissions unprofiled: {1000 * cpu / count:.2f} ms CPU each (client included),"
                f" {1000 * gc_seconds[0] / count:.2f} ms of it in the garbage collector"
            )
            statements.clear()
            profiler = cProfile.Profile()
            cpu, wall = time.process_time(), time.perf_counter()
            profiler.enable()
            for number in range(options.submissions):
                await submit(number)
            profiler.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    count = options.submissions
    print(
        f"\n{count} submissions: {1000 * cpu / count:.2f} ms CPU and {1000 * wall / count:.2f} ms wall each"
        f" (client included), {len(statements) / count:.1f} statements each"
    )
    profiler.dump_stats("/tmp/quiz_profile.pstats") if options.dump else None
    pstats.Stats(profiler).sort_stats(options.sort).print_stats(options.top)


def _time_collections() -> list[float]:
    """A running total of the seconds the cyclic garbage collector spends, from now on."""
    total = [0.0]
    started = [0.0]

    def callback(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            total[0] += time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    return total


def main() -> None:
    """Prepare a data dir, then profile the submissions."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--learners", type=int, default=4)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", action="store_true", help="also write /tmp/quiz_profile.pstats")
    parser.add_argument("--postgres-url")
    parser.add_argument("--redis-url")
    options = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="companion-quiz-profile-"))
    try:
        if options.postgres_url:
            asyncio.run(reset_stores(options.postgres_url, options.redis_url))
        settings = Settings(
            data_dir=data_dir,
            database_url=options.postgres_url,
            redis_url=options.redis_url,
            log_level="WARNING",
            signups_per_address_per_hour=1000,
            run_jobs=False,
            _env_file=None,  # type: ignore[call-arg]
        )
        prepare_data(settings, echo=lambda _line: None)
        asyncio.run(_profile(settings, options))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
