"""The search indexes' lifecycle: one hybrid index per course and content version, built, loaded and swapped.

`CourseSearch` owns the process's one vector store and one embedder (embedded Qdrant allows a single
client per directory) and an index per course for the catalogue's current version. A newly published
version is indexed in a worker thread while the previous one keeps answering, then swapped in. When
the model or the vector store is unavailable, every index still answers from BM25 and says why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
import shutil
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from cachetools import LRUCache

from companion.config import Settings
from companion.content.schemas import ContentPack
from companion.search import chunking
from companion.search.embeddings import Embedder, EmbeddingUnavailable, load_embedder
from companion.search.engine import BuildReport, HybridIndex, ProgressCallback, SearchHit, SearchMode
from companion.search.fusion import FusionConfig
from companion.search.lexical import tokenize
from companion.search.vectors import FilterValue, VectorStore, VectorStoreUnavailable, collection_name

logger = logging.getLogger(__name__)

MANIFEST_SUFFIX = ".manifest.json"
QUERY_CACHE_SIZE = 1024


@dataclass(frozen=True)
class IndexManifest:
    """What the last complete build of one collection produced, kept next to its lexical index."""

    course_id: str
    version: str
    created_at: datetime
    passages: int
    mode: SearchMode
    embedder: str | None
    degraded_reason: str | None = None


@dataclass
class CourseIndex:
    """The index of one version of one course, the pack it was built from, and its term statistics."""

    pack: ContentPack
    index: HybridIndex
    ready: bool
    document_frequency: dict[str, int] = field(default_factory=dict)

    @property
    def passage_count(self) -> int:
        """How many passages are indexed."""
        return len(self.index)

    def term_weight(self, term: str) -> float:
        """The rarity (BM25 idf) of a stemmed term in this course; unknown terms weigh the most."""
        total = max(len(self.index), 1)
        frequency = self.document_frequency.get(term, 0)
        return math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))


@dataclass(frozen=True)
class Retrieval:
    """Hits from one course's index with the index they came from and the mode it searched in."""

    entry: CourseIndex
    hits: list[SearchHit]
    mode: SearchMode
    degraded_reason: str | None


