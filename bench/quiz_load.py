"""Quiz submissions under load: 16 learners submitting a 12-question quiz at once, against a bare app.

One server process (uvicorn, 127.0.0.1) per backend, SQLite and PostgreSQL + Redis, each loaded by
wrk with one connection per learner (each connection keeps submitting as its own learner), and
compared with a bare Starlette endpoint that parses the same body and answers with the same bytes,
measured in the same run. Targets: at least 0.03x the bare throughput on PostgreSQL + Redis, and a
p99 of at most 500 ms on SQLite.

Besides throughput and latency it prints the CPU time each server process spent per completed request
(user + system time from /proc before and after the wrk run): on a shared, busy machine that figure
moves far less than the throughput does.

    .venv/bin/python bench/quiz_load.py [--learners 16] [--seconds 15] [--backend both]
        [--postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/companion_bench]
        [--redis-url redis://127.0.0.1:6379/14] [--port 8400]

`--port N` serves the product on port N and the bare app on N+1 (default: any free ports).

The PostgreSQL database's public schema and the Redis database are wiped first: point them at
throwaway ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from api_load import _ms, _start, _wait_until_up
from harness import cpu_seconds, free_port, learner, prepare_data_dir, reset_stores

ROOT = Path(__file__).resolve().parents[1]
SUBMIT_PATH = "/api/v1/courses/genai-fundamentals/quizzes/01-quiz/submit"
# The README's valid submission of the shipped quiz: all twelve questions, every answer type.
ANSWERS = {
    "answers": {
        "q1": "c",
        "q2": "a",
        "q3": "d",
        "q4": "a",
        "q5": "b",
        "q6": ["a", "c"],
        "q7": ["a", "b", "d"],
        "q8": False,
        "q9": True,
        "q10": "hallucination",
        "q11": "transformer",
        "q12": "It predicts likely words, so it can sound sure and still be wrong.",
    }
}
# Each wrk thread has one connection and one learner's token, so a learner never races itself.
LUA_SCRIPT = """
local tokens = {%(tokens)s}
local body = %(body)s
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("token", tokens[(threads - 1) %% #tokens + 1])
end
function init(args)
  req = wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                 ["Authorization"] = "Bearer " .. token}, body)
end
function request()
  return req
