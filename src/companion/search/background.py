"""A server's index builds, run by a child process so that what they load never stays in the server.

Embedding a course and writing its vectors imports the Qdrant client (with gRPC and protobuf, ~50 MiB)
and allocates far more than serving needs; a long-lived process would keep all of it. The child
(`python -m companion.search.build`) receives the settings and the course version on its stdin,
builds the index folder exactly as `companion index build` does, logs its progress to the same
stderr, and exits; the server then reads the finished folder from disk, as after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import sys

from companion.config import Settings
from companion.content.schemas import ContentPack


class ChildBuildFailed(Exception):
    """The child process building an index exited without finishing it."""


class ChildBuild:
    """One course version being indexed by a child process; `kill()` stops it from anywhere."""

    def __init__(self, settings: Settings, pack: ContentPack) -> None:
        self.settings = settings
        self.pack = pack
        self.label = f"{pack.course.id} version {pack.version[:12]}"
        self._process: asyncio.subprocess.Process | None = None

    async def run(self) -> None:
        """Start the child and wait for it to finish; cancelled, it kills the child."""
        job = await asyncio.to_thread(pickle.dumps, (self.settings, self.pack))  # a book's pack: MBs
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "companion.search.build",
            stdin=asyncio.subprocess.PIPE,
            # The server's stdout may carry a protocol (MCP over stdio); the child logs to stderr.
            stdout=asyncio.subprocess.DEVNULL,
        )
        try:
            await self._process.communicate(job)
        finally:
            self.kill()  # when cancelled or interrupted: no child outlives its build
        code = self._process.returncode
        if code != 0:
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            raise ChildBuildFailed(f"the process building the search index of {self.label} failed ({how})")

    def kill(self) -> None:
        """Stop the child now, if it is running."""
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
