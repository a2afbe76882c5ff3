"""Search request and response bodies: results with a highlighted snippet, a score and a citation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Difficulty = Literal["beginner", "intermediate", "advanced"]


class Citation(BaseModel):
    """Where a passage sits in the course: chapter, section and an anchor usable in a link."""

    course_id: str
    chapter_id: str
    chapter_title: str
    section_id: str
    section_title: str
    anchor: str
    url: str = Field(
        description="The section in the web reader: /courses/{course}/chapters/{chapter}#{anchor}."
    )
    api_url: str = Field(description="The section endpoint of this API.")


class SearchResultItem(BaseModel):
    """One passage found; passages of chapters your tier cannot open come without their text.

    Locked results follow the open ones, once per section and in course order, with no passage id,
    score or rank: how closely text you cannot read matches your query is not revealed.
    """

    chunk_id: str | None = Field(description="The passage's id; null when locked.")
    course_id: str
    chapter_id: str
    chapter_title: str
    section_id: str
    section_title: str
    module: str | None
    difficulty_level: str
    topics: list[str]
    score: float | None = Field(
        description="The fused score of both retrievers: it ranks the results of one search (higher is "
        "better) but is no absolute relevance; see lexical_score and semantic_score for that. Null "
        "when locked."
    )
    lexical_score: float | None = Field(
        description="BM25 score, when the passage matched query terms; null when locked."
    )
    semantic_score: float | None = Field(
        description="Cosine similarity to the query, in hybrid mode; null when locked."
    )
    locked: bool = Field(description="true when your tier cannot open the chapter: no content, no snippet.")
    required_tier: str = Field(description="The tier that opens the chapter.")
    reason: str | None = Field(description="Why the passage is locked and how to open it; null when open.")
    content: str | None = Field(description="The passage as written (Markdown); null when locked.")
    snippet: str | None = Field(
        description="About 40 words of plain text around the best match, matched query terms (by "
        "stem) wrapped in Markdown **bold**; null when locked."
    )
    citation: Citation


class SearchResponse(BaseModel):
    """Search results, best first, and whether embeddings took part ("hybrid") or BM25 alone answered."""

    query: str
    course_ids: list[str] = Field(description="The courses searched.")
    mode: Literal["hybrid", "lexical"]
    degraded_reason: str | None = Field(description="Why the search was lexical only; null in hybrid mode.")
    results: list[SearchResultItem]
