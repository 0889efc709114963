"""System prompts, user prompts and tool schemas for the two action formats.

The wording is lite-world's own; the structure and formats follow the LiteResearcher prompt so
that agents trained with it act unchanged: a persona line, the task, the tool list, a
plan-first instruction, the two allowed turn templates, a ``<tools>`` block with one
``{"type": "function", "function": {...}}`` schema per line, the ``<tool_call>`` template, the
answer rules and a final ``Current date: YYYY-MM-DD`` line. The env passes the fixed
:data:`DEFAULT_DATE`, so observations are deterministic.

Example:
    >>> messages = episode_messages("Who wrote Dune?")
    >>> [m["role"] for m in messages], messages[1]["content"]
    (['system', 'user'], 'Who wrote Dune?')
    >>> messages[0]["content"].splitlines()[-1]
    'Current date: 2025-12-26'
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from typing import Any

from lite_world.errors import ConfigError, TaskError
from lite_world.tools.protocol import ActionFormat, check_action_format

__all__ = [
    "DEFAULT_DATE",
    "DEFAULT_TOOLS",
    "check_date",
    "tool_schemas",
    "tools_block",
    "system_prompt",
    "user_prompt",
    "episode_messages",
    "render_prompt_text",
]

DEFAULT_DATE = "2025-12-26"
"""The fixed date on the built-in prompt's last line (episodes are deterministic)."""
#: Tools of the built-in prompt when none are named (``LiteSearchConfig.tools``' default).
DEFAULT_TOOLS: tuple[str, ...] = ("search", "visit")
_COUNT_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_TOOL_CALL_TEMPLATE = """\
You are a deep research assistant: you answer hard questions by searching the web and reading \
pages, and you do not stop until the evidence is solid.

Your task is to answer a question that needs several steps of research. You have {n_tools} tool{plural}:
{tool_list}

Start by making a plan: what you need to find out, and in which order. Then follow it, adjust it \
when you learn something new, and check key facts in more than one source.

Every reply you write has exactly one of these two forms:
1. Reason, then call one tool:
<think>your reasoning</think>
<tool_call>
{{"name": "tool name", "arguments": {{...}}}}
</tool_call>
2. Reason, then give the final answer:
<think>your reasoning</think>
<answer>your final answer</answer>

# Tools

You may call one of the functions below per reply. Their signatures are inside <tools></tools>:
<tools>
{tools}
</tools>

To call a function, write a JSON object with its name and arguments inside <tool_call></tool_call>:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>
The result comes back inside <tool_response></tool_response>.

# Answer rules
- Put only the answer inside <answer></answer>: a short phrase such as a name, a date or a \
number, with no explanation.
- If the question asks yes or no, answer yes or no.
- Answer once you are confident, or once further research cannot help."""

_TAGS_TEMPLATE = """\
You answer questions with the help of a search engine.

Reason inside <think> and </think> first, and again every time you get new information.
If you need knowledge you do not have, search for it by writing <search> your query </search>. \
The top results come back between <information> and </information>. You may search as often as \
you need, one query per search.
When no more information is needed, write the final answer inside <answer> and </answer> as a \
short phrase with no explanation, for example <answer> Paris </answer>. If the question asks yes \
or no, answer yes or no."""


def tool_schemas(tools: Sequence[str] = DEFAULT_TOOLS) -> list[dict[str, Any]]:
    """The OpenAI-style function schemas of ``tools`` (fresh dicts, e.g. for a chat template's ``tools=``).

    Example:
        >>> [s["function"]["name"] for s in tool_schemas()]
        ['search', 'visit']
        >>> tool_schemas()[1]["function"]["parameters"]["properties"]["url"]["type"]
        'array'
    """
    from lite_world.tools.registry import resolve_tool

    return [resolve_tool(name).schema() for name in tools]


def tools_block(tools: Sequence[str] = DEFAULT_TOOLS) -> str:
    """The tool schemas as JSON, one per line, as they appear inside ``<tools>``.

    Example:
        >>> line = tools_block().splitlines()[0]
        >>> json.loads(line)["function"]["parameters"]["required"]
        ['query']
    """
    return "\n".join(json.dumps(schema, ensure_ascii=False) for schema in tool_schemas(tools))


