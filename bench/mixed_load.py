"""A mixed workload on several `companion serve` worker processes over PostgreSQL + Redis.

`companion serve --workers N` (default 2) runs on a fresh temporary data dir, on the given PostgreSQL
database (its `public` schema is dropped and recreated) and Redis database (flushed). Virtual learners
then drive it for `--seconds` (default 60) from one asyncio httpx client each, without think time:
anonymous readers read chapters and search; signed-in learners, each with `--tabs` concurrent tabs
(so that one learner's first writes race), read chapters, search, record progress, submit quizzes and
ask the deterministic tutor, inside a learning session. Rate limits a bench would trip (sign-ups from
one address, tutor questions per minute) are raised through their settings, as an operator would.

Printed per kind of request: throughput, p50/p99, errors (a 5xx, a connection error or any status
other than the route's success status). Which worker answered is read from the server side of each
connection (`ss`), so the search mode (hybrid or lexical) is reported per worker, counted on searches
that missed the cache (a cached answer says the mode of whichever worker computed it). Target: zero
errors, hybrid in every worker. Error lines in the server log (a failed job, a
traceback) are errors too. Exit status 1 on any error (and with `--require-hybrid`, on any lexical
answer).

    .venv/bin/python bench/mixed_load.py [--seconds 60] [--workers 2] [--learners 12] [--tabs 2]
        [--anonymous 4] [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
        [--redis-url redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from harness import free_port, reset_stores, sign_up

ROOT = Path(__file__).resolve().parents[1]
COURSE_DIR = ROOT / "courses" / "genai-fundamentals"
COURSE = "genai-fundamentals"
FREE_CHAPTERS = ["01-intro-genai", "02-llms", "03-prompting"]  # the free tier's chapters and quizzes
QUERIES = [
    "transformer attention",
    "what is a token",
    "few-shot prompting",
    "retrieval augmented generation",
    "embeddings and vector search",
    "prompt injection",
    "context window",
    "fine-tuning with LoRA",
    "hallucination",
    "temperature and decoding",
    "chain of thought",
    "structured output JSON",
]
QUESTIONS = [
    "What is a token?",
    "How does attention work in a transformer?",
    "Why do language models hallucinate?",
    "What is few-shot prompting?",
    "How should I write a system prompt?",
    "What is the difference between generative and discriminative models?",
]
SUCCESS = {"read": 200, "search": 200, "progress": 200, "quiz": 201, "tutor": 201}
# Signed-in tabs: the share of each kind of request (anonymous readers only read and search).
SIGNED_IN_MIX = {"read": 40, "search": 20, "progress": 20, "quiz": 10, "tutor": 10}
ANONYMOUS_MIX = {"read": 70, "search": 30}


@dataclass
class Sample:
    """One request: its kind, who asked, status (0: connection error), latency and the connection."""

    kind: str
    signed_in: bool
    status: int
    seconds: float
    client_port: int | None
    detail: str = ""
    search_mode: str | None = None  # for searches that missed the cache


@dataclass
class Run:
    """Everything measured during the timed window."""

    samples: list[Sample] = field(default_factory=list)
    port_to_pid: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


@functools.cache
def _shipped(kind: str, name: str) -> dict[str, Any]:
    """A chapter or quiz file of the shipped course, with its answer key (read once)."""
    document: dict[str, Any] = json.loads((COURSE_DIR / kind / f"{name}.json").read_text())
    return document


def _quiz_answers(quiz_id: str, rng: random.Random) -> dict[str, Any]:
    """An answer sheet for a shipped quiz: each auto-graded answer right three times out of four."""
    quiz = _shipped("quizzes", quiz_id)
    answers: dict[str, Any] = {}
    for question in quiz["questions"]:
        right = rng.random() < 0.75
        kind = question["type"]
        if kind == "multiple_choice":
            options = [option["id"] for option in question["options"]]
            answers[question["question_id"]] = question["correct_answer"] if right else rng.choice(options)
        elif kind == "true_false":
            answers[question["question_id"]] = question["correct_answer"] == right
        elif kind == "multiple_select":
            answers[question["question_id"]] = question["correct_answers"] if right else []
        elif kind == "short_answer":
            answers[question["question_id"]] = question["accepted_answers"][0] if right else "no idea"
        else:
            answers[question["question_id"]] = "An answer that a grader will read later."
    return answers


class Learner:
    """One virtual learner's tab: a keep-alive client issuing requests back to back."""

    def __init__(self, http: httpx.AsyncClient, run: Run, rng: random.Random, token: str | None) -> None:
        self.http, self.run, self.rng = http, run, rng
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.conversation_id: str | None = None

    async def start_session(self) -> None:
        """Open a learning session so tracked requests are counted in it (more concurrent writes)."""
        response = await self.http.post("/api/v1/sessions", json={"interface": "api"}, headers=self.headers)
        response.raise_for_status()
        self.headers["X-Learning-Session-Id"] = response.json()["id"]

    async def loop(self, deadline: float) -> None:
        """Issue requests of the mix until the deadline."""
        mix = SIGNED_IN_MIX if self.headers else ANONYMOUS_MIX
        kinds, weights = list(mix), list(mix.values())
        while time.monotonic() < deadline:
            await self.request(self.rng.choices(kinds, weights)[0])

    async def request(self, kind: str) -> None:
        """Send one request of this kind and record it."""
        chapter = self.rng.choice(FREE_CHAPTERS)
        fresh_query = False
        if kind == "read":
            method, url, body = "GET", f"/api/v1/courses/{COURSE}/chapters/{chapter}", None
        elif kind == "search":
            query = self.rng.choice(QUERIES)
            fresh_query = self.rng.random() < 0.5
            if fresh_query:  # a word no passage holds: the same results, but a cache miss
                query += f" zq{uuid.uuid4().hex[:10]}"
            method, url, body = (
                "GET",
                "/api/v1/search?" + str(httpx.QueryParams(q=query, course_id=COURSE)),
                None,
            )
        elif kind == "progress":
            body = {
                "section_id": self.rng.choice(_shipped("chapters", chapter)["sections"])["section_id"],
                "time_spent_seconds": 30,
            }
            method, url = "PUT", f"/api/v1/progress/{COURSE}/{chapter}"
        elif kind == "quiz":
            quiz_id = chapter.split("-")[0] + "-quiz"
            body = {"answers": _quiz_answers(quiz_id, self.rng), "time_taken_seconds": 120}
            method, url = "POST", f"/api/v1/courses/{COURSE}/quizzes/{quiz_id}/submit"
        else:
            message = {"content": self.rng.choice(QUESTIONS)}
            if self.conversation_id is None:
                method, url, body = (
                    "POST",
                    "/api/v1/tutor/conversations",
                    {"course_id": COURSE, "message": message},
                )
            else:
                method, url, body = (
                    "POST",
                    f"/api/v1/tutor/conversations/{self.conversation_id}/messages",
                    message,
                )
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, json=body, headers=self.headers)
        except httpx.HTTPError as error:
            self.run.samples.append(
                Sample(kind, bool(self.headers), 0, time.perf_counter() - started, None, repr(error))
            )
            return
        elapsed = time.perf_counter() - started
        stream = response.extensions.get("network_stream")
        address = stream.get_extra_info("client_addr") if stream is not None else None
        sample = Sample(
            kind, bool(self.headers), response.status_code, elapsed, address[1] if address else None
        )
        if response.status_code != SUCCESS[kind]:
            sample.detail = response.text[:300]
        elif kind == "search" and fresh_query:
            sample.search_mode = response.json()["mode"]
        elif kind == "tutor" and self.conversation_id is None:
            self.conversation_id = response.json()["id"]
        self.run.samples.append(sample)


