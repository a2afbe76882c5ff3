"""Latency of the progress dashboard, a quiz submission and the admin analytics report at 100,000 learners.

Seeds a dedicated PostgreSQL database (`companion_bench` unless `--database` names another; created
if missing, migrated with Alembic; the test database is never touched) with learners, subscriptions
and their change history, streaks, chapter progress and 1,000,000 quiz attempts through asyncpg
COPY, rows shuffled so one learner's rows are scattered over the table as they would be after months
of use. Attempts of the last 30 days carry per-question grading details like real submissions (the
most-missed-questions query reads them). Then it times the service code the endpoints run:
`progress_service.build_dashboard` (the cache bypassed), `quizzes_service.submit_quiz` plus its
commit, the `refresh-analytics` roll-up (a backfill of all history, then a routine refresh) and
`analytics_service.build_report` (uncached) with each of its queries. Target: dashboard
p95 under 10 ms. Prints EXPLAIN (ANALYZE) plans of the dashboard and submission statements, and a
final JSON line.

    nice -n 10 .venv/bin/python bench/learning_record.py [--learners 100000] [--attempts 1000000]
        [--database companion_bench] [--reseed]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from companion.accounts.models import User  # noqa: E402
from companion.analytics import queries as analytics_queries  # noqa: E402
from companion.analytics import rollup as analytics_rollup  # noqa: E402
from companion.analytics import service as analytics_service  # noqa: E402
from companion.cache import MemoryCache  # noqa: E402
from companion.content.schemas import ContentPack  # noqa: E402
from companion.content.validation import load_pack  # noqa: E402
from companion.db import create_engine, create_sessionmaker  # noqa: E402
from companion.migrations import upgrade_to_head  # noqa: E402
from companion.progress import service as progress_service  # noqa: E402
from companion.quizzes import service as quizzes_service  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
# Set from --database by main().
DATABASE = "companion_bench"
DSN = f"{SERVER}/{DATABASE}"
SQLALCHEMY_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"
DETAILED_DAYS = 30
COURSE_DIR = ROOT / "courses" / "genai-fundamentals"
TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Karachi", "Asia/Tokyo", "America/Los_Angeles"]
BATCH = 100_000


def _batches(rows: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


async def _copy(
    connection: asyncpg.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    started = time.perf_counter()
    done = 0
    for batch in _batches(rows):
        await connection.copy_records_to_table(table, records=batch, columns=columns)
        done += len(batch)
        print(f"  {table}: {done:,}/{len(rows):,} rows", end="\r", flush=True)
    print(f"  {table}: {len(rows):,} rows in {time.perf_counter() - started:.1f}s" + " " * 20, flush=True)


async def _ensure_database() -> None:
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
            print(f"created database {DATABASE}", flush=True)
    finally:
        await admin.close()


async def _seeded(learners: int, attempts: int) -> bool:
    connection = await asyncpg.connect(DSN)
    try:
        users = await connection.fetchval("SELECT count(*) FROM users")
        rows = await connection.fetchval("SELECT count(*) FROM quiz_attempts")
        detailed = await connection.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM quiz_attempts WHERE grading_details IS NOT NULL LIMIT 1) d"
        )
        return bool(users == learners and rows == attempts and detailed)
    finally:
        await connection.close()


async def _seed(pack: ContentPack, learners: int, attempts: int, rng: random.Random) -> float:
    """Bulk-load learners and their learning record; returns the seconds it took."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    connection = await asyncpg.connect(DSN)
    try:
        # Users cascade to every table that references them.
        await connection.execute("TRUNCATE users CASCADE")
        print(f"seeding {learners:,} learners and {attempts:,} quiz attempts...", flush=True)
        user_ids = [uuid.uuid4() for _ in range(learners)]
        tiers = ["premium" if rng.random() < 0.2 else "free" for _ in user_ids]
        created = [now - timedelta(days=rng.randint(1, 400)) for _ in user_ids]
        await _copy(
            connection,
            "users",
            [
                "id",
                "email",
                "full_name",
                "timezone",
                "preferences",
                "subscription_tier",
                "created_at",
                "updated_at",
            ],
            [
                (
                    user_id,
                    f"learner{index}@bench.example",
                    "Bench Learner",
                    TIMEZONES[index % 6],
                    "{}",
                    tier,
                    at,
                    at,
                )
                for index, (user_id, tier, at) in enumerate(zip(user_ids, tiers, created, strict=True))
            ],
        )
        await _copy(
            connection,
            "subscriptions",
            ["id", "user_id", "tier", "status", "started_at", "updated_at"],
            [
                (uuid.uuid4(), user_id, tier, "active", at, at)
                for user_id, tier, at in zip(user_ids, tiers, created, strict=True)
            ],
        )
        # The free -> premium change of each premium learner, some time after signing up.
        await _copy(
            connection,
            "subscription_changes",
            ["id", "user_id", "from_tier", "to_tier", "from_status", "to_status", "source", "changed_at"],
            [
                (
                    uuid.uuid4(),
                    user_id,
                    "free",
                    tier,
                    "active",
                    "active",
                    "stripe",
                    min(now, at + timedelta(days=rng.randint(0, 60))),
                )
                for user_id, tier, at in zip(user_ids, tiers, created, strict=True)
                if tier != "free"
            ],
        )
        today = now.date()
        streak_rows = []
        for user_id in user_ids:
            longest = rng.randint(1, 60)
            current = rng.randint(0, longest)
            last: date = today - timedelta(days=rng.randint(0, 30))
            at = datetime.combine(last, datetime.min.time(), UTC) + timedelta(hours=12)
            streak_rows.append(
                (uuid.uuid4(), user_id, current, longest, last, at, longest + rng.randint(0, 50), False, at)
            )
        await _copy(
            connection,
            "streaks",
            [
                "id",
                "user_id",
                "current_streak",
                "longest_streak",
                "last_activity_date",
                "last_activity_at",
                "total_active_days",
                "streak_frozen",
                "updated_at",
            ],
            streak_rows,
        )

        course_id = pack.course.id
        progress_rows = []
        for user_id, tier in zip(user_ids, tiers, strict=True):
            reachable = pack.chapters if tier == "premium" else pack.chapters[:3]
            for chapter in reachable[: rng.randint(0, len(reachable))]:
                read = [
                    section.section_id
                    for section in chapter.sections[: rng.randint(1, len(chapter.sections))]
                ]
                percentage = round(100 * len(read) / len(chapter.sections), 2)
                completed = percentage == 100 or rng.random() < 0.3
                at = now - timedelta(days=rng.randint(0, 300))
                progress_rows.append(
                    (
                        uuid.uuid4(),
                        user_id,
                        course_id,
                        chapter.chapter_id,
                        completed,
                        json.dumps(read),
                        read[-1],
                        rng.randint(60, 7200),
                        percentage,
                        at,
                        at,
                        at if completed else None,
                    )
                )
        rng.shuffle(progress_rows)
        await _copy(
            connection,
            "chapter_progress",
            [
                "id",
                "user_id",
                "course_id",
                "chapter_id",
                "completed",
                "sections_read",
                "last_section_id",
                "time_spent_seconds",
                "completion_percentage",
                "started_at",
                "updated_at",
                "completed_at",
            ],
            progress_rows,
        )

        quizzes = pack.quizzes
        details = {quiz.quiz_id: _detail_variants(quiz, rng) for quiz in quizzes}
        detailed_since = now - timedelta(days=DETAILED_DAYS)
        attempt_rows = []
        per_learner, extra = divmod(attempts, learners)
        for index, (user_id, tier) in enumerate(zip(user_ids, tiers, strict=True)):
            reachable = quizzes if tier == "premium" else quizzes[:3]
            numbers: dict[str, int] = {}
            for _ in range(per_learner + (1 if index < extra else 0)):
                quiz = rng.choice(reachable)
                numbers[quiz.quiz_id] = numbers.get(quiz.quiz_id, 0) + 1
                score = round(rng.uniform(20, 100), 2)
                at = now - timedelta(days=rng.randint(0, 300), seconds=rng.randint(0, 86_400))
                attempt_rows.append(
                    (
                        uuid.uuid4(),
                        user_id,
                        course_id,
                        quiz.quiz_id,
                        quiz.chapter_id,
                        pack.version,
                        numbers[quiz.quiz_id],
                        "submitted",
                        score,
                        len(quiz.questions),
                        round(score * (len(quiz.questions) - 1) / 100),
                        1,
                        '{"q1": "a", "q2": true, "q3": ["a", "c"], "q4": "transformer"}',
                        rng.choice(details[quiz.quiz_id]) if at >= detailed_since else None,
                        at - timedelta(minutes=12),
                        at,
                        720,
                        score >= quiz.passing_score,
                        False,
                    )
                )
        rng.shuffle(attempt_rows)
        await _copy(
            connection,
            "quiz_attempts",
            [
                "id",
                "user_id",
                "course_id",
                "quiz_id",
                "chapter_id",
                "content_version",
                "attempt_number",
                "status",
                "score",
                "total_questions",
                "correct_answers",
                "pending_questions",
                "answers",
                "grading_details",
                "started_at",
                "submitted_at",
                "time_taken_seconds",
                "passed",
                "is_late",
            ],
            attempt_rows,
        )
        print("  ANALYZE...", flush=True)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


