"""CourseSearch: background builds, version swaps, incremental embedding across versions, highlighting."""

from __future__ import annotations

import asyncio
import fcntl
import json
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from companion.config import Settings
from companion.content.schemas import ContentPack
from companion.content.validation import load_pack
from companion.search.citations import snippet
from companion.search.engine import stored_hashes
from companion.search.index import CourseSearch, version_key
from companion.search.terms import highlight_terms
from companion.search.vectors import VectorStore, collection_name

REPO = Path(__file__).resolve().parents[2]
SHIPPED_COURSE = REPO / "courses" / "genai-fundamentals"
# A second process serving the same data dir: prints the mode and top hit of one search.
SECOND_PROCESS = """
import asyncio, json, sys
from pathlib import Path
from companion.config import Settings
from companion.content.validation import load_pack
from companion.search.engine import stored_hashes
from companion.search.index import CourseSearch, version_key
from tests.search.test_service import SHIPPED_COURSE, HashingEmbedder

async def main():
    settings = Settings(data_dir=Path(sys.argv[1]), qdrant_url=None, _env_file=None)
    search = CourseSearch(settings, embedder=HashingEmbedder())
    pack = load_pack(SHIPPED_COURSE)
    await search.start([pack])
    found = await search.retrieve(pack, "greedy decoding picks the most probable token", limit=3)
    search.close()
    print(json.dumps({"mode": found.mode, "reason": found.degraded_reason, "top": found.hits[0].id}))

asyncio.run(main())
"""


class HashingEmbedder:
    """A fast stand-in for the model: hashed bags of words; counts the texts it embeds."""

    name = "hashing-test"
    dimension = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@pytest.fixture
def search_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, qdrant_url=None, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def course_search(search_settings: Settings, embedder: HashingEmbedder) -> Iterator[CourseSearch]:
    service = CourseSearch(search_settings, vectors=VectorStore.open(search_settings), embedder=embedder)
    yield service
    service.close()


def _edited(pack: ContentPack) -> ContentPack:
    """The pack with one sentence of the decoding section reworded: a new content version."""
    data = pack.model_dump(mode="json", exclude={"version"})
    section = data["chapters"][1]["sections"][4]
    section["content_markdown"] = section["content_markdown"].replace("Greedy decoding", "Greedy search", 1)
    return ContentPack.model_validate(data)


async def test_a_new_version_is_built_in_the_background_and_swapped_in(
    course_search: CourseSearch, embedder: HashingEmbedder
) -> None:
    first = load_pack(SHIPPED_COURSE)
    await course_search.start([first])
    await course_search.wait_for_builds()
    entry = await course_search.current(first)
    assert entry.ready and entry.passage_count > 100
    embedded_first = len(embedder.embedded)
    assert embedded_first == entry.passage_count

    second = _edited(first)
    meanwhile = await course_search.current(second)
    assert meanwhile.pack.version == first.version  # the old version answers during the build
    await course_search.wait_for_builds()
    swapped = await course_search.current(second)

    assert swapped.ready and swapped.pack.version == second.version
    # Only the reworded chunks reached the model; the rest came from the previous version's vectors.
    changed = embedder.embedded[embedded_first:]
    assert 0 < len(changed) <= 3 and all(text.startswith("Decoding:") for text in changed)
    retrieval = await course_search.retrieve(second, "greedy search picks the most probable token", limit=3)
    assert retrieval.mode == "hybrid" and retrieval.hits[0].payload["section_id"] == "05-decoding"


async def test_rebuilding_an_unchanged_version_embeds_and_rewrites_nothing(
    course_search: CourseSearch, embedder: HashingEmbedder
) -> None:
    pack = load_pack(SHIPPED_COURSE)
    course_search.build(pack)
    embedder.embedded.clear()

    report = course_search.build(pack)

    assert (report.embedded, report.deleted) == (0, 0)
    assert embedder.embedded == [] and course_search.is_built(pack)


def test_the_first_build_answers_lexically_before_its_vectors_are_written(
    course_search: CourseSearch,
) -> None:
    pack = load_pack(SHIPPED_COURSE)
    index = course_search._open_index(pack)
    seen: list[tuple[str, int]] = []

    def progress(done: int, total: int) -> None:
        if done == 0:
            result = index.search("top-p nucleus sampling", limit=3)
            seen.append((result.mode, len(result.hits)))

    course_search.build(pack, index=index, on_progress=progress)

    assert seen[0][0] == "lexical" and seen[0][1] == 3
    assert index.search("top-p nucleus sampling", limit=3).mode == "hybrid"


