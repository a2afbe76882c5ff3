"""Search API on the shipped course, embedded mode: index build throughput, latency, server memory.

1. A fresh data dir is migrated and the course published; then the shipped course is indexed with the
   MiniLM model in this process and timed (chunks per second), then indexed again unchanged.
2. `uvicorn companion.app:create_app` serves that data dir in a subprocess (one worker, 127.0.0.1),
   the real HTTP stack. One keep-alive client sends `GET /api/v1/search` for distinct queries (cold: every
   query embedded by the model), then the same queries again (warm: query vectors remembered), then
   four clients at once. Target: p95 under 20 ms for single-client cold requests.
3. The server's resident memory with the model loaded (VmRSS and peak VmHWM from /proc).

    .venv/bin/python bench/search_api.py [--rounds 2]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from companion.bootstrap import prepare_data
from companion.config import Settings
from companion.content import publishing
from companion.content.store import store_from_settings
from companion.search.index import CourseSearch

ROOT = Path(__file__).resolve().parents[1]
COURSE = "genai-fundamentals"
QUESTIONS = [
    "How do temperature and top-p change the output?",
    "What is retrieval-augmented generation?",
    "How do I write a good system prompt?",
    "Why do language models hallucinate?",
    "What is the difference between BM25 and vector search?",
    "When should I fine-tune instead of prompting?",
    "How does attention work in a transformer?",
    "What is LoRA and why is it cheaper?",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _figures(latencies: list[float]) -> dict[str, float]:
    return {
        "requests": len(latencies),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "max_ms": round(max(latencies), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
    }


def _queries(settings: Settings) -> list[str]:
    """Distinct learner-like queries: a few questions, every section title and key concept."""
    pack = publishing.load_current(store_from_settings(settings), COURSE)
    queries = list(QUESTIONS)
    for chapter in pack.chapters:
        for section in chapter.sections:
            queries.append(section.title)
            queries.extend(f"what is {concept}" for concept in section.key_concepts)
    return list(dict.fromkeys(queries))


def _build(settings: Settings) -> dict[str, float]:
    """Index the shipped course from scratch with the model, then again unchanged; both timed."""
    pack = publishing.load_current(store_from_settings(settings), COURSE)
    started = time.perf_counter()
    search = CourseSearch.open(settings)
    loaded = time.perf_counter()
    try:
        if search.unavailable_reason:
            raise SystemExit(f"semantic search unavailable: {search.unavailable_reason}")
        report = search.build(pack)
        built = time.perf_counter()
        again = search.build(pack)
        rebuilt = time.perf_counter()
    finally:
        search.close()
    build_seconds = built - loaded
    return {
        "chunks": report.passages,
        "embedded": report.embedded,
        "model_load_s": round(loaded - started, 2),
        "build_s": round(build_seconds, 2),
        "chunks_per_s": round(report.passages / build_seconds, 1),
        "unchanged_rebuild_s": round(rebuilt - built, 2),
        "unchanged_rebuild_embedded": again.embedded,
    }


def _memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "companion.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return server, base_url
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not come up")


def _timed(client: httpx.Client, query: str) -> float:
    started = time.perf_counter()
    response = client.get("/api/v1/search", params={"q": query, "course_id": COURSE})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or response.json()["mode"] != "hybrid":
        raise SystemExit(f"search failed or degraded: {response.status_code} {response.text[:300]}")
    return elapsed


def main() -> None:
    """Build, serve, load, measure; print the figures and a JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="warm passes over the queries")
    options = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="companion-search-bench-"))
    env = {**os.environ, "COMPANION_DATA_DIR": str(data_dir), "COMPANION_LOG_LEVEL": "WARNING"}
    for name in ("COMPANION_DATABASE_URL", "COMPANION_REDIS_URL", "COMPANION_QDRANT_URL"):
        env.pop(name, None)
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    results: dict[str, object] = {"bench": "search_api", "cpus": os.cpu_count(), "http": "uvicorn subprocess"}
    try:
        print("preparing a fresh data dir (migrations, shipped course)...", flush=True)
        prepare_data(settings.model_copy(update={"embedding_provider": "none"}), echo=lambda _line: None)
        print("indexing the shipped course with MiniLM...", flush=True)
        results["build"] = build = _build(settings)
        print(
            f"index build: {build['chunks']} chunks, {build['build_s']} s, {build['chunks_per_s']} chunks/s "
            f"(model load {build['model_load_s']} s); unchanged rebuild {build['unchanged_rebuild_s']} s, "
            f"{build['unchanged_rebuild_embedded']} embedded"
        )

        queries = _queries(settings)
        server, base_url = _serve(env)
        try:
            with httpx.Client(base_url=base_url, timeout=30) as client:
                for query in QUESTIONS[:3]:  # connection and code paths warmed with a few throwaway queries
                    client.get("/api/v1/search", params={"q": query + " warm-up"})
                cold = [_timed(client, query) for query in queries]
                warm = [_timed(client, query) for _ in range(options.rounds) for query in queries]

            def one_client(offset: int) -> list[float]:
                with httpx.Client(base_url=base_url, timeout=30) as client:
                    ordered = queries[offset:] + queries[:offset]
                    return [_timed(client, f"{query} ?") for query in ordered]

            started = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                concurrent = [ms for batch in pool.map(one_client, range(0, 40, 10)) for ms in batch]
            concurrent_seconds = time.perf_counter() - started
            memory = _memory_kib(server.pid)
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    results["cold"] = _figures(cold)
    results["warm"] = _figures(warm)
    results["concurrent_4_clients"] = {
        **_figures(concurrent),
        "requests_per_s": round(len(concurrent) / concurrent_seconds, 1),
    }
    # Other processes on the machine skew latency: the load average is part of the result.
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    results["server_rss_mib"] = round(memory["VmRSS"] / 1024, 1)
    results["server_peak_rss_mib"] = round(memory["VmHWM"] / 1024, 1)
    for name in ("cold", "warm", "concurrent_4_clients"):
        figures = results[name]
        assert isinstance(figures, dict)
        print(
            f"{name:<22} {figures['requests']:>5} requests  p50 {figures['p50_ms']:>6.2f} ms  "
            f"p95 {figures['p95_ms']:>6.2f} ms  max {figures['max_ms']:>7.2f} ms"
        )
    cold_p95 = results["cold"]["p95_ms"]  # type: ignore[index]
    print(
        f"single-client cold p95: {cold_p95} ms (target < 20 ms); load average {results['load_average_1m']}"
    )
    rss, peak = results["server_rss_mib"], results["server_peak_rss_mib"]
    print(f"server memory with the model loaded: {rss} MiB (peak {peak} MiB)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
