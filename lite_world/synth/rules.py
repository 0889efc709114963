"""Cheap rule pre-filters for QA pairs: run before any LLM, each returns a drop reason or ``None``.

Rules: open-ended wording (how/why/explain/describe), vague time words (latest, current,
recently, now), yes/no questions and answers, multiple-choice questions, over-long answers,
answers that appear verbatim in the question, and empty/too-short fields.

Example:
    >>> rule_reasons({"question": "Why did Rome fall?", "answers": ["many reasons"]})
    ['open_ended']
    >>> rule_reasons({"question": "Who is the current CEO of Acme?", "answers": ["Jo Lee"]})
    ['vague_time']
    >>> rule_reasons({"question": "Is Paris in France?", "answers": ["yes"]})
    ['yes_no_question', 'yes_no_answer']
    >>> rule_reasons({"question": "When was the Eiffel Tower completed?", "answers": ["1889"]})
    []
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from lite_world.reward.normalize import normalize_answer

__all__ = ["RULES", "rule_reasons", "answers_of", "MAX_ANSWER_WORDS"]

MAX_ANSWER_WORDS = 8
"""Answers longer than this many words are not 'short and verifiable'."""

_OPEN = re.compile(
    r"^\s*(how|why)\b|\b(explain|describe|discuss|elaborate|what do you think|in what ways)\b", re.I
)
_HOW_OK = re.compile(r"^\s*how (many|much|long|old|tall|far|high|large|big|often)\b", re.I)
_VAGUE_TIME = re.compile(
    r"\b(latest|current(ly)?|recent(ly)?|now|nowadays|today|this year|so far|as of now)\b", re.I
)
_YES_NO_Q = re.compile(
    r"^\s*(is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|may|might|must)\b",
    re.I,
)
_CHOICE = re.compile(
    r"(\b[A-D][).:]\s)|\bwhich of the following\b|\b(true or false)\b|\bor not\b", re.I
)
_YES_NO_A = {"yes", "no", "true", "false", "yes.", "no."}


def answers_of(rec: Mapping[str, Any]) -> list[str]:
    """The record's answer aliases (``answers`` list, or ``answer`` string)."""
    a = rec.get("answers", rec.get("answer"))
    if isinstance(a, str):
        return [a]
    return [x for x in (a or []) if isinstance(x, str)]


def _open_ended(q: str, a: list[str]) -> bool:
    return bool(_OPEN.search(q)) and not _HOW_OK.search(q)


def _vague_time(q: str, a: list[str]) -> bool:
    return bool(_VAGUE_TIME.search(q))


def _yes_no_question(q: str, a: list[str]) -> bool:
    return bool(_YES_NO_Q.search(q))


def _yes_no_answer(q: str, a: list[str]) -> bool:
    return any(x.strip().lower() in _YES_NO_A for x in a)


def _multiple_choice(q: str, a: list[str]) -> bool:
    return bool(_CHOICE.search(q))


def _long_answer(q: str, a: list[str]) -> bool:
    return bool(a) and len(a[0].split()) > MAX_ANSWER_WORDS


def _answer_in_question(q: str, a: list[str]) -> bool:
    nq = f" {normalize_answer(q)} "
    return any(normalize_answer(x) and f" {normalize_answer(x)} " in nq for x in a)


def _too_short(q: str, a: list[str]) -> bool:
    return len(q.split()) < 4 or not a or not any(normalize_answer(x) for x in a)


RULES: dict[str, Callable[[str, list[str]], bool]] = {
    "too_short": _too_short,
    "open_ended": _open_ended,
    "vague_time": _vague_time,
    "yes_no_question": _yes_no_question,
    "yes_no_answer": _yes_no_answer,
    "multiple_choice": _multiple_choice,
    "long_answer": _long_answer,
    "answer_in_question": _answer_in_question,
}
"""Rule name → predicate ``(question, answers) -> bool`` (True: drop)."""


def rule_reasons(rec: Mapping[str, Any]) -> list[str]:
    """Names of every rule the record breaks, in :data:`RULES` order (empty: it passes)."""
    q = str(rec.get("question") or "")
    a = answers_of(rec)
    return [name for name, pred in RULES.items() if pred(q, a)]
