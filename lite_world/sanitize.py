"""Cleaning text and parsed values at the boundary, once, for every backend.

Agent text can hold anything: lone surrogates, NUL bytes, non-string dict keys, integers with
thousands of digits, nesting thousands deep. Observations must be valid UTF-8 without NUL, and
tool arguments must survive JSON encoding (a served world, a trajectory file). These two
functions are the only place that cleaning is written.

Example:
    >>> clean_text("a\\x00b\\ud800c")
    'a b?c'
    >>> clean_value({"query": {1: 2, "a": (3, 10**5000)}})
    {'query': {'1': 2, 'a': [3, '<integer of 16610 bits>']}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["clean_text", "clean_value"]

MAX_DEPTH = 32
_MAX_INT_BITS = 63


def clean_text(text: str, max_chars: int | None = None) -> str:
    """``text`` as valid UTF-8 without NUL: lone surrogates become '?', NUL a space
    (agents use it as a separator).

    Args:
        text: any ``str``.
        max_chars: cut to this many characters (before cleaning, so the cost is bounded).

    Example:
        >>> clean_text("abc", max_chars=2)
        'ab'
    """
    if max_chars is not None:
        text = text[:max_chars]
    if text.isascii():
        return text.replace("\x00", " ") if "\x00" in text else text
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")


def clean_value(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON-safe copy of a parsed value (JSON, JSON5 or a Python literal).

    Strings are cleaned with :func:`clean_text`; dict keys become strings; tuples, sets and
    frozensets become lists; bytes are decoded; integers beyond 64 bits and anything else that
    JSON cannot hold become short descriptive strings; nesting deeper than ``max_depth`` is cut.
    The result always passes ``json.dumps(..., sort_keys=True)``.

    Example:
        >>> clean_value([b"\\xff", float("nan"), {None: {...}}])
        ['\\ufffd', 'nan', {'None': ['Ellipsis']}]
    """
    return _clean(value, max_depth)


def _clean(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        return (
            value
            if value.bit_length() <= _MAX_INT_BITS
            else f"<integer of {value.bit_length()} bits>"
        )
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace").replace("\x00", " ")
    if depth <= 0:
        return "<nested too deep>"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = (
                _clean(k, 0)
                if isinstance(k, (str, int, float, bool, type(None)))
                else type(k).__name__
            )
            out[key if isinstance(key, str) else str(key)] = _clean(v, depth - 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_clean(v, depth - 1) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return clean_text(repr(value), max_chars=200)
