"""Search fixtures: the MiniLM model loaded once per run, an embedded Qdrant per test, test embedders."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from companion.config import Settings
from companion.search.embeddings import Embedder, EmbeddingUnavailable, MiniLMEmbedder
from companion.search.engine import HybridIndex, Passage
from companion.search.vectors import VectorStore


class CountingEmbedder:
    """Wraps an embedder and counts the texts it is asked to embed."""

    def __init__(self, inner: Embedder, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.dimension = inner.dimension
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self.inner.embed(texts)


class BrokenEmbedder:
    """An embedder whose model is gone."""

    name = "broken"
    dimension = 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise EmbeddingUnavailable("model file vanished")


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
def embedder(minilm: MiniLMEmbedder) -> CountingEmbedder:
    return CountingEmbedder(minilm)


@pytest.fixture
def vector_store(tmp_path: Path) -> Iterator[VectorStore]:
    store = VectorStore.open(Settings(data_dir=tmp_path, qdrant_url=None, qdrant_path=None))
    yield store
    store.close()


PASSAGES = [
    Passage(
        id="ros-1",
        text="A ROS 2 node publishes messages on a topic; subscribers receive every message sent there.",
        payload={
            "chapter": "ros2-basics",
            "module": 1,
            "difficulty": "beginner",
            "topics": ["ros2", "topics"],
        },
    ),
    Passage(
        id="ros-2",
        text="Services in ROS 2 pair one request with one response, unlike the streaming of topics.",
        payload={"chapter": "ros2-basics", "module": 1, "difficulty": "intermediate", "topics": ["ros2"]},
    ),
    Passage(
        id="sim-1",
        text="Gazebo simulates physics, sensors and robots so that controllers can be tested safely.",
        payload={"chapter": "gazebo", "module": 2, "difficulty": "beginner", "topics": ["simulation"]},
    ),
    Passage(
        id="sim-2",
        text="Simulated cameras and lidars produce synthetic sensor data with configurable noise.",
        payload={
            "chapter": "gazebo",
            "module": 2,
            "difficulty": "advanced",
            "topics": ["simulation", "sensors"],
        },
    ),
    Passage(
        id="vla-1",
        text="Vision-language-action models map camera images and spoken instructions to robot motions.",
        payload={"chapter": "vla", "module": 4, "difficulty": "advanced", "topics": ["vla", "llm"]},
    ),
    Passage(
        id="hw-1",
        text="A humanoid robot balances by shifting its centre of mass over the support polygon of its feet.",
        payload={"chapter": "humanoids", "module": 3, "difficulty": "intermediate", "topics": ["balance"]},
    ),
]


@pytest.fixture
def make_index(tmp_path: Path, vector_store: VectorStore) -> Callable[..., HybridIndex]:
    """A factory of HybridIndex over the test's directory and Qdrant store."""

    def make(
        embedder: Embedder | None, *, collection: str = "course__v1", directory: str = "course__v1"
    ) -> HybridIndex:
        return HybridIndex(
            collection=collection,
            index_dir=tmp_path / "search" / directory,
            store=vector_store,
            embedder=embedder,
        )

    return make
