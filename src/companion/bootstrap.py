"""Getting a data directory ready to serve: migrations, published courses, search indexes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from companion.config import Settings
from companion.content import publishing
from companion.content.store import store_from_settings
from companion.migrations import upgrade_to_head


def course_folders(source: Path) -> list[Path]:
    """The course packs under a content source: the folder itself if it is a pack, else its subfolders."""
    if (source / "course.json").exists() or (source / "course.yaml").exists():
        return [source]
    return sorted(path for path in source.iterdir() if path.is_dir() and not path.name.startswith("."))


def prepare_data(settings: Settings, *, echo: Callable[[str], None] = print) -> None:
    """Idempotently migrate the database and publish the configured course(s)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    echo("Applying database migrations...")
    upgrade_to_head(settings.resolved_database_url)
    store = store_from_settings(settings)
    for folder in course_folders(settings.content_source):
        result = publishing.publish_pack(store, folder)
        state = "already published" if result.already_published else "published"
        echo(f"Course {result.course_id}: version {result.version[:12]} {state}.")
