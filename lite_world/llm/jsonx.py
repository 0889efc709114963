"""Find the JSON a model meant to write, inside whatever else it wrote.

Models wrap JSON in prose, code fences, trailing commas, single quotes and half-finished
lists. :func:`extract_json` tries, in order: the whole text, every fenced block, then every
balanced ``{...}`` / ``[...]`` span (read by :func:`lite_world.lenient_json.loads_lenient`); ``None`` when
nothing parses, never raises.

Example:
    >>> extract_json('Sure! Here it is:\\n```json\\n{"a": 1,}\\n```\\nHope it helps.')
    {'a': 1}
    >>> extract_json("pairs: [{'q': 'x', 'a': 'y'}] done")
    [{'q': 'x', 'a': 'y'}]
    >>> extract_json("no json here") is None
    True
    >>> extract_json('{"a": [1, 2', want=dict) is None   # truncated output
    True
"""

from __future__ import annotations

import re
from typing import Any

from lite_world.lenient_json import loads_lenient

__all__ = ["extract_json", "balanced_spans"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _loads(text: str) -> Any:
    value, error = loads_lenient(text)
    return _MISS if error is not None else value


_MISS = object()


def balanced_spans(text: str, max_spans: int = 20) -> list[str]:
    """Substrings that start with ``{``/``[`` and end at the matching bracket (strings respected).

    Example:
        >>> balanced_spans('x {"a": "}"} y [1, [2]]')
        ['{"a": "}"}', '[1, [2]]']
    """
    spans: list[str] = []
    i, n = 0, len(text)
    while i < n and len(spans) < max_spans:
        if text[i] not in "{[":
            i += 1
            continue
        depth, j, quote, esc = 0, i, "", False
        end = -1
        while j < n:
            c = text[j]
            if quote:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == quote:
                    quote = ""
            elif c in "\"'":
                quote = c
            elif c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    end = j
                    break
            j += 1
        if end < 0:
            i += 1
            continue
        spans.append(text[i : end + 1])
        i = end + 1
    return spans


def extract_json(text: str, want: type | None = None) -> Any:
    """The first JSON value found in ``text`` (of type ``want`` when given), else ``None``."""
    if not isinstance(text, str) or not text.strip():
        return None
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for cand in list(candidates):
        candidates.extend(balanced_spans(cand))
    for cand in candidates:
        if not cand or cand[0] not in "{[":
            continue
        value = _loads(cand)
        if value is _MISS:
            continue
        if want is None or isinstance(value, want):
            return value
    return None
