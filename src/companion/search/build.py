"""Building search indexes now, with progress shown: for `companion index build`, prepared data dirs, and
the child process a server builds in (`python -m companion.search.build`, see `background`)."""

from __future__ import annotations

import logging
import pickle
import sys
import time
from collections.abc import Callable, Sequence

from tqdm import tqdm

from companion.config import Settings
from companion.content.schemas import ContentPack
from companion.observability import configure_logging
from companion.search.engine import BuildReport
from companion.search.index import CourseSearch

# Named, not __name__: this module runs as __main__ in the child.
logger = logging.getLogger("companion.search.build")

# Without a terminal (CI logs, a pipe) progress is a plain line this often, not a redrawn bar.
PLAIN_PROGRESS_SECONDS = 10.0


class BuildProgress:
    """The `on_progress(done, total)` of one build: a bar with rate and time left, or periodic lines."""

    def __init__(self, label: str, *, echo: Callable[[str], None], bar: bool) -> None:
        self.label = label
        self.echo = echo
        self.bar = bar
        self._tqdm: tqdm[None] | None = None
        self._started = time.monotonic()
        self._last_line = self._started

    def __call__(self, done: int, total: int) -> None:
        """Show that `done` of the `total` passages needing the model are embedded and stored."""
        if not total:
            return
        if self.bar:
            if self._tqdm is None:
                self._tqdm = tqdm(
                    total=total, desc=f"  {self.label}", unit=" passages", file=sys.stdout, dynamic_ncols=True
                )
            self._tqdm.update(done - self._tqdm.n)
            return
        now = time.monotonic()
        if done == 0:
            self._started = self._last_line = now
            self.echo(f"  {self.label}: {total} passages to embed")
        elif done == total or now - self._last_line >= PLAIN_PROGRESS_SECONDS:
            self._last_line = now
            self.echo(f"  {self.label}: {done}/{total} passages embedded, {self._pace(done, total, now)}")

    def close(self) -> None:
        """Finish the bar, if one was drawn."""
        if self._tqdm is not None:
            self._tqdm.close()

    def _pace(self, done: int, total: int, now: float) -> str:
        rate = done / max(now - self._started, 1e-9)
        if done == total:
            return f"{rate:.1f}/s"
        return f"{rate:.1f}/s, about {(total - done) / rate:.0f} s left"


def build_indexes(
    settings: Settings,
    packs: Sequence[ContentPack],
    *,
    only_missing: bool,
    echo: Callable[[str], None] = print,
    bar: bool = False,
) -> list[BuildReport]:
    """Index these course versions now (blocking), showing progress: a bar on stdout when `bar`."""
    search = CourseSearch.open(settings, searching=False)  # a build embeds passages only
    reports = []
    try:
        if search.unavailable_reason:
            echo(f"Semantic search is unavailable ({search.unavailable_reason}); building BM25 only.")
        for pack in packs:
            label = f"{pack.course.id} version {pack.version[:12]}"
            if only_missing and search.is_built(pack):
                echo(f"Search index for {label} is up to date.")
                continue
            echo(f"Building the search index for {label}...")
            progress = BuildProgress(pack.course.id, echo=echo, bar=bar)
            try:
                report = search.build(pack, on_progress=progress)
            finally:
                progress.close()
            reports.append(report)
            echo(
                f"  {report.passages} passages, {report.embedded} embedded by the model, "
                f"{report.deleted} unused vectors removed ({report.mode} search)."
            )
    finally:
        search.close()
    return reports


def main() -> None:
    """Index the course version whose settings and pack a server sent on stdin (pickled), logging progress."""
    settings, pack = pickle.load(sys.stdin.buffer)
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    try:
        build_indexes(settings, [pack], only_missing=False, echo=logger.info)
    except Exception:
        logger.exception("search index build of %s failed", pack.course.id)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