class _QueryVectorCache:
    """An embedder that remembers the vectors of recent single queries (passages go through uncached)."""

    def __init__(self, inner: Embedder, size: int = QUERY_CACHE_SIZE) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; a single text already seen is answered from memory."""
        if len(texts) != 1:
            return self.inner.embed(texts)
        with self._lock:
            cached = self._vectors.get(texts[0])
        if cached is None:
            cached = self.inner.embed(texts)[0]
            with self._lock:
                self._vectors[texts[0]] = cached
        return cached[np.newaxis, :].copy()


class _PassageVectorMemo:
    """An embedder that reuses the vectors of passages embedded before, by the hash of their text.

    Each content version has its own collection, so without this a new version would embed every
    passage again; with it, only passages whose text changed reach the model.
    """

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.path = path
        self.computed = 0
        self._vectors: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as stored:
                self._vectors = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`, computing only those never embedded before."""
        keys = [_text_hash(text) for text in texts]
        missing = [index for index, key in enumerate(keys) if key not in self._vectors]
        if missing:
            computed = self.inner.embed([texts[index] for index in missing])
            self.computed += len(missing)
            for index, vector in zip(missing, computed, strict=True):
                self._vectors[keys[index]] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[key] for key in keys])

    def save(self, texts: Sequence[str]) -> None:
        """Keep the vectors of these texts (the current version's passages) on disk, and only those."""
        keys = [key for key in dict.fromkeys(_text_hash(text) for text in texts) if key in self._vectors]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(self.path.name + ".new.npz")
        vectors = np.stack([self._vectors[key] for key in keys]) if keys else np.zeros((0, self.dimension))
        np.savez(staging, keys=np.array(keys, dtype=str), vectors=vectors.astype(np.float32))
        staging.replace(self.path)


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CourseSearch:
    """The search indexes of every course, sharing one vector store and one embedder."""

    def __init__(
        self,
        settings: Settings,
        *,
        vectors: VectorStore | None,
        embedder: Embedder | None,
        unavailable_reason: str | None = None,
    ) -> None:
        self.settings = settings
        self.vectors = vectors
        self.embedder = _QueryVectorCache(embedder) if embedder is not None else None
        # Why semantic search is off for the whole process, when it is.
        self.unavailable_reason = unavailable_reason
        self.fusion = FusionConfig.from_settings(settings)
        self._entries: dict[str, CourseIndex] = {}
        self._builds: dict[tuple[str, str], asyncio.Task[None]] = {}

    @classmethod
    def open(cls, settings: Settings) -> CourseSearch:
        """Open the vector store and load the embedder (blocking); either may fail into lexical search."""
        vectors: VectorStore | None = None
        embedder: Embedder | None = None
        reason: str | None = None
        if settings.embedding_provider == "none":
            reason = "no embedding model is configured"
        else:
            try:
                vectors = VectorStore.open(settings)
                embedder = load_embedder(settings)
            except (VectorStoreUnavailable, EmbeddingUnavailable) as error:
                logger.warning("Search runs on BM25 only: %s", error.message)
                reason = error.message
                if vectors is not None:
                    vectors.close()
                vectors, embedder = None, None
        return cls(settings, vectors=vectors, embedder=embedder, unavailable_reason=reason)

    def close(self) -> None:
        """Release the vector store (and, embedded, its lock on the data directory)."""
        for task in self._builds.values():
            task.cancel()
        if self.vectors is not None:
            self.vectors.close()
            self.vectors = None

    # --- Building ------------------------------------------------------------------------------

    def index_dir(self, pack: ContentPack) -> Path:
        """Where the lexical index and passages of this course version live."""
        return self.settings.search_index_dir / collection_name(pack.course.id, pack.version)

    def manifest(self, pack: ContentPack) -> IndexManifest | None:
        """The manifest of this course version's last complete build, or None."""
        path = self._manifest_path(pack)
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return IndexManifest(**data)

    def is_built(self, pack: ContentPack) -> bool:
        """Whether this course version is fully indexed for the search this process can do."""
        manifest = self.manifest(pack)
        if manifest is None:
            return False
        if self.embedder is None:
            return True
        return manifest.mode == "hybrid" and manifest.embedder == self.embedder.name

    def build(self, pack: ContentPack, *, on_progress: ProgressCallback | None = None) -> BuildReport:
        """Index one course version (blocking): BM25 in full, embeddings only for new or changed chunks."""
        previous = self.manifest(pack)
        # Chunks keep their first creation time, so that a rebuild leaves unchanged payloads alone.
        created_at = previous.created_at if previous else datetime.now(UTC)
        memo = None
        if self.embedder is not None:
            memo_path = self.settings.search_index_dir / f"{pack.course.id}.{self.embedder.name}.vectors.npz"
            memo = _PassageVectorMemo(self.embedder.inner, memo_path)
        index = self._open_index(pack, embedder=memo)
        passages = chunking.passages(pack, created_at=created_at)
        report = index.build(passages, on_progress=on_progress)
        if memo is not None and report.mode == "hybrid":
            memo.save([passage.text for passage in passages])
            report = dataclasses.replace(report, embedded=memo.computed)
        manifest = IndexManifest(
            course_id=pack.course.id,
            version=pack.version,
            created_at=created_at,
            passages=report.passages,
            mode=report.mode,
            embedder=self.embedder.name if report.mode == "hybrid" and self.embedder else None,
            degraded_reason=report.degraded_reason,
        )
        body = {**dataclasses.asdict(manifest), "created_at": created_at.isoformat()}
        self._manifest_path(pack).write_text(json.dumps(body, indent=2), encoding="utf-8")
        return report

    async def start(self, packs: Sequence[ContentPack]) -> None:
        """Load the indexes of these packs; those not built yet are built in the background."""
        for pack in packs:
            await self.current(pack)

    async def current(self, pack: ContentPack) -> CourseIndex:
        """The index to search for this pack's course; a new content version is indexed in the background.

        Until the new version is ready the previous one keeps answering.
        """
        entry = self._entries.get(pack.course.id)
        if entry is not None and entry.pack.version == pack.version:
            return entry
        if self.is_built(pack):
            loaded = await asyncio.to_thread(self._load_entry, pack, True)
            self._swap(loaded)
            return loaded
        key = (pack.course.id, pack.version)
        if key not in self._builds:
            fresh = await asyncio.to_thread(self._load_entry, pack, False)
            if entry is None:
                # Nothing to answer with meanwhile: the index being built answers as soon as BM25 is saved.
                self._entries[pack.course.id] = entry = fresh
            self._builds[key] = asyncio.create_task(self._build_in_background(fresh))
        assert entry is not None
        return entry

    async def wait_for_builds(self) -> None:
        """Wait until the background builds started so far have finished."""
        await asyncio.gather(*self._builds.values(), return_exceptions=True)

    async def _build_in_background(self, entry: CourseIndex) -> None:
        pack = entry.pack
        key = (pack.course.id, pack.version)
        try:
            logger.info("building the search index of %s version %s", pack.course.id, pack.version[:12])
            await asyncio.to_thread(self.build, pack)
            built = await asyncio.to_thread(self._load_entry, pack, True)
            self._swap(built)
        except Exception:  # a failed build must not take search down; the next request retries
            logger.exception("search index build failed for %s", pack.course.id)
        finally:
            self._builds.pop(key, None)

    def _swap(self, entry: CourseIndex) -> None:
        previous = self._entries.get(entry.pack.course.id)
        self._entries[entry.pack.course.id] = entry
        if (
            previous is not None
            and previous.pack.version != entry.pack.version
            and not self.settings.qdrant_url
        ):
            # Embedded storage belongs to this process alone, so the superseded version can go.
            self._drop(previous.pack)

    def _drop(self, pack: ContentPack) -> None:
        try:
            if self.vectors is not None:
                self.vectors.drop_collection(collection_name(pack.course.id, pack.version))
        except VectorStoreUnavailable as error:
            logger.warning("could not drop an old search collection: %s", error.message)
        shutil.rmtree(self.index_dir(pack), ignore_errors=True)
        self._manifest_path(pack).unlink(missing_ok=True)

    def _open_index(self, pack: ContentPack, *, embedder: Embedder | None = None) -> HybridIndex:
        return HybridIndex(
            collection=collection_name(pack.course.id, pack.version),
            index_dir=self.index_dir(pack),
            vectors=self.vectors,
            embedder=embedder or self.embedder,
            fusion=self.fusion,
        )

    def _load_entry(self, pack: ContentPack, ready: bool) -> CourseIndex:
        index = self._open_index(pack)
        entry = CourseIndex(pack=pack, index=index, ready=ready)
        if ready:
            entry.document_frequency = _document_frequency(pack)
        return entry

    def _manifest_path(self, pack: ContentPack) -> Path:
        return self.settings.search_index_dir / (
            collection_name(pack.course.id, pack.version) + MANIFEST_SUFFIX
        )

    # --- Searching -----------------------------------------------------------------------------

    async def retrieve(
        self,
        pack: ContentPack,
        query: str,
        *,
        filters: Mapping[str, FilterValue] | None = None,
        limit: int = 10,
    ) -> Retrieval:
        """The best passages of one course for `query` (hybrid, or BM25 alone when it must)."""
        entry = await self.current(pack)
        result = await asyncio.to_thread(entry.index.search, query, filters=filters, limit=limit)
        reason = result.degraded_reason
        if not entry.ready:
            reason = f"The search index of this course is still being built ({reason or 'lexical only'})."
        if self.unavailable_reason is not None:
            reason = self.unavailable_reason
        return Retrieval(entry=entry, hits=result.hits, mode=result.mode, degraded_reason=reason)


def _document_frequency(pack: ContentPack) -> dict[str, int]:
    """In how many passages of the course each stemmed term occurs."""
    counts: Counter[str] = Counter()
    for passage in chunking.passages(pack, created_at=datetime.now(UTC)):
        counts.update(set(tokenize([passage.text])[0]))
    return dict(counts)
