"""HTML → Markdown with trafilatura (main content; headings, lists and tables kept).

Example:
    >>> body = "<p>" + "Some long paragraph text. " * 8 + "</p><ul><li>one</li><li>two</li></ul>"
    >>> page = f"<html><head><title>T</title></head><body><article><h1>T</h1>{body}</article>"
    >>> md, title = html_to_markdown(page + "</body></html>")
    >>> title, "Some long paragraph" in md, "- one" in md
    ('T', True, True)
"""

from __future__ import annotations

import re

from lite_world._lazy import require

__all__ = ["html_to_markdown"]

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def html_to_markdown(html: str | bytes, url: str | None = None) -> tuple[str, str]:
    """Return ``(markdown, title)``; empty markdown when no main content was found."""
    trafilatura = require("trafilatura")
    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    md = (
        trafilatura.extract(
            html,
            url=url,
            output_format="markdown",
            include_tables=True,
            include_formatting=True,
            include_links=False,
            include_images=False,
            include_comments=False,
            favor_recall=True,
            deduplicate=False,
        )
        or ""
    )
    title = ""
    try:
        meta = trafilatura.extract_metadata(html)
        title = (meta.title or "") if meta else ""
    except Exception:  # metadata is best effort
        title = ""
    if not title:
        m = _TITLE.search(html[:20000])
        title = " ".join(m.group(1).split()) if m else ""
    return md.strip(), title.strip()