def _connection_owners(port: int) -> dict[int, int]:
    """For each open connection to the server's port: the client's port and the server process's pid."""
    pattern = rf"127\.0\.0\.1:{port}\s+127\.0\.0\.1:(\d+)\s+users:\(\(\"[^\"]*\",pid=(\d+)"
    output = subprocess.run(["ss", "-Htnp", "state", "established"], capture_output=True, text=True).stdout
    return {int(client_port): int(pid) for client_port, pid in re.findall(pattern, output)}


async def _map_connections(port: int, run: Run, stop: asyncio.Event) -> None:
    """Record which server process holds each client connection, every second until stopped."""
    while True:
        run.port_to_pid.update(await asyncio.to_thread(_connection_owners, port))
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _drive(base_url: str, port: int, options: argparse.Namespace) -> Run:
    """Sign learners up, then run every tab and anonymous reader until the window closes."""
    run = Run()
    rng = random.Random(16)
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as setup:
        tokens = [
            await sign_up(setup, f"learner{index}-{uuid.uuid4().hex[:6]}@example.com")
            for index in range(options.learners)
        ]
    clients: list[httpx.AsyncClient] = []
    learners: list[Learner] = []
    for token in [*(t for t in tokens for _ in range(options.tabs)), *([None] * options.anonymous)]:
        http = httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=httpx.Limits(max_connections=1))
        clients.append(http)
        learners.append(Learner(http, run, random.Random(rng.random()), token))
    stop = asyncio.Event()
    mapper = asyncio.create_task(_map_connections(port, run, stop))
    try:
        await asyncio.gather(*(learner.start_session() for learner in learners if learner.headers))
        deadline = time.monotonic() + options.seconds
        started = time.monotonic()
        await asyncio.gather(*(learner.loop(deadline) for learner in learners))
        run.seconds = time.monotonic() - started
    finally:
        stop.set()
        await mapper
        for http in clients:
            await http.aclose()
    return run


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def _report(run: Run, workers: int) -> dict[str, Any]:
    """Print the tables; return the figures for the JSON line."""
    seconds = run.seconds
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in run.samples:
        label = sample.kind + (
            " (signed in)" if sample.signed_in and sample.kind in ("read", "search") else ""
        )
        by_kind[label].append(sample)
    figures: dict[str, Any] = {}
    print(f"\n{'kind':<22} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label in sorted(by_kind):
        samples = by_kind[label]
        latencies = [sample.seconds for sample in samples]
        errors = [sample for sample in samples if sample.status != SUCCESS[sample.kind]]
        figures[label] = {
            "requests": len(samples),
            "per_second": round(len(samples) / seconds, 1),
            "p50_ms": round(_percentile(latencies, 0.50), 1),
            "p99_ms": round(_percentile(latencies, 0.99), 1),
            "errors": len(errors),
        }
        row = figures[label]
        print(
            f"{label:<22} {row['requests']:>9} {row['per_second']:>8.1f} {row['p50_ms']:>8.1f}"
            f" {row['p99_ms']:>8.1f} {row['errors']:>7}"
        )
    total = len(run.samples)
    print(f"{'all':<22} {total:>9} {total / seconds:>8.1f}")

    errors = [sample for sample in run.samples if sample.status != SUCCESS[sample.kind]]
    if errors:
        print("\nerrors by kind and status:")
        for (kind, status), count in sorted(Counter((s.kind, s.status) for s in errors).items()):
            example = next(s.detail for s in errors if (s.kind, s.status) == (kind, status))
            print(f"  {kind:<9} {status:>3} x{count}: {example[:200]}")

    workers_seen = sorted({pid for pid in run.port_to_pid.values()})
    names = {pid: f"worker {index + 1} (pid {pid})" for index, pid in enumerate(workers_seen)}
    served = Counter(names.get(run.port_to_pid.get(s.client_port or -1, -1), "unknown") for s in run.samples)
    modes: dict[str, Counter[str]] = defaultdict(Counter)
    for sample in run.samples:
        if sample.search_mode is not None:
            worker = names.get(run.port_to_pid.get(sample.client_port or -1, -1), "unknown")
            modes[worker][sample.search_mode] += 1
    print(
        f"\nrequests per worker ({workers} started): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(served.items()))
    )
    print("search mode per worker (searches that missed the cache):")
    for worker in sorted(modes):
        print(f"  {worker}: " + ", ".join(f"{mode} {count}" for mode, count in sorted(modes[worker].items())))
    hybrid_everywhere = len(modes) >= workers and all(set(counts) == {"hybrid"} for counts in modes.values())
    print(f"hybrid in every worker: {'yes' if hybrid_everywhere else 'no'}  (target: yes)")
    return {
        "kinds": figures,
        "errors": len(errors),
        "requests_per_second": round(total / seconds, 1),
        "search_modes": {worker: dict(counts) for worker, counts in modes.items()},
        "hybrid_in_every_worker": hybrid_everywhere,
    }


def main() -> None:
    """Start the workers, drive the mixed load, print the figures; exit 1 on any error."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "COMPANION_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL database the bench may empty (default: $COMPANION_TEST_POSTGRES_URL or .../test)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("COMPANION_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="Redis database the bench may flush (default: $COMPANION_TEST_REDIS_URL or db 15)",
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--learners", type=int, default=12, help="signed-in learners")
    parser.add_argument("--tabs", type=int, default=2, help="concurrent tabs per signed-in learner")
    parser.add_argument("--anonymous", type=int, default=4, help="anonymous readers")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="reuse (and keep) this data dir and its search index; default: a fresh one",
    )
    parser.add_argument("--require-hybrid", action="store_true", help="exit 1 unless every worker is hybrid")
    options = parser.parse_args()
    if shutil.which("ss") is None:
        raise SystemExit("ss (iproute2) is required to tell the workers apart")

    port = options.port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="companion-mixed-"))
    print(f"emptying {options.database_url} and {options.redis_url}...", flush=True)
    asyncio.run(reset_stores(options.database_url, options.redis_url))
    env = {
        **os.environ,
        "COMPANION_DATA_DIR": str(data_dir),
        "COMPANION_DATABASE_URL": options.database_url,
        "COMPANION_REDIS_URL": options.redis_url,
        "COMPANION_LOG_LEVEL": "WARNING",
        # One address signs every learner up and asks every question: raise those limits, as an
        # operator would for a load test, rather than switching limits off.
        "COMPANION_SIGNUPS_PER_ADDRESS_PER_HOUR": "100000",
        "COMPANION_TUTOR_MESSAGES_PER_MINUTE": "100000",
    }
    log = data_dir / "serve.log"
    command = [str(Path(sys.executable).parent / "companion"), "serve", "--port", str(port)]
    command += ["--workers", str(options.workers)]
    print(f"starting {' '.join(command[1:])} on data dir {data_dir}...", flush=True)
    try:
        with _serving(command, env, log) as server:
            started = time.monotonic()
            _wait_ready(base_url, port, options.workers, server, log)
            print(f"ready after {time.monotonic() - started:.1f} s", flush=True)
            _wait_search_ready(base_url)
            print(
                f"driving {options.learners} learners x {options.tabs} tabs"
                f" + {options.anonymous} anonymous readers for {options.seconds:.0f} s...",
                flush=True,
            )
            run = asyncio.run(_drive(base_url, port, options))
        figures = _report(run, options.workers)
        # A failed job or content refresh is an error too, even when every response was right.
        problems = _log_problems(log.read_text(errors="replace"))
        print(f"server log: {len(problems)} error line(s)")
        for line in problems[:20]:
            print("  " + line[:300])
    finally:
        if options.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    figures["server_log_errors"] = len(problems)
    print(json.dumps({"bench": "mixed_load", "workers": options.workers, **figures}))
    failed = (
        figures["errors"] or problems or (options.require_hybrid and not figures["hybrid_in_every_worker"])
    )
    sys.exit(1 if failed else 0)


@contextmanager
def _serving(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The server process, in a session of its own, stopped (SIGTERM, then SIGKILL) when the block ends."""
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=output, stderr=output, start_new_session=True
        )
    try:
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _log_problems(log: str) -> list[str]:
    """The server log's error lines: ERROR or CRITICAL records and tracebacks."""
    return [line for line in log.splitlines() if re.search(r"\b(ERROR|CRITICAL)\b|^Traceback", line)]


