"""Course Markdown as safe HTML: tables, highlighted code, Mermaid blocks, admonitions, heading anchors.

Authors' Markdown may carry raw HTML, so everything rendered here passes through nh3 (an allow-list
sanitiser) before it reaches a page. Rendering is pure: the same text always gives the same HTML, so
callers cache it per content version.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from companion.content.markdown import ADMONITION_TYPES
from companion.content.schemas import slugify

# Languages written right to left; a page in one of them gets dir="rtl".
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "ks", "ps", "sd", "ug", "ur", "yi"})

_ADMONITION_LABEL = re.compile(r"^(?P<kind>" + "|".join(k.capitalize() for k in ADMONITION_TYPES) + r")\b")
_formatter = HtmlFormatter(nowrap=True)

_TAGS = set(nh3.ALLOWED_TAGS) | {"tfoot"}
_ATTRIBUTES: dict[str, set[str]] = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("pre", "code", "span", "blockquote", "div", "table", "p", "ul", "ol", "li"):
    _ATTRIBUTES.setdefault(_tag, set()).add("class")
_ATTRIBUTES["pre"].add("tabindex")
for _tag in ("h2", "h3", "h4", "h5", "h6"):
    _ATTRIBUTES.setdefault(_tag, set()).update({"id", "class"})
_ATTRIBUTES.setdefault("th", set()).add("style")
_ATTRIBUTES.setdefault("td", set()).add("style")


def text_direction(language: str | None) -> str:
    """`rtl` for right-to-left languages (Urdu, Arabic, Hebrew, ...), else `ltr`."""
    primary = (language or "en").split("-")[0].lower()
    return "rtl" if primary in RTL_LANGUAGES else "ltr"


def _highlight(code: str, language: str, _attributes: Any) -> str:
    """Code fences: Mermaid diagrams stay as source for the client renderer; code is coloured by Pygments."""
    name = (language or "").strip().split()[0].lower() if language else ""
    if name == "mermaid":
        return f'<pre class="mermaid">{escape(code)}</pre>'
    if not name:
        return ""
    try:
        lexer = get_lexer_by_name(name)
    except ClassNotFound:
        return ""  # markdown-it escapes it as plain code
    coloured = highlight(code, lexer, _formatter)
    # Code blocks scroll sideways, so they take keyboard focus (tabindex) to be scrollable without a mouse.
    language_class = f"language-{escape(name)}"
    return f'<pre class="highlight" tabindex="0"><code class="{language_class}">{coloured}</code></pre>'


def _decorate(state: StateCore) -> None:
    """Give headings stable ids under the section's anchor and mark Docusaurus admonitions."""
    prefix = state.env.get("anchor_prefix", "")
    used: set[str] = state.env.setdefault("used_ids", set())
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and index + 1 < len(tokens):
            base = (
                f"{prefix}--{slugify(tokens[index + 1].content)}"
                if prefix
                else slugify(tokens[index + 1].content)
            )
            anchor, number = base, 2
            while anchor in used:
                anchor, number = f"{base}-{number}", number + 1
            used.add(anchor)
            token.attrSet("id", anchor)
        elif token.type == "blockquote_open" and index + 2 < len(tokens):
            # Empty text tokens may surround the bold label.
            children = [child for child in tokens[index + 2].children or [] if child.content or child.nesting]
            if (
                tokens[index + 1].type == "paragraph_open"
                and len(children) >= 2
                and children[0].type == "strong_open"
                and (match := _ADMONITION_LABEL.match(children[1].content))
            ):
                token.attrSet("class", f"admonition admonition-{match['kind'].lower()}")


_markdown = MarkdownIt("commonmark", {"html": True, "highlight": _highlight}).enable(
    ["table", "strikethrough"]
)
_markdown.core.ruler.push("companion_decorate", _decorate)


def markdown_to_html(text: str, *, anchor_prefix: str = "") -> str:
    """Markdown (CommonMark, tables, strikethrough) as sanitised HTML; headings get `prefix--slug` ids."""
    rendered = _markdown.render(text, {"anchor_prefix": anchor_prefix})
    return sanitize(rendered).replace("<pre><code", '<pre tabindex="0"><code')


def sanitize(html: str) -> str:
    """Keep only safe tags and attributes (no scripts, event handlers or javascript: links)."""
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, link_rel="noopener noreferrer")


def has_mermaid(text: str) -> bool:
    """Whether a Markdown text contains a Mermaid diagram (the page then loads the renderer)."""
    return re.search(r"^\s*(`{3,}|~{3,})\s*mermaid\b", text, re.MULTILINE) is not None


def highlight_css() -> str:
    """The stylesheet for highlighted code."""
    return str(HtmlFormatter(style="default").get_style_defs(".highlight"))
