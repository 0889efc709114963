"""Parse an agent's turn into one action: a tool call, an answer, or an error.

Two action formats are supported:

* ``"tool_call"`` (LiteResearcher / Tongyi DeepResearch): optional ``<think>…</think>``, then
  either ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` or ``<answer>…</answer>``.
  Tool results come back as ``<tool_response>\\n…\\n</tool_response>``.
* ``"tags"`` (Search-R1): ``<search>query</search>`` or ``<answer>…</answer>``; results come
  back inside ``<information>…</information>``.

Rules shared by both formats:

* Text from a hallucinated result tag (``<tool_response>`` / ``<information>``) onward is cut.
* Reasoning is the text before the first ``</think>`` (after ``<think>`` when present; chat
  templates often put ``<think>`` in the prompt). Calls and answers are looked for only in the
  text after ``</think>``, or in the whole text when there is no ``</think>``.
* Only the first call of a turn is used; ``n_calls`` counts all of them. A missing closing tag at
  the end of the text is tolerated, since generation stops at the closing tag (see
  :func:`complete_stop`).
* A call wins over an answer in the same turn; ignored parts are described in ``note``.
* The answer is the content of the last complete ``<answer>…</answer>`` block, stripped.
* Tool names and argument values are NOT validated here; the env checks them against its tools.

:func:`parse_action` never raises for any input text: every string is a legal action. It uses
``str.find`` scans only (linear time) and rejects texts longer than ``max_chars`` up front.

Example:
    >>> a = parse_action('<think>plan</think><tool_call>{"name": "search", '
    ...                  '"arguments": {"query": ["Nile length"]}}</tool_call>')
    >>> a.kind, a.call, a.think
    ('tool', ToolCall(name='search', arguments={'query': ['Nile length']}), 'plan')
    >>> parse_action("<think>done</think><answer>6650 km</answer>").answer
    '6650 km'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from lite_world.config import check_int
from lite_world.errors import ConfigError
from lite_world.lenient_json import loads_lenient

__all__ = [
    "ActionFormat",
    "ACTION_FORMATS",
    "ActionKind",
    "ToolCall",
    "ParsedAction",
    "DEFAULT_MAX_CHARS",
    "check_action_format",
    "parse_action",
    "format_tool_response",
    "stop_sequences",
    "complete_stop",
]

ActionFormat = Literal["tool_call", "tags"]
ACTION_FORMATS: tuple[str, ...] = get_args(ActionFormat)
ActionKind = Literal["tool", "answer", "error", "none"]

DEFAULT_MAX_CHARS = 200_000

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
_CALL_OPEN, _CALL_CLOSE = "<tool_call>", "</tool_call>"
_RESPONSE_OPEN = "<tool_response>"
_SEARCH_OPEN, _SEARCH_CLOSE = "<search>", "</search>"
_INFO_OPEN, _INFO_CLOSE = "<information>", "</information>"

_CALL_EXAMPLE = '<tool_call>{"name": "search", "arguments": {"query": ["..."]}}</tool_call>'
_SEARCH_EXAMPLE = "<search>your query</search>"
_IN_ANSWER = "in <answer></answer>"
_UNCLOSED = "<answer> was opened but not closed with </answer>"


@dataclass(frozen=True)
class ToolCall:
    """One tool call: a tool name and its keyword arguments (not yet validated).

    Example:
        >>> ToolCall("visit", {"url": "https://a.org", "goal": "founding year"}).name
        'visit'
    """

    name: str
    arguments: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class ParsedAction:
    """The outcome of parsing one agent turn.

    Invariants: ``call`` is set iff ``kind == "tool"``; ``answer`` is set iff
    ``kind == "answer"``; ``error`` is set iff ``kind`` is ``"error"`` or ``"none"`` and is a
    message meant to be shown to the agent as the tool response.

    Attributes:
        kind: ``"tool"``, ``"answer"``, ``"error"`` (malformed call or text) or ``"none"``
            (neither a call nor an answer).
        call: The first tool call of the turn.
        answer: The content of the last complete answer block, stripped.
        error: What was wrong and which format is expected.
        n_calls: How many call openings (``<tool_call>`` or ``<search>``) the turn has.
        think: The reasoning text, stripped, or ``None`` when there is no ``</think>``.
        note: Ignored parts of the turn (extra calls, an answer beside a call, hallucinated
            tool responses), or ``None``.

    Example:
        >>> ParsedAction("answer", answer="Paris").kind
        'answer'
    """

    kind: ActionKind
    call: ToolCall | None = None
    answer: str | None = None
    error: str | None = None
    n_calls: int = 0
    think: str | None = None
    note: str | None = None


def check_action_format(action_format: str) -> str:
    """Return ``action_format`` if it is supported, else raise :class:`ConfigError`.

    Example:
        >>> check_action_format("tags")
        'tags'
        >>> check_action_format("xml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects action_format to be one of (...), actual: 'xml'.
    """
    if action_format not in ACTION_FORMATS:
        raise ConfigError(
            f"Expects action_format to be one of {ACTION_FORMATS}, actual: {action_format!r}."
        )
    return action_format


def parse_action(
    text: Any, action_format: ActionFormat = "tool_call", *, max_chars: int = DEFAULT_MAX_CHARS
) -> ParsedAction:
    """Parse one agent turn. Never raises for any ``text``; bad text gives kind ``"error"``.

    Args:
        text: The assistant text of one turn (a non-``str`` gives kind ``"error"``).
        action_format: ``"tool_call"`` or ``"tags"``.
        max_chars: Longer texts are rejected unparsed with kind ``"error"``.

    Returns:
        The parsed action.

    Raises:
        ConfigError: ``action_format`` or ``max_chars`` is invalid (a caller bug, not agent text).

    Example:
        >>> parse_action('<tool_call>{"name": "visit", "arguments": '
        ...              '{"url": "https://a.org", "goal": "age"}}').call.arguments
        {'url': 'https://a.org', 'goal': 'age'}
        >>> parse_action("<search> nile </search>", "tags").call
        ToolCall(name='search', arguments={'query': ['nile']})
        >>> parse_action("I am not sure.").kind
        'none'
    """
    check_action_format(action_format)
    check_int("max_chars", max_chars, low=1)
    if not isinstance(text, str):
        return ParsedAction(
            "error", error=f"Error: Expects the action to be a str, actual: {type(text).__name__}."
        )
    if len(text) > max_chars:
        return ParsedAction(
            "error",
            error=(
                f"Error: The response is too long ({len(text)} characters; at most {max_chars} "
                "are accepted). Keep your reasoning shorter, then make one tool call or answer."
            ),
        )
    if action_format == "tool_call":
        return _parse_tool_call_format(text)
    return _parse_tags_format(text)


def format_tool_response(text: str, action_format: ActionFormat = "tool_call") -> str:
    """Wrap a tool result the way the agent's format expects it.

    Example:
        >>> format_tool_response("result")
        '<tool_response>\\nresult\\n</tool_response>'
        >>> format_tool_response("result", "tags")
        '\\n\\n<information>result</information>\\n\\n'
    """
    check_action_format(action_format)
    if action_format == "tool_call":
        return f"{_RESPONSE_OPEN}\n{text}\n</tool_response>"
    return f"\n\n{_INFO_OPEN}{text}{_INFO_CLOSE}\n\n"


def stop_sequences(action_format: ActionFormat = "tool_call") -> list[str]:
    """Stop strings for generating one turn in ``action_format`` (a fresh list).

    Only the opening of a tool result stops a turn: a model that writes it is inventing the
    result, and the text from there on is cut (as LiteResearcher's and Tongyi's inference stop
    at ``<tool_response>``). Otherwise the policy ends its turn itself with its end-of-turn token
    (``<|im_end|>`` in ChatML), which trainers train like any other policy token; see
    :mod:`lite_world.agents.turns`. A server that drops the matched stop string needs no
    repair: :func:`complete_stop` leaves opening tags off.

    Example:
        >>> stop_sequences()
        ['\\n<tool_response>', '<tool_response>']
        >>> stop_sequences("tags")
        ['\\n<information>', '<information>']
    """
    check_action_format(action_format)
    if action_format == "tool_call":
        return ["\n" + _RESPONSE_OPEN, _RESPONSE_OPEN]
    return ["\n" + _INFO_OPEN, _INFO_OPEN]


def complete_stop(text: str, stop_str: str | None) -> str:
    """Re-append a closing-tag stop string that the generation server dropped.

    The env's own stop strings (:func:`stop_sequences`) are tool-result openings, which mark a
    hallucinated result and are left off, so for them the text is returned unchanged. A caller
    that stops at a closing tag of its own (``</…>``) gets it back, since the env needs it to
    parse the action. ``None`` (the turn ended on the end-of-turn token or the token limit) and
    a text that already ends with the stop string are returned unchanged.

    Example:
        >>> complete_stop("<think>a</think>", "<tool_response>")
        '<think>a</think>'
        >>> complete_stop("<answer>x</answer>", None)
        '<answer>x</answer>'
        >>> complete_stop('<tool_call>{"name": "search"', "</tool_call>")
        '<tool_call>{"name": "search"</tool_call>'
    """
    if not stop_str or not stop_str.startswith("</") or text.endswith(stop_str):
        return text
    return text + stop_str


# --------------------------------------------------------------------------- internals


def _parse_tool_call_format(text: str) -> ParsedAction:
    notes: list[str] = []
    text, cut = _cut_at(text, _RESPONSE_OPEN)
    if cut:
        notes.append(
            "Text from <tool_response> onward was ignored: "
            "tool responses come from the environment."
        )
    think, body = _split_think(text)
    n_calls = body.count(_CALL_OPEN)
    answer = _last_answer(body)
    if n_calls == 0:
        return _answer_or_none(answer, body, think, notes, _no_call_error_tool_call)
    _note_ignored(notes, n_calls, "tool calls", answer)
    payload = _first_block(body, _CALL_OPEN, _CALL_CLOSE)
    call, error = _decode_call(payload)
    if error is not None:
        error = f"Error: Invalid tool call JSON. {error}. A tool call must be {_CALL_EXAMPLE}"
        return ParsedAction("error", error=error, n_calls=n_calls, think=think, note=_join(notes))
    return ParsedAction("tool", call=call, n_calls=n_calls, think=think, note=_join(notes))


def _parse_tags_format(text: str) -> ParsedAction:
    notes: list[str] = []
    text, cut = _cut_at(text, _INFO_OPEN)
    if cut:
        notes.append(
            "Text from <information> onward was ignored: search results come from the environment."
        )
    think, body = _split_think(text)
    n_calls = body.count(_SEARCH_OPEN)
    answer = _last_answer(body)
    if n_calls == 0:
        return _answer_or_none(answer, body, think, notes, _no_call_error_tags)
    _note_ignored(notes, n_calls, "searches", answer)
    query = _first_block(body, _SEARCH_OPEN, _SEARCH_CLOSE).strip()
    if not query:
        error = f"Error: Empty search query. Search with {_SEARCH_EXAMPLE}."
        return ParsedAction("error", error=error, n_calls=n_calls, think=think, note=_join(notes))
    call = ToolCall("search", {"query": [query]})
    return ParsedAction("tool", call=call, n_calls=n_calls, think=think, note=_join(notes))


def _answer_or_none(
    answer: str | None,
    body: str,
    think: str | None,
    notes: list[str],
    no_call_error: Callable[[bool], str],
) -> ParsedAction:
    if answer is not None:
        return ParsedAction("answer", answer=answer, think=think, note=_join(notes))
    error = no_call_error(_ANSWER_OPEN in body)
    return ParsedAction("none", error=error, think=think, note=_join(notes))


def _no_call_error_tool_call(unclosed_answer: bool) -> str:
    what = "No tool call or answer found"
    if unclosed_answer:
        what = f"No tool call or complete answer found ({_UNCLOSED})"
    return (
        f"Error: {what}. Call a tool with {_CALL_EXAMPLE}, or give your final answer {_IN_ANSWER}."
    )


def _no_call_error_tags(unclosed_answer: bool) -> str:
    what = "No search or answer found"
    if unclosed_answer:
        what = f"No search or complete answer found ({_UNCLOSED})"
    return f"Error: {what}. Search with {_SEARCH_EXAMPLE}, or give your final answer {_IN_ANSWER}."


def _note_ignored(notes: list[str], n_calls: int, plural: str, answer: str | None) -> None:
    if n_calls > 1:
        notes.append(f"Only the first of {n_calls} {plural} was used; the others were ignored.")
    if answer is not None:
        notes.append("The <answer> beside the call was ignored; answer in a turn without a call.")


def _join(notes: list[str]) -> str | None:
    return " ".join(notes) if notes else None


def _cut_at(text: str, tag: str) -> tuple[str, bool]:
    i = text.find(tag)
    return (text, False) if i < 0 else (text[:i], True)


def _split_think(text: str) -> tuple[str | None, str]:
    """Return (think, body): think before the first </think>, body after it."""
    end = text.find(_THINK_CLOSE)
    if end < 0:
        return None, text
    start = text.find(_THINK_OPEN, 0, end)
    start = 0 if start < 0 else start + len(_THINK_OPEN)
    return text[start:end].strip(), text[end + len(_THINK_CLOSE) :]


def _last_answer(body: str) -> str | None:
    """Content of the last complete answer block, scanning like a non-greedy regex."""
    found: str | None = None
    pos = 0
    while True:
        start = body.find(_ANSWER_OPEN, pos)
        if start < 0:
            return found
        end = body.find(_ANSWER_CLOSE, start + len(_ANSWER_OPEN))
        if end < 0:
            return found
        found = body[start + len(_ANSWER_OPEN) : end].strip()
        pos = end + len(_ANSWER_CLOSE)


def _first_block(body: str, open_tag: str, close_tag: str) -> str:
    """Content of the first block; it ends at its closing tag, the next opening tag, or the end."""
    start = body.find(open_tag) + len(open_tag)
    end = len(body)
    for tag in (close_tag, open_tag):
        i = body.find(tag, start)
        if 0 <= i < end:
            end = i
    return body[start:end]


def _strip_fences(payload: str) -> str:
    payload = payload.strip()
    if payload.startswith("```"):
        newline = payload.find("\n")
        payload = payload[newline + 1 :] if newline >= 0 else payload[3:]
        if payload.rstrip().endswith("```"):
            payload = payload.rstrip()[:-3]
    return payload.strip()


def _loads_lenient(payload: str) -> tuple[Any, str | None]:
    """JSON, a Python literal or JSON5-style text (bounded time: see :mod:`lite_world.lenient_json`)."""
    return loads_lenient(payload)


def _decode_call(payload: str) -> tuple[ToolCall | None, str | None]:
    """Decode a tool-call payload into a ToolCall, or return a reason it is malformed."""
    payload = _strip_fences(payload)
    if not payload:
        return None, "The <tool_call> block is empty"
    obj, detail = _loads_lenient(payload)
    if detail is not None:
        return None, f"Could not parse it: {detail}"
    if not isinstance(obj, dict):
        return None, f"Expects a JSON object, actual: {_type_name(obj)}"
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        actual = "missing" if name is None else _type_name(name)
        actual = repr(name) if isinstance(name, str) else actual
        return None, f'Expects a non-empty string "name", actual: {actual}'
    key = "arguments" if "arguments" in obj or "parameters" not in obj else "parameters"
    args = obj.get(key)
    if isinstance(args, str):
        decoded, _ = _loads_lenient(args.strip() or "{}")
        args = decoded if isinstance(decoded, dict) else args
    if not isinstance(args, dict):
        actual = "missing" if key not in obj else _type_name(args)
        return None, f'Expects "arguments" to be a JSON object, actual: {actual}'
    if not all(isinstance(k, str) for k in args):
        return None, 'Expects the keys of "arguments" to be strings, actual: a non-string key'
    return ToolCall(name.strip(), dict(args)), None


def _type_name(obj: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(obj), "number" if isinstance(obj, (int, float)) else type(obj).__name__)
