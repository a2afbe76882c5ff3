"""Getting a data directory ready to serve: migrations, published courses, search indexes."""

from __future__ import annotations

from collections.abc import Callable

from companion.config import Settings
from companion.content import publishing
from companion.content.loaders import find_pack_dirs
from companion.content.store import store_from_settings
from companion.migrations import pending_migrations, upgrade_to_head


def prepare_data(
    settings: Settings, *, echo: Callable[[str], None] = print, build_search: bool = True
) -> None:
    """Idempotently migrate the database and publish the configured course(s); index any not indexed.

    A server passes `build_search=False`: it starts at once and indexes in the background, searching
    lexically meanwhile (`CourseSearch.start`), instead of waiting here for the model to embed a course.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pending = pending_migrations(settings.resolved_database_url)
    if pending:
        echo(f"Applying {len(pending)} database migration(s)...")
        upgrade_to_head(settings.resolved_database_url)
    else:
        echo("Database is up to date.")
    store = store_from_settings(settings)
    for folder in find_pack_dirs(settings.content_source):
        result = publishing.publish_pack(store, folder)
        state = "already published" if result.already_published else "published"
        echo(f"Course {result.course_id}: version {result.version[:12]} {state}.")
    if not build_search:
        return
    from companion.search.build import build_indexes  # numpy, the model runtime: only when used

    packs = [publishing.load_current(store, course_id) for course_id in publishing.list_course_ids(store)]
    build_indexes(settings, packs, only_missing=True, echo=echo)
