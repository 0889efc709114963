"""The Search tool: one query or a list, rendered the way live web-search tools render results.

The default ``style="web"`` matches the search output that LiteResearcher / Tongyi DeepResearch
agents read at evaluation time (a header per query, numbered ``[title](url)`` entries, the
date when known, a blank line, then a query-relevant snippet; query blocks joined by
``=======``). ``style="train"`` matches LiteResearcher's training-time local RAG rendering
(no blank line before the snippet, no date; links deduplicated across the queries of one call).

Example:
    >>> from lite_world import open_world
    >>> tool = SearchTool(open_world("demo"), k=3)
    >>> print(tool({"query": ["Carl Rogers psychotherapy"]}).text.splitlines()[0])
    A Google search for 'Carl Rogers psychotherapy' found 3 results:
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, ClassVar

from lite_world.config import check_choice, check_int
from lite_world.sanitize import clean_text
from lite_world.tools.base import CallContext, Tool, ToolResult
from lite_world.worlds import WorldLike, is_world

if TYPE_CHECKING:  # pragma: no cover
    from lite_world.envs.config import LiteSearchConfig

__all__ = ["SearchTool", "render_search", "SEARCH_STYLES"]

SEARCH_STYLES = ("web", "train")
"""Search renderings: live web search tools' (evaluation) and LiteResearcher's training RAG."""
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
        body = "".join(
            f"{i}. [{h['title']}]({h['url']})\n{h.get('snippet', '')}\n\n"
            for i, h in enumerate(hits, 1)
        )
        return f"A Google search for '{query}' found {len(hits)} results:\n\n## Web Results\n{body}".strip()
    if not hits:
        return f"No results found for '{query}'. Try with a more general query."
    entries = "\n\n".join(_entry_web(i, h) for i, h in enumerate(hits, 1))
    return f"A Google search for '{query}' found {len(hits)} results:\n\n## Web Results\n{entries}"


class SearchTool(Tool):
    """``search``: one query or a list, each answered with up to ``k`` web-style results.

    Args:
        world: a :class:`~lite_world.worlds.WorldLike`, or a zero-argument callable returning
            one (opened on the first call).
        k: results per query (live search tools return 10).
        style: ``"web"`` or ``"train"`` rendering.
        max_queries: queries per call; more are ignored and the output says so.
    """

    name = "search"
    description = (
        "Search the web. Takes one query or several queries at once and returns up to 10 "
        "results (title, URL and snippet) for each query."
    )
    summary = "web search with one or several queries at once, up to 10 results per query."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "query": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "description": "The queries to search for; each one is searched separately.",
            }
        },
        "required": ["query"],
    }

    def __init__(
        self,
        world: WorldLike | Callable[[], WorldLike],
        k: int = 10,
        style: str = "web",
        max_queries: int = MAX_QUERIES,
    ):
        check_choice("search style", style, SEARCH_STYLES)
        check_int("search k", k, low=1)
        self._world, self.k, self.style, self.max_queries = world, k, style, max_queries

    @classmethod
    def create(cls, world: Callable[[], WorldLike], config: LiteSearchConfig) -> SearchTool:
        return cls(world, k=config.search_k, style=config.search_style)

    @property
    def world(self) -> WorldLike:
        w = self._world
        return w if is_world(w) else w()  # type: ignore[operator,return-value]

    def search(self, query: Any, *, exclude: Collection[str] = ()) -> ToolResult:
        """A call from a program: ``tool.search("q", exclude=urls)`` is ``tool({"query": "q"}, ...)``."""
        return self({"query": query}, CallContext(exclude=frozenset(exclude)))

    def prepare(self, arguments: dict[str, Any]) -> dict[str, Any]:
        query = arguments["query"]
        return {**arguments, "query": [query] if isinstance(query, str) else query}

    def queries(self, arguments: dict[str, Any]) -> tuple[list[str], int]:
        """The cleaned queries :meth:`run` answers (at most ``max_queries``, "" where one is
        blank) and how many were dropped, from prepared arguments."""
        raw: list[str] = arguments["query"]
        queries = [clean_text(q, max_chars=1000).strip() for q in raw[: self.max_queries]]
        return queries, max(0, len(raw) - self.max_queries)

    def run(self, arguments: dict[str, Any], context: CallContext) -> ToolResult:
        queries, dropped = self.queries(arguments)
        live = [q for q in queries if q]
        results = self.world.search(live, self.k, exclude=context.exclude) if live else []
        by_query = dict(zip(live, results, strict=False))
        blocks: list[str] = []
        data: list[dict[str, Any]] = []
        seen: set[str] = set()
        for q in queries:
            if not q:
                blocks.append(f"{self.label()} Empty query: write what you are looking for.")
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
            text += f"\n\n{self.label()} Only the first {self.max_queries} queries were run; {dropped} ignored."
        return ToolResult(text, {"queries": data})
