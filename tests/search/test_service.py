"""CourseSearch: background builds, version swaps, incremental embedding across versions, highlighting."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from companion.config import Settings
from companion.content.schemas import ContentPack
from companion.content.validation import load_pack
from companion.search.citations import snippet
from companion.search.index import CourseSearch
from companion.search.terms import highlight_terms
from companion.search.vectors import VectorStore

SHIPPED_COURSE = Path(__file__).resolve().parents[2] / "courses" / "genai-fundamentals"


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
    # The superseded version's files are gone.
    assert not course_search.index_dir(first).exists() and course_search.manifest(first) is None


async def test_rebuilding_an_unchanged_version_embeds_and_rewrites_nothing(
    course_search: CourseSearch, embedder: HashingEmbedder
) -> None:
    pack = load_pack(SHIPPED_COURSE)
    course_search.build(pack)
    embedder.embedded.clear()

    report = course_search.build(pack)

    assert (report.embedded, report.payloads_updated, report.deleted) == (0, 0, 0)
    assert embedder.embedded == [] and course_search.is_built(pack)


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
