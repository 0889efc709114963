"""Tests for lite_world.tools.prompts: system/user prompts and tool schemas."""

from __future__ import annotations

import json

import pytest

from lite_world.errors import ConfigError, TaskError
from lite_world.tools.prompts import (
    DEFAULT_DATE,
    episode_messages,
    render_prompt_text,
    system_prompt,
    tool_schemas,
    tools_block,
    user_prompt,
)
from lite_world.tools.protocol import parse_action

TOOL_SCHEMAS = tool_schemas()


def _tools_lines(prompt: str) -> list[str]:
    start = prompt.index("<tools>\n") + len("<tools>\n")
    end = prompt.index("\n</tools>")
    return prompt[start:end].split("\n")


def test_search_schema():
    search = TOOL_SCHEMAS[0]
    assert search["type"] == "function"
    fn = search["function"]
    assert fn["name"] == "search"
    assert fn["parameters"]["required"] == ["query"]
    assert fn["parameters"]["properties"]["query"]["type"] == "array"
    assert fn["parameters"]["properties"]["query"]["items"] == {"type": "string"}
    assert fn["parameters"]["properties"]["query"]["minItems"] == 1
    assert "one query or several queries" in fn["description"]
    assert "up to 10 results" in fn["description"]


def test_visit_schema():
    fn = TOOL_SCHEMAS[1]["function"]
    assert fn["name"] == "visit"
    assert fn["parameters"]["required"] == ["url", "goal"]
    # the protocol's schema type: an array of strings (a string is still accepted, see test_visit_tool)
    assert fn["parameters"]["properties"]["url"]["type"] == "array"
    assert fn["parameters"]["properties"]["url"]["items"] == {"type": "string"}
    assert fn["parameters"]["properties"]["goal"]["type"] == "string"


def test_tool_schemas_is_a_deep_copy():
    copies = tool_schemas()
    copies[0]["function"]["name"] = "changed"
    copies[0]["function"]["parameters"]["required"].append("x")
    assert tool_schemas()[0]["function"]["name"] == "search"
    assert tool_schemas()[0]["function"]["parameters"]["required"] == ["query"]


def test_system_prompt_tools_block_has_both_schemas_as_json_lines():
    prompt = system_prompt(date=DEFAULT_DATE)
    lines = _tools_lines(prompt)
    assert [json.loads(line) for line in lines] == list(TOOL_SCHEMAS)
    assert "\n".join(lines) == tools_block()


def test_system_prompt_structure():
    prompt = system_prompt(date="2025-12-26")
    assert prompt.startswith("You are a deep research assistant")
    order = [
        "- search:",
        "- visit:",
        "making a plan",
        "<think>your reasoning</think>\n<tool_call>",
        "<think>your reasoning</think>\n<answer>your final answer</answer>",
        "<tools>",
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>',
        "# Answer rules",
        "short phrase",
        "answer yes or no",
        "Current date: 2025-12-26",
    ]
    positions = [prompt.index(part) for part in order]
    assert positions == sorted(positions)
    assert prompt.endswith("\n\nCurrent date: 2025-12-26")


def test_system_prompt_without_date():
    assert "Current date" not in system_prompt()
    assert system_prompt().endswith(
        "Answer once you are confident, or once further research cannot help."
    )


def test_template_example_call_parses():
    example = '<tool_call>\n{"name": "search", "arguments": {"query": ["x"]}}\n</tool_call>'
    assert example.split("\n")[1].startswith('{"name": ')
    assert parse_action(example).call.arguments == {"query": ["x"]}


def test_tags_system_prompt():
    prompt = system_prompt("tags", date="2025-12-26")
    for part in ["<think>", "<search> your query </search>", "<information>", "<answer>"]:
        assert part in prompt
    assert "<tool_call>" not in prompt
    assert prompt.endswith("\n\nCurrent date: 2025-12-26")


@pytest.mark.parametrize("date", ["2025-13-01", "26/12/2025", "2025-1-1", 20251226])
def test_bad_date(date):
    with pytest.raises(ConfigError, match="Expects date as YYYY-MM-DD, actual: "):
        system_prompt(date=date)


def test_bad_format():
    with pytest.raises(ConfigError, match="Expects action_format to be one of"):
        system_prompt("xml")


def test_user_prompt():
    assert user_prompt("Who wrote Dune?") == "Who wrote Dune?"
    assert user_prompt("Who wrote Dune?", "tags") == "Question: Who wrote Dune?"
    with pytest.raises(TaskError, match="Expects the question to be a str, actual: int"):
        user_prompt(3)


def test_episode_messages():
    messages = episode_messages("Who wrote Dune?")
    assert messages == [
        {"role": "system", "content": system_prompt("tool_call", "2025-12-26")},
        {"role": "user", "content": "Who wrote Dune?"},
    ]
    tags = episode_messages("Q?", "tags", date=None)
    assert tags == [
        {"role": "system", "content": system_prompt("tags")},
        {"role": "user", "content": "Question: Q?"},
    ]


def test_prompts_are_deterministic():
    assert episode_messages("q") == episode_messages("q")


def test_render_prompt_text():
    messages = episode_messages("Who wrote Dune?", date=None)
    assert render_prompt_text(messages) == (f"system:\n{system_prompt()}\n\nuser:\nWho wrote Dune?")
    assert render_prompt_text([]) == ""


def test_render_prompt_text_rejects_bad_messages():
    with pytest.raises(ConfigError, match=r"Expects messages\[1\] to be a dict"):
        render_prompt_text([{"role": "user", "content": "x"}, {"role": "user"}])
