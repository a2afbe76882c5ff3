"""Every shell command in the README runs, against a server started with the README's own `scripts/run`.

The fenced `bash` blocks are run in order in one shell (so `TOKEN` from the sign-up block reaches the
later blocks), against `scripts/run` serving a temporary data dir on a free port. `curl` fails on any
HTTP error, so an example that drifts from the API fails here. A block may be skipped only when the line
above it is `<!-- not-run: needs ... -->`, naming the external service it needs.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
FENCE = re.compile(r"^```bash\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!-- not-run: (?P<reason>.*?) -->\s*$")
# The README's examples name the default address; the test server listens elsewhere.
README_ADDRESSES = ("localhost:8000", "127.0.0.1:8000")
START_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Block:
    """A fenced bash block of the README, and why it is not run (None when it is)."""

    line: int
    script: str
    not_run: str | None


def readme_blocks() -> list[Block]:
    """The README's bash blocks in order, each with its `not-run` reason if it has one."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        preceding = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NOT_RUN.search(preceding)
        blocks.append(
            Block(
                line=text.count("\n", 0, match.start()) + 1,
                script=match.group(1),
                not_run=marker.group("reason") if marker else None,
            )
        )
    return blocks


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    """The README's server: its address, environment and everything it printed."""

    port: int
    env: dict[str, str]
    output: list[str]


def _server_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPANION_")}
    env.update(
        COMPANION_DATA_DIR=str(data_dir),
        COMPANION_JWT_SECRET="readme-test-secret-" + "x" * 32,
        # BM25 only: the examples do not depend on the model, and building its vectors takes minutes.
        COMPANION_EMBEDDING_PROVIDER="none",
        COMPANION_RUN_JOBS="false",
        COMPANION_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        HOST="127.0.0.1",
        PORT=str(port),
    )
    return env


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`scripts/run` (the README's first command) on a fresh data dir, once it says it is listening."""
    port = _free_port()
    env = _server_env(tmp_path_factory.mktemp("readme-data"), port)
    process = subprocess.Popen(
        ["scripts/run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    listening = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "is listening on" in line:
                listening.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not listening.wait(START_TIMEOUT_SECONDS):
            pytest.fail("scripts/run never said it was listening:\n" + "".join(output[-40:]))
        yield Served(port=port, env=env, output=output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)


def test_serve_says_listening_only_when_it_accepts_connections(served: Served) -> None:
    # No retry: the moment "listening" is printed, the first request must be answered.
    with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/healthz", timeout=10) as response:
        assert response.status == 200
    printed = "".join(served.output)
    assert re.search(r"Applying \d+ database migration\(s\)\.\.\.", printed), printed


def test_every_bash_block_of_the_readme_runs(served: Served, tmp_path: Path) -> None:
    blocks = readme_blocks()
    assert blocks and blocks[0].script.splitlines()[0].startswith("scripts/run")
    for block in blocks:
        if block.not_run is not None:
            assert block.not_run.startswith("needs "), (
                f"README line {block.line}: a block may be skipped only for an external service "
                f'("<!-- not-run: needs ... -->"), not for "{block.not_run}"'
            )
    runnable = [block for block in blocks if block.not_run is None]
    assert runnable, "the README has no runnable examples"

    connect = " ".join(f"--connect-to {address}:127.0.0.1:{served.port}" for address in README_ADDRESSES)
    prelude = (
        "set -euo pipefail\nshopt -s inherit_errexit\n"
        # Every example curl fails on an HTTP error (and shows the body), and reaches the test server.
        f'curl() {{ command curl --fail-with-body --show-error {connect} "$@"; echo; }}\n'
    )
    parts = [prelude]
    for block in runnable:
        parts.append(f'echo "=== README.md line {block.line}" >&2\n{block.script}\n')
    script = tmp_path / "readme.sh"
    script.write_text("".join(parts), encoding="utf-8")

    result = subprocess.run(
        ["bash", str(script)], cwd=REPO, env=served.env, capture_output=True, text=True, timeout=300
    )

    failed_at = re.findall(r"=== README\.md line \d+", result.stderr)
    assert result.returncode == 0, (
        f"README example failed ({failed_at[-1] if failed_at else 'before the first block'}):\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    # The examples did what the README says they do.
    assert '"passed"' in result.stdout and '"score"' in result.stdout
    assert "is an administrator" in result.stdout and "is now on the premium tier" in result.stdout
    assert '"chapter_id":"04-rag"' in result.stdout.replace(" ", "")


def test_prepare_data_says_nothing_about_migrations_when_none_are_pending(tmp_path: Path) -> None:
    from companion.bootstrap import prepare_data
    from companion.config import Settings

    settings = Settings(
        data_dir=tmp_path,
        embedding_provider="none",
        jwt_secret="x" * 40,
        _env_file=None,  # type: ignore[call-arg]
    )
    first: list[str] = []
    prepare_data(settings, echo=first.append)
    again: list[str] = []
    prepare_data(settings, echo=again.append)

    assert any(line.startswith("Applying ") for line in first)
    assert not any("migration" in line for line in again) and "Database is up to date." in again


if __name__ == "__main__":  # print the blocks the test runs
    for block in readme_blocks():
        print(f"--- line {block.line} {'(not run: ' + block.not_run + ')' if block.not_run else ''}")
        sys.stdout.write(block.script)
