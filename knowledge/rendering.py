"""Markdown to safe HTML for the public KB pages.

markdown-it-py renders (CommonMark, raw HTML disabled), the anchors plugin gives each
heading the id the chunker links to, and nh3 (ammonia) sanitises what comes out, because
articles can be uploaded files whose content nobody reviewed line by line.
"""

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin

from knowledge.chunking import heading_anchor

_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": False})
    .enable("table")
    .use(anchors_plugin, min_level=2, max_level=6, slug_func=heading_anchor)
)

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em",
    "code", "pre", "blockquote", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def markdown_to_html(text: str) -> str:
    return nh3.clean(
        _md.render(text),
        tags=ALLOWED_TAGS,
        attributes={
            "a": {"href", "title"},
            "h2": {"id"},
            "h3": {"id"},
            "h4": {"id"},
            "h5": {"id"},
            "h6": {"id"},
        },
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
