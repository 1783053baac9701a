"""A listing's description: Markdown rendered on the server, then sanitised by an allow-list.

Why both steps: markdown-it with raw HTML off already escapes tags people type, but links and
images still carry URLs (`javascript:`); nh3 keeps only the tags, attributes and URL schemes
listed here, so whatever the renderer lets through, the browser gets nothing that runs.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(source: str) -> str:
    """Safe HTML for `source`; links get rel="nofollow noopener noreferrer"."""
    return nh3.clean(
        _renderer.render(source),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
