"""The process's shared services (database, cache, content catalogue, search), opened in one place.

The HTTP application's lifespan and the stdio MCP server both start through `open_runtime`, so the
two cannot drift in what they open, in what order, or in how they shut down.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from companion.cache import Cache, create_cache
from companion.config import Settings
from companion.content.service import ContentCatalog
from companion.content.store import store_from_settings
from companion.db import create_engine, create_sessionmaker
from companion.search.index import CourseSearch

logger = logging.getLogger(__name__)

# glibc's mallopt parameter number, and the size from which blocks are mapped (twice its initial 128 KiB).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 256 * 1024


@dataclass(frozen=True)
class Runtime:
    """What every door (API, MCP over HTTP or stdio) serves from: one of each per process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    catalog: ContentCatalog
    search: CourseSearch


def _release_freed_memory() -> None:
    """Give the memory the process has freed back to the system (glibc keeps it otherwise).

    Loading the model and embedding a course allocate and free hundreds of MB in many small pieces, which
    glibc keeps in its heaps for reuse: without this a server that built its index holds that peak for
    its whole life. Elsewhere than glibc (macOS, musl) there is nothing to do.
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _map_large_blocks() -> None:
    """Have glibc map every allocation of 256 KiB or more on its own (returned when freed), one heap a core.

    By default glibc raises that threshold to the size of the largest block freed so far (up to 32 MB):
    after the model's bytes are freed at load, the buffers of every search (query tensors, score arrays)
    come from heaps, one per thread, which keep their peak. Measured at book scale: 150 MB more held
    after 400 searches in one process; the server's RSS after them 438 -> 410 MB with both settings.
    Elsewhere than glibc there is nothing to do.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    # One heap per core rather than per thread: the GIL serialises most of the work anyway, and each
    # worker thread's own heap kept its peak.
    mallopt(M_ARENA_MAX, os.cpu_count() or 1)


async def _release_memory_after_builds(course_search: CourseSearch) -> None:
    await course_search.wait_for_builds()
    await asyncio.to_thread(_release_freed_memory)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the engine, cache, catalogue (current versions loaded) and search; close them on exit."""
    _map_large_blocks()
    engine = create_engine(settings.resolved_database_url, echo=settings.database_echo)
    cache = create_cache(settings.redis_url)
    course_search: CourseSearch | None = None
    trimming: asyncio.Task[None] | None = None
    try:
        catalog = ContentCatalog(store_from_settings(settings))
        try:
            await catalog.refresh()
        except Exception:  # start anyway: content answers 503 until the store answers (refreshed later)
            logger.exception("content store unavailable at start; retrying every refresh interval")
        # One model per process; searches read each version's index folder into memory, so any number
        # of processes search in hybrid mode (the embedded Qdrant store is opened only by a build while
        # it writes). Indexes missing here are built in the background, searching lexically meanwhile,
        # so a first start serves at once.
        course_search = await asyncio.to_thread(CourseSearch.open, settings)
        await course_search.start(catalog.packs())
        await asyncio.to_thread(_release_freed_memory)  # what loading the model freed
        trimming = asyncio.create_task(_release_memory_after_builds(course_search))
        yield Runtime(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            cache=cache,
            catalog=catalog,
            search=course_search,
        )
    finally:
        if trimming is not None:
            trimming.cancel()
        if course_search is not None:
            course_search.close()
        await cache.close()
        await engine.dispose()
