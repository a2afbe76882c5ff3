"""`companion index ...`: build the search indexes of the published courses."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from companion.config import get_settings
from companion.content import publishing
from companion.content.store import store_from_settings
from companion.errors import CompanionError

app = typer.Typer(help="Build the search indexes (BM25 and embeddings) of the published courses.")


@app.command()
def build(
    course: Annotated[
        str | None, typer.Option(help="One course id; every published course by default.")
    ] = None,
) -> None:
    """Index the current version of each course; only chunks whose text changed are embedded again."""
    from companion.search.build import build_indexes  # numpy, the model runtime: only when used

    settings = get_settings()
    store = store_from_settings(settings)
    course_ids = [course] if course else publishing.list_course_ids(store)
    try:
        packs = [publishing.load_current(store, course_id) for course_id in course_ids]
    except CompanionError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from error
    if not packs:
        typer.echo("No published course: run `companion content publish PATH` first.")
        return
    started = time.perf_counter()
    # A bar with rate and time left on a terminal; plain lines in logs and pipes.
    reports = build_indexes(settings, packs, only_missing=False, echo=typer.echo, bar=sys.stdout.isatty())
    passages = sum(report.passages for report in reports)
    typer.echo(
        f"Indexed {passages} passages of {len(reports)} course(s) in {time.perf_counter() - started:.1f}s."
    )
