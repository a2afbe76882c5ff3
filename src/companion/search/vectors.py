"""Vector storage in Qdrant: embedded on disk by default, a Qdrant server when a URL is configured.

Embedded (local) mode allows a single client per storage directory, across threads and processes: open
one `VectorStore` per process, share it, and `close()` it on shutdown. Several processes (web workers,
a CLI indexer) need a Qdrant server.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from companion.config import Settings
from companion.errors import ServiceUnavailable

# The passage id travels in the payload because Qdrant point ids must be UUIDs or integers.
ID_KEY = "chunk_id"
# Fixed forever: point ids derived from it are stored in every collection.
POINT_ID_NAMESPACE = uuid.UUID("6f1f7c1e-3f55-4b8e-9a57-3c0f2f6e8d21")
UPSERT_BATCH = 256
SCROLL_PAGE = 1024

FilterValue = str | int | list[str] | list[int]


class VectorStoreUnavailable(ServiceUnavailable):
    """Qdrant could not be opened or did not answer; search falls back to lexical."""

    code = "vector_store_unavailable"


@dataclass(frozen=True)
class VectorPoint:
    """One passage's vector and the payload stored with it."""

    id: str
    vector: np.ndarray
    payload: Mapping[str, Any]


def collection_name(course: str, content_version: str) -> str:
    """The Qdrant collection of one version of a course's content."""
    # Qdrant accepts most characters, but URLs and file names (local mode) are happier without them.
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{course}__{content_version}")


def point_id(passage_id: str) -> str:
    """The Qdrant point id (a UUID) of a passage id."""
    return str(uuid.uuid5(POINT_ID_NAMESPACE, passage_id))


def build_filter(filters: Mapping[str, FilterValue] | None) -> models.Filter | None:
    """A Qdrant filter requiring every key to match: one value, or any of a list of values."""
    if not filters:
        return None
    conditions: list[models.Condition] = []
    for key, value in filters.items():
        match: models.MatchValue | models.MatchAny
        match = models.MatchAny(any=value) if isinstance(value, list) else models.MatchValue(value=value)
        conditions.append(models.FieldCondition(key=key, match=match))
    return models.Filter(must=conditions)


class VectorStore:
    """One Qdrant client with the few operations the search engine needs; errors become one type."""

    def __init__(self, client: QdrantClient, *, local: bool) -> None:
        self._client = client
        # The embedded engine keeps collections in plain Python structures, unsafe for concurrent use.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if local else contextlib.nullcontext()
        )

    @classmethod
    def open(cls, settings: Settings) -> VectorStore:
        """Connect to the configured Qdrant server, or open the embedded store on disk."""
        with _qdrant_errors("open the vector store"):
            if settings.qdrant_url:
                client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
                return cls(client, local=False)
            path = settings.resolved_qdrant_path
            path.mkdir(parents=True, exist_ok=True)
            return cls(QdrantClient(path=str(path)), local=True)

    def close(self) -> None:
        """Release the client (and the embedded store's lock on its directory)."""
        with self._lock:
            self._client.close()

    def ensure_collection(self, collection: str, *, dimension: int, embedder_name: str) -> bool:
        """Create the collection if needed; recreate it, empty, if it holds another model's vectors.

        Returns True when the collection was (re)created.
        """
        with self._lock, _qdrant_errors(f"prepare collection {collection}"):
            if self._client.collection_exists(collection):
                info = self._client.get_collection(collection)
                vectors = info.config.params.vectors
                size = vectors.size if isinstance(vectors, models.VectorParams) else None
                metadata = info.config.metadata or {}
                if size == dimension and metadata.get("embedder") == embedder_name:
                    return False
                self._client.delete_collection(collection)
            self._client.create_collection(
                collection,
                vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
                metadata={"embedder": embedder_name},
            )
            return True

    def drop_collection(self, collection: str) -> None:
        """Delete a collection and its points, if it exists."""
        with self._lock, _qdrant_errors(f"drop collection {collection}"):
            if self._client.collection_exists(collection):
                self._client.delete_collection(collection)

    def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points; the payload gains the passage id under `chunk_id`."""
        for start in range(0, len(points), UPSERT_BATCH):
            structs = [
                models.PointStruct(
                    id=point_id(point.id),
                    vector=point.vector.astype(np.float32).tolist(),
                    payload={**point.payload, ID_KEY: point.id},
                )
                for point in points[start : start + UPSERT_BATCH]
            ]
            with self._lock, _qdrant_errors(f"write to collection {collection}"):
                self._client.upsert(collection, points=structs, wait=True)

    def replace_payload(self, collection: str, passage_id: str, payload: Mapping[str, Any]) -> None:
        """Replace a point's payload without touching its vector."""
        with self._lock, _qdrant_errors(f"write to collection {collection}"):
            self._client.overwrite_payload(
                collection, payload={**payload, ID_KEY: passage_id}, points=[point_id(passage_id)], wait=True
            )

    def delete(self, collection: str, passage_ids: Iterable[str]) -> None:
        """Delete the points of these passages; unknown ids are ignored."""
        ids: list[models.ExtendedPointId] = [point_id(passage_id) for passage_id in passage_ids]
        if not ids:
            return
        with self._lock, _qdrant_errors(f"delete from collection {collection}"):
            self._client.delete(collection, points_selector=models.PointIdsList(points=ids), wait=True)

    def stored_payloads(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every stored passage's payload by passage id (its `content_hash` drives incremental rebuilds)."""
        payloads: dict[str, dict[str, Any]] = {}
        offset: models.ExtendedPointId | None = None
        while True:
            with self._lock, _qdrant_errors(f"read collection {collection}"):
                records, offset = self._client.scroll(
                    collection, limit=SCROLL_PAGE, offset=offset, with_payload=True, with_vectors=False
                )
            for record in records:
                payload = dict(record.payload or {})
                payloads[str(payload.pop(ID_KEY))] = payload
            if offset is None:
                return payloads

    def search(
        self,
        collection: str,
        vector: np.ndarray,
        *,
        filters: Mapping[str, FilterValue] | None = None,
        limit: int = 10,
    ) -> list[tuple[str, float]]:
        """The `limit` nearest passages to `vector` as (id, cosine similarity), best first."""
        with self._lock, _qdrant_errors(f"search collection {collection}"):
            response = self._client.query_points(
                collection,
                query=vector.astype(np.float32).tolist(),
                query_filter=build_filter(filters),
                limit=limit,
                with_payload=[ID_KEY],
            )
        return [(str((point.payload or {})[ID_KEY]), float(point.score)) for point in response.points]


@contextlib.contextmanager
def _qdrant_errors(action: str) -> Iterator[None]:
    """Turn whatever the Qdrant client raises (HTTP, gRPC, local storage errors) into one error type."""
    try:
        yield
    except VectorStoreUnavailable:
        raise
    except Exception as error:  # the client's errors share no base class
        raise VectorStoreUnavailable(f"Could not {action}: {error}") from error
