"""First start on a fresh data dir and serving memory: `companion serve` as a newcomer runs it.

1. `companion serve` starts on an empty temporary data dir (SQLite, in-process cache, embedded Qdrant,
   the shipped course) and is timed until `/healthz` answers, until a free chapter is first read (a
   real request: the database, the catalogue and the response path all working), with the server's CPU
   seconds at each (user + system, all its threads: steadier than wall time on a busy machine), until the
   first search answers (and with what `mode` and `degraded_reason`), and until search answers in hybrid
   mode (the index built). Targets: `/healthz` and the first chapter read each within 5 s. The server
   builds in a child process: its peak resident memory, sampled while it runs, is reported too.
2. 100 distinct searches (each query embedded by the model), then the server's resident memory (VmRSS
   and peak VmHWM from /proc). For the ratio, a bare Starlette app (bench/bare_app.py) serving one
   chapter document, under uvicorn in the same run, is measured the same way after 100 requests.

    .venv/bin/python bench/startup_memory.py [--port 8140] [--bare-port 8141]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
COURSE = "genai-fundamentals"
CHAPTER_PATH = f"/api/v1/courses/{COURSE}/chapters/01-intro-genai"
SEARCHES = 100
TOPICS = [
    "temperature",
    "top-p sampling",
    "retrieval-augmented generation",
    "system prompt",
    "hallucination",
    "BM25 and vector search",
    "fine-tuning",
    "attention in a transformer",
    "LoRA",
    "tokenization",
]
ASKS = [
    "what is",
    "how does",
    "why use",
    "explain",
    "an example of",
    "limits of",
    "how to evaluate",
    "when to avoid",
    "history of",
    "costs of",
]


def _memory_mib(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak, in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def _children_peak_mib(pid: int) -> float:
    """The largest peak resident memory (VmHWM, MiB) among the process's children now (0 without any)."""
    peaks = [0.0]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):  # it exited meanwhile
                peaks.append(_memory_mib(int(child)).get("VmHWM", 0.0))
    return max(peaks)


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start_up(client: httpx.Client, server: subprocess.Popen[bytes], started: float) -> dict[str, object]:
    """Seconds until /healthz answers, until search answers, and until it answers in hybrid mode."""
    figures: dict[str, object] = {}
    _wait_for(f"{client.base_url}/healthz", server, timeout=600)
    figures["healthz_s"] = round(time.monotonic() - started, 2)
    figures["healthz_cpu_s"] = round(cpu_seconds(server.pid), 2)
    chapter = client.get(CHAPTER_PATH)
    if chapter.status_code != 200:
        raise SystemExit(f"the free chapter read failed right after /healthz: {chapter.status_code}")
    figures["chapter_s"] = round(time.monotonic() - started, 2)
    figures["chapter_cpu_s"] = round(cpu_seconds(server.pid), 2)
    figures["readyz_at_healthz"] = client.get("/readyz").json()
    deadline = time.monotonic() + 900
    child_peak = 0.0
    while time.monotonic() < deadline:
        child_peak = max(child_peak, _children_peak_mib(server.pid))
        response = client.get("/api/v1/search", params={"q": "temperature", "course_id": COURSE})
        body = response.json()
        if response.status_code == 200 and "first_search_s" not in figures:
            figures["first_search_s"] = round(time.monotonic() - started, 2)
            figures["first_search"] = {
                "mode": body["mode"],
                "degraded_reason": body["degraded_reason"],
                "results": len(body["results"]),
            }
            figures["readyz_while_building"] = client.get("/readyz").json()
        # While the index is built, searches already embedded may take part: "hybrid" counts once complete.
        if response.status_code == 200 and body["mode"] == "hybrid" and body["degraded_reason"] is None:
            figures["hybrid_s"] = round(time.monotonic() - started, 2)
            figures["readyz_when_built"] = client.get("/readyz").json()
            figures["build_child_peak_mib"] = child_peak
            return figures
        time.sleep(0.25)
    raise SystemExit("search never answered in hybrid mode")