def _detail_variants(quiz: Any, rng: random.Random, count: int = 32) -> list[str]:
    """Grading details shaped like real ones (answer, key, explanation per question), misses varying."""
    variants = []
    for _ in range(count):
        rows = {}
        for question in quiz.questions:
            correct = rng.random() < 0.7
            rows[question.question_id] = {
                "question_id": question.question_id,
                "type": question.type,
                "status": "correct" if correct else "incorrect",
                "correct": correct,
                "answer": "a",
                "correct_answer": "a" if correct else "b",
                "explanation": question.explanation,
                "points": question.points,
                "earned_points": question.points if correct else 0,
            }
        variants.append(json.dumps(rows))
    return variants


def _percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50": round(statistics.median(samples), 3),
        "p95": round(cuts[94], 3),
        "p99": round(cuts[98], 3),
        "mean": round(statistics.fmean(samples), 3),
    }


async def _sample_user_ids(engine: AsyncEngine, count: int) -> list[uuid.UUID]:
    async with engine.connect() as connection:
        result = await connection.execute(
            text("SELECT id FROM users ORDER BY random() LIMIT :n"), {"n": count}
        )
        return [row[0] for row in result]


def _answers(pack: ContentPack, quiz_id: str, rng: random.Random) -> dict[str, Any]:
    quiz = pack.quiz(quiz_id)
    assert quiz is not None
    answers: dict[str, Any] = {}
    for question in quiz.questions:
        if question.type == "multiple_choice":
            answers[question.question_id] = rng.choice(question.options).id  # type: ignore[union-attr]
        elif question.type == "multiple_select":
            answers[question.question_id] = [option.id for option in question.options[:2]]  # type: ignore[union-attr]
        elif question.type == "true_false":
            answers[question.question_id] = rng.random() < 0.5
        else:
            answers[question.question_id] = "transformer"
    return answers