def _wait_ready(
    base_url: str, port: int, workers: int, server: subprocess.Popen[bytes], log: Path, timeout: float = 900.0
) -> None:
    """Wait until every worker has answered /readyz (a worker still starting accepts no connection)."""
    answered: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(answered) < workers:
        if server.poll() is not None:
            raise SystemExit("the server exited:\n" + log.read_text(errors="replace")[-3000:])
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(answered)} of {workers} workers became ready")
        try:
            with httpx.Client(base_url=base_url, timeout=5) as http:  # a new connection each time
                response = http.get("/readyz")
                stream = response.extensions["network_stream"]
                owner = _connection_owners(port).get(stream.get_extra_info("client_addr")[1])
            if response.status_code == 200 and owner is not None:
                answered.add(owner)
        except httpx.TransportError:
            pass
        time.sleep(0.2)


def _wait_search_ready(base_url: str, timeout: float = 120.0) -> None:
    """Wait (bounded) until a fresh search answers hybrid: an index may still be building at start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        query = f"attention zq{uuid.uuid4().hex[:10]}"
        answer = httpx.get(f"{base_url}/api/v1/search", params={"q": query, "course_id": COURSE}, timeout=30)
        if answer.status_code == 200 and answer.json()["mode"] == "hybrid":
            return
        time.sleep(1)
    print("search still lexical after the wait; measuring anyway", flush=True)


if __name__ == "__main__":
    main()