def _product(env: dict[str, str], port: int) -> dict[str, object]:
    """Start `companion serve` on the fresh data dir; time its start-up; its memory after 100 searches."""
    companion = Path(sys.executable).parent / "companion"
    log = Path(env["COMPANION_DATA_DIR"]) / "serve.log"
    with log.open("wb") as output:
        started = time.monotonic()
        server = subprocess.Popen(
            [str(companion), "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=output, stderr=output
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            figures = _start_up(client, server, started)
            figures["rss_at_hybrid_mib"] = _memory_mib(server.pid)["VmRSS"]
            queries = [f"{ask} {topic}" for ask in ASKS for topic in TOPICS][:SEARCHES]
            for query in queries:
                response = client.get("/api/v1/search", params={"q": query})
                if response.status_code != 200 or response.json()["degraded_reason"] is not None:
                    raise SystemExit(
                        f"search failed or degraded: {response.status_code} {response.text[:300]}"
                    )
            figures["memory_after_searches_mib"] = _memory_mib(server.pid)
            figures["chapter"] = client.get(CHAPTER_PATH).content
    finally:
        _stop(server)
    figures["serve_output"] = log.read_text(errors="replace").splitlines()[:12]
    return figures


def _restart(env: dict[str, str], port: int) -> dict[str, object]:
    """Start `companion serve` again on the now indexed data dir: time to /healthz, RSS after searches."""
    companion = Path(sys.executable).parent / "companion"
    started = time.monotonic()
    server = subprocess.Popen(
        [str(companion), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            _wait_for(f"{client.base_url}/healthz", server, timeout=600)
            figures: dict[str, object] = {
                "healthz_s": round(time.monotonic() - started, 2),
                "healthz_cpu_s": round(cpu_seconds(server.pid), 2),
            }
            client.get(CHAPTER_PATH).raise_for_status()
            figures["chapter_s"] = round(time.monotonic() - started, 2)
            figures["chapter_cpu_s"] = round(cpu_seconds(server.pid), 2)
            queries = [f"{ask} {topic}" for ask in ASKS for topic in TOPICS][:SEARCHES]
            modes = set()
            for query in queries:
                response = client.get("/api/v1/search", params={"q": query})
                response.raise_for_status()
                modes.add(response.json()["mode"])
            figures["modes"] = sorted(modes)
            figures["memory_after_searches_mib"] = _memory_mib(server.pid)
            return figures
    finally:
        _stop(server)


def _bare(env: dict[str, str], port: int, document: bytes) -> dict[str, float]:
    """The bare Starlette app's memory after 100 requests for the same chapter document."""
    document_file = Path(env["COMPANION_DATA_DIR"]) / "chapter.json"
    document_file.write_bytes(document)
    command = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--log-level", "warning", "--app-dir", str(ROOT / "bench"), "bare_app:app"]
    server = subprocess.Popen(
        command,
        env={**env, "BARE_DOCUMENT": str(document_file)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/chapter", server, timeout=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(SEARCHES):
                client.get("/chapter").raise_for_status()
        return _memory_mib(server.pid)
    finally:
        _stop(server)


def main() -> None:
    """Start, time, search, measure; print the figures and a JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8140, help="port of `companion serve`")
    parser.add_argument("--bare-port", type=int, default=8141, help="port of the bare Starlette app")
    options = parser.parse_args()

    print(
        f"machine load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on {os.cpu_count()} CPUs"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="companion-start-bench-"))
    env = {**os.environ, "COMPANION_DATA_DIR": str(data_dir), "COMPANION_LOG_LEVEL": "WARNING"}
    for name in ("COMPANION_DATABASE_URL", "COMPANION_REDIS_URL", "COMPANION_QDRANT_URL"):
        env.pop(name, None)
    try:
        print(f"starting `companion serve` on a fresh data dir ({data_dir})...", flush=True)
        product = _product(env, options.port)
        print("restarting `companion serve` on the indexed data dir...", flush=True)
        restart = _restart(env, options.port)
        print("starting the bare Starlette app...", flush=True)
        bare = _bare(env, options.bare_port, product.pop("chapter"))  # type: ignore[arg-type]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    for line in product.pop("serve_output"):  # type: ignore[attr-defined]
        print(f"  serve | {line}")
    first = product["first_search"]
    memory = product["memory_after_searches_mib"]
    assert isinstance(first, dict) and isinstance(memory, dict)
    print(
        f"/healthz answered after        {product['healthz_s']:>7} s  ({product['healthz_cpu_s']} s of CPU)"
    )
    print(
        f"first chapter read after       {product['chapter_s']:>7} s  ({product['chapter_cpu_s']} s of CPU; "
        "target <= 5 s for both)"
    )
    print(
        f"first search answered after    {product['first_search_s']:>7} s  ({first['mode']}: "
        f"{first['results']} results; {first['degraded_reason']})"
    )
    print(f"search hybrid after            {product['hybrid_s']:>7} s")
    print(f"build child's peak RSS         {product['build_child_peak_mib']:>7} MiB (sampled every 0.25 s)")
    print(f"/readyz while building         {json.dumps(product['readyz_while_building'])}")
    print(f"RSS when hybrid                {product['rss_at_hybrid_mib']:>7} MiB")
    print(f"RSS after {SEARCHES} searches         {memory['VmRSS']:>7} MiB (peak {memory['VmHWM']} MiB)")
    print(f"bare Starlette RSS             {bare['VmRSS']:>7} MiB (peak {bare['VmHWM']} MiB)")
    ratio = round(memory["VmRSS"] / bare["VmRSS"], 2)
    print(f"serving RSS / bare RSS         {ratio:>7}x  (the first start also built the index)")
    again = restart["memory_after_searches_mib"]
    assert isinstance(again, dict)
    print(
        f"restart: /healthz after        {restart['healthz_s']:>7} s  ({restart['healthz_cpu_s']} s of CPU; "
        f"a chapter read after {restart['chapter_s']} s, {restart['chapter_cpu_s']} s of CPU)"
    )
    print(
        f"restart: RSS after {SEARCHES} searches {again['VmRSS']:>7} MiB (peak {again['VmHWM']} MiB; "
        f"{'/'.join(restart['modes'])}; target <= 300 MB)"  # type: ignore[arg-type]
    )
    print(
        json.dumps(
            {
                "bench": "startup_memory",
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                **product,
                "bare_mib": bare,
                "rss_ratio_to_bare": ratio,
                "restart": restart,
            }
        )
    )


if __name__ == "__main__":
    main()
