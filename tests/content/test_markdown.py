"""MDX cleaning, front matter and section splitting."""

from __future__ import annotations

import pytest

from companion.content.markdown import (
    FrontMatterError,
    clean_mdx,
    read_front_matter,
    split_sections,
    take_title,
)


def test_imports_and_exports_are_dropped_but_prose_starting_with_import_survives() -> None:
    text = (
        "import Tabs from '@theme/Tabs';\n"
        "import {\n  A,\n  B,\n} from './x';\n"
        "export const meta = {\n  a: 1,\n};\n"
        "Importing data is easy.\n"
        "import is also an English word here\n"
    )

    cleaned = clean_mdx(text)

    assert "Tabs" not in cleaned
    assert "meta" not in cleaned
    assert "Importing data is easy." in cleaned
    assert "import is also an English word here" in cleaned


def test_admonitions_become_blockquotes_with_a_bold_label() -> None:
    for kind in ("note", "tip", "info", "warning", "danger", "caution"):
        cleaned = clean_mdx(f":::{kind} Heads up\nBody text.\n:::\n")

        assert cleaned.split("\n")[:2] == [f"> **{kind.capitalize()}: Heads up**", "> Body text."]
        assert ":::" not in cleaned


def test_admonition_with_bracket_title_and_nesting() -> None:
    cleaned = clean_mdx("::::note[Outer]\nouter\n:::tip\ninner\n:::\n::::\nafter")

    assert cleaned.split("\n") == [
        "> **Note: Outer**",
        "> outer",
        "> > **Tip**",
        "> > inner",
        ">",
        "",
        "after",
    ]


def test_jsx_components_are_unwrapped() -> None:
    text = (
        '<Tabs groupId="x">\n<TabItem value="py" label="Python">\n\nprint it\n\n</TabItem>\n</Tabs>\n'
        "<details>\n<summary>Show the answer</summary>\n\n42\n\n</details>\n"
        '<Figure\n  src="/a.png"\n  alt="A diagram" />\n'
        "<Spacer />\n"
        "Text {/* hidden */} shown <!-- also hidden -->\n"
    )

    cleaned = clean_mdx(text)

    for raw in ("<Tabs", "<TabItem", "</", "<details", "<summary", "<Figure", "<Spacer", "/*", "<!--"):
        assert raw not in cleaned
    assert "**Python**" in cleaned
    assert "**Show the answer**" in cleaned
    assert "A diagram" in cleaned
    assert "Text  shown" in cleaned


def test_fenced_code_is_never_altered() -> None:
    code = "```jsx\nimport X from 'x';\n<Tabs><TabItem label=\"a\">{/* c */}</TabItem></Tabs>\n:::note\n```"
    text = f'before\n\n{code}\n\n~~~\n<Figure alt="kept" />\n~~~\n'

    cleaned = clean_mdx(text)

    assert code in cleaned
    assert '~~~\n<Figure alt="kept" />\n~~~' in cleaned


def test_inline_code_is_not_altered() -> None:
    assert clean_mdx("Use the `<Tabs>` component.") == "Use the `<Tabs>` component."


def test_cleaning_keeps_the_line_count() -> None:
    text = "import A from 'a';\n:::note\nx\n:::\n<Figure\n alt=\"y\"\n/>\n{/*\n*/}\n"

    assert len(clean_mdx(text).split("\n")) == len(text.split("\n"))


def test_front_matter_and_body_line() -> None:
    document = read_front_matter("---\ntitle: Hello\ntags: [a]\n---\nBody\n")

    assert document.metadata == {"title": "Hello", "tags": ["a"]}
    # "Body" is line 5 of the file.
    assert document.body.split("\n")[5 - document.body_line] == "Body"


def test_front_matter_error_has_the_file_line() -> None:
    with pytest.raises(FrontMatterError) as raised:
        read_front_matter("---\ntitle: ok\ntags: [a, b\ndescription: x\n---\nBody\n")

    assert raised.value.line is not None
    assert 3 <= raised.value.line <= 5


def test_split_sections_with_intro_heading_ids_and_code() -> None:
    body = (
        "Intro text.\n\n"
        "## First {#custom}\n\nOne.\n\n### Detail {#detail}\n\nMore.\n\n"
        "```md\n## not a heading\n```\n\n"
        "> ## quoted heading stays\n\n"
        "## Second\n\nTwo.\n"
    )

    sections = split_sections(body)

    assert [(s.title, s.explicit_id, s.line) for s in sections] == [
        (None, None, 0),
        ("First", "custom", 2),
        ("Second", None, 16),
    ]
    assert sections[0].text == "Intro text."
    assert "### Detail\n" in sections[1].text
    assert "## not a heading" in sections[1].text
    assert sections[2].text == "Two."


def test_take_title_removes_a_leading_h1() -> None:
    title, body = take_title("# The Title\n\nText")

    assert title == "The Title"
    assert body.strip() == "Text"
    assert take_title("Text\n\n# Later") == (None, "Text\n\n# Later")
