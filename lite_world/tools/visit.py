"""The Browse (``visit``) tool: what a page says about a goal.

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

import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Collection
from typing import Any, Protocol

from lite_world.errors import ConfigError
from lite_world.store.page import Page
from lite_world.store.urls import is_fetchable_url, normalize_url
from lite_world.tools.base import ToolResult
from lite_world.tools.text import rank_passages, split_passages, split_sentences

__all__ = ["VisitTool", "render_visit", "ExtractiveSummarizer", "LLMSummarizer", "Summarizer"]

logger = logging.getLogger(__name__)

FAIL_EVIDENCE = "The provided webpage content could not be accessed. Please check the URL or file format."
FAIL_SUMMARY = "The webpage content could not be processed, and therefore, no information is available."
MAX_URLS = 5


def render_visit(url: str, goal: str, evidence: str, summary: str) -> str:
    """One URL's block (the trailing blank lines are part of the format)."""
    return (
        f"The useful information in {url} for user goal {goal} as follows: \n\n"
        f"Evidence in page: \n{evidence}\n\nSummary: \n{summary}\n\n"
    )


class Summarizer(Protocol):
    def __call__(self, page: Page, goal: str) -> tuple[str, str]:
        """Return ``(evidence, summary)`` for ``page`` and ``goal``."""
        ...


class ExtractiveSummarizer:
    """Best passages for the goal within ``max_chars``; summary = the best sentences (≤ ``summary_chars``)."""

    def __init__(self, max_chars: int = 3000, summary_chars: int = 400, passage_chars: int = 600):
        if max_chars < 100:
            raise ConfigError(f"Expects max_chars >= 100, actual: {max_chars}")
        self.max_chars, self.summary_chars, self.passage_chars = max_chars, summary_chars, passage_chars

    def __call__(self, page: Page, goal: str) -> tuple[str, str]:
        passages = split_passages(page.markdown, self.passage_chars)
        if not passages:
            return ("The webpage content is too short or could not be fully loaded.", FAIL_SUMMARY)
        order = rank_passages(passages, goal)
        chosen, used = [], 0
        for i in order:
            if used + len(passages[i]) > self.max_chars and chosen:
                continue
            chosen.append(i)
            used += len(passages[i]) + 2
            if used >= self.max_chars:
                break
        evidence = "\n\n".join(passages[i] for i in sorted(chosen))[: self.max_chars]
        sents = [s for i in order[:3] if not passages[i].startswith("#") for s in split_sentences(passages[i])]
        ranked = [sents[j] for j in rank_passages(sents, goal)] if sents else []
        summary, n = [], 0
        for s in ranked:
            if n + len(s) > self.summary_chars and summary:
                break
            summary.append(s)
            n += len(s) + 1
        lead = f"{page.title}: " if page.title else ""
        return evidence, lead + " ".join(summary)[: self.summary_chars]


class LLMSummarizer:
    """Ask an OpenAI-compatible endpoint for ``{"rational", "evidence", "summary"}`` JSON.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        model: model name on the server.
        api_key: bearer token, if the server needs one.
        max_page_chars: page text sent (the rest is cut).
        fallback: used when the endpoint fails or answers unparseably.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_page_chars: int = 60_000,
        fallback: Summarizer | None = None,
    ):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.timeout_s, self.max_page_chars = model, api_key, timeout_s, max_page_chars
        self.fallback = fallback or ExtractiveSummarizer()
        self.failures = 0

    def __call__(self, page: Page, goal: str) -> tuple[str, str]:
        prompt = (
            "Read the web page below and extract what is relevant to the user's goal.\n"
            f"## Web page ({page.url})\n{page.markdown[: self.max_page_chars]}\n\n## Goal\n{goal}\n\n"
            'Reply with JSON only: {"rational": "<why these parts matter>", "evidence": "<the relevant text, '
            'quoted from the page>", "summary": "<a concise answer to the goal from the evidence>"}'
        )
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.0, "max_tokens": 2048}
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                content = json.loads(resp.read())["choices"][0]["message"]["content"]
            m = re.search(r"\{.*\}", content, re.S)
            parsed = json.loads(m.group(0)) if m else {}
            ev, su = str(parsed.get("evidence", "")).strip(), str(parsed.get("summary", "")).strip()
            if ev and su:
                return ev, su
        except (OSError, urllib.error.URLError, ValueError, KeyError, IndexError, TypeError) as exc:
            logger.warning("LLM summariser failed (%s); using the extractive summary", exc)
        self.failures += 1
        return self.fallback(page, goal)


class VisitTool:
    """Browse pages of a world.

    Args:
        world: a :class:`~lite_world.world.World`.
        summarizer: defaults to :class:`ExtractiveSummarizer`.
        max_urls: URLs per call; more are ignored and the output says so.
    """

    name = "visit"

    def __init__(self, world: Any, summarizer: Summarizer | None = None, max_urls: int = MAX_URLS):
        self.world = world
        self.summarizer = summarizer or ExtractiveSummarizer()
        self.max_urls = max_urls

    def visit_one(self, url: str, goal: str, exclude: Collection[str] = ()) -> tuple[str, dict[str, Any]]:
        if isinstance(url, str):  # NUL and lone surrogates never reach the observation (it must be UTF-8)
            shown = url.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:500]
        else:
            shown = repr(url)[:200]
        if not isinstance(url, str) or not is_fetchable_url(normalize_url(url)):
            return render_visit(shown, goal, FAIL_EVIDENCE, FAIL_SUMMARY), {"url": shown, "found": False, "reason": "invalid_url"}
        page = self.world.get_page(url, exclude=exclude)
        if page is None:
            return render_visit(shown, goal, FAIL_EVIDENCE, FAIL_SUMMARY), {"url": shown, "found": False, "reason": "not_found"}
        evidence, summary = self.summarizer(page, goal)
        return render_visit(shown, goal, evidence, summary), {"url": page.url, "found": True, "title": page.title}

    def __call__(self, url: Any, goal: Any, *, exclude: Collection[str] = ()) -> ToolResult:
        urls = [url] if isinstance(url, str) else url
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            return ToolResult(
                "[Visit] Invalid request format: 'url' must be a URL string or a non-empty list of URL strings, "
                f"actual: {type(url).__name__}.",
                error="invalid_arguments",
            )
        if not isinstance(goal, str) or not goal.strip():
            return ToolResult(
                "[Visit] Invalid request format: 'goal' must be a non-empty string saying what to look for in the page.",
                error="invalid_arguments",
            )
        goal = goal.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ").strip()[:2000]
        dropped = max(0, len(urls) - self.max_urls)
        blocks, data = [], []
        for u in urls[: self.max_urls]:
            text, d = self.visit_one(u, goal, exclude)
            blocks.append(text)
            data.append(d)
        text = "\n=======\n".join(blocks).strip()
        if dropped:
            text += f"\n\n[Visit] Only the first {self.max_urls} URLs were visited; {dropped} ignored."
        return ToolResult(text, {"pages": data}, error=None if any(d["found"] for d in data) else "not_found")
