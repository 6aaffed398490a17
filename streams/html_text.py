"""HTML to plain text, for feed entries and for article bodies that arrive as HTML.

nh3 (the Ammonia sanitizer, an HTML5 parser as browsers parse) removes scripts, styles and other non-text elements
with their content and every tag except the block elements; the standard library's parser then turns the block
elements into line breaks and resolves the entities. No markup reaches the models.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

BLOCKS = frozenset({"p", "br", "div", "li", "h1", "h2", "h3", "h4", "blockquote", "tr", "figure"})
# Elements whose content is code, data or a fallback, never article text.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg", "math"})
# A tag, a comment or declaration, or a character reference: text without any is left exactly as it is.
MARKUP = re.compile(r"<[/!?]?[A-Za-z!]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")


class _BlockLines(HTMLParser):
    """Text of sanitized HTML (block tags only, without attributes): block elements become line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def looks_like_html(text: str) -> bool:
    return MARKUP.search(text) is not None


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: one line per block, spaces collapsed, empty lines dropped."""
    sanitized = nh3.clean(
        fragment,
        tags=set(BLOCKS),
        attributes={},
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        strip_comments=True,
        link_rel=None,
    )
    extractor = _BlockLines()
    extractor.feed(sanitized)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)
