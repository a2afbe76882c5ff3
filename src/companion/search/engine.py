"""Hybrid retrieval over one collection of passages: BM25 and embeddings, fused by reciprocal rank.

The engine knows nothing of courses: a passage is an id, a text and an opaque payload, of which only the
keys used in filters matter. Building and searching are synchronous and CPU-bound (embedding): async
callers run them in a worker thread (`asyncio.to_thread` / `anyio.to_thread.run_sync`). One index may be
searched from several threads while it is being rebuilt; a rebuild swaps the new state in at the end.

A build saves BM25 and the passages first (lexical search works from then on), then embeds the texts the
vector store lacks and copies the vectors of these passages into the index folder as one float32 matrix.
Searching reads only the index folder, held in memory: semantic search is a matrix product with the
query vector, filters are boolean masks, so any number of processes can serve one index at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from cachetools import LRUCache

from companion.search.embeddings import Embedder, EmbeddingUnavailable
from companion.search.fusion import FusionConfig, fuse
from companion.search.lexical import LexicalIndex
from companion.search.vectors import FilterValue, VectorStore, VectorStoreUnavailable

logger = logging.getLogger(__name__)

PASSAGES_FILE = "passages.jsonl"
LEXICAL_DIR = "bm25"
HASH_KEY = "content_hash"
CONTENT_KEY = "content"
# Passages embedded and written per step of a build: progress is reported, and kept, at this grain.
EMBED_STEP = 64
# Filter masks kept per index, one per (payload key, value) asked for.
MASK_CACHE_SIZE = 256

SearchMode = Literal["hybrid", "lexical"]
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Passage:
    """A unit of retrieval: an id unique in its collection, the text to match and an opaque payload."""

    id: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    """One passage found: its fused score, and its rank (from 1) and raw score in each retriever."""

    id: str
    score: float
    text: str
    payload: dict[str, Any]
    lexical_rank: int | None
    lexical_score: float | None
    semantic_rank: int | None
    semantic_score: float | None


@dataclass(frozen=True)
class SearchResult:
    """The hits, best first, and whether embeddings took part ("hybrid") or not, and why not."""

    hits: list[SearchHit]
    mode: SearchMode
    degraded_reason: str | None = None


@dataclass(frozen=True)
class BuildReport:
    """What a build did: passages indexed, texts embedded by the model, stale vectors deleted."""

    passages: int
    embedded: int
    deleted: int
    mode: SearchMode
    degraded_reason: str | None = None


class _State:
    """What a search reads; replaced as a whole so that concurrent searches see one consistent index."""

    def __init__(self, passages: list[Passage], lexical: LexicalIndex, vectors: np.ndarray | None) -> None:
        # A payload's `content` is nearly always the text after its first line (the title): it is held
        # once, and put back in the payload of a hit (`hit_payload`).
        self.elided: set[str] = set()
        ordered = []
        for passage in passages:
            if passage.payload.get(CONTENT_KEY) == _body(passage.text):
                payload = {key: value for key, value in passage.payload.items() if key != CONTENT_KEY}
                passage = Passage(id=passage.id, text=passage.text, payload=payload)
                self.elided.add(passage.id)
            ordered.append(passage)
        self.passages = {passage.id: passage for passage in ordered}
        self.ordered = ordered  # aligned with the lexical ids and the rows of `vectors`
        self.lexical = lexical
        self.vectors = vectors
        self._masks: LRUCache[tuple[str, Any], np.ndarray] = LRUCache(maxsize=MASK_CACHE_SIZE)
        self._lock = threading.Lock()

    def with_vectors(self, vectors: np.ndarray) -> _State:
        """The same passages and BM25 with these vectors."""
        state = _State([], self.lexical, vectors)
        state.ordered, state.passages, state.elided = self.ordered, self.passages, self.elided
        return state

    def hit_payload(self, passage: Passage) -> dict[str, Any]:
        """The passage's payload as it was given, `content` included."""
        if passage.id not in self.elided:
            return passage.payload
        return {**passage.payload, CONTENT_KEY: _body(passage.text)}

    def mask(self, filters: Mapping[str, FilterValue]) -> np.ndarray:
        """The passages passing every filter, as a boolean array aligned with `ordered`."""
        result = np.ones(len(self.ordered), dtype=bool)
        for key, wanted in filters.items():
            allowed = np.zeros(len(self.ordered), dtype=bool)
            for value in wanted if isinstance(wanted, list) else [wanted]:
                allowed |= self._value_mask(key, value)
            result &= allowed
        return result

    def _value_mask(self, key: str, value: str | int) -> np.ndarray:
        with self._lock:
            cached = self._masks.get((key, value))
        if cached is None:
            cached = np.fromiter(
                (matches(passage.payload, {key: value}) for passage in self.ordered),
                dtype=bool,
                count=len(self.ordered),
            )
            with self._lock:
                self._masks[(key, value)] = cached
        return cached


