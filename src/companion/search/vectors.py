"""Vector storage in Qdrant, content-addressed: embedded on disk by default, a Qdrant server when configured.

A collection holds one course's vectors for one embedder, each point keyed by the hash of the text it
embeds, so every content version of the course shares it: a new version writes only the texts it adds,
and texts no retained version uses are deleted (`retain`). Serving does not read Qdrant: a build copies
the vectors of its version into the version's index folder (see `engine.HybridIndex`).

Embedded (local) mode allows a single client per storage directory, across threads and processes, so a
process opens it only while it writes (`open(..., wait_seconds=...)` waits for another writer to finish).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from companion.config import Settings
from companion.errors import ServiceUnavailable

if TYPE_CHECKING:  # the client (with gRPC and protobuf) is imported only by a process that writes vectors
    from qdrant_client import QdrantClient

logger = logging.getLogger(__name__)

# The hash of the embedded text travels in the payload because Qdrant point ids must be UUIDs or integers.
HASH_KEY = "content_hash"
# Fixed forever: point ids derived from it are stored in every collection.
POINT_ID_NAMESPACE = uuid.UUID("6f1f7c1e-3f55-4b8e-9a57-3c0f2f6e8d21")
UPSERT_BATCH = 256
READ_BATCH = 1024
SCROLL_PAGE = 1024
# How often a process waiting for the embedded store's lock tries again.
LOCK_RETRY_SECONDS = 0.5

FilterValue = str | int | list[str] | list[int]


class VectorStoreUnavailable(ServiceUnavailable):
    """Qdrant could not be opened or did not answer; search falls back to lexical."""

    code = "vector_store_unavailable"


def collection_name(course: str, embedder: str) -> str:
    """The Qdrant collection of one course's vectors by one embedder (every content version shares it)."""
    # Qdrant accepts most characters, but URLs and file names (local mode) are happier without them.
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{course}__{embedder}")


def point_id(text_hash: str) -> str:
    """The Qdrant point id (a UUID) of a text hash."""
    return str(uuid.uuid5(POINT_ID_NAMESPACE, text_hash))


