"""Chapter reads under load: a bare Starlette app, the anonymous read, and the signed-in read.

All three servers run the same way (uvicorn, one process, 127.0.0.1) and are loaded by the same
generator (wrk) in the same run; what matters is the ratios. The signed-in read sends a login access
token of a freshly registered learner (a wrk Lua script sets the Authorization header).

Targets: the anonymous read reaches at least half the bare app's throughput, and the signed-in read
at least 0.8x the anonymous read's.

    .venv/bin/python bench/api_load.py [--connections 32] [--seconds 20]
        [--database-url postgresql+asyncpg://...] [--redis-url redis://...]

Without the URL flags the server runs on SQLite with the in-process cache, in a fresh data dir.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from harness import free_port, learner, prepare_data_dir

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_PATH = "/api/v1/courses/genai-fundamentals/chapters/01-intro-genai"
ANONYMOUS_TARGET = 0.5  # anonymous read / bare Starlette
SIGNED_IN_TARGET = 0.8  # signed-in read / anonymous read


def _wait_until_up(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, connections: int, seconds: int, script: Path | None = None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    percentiles = dict(re.findall(r"^\s*(50|99)%\s+(\S+)\s*$", output, flags=re.MULTILINE))
    if rate is None or len(percentiles) != 2:
        raise SystemExit(f"wrk printed no figures for {url}:\n{output}")
    requests_per_second = float(rate.group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": requests_per_second,
        "p50_ms": _ms(percentiles["50"]),
        "p99_ms": _ms(percentiles["99"]),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def _register(base_url: str) -> str:
    """A fresh learner's login access token."""
    body = learner(f"bench-{uuid.uuid4().hex[:12]}@example.com")
    request = urllib.request.Request(
        f"{base_url}/api/v1/auth/register",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        token: str = json.loads(response.read())["access_token"]
    return token


def _read(url: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")
        body: bytes = response.read()
    return body


def _server_env(data_dir: Path, database_url: str | None, redis_url: str | None) -> dict[str, str]:
    env = {**os.environ, "COMPANION_DATA_DIR": str(data_dir), "COMPANION_LOG_LEVEL": "WARNING"}
    env.pop("COMPANION_DATABASE_URL", None)
    env.pop("COMPANION_REDIS_URL", None)
    if database_url:
        env["COMPANION_DATABASE_URL"] = database_url
    if redis_url:
        env["COMPANION_REDIS_URL"] = redis_url
    # The bench registers one learner per run; repeated runs must not trip the sign-up limit.
    env["COMPANION_SIGNUPS_PER_ADDRESS_PER_HOUR"] = "100000"
    # Chapter reads never search: a lexical-only index spares minutes of embedding before the run.
    env["COMPANION_EMBEDDING_PROVIDER"] = "none"
    # Retention jobs are not what is measured; they would only add noise.
    env["COMPANION_RUN_JOBS"] = "false"
    return env


def _report(results: dict[str, dict[str, float]], backend: str) -> None:
    print(f"\nbackend: {backend}")
    print(f"{'endpoint':<18} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, figures in results.items():
        print(
            f"{name:<18} {figures['requests_per_second']:>10.0f} {figures['p50_ms']:>8.2f}"
            f" {figures['p99_ms']:>8.2f} {figures['non_2xx']:>8.0f}"
        )
    rate = {name: figures["requests_per_second"] for name, figures in results.items()}
    anonymous_ratio = rate["anonymous_read"] / rate["bare_starlette"]
    signed_in_ratio = rate["signed_in_read"] / rate["anonymous_read"]
    print(f"\nanonymous/bare:      {anonymous_ratio:.2f}  (target >= {ANONYMOUS_TARGET:.2f})")
    print(f"signed-in/anonymous: {signed_in_ratio:.2f}  (target >= {SIGNED_IN_TARGET:.2f})")
    ratios = {
        "anonymous_over_bare": round(anonymous_ratio, 3),
        "signed_in_over_anonymous": round(signed_in_ratio, 3),
    }
    print(json.dumps({"bench": "api_load", "backend": backend, "ratios": ratios, **results}))


def main() -> None:
    """Run the product and the bare app, load each path with wrk, print the figures and the ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--database-url", help="PostgreSQL URL (postgresql+asyncpg://...); SQLite if unset")
    parser.add_argument("--redis-url", help="Redis URL (redis://host:6379/n); in-process cache if unset")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install wrk")

    python = sys.executable
    data_dir = Path(tempfile.mkdtemp(prefix="companion-bench-"))
    env = _server_env(data_dir, options.database_url, options.redis_url)
    database = "postgresql" if options.database_url else "sqlite"
    backend = f"{database} + {'redis' if options.redis_url else 'in-process cache'}"
    print(f"preparing a fresh data dir ({backend}: migrations, shipped course)...", flush=True)
    prepare_data_dir(env, python)

    product_port, bare_port = free_port(), free_port()
    uvicorn = [python, "-m", "uvicorn", "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
    product = _start([*uvicorn, "--port", str(product_port), "--factory", "companion.app:create_app"], env)
    results: dict[str, dict[str, float]] = {}
    try:
        base_url = f"http://127.0.0.1:{product_port}"
        product_url = base_url + CHAPTER_PATH
        _wait_until_up(product_url)
        document_file = data_dir / "chapter.json"
        document_file.write_bytes(_read(product_url))
        token = _register(base_url)
        _read(product_url, token)  # the signed-in read answers 200 before it is loaded
        auth_script = data_dir / "auth.lua"
        auth_script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        bare = _start(
            [*uvicorn, "--port", str(bare_port), "--app-dir", str(ROOT / "bench"), "bare_app:app"],
            {**env, "BARE_DOCUMENT": str(document_file)},
        )
        try:
            bare_url = f"http://127.0.0.1:{bare_port}/chapter"
            _wait_until_up(bare_url)
            runs: list[tuple[str, str, Path | None]] = [
                ("bare_starlette", bare_url, None),
                ("anonymous_read", product_url, None),
                ("signed_in_read", product_url, auth_script),
            ]
            for name, url, script in runs:
                _wrk(url, options.connections, 3, script)  # warm-up
                print(
                    f"loading {name}: {options.connections} connections for {options.seconds}s...", flush=True
                )
                results[name] = _wrk(url, options.connections, options.seconds, script)
        finally:
            bare.terminate()
            bare.wait()
    finally:
        product.terminate()
        product.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    _report(results, backend)


if __name__ == "__main__":
    main()
