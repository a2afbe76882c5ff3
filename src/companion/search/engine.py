"""Hybrid retrieval over one collection of passages: BM25 and embeddings, fused by reciprocal rank.

The engine knows nothing of courses: a passage is an id, a text and an opaque payload, of which only the
keys used in filters matter. Building and searching are synchronous and CPU-bound (embedding): async
callers run them in a worker thread (`asyncio.to_thread` / `anyio.to_thread.run_sync`). One index may be
searched from several threads while it is being rebuilt; a rebuild swaps the new state in at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from companion.search.embeddings import Embedder, EmbeddingUnavailable
from companion.search.fusion import FusionConfig, fuse
from companion.search.lexical import LexicalIndex
from companion.search.vectors import FilterValue, VectorPoint, VectorStore, VectorStoreUnavailable

logger = logging.getLogger(__name__)

PASSAGES_FILE = "passages.jsonl"
LEXICAL_DIR = "bm25"
HASH_KEY = "content_hash"
# Passages embedded and written per step of a build: progress is reported, and kept, at this grain.
EMBED_STEP = 64

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
    """What a build did: passages indexed, embedded, payload-only updates, vectors deleted."""

    passages: int
    embedded: int
    payloads_updated: int
    deleted: int
    mode: SearchMode
    degraded_reason: str | None = None


@dataclass(frozen=True)
class _State:
    """What a search reads; replaced as a whole so that concurrent searches see one consistent index."""

    passages: dict[str, Passage]
    lexical: LexicalIndex


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


class HybridIndex:
    """BM25 plus an optional vector collection over one set of passages, kept in step by `build`."""

    def __init__(
        self,
        *,
        collection: str,
        index_dir: Path,
        vectors: VectorStore | None = None,
        embedder: Embedder | None = None,
        fusion: FusionConfig | None = None,
    ) -> None:
        self.collection = collection
        self.index_dir = Path(index_dir)
        self.vectors = vectors
        self.embedder = embedder
        self.fusion = fusion or FusionConfig()
        self._state = self._load()

    def __len__(self) -> int:
        return len(self._state.passages)

    def build(
        self, passages: Sequence[Passage], *, on_progress: ProgressCallback | None = None
    ) -> BuildReport:
        """Index exactly these passages: rebuild BM25, embed only new or changed ones, drop vanished ones.

        `on_progress(done, total)` counts passages embedded out of those needing it. When embeddings are
        unavailable the lexical index is still built and the report says why search will be lexical.
        """
        by_id = {passage.id: passage for passage in passages}
        if len(by_id) != len(passages):
            raise ValueError("passage ids must be unique")
        lexical = LexicalIndex.build(list(by_id), [passage.text for passage in passages])
        self._save(passages, lexical)
        # Lexical search is ready before the slow part starts.
        self._state = _State(passages=by_id, lexical=lexical)

        reason = self._semantic_unavailable_reason()
        if reason is None:
            try:
                return self._sync_vectors(passages, on_progress)
            except (EmbeddingUnavailable, VectorStoreUnavailable) as error:
                logger.warning("Search index %s built without embeddings: %s", self.collection, error)
                reason = str(error)
        # What was embedded before a failure stays stored; the next build picks up the rest.
        return BuildReport(
            passages=len(passages),
            embedded=0,
            payloads_updated=0,
            deleted=0,
            mode="lexical",
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
        lexical = self.search_lexical(query, filters=filters, limit=candidates)
        semantic: list[tuple[str, float]] = []
        reason = self._semantic_unavailable_reason()
        if reason is None:
            try:
                semantic = self.search_semantic(query, filters=filters, limit=candidates)
            except (EmbeddingUnavailable, VectorStoreUnavailable) as error:
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
        passages = self._state.passages
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
                    payload=passage.payload,
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
        state = self._state
        allowed = None
        if filters:
            allowed = np.array(
                [matches(state.passages[passage_id].payload, filters) for passage_id in state.lexical.ids],
                dtype=bool,
            )
        return state.lexical.search(query, limit, allowed=allowed)

    def search_semantic(
        self, query: str, *, filters: Mapping[str, FilterValue] | None = None, limit: int = 10
    ) -> list[tuple[str, float]]:
        """Embeddings alone: (id, cosine similarity), best first; raises when they are unavailable."""
        if self.embedder is None:
            raise EmbeddingUnavailable("no embedding model is configured")
        if self.vectors is None:
            raise VectorStoreUnavailable("no vector store is available")
        if not query.strip():
            return []
        vector = self.embedder.embed([query])[0]
        found = self.vectors.search(self.collection, vector, filters=filters, limit=limit)
        # A vector may outlive its passage when a build was interrupted; the passages are the truth.
        passages = self._state.passages
        return [(passage_id, score) for passage_id, score in found if passage_id in passages]

    def _semantic_unavailable_reason(self) -> str | None:
        if self.embedder is None:
            return "no embedding model is configured"
        if self.vectors is None:
            return "no vector store is available"
        return None

    def _sync_vectors(self, passages: Sequence[Passage], on_progress: ProgressCallback | None) -> BuildReport:
        assert self.embedder is not None and self.vectors is not None
        vectors, embedder = self.vectors, self.embedder
        vectors.ensure_collection(self.collection, dimension=embedder.dimension, embedder_name=embedder.name)
        stored = vectors.stored_payloads(self.collection)
        current = {passage.id for passage in passages}
        vanished = [passage_id for passage_id in stored if passage_id not in current]
        vectors.delete(self.collection, vanished)

        to_embed: list[Passage] = []
        payloads_updated = 0
        for passage in passages:
            payload = _stored_form(passage)
            previous = stored.get(passage.id)
            if previous is None or previous.get(HASH_KEY) != payload[HASH_KEY]:
                to_embed.append(passage)
            elif previous != payload:
                # Same text, new metadata (a renamed section, a new topic): filters need the new payload.
                vectors.replace_payload(self.collection, passage.id, payload)
                payloads_updated += 1

        if on_progress is not None:
            on_progress(0, len(to_embed))
        for start in range(0, len(to_embed), EMBED_STEP):
            step = to_embed[start : start + EMBED_STEP]
            embedded = embedder.embed([passage.text for passage in step])
            vectors.upsert(
                self.collection,
                [
                    VectorPoint(id=passage.id, vector=vector, payload=_stored_form(passage))
                    for passage, vector in zip(step, embedded, strict=True)
                ],
            )
            if on_progress is not None:
                on_progress(start + len(step), len(to_embed))
        return BuildReport(
            passages=len(passages),
            embedded=len(to_embed),
            payloads_updated=payloads_updated,
            deleted=len(vanished),
            mode="hybrid",
        )

    def _save(self, passages: Sequence[Passage], lexical: LexicalIndex) -> None:
        """Write passages and BM25 to a fresh directory, then swap it in whole."""
        staging = self.index_dir.with_name(self.index_dir.name + ".new")
        previous = self.index_dir.with_name(self.index_dir.name + ".old")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        lexical.save(staging / LEXICAL_DIR)
        with (staging / PASSAGES_FILE).open("w", encoding="utf-8") as file:
            for passage in passages:
                record = {"id": passage.id, "text": passage.text, "payload": passage.payload}
                file.write(json.dumps(record, ensure_ascii=False) + "\n")
        shutil.rmtree(previous, ignore_errors=True)
        if self.index_dir.exists():
            self.index_dir.rename(previous)
        staging.rename(self.index_dir)
        shutil.rmtree(previous, ignore_errors=True)

    def _load(self) -> _State:
        """The saved index, or an empty one when nothing was built yet."""
        passages_path = self.index_dir / PASSAGES_FILE
        if not passages_path.exists():
            return _State(passages={}, lexical=LexicalIndex.build([], []))
        passages: dict[str, Passage] = {}
        with passages_path.open(encoding="utf-8") as file:
            for line in file:
                record = json.loads(line)
                passages[record["id"]] = Passage(
                    id=record["id"], text=record["text"], payload=record["payload"]
                )
        return _State(passages=passages, lexical=LexicalIndex.load(self.index_dir / LEXICAL_DIR))


def _stored_form(passage: Passage) -> dict[str, Any]:
    """The payload as Qdrant stores and returns it (JSON types), with the content hash filled in."""
    payload: dict[str, Any] = json.loads(json.dumps(passage.payload))
    payload[HASH_KEY] = content_hash(passage)
    return payload