end
"""


def _post(url: str, body: dict[str, object], token: str | None = None) -> tuple[int, bytes]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def _wrk(url: str, script: Path, learners: int, seconds: int, pid: int) -> dict[str, float]:
    threads = f"-t{learners}"  # one thread per connection, so each connection keeps one learner
    command = ["wrk", threads, f"-c{learners}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s"]
    cpu_before = cpu_seconds(pid)
    output = subprocess.run([*command, str(script), url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu_before
    completed = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, flags=re.MULTILINE))
    if rate is None or completed is None or set(percentiles) != {"50", "99"}:
        raise SystemExit(f"wrk measured nothing:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", output)
    return {
        "requests_per_second": float(rate.group(1)),
        "p50_ms": _ms(percentiles["50"]),
        "p99_ms": _ms(percentiles["99"]),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "timeouts": float(timeouts.group(1)) if timeouts else 0.0,
        "cpu_ms_per_request": 1000 * cpu / max(1, int(completed.group(1))),
    }


def _run_backend(name: str, env: dict[str, str], options: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Sign up the learners, then load the bare endpoint and the submit endpoint; their figures."""
    print(f"[{name}] preparing the database (migrations, shipped course, index)...", flush=True)
    prepare_data_dir(env)
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--no-access-log", "--log-level"]
    uvicorn.append("warning")
    product_port, bare_port = (options.port, options.port + 1) if options.port else (free_port(), free_port())
    product = _start([*uvicorn, "--port", str(product_port), "--factory", "companion.app:create_app"], env)
    work_dir = Path(tempfile.mkdtemp(prefix="companion-quiz-load-"))
    results: dict[str, dict[str, float]] = {}
    try:
        base = f"http://127.0.0.1:{product_port}"
        _wait_until_up(f"{base}/healthz", timeout=300)
        tokens = []
        for number in range(options.learners):
            status, body = _post(f"{base}/api/v1/auth/register", learner(f"learner{number}@example.com"))
            tokens.append(json.loads(body)["access_token"])
        status, document = _post(f"{base}{SUBMIT_PATH}", ANSWERS, tokens[0])
        if status != 201:
            raise SystemExit(f"[{name}] a submission answered {status}: {document[:300]!r}")
        (work_dir / "response.json").write_bytes(document)
        script = work_dir / "submit.lua"
        script.write_text(
            LUA_SCRIPT
            % {
                "tokens": ", ".join(json.dumps(token) for token in tokens),
                "body": json.dumps(json.dumps(ANSWERS)),
            }
        )
        bare = _start(
            [*uvicorn, "--port", str(bare_port), "--app-dir", str(ROOT / "bench"), "bare_app:app"],
            {**env, "BARE_DOCUMENT": str(work_dir / "response.json")},
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{bare_port}/chapter", timeout=300)
            for label, url, pid in (
                ("bare_starlette", f"http://127.0.0.1:{bare_port}/submit", bare.pid),
                ("quiz_submit", f"{base}{SUBMIT_PATH}", product.pid),
            ):
                _wrk(url, script, options.learners, 3, pid)  # warm-up
                print(f"[{name}] loading {label}: {options.learners} learners for {options.seconds}s...")
                results[label] = _wrk(url, script, options.learners, options.seconds, pid)
        finally:
            bare.terminate()
            bare.wait()
    finally:
        product.terminate()
        product.wait()
        shutil.rmtree(work_dir, ignore_errors=True)
    return results


def main() -> None:
    """Run each backend, load it with wrk, print the figures and the ratios to bare."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/companion_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--port", type=int, help="the product's port; the bare app's is the next one")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install wrk")

    data_dir = Path(tempfile.mkdtemp(prefix="companion-bench-"))
    env = {
        **os.environ,
        "COMPANION_DATA_DIR": str(data_dir),
        "COMPANION_LOG_LEVEL": "WARNING",
        "COMPANION_SIGNUPS_PER_ADDRESS_PER_HOUR": "1000",
    }
    env.pop("COMPANION_DATABASE_URL", None)
    env.pop("COMPANION_REDIS_URL", None)
    figures: dict[str, dict[str, dict[str, float]]] = {}
    try:
        if options.backend in ("sqlite", "both"):
            figures["sqlite"] = _run_backend("sqlite", env, options)
        if options.backend in ("postgresql", "both"):
            asyncio.run(reset_stores(options.postgres_url, options.redis_url))
            pg_env = {
                **env,
                "COMPANION_DATABASE_URL": options.postgres_url,
                "COMPANION_REDIS_URL": options.redis_url,
            }
            figures["postgresql+redis"] = _run_backend("postgresql+redis", pg_env, options)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    columns = f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>8} {'ratio':>7} {'CPU ms/req':>10}"
    print(f"\n{'backend':<18} {'endpoint':<15} {columns}")
    summary: dict[str, object] = {"bench": "quiz_load", "learners": options.learners}
    for backend, results in figures.items():
        bare = results["bare_starlette"]["requests_per_second"]
        for label, result in results.items():
            ratio = result["requests_per_second"] / bare
            print(
                f"{backend:<18} {label:<15} {result['requests_per_second']:>8.1f} {result['p50_ms']:>8.1f}"
                f" {result['p99_ms']:>8.1f} {result['non_2xx'] + result['timeouts']:>8.0f} {ratio:>7.3f}"
                f" {result['cpu_ms_per_request']:>10.2f}"
            )
        summary[backend] = {
            **results,
            "ratio": round(results["quiz_submit"]["requests_per_second"] / bare, 4),
            # What the throughput ratio would be if each server had a core to itself: load-independent.
            "cpu_ratio": round(
                results["bare_starlette"]["cpu_ms_per_request"]
                / results["quiz_submit"]["cpu_ms_per_request"],
                4,
            ),
        }
        cpu_ratio = summary[backend]["cpu_ratio"]
        print(f"{backend:<18} CPU ratio (bare CPU per request / submission CPU): {cpu_ratio}")
    print("\ntargets: ratio >= 0.03 on postgresql+redis; p99 <= 500 ms on sqlite")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
