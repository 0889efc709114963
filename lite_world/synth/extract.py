"""Step 1, extract: pages → candidate QA pairs about concrete facts, with provenance.

The LLM is asked for ``[{question, answer, evidence}]`` per page. Every pair is checked
against the page itself: the answer must occur in the page text (normalised), and the
evidence stored is the page's own sentence holding the answer (the model's evidence is kept
only when it really is in the page). Bad model output is counted, never fatal: ``llm_error``,
``no_json``, ``no_pairs`` (per page), ``bad_schema``, ``answer_not_in_page``, ``duplicate``
(per pair).

Each kept pair is a task record ``{id, question, answers, mask_urls: [source URL], capability:
"single-hop", meta: {source_url, source_title, evidence, evidence_from, model, step}}``.

Example:
    >>> page = {"url": "https://x.org/b", "title": "B",
    ...         "markdown": "The B bridge opened in 1937. It is red."}
    >>> rep = StepReport("extract")
    >>> [t["answers"] for t in pairs_to_tasks(page, [{"question": "When did the B bridge open?",
    ...     "answer": "1937"}, {"question": "q?", "answer": "1999"}], rep, seen=set())]
    [['1937']]
    >>> dict(rep.dropped)
    {'answer_not_in_page': 1}
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lite_world.llm.client import LLMClient
from lite_world.reward.normalize import normalize_answer
from lite_world.synth.prompts import extract_messages
from lite_world.synth.records import StepReport
from lite_world.tools.text import split_sentences

__all__ = [
    "extract_pairs",
    "pairs_to_tasks",
    "evidence_sentence",
    "answer_in_text",
    "salvage_pairs",
]

logger = logging.getLogger(__name__)

_WS = re.compile(r"\s+")


def answer_in_text(answers: Sequence[str], text: str) -> bool:
    """Whether any alias occurs in ``text`` as a whole-word normalised span.

    Example:
        >>> answer_in_text(["The Beatles"], "by the Beatles!"), answer_in_text(["19"], "1937")
        (True, False)
    """
    nt = f" {normalize_answer(text)} "
    return any(normalize_answer(a) and f" {normalize_answer(a)} " in nt for a in answers)


def evidence_sentence(answer: str, text: str, hint: str = "") -> str | None:
    """The page sentence holding ``answer`` (sharing most words with ``hint``), or ``None``."""
    best, best_score = None, -1
    hint_words = set(normalize_answer(hint).split())
    for sent in split_sentences(text):
        if answer_in_text([answer], sent):
            score = len(hint_words & set(normalize_answer(sent).split()))
            if score > best_score:
                best, best_score = _WS.sub(" ", sent).strip(), score
    return best


_PAIR = re.compile(
    r'"question"\s*:\s*"((?:[^"\\]|\\.)+)"\s*,\s*"answer"\s*:\s*"((?:[^"\\]|\\.)+)"', re.DOTALL
)


def salvage_pairs(text: str) -> list[dict[str, str]]:
    """Complete ``"question": ..., "answer": ...`` pairs from output cut off mid-JSON.

    Example:
        >>> salvage_pairs('[{"question": "Who?", "answer": "Ann", "evidence": "Ann wa')
        [{'question': 'Who?', 'answer': 'Ann'}]
    """
    return [{"question": q, "answer": a} for q, a in _PAIR.findall(text or "")]


def _task_id(url: str, question: str) -> str:
    return "syn-" + hashlib.sha1(f"{url}\n{question}".encode()).hexdigest()[:12]


def pairs_to_tasks(
    page: Mapping[str, Any], pairs: Any, report: StepReport, *, seen: set[str], model: str = ""
) -> list[dict[str, Any]]:
    """Validate the model's pairs for ``page`` against its text; count every drop in ``report``."""
    if isinstance(pairs, dict):
        pairs = pairs.get("questions") or pairs.get("pairs") or [pairs]
    if not isinstance(pairs, list):
        report.drop("no_pairs")
        return []
    text = page["markdown"]
    out = []
    for p in pairs:
        report.extra["pairs_seen"] = report.extra.get("pairs_seen", 0) + 1
        q = p.get("question") if isinstance(p, dict) else None
        a = p.get("answer") if isinstance(p, dict) else None
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            a = str(a)
        if not isinstance(q, str) or not isinstance(a, str) or not q.strip() or not a.strip():
            report.drop("bad_schema")
            continue
        q, a = _WS.sub(" ", q).strip(), _WS.sub(" ", a).strip()
        if not answer_in_text([a], text):
            report.drop("answer_not_in_page")
            continue
        key = normalize_answer(q)
        if key in seen:
            report.drop("duplicate")
            continue
        seen.add(key)
        claimed = p.get("evidence") if isinstance(p.get("evidence"), str) else ""
        in_page = (
            bool(claimed)
            and normalize_answer(claimed) in normalize_answer(text)
            and answer_in_text([a], claimed)
        )
        evidence = (
            _WS.sub(" ", claimed).strip() if in_page else (evidence_sentence(a, text, q) or "")
        )
        out.append(
            {
                "id": _task_id(page["url"], q),
                "question": q,
                "answers": [a],
                "mask_urls": [page["url"]],
                "capability": "single-hop",
                "meta": {
                    "source_url": page["url"],
                    "source_title": page.get("title", ""),
                    "evidence": evidence,
                    "evidence_from": "model" if in_page else "page",
                    "model": model,
                    "step": "extract",
                },
            }
        )
        report.keep()
    return out


def extract_pairs(
    pages: Sequence[Mapping[str, Any]],
    client: LLMClient,
    *,
    per_page: int = 3,
    max_page_chars: int = 1500,
    max_tokens: int = 384,
    report: StepReport | None = None,
) -> tuple[list[dict[str, Any]], StepReport]:
    """Candidate QA tasks from ``pages`` (one LLM request per page, batched and cached)."""
    report = report or StepReport("extract")
    report.n_in += len(pages)
    report.extra.setdefault("unit_in", "pages")
    convs = [
        extract_messages(p.get("title", ""), p["markdown"][:max_page_chars], per_page)
        for p in pages
    ]
    replies = client.chat(convs, max_tokens=max_tokens, desc="extract")
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for page, rep in zip(pages, replies, strict=True):
        if rep.error:
            report.drop("llm_error")
            continue
        value = rep.json()
        if value is None:
            value = salvage_pairs(rep.text)
            if not value:
                report.drop("no_json")
                continue
            report.extra["salvaged_pages"] = report.extra.get("salvaged_pages", 0) + 1
        out.extend(
            pairs_to_tasks(
                {**page, "markdown": page["markdown"]}, value, report, seen=seen, model=client.model
            )
        )
    report.llm = client.usage.to_dict()
    return out, report
