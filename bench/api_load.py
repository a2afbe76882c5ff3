"""Throughput and latency of the cached chapter endpoint against a bare Starlette JSON endpoint.

Both servers run the same way (uvicorn, one process, 127.0.0.1) and are loaded by the same
generator (wrk) in the same run; what matters is the ratio. Target: the chapter endpoint reaches at
least half the bare endpoint's throughput, with p99 under 25 ms on a 2-core machine.

    .venv/bin/python bench/api_load.py [--connections 32] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_PATH = "/api/v1/courses/genai-fundamentals/chapters/01-intro-genai"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, timeout: float = 60.0) -> None:
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


def _wrk(url: str, connections: int, seconds: int) -> dict[str, float]:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests_per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, flags=re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": requests_per_second,
        "p50_ms": _ms(percentiles["50"]),
        "p99_ms": _ms(percentiles["99"]),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    """Run both servers, load each with wrk, print the figures and the ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install wrk")

    python = sys.executable
    data_dir = Path(tempfile.mkdtemp(prefix="companion-bench-"))
    env = {**os.environ, "COMPANION_DATA_DIR": str(data_dir), "COMPANION_LOG_LEVEL": "WARNING"}
    env.pop("COMPANION_DATABASE_URL", None)
    env.pop("COMPANION_REDIS_URL", None)
    print("preparing a fresh data dir (migrations, shipped course)...", flush=True)
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

    product_port, bare_port = _free_port(), _free_port()
    uvicorn = [python, "-m", "uvicorn", "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
    product = _start([*uvicorn, "--port", str(product_port), "--factory", "companion.app:create_app"], env)
    results: dict[str, dict[str, float]] = {}
    try:
        product_url = f"http://127.0.0.1:{product_port}{CHAPTER_PATH}"
        _wait_until_up(product_url)
        document_file = data_dir / "chapter.json"
        with urllib.request.urlopen(product_url) as response:
            document_file.write_bytes(response.read())
        bare = _start(
            [*uvicorn, "--port", str(bare_port), "--app-dir", str(ROOT / "bench"), "bare_app:app"],
            {**env, "BARE_DOCUMENT": str(document_file)},
        )
        try:
            bare_url = f"http://127.0.0.1:{bare_port}/chapter"
            _wait_until_up(bare_url)
            for name, url in (("bare_starlette", bare_url), ("chapter_endpoint", product_url)):
                _wrk(url, options.connections, 3)  # warm-up
                print(
                    f"loading {name}: {options.connections} connections for {options.seconds}s...", flush=True
                )
                results[name] = _wrk(url, options.connections, options.seconds)
        finally:
            bare.terminate()
            bare.wait()
    finally:
        product.terminate()
        product.wait()
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"\n{'endpoint':<18} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, figures in results.items():
        print(
            f"{name:<18} {figures['requests_per_second']:>10.0f} {figures['p50_ms']:>8.2f}"
            f" {figures['p99_ms']:>8.2f} {figures['non_2xx']:>8.0f}"
        )
    ratio = (
        results["chapter_endpoint"]["requests_per_second"] / results["bare_starlette"]["requests_per_second"]
    )
    print(f"\nthroughput ratio chapter/bare: {ratio:.2f}  (target >= 0.50)")
    print(f"chapter p99: {results['chapter_endpoint']['p99_ms']:.2f} ms  (target < 25 ms)")
    print(json.dumps({"bench": "api_load", "ratio": round(ratio, 3), **{k: v for k, v in results.items()}}))


if __name__ == "__main__":
    main()
