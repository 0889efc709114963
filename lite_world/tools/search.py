"""The Search tool: one query or a list, rendered the way live web-search tools render results.

The default ``style="web"`` matches the search output that LiteResearcher / Tongyi DeepResearch
agents read at evaluation time (a header per query, numbered ``[title](url)`` entries, the
date when known, a blank line, then a query-relevant snippet; query blocks joined by
``=======``). ``style="train"`` matches LiteResearcher's training-time local RAG rendering
(no blank line before the snippet, no date; links deduplicated across the queries of one call).

Example:
    >>> tool = SearchTool(world)                                  # doctest: +SKIP
    >>> print(tool(["Carl Rogers"], exclude=()).text[:60])        # doctest: +SKIP
    A Google search for 'Carl Rogers' found 10 results:
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from lite_world.errors import ConfigError
from lite_world.tools.base import ToolResult

__all__ = ["SearchTool", "render_search", "SEARCH_STYLES"]

SEARCH_STYLES = ("web", "train")
MAX_QUERIES = 10


def _entry_web(i: int, hit: dict[str, Any]) -> str:
    s = f"{i}. [{hit['title']}]({hit['url']})"
    if hit.get("date"):
        s += f"\nDate published: {hit['date']}"
    s += "\n"
    if hit.get("snippet"):
        s += f"\n{hit['snippet']}"
    return s


def render_search(query: str, hits: list[dict[str, Any]], style: str = "web") -> str:
    """Render one query's hits.

    Example:
        >>> print(render_search("q", [{"title": "T", "url": "https://a.org", "snippet": "S", "date": None}]))
        A Google search for 'q' found 1 results:
        <BLANKLINE>
        ## Web Results
        1. [T](https://a.org)
        <BLANKLINE>
        S
        >>> render_search("q", [])
        "No results found for 'q'. Try with a more general query."
    """
    if style == "train":
        body = "".join(f"{i}. [{h['title']}]({h['url']})\n{h.get('snippet', '')}\n\n" for i, h in enumerate(hits, 1))
        return f"A Google search for '{query}' found {len(hits)} results:\n\n## Web Results\n{body}".strip()
    if not hits:
        return f"No results found for '{query}'. Try with a more general query."
    entries = "\n\n".join(_entry_web(i, h) for i, h in enumerate(hits, 1))
    return f"A Google search for '{query}' found {len(hits)} results:\n\n## Web Results\n{entries}"


class SearchTool:
    """Search a world.

    Args:
        world: a :class:`~lite_world.world.World` (or anything with the same ``search``).
        k: results per query (live search tools return 10).
        style: ``"web"`` or ``"train"`` rendering.
        max_queries: queries per call; more are ignored and the output says so.
    """

    name = "search"

    def __init__(self, world: Any, k: int = 10, style: str = "web", max_queries: int = MAX_QUERIES):
        if style not in SEARCH_STYLES:
            raise ConfigError(f"Expects search style in {SEARCH_STYLES}, actual: {style!r}")
        if k < 1:
            raise ConfigError(f"Expects k >= 1, actual: {k}")
        self.world, self.k, self.style, self.max_queries = world, k, style, max_queries

    def __call__(self, query: Any, *, exclude: Collection[str] = ()) -> ToolResult:
        queries = [query] if isinstance(query, str) else query
        if not isinstance(queries, list) or not queries or not all(isinstance(q, str) for q in queries):
            return ToolResult(
                "[Search] Invalid request format: 'query' must be a non-empty string or a list of strings, "
                f"actual: {type(query).__name__}.",
                error="invalid_arguments",
            )
        dropped = max(0, len(queries) - self.max_queries)
        # NUL and lone surrogates never reach the observation (it must encode as UTF-8)
        queries = [
            q.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ").strip()[:1000]
            for q in queries[: self.max_queries]
        ]
        live = [q for q in queries if q]
        results = self.world.search(live, self.k, exclude=exclude) if live else []
        by_query = dict(zip(live, results))
        blocks, data = [], []
        seen: set[str] = set()
        for q in queries:
            if not q:
                blocks.append("[Search] Empty query: write what you are looking for.")
                data.append({"query": q, "results": []})
                continue
            hits = [h.to_dict() for h in by_query.get(q, [])]
            if self.style == "train":
                hits = [h for h in hits if not (h["url"] in seen or seen.add(h["url"]))]  # type: ignore[func-returns-value]
            blocks.append(render_search(q, hits, self.style))
            data.append({"query": q, "results": hits})
        sep = "\n\n=======\n\n" if self.style == "train" else "\n=======\n"
        text = sep.join(blocks)
        if dropped:
            text += f"\n\n[Search] Only the first {self.max_queries} queries were run; {dropped} ignored."
        return ToolResult(text, {"queries": data})
