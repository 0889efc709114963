"""Every string is a legal action: malformed turns become observations, never exceptions.

Each malformed turn sets ``info["error"]``, counts in ``info["totals"]["errors"]``, and leaves
the episode intact: the next valid search returns what it returned before, the turn counter
grows by one per step and the messages by two per non-answer step.
"""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lite_world.sanitize import clean_text

BUBYE = "2hop__205146_62031"
BUBYE_URL = "https://en.wikipedia.org/wiki/Bubye_River"
CALL_EXAMPLE = '<tool_call>{"name": "search", "arguments": {"query": ["..."]}}</tool_call>'
NO_CALL = (
    f"Error: No tool call or answer found. Call a tool with {CALL_EXAMPLE}, "
    "or give your final answer in <answer></answer>."
)
SEARCH_ERROR = "[Search] Invalid request format: "
VISIT_ERROR = "[Visit] Invalid request format: "


def tool_call(name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def json_error(reason: str) -> str:
    return f"Error: Invalid tool call JSON. {reason}. A tool call must be {CALL_EXAMPLE}"


def not_a_str(type_name: str) -> str:
    return f"Error: Expects the action to be a str, actual: {type_name}."


VALID_SEARCH = tool_call("search", query=["Bubye River"])

# name: (action, observation body, info["error"], info["action_kind"])
MALFORMED = {
    "malformed_json": (
        '<tool_call>{"name": "search", "arguments": {"query": ["a"]</tool_call>',
        json_error("Could not parse it: unexpected end of the text"),
        None,
        "error",
    ),
    "json_array": (
        '<tool_call>["search", "Bubye"]</tool_call>',
        json_error("Expects a JSON object, actual: array"),
        None,
        "error",
    ),
    "empty_call": (
        "<tool_call></tool_call>",
        json_error("The <tool_call> block is empty"),
        None,
        "error",
    ),
    "no_name": (
        '<tool_call>{"arguments": {"query": ["a"]}}</tool_call>',
        json_error('Expects a non-empty string "name", actual: missing'),
        None,
        "error",
    ),
    "unknown_tool": (
        tool_call("browse", url=BUBYE_URL),
        "Error: Tool browse not found. Available tools: search, visit.",
        "unknown_tool",
        "tool",
    ),
    "missing_query": (
        tool_call("search", q=["Bubye River"]),
        SEARCH_ERROR + "missing required argument 'query' (a non-empty list of strings).",
        "invalid_arguments",
        "tool",
    ),
    "missing_url": (
        tool_call("visit", goal="country"),
        "[Visit] Invalid request format: missing required argument 'url' (a non-empty list of strings).",
        "invalid_arguments",
        "tool",
    ),
    "missing_goal": (
        tool_call("visit", url=BUBYE_URL),
        "[Visit] Invalid request format: missing required argument 'goal' (a string).",
        "invalid_arguments",
        "tool",
    ),
    "missing_url_and_goal": (
        tool_call("visit"),
        "[Visit] Invalid request format: missing required argument 'url' (a non-empty list of strings).",
        "invalid_arguments",
        "tool",
    ),
    "query_not_a_list": (
        tool_call("search", query=5),
        SEARCH_ERROR + "'query' must be a non-empty list of strings, actual: an integer.",
        "invalid_arguments",
        "tool",
    ),
    "query_empty_list": (
        tool_call("search", query=[]),
        SEARCH_ERROR + "'query' must be a non-empty list of strings, actual: an empty list.",
        "invalid_arguments",
        "tool",
    ),
    "url_not_a_str": (
        tool_call("visit", url=7, goal="country"),
        VISIT_ERROR + "'url' must be a non-empty list of strings, actual: an integer.",
        "invalid_arguments",
        "tool",
    ),
    "goal_blank": (
        tool_call("visit", url=BUBYE_URL, goal="  "),
        VISIT_ERROR + "'goal' must say what to look for in the page.",
        "invalid_arguments",
        "tool",
    ),
    "one_megabyte": (
        "x" * 1_000_000,
        (
            "Error: The response is too long (1000000 characters; at most 200000 are accepted). "
            "Keep your reasoning shorter, then make one tool call or answer."
        ),
        None,
        "error",
    ),
    "control_characters": ("\x00\x01\x1b[31m\x7f\ud800", NO_CALL, None, "none"),
    "none": (None, not_a_str("NoneType"), None, "error"),
    "int": (123, not_a_str("int"), None, "error"),
    "bytes": (b"<answer>Victoria Falls</answer>", not_a_str("bytes"), None, "error"),
    "empty_string": ("", NO_CALL, None, "none"),
    "plain_text": ("I think the answer is Victoria Falls.", NO_CALL, None, "none"),
    "unclosed_answer": (
        "<answer>Victoria Falls",
        (
            "Error: No tool call or complete answer found (<answer> was opened but not closed with "
            f"</answer>). Call a tool with {CALL_EXAMPLE}, or give your final answer in "
            "<answer></answer>."
        ),
        None,
        "none",
    ),
}


@pytest.fixture
def env(make_env):
    env = make_env()
    env.reset(seed=0, options={"task_id": BUBYE})
    return env


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_action_is_an_observation_and_the_env_keeps_working(env, name):
    action, body, error, kind = MALFORMED[name]
    reference, _, _, _, info = env.step(VALID_SEARCH)
    assert (info["turn"], len(info["messages"]), info["totals"]["errors"]) == (1, 4, 0)

    obs, reward, terminated, truncated, info = env.step(action)
    assert obs == f"<tool_response>\n{body}\n</tool_response>"
    assert (reward, terminated, truncated, info["action_kind"]) == (0.0, False, False, kind)
    assert info["error"] == (error or {"error": "parse_error", "none": "no_action"}[kind])
    assert info["error_message"] == body
    assert (info["turn"], len(info["messages"]), info["totals"]["errors"]) == (2, 6, 1)
    stored = action if isinstance(action, str) else ""
    assert (
        info["messages"][-2]["content"]
        == clean_text(  # stored as valid UTF-8 without NUL
            stored if len(stored) <= 200_000 else stored[:200_000] + "…"
        )
    )
    assert info["messages"][-1] == {"role": "user", "content": obs}
    assert info["totals"]["action_chars"] == len(VALID_SEARCH) + len(stored)

    obs, reward, terminated, truncated, info = env.step(VALID_SEARCH)
    assert obs == reference
    assert (reward, terminated, truncated, info["error"], info["repeat_count"]) == (
        0.0,
        False,
        False,
        None,
        2,
    )
    assert (info["turn"], len(info["messages"]), info["totals"]["errors"]) == (3, 8, 1)
    assert (info["totals"]["tool_calls"], info["totals"]["search"], info["totals"]["visit"]) == (
        2,
        2,
        0,
    )


def test_several_calls_run_the_first_and_note_the_others(env):
    reference = env.step(VALID_SEARCH)[0]
    action = VALID_SEARCH + "\n" + tool_call("visit", url=BUBYE_URL, goal="country") + VALID_SEARCH
    obs, _, _, _, info = env.step(action)
    note = "Only the first of 3 tool calls was used; the others were ignored."
    assert obs == reference[: -len("\n</tool_response>")] + f"\n\n[Note] {note}\n</tool_response>"
    assert (info["note"], info["error"], info["tool"]) == (note, None, "search")
    assert info["totals"] == {
        **info["totals"],
        "tool_calls": 2,
        "search": 2,
        "visit": 0,
        "errors": 0,
    }


def test_nul_inside_a_query_is_searched_as_a_space(env):
    obs, _, _, _, info = env.step(tool_call("search", query=["Bubye\x00River"]))
    assert obs.startswith("<tool_response>\nA Google search for 'Bubye River' found 10 results:")
    assert info["error"] is None


def test_hallucinated_tool_response_is_ignored(env):
    obs, _, terminated, _, info = env.step(
        "<tool_response>Victoria Falls</tool_response><answer>Victoria Falls</answer>"
    )
    assert obs == f"<tool_response>\n{NO_CALL}\n</tool_response>" and not terminated
    assert (
        info["note"]
        == "Text from <tool_response> onward was ignored: tool responses come from the environment."
    )


# ----------------------------------------------------------------------- random actions

FRAGMENTS = [
    "<tool_call>",
    "</tool_call>",
    "<answer>",
    "</answer>",
    "<think>",
    "</think>",
    "<tool_response>",
    "<search>",
    "</search>",
    "<information>",
    '{"name": "search"',
    '{"name": "visit"',
    '{"name": ',
    '"arguments": {',
    '"parameters": ',
    '"query": [',
    '"query": "',
    f'"url": "{BUBYE_URL}"',
    '"goal": "',
    "{",
    "}",
    "[",
    "]",
    '"',
    ",",
    ":",
    "\\",
    "\n",
    "```json\n",
    "```",
    "\x00",
    "null",
    "1e999",
    "Bubye",
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
CALLS = st.builds(
    lambda name, args: tool_call(name, **args),
    st.sampled_from(["search", "visit", "browse", "", "Search"]),
    st.dictionaries(st.sampled_from(["query", "url", "goal", "q"]), JSON_VALUES, max_size=3),
)
TEXTS = st.lists(
    st.one_of(st.text(max_size=20), st.sampled_from(FRAGMENTS), CALLS), max_size=10
).map("".join)
ACTIONS = st.one_of(TEXTS, TEXTS, TEXTS, CALLS, st.none(), st.integers(), st.binary(max_size=20))


def _check_steps(env, actions) -> None:
    env.reset(seed=0, options={"task_id": BUBYE})
    errors = 0
    for turn, action in enumerate(actions, 1):
        result = env.step(action)
        assert isinstance(result, tuple) and len(result) == 5
        obs, reward, terminated, truncated, info = result
        assert type(obs) is str and obs in env.observation_space
        assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
        assert type(info) is dict and info["turn"] == turn
        if terminated:
            assert (obs, info["action_kind"], truncated) == ("", "answer", False)
            assert 0.0 <= reward <= 1.0
            return
        assert reward == 0.0 and len(info["messages"]) == 2 + 2 * turn
        assert info["totals"]["errors"] == errors + (info["error"] is not None)
        errors = info["totals"]["errors"]
        if truncated:
            return


@pytest.fixture(scope="module")
def sparse_envs(env_kwargs):
    envs = {
        fmt: gym.make(
            "LiteSearch-v0",
            action_format=fmt,
            search_mode="sparse",
            max_episode_steps=4,
            **env_kwargs,
        )
        for fmt in ("tool_call", "tags")
    }
    yield envs
    for env in envs.values():
        env.close()


@settings(max_examples=1400, deadline=None, derandomize=True)
@given(actions=st.lists(ACTIONS, min_size=1, max_size=5))
def test_random_tool_call_actions_never_raise(sparse_envs, actions):
    _check_steps(sparse_envs["tool_call"], actions)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(actions=st.lists(ACTIONS, min_size=1, max_size=5))
def test_random_tags_actions_never_raise(sparse_envs, actions):
    _check_steps(sparse_envs["tags"], actions)