class VectorStore:
    """One Qdrant client with the few operations the search engine needs; errors become one type."""

    def __init__(self, client: QdrantClient, *, local: bool) -> None:
        self._client = client
        self.local = local
        # The embedded engine keeps collections in plain Python structures, unsafe for concurrent use.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if local else contextlib.nullcontext()
        )

    @classmethod
    def open(cls, settings: Settings, *, wait_seconds: float = 0.0) -> VectorStore:
        """Connect to the configured Qdrant server, or open the embedded store on disk.

        The embedded store is locked by whichever process has it open: this waits up to `wait_seconds`
        for the lock before giving up.
        """
        from qdrant_client import QdrantClient

        if settings.qdrant_url:
            with _qdrant_errors("open the vector store"):
                client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
            return cls(client, local=False)
        path = settings.resolved_qdrant_path
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                with _qdrant_errors("open the vector store"):
                    path.mkdir(parents=True, exist_ok=True)
                    return cls(QdrantClient(path=str(path)), local=True)
            except VectorStoreUnavailable as error:
                if "already accessed" not in error.message or time.monotonic() >= deadline:
                    raise
                logger.info("waiting for another process to release the vector store at %s", path)
                time.sleep(LOCK_RETRY_SECONDS)

    def close(self) -> None:
        """Release the client (and the embedded store's lock on its directory)."""
        with self._lock:
            self._client.close()

    def ensure_collection(self, collection: str, *, dimension: int, embedder_name: str) -> bool:
        """Create the collection if needed; recreate it, empty, if it holds another model's vectors.

        Returns True when the collection was (re)created.
        """
        from qdrant_client import models

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

    def collections(self) -> list[str]:
        """The names of every collection in the store."""
        with self._lock, _qdrant_errors("list collections"):
            return [collection.name for collection in self._client.get_collections().collections]

    def drop_collection(self, collection: str) -> None:
        """Delete a collection and its points, if it exists."""
        with self._lock, _qdrant_errors(f"drop collection {collection}"):
            if self._client.collection_exists(collection):
                self._client.delete_collection(collection)

    def missing(self, collection: str, hashes: Collection[str]) -> set[str]:
        """The text hashes among `hashes` that have no vector stored yet."""
        wanted = list(dict.fromkeys(hashes))
        found: set[str] = set()
        for start in range(0, len(wanted), READ_BATCH):
            batch = wanted[start : start + READ_BATCH]
            with self._lock, _qdrant_errors(f"read collection {collection}"):
                records = self._client.retrieve(
                    collection, [point_id(text_hash) for text_hash in batch], with_payload=[HASH_KEY]
                )
            found.update(str((record.payload or {})[HASH_KEY]) for record in records)
        return set(wanted) - found

    def upsert(self, collection: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of these text hashes (rows of `vectors`, in order)."""
        from qdrant_client import models

        rows = vectors.astype(np.float32).tolist()
        for start in range(0, len(hashes), UPSERT_BATCH):
            structs = [
                models.PointStruct(id=point_id(text_hash), vector=row, payload={HASH_KEY: text_hash})
                for text_hash, row in zip(
                    hashes[start : start + UPSERT_BATCH], rows[start : start + UPSERT_BATCH], strict=True
                )
            ]
            with self._lock, _qdrant_errors(f"write to collection {collection}"):
                self._client.upsert(collection, points=structs, wait=True)

    def vectors(self, collection: str, hashes: Sequence[str], dimension: int) -> np.ndarray:
        """The stored vectors of these text hashes, one row each in order; raises if one is missing."""
        by_hash: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), READ_BATCH):
            batch = wanted[start : start + READ_BATCH]
            with self._lock, _qdrant_errors(f"read collection {collection}"):
                records = self._client.retrieve(
                    collection,
                    [point_id(text_hash) for text_hash in batch],
                    with_payload=[HASH_KEY],
                    with_vectors=True,
                )
            for record in records:
                by_hash[str((record.payload or {})[HASH_KEY])] = np.asarray(record.vector, dtype=np.float32)
        absent = [text_hash for text_hash in wanted if text_hash not in by_hash]
        if absent:
            raise VectorStoreUnavailable(
                f"Collection {collection} lacks {len(absent)} vector(s) (written by an interrupted build?)"
            )
        matrix = np.zeros((len(hashes), dimension), dtype=np.float32)
        for row, text_hash in enumerate(hashes):
            matrix[row] = by_hash[text_hash]
        return matrix

    def retain(self, collection: str, hashes: Collection[str]) -> int:
        """Delete every point whose text hash is not in `hashes`; how many were deleted."""
        from qdrant_client import models

        keep = {point_id(text_hash) for text_hash in hashes}
        stale: list[models.ExtendedPointId] = []
        offset: models.ExtendedPointId | None = None
        while True:
            with self._lock, _qdrant_errors(f"read collection {collection}"):
                records, offset = self._client.scroll(
                    collection, limit=SCROLL_PAGE, offset=offset, with_payload=False, with_vectors=False
                )
            stale.extend(record.id for record in records if str(record.id) not in keep)
            if offset is None:
                break
        if stale:
            with self._lock, _qdrant_errors(f"delete from collection {collection}"):
                self._client.delete(collection, points_selector=models.PointIdsList(points=stale), wait=True)
        return len(stale)


@contextlib.contextmanager
def _qdrant_errors(action: str) -> Iterator[None]:
    """Turn whatever the Qdrant client raises (HTTP, gRPC, local storage errors) into one error type."""
    try:
        yield
    except VectorStoreUnavailable:
        raise
    except Exception as error:  # the client's errors share no base class
        raise VectorStoreUnavailable(f"Could not {action}: {error}") from error
