"""Index builds as people watch them: progress of `companion index build`, and the state /readyz reports."""

from __future__ import annotations

from pathlib import Path

from companion.config import Settings
from companion.content.validation import load_pack
from companion.search import service as search_service
from companion.search.build import BuildProgress
from companion.search.index import CourseSearch

SHIPPED_COURSE = Path(__file__).resolve().parents[2] / "courses" / "genai-fundamentals"


def test_progress_without_a_terminal_is_plain_lines_with_the_rate() -> None:
    lines: list[str] = []
    progress = BuildProgress("genai-fundamentals", echo=lines.append, bar=False)

    progress(0, 130)
    progress(64, 130)  # within seconds of the start: no line, so a log is not flooded
    progress(130, 130)
    progress.close()

    assert lines[0] == "  genai-fundamentals: 130 passages to embed"
    assert len(lines) == 2 and lines[1].startswith("  genai-fundamentals: 130/130 passages embedded, ")
    assert lines[1].endswith("/s")


async def test_search_reports_building_until_the_index_is_built_then_ok(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    pack = load_pack(SHIPPED_COURSE)
    course_search = CourseSearch(settings, vectors=None, embedder=None)
    try:
        status = await search_service.index_status(course_search, [pack])
        assert status == ("building: searched lexically until the index of genai-fundamentals is built")

        await course_search.wait_for_builds()

        assert await search_service.index_status(course_search, [pack]) == "ok"
    finally:
        course_search.close()


async def test_search_without_a_model_reports_why_it_is_lexical(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embedding_provider="none", _env_file=None)  # type: ignore[call-arg]
    course_search = CourseSearch.open(settings)
    try:
        status = await search_service.index_status(course_search, [load_pack(SHIPPED_COURSE)])
        assert status == "degraded: lexical only (no embedding model is configured)"
    finally:
        course_search.close()