def content_hash(passage: Passage) -> str:
    """The passage's `content_hash` payload field, or the sha256 of its text when it has none."""
    given = passage.payload.get(HASH_KEY)
    return str(given) if given else hashlib.sha256(passage.text.encode("utf-8")).hexdigest()


def matches(payload: Mapping[str, Any], filters: Mapping[str, FilterValue]) -> bool:
    """Whether a payload passes the filters, with Qdrant's semantics (a list field matches on any item)."""
    for key, wanted in filters.items():
        allowed = wanted if isinstance(wanted, list) else [wanted]
        value = payload.get(key)
        values = value if isinstance(value, list) else [value]
        if not any(item in allowed for item in values if item is not None):
            return False
    return True


def vectors_file(embedder_name: str) -> str:
    """The file, in an index folder, of the passages' vectors by this embedder."""
    return f"vectors.{embedder_name}.npy"


def stored_hashes(index_dir: Path) -> set[str]:
    """The content hashes of the passages saved in an index folder (none if it holds no index)."""
    path = Path(index_dir) / PASSAGES_FILE
    if not path.exists():
        return set()
    with path.open(encoding="utf-8") as file:
        return {content_hash(_passage(json.loads(line))) for line in file}


class HybridIndex:
    """BM25 plus the passages' vectors, saved in one folder; vectors come from a content-addressed store.

    `collection` is the store's collection of vectors by this embedder, which other indexes may share.
    """

    def __init__(
        self,
        *,
        collection: str,
        index_dir: Path,
        store: VectorStore | None = None,
        embedder: Embedder | None = None,
        fusion: FusionConfig | None = None,
    ) -> None:
        self.collection = collection
        self.index_dir = Path(index_dir)
        self.store = store
        self.embedder = embedder
        self.fusion = fusion or FusionConfig()
        self._state = self._load()

    def __len__(self) -> int:
        return len(self._state.ordered)

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index searched now."""
        return self._state.lexical

    def build(
        self, passages: Sequence[Passage], *, on_progress: ProgressCallback | None = None
    ) -> BuildReport:
        """Index exactly these passages: BM25 first, then vectors (embedding only texts the store lacks).

        `on_progress(done, total)` counts texts embedded out of those needing it. When embeddings are
        unavailable the lexical index is still built and the report says why search will be lexical.
        """
        self.build_lexical(passages)
        return self.build_vectors(self.store, on_progress=on_progress)

    def build_lexical(self, passages: Sequence[Passage], *, save: bool = True) -> None:
        """Save BM25 and the passages (unless `save` is false), and search them lexically from now on."""
        ordered = list(passages)
        ids = [passage.id for passage in ordered]
        if len(set(ids)) != len(ids):
            raise ValueError("passage ids must be unique")
        lexical = LexicalIndex.build(ids, [passage.text for passage in ordered])
        if save:
            self._save(ordered, lexical)
        self._state = _State(ordered, lexical, None)

    def build_vectors(
        self,
        store: VectorStore | None,
        *,
        on_progress: ProgressCallback | None = None,
        embedder: Embedder | None = None,
    ) -> BuildReport:
        """Embed what `store` lacks of the lexically built passages, then save and serve their vectors.

        `embedder` embeds the passages when queries have their own (it must share the vectors' space).
        """
        passages = self._state.ordered
        embedder = embedder or self.embedder
        reason = "no embedding model is configured" if embedder is None else None
        if reason is None and store is None:
            reason = "no vector store is available"
        embedded = 0
        if reason is None:
            assert store is not None
            assert embedder is not None
            try:
                embedded = self._sync_vectors(store, embedder, on_progress)
            except (EmbeddingUnavailable, VectorStoreUnavailable) as error:
                logger.warning("Search index %s built without embeddings: %s", self.collection, error)
                reason = str(error)
        # What was embedded before a failure stays stored; the next build picks up the rest.
        return BuildReport(
            passages=len(passages),
            embedded=embedded,
            deleted=0,
            mode="lexical" if reason else "hybrid",
            degraded_reason=reason,
        )

    def search(
        self,
        query: str,
        *,
        filters: Mapping[str, FilterValue] | None = None,
        limit: int = 10,
        candidates: int = 100,
    ) -> SearchResult:
        """The `limit` best passages for `query`, fusing the top `candidates` of each retriever.

        A hit's `score` ranks hits within one answer; it is not an absolute relevance (the best hit of a
        convex fusion always scores near 1): judge relevance on `lexical_score` and `semantic_score`.
        """
        candidates = max(candidates, limit)
        state = self._state  # one consistent index for the whole search, even if a build swaps it
        lexical = self._search_lexical(state, query, filters, candidates)
        semantic: list[tuple[str, float]] = []
        reason = self._semantic_unavailable_reason(state)
        if reason is None:
            try:
                semantic = self._search_semantic(state, query, filters, candidates)
            except EmbeddingUnavailable as error:
                logger.warning("Search in %s fell back to lexical: %s", self.collection, error)
                reason = str(error)
        # Only the retrievers that ran take part: a lexical-only answer is not penalised for the absent one.
        results, weights = [lexical], [self.fusion.lexical_weight]
        if reason is None:
            results.append(semantic)
            weights.append(self.fusion.semantic_weight)
        fused = fuse(results, weights, self.fusion)
        lexical_ranks = {passage_id: (rank, score) for rank, (passage_id, score) in enumerate(lexical, 1)}
        semantic_ranks = {passage_id: (rank, score) for rank, (passage_id, score) in enumerate(semantic, 1)}
        passages = state.passages
        hits = []
        for passage_id, score in fused[:limit]:
            passage = passages[passage_id]
            lexical_rank, lexical_score = lexical_ranks.get(passage_id, (None, None))
            semantic_rank, semantic_score = semantic_ranks.get(passage_id, (None, None))
            hits.append(
                SearchHit(
                    id=passage_id,
                    score=score,
                    text=passage.text,
                    payload=state.hit_payload(passage),
                    lexical_rank=lexical_rank,
                    lexical_score=lexical_score,
                    semantic_rank=semantic_rank,
                    semantic_score=semantic_score,
                )
            )
        return SearchResult(hits=hits, mode="lexical" if reason else "hybrid", degraded_reason=reason)

    def search_lexical(
        self, query: str, *, filters: Mapping[str, FilterValue] | None = None, limit: int = 10
    ) -> list[tuple[str, float]]:
        """BM25 alone: (id, score), best first."""
        return self._search_lexical(self._state, query, filters, limit)

    def search_semantic(
        self, query: str, *, filters: Mapping[str, FilterValue] | None = None, limit: int = 10
    ) -> list[tuple[str, float]]:
        """Embeddings alone: (id, cosine similarity), best first; raises when they are unavailable."""
        return self._search_semantic(self._state, query, filters, limit)

    def _search_lexical(
        self, state: _State, query: str, filters: Mapping[str, FilterValue] | None, limit: int
    ) -> list[tuple[str, float]]:
        allowed = state.mask(filters) if filters else None
        return state.lexical.search(query, limit, allowed=allowed)

    def _search_semantic(
        self, state: _State, query: str, filters: Mapping[str, FilterValue] | None, limit: int
    ) -> list[tuple[str, float]]:
        reason = self._semantic_unavailable_reason(state)
        if reason is not None:
            raise EmbeddingUnavailable(reason)
        assert self.embedder is not None and state.vectors is not None
        if not query.strip() or limit <= 0:
            return []
        query_vector = self.embedder.embed([query])[0]
        # Rows and query are L2-normalised: the dot product is the cosine similarity. einsum computes it
        # in this thread; OpenBLAS (`@`) would wake a thread per core for it, costing several times the
        # CPU of the product itself and stalling behind concurrent requests on a small machine.
        scores = np.einsum("ij,j->i", state.vectors, query_vector.astype(np.float32))
        if filters:
            scores = np.where(state.mask(filters), scores, -np.inf)
        limit = min(limit, len(scores))
        best = np.argpartition(-scores, limit - 1)[:limit]
        best = best[np.argsort(-scores[best], kind="stable")]
        best = best[np.isfinite(scores[best])]
        ids = state.lexical.ids
        return list(zip([ids[row] for row in best.tolist()], scores[best].tolist(), strict=True))

    def _semantic_unavailable_reason(self, state: _State) -> str | None:
        if self.embedder is None:
            return "no embedding model is configured"
        if state.vectors is None:
            return "the passages are not embedded yet"
        return None

    def _sync_vectors(
        self, store: VectorStore, embedder: Embedder, on_progress: ProgressCallback | None
    ) -> int:
        """Embed and store the texts the store lacks, then load every passage's vector; how many embedded."""
        state = self._state
        store.ensure_collection(self.collection, dimension=embedder.dimension, embedder_name=embedder.name)
        hashes = [content_hash(passage) for passage in state.ordered]
        missing = store.missing(self.collection, hashes)
        texts = {text_hash: passage.text for text_hash, passage in zip(hashes, state.ordered, strict=True)}
        # Texts of similar length side by side: batches carry little padding, as when the model embeds
        # a whole corpus in one call.
        to_embed = sorted(missing, key=lambda text_hash: len(texts[text_hash]))
        if on_progress is not None:
            on_progress(0, len(to_embed))
        # The store is written in another thread while the model embeds the next step (the model
        # releases the GIL); one write at a time, so that memory stays bounded.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vector-writer") as writer:
            pending: Future[None] | None = None
            for start in range(0, len(to_embed), EMBED_STEP):
                step = to_embed[start : start + EMBED_STEP]
                vectors = embedder.embed([texts[text_hash] for text_hash in step])
                if pending is not None:
                    pending.result()
                pending = writer.submit(store.upsert, self.collection, step, vectors)
                if on_progress is not None:
                    on_progress(start + len(step), len(to_embed))
            if pending is not None:
                pending.result()
        matrix = store.vectors(self.collection, hashes, embedder.dimension)
        path = self.index_dir / vectors_file(embedder.name)
        staging = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        with staging.open("wb") as file:
            np.save(file, matrix)
        os.replace(staging, path)
        self._state = state.with_vectors(matrix)
        return len(to_embed)

    def _save(self, passages: Sequence[Passage], lexical: LexicalIndex) -> None:
        """Write passages and BM25 to a fresh directory, then swap it in whole."""
        # Names unique to this build: another process may be saving the same index at the same time.
        unique = uuid.uuid4().hex
        staging = self.index_dir.with_name(f"{self.index_dir.name}.{unique}.new")
        previous = self.index_dir.with_name(f"{self.index_dir.name}.{unique}.old")
        staging.mkdir(parents=True)
        lexical.save(staging / LEXICAL_DIR)
        with (staging / PASSAGES_FILE).open("w", encoding="utf-8") as file:
            for passage in passages:
                record = {"id": passage.id, "text": passage.text, "payload": passage.payload}
                file.write(json.dumps(record, ensure_ascii=False) + "\n")
        if self.index_dir.exists():
            self.index_dir.rename(previous)
        staging.rename(self.index_dir)
        shutil.rmtree(previous, ignore_errors=True)

    def _load(self) -> _State:
        """The saved index with its vectors by this embedder, or an empty one when nothing was built yet."""
        passages_path = self.index_dir / PASSAGES_FILE
        if not passages_path.exists():
            return _State([], LexicalIndex.build([], []), None)
        # Payload strings repeat (course, chapter, tier, creation time...): each is held once.
        shared: dict[str, str] = {}
        with passages_path.open(encoding="utf-8") as file:
            passages = [_passage(json.loads(line), shared) for line in file]
        vectors = None
        if self.embedder is not None:
            path = self.index_dir / vectors_file(self.embedder.name)
            if path.exists():
                vectors = np.load(path)
                if vectors.shape != (len(passages), self.embedder.dimension):
                    vectors = None  # another model's width, or a file of another build: embed again
        return _State(passages, LexicalIndex.load(self.index_dir / LEXICAL_DIR), vectors)


def _passage(record: dict[str, Any], shared: dict[str, str] | None = None) -> Passage:
    payload = record["payload"]
    if shared is not None:
        for key, value in payload.items():
            if isinstance(value, str) and key not in (CONTENT_KEY, HASH_KEY):
                payload[key] = shared.setdefault(value, value)
    return Passage(id=record["id"], text=record["text"], payload=payload)


def _body(text: str) -> str:
    """A passage's text after its first line."""
    return text.split("\n", 1)[-1]
