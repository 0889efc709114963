"""Summarisers for the ``visit`` tool: what a page says about a goal, as (evidence, summary).

:class:`ExtractiveSummarizer` (the default) is deterministic: the page is split into passages,
ranked against the goal with BM25, and the best ones (in page order) fill a character budget.
:class:`LLMSummarizer` asks any OpenAI-compatible endpoint, as LiteResearcher's visit tool does,
and falls back to the extractive summary when the endpoint fails.

Example:
    >>> from lite_world.store.page import Page
    >>> page = Page.create("https://a.org/x", "X", "Paris is the capital of France. " * 3)
    >>> evidence, summary = ExtractiveSummarizer(max_chars=200)(page, "capital of France")
    >>> summary.startswith("X: Paris is the capital")
    True
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from typing import Protocol

from lite_world.config import check_int
from lite_world.store.page import Page
from lite_world.tools.text import rank_passages, split_passages, split_sentences

__all__ = ["Summarizer", "ExtractiveSummarizer", "LLMSummarizer", "FAIL_SUMMARY"]

logger = logging.getLogger(__name__)

FAIL_SUMMARY = (
    "The webpage content could not be processed, and therefore, no information is available."
)


class Summarizer(Protocol):
    def __call__(self, page: Page, goal: str) -> tuple[str, str]:
        """Return ``(evidence, summary)`` for ``page`` and ``goal``."""
        ...


class ExtractiveSummarizer:
    """Best passages for the goal within ``max_chars``; summary = the best sentences (≤ ``summary_chars``)."""

    def __init__(self, max_chars: int = 3000, summary_chars: int = 400, passage_chars: int = 600):
        check_int("ExtractiveSummarizer.max_chars", max_chars, low=100)
        self.max_chars, self.summary_chars, self.passage_chars = (
            max_chars,
            summary_chars,
            passage_chars,
        )

    def __call__(self, page: Page, goal: str) -> tuple[str, str]:
        passages = split_passages(page.markdown, self.passage_chars)
        if not passages:
            return ("The webpage content is too short or could not be fully loaded.", FAIL_SUMMARY)
        order = rank_passages(passages, goal)
        chosen: list[int] = []
        used = 0
        for i in order:
            if used + len(passages[i]) > self.max_chars and chosen:
                continue
            chosen.append(i)
            used += len(passages[i]) + 2
            if used >= self.max_chars:
                break
        evidence = "\n\n".join(passages[i] for i in sorted(chosen))[: self.max_chars]
        sents = [
            s
            for i in order[:3]
            if not passages[i].startswith("#")
            for s in split_sentences(passages[i])
        ]
        ranked = [sents[j] for j in rank_passages(sents, goal)] if sents else []
        summary: list[str] = []
        n = 0
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
        self.model, self.api_key, self.timeout_s, self.max_page_chars = (
            model,
            api_key,
            timeout_s,
            max_page_chars,
        )
        self.fallback = fallback or ExtractiveSummarizer()
        self.failures = 0

    def __call__(self, page: Page, goal: str) -> tuple[str, str]:
        prompt = (
            "Read the web page below and extract what is relevant to the user's goal.\n"
            f"## Web page ({page.url})\n{page.markdown[: self.max_page_chars]}\n\n## Goal\n{goal}\n\n"
            'Reply with JSON only: {"rational": "<why these parts matter>", "evidence": "<the relevant text, '
            'quoted from the page>", "summary": "<a concise answer to the goal from the evidence>"}'
        )
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0.0,
            "max_tokens": 2048,
        }
        req = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
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
