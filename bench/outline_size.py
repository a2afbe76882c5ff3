"""Bytes and time of the course outline (GET /api/v1/courses/{course}): shipped course and book scale.

The book is bench/book_scale.py's: a Docusaurus book of 724 Markdown files (modules with
`_category_.json`, lessons with front matter and `##` sections) whose text is SciFact abstracts from
../shared/data/scifact, generated in a temporary folder, then imported with the Docusaurus loader,
as a course owner would. Both courses are served by the application in this process to a signed-in
learner. Printed per course:
the default outline (compact, first page), the detailed one (`detail=sections`, first page), and every
page of the detailed outline followed by cursor. Target: the default outline at book scale <= 100 KB.

    .venv/bin/python bench/outline_size.py [--files 724] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from book_scale import DEFAULT_DATA, generate_book  # noqa: E402  (the same book as bench/book_scale.py)
from harness import sign_up  # noqa: E402

from companion.app import create_app  # noqa: E402
from companion.config import Settings  # noqa: E402
from companion.content.service import ContentCatalog  # noqa: E402
from companion.content.validation import load_pack  # noqa: E402
from companion.migrations import upgrade_to_head  # noqa: E402

SCIFACT = DEFAULT_DATA / "corpus.jsonl.gz"
SHIPPED = ROOT / "courses" / "genai-fundamentals"


async def _timed_get(
    client: httpx.AsyncClient, url: str, params: dict[str, Any], repeat: int
) -> tuple[int, float, dict[str, Any]]:
    times, response = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        response = await client.get(url, params=params)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    assert response is not None
    return len(response.content), statistics.median(times) * 1000, response.json()


async def _measure(data_dir: Path, packs: list[Any], repeat: int) -> list[dict[str, Any]]:
    settings = Settings(
        data_dir=data_dir,
        jwt_secret="outline-bench-" + "x" * 40,
        run_jobs=False,
        log_level="WARNING",
        _env_file=None,  # type: ignore[call-arg]
    )
    await asyncio.to_thread(upgrade_to_head, settings.resolved_database_url)
    app = create_app(settings)
    rows = []
    async with app.router.lifespan_context(app):
        app.state.catalog = ContentCatalog.from_packs(packs)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            client.headers["authorization"] = "Bearer " + await sign_up(client, "reader@example.com")
            for pack in packs:
                url = f"/api/v1/courses/{pack.course.id}"
                for label, params in (("default", {}), ("detail=sections", {"detail": "sections"})):
                    size, millis, body = await _timed_get(client, url, params, repeat)
                    rows.append(
                        {
                            "course": pack.course.id,
                            "outline": label,
                            "chapters": f"{len(body['chapters'])}/{body['chapter_count']}",
                            "bytes": size,
                            "ms": round(millis, 1),
                        }
                    )
                total_bytes, total_ms, pages, cursor = 0, 0.0, 0, None
                while True:
                    params = {"detail": "sections", **({"cursor": cursor} if cursor else {})}
                    size, millis, body = await _timed_get(client, url, params, 1)
                    total_bytes, total_ms, pages = total_bytes + size, total_ms + millis, pages + 1
                    cursor = body["next_cursor"]
                    if cursor is None:
                        break
                rows.append(
                    {
                        "course": pack.course.id,
                        "outline": f"all {pages} page(s), sections",
                        "chapters": f"{body['chapter_count']}/{body['chapter_count']}",
                        "bytes": total_bytes,
                        "ms": round(total_ms, 1),
                    }
                )
    return rows


def main() -> None:
    """Generate and import the book, serve both courses, print the outline sizes and times."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=724)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    if not SCIFACT.is_file():
        raise SystemExit(f"the SciFact corpus is missing at {SCIFACT}")

    work = Path(tempfile.mkdtemp(prefix="companion-outline-"))
    try:
        book = work / "scifact-book"
        generate_book(book, files=options.files, data=DEFAULT_DATA)
        started = time.perf_counter()
        book_pack = load_pack(book)
        print(
            f"imported a {options.files}-file Docusaurus book: {len(book_pack.chapters)} chapters, "
            f"{sum(len(chapter.sections) for chapter in book_pack.chapters)} sections "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        (work / "data").mkdir()
        rows = asyncio.run(_measure(work / "data", [load_pack(SHIPPED), book_pack], options.repeat))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'course':<20} {'outline':<26} {'chapters':>9} {'bytes':>10} {'ms':>8}")
    for row in rows:
        print(
            f"{row['course']:<20} {row['outline']:<26} {row['chapters']:>9}"
            f" {row['bytes']:>10} {row['ms']:>8.1f}"
        )
    book_default = next(
        row for row in rows if row["course"] == "scifact-book" and row["outline"] == "default"
    )
    print(f"\nbook-scale default outline: {book_default['bytes'] / 1024:.1f} KB  (target <= 100 KB)")
    print(json.dumps({"bench": "outline_size", "rows": rows}))


if __name__ == "__main__":
    main()
