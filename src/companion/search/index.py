"""The search indexes' lifecycle: one hybrid index per course and content version, built, loaded and swapped.

`CourseSearch` owns the process's embedder and an index per course for the catalogue's current version.
A newly published version is indexed in the background (by a child process: `background`) while the
previous one keeps answering, then swapped in; a failed build is retried after `retry_seconds`. When
the model or the vector store is unavailable, every index still answers from BM25 and says why.

Vectors live in one content-addressed collection per course and embedder (see `vectors`), so a new
version embeds only its new texts. A build copies its version's vectors into the version's index folder;
serving reads only that folder, so every process on the machine searches in hybrid mode although the
embedded Qdrant store admits one process at a time: a process opens it only while it builds (waiting for
another builder to finish), and two processes building one version take turns (a file lock), the second
finding the work done.

Superseded versions are collected by the next build of the course: a version's folder, and the vectors
no kept version uses, are deleted once a newer version has been built for longer than
`retention_seconds` (at least `SUPERSEDED_GRACE_SECONDS`, and ten catalogue refresh intervals). A server
reads a version's folder only when it loads it, which it does within one refresh interval of the
version becoming current, and then holds it in memory: by the time a folder is deleted, no process can
still need to read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import itertools
import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from companion.config import Settings
from companion.content.schemas import ContentPack
from companion.search import chunking
from companion.search.background import ChildBuild
from companion.search.embeddings import (
    Embedder,
    EmbeddingUnavailable,
    QueryVectorCache,
    load_embedder,
    load_query_embedder,
    wants_query_model,
)
from companion.search.engine import (
    BuildReport,
    HybridIndex,
    ProgressCallback,
    SearchHit,
    SearchMode,
    stored_hashes,
)
from companion.search.fusion import FusionConfig
from companion.search.manifest import IndexManifest, read_manifest, version_key
from companion.search.vectors import FilterValue, VectorStore, VectorStoreUnavailable, collection_name

logger = logging.getLogger(__name__)

MANIFEST_SUFFIX = ".manifest.json"
# The layout of index folders: a manifest of another format is rebuilt, not trusted.
INDEX_FORMAT = 2
SUPERSEDED_GRACE_SECONDS = 600.0
# How long a build waits for another process to release the embedded vector store (another build).
STORE_WAIT_SECONDS = 3600.0
BUILD_RETRY_SECONDS = 60.0  # after a failed background build, before a request may start another


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


class CourseSearch:
    """The search indexes of every course, sharing one embedder (and a Qdrant server client, if any)."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None,
        query_embedder: Embedder | None = None,
        vectors: VectorStore | None = None,
        unavailable_reason: str | None = None,
    ) -> None:
        self.settings = settings
        # Background builds in a child process loading the settings' embedder (as `open` does), else a thread.
        self.build_in_child = False
        # A client kept open for the process's life (a Qdrant server); without one, builds open the
        # embedded store only while they write.
        self.vectors = vectors
        # Queries may have an embedder of their own (the int8 MiniLM), in the passages' vector space.
        # Given one alone, the passages' embedder is loaded on a process's first build (most servers
        # build in a child process and never load it).
        query_side = query_embedder or embedder
        self.embedder = QueryVectorCache(query_side) if query_side is not None else None
        self._passage_embedder = embedder
        self._passage_embedder_lock = threading.Lock()
        # Why semantic search is off for the whole process, when it is.
        self.unavailable_reason = unavailable_reason
        self.fusion = FusionConfig.from_settings(settings)
        self.retention_seconds = max(SUPERSEDED_GRACE_SECONDS, 10 * settings.content_refresh_seconds)
        self._entries: dict[str, CourseIndex] = {}
        self._builds: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._children: dict[tuple[str, str], ChildBuild] = {}
        self._failed_at: dict[tuple[str, str], float] = {}
        self.retry_seconds = BUILD_RETRY_SECONDS
        # Set by `open` on a first start: the int8 query model is derived in the background (`start`).
        self.query_model_pending = False
        self._query_model_task: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, settings: Settings, *, searching: bool = True) -> CourseSearch:
        """Load the embedder (blocking) and connect to a Qdrant server if one is configured.

        A process that only builds (`searching=False`) loads the passages' model alone.
        """
        vectors: VectorStore | None = None
        embedder: Embedder | None = None
        query_embedder: Embedder | None = None
        reason: str | None = None
        if settings.embedding_provider == "none":
            reason = "no embedding model is configured"
        else:
            try:
                query_embedder = load_query_embedder(settings, derive=False) if searching else None
                if query_embedder is None:
                    embedder = load_embedder(settings)
                if settings.qdrant_url:
                    vectors = VectorStore.open(settings)
            except (VectorStoreUnavailable, EmbeddingUnavailable) as error:
                logger.warning("Search runs on BM25 only: %s", error.message)
                reason = error.message
                embedder = query_embedder = None
        search = cls(
            settings,
            vectors=vectors,
            embedder=embedder,
            query_embedder=query_embedder,
            unavailable_reason=reason,
        )
        search.build_in_child = search.embedder is not None
        # A first start has no query model saved: deriving it takes a few seconds, so the exact model
        # embeds queries until it is ready (`start`).
        search.query_model_pending = searching and wants_query_model(settings) and embedder is not None
        return search

    def close(self) -> None:
        """Stop background builds (their child processes killed) and release the Qdrant server client."""
        for child in self._children.values():
            child.kill()
        for task in self._builds.values():
            task.cancel()
        if self._query_model_task is not None:
            self._query_model_task.cancel()
        if self.vectors is not None:
            self.vectors.close()
            self.vectors = None

    # --- Building ------------------------------------------------------------------------------

    def index_dir(self, pack: ContentPack) -> Path:
        """Where the lexical index, passages and vectors of this course version live."""
        return self.settings.search_index_dir / version_key(pack.course.id, pack.version)

    def manifest(self, pack: ContentPack) -> IndexManifest | None:
        """The manifest of this course version's last complete build, or None."""
        return read_manifest(self._manifest_path(pack))

    def is_built(self, pack: ContentPack) -> bool:
        """Whether this course version is fully indexed for the search this process can do."""
        manifest = self.manifest(pack)
        if manifest is None or manifest.format != INDEX_FORMAT or not self.index_dir(pack).is_dir():
            return False
        if self.embedder is None:
            return True
        return manifest.mode == "hybrid" and manifest.embedder == self.embedder.name

    def build(
        self,
        pack: ContentPack,
        *,
        on_progress: ProgressCallback | None = None,
        index: HybridIndex | None = None,
    ) -> BuildReport:
        """Index one course version (blocking): BM25 in full, embeddings only for texts never embedded.

        A version already built is left as it is. `index`, when given, is the (empty) index of this
        version that searches are using: it answers lexically as soon as BM25 is saved.
        """

        def answer_meanwhile() -> None:
            # Another process is building this version: search it lexically from memory until it is done.
            if index is not None and not len(index):
                index.build_lexical(chunking.passages(pack, created_at=datetime.now(UTC)), save=False)

        with self._build_lock(pack, while_waiting=answer_meanwhile):
            manifest = self.manifest(pack)
            if manifest is not None and self.is_built(pack):
                deleted = self.collect_garbage(pack)
                return BuildReport(
                    passages=manifest.passages, embedded=0, deleted=deleted, mode=manifest.mode
                )
            # Chunks keep their first creation time, so that a rebuild leaves unchanged payloads alone.
            created_at = manifest.created_at if manifest else datetime.now(UTC)
            if index is None:
                index = self._open_index(pack)
            index.build_lexical(chunking.passages(pack, created_at=created_at))
            if self.embedder is None:
                report = index.build_vectors(None)
            else:
                try:
                    with self._store() as store:
                        embedder = self.passage_embedder()
                        report = index.build_vectors(store, on_progress=on_progress, embedder=embedder)
                        self._write_manifest(pack, created_at, report)
                        if report.mode == "hybrid":
                            deleted = self._collect(pack, store, retention_seconds=self.retention_seconds)
                            report = dataclasses.replace(report, deleted=deleted)
                        return report
                except (VectorStoreUnavailable, EmbeddingUnavailable) as error:
                    logger.warning("Search index of %s built without embeddings: %s", pack.course.id, error)
                    report = BuildReport(
                        passages=len(index), embedded=0, deleted=0, mode="lexical", degraded_reason=str(error)
                    )
            self._write_manifest(pack, created_at, report)
            return report

    def collect_garbage(self, pack: ContentPack, *, retention_seconds: float | None = None) -> int:
        """Delete this course's versions superseded for longer than the retention, and unused vectors.

        Returns how many vectors were deleted. The vector store is opened only when a version goes.
        """
        retention = self.retention_seconds if retention_seconds is None else retention_seconds
        if not self._expired(pack, retention) or self.embedder is None:
            self._collect_files(pack, retention)
            return 0
        with self._store() as store:
            return self._collect(pack, store, retention_seconds=retention)

    async def start(self, packs: Sequence[ContentPack]) -> None:
        """Load the indexes of these packs; those not built yet are built in the background."""
        for pack in packs:
            await self.current(pack)
        if self.query_model_pending and self._query_model_task is None:
            self._query_model_task = asyncio.create_task(self._switch_to_query_model())

    async def _switch_to_query_model(self) -> None:
        """Derive and load the int8 query model (in a child process), then embed queries with it."""
        try:
            fast = await asyncio.to_thread(load_query_embedder, self.settings)
        except EmbeddingUnavailable as error:
            logger.warning("queries stay embedded by the exact model: %s", error.message)
            return
        if fast is None or self.embedder is None:
            return  # why was logged
        self.embedder.inner = fast  # the same vector space: remembered query vectors stay right
        self.query_model_pending = False
        if self.build_in_child:  # this process never embeds passages: the exact model can go
            with self._passage_embedder_lock:
                self._passage_embedder = None

    async def current(self, pack: ContentPack) -> CourseIndex:
        """The index to search for this pack's course; a new content version is indexed in the background.

        Until the new version is ready the previous one keeps answering; a course with no previous
        version answers from the new one's BM25 as soon as it is saved.
        """
        entry = self._entries.get(pack.course.id)
        key = (pack.course.id, pack.version)
        if entry is not None and entry.pack.version == pack.version:
            if not entry.ready and self._may_build(key):
                # Its build failed: try again, searching this entry lexically meanwhile.
                self._builds[key] = asyncio.create_task(self._build_in_background(entry))
            return entry
        if self.is_built(pack):
            loaded = await asyncio.to_thread(self._load_entry, pack)
            self._entries[pack.course.id] = loaded
            return loaded
        if self._may_build(key):
            fresh = CourseIndex(pack=pack, index=self._open_index(pack), ready=False)
            if entry is None:
                self._entries[pack.course.id] = entry = fresh
            self._builds[key] = asyncio.create_task(self._build_in_background(fresh))
        assert entry is not None
        return entry

    async def wait_for_builds(self) -> None:
        """Wait until the background builds (and the query model's loading) started so far have finished."""
        pending = [*self._builds.values(), *([self._query_model_task] if self._query_model_task else [])]
        await asyncio.gather(*pending, return_exceptions=True)

    def _may_build(self, key: tuple[str, str]) -> bool:
        """Whether a background build of this version may start: none running, none failed just now."""
        failed_at = self._failed_at.get(key, -math.inf)
        return key not in self._builds and time.monotonic() - failed_at >= self.retry_seconds

    async def _build_in_background(self, entry: CourseIndex) -> None:
        pack = entry.pack
        key = (pack.course.id, pack.version)
        try:
            logger.info("building the search index of %s version %s", pack.course.id, pack.version[:12])
            if self.build_in_child:
                if not len(entry.index):  # searched lexically from memory until the child has finished
                    passages = chunking.passages(pack, created_at=datetime.now(UTC))
                    await asyncio.to_thread(entry.index.build_lexical, passages, save=False)
                self._children[key] = ChildBuild(self.settings, pack)
                await self._children[key].run()
            else:
                await asyncio.to_thread(self.build, pack, index=entry.index)
            # Another process may have built it while this one waited: its files are the index then.
            built = await asyncio.to_thread(self._load_entry, pack)
            self._entries[pack.course.id] = built
            self._failed_at.pop(key, None)
        except Exception:  # a failed build must not take search down: lexical search goes on
            logger.exception("search index build failed for %s; a later request retries it", pack.course.id)
            self._failed_at[key] = time.monotonic()
        finally:
            self._builds.pop(key, None)
            self._children.pop(key, None)

    @contextlib.contextmanager
    def _store(self) -> Iterator[VectorStore]:
        """The process's Qdrant server client, or the embedded store opened for as long as it is needed."""
        if self.vectors is not None:
            yield self.vectors
            return
        store = VectorStore.open(self.settings, wait_seconds=STORE_WAIT_SECONDS)
        try:
            yield store
        finally:
            store.close()

    @contextlib.contextmanager
    def _build_lock(self, pack: ContentPack, *, while_waiting: Callable[[], None]) -> Iterator[None]:
        """Held while this course version is built, so that two processes never build it at once.

        When another process holds it, `while_waiting()` runs before waiting for it.
        """
        directory = self.settings.search_index_dir
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / (version_key(pack.course.id, pack.version) + ".lock")).open("a") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                while_waiting()
                fcntl.flock(file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)

    def _versions(self, pack: ContentPack) -> list[tuple[Path, IndexManifest]]:
        """This course's built versions (manifest path and manifest), oldest build first."""
        found = []
        for path in self.settings.search_index_dir.glob(f"*{MANIFEST_SUFFIX}"):
            manifest = read_manifest(path)
            if manifest is not None and manifest.course_id == pack.course.id:
                found.append((path, manifest))
        oldest = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda item: item[1].built_at or oldest)

    def _expired(self, pack: ContentPack, retention_seconds: float) -> list[Path]:
        """Manifests of versions of this course superseded for longer than the retention."""
        now = datetime.now(UTC)
        versions = self._versions(pack)
        expired = []
        for (path, manifest), (_, newer) in itertools.pairwise(versions):
            # A version is superseded from the moment a newer one was built.
            superseded_at = newer.built_at or now
            if (
                manifest.version != pack.version
                and (now - superseded_at).total_seconds() >= retention_seconds
            ):
                expired.append(path)
        return expired

    def _collect_files(self, pack: ContentPack, retention_seconds: float) -> None:
        for path in self._expired(pack, retention_seconds):
            shutil.rmtree(path.with_name(path.name.removesuffix(MANIFEST_SUFFIX)), ignore_errors=True)
            path.with_name(path.name.removesuffix(MANIFEST_SUFFIX) + ".lock").unlink(missing_ok=True)
            path.unlink(missing_ok=True)

    def _collect(self, pack: ContentPack, store: VectorStore, *, retention_seconds: float) -> int:
        """Delete expired versions' folders, then every vector no remaining version uses."""
        assert self.embedder is not None
        self._collect_files(pack, retention_seconds)
        current = collection_name(pack.course.id, self.embedder.name)
        kept: set[str] = set()
        for path, _ in self._versions(pack):
            kept |= stored_hashes(path.with_name(path.name.removesuffix(MANIFEST_SUFFIX)))
        for collection in store.collections():
            # Another model's vectors of this course, or the per-version collections of the old layout.
            if collection.startswith(collection_name(pack.course.id, "")) and collection != current:
                store.drop_collection(collection)
        return store.retain(current, kept)

    def _write_manifest(self, pack: ContentPack, created_at: datetime, report: BuildReport) -> None:
        manifest = IndexManifest(
            course_id=pack.course.id,
            version=pack.version,
            created_at=created_at,
            passages=report.passages,
            mode=report.mode,
            embedder=self.embedder.name if report.mode == "hybrid" and self.embedder else None,
            degraded_reason=report.degraded_reason,
            built_at=datetime.now(UTC),
            format=INDEX_FORMAT,
        )
        body = dataclasses.asdict(manifest)
        body["created_at"] = created_at.isoformat()
        body["built_at"] = manifest.built_at.isoformat() if manifest.built_at else None
        path = self._manifest_path(pack)
        staging = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        staging.write_text(json.dumps(body, indent=2), encoding="utf-8")
        os.replace(staging, path)

    def passage_embedder(self) -> Embedder:
        """The embedder of passages, loaded on first use when queries have their own (`__init__`)."""
        assert self.embedder is not None, "embeddings are off"
        with self._passage_embedder_lock:
            if self._passage_embedder is None:
                self._passage_embedder = load_embedder(self.settings)
            assert self._passage_embedder is not None
            return self._passage_embedder

    def _open_index(self, pack: ContentPack) -> HybridIndex:
        embedder = self.embedder
        return HybridIndex(
            collection=collection_name(pack.course.id, embedder.name if embedder else "none"),
            index_dir=self.index_dir(pack),
            # Queries go through the cache of recent query vectors; `build` gives the passages' embedder.
            embedder=embedder,
            fusion=self.fusion,
        )

    def _load_entry(self, pack: ContentPack) -> CourseIndex:
        index = self._open_index(pack)
        return CourseIndex(
            pack=pack, index=index, ready=True, document_frequency=index.lexical.document_frequency()
        )

    def _manifest_path(self, pack: ContentPack) -> Path:
        return self.settings.search_index_dir / (version_key(pack.course.id, pack.version) + MANIFEST_SUFFIX)

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
