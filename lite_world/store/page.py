"""The page record: what a world stores for one URL.

Example:
    >>> text = "Paris is the capital of France."
    >>> p = Page.create("https://en.wikipedia.org/wiki/Paris", "Paris", text)
    >>> p.domain, p.summary
    ('en.wikipedia.org', 'Paris. Paris is the capital of France.')
    >>> Page.from_dict(p.to_dict()) == p
    True
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Any

from lite_world.store.urls import normalize_url, url_domain

__all__ = ["Page", "content_hash", "make_summary"]

_WS = re.compile(r"\s+")
_MD_MARKUP = re.compile(r"(^|\n)\s*(#{1,6}|[-*+]|\d+\.|\|)\s*")


def content_hash(text: str) -> str:
    """SHA-1 of the whitespace-normalised text, used for content deduplication.

    Example:
        >>> content_hash("a  b\\n") == content_hash("a b")
        True
    """
    return hashlib.sha1(_WS.sub(" ", text).strip().encode("utf-8", "surrogatepass")).hexdigest()


def make_summary(title: str, markdown: str, max_chars: int = 400) -> str:
    """Title plus the lead text of the page, cut at a word boundary.

    This is what the dense index embeds (one vector per page, as in the paper).

    Example:
        >>> md = "# Paris\\n\\nParis is the capital of France. It has 2M people."
        >>> make_summary("Paris", md, max_chars=30)
        'Paris. Paris is the capital of…'
    """
    body = markdown.lstrip()[
        : max_chars * 8
    ]  # the lead is all we need; keep the regexes O(max_chars)
    first, _, rest = body.partition("\n")
    if first.startswith("#") and first.lstrip("# ").strip().lower() == title.strip().lower():
        body = rest  # a leading heading that repeats the title
    lead = _WS.sub(" ", _MD_MARKUP.sub(" ", body)).strip()
    text = f"{title}. {lead}" if title else lead
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars + 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


@dataclass(frozen=True)
class Page:
    """One page of the snapshot.

    Attributes:
        url: normalised URL (the key).
        title: page title.
        markdown: main content as Markdown.
        summary: title + lead text (what is embedded).
        domain: host without ``www.``.
        source: where the page came from (file or dataset name).
        date: publication date (ISO string) when known.
        hash: content hash of the markdown.
    """

    url: str
    title: str
    markdown: str
    summary: str
    domain: str
    source: str = ""
    date: str | None = None
    hash: str = ""

    @classmethod
    def create(
        cls,
        url: str,
        title: str,
        markdown: str,
        *,
        summary: str | None = None,
        source: str = "",
        date: str | None = None,
    ) -> Page:
        """Build a page, normalising the URL and deriving summary, domain and hash."""
        nurl = normalize_url(url)
        title = _WS.sub(" ", title or "").strip()
        return cls(
            url=nurl,
            title=title,
            markdown=markdown,
            summary=summary if summary else make_summary(title, markdown),
            domain=url_domain(nurl),
            source=source,
            date=date or None,
            hash=content_hash(markdown),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Page:
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]
