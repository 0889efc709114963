"""The prompts of the LLM steps, written for this project after the LiteResearcher description.

Each builder returns chat messages. They ask for JSON (extraction, graph features) or a final
``\\boxed{true}`` / ``\\boxed{false}`` (rubric), which the steps parse tolerantly.

Example:
    >>> m = extract_messages("Paris", "Paris is the capital of France.", n=2)
    >>> [x["role"] for x in m], "Paris is the capital" in m[-1]["content"]
    (['system', 'user', 'assistant', 'user'], True)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = [
    "RUBRIC_CONDITIONS",
    "extract_messages",
    "rubric_messages",
    "graph_messages",
    "compose_messages",
]

_EXTRACT_SYSTEM = (
    "You write quiz questions from a web page. Each question asks about one concrete fact in the "
    "page: a number, a date, a person, an organisation or a place. The question must make sense "
    "to someone who has never seen the page: name the subject in full, never say 'this page', "
    "'the article' or 'he'. The answer is a short phrase (at most five words) copied from the "
    "page. Give the sentence of the page that proves the answer. Reply with JSON only: a list of "
    'objects {"question": ..., "answer": ..., "evidence": ...}.'
)

_EXTRACT_EXAMPLE_PAGE = (
    "The Golden Gate Bridge is a suspension bridge in San Francisco. It opened on May 27, 1937, "
    "and its main span is 1,280 metres long. It was designed by Joseph Strauss."
)
_EXTRACT_EXAMPLE_OUT = [
    {
        "question": "On what date did the Golden Gate Bridge in San Francisco open?",
        "answer": "May 27, 1937",
        "evidence": "It opened on May 27, 1937, and its main span is 1,280 metres long.",
    },
    {
        "question": "Who designed the Golden Gate Bridge?",
        "answer": "Joseph Strauss",
        "evidence": "It was designed by Joseph Strauss.",
    },
]


def extract_messages(title: str, text: str, n: int = 3) -> list[dict[str, str]]:
    """Ask for up to ``n`` QA pairs about ``text`` (page ``title``), with one worked example."""
    example = (
        f"Page title: Golden Gate Bridge\nPage:\n{_EXTRACT_EXAMPLE_PAGE}\n\nWrite 2 questions."
    )
    return [
        {"role": "system", "content": _EXTRACT_SYSTEM},
        {"role": "user", "content": example},
        {"role": "assistant", "content": json.dumps(_EXTRACT_EXAMPLE_OUT)},
        {"role": "user", "content": f"Page title: {title}\nPage:\n{text}\n\nWrite {n} questions."},
    ]


RUBRIC_CONDITIONS: tuple[tuple[str, str], ...] = (
    (
        "independence",
        "The question stands alone: it names its subject and needs no page, image or earlier text.",
    ),
    (
        "specific_verifiable",
        "The answer is one specific fact (a name, number, date or place) that can be checked.",
    ),
    ("unambiguous", "Only one answer fits the question as written."),
    ("answerable", "The answer can be found from public sources such as the given evidence."),
    (
        "closed",
        "The question is not open-ended (no 'how', 'why', 'explain', opinions or reasons).",
    ),
    (
        "not_oversimple",
        "The question is not trivial: the answer is not in the question and needs a lookup.",
    ),
    (
        "explicit_time",
        "Time is explicit (a year or date), never 'latest', 'current', 'now' or 'recently'.",
    ),
)
"""The seven rubric conditions, ``(name, description)``."""


def rubric_messages(question: str, answer: str, evidence: str = "") -> list[dict[str, str]]:
    """Ask the judge to reason per condition, then ``\\boxed{true}`` or ``\\boxed{false}``."""
    conds = "\n".join(f"{i}. {name}: {desc}" for i, (name, desc) in enumerate(RUBRIC_CONDITIONS, 1))
    return [
        {
            "role": "system",
            "content": "You check quiz questions against a rubric. "
            "Yes/no and multiple-choice questions always fail.",
        },
        {
            "role": "user",
            "content": (
                f"Question: {question}\nAnswer: {answer}\n"
                + (f"Evidence: {evidence}\n" if evidence else "")
                + f"\nConditions:\n{conds}\n\nFor each condition write one line 'name: pass' or "
                "'name: fail' with a short reason. Then write \\boxed{true} if every condition "
                "passes, else \\boxed{false}."
            ),
        },
    ]


def graph_messages(title: str, text: str) -> list[dict[str, str]]:
    """Ask for an entity's features and related entities as JSON."""
    return [
        {
            "role": "user",
            "content": (
                "Read the page and reply with JSON only: "
                '{"features": [two short facts about the subject, without its name], '
                '"related": [up to two names of specific people, places, works or organisations '
                "mentioned in the page; no generic concepts, no newspapers or websites]}.\n\n"
                f"Page title: {title}\nPage:\n{text}"
            ),
        }
    ]


def compose_messages(
    constraints: Sequence[str], answer_type: str = "entity"
) -> list[dict[str, Any]]:
    """Ask for one natural question whose answer is the entity the constraints describe."""
    lines = "\n".join(f"- {c}" for c in constraints)
    return [
        {
            "role": "user",
            "content": (
                f"Write one natural question asking for the {answer_type} X described by all "
                "these clues. "
                "Do not name X. Keep every clue vague but true. Reply with the question only.\n"
                f"Clues:\n{lines}"
            ),
        }
    ]
