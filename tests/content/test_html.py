"""Course Markdown as HTML: sanitised, with tables, highlighted code, diagrams, admonitions and anchors."""

from __future__ import annotations

from pathlib import Path

from companion.content.html import has_mermaid, highlight_css, markdown_to_html, text_direction

STATIC = Path(__file__).resolve().parents[2] / "src" / "companion" / "web" / "static"


def test_authors_html_is_sanitised() -> None:
    html = markdown_to_html(
        'Hi <script>alert(1)</script><img src=x onerror="alert(2)"> <a href="javascript:alert(3)">x</a>'
        ' <iframe src="https://evil.example"></iframe> [ok](https://example.com)'
    )
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert "<iframe" not in html
    assert '<a href="https://example.com" rel="noopener noreferrer">ok</a>' in html


def test_markdown_features_render() -> None:
    html = markdown_to_html(
        "### Greedy decoding\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "```python\ndef f():\n    return 1\n```\n\n```mermaid\ngraph TD; A-->B\n```\n\n"
        "> **Warning: careful**\n> text\n\n    indented code\n",
        anchor_prefix="05-decoding",
    )
    assert '<h3 id="05-decoding--greedy-decoding">Greedy decoding</h3>' in html
    assert "<table>" in html and "<td>1</td>" in html
    assert (
        '<pre class="highlight" tabindex="0"><code class="language-python"><span class="k">def</span>' in html
    )
    assert '<pre class="mermaid">graph TD; A--&gt;B\n</pre>' in html
    assert '<blockquote class="admonition admonition-warning">' in html
    assert '<pre tabindex="0"><code>indented code' in html
    assert has_mermaid("text\n```mermaid\ngraph TD\n```") and not has_mermaid("```python\nmermaid = 1\n```")


def test_repeated_headings_get_distinct_ids() -> None:
    html = markdown_to_html("### Example\n\none\n\n### Example\n\ntwo", anchor_prefix="s")
    assert 'id="s--example"' in html and 'id="s--example-2"' in html


def test_text_direction_follows_the_language() -> None:
    assert text_direction("ur") == "rtl" and text_direction("ar-EG") == "rtl"
    assert text_direction("en") == "ltr" and text_direction(None) == "ltr"


def test_shipped_highlight_stylesheet_matches_the_highlighter() -> None:
    shipped = (STATIC / "highlight.css").read_text(encoding="utf-8")
    assert highlight_css() in shipped
