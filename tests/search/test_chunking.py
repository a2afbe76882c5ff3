"""Chunking: sections cut along headings, small overlap, Markdown stripped but code kept, stable ids."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from companion.content.schemas import Chapter, ContentPack, Section
from companion.content.validation import load_pack
from companion.search.chunking import (
    MAX_WORDS,
    OVERLAP_WORDS,
    chunk_pack,
    chunk_section,
    passages,
    plain_text,
)

SHIPPED_COURSE = Path(__file__).resolve().parents[2] / "courses" / "genai-fundamentals"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def _sentences(topic: str, count: int) -> str:
    return " ".join(
        f"Sentence {n} explains one more detail about {topic} in plain words." for n in range(count)
    )


MARKDOWN = f"""A short **introduction** with a [link](https://example.com) and `inline code`.

### Alpha

{_sentences("alpha", 12)}

{_sentences("alpha again", 12)}

### Beta

- first item about beta
- second item about beta

```python
print("code stays exactly as written")  # **not bold**
```

{_sentences("beta", 4)}
"""


def _chapter(markdown: str = MARKDOWN) -> Chapter:
    section = Section(section_id="s1", title="The Section", order=1, content_markdown=markdown)
    return Chapter(chapter_id="c1", chapter_number=1, title="Chapter", access_tier="free", sections=[section])


def test_sections_are_cut_along_headings_with_overlap() -> None:
    chapter = _chapter()
    chunks = chunk_section("course", chapter, chapter.sections[0])

    # The short introduction is merged into the first subsection rather than left on its own.
    assert chunks[0].heading is None and "### Alpha" in chunks[0].markdown
    assert chunks[0].text.startswith("A short introduction with a link and inline code.")
    # Alpha is too long for one chunk: its continuation repeats the last sentence before the cut.
    alpha = [chunk for chunk in chunks if chunk.heading == "Alpha"]
    assert alpha, [chunk.heading for chunk in chunks]
    previous = chunks[chunks.index(alpha[0]) - 1]
    repeated = alpha[0].text.split(". ")[0]
    assert previous.text.endswith(repeated + ".") and len(repeated.split()) <= OVERLAP_WORDS
    assert alpha[0].search_text.startswith("The Section: Alpha\n")
    # Beta starts a chunk of its own, led by its heading; code is kept, fenced in Markdown only.
    beta = next(chunk for chunk in chunks if chunk.markdown.startswith("### Beta"))
    assert beta.heading == "Beta" and beta.search_text.startswith("The Section\nBeta\n")
    assert 'print("code stays exactly as written")  # **not bold**' in beta.text
    assert "```python" in beta.markdown and "```" not in beta.text
    assert "first item about beta\nsecond item about beta" in beta.text
    assert all(chunk.word_count <= MAX_WORDS for chunk in chunks)
    assert [chunk.chunk_id for chunk in chunks] == [f"course/c1/s1/{n}" for n in range(len(chunks))]


def test_chunk_ids_and_hashes_are_stable_and_only_an_edited_section_changes() -> None:
    pack = load_pack(SHIPPED_COURSE)
    first = {passage.id: passage.payload["content_hash"] for passage in passages(pack, created_at=CREATED)}
    again = {passage.id: passage.payload["content_hash"] for passage in passages(pack, created_at=CREATED)}
    assert first == again

    data = pack.model_dump(mode="json", exclude={"version"})
    section = data["chapters"][1]["sections"][4]
    assert section["section_id"] == "05-decoding"
    section["content_markdown"] = section["content_markdown"].replace("Greedy decoding", "Greedy search", 1)
    edited = ContentPack.model_validate(data)
    changed = {
        passage.id: passage.payload["content_hash"] for passage in passages(edited, created_at=CREATED)
    }

    assert edited.version != pack.version
    assert changed.keys() == first.keys()
    differing = {chunk_id for chunk_id in first if first[chunk_id] != changed[chunk_id]}
    assert differing and all(
        chunk_id.startswith("genai-fundamentals/02-llms/05-decoding/") for chunk_id in differing
    )


def test_passages_carry_the_seed_payload_with_section_anchor_and_tier() -> None:
    pack = load_pack(SHIPPED_COURSE)
    found = passages(pack, created_at=CREATED)

    assert len({passage.id for passage in found}) == len(found) == len(chunk_pack(pack)) > 100
    rag = next(passage for passage in found if passage.id == "genai-fundamentals/04-rag/01-why-rag/0")
    assert set(rag.payload) == {
        "course",
        "chapter_id",
        "module",
        "section_id",
        "section_title",
        "anchor",
        "heading",
        "access_tier",
        "content",
        "chunk_index",
        "difficulty_level",
        "topics",
        "word_count",
        "created_at",
        "content_hash",
    }
    assert rag.payload["course"] == "genai-fundamentals" and rag.payload["module"] == "working-with-llms"
    assert (rag.payload["section_id"], rag.payload["anchor"]) == ("01-why-rag", "01-why-rag")
    assert rag.payload["access_tier"] == "premium" and "rag" in rag.payload["topics"]
    assert (
        rag.payload["difficulty_level"] == "intermediate" and rag.payload["created_at"] == CREATED.isoformat()
    )
    assert rag.payload["content_hash"] == hashlib.sha256(rag.text.encode()).hexdigest()
    assert rag.text.startswith("Why Retrieval-Augmented Generation?\n")
    assert rag.payload["word_count"] == len(rag.text.split("\n", 1)[1].split())
    # chunk_index counts the chunks of a chapter in reading order.
    indexes = [
        passage.payload["chunk_index"] for passage in found if passage.payload["chapter_id"] == "04-rag"
    ]
    assert indexes == list(range(len(indexes)))
    assert all(passage.payload["word_count"] <= 200 for passage in found)


def test_a_mermaid_diagram_is_searched_by_its_labels_and_shown_as_written() -> None:
    diagram = (
        '```mermaid\nflowchart LR\n    A["Encoders on each side"] --> B{"Deflection?"}\n'
        "    B -->|yes| C(Force)\n```"
    )
    markdown = f"The loop:\n\n{diagram}\n"

    assert plain_text(markdown) == "The loop:\nDiagram: Encoders on each side; Deflection?; yes; Force"
    section = Section(section_id="loop", title="Loop", order=1, content_markdown=markdown)
    chapter = Chapter(chapter_id="c", chapter_number=1, title="C", access_tier="free", sections=[section])
    (chunk,) = chunk_section("course", chapter, section)
    assert diagram in chunk.markdown and "-->" not in chunk.search_text