def system_prompt(
    action_format: ActionFormat = "tool_call",
    date: str | None = None,
    tools: Sequence[str] = DEFAULT_TOOLS,
) -> str:
    """Return the built-in system prompt for ``action_format`` and ``tools``.

    Args:
        action_format: ``"tool_call"`` (LiteResearcher-style tools) or ``"tags"`` (Search-R1).
        date: ``YYYY-MM-DD`` appended as a final ``Current date: …`` line; ``None`` for no line.
            The env passes :data:`DEFAULT_DATE`.
        tools: tool names (registered or ``module:Class``) listed, with their schemas, in the
            ``"tool_call"`` prompt; the ``"tags"`` prompt only knows ``<search>``.

    Raises:
        ConfigError: Unknown ``action_format`` or tool, or a malformed ``date``.

    Example:
        >>> p = system_prompt(date="2025-12-26")
        >>> "<tools>" in p and '"name": "visit"' in p, p.endswith("\\nCurrent date: 2025-12-26")
        (True, True)
        >>> "<search>" in system_prompt("tags"), "Current date" in system_prompt("tags")
        (True, False)
    """
    check_action_format(action_format)
    if action_format == "tool_call":
        from lite_world.tools.registry import resolve_tool

        classes = [resolve_tool(name) for name in tools]
        n = len(classes)
        prompt = _TOOL_CALL_TEMPLATE.format(
            n_tools=_COUNT_WORDS[n] if n < len(_COUNT_WORDS) else str(n),
            plural="" if n == 1 else "s",
            tool_list="\n".join(f"- {c.name}: {c.summary}" for c in classes),
            tools=tools_block(tools),
        )
    else:
        prompt = _TAGS_TEMPLATE
    if date is not None:
        prompt += f"\n\nCurrent date: {check_date(date)}"
    return prompt


def user_prompt(question: str, action_format: ActionFormat = "tool_call") -> str:
    """Return the user message: the question itself, or ``"Question: …"`` for ``"tags"``.

    Raises:
        TaskError: ``question`` is not a string.

    Example:
        >>> user_prompt("Who wrote Dune?"), user_prompt("Who wrote Dune?", "tags")
        ('Who wrote Dune?', 'Question: Who wrote Dune?')
    """
    check_action_format(action_format)
    if not isinstance(question, str):
        raise TaskError(f"Expects the question to be a str, actual: {type(question).__name__}.")
    return question if action_format == "tool_call" else f"Question: {question}"


def episode_messages(
    question: str,
    action_format: ActionFormat = "tool_call",
    date: str | None = DEFAULT_DATE,
    *,
    tools: Sequence[str] = DEFAULT_TOOLS,
    custom_prompt: str | None = None,
) -> list[dict[str, str]]:
    """Return the OpenAI-style ``[system, user]`` messages that start an episode.

    ``custom_prompt`` (``LiteSearchConfig.system_prompt``'s text) replaces the built-in system
    prompt verbatim: no tool list and no date line are added to it.

    Example:
        >>> msgs = episode_messages("Is the Nile longer than the Amazon?", "tags", date=None)
        >>> msgs[1]
        {'role': 'user', 'content': 'Question: Is the Nile longer than the Amazon?'}
        >>> episode_messages("Q?", custom_prompt="Be brief.")[0]["content"]
        'Be brief.'
    """
    system = (
        custom_prompt if custom_prompt is not None else system_prompt(action_format, date, tools)
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user_prompt(question, action_format)},
    ]


def render_prompt_text(messages: list[dict[str, str]]) -> str:
    """Render chat messages as one plain string, for envs whose observation is a string.

    Each message becomes ``"{role}:\\n{content}"``; messages are joined by a blank line.
    This is a readable transcript, not a model chat template.

    Raises:
        ConfigError: A message is not a dict with string ``role`` and ``content``.

    Example:
        >>> render_prompt_text([{"role": "system", "content": "Be brief."},
        ...                     {"role": "user", "content": "Hi"}])
        'system:\\nBe brief.\\n\\nuser:\\nHi'
    """
    parts = []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(role, str) or not isinstance(content, str):
            raise ConfigError(
                f"Expects messages[{i}] to be a dict with str 'role' and 'content', "
                f"actual: {message!r:.200}."
            )
        parts.append(f"{role}:\n{content}")
    return "\n\n".join(parts)


def check_date(date: str) -> str:
    """Return ``date`` if it is ``YYYY-MM-DD``, else raise :class:`ConfigError`.

    Example:
        >>> check_date("2025-02-30")
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects date as YYYY-MM-DD, actual: '2025-02-30'.
    """
    try:
        if not isinstance(date, str) or len(date) != 10:
            raise ValueError(date)
        _dt.date.fromisoformat(date)
    except ValueError:
        raise ConfigError(f"Expects date as YYYY-MM-DD, actual: {date!r}.") from None
    return date
