"""Hostile agent text for fuzzing envs and tools, and the checks every step must pass.

``actions()`` is a Hypothesis strategy of turns an agent might write: well-formed and broken
tool calls (JSON, Python literals and JSON5 with non-string keys, huge integers, lone surrogates,
NUL, deep nesting, unknown tool names), answers, tags, and raw text. :func:`check_step` asserts
what ``LiteSearch-v0`` promises for every one of them. The test suite (local and served worlds)
and ``benchmarks/bench_fuzz.py`` use both; so can users fuzzing their own tools.

Needs ``hypothesis`` (``pip install 'lite-world[test]'``).

Example:
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, database=None)
    ... @given(actions())
    ... def parses(action):
    ...     from lite_world.tools.protocol import parse_action
    ...     assert parse_action(action).kind in ("tool", "answer", "error", "none")
    >>> parses()
"""

from __future__ import annotations

import json
from typing import Any

from lite_world._lazy import require

__all__ = ["actions", "tool_arguments", "check_step", "STEP_ERRORS"]

STEP_ERRORS = (
    "parse_error",
    "no_action",
    "unknown_tool",
    "invalid_arguments",
    "world_corrupted",
    "service_error",
    "tool_error",
)
"""Every ``info["error"]`` code a step may report."""

_TOOL_NAMES = [
    "search",
    "visit",
    "Search",
    "browse",
    "",
    "search\x00",
    "\ud800",
    "a" * 300,
    "__init__",
]
_URLS = [
    "https://en.wikipedia.org/wiki/Publix",
    "http://[::1",
    "file:///etc/passwd",
    "javascript:x",
    "",
    "https://e.org/\ud800",
    "https://e.org/\x00a",
    "ftp://x",
]


def tool_arguments() -> Any:
    """Strategy: argument values, JSON-shaped or not (non-string keys, bytes, huge ints, nesting)."""
    st = require("hypothesis.strategies", extra="test")
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**18, max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=40),
        st.sampled_from(_URLS),
        st.binary(max_size=10),
        st.just("\ud800\x00"),
    )
    keys = st.one_of(st.text(max_size=8), st.integers(), st.sampled_from(["query", "url", "goal"]))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.tuples(inner, inner),
            st.dictionaries(keys, inner, max_size=4),
            st.frozensets(st.integers(), max_size=3),
        ),
        max_leaves=12,
    )


def _render(name: str, arguments: Any, style: str) -> str:
    payload: Any = {"name": name, "arguments": arguments}
    if style == "json":
        try:
            body = json.dumps(payload, ensure_ascii=False)
        except (TypeError, ValueError):
            body = repr(payload)
    elif style == "python":
        try:
            body = repr(payload)
        except ValueError:  # an integer too large to print
            body = "{'name': 'search', 'arguments': 1" + "0" * 5000 + "}"
    else:  # JSON5-ish: bare keys, single quotes
        body = (
            "{name: "
            + repr(name)
            + ", arguments: "
            + (repr(arguments) if style == "json5" else "")
            + "}"
        )
    return f"<think>fuzz</think><tool_call>{body}</tool_call>"


def actions() -> Any:
    """Strategy: one agent turn (a ``str``) of any shape."""
    st = require("hypothesis.strategies", extra="test")

    calls = st.builds(
        _render,
        st.one_of(st.sampled_from(_TOOL_NAMES), st.text(max_size=20)),
        st.one_of(
            st.fixed_dictionaries({"query": tool_arguments()}),
            st.fixed_dictionaries({"url": tool_arguments(), "goal": tool_arguments()}),
            tool_arguments(),
        ),
        st.sampled_from(["json", "python", "json5", "bare"]),
    )
    nested = st.integers(min_value=1, max_value=3000).map(
        lambda n: '<tool_call>{"name": "search", "arguments": ' + "[" * n + "</tool_call>"
    )
    answers = st.text(max_size=300).map(lambda t: f"<answer>{t}</answer>")
    tags = st.text(max_size=100).map(lambda t: f"<search>{t}</search>")
    fragments = st.sampled_from(
        [
            "<tool_call>",
            "</tool_call>",
            "<answer>",
            "</answer>",
            "<think>",
            "</think>",
            "<tool_response>",
            "{",
            "}",
            '"',
            "'",
            "\x00",
            "\ud800",
            "\n",
        ]
    )
    soup = st.lists(st.one_of(fragments, st.text(max_size=20)), max_size=30).map("".join)
    return st.one_of(calls, nested, answers, tags, soup, st.text(max_size=500))


def check_step(result: tuple[Any, ...], *, after_answer: bool = False) -> None:
    """Assert the step contract: a str observation, valid UTF-8 without NUL, errors declared.

    Raises:
        AssertionError: the step broke the contract (the message says how).
    """
    obs, reward, terminated, truncated, info = result
    assert isinstance(obs, str), f"observation is {type(obs).__name__}"
    obs.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
    assert "\x00" not in obs, "NUL in the observation"
    assert (
        isinstance(reward, float) and isinstance(terminated, bool) and isinstance(truncated, bool)
    )
    if terminated:
        assert obs == "", "a terminal step has an empty observation"
        return
    assert obs, "an empty observation on a non-terminal step"
    error = info.get("error")
    assert error is None or error in STEP_ERRORS, f"unknown error code {error!r}"
    if info.get("action_kind") in ("error", "none"):
        assert error in ("parse_error", "no_action"), (
            f"malformed action without info['error']: {info!r:.300}"
        )
    json.dumps(info.get("arguments"), sort_keys=True)  # arguments are JSON-safe
