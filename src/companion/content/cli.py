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

FORMATS_HELP = (
    'Two pack formats are read (see "Bring your own book" in the README).\n\n'
    "JSON pack: a folder with course.json, chapters/<chapter_id>.json and optional "
    "quizzes/<quiz_id>.json (the seed-000 format).\n\n"
    "Markdown / Docusaurus folder: a docs/ folder (or the folder itself) of .md/.mdx pages, read the way "
    "Docusaurus shows it. Category folders (_category_.json/.yml: label, position, link) are modules; "
    "front matter sidebar_position, sidebar_label, title, id, slug, draft and unlisted are honoured; an "
    "explicit sidebars.js (read as plain data, never executed) decides which pages are chapters. Chapter "
    'ids are the page paths ("module-01/lesson-1.md" -> "module-01.lesson-1") unless front matter sets '
    "chapter_id, id or slug. Admonitions, tabs and images become Markdown; <Quiz questions={[...]}> "
    "blocks become the chapter's quiz.\n\n"
    "Optional course.yaml: id, title, description, language, free_chapters (the first N chapters are "
    "free) and default_tier. A _category_.json may set access_tier or free_chapters for its module; a "
    "page's front matter access_tier wins over both."
)

app = typer.Typer(
    help="Validate and publish course content packs (JSON packs or Markdown/Docusaurus folders)."
)

PackPath = Annotated[
    Path, typer.Argument(help="The content pack folder (JSON pack or Markdown/Docusaurus docs).")
]


@app.command(epilog=FORMATS_HELP)
def validate(path: PackPath) -> None:
    """Check a content pack and print every problem; exit 1 when there is any error."""
    problems = validate_pack(path)
    _print_problems(problems)
    errors = sum(1 for problem in problems if problem.severity == "error")
    typer.echo(f"{path}: {errors} error(s), {len(problems) - errors} warning(s)")
    if errors:
        raise typer.Exit(code=1)


@app.command(epilog=FORMATS_HELP)
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
