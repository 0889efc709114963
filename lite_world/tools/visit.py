"""The ``visit`` tool (browsing): what pages of the world say about a goal.

By default the summary is extractive and deterministic: the page is split into passages,
ranked against the goal with BM25, and the best ones (in page order) fill a character budget.
The output uses the "Evidence in page / Summary" layout of LiteResearcher's visit tool, so
agents trained on the live web read it unchanged. An LLM summariser behind any
OpenAI-compatible endpoint can replace the extractive one (:class:`LLMSummarizer`); it falls
back to the extractive summary when the endpoint fails.

Failures (unknown, masked, non-http or malformed URL) return the same failure text a live
browse tool returns; nothing here raises on bad input.

Example:
    >>> render_visit("https://a.org", "g", "ev", "sum").splitlines()[:4]
    ['The useful information in https://a.org for user goal g as follows: ', '', 'Evidence in page: ', 'ev']
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, ClassVar

from lite_world.sanitize import clean_text
from lite_world.store.urls import is_fetchable_url, normalize_url
from lite_world.tools.base import CallContext, Tool, ToolResult
from lite_world.tools.summarize import FAIL_SUMMARY, ExtractiveSummarizer, Summarizer
from lite_world.worlds import WorldLike, is_world

if TYPE_CHECKING:  # pragma: no cover
    from lite_world.envs.config import LiteSearchConfig

__all__ = ["VisitTool", "render_visit", "FAIL_EVIDENCE"]

FAIL_EVIDENCE = (
    "The provided webpage content could not be accessed. Please check the URL or file format."
)
MAX_URLS = 5


def render_visit(url: str, goal: str, evidence: str, summary: str) -> str:
    """One URL's block (the trailing blank lines are part of the format)."""
    return (
        f"The useful information in {url} for user goal {goal} as follows: \n\n"
        f"Evidence in page: \n{evidence}\n\nSummary: \n{summary}\n\n"
    )


class VisitTool(Tool):
    """``visit``: the evidence and a summary of one or several pages of a world for a goal.

    Args:
        world: a :class:`~lite_world.worlds.WorldLike`, or a zero-argument callable returning
            one (opened on the first call).
        summarizer: defaults to :class:`~lite_world.tools.summarize.ExtractiveSummarizer`.
        max_urls: URLs per call; more are ignored and the output says so.
    """

    name = "visit"
    description = (
        "Open one or several web pages and return the evidence and a summary of what they "
        "say about the given goal."
    )
    summary = "open one or several web pages and get what they say about a goal you state."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "url": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "description": "The URL(s) of the page(s) to open.",
            },
            "goal": {"type": "string", "description": "What you want to learn from the page(s)."},
        },
        "required": ["url", "goal"],
    }

    def __init__(
        self,
        world: WorldLike | Callable[[], WorldLike],
        summarizer: Summarizer | None = None,
        max_urls: int = MAX_URLS,
    ):
        self._world = world
        self.summarizer = summarizer or ExtractiveSummarizer()
        self.max_urls = max_urls

    @classmethod
    def create(cls, world: Callable[[], WorldLike], config: LiteSearchConfig) -> VisitTool:
        return cls(world, ExtractiveSummarizer(max_chars=config.visit_max_chars))

    @property
    def world(self) -> WorldLike:
        w = self._world
        return w if is_world(w) else w()  # type: ignore[operator,return-value]

    def visit(self, url: Any, goal: Any, *, exclude: Collection[str] = ()) -> ToolResult:
        """A call from a program: ``tool.visit(url, goal)`` is ``tool({"url": url, "goal": goal}, ...)``."""
        return self({"url": url, "goal": goal}, CallContext(exclude=frozenset(exclude)))

    def prepare(self, arguments: dict[str, Any]) -> dict[str, Any]:
        url = arguments["url"]
        return {**arguments, "url": [url] if isinstance(url, str) else url}

    def visit_one(self, url: str, goal: str, exclude: frozenset[str]) -> tuple[str, dict[str, Any]]:
        shown = clean_text(url, max_chars=500)
        if not is_fetchable_url(normalize_url(shown)):
            data = {"url": shown, "found": False, "reason": "invalid_url"}
            return render_visit(shown, goal, FAIL_EVIDENCE, FAIL_SUMMARY), data
        page = self.world.get_page(shown, exclude=exclude)
        if page is None:
            data = {"url": shown, "found": False, "reason": "not_found"}
            return render_visit(shown, goal, FAIL_EVIDENCE, FAIL_SUMMARY), data
        evidence, summary = self.summarizer(page, goal)
        return render_visit(shown, goal, evidence, summary), {
            "url": page.url,
            "found": True,
            "title": page.title,
        }

    def run(self, arguments: dict[str, Any], context: CallContext) -> ToolResult:
        goal = clean_text(arguments["goal"], max_chars=2000).strip()
        if not goal:
            return ToolResult(
                f"{self.label()} Invalid request format: 'goal' must say what to look for in the page.",
                error="invalid_arguments",
            )
        urls: list[str] = arguments["url"]
        dropped = max(0, len(urls) - self.max_urls)
        blocks, data = [], []
        for u in urls[: self.max_urls]:
            text, d = self.visit_one(u, goal, context.exclude)
            blocks.append(text)
            data.append(d)
        text = "\n=======\n".join(blocks).strip()
        if dropped:
            text += f"\n\n{self.label()} Only the first {self.max_urls} URLs were visited; {dropped} ignored."
        return ToolResult(
            text, {"pages": data}, error=None if any(d["found"] for d in data) else "not_found"
        )
