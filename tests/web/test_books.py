"""The reader's sidebar shows an imported Docusaurus book as its pack defines it: modules, chapters, order.

Both books of ../shared/data/books/physicalaibook/ are imported with the content loader; the sidebar
of the rendered reader must list exactly the pack's modules and chapters (ids and titles) in order.
How faithfully the pack follows the Docusaurus sidebar is the importer's own test (tests/content).
"""

from __future__ import annotations

import asyncio
import os
import re
from html import unescape
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from companion.content.schemas import ContentPack
from companion.content.validation import ContentInvalid, load_pack
from tests.web.helpers import HTML, serving

REPO = Path(__file__).resolve().parents[2]
# A worktree elsewhere points at the books with COMPANION_TEST_BOOKS; under CI they must be there.
BOOKS = Path(
    os.environ.get("COMPANION_TEST_BOOKS") or REPO.parent / "shared" / "data" / "books" / "physicalaibook"
)
SHIPPED = REPO / "courses" / "genai-fundamentals"
_MODULE = re.compile(
    r'<section class="book-module"(?: data-module="(?P<title>[^"]*)")?>(?P<body>.*?)</section>', re.S
)
_CHAPTER = re.compile(r'data-chapter-id="(?P<id>[^"]+)">\s*<a href="[^"]+"[^>]*>(?P<title>[^<]*)</a>')


def _load(source: Path) -> ContentPack:
    if not source.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the Docusaurus books are missing at {source}")
        pytest.skip(f"the shared books are not at {source}")
    try:
        return load_pack(source)
    except ContentInvalid as error:
        pytest.fail(f"the Docusaurus importer cannot load {source.name}: {error}")


def rendered_sidebar(html: str) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """(module title, [(chapter id, title)]) as the reader's sidebar shows them."""
    nav = html.split('<nav class="book-nav"', 1)[1].split("</nav>", 1)[0]
    return [
        (
            unescape(module["title"]) if module["title"] is not None else None,
            [(chapter["id"], unescape(chapter["title"])) for chapter in _CHAPTER.finditer(module["body"])],
        )
        for module in _MODULE.finditer(nav)
    ]


def expected_sidebar(pack: ContentPack) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """The pack's chapters in order: each module's chapters together where the module starts, and a
    run of chapters outside any module where it stands."""
    titles = {chapter.chapter_id: chapter.title for chapter in pack.chapters}
    module_of = {chapter_id: module for module in pack.course.modules for chapter_id in module.chapters}
    groups: list[tuple[str | None, list[tuple[str, str]]]] = []
    started: set[int] = set()
    for chapter in pack.chapters:
        module = module_of.get(chapter.chapter_id)
        if module is None:
            if groups and groups[-1][0] is None:
                groups[-1][1].append((chapter.chapter_id, chapter.title))
            else:
                groups.append((None, [(chapter.chapter_id, chapter.title)]))
        elif id(module) not in started:
            started.add(id(module))
            groups.append((module.title, [(item, titles[item]) for item in module.chapters]))
    return groups


@pytest.mark.parametrize(
    "source", [SHIPPED, BOOKS / "cehrs", BOOKS / "physical-ai"], ids=lambda path: path.name
)
async def test_reader_sidebar_lists_the_books_modules_and_chapters_in_order(
    source: Path, client: httpx.AsyncClient, app: FastAPI
) -> None:
    pack = await asyncio.to_thread(_load, source)
    expected = expected_sidebar(pack)
    assert sum(len(chapters) for _, chapters in expected) == len(pack.chapters)
    with serving(app, [pack]):
        for chapter in (pack.chapters[0], pack.chapters[-1]):
            page = await client.get(f"/courses/{pack.course.id}/chapters/{chapter.chapter_id}", headers=HTML)
            if page.status_code == 403:  # a paid chapter: the upgrade page has no sidebar
                continue
            assert page.status_code == 200
            assert rendered_sidebar(page.text) == expected
            assert 'aria-current="page"' in page.text
        outline = await client.get(f"/courses/{pack.course.id}", headers=HTML)
    assert outline.status_code == 200
