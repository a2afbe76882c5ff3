"""A server's first index build runs in a child process: the server stays lean, survives its failure, and
leaves no child behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.config import Settings
from companion.content.validation import load_pack
from companion.search.index import CourseSearch

SHIPPED_COURSE = Path(__file__).resolve().parents[2] / "courses" / "genai-fundamentals"
QUERY = "How does top-p sampling work?"

# A server's first start, in a process of its own so that its imported modules can be told.
FIRST_START = """
import asyncio, json, sys
from pathlib import Path
from companion.config import Settings
from companion.content.validation import load_pack
from companion.search.index import CourseSearch

async def main():
    settings = Settings(data_dir=Path(sys.argv[1]), qdrant_url=None, _env_file=None)
    pack = load_pack(Path(sys.argv[2]))
    search = CourseSearch.open(settings)
    await search.start([pack])
    meanwhile = await search.retrieve(pack, sys.argv[3])
    await search.wait_for_builds()
    built = await search.retrieve(pack, sys.argv[3])
    search.close()
    print(json.dumps({
        "meanwhile": [meanwhile.mode, meanwhile.degraded_reason],
        "built": [built.mode, built.degraded_reason, len(built.hits)],
        "imported": sorted(name for name in ("qdrant_client", "grpc", "onnx") if name in sys.modules),
    }))

asyncio.run(main())
"""


def _build_children() -> list[int]:
    """This process's children that are building an index."""
    found = []
    for task in os.listdir("/proc/self/task"):
        for pid in Path(f"/proc/self/task/{task}/children").read_text().split():
            with contextlib.suppress(OSError):  # it may have exited meanwhile
                if b"companion.search.build" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
    return found


def _exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def _a_build_child() -> int:
    deadline = time.monotonic() + 120
    while not (children := _build_children()):
        assert time.monotonic() < deadline, "no child process started building the index"
        await asyncio.sleep(0.05)
    return children[0]


@pytest.fixture
def course_search(tmp_path: Path) -> Iterator[CourseSearch]:
    search = CourseSearch.open(Settings(data_dir=tmp_path, qdrant_url=None, _env_file=None))  # type: ignore[call-arg]
    if search.embedder is None:
        pytest.skip("the embedding model is not available in this environment")
    yield search
    search.close()


def test_a_first_start_builds_in_a_child_and_never_imports_what_building_needs(tmp_path: Path) -> None:
    command = [sys.executable, "-c", FIRST_START, str(tmp_path), str(SHIPPED_COURSE), QUERY]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])

    mode, reason = report["meanwhile"]
    assert mode == "lexical" and "still being built" in reason
    assert report["built"][:2] == ["hybrid", None] and report["built"][2]
    # The vector store's client (gRPC, protobuf) and the model rewriter stayed in the children.
    assert report["imported"] == []
    assert (tmp_path / "models").is_dir() and any((tmp_path / "models").glob("*.onnx"))


async def test_a_killed_child_leaves_lexical_search_and_is_retried(course_search: CourseSearch) -> None:
    pack = load_pack(SHIPPED_COURSE)
    await course_search.start([pack])
    os.kill(await _a_build_child(), signal.SIGKILL)
    await course_search.wait_for_builds()

    meanwhile = await course_search.retrieve(pack, QUERY)
    assert meanwhile.mode == "lexical" and meanwhile.hits
    assert meanwhile.degraded_reason is not None and "still being built" in meanwhile.degraded_reason
    assert not course_search.is_built(pack)

    course_search.retry_seconds = 0  # no waiting before the retry in a test
    await course_search.retrieve(pack, QUERY)  # this request starts the build again
    await course_search.wait_for_builds()

    built = await course_search.retrieve(pack, QUERY)
    assert built.mode == "hybrid" and built.degraded_reason is None
    assert built.hits[0].payload["chapter_id"] == "02-llms"


async def test_a_failed_build_is_not_retried_by_every_request(course_search: CourseSearch) -> None:
    pack = load_pack(SHIPPED_COURSE)
    await course_search.start([pack])
    os.kill(await _a_build_child(), signal.SIGKILL)
    await course_search.wait_for_builds()

    await course_search.retrieve(pack, QUERY)

    assert _build_children() == []  # the next try waits for retry_seconds


async def test_closing_kills_the_child_build(course_search: CourseSearch) -> None:
    pack = load_pack(SHIPPED_COURSE)
    await course_search.start([pack])
    child = await _a_build_child()

    course_search.close()
    await course_search.wait_for_builds()

    deadline = time.monotonic() + 60
    while _exists(child):  # killed, then reaped by the event loop's child watcher
        assert time.monotonic() < deadline, "the child process outlived the search service"
        await asyncio.sleep(0.05)
    assert _build_children() == []
