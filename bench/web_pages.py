"""Web textbook: a chapter page against the chapter API, on the real HTTP stack.

A fresh data dir (SQLite, BM25-only search) is served by `companion serve` in a subprocess; one
keep-alive client then times, per round, GET requests for the chapter API
(`/api/v1/courses/genai-fundamentals/chapters/02-llms`), the chapter page anonymously, and the chapter
page signed in (cookie session: the sidebar carries the learner's progress). The page's body is
rendered once per content version; per request only the small per-user parts are.

    .venv/bin/python bench/web_pages.py [--requests 300]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "/courses/genai-fundamentals/chapters/02-llms"
HTML = {"Accept": "text/html"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _timed(client: httpx.Client, path: str, count: int, headers: dict[str, str]) -> dict[str, float]:
    for _ in range(20):  # warm-up: caches filled, connections open
        client.get(path, headers=headers).raise_for_status()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
        "mean_ms": round(statistics.fmean(samples), 2),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="companion-web-bench-")
    env = {
        **os.environ,
        "COMPANION_DATA_DIR": data_dir,
        "COMPANION_EMBEDDING_PROVIDER": "none",
        "COMPANION_RUN_JOBS": "false",
        "COMPANION_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "companion"), "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.3)
            results = {
                "chapter_api": _timed(client, f"/api/v1{CHAPTER}", args.requests, {}),
                "chapter_page_anonymous": _timed(client, CHAPTER, args.requests, HTML),
            }
            client.get("/signup", headers=HTML)
            token = client.cookies["cc_csrf"]
            signup = client.post(
                "/signup",
                headers=HTML,
                data={
                    "csrf_token": token,
                    "email": "bench@example.com",
                    "password": "correct horse battery",
                    "software_experience": "beginner",
                    "hardware_experience": "none",
                },
            )
            assert signup.status_code == 303, signup.text
            results["chapter_page_signed_in"] = _timed(client, CHAPTER, args.requests, HTML)
            page = client.get(CHAPTER, headers=HTML).text
            assert re.search(r'id="05-decoding"', page)
    finally:
        server.terminate()
        server.wait(timeout=30)
    api = results["chapter_api"]["p50_ms"]
    for name, figures in results.items():
        print(
            f"{name:26} p50 {figures['p50_ms']:6.2f} ms  p95 {figures['p95_ms']:6.2f} ms  "
            f"{figures['bytes']} bytes"
        )
    results["page_to_api_p50_ratio"] = {
        "anonymous": round(results["chapter_page_anonymous"]["p50_ms"] / api, 2),
        "signed_in": round(results["chapter_page_signed_in"]["p50_ms"] / api, 2),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
