"""Building search indexes now, with progress printed: for `companion index build` and start-up."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from companion.config import Settings
from companion.content.schemas import ContentPack
from companion.search.engine import BuildReport
from companion.search.index import CourseSearch


def build_indexes(
    settings: Settings,
    packs: Sequence[ContentPack],
    *,
    only_missing: bool,
    echo: Callable[[str], None] = print,
) -> list[BuildReport]:
    """Index these course versions now (blocking), printing progress; for the CLI and start-up."""
    search = CourseSearch.open(settings)
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

            def progress(done: int, total: int, label: str = label) -> None:
                if total:
                    echo(f"  {label}: {done}/{total} passage vectors written")

            report = search.build(pack, on_progress=progress)
            reports.append(report)
            echo(
                f"  {report.passages} passages, {report.embedded} embedded by the model, "
                f"{report.deleted} unused vectors removed ({report.mode} search)."
            )
    finally:
        search.close()
    return reports
