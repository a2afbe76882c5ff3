"""`companion content ...`: validate and publish course content packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from companion.config import get_settings
from companion.content.publishing import publish_pack
from companion.content.schemas import Problem
from companion.content.store import store_from_settings
from companion.content.validation import ContentInvalid, validate_pack

app = typer.Typer(help="Validate and publish course content packs (JSON packs or Markdown docs folders).")

PackPath = Annotated[Path, typer.Argument(help="The content pack folder.")]


@app.command()
def validate(path: PackPath) -> None:
    """Check a content pack and print every problem; exit 1 when there is any error."""
    problems = validate_pack(path)
    _print_problems(problems)
    errors = sum(1 for problem in problems if problem.severity == "error")
    typer.echo(f"{path}: {errors} error(s), {len(problems) - errors} warning(s)")
    if errors:
        raise typer.Exit(code=1)


@app.command()
def publish(path: PackPath) -> None:
    """Validate a content pack and publish it to the configured content store as the current version."""
    store = store_from_settings(get_settings())
    try:
        result = publish_pack(store, path)
    except ContentInvalid as error:
        _print_problems(error.problems)
        typer.echo(f"{path}: not published, {len(error.problems)} problem(s)")
        raise typer.Exit(code=1) from None
    _print_problems(result.warnings)
    typer.echo(f"course: {result.course_id}")
    typer.echo(f"version: {result.version}")
    if result.already_published:
        typer.echo("already the current version; nothing changed")
    else:
        typer.echo("published as the new current version")


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        typer.echo(str(problem))