async def _time_dashboard(engine: AsyncEngine, pack: ContentPack, user_ids: list[uuid.UUID]) -> list[float]:
    sessionmaker = create_sessionmaker(engine)
    timings = []
    for user_id in user_ids:
        async with sessionmaker() as session:
            user = await session.get(User, user_id)  # the request's authentication, not timed
            assert user is not None
            started = time.perf_counter()
            await progress_service.build_dashboard(session, user=user, packs=[pack])
            timings.append((time.perf_counter() - started) * 1000)
    return timings


async def _time_submissions(
    engine: AsyncEngine, pack: ContentPack, user_ids: list[uuid.UUID], rng: random.Random
) -> list[float]:
    sessionmaker = create_sessionmaker(engine)
    cache = MemoryCache()
    timings = []
    for user_id in user_ids:
        quiz_id = rng.choice(["01-quiz", "02-quiz", "03-quiz"])
        answers = _answers(pack, quiz_id, rng)
        async with sessionmaker() as session:
            user = await session.get(User, user_id)
            assert user is not None
            started = time.perf_counter()
            await quizzes_service.submit_quiz(
                session,
                user=user,
                pack=pack,
                quiz_id=quiz_id,
                answers=answers,
                time_taken_seconds=600,
                cache=cache,
            )
            await session.commit()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


