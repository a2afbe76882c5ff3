"""Getting a data directory ready to serve: migrations, published courses, search indexes."""

from __future__ import annotations

from collections.abc import Callable

from companion.config import Settings
from companion.migrations import upgrade_to_head


def prepare_data(settings: Settings, *, echo: Callable[[str], None] = print) -> None:
    """Idempotently migrate the database and publish/index the shipped course(s)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    echo("Applying database migrations...")
    upgrade_to_head(settings.resolved_database_url)