def test_a_build_waiting_for_another_process_answers_lexically_meanwhile(
    course_search: CourseSearch, search_settings: Settings
) -> None:
    pack = load_pack(SHIPPED_COURSE)
    index = course_search._open_index(pack)
    lock_path = search_settings.search_index_dir / f"{version_key(pack.course.id, pack.version)}.lock"
    lock_path.parent.mkdir(parents=True)
    with lock_path.open("a") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        waiting = threading.Thread(target=course_search.build, args=(pack,), kwargs={"index": index})
        waiting.start()
        deadline = time.monotonic() + 120
        while not len(index) and time.monotonic() < deadline:
            time.sleep(0.05)
        meanwhile = index.search("top-p nucleus sampling", limit=3)
        assert not course_search.is_built(pack)
        fcntl.flock(other_process, fcntl.LOCK_UN)
    waiting.join()

    assert meanwhile.mode == "lexical" and meanwhile.hits[0].payload["section_id"] == "05-decoding"
    assert course_search.is_built(pack)


def test_superseded_versions_are_collected_after_the_retention_period(
    course_search: CourseSearch, embedder: HashingEmbedder
) -> None:
    first, second = load_pack(SHIPPED_COURSE), _edited(load_pack(SHIPPED_COURSE))
    course_search.build(first)
    course_search.build(second)
    collection = collection_name(first.course.id, embedder.name)
    store = course_search.vectors
    assert store is not None

    # Within the retention period a server that has not refreshed its catalogue can still load it.
    assert course_search.collect_garbage(second) == 0
    assert course_search.index_dir(first).is_dir() and course_search.is_built(first)

    deleted = course_search.collect_garbage(second, retention_seconds=0)

    assert not course_search.index_dir(first).exists() and course_search.manifest(first) is None
    current = stored_hashes(course_search.index_dir(second))
    assert 0 < deleted <= 3 and store.missing(collection, current) == set()
    assert store.retain(collection, current) == 0  # nothing else is left
    assert course_search.is_built(second)


async def test_two_processes_search_one_data_dir_in_hybrid_mode(
    search_settings: Settings, embedder: HashingEmbedder
) -> None:
    pack = load_pack(SHIPPED_COURSE)
    # No long-lived store: each process opens the embedded store only while it builds.
    server = CourseSearch(search_settings, embedder=embedder)
    server.build(pack)
    await server.start([pack])
    # Another process building holds the embedded store meanwhile; searching does not need it.
    writer = VectorStore.open(search_settings)
    try:
        child = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", SECOND_PROCESS, str(search_settings.data_dir)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        here = await server.retrieve(pack, "greedy decoding picks the most probable token", limit=3)
    finally:
        writer.close()
        server.close()

    assert child.returncode == 0, child.stderr
    there = json.loads(child.stdout)
    assert here.mode == there["mode"] == "hybrid" and here.degraded_reason is None
    assert there["reason"] is None and there["top"] == here.hits[0].id


async def test_without_a_model_the_index_is_lexical_and_says_why(search_settings: Settings) -> None:
    pack = load_pack(SHIPPED_COURSE)
    lexical = CourseSearch.open(search_settings.model_copy(update={"embedding_provider": "none"}))
    try:
        report = lexical.build(pack)
        await lexical.start([pack])
        retrieval = await lexical.retrieve(pack, "top-p nucleus sampling", limit=3)
    finally:
        lexical.close()

    assert report.mode == "lexical" and lexical.manifest(pack) is not None
    assert retrieval.mode == "lexical" and retrieval.degraded_reason == "no embedding model is configured"
    assert retrieval.hits[0].payload["section_id"] == "05-decoding"


def test_snippets_highlight_stemmed_matches_around_the_best_window() -> None:
    text = (
        " ".join(["filler"] * 60) + " Sampling picks tokens; top-p sampling keeps a nucleus. " + "tail " * 60
    )

    shown = snippet(text, highlight_terms("How does top-p sample?"))

    assert "**Sampling** picks tokens; **top**-p **sampling** keeps" in shown
    assert shown.startswith("… ") and shown.endswith(" …")
    assert len(shown.split()) <= 42
    assert "**How**" not in snippet("How it works", highlight_terms("How does top-p sample?"))


def test_snippets_match_terms_token_by_token_as_the_tokenizer_does() -> None:
    from companion.search.citations import _matched_terms, _wanted_words
    from companion.search.lexical import tokenize

    tokens = [
        "Top-P,",
        "SAMPLING",
        "samples",
        "İstanbul's",
        "tokens;",
        "the",
        "top-p(sampled)",
        "3d-sampling!",
    ]
    terms = {"top", "sampl", "istanbul", "token", "3d"}

    def matched(terms: set[str]) -> dict[int, set[str]]:
        joined = "\n".join(tokens).lower()
        return _matched_terms(joined, _wanted_words(joined, terms))

    expected = {index: set(words) & terms for index, words in enumerate(tokenize(tokens))}
    assert matched(terms) == {index: found for index, found in expected.items() if found}
    assert matched({"absent"}) == {}