async def _explain(engine: AsyncEngine, pack: ContentPack, user_id: uuid.UUID, rng: random.Random) -> None:
    """Print the plans of every statement one dashboard read and one submission issue (then roll back)."""
    captured: list[tuple[str, str, Any]] = []
    label = {"name": ""}

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("SELECT", "INSERT", "UPDATE"):
            captured.append((label["name"], statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            user = await session.get(User, user_id)
            assert user is not None
            label["name"] = "dashboard"
            await progress_service.build_dashboard(session, user=user, packs=[pack])
            label["name"] = "submission"
            await quizzes_service.submit_quiz(
                session,
                user=user,
                pack=pack,
                quiz_id="01-quiz",
                answers=_answers(pack, "01-quiz", rng),
                time_taken_seconds=600,
                cache=MemoryCache(),
            )
            await session.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        for name, statement, parameters in captured:
            if name == "" or "FROM users" in statement:
                continue
            plan = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
            )
            print(f"\n--- {name}: {' '.join(statement.split())[:160]}")
            for row in plan:
                print("   ", row[0])
        await transaction.rollback()


async def _time_analytics(engine: AsyncEngine, pack: ContentPack, runs: int) -> dict[str, Any]:
    """The roll-up job (backfill of all history, then a routine refresh), then the report and its queries."""
    sessionmaker = create_sessionmaker(engine)
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        await session.execute(text("DELETE FROM analytics_activity_days"))
        await session.commit()
    refresh_seconds = {}
    for kind in ("backfill", "routine"):
        async with sessionmaker() as session:
            started = time.perf_counter()
            rows = await analytics_rollup.refresh(session, now=now)
            await session.commit()
            refresh_seconds[kind] = round(time.perf_counter() - started, 2)
            print(f"  roll-up {kind}: {rows:,} rows in {refresh_seconds[kind]}s", flush=True)
    timings = []
    for _ in range(runs):
        async with sessionmaker() as session:
            started = time.perf_counter()
            await analytics_service.build_report(session, packs=[pack], days=30, now=now)
            timings.append((time.perf_counter() - started) * 1000)
    today = now.date()
    first_day = today - timedelta(days=29)
    since = now - timedelta(days=30)
    steps: dict[str, Any] = {
        "daily_active": lambda s: analytics_queries.daily_active(s, since=first_day),
        "active_today_7_30_days": lambda s: analytics_queries.distinct_active(
            s, since=[today, today - timedelta(days=6), today - timedelta(days=29)]
        ),
        "retention": lambda s: analytics_queries.retention(
            s, boundary=today - timedelta(days=13), window_start=today - timedelta(days=27)
        ),
        "churned": lambda s: analytics_queries.idle_learners(s, idle_since=now - timedelta(days=14)),
        "chapter_funnel": analytics_queries.chapter_funnel,
        "quiz_outcomes": lambda s: analytics_queries.quiz_outcomes(s, since=first_day),
        "most_missed": lambda s: analytics_queries.most_missed(s, since=first_day, limit=10),
        "tier_mix": analytics_queries.tier_mix,
        "tier_changes": lambda s: analytics_queries.tier_changes(s, since=since),
    }
    per_query = {}
    for name, step in steps.items():
        async with sessionmaker() as session:
            started = time.perf_counter()
            await step(session)
            per_query[name] = round((time.perf_counter() - started) * 1000, 1)
    return {"report_ms": _percentiles(timings), "query_ms": per_query, "rollup_seconds": refresh_seconds}


async def run(options: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(7)
    pack = load_pack(COURSE_DIR)
    seed_seconds = 0.0
    if options.reseed or not await _seeded(options.learners, options.attempts):
        seed_seconds = await _seed(pack, options.learners, options.attempts, rng)
    else:
        print("database already seeded at this size; pass --reseed to rebuild it", flush=True)
    engine = create_engine(SQLALCHEMY_URL)
    try:
        user_ids = await _sample_user_ids(engine, options.samples + options.submissions + 100)
        dashboard_users = user_ids[: options.samples]
        submission_users = user_ids[options.samples : options.samples + options.submissions]
        print(f"\nwarming up, then timing {len(dashboard_users):,} dashboard reads...", flush=True)
        await _time_dashboard(engine, pack, user_ids[-100:])
        dashboard = await _time_dashboard(engine, pack, dashboard_users)
        print(
            f"timing {len(submission_users):,} quiz submissions (start, grade, streak, progress, commit)..."
        )
        submissions = await _time_submissions(engine, pack, submission_users, rng)
        await _explain(engine, pack, user_ids[-1], rng)
        print(
            f"\ntiming the admin analytics report ({options.analytics_runs} runs, 30-day window)...",
            flush=True,
        )
        analytics = await _time_analytics(engine, pack, options.analytics_runs)
        print(json.dumps(analytics["query_ms"]), flush=True)
    finally:
        await engine.dispose()
    return {
        "bench": "learning_record",
        "learners": options.learners,
        "quiz_attempts": options.attempts,
        "seed_seconds": round(seed_seconds, 1),
        "dashboard_ms": _percentiles(dashboard),
        "submission_ms": _percentiles(submissions),
        "analytics": analytics,
        "dashboard_p95_target_ms": 10,
        "dashboard_target_met": _percentiles(dashboard)["p95"] < 10,
    }


def _use_database(name: str) -> None:
    global DATABASE, DSN, SQLALCHEMY_URL
    DATABASE = name
    DSN = f"{SERVER}/{name}"
    SQLALCHEMY_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2_000, help="dashboard reads to time")
    parser.add_argument("--submissions", type=int, default=500, help="quiz submissions to time")
    parser.add_argument("--analytics-runs", type=int, default=5, help="analytics reports to time")
    parser.add_argument("--database", default=DATABASE, help="the PostgreSQL database to seed and use")
    parser.add_argument("--reseed", action="store_true", help="rebuild the data even if it is there")
    options = parser.parse_args()
    _use_database(options.database)
    asyncio.run(_ensure_database())
    upgrade_to_head(SQLALCHEMY_URL)  # Alembic runs its own loop, so outside ours
    results = asyncio.run(run(options))
    print("\n" + json.dumps(results))


if __name__ == "__main__":
    main()
