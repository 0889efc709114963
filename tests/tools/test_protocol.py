"""Tests for lite_world.tools.protocol: parsing agent turns into actions."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lite_world.errors import ConfigError
from lite_world.tools.protocol import (
    ParsedAction,
    ToolCall,
    complete_stop,
    format_tool_response,
    parse_action,
    stop_sequences,
)

CALL_EXAMPLE = '<tool_call>{"name": "search", "arguments": {"query": ["..."]}}</tool_call>'
NONE_ERROR = (
    f"Error: No tool call or answer found. Call a tool with {CALL_EXAMPLE}, "
    "or give your final answer in <answer></answer>."
)
NOTE_TWO_CALLS = "Only the first of 2 tool calls was used; the others were ignored."
NOTE_ANSWER = "The <answer> beside the call was ignored; answer in a turn without a call."


def search(*queries: str) -> ToolCall:
    return ToolCall("search", {"query": list(queries)})


def json_error(reason: str) -> str:
    return f"Error: Invalid tool call JSON. {reason}. A tool call must be {CALL_EXAMPLE}"


# ------------------------------------------------------------------ well-formed tool calls


def test_search_with_list_query():
    text = '<tool_call>\n{"name": "search", "arguments": {"query": ["a b", "c"]}}\n</tool_call>'
    assert parse_action(text) == ParsedAction("tool", call=search("a b", "c"), n_calls=1)


def test_search_with_string_query_is_kept_as_given():
    text = '<tool_call>{"name": "search", "arguments": {"query": "Nile length"}}</tool_call>'
    assert parse_action(text) == ParsedAction(
        "tool", call=ToolCall("search", {"query": "Nile length"}), n_calls=1
    )


def test_visit_with_url_string():
    text = (
        '<tool_call>{"name": "visit", "arguments": {"url": "https://en.wikipedia.org/wiki/Nile",'
        ' "goal": "length"}}</tool_call>'
    )
    call = ToolCall("visit", {"url": "https://en.wikipedia.org/wiki/Nile", "goal": "length"})
    assert parse_action(text) == ParsedAction("tool", call=call, n_calls=1)


def test_visit_with_url_list():
    text = (
        '<tool_call>{"name": "visit", "arguments": {"url": ["https://a.org", "https://b.org"],'
        ' "goal": "founding year"}}</tool_call>'
    )
    call = ToolCall("visit", {"url": ["https://a.org", "https://b.org"], "goal": "founding year"})
    assert parse_action(text) == ParsedAction("tool", call=call, n_calls=1)


def test_think_then_call():
    text = (
        "<think>\nI should look up the river first.\n</think>\n\n<tool_call>\n"
        '{"name": "search", "arguments": {"query": ["Nile"]}}\n</tool_call>'
    )
    assert parse_action(text) == ParsedAction(
        "tool", call=search("Nile"), n_calls=1, think="I should look up the river first."
    )


def test_think_opened_by_the_chat_template():
    text = 'plan\n</think>\n<tool_call>{"name": "search", "arguments": {"query": ["x"]}}'
    assert parse_action(text) == ParsedAction("tool", call=search("x"), n_calls=1, think="plan")


def test_call_inside_think_is_not_run():
    text = '<think>maybe <tool_call>{"name": "search"}</tool_call></think>no idea'
    assert parse_action(text) == ParsedAction(
        "none", error=NONE_ERROR, think=('maybe <tool_call>{"name": "search"}</tool_call>')
    )


# ------------------------------------------------------------------ lenient JSON


def test_json5_single_quotes_and_trailing_comma():
    text = "<tool_call>{'name': 'search', 'arguments': {'query': ['x', 'y',],},}</tool_call>"
    assert parse_action(text) == ParsedAction("tool", call=search("x", "y"), n_calls=1)


def test_json5_unquoted_keys():
    text = '<tool_call>{name: "search", arguments: {query: ["x"]}}</tool_call>'
    assert parse_action(text).call == search("x")


def test_python_literal_with_none():
    text = "<tool_call>{'name': 'visit', 'arguments': {'url': 'u', 'goal': None}}</tool_call>"
    assert parse_action(text).call == ToolCall("visit", {"url": "u", "goal": None})


def test_arguments_as_json_string():
    text = '<tool_call>{"name": "search", "arguments": "{\\"query\\": [\\"x\\"]}"}</tool_call>'
    assert parse_action(text) == ParsedAction("tool", call=search("x"), n_calls=1)


def test_parameters_variant():
    text = '<tool_call>{"name": "search", "parameters": {"query": ["x"]}}</tool_call>'
    assert parse_action(text) == ParsedAction("tool", call=search("x"), n_calls=1)


def test_fenced_json():
    text = (
        '<tool_call>\n```json\n{"name": "search", "arguments": {"query": ["x"]}}\n```\n</tool_call>'
    )
    assert parse_action(text) == ParsedAction("tool", call=search("x"), n_calls=1)


def test_extra_closing_brace_is_tolerated():
    text = '<tool_call>{"name": "search", "arguments": {"query": ["x"]}}}</tool_call>'
    assert parse_action(text).call == search("x")


def test_control_characters_inside_json_strings():
    text = '<tool_call>{"name": "search", "arguments": {"query": ["a\tb\x01"]}}</tool_call>'
    assert parse_action(text).call == search("a\tb\x01")


def test_missing_closing_tag_at_end():
    text = '<think>go</think>\n<tool_call>\n{"name": "search", "arguments": {"query": ["x"]}}\n'
    assert parse_action(text) == ParsedAction("tool", call=search("x"), n_calls=1, think="go")


def test_unclosed_first_call_ends_at_next_call():
    text = (
        '<tool_call>{"name": "search", "arguments": {"query": ["a"]}}\n'
        '<tool_call>{"name": "search", "arguments": {"query": ["b"]}}</tool_call>'
    )
    assert parse_action(text) == ParsedAction(
        "tool", call=search("a"), n_calls=2, note=NOTE_TWO_CALLS
    )


# ------------------------------------------------------------------ several parts in one turn


def test_two_calls_first_used():
    text = (
        '<tool_call>{"name": "search", "arguments": {"query": ["a"]}}</tool_call>\n'
        '<tool_call>{"name": "visit", "arguments": {"url": "u", "goal": "g"}}</tool_call>'
    )
    action = parse_action(text)
    assert action == ParsedAction("tool", call=search("a"), n_calls=2, note=NOTE_TWO_CALLS)
    assert "ignored" in action.note


def test_call_and_answer_call_wins():
    text = (
        '<think>t</think><tool_call>{"name": "search", "arguments": {"query": ["a"]}}</tool_call>'
        "<answer>Paris</answer>"
    )
    assert parse_action(text) == ParsedAction(
        "tool", call=search("a"), n_calls=1, think="t", note=NOTE_ANSWER
    )


def test_hallucinated_tool_response_is_cut():
    text = (
        '<tool_call>{"name": "search", "arguments": {"query": ["a"]}}</tool_call>\n'
        "<tool_response>fake results</tool_response><answer>fake</answer>"
    )
    assert parse_action(text) == ParsedAction(
        "tool",
        call=search("a"),
        n_calls=1,
        note="Text from <tool_response> onward was ignored: "
        "tool responses come from the environment.",
    )


# ------------------------------------------------------------------ answers


def test_answer_only():
    text = "<think>\nIt is Paris.\n</think>\n<answer> Paris </answer>"
    assert parse_action(text) == ParsedAction("answer", answer="Paris", think="It is Paris.")


def test_last_of_several_answers():
    text = "<answer>Lyon</answer> no wait <answer>Paris</answer>"
    assert parse_action(text) == ParsedAction("answer", answer="Paris")


def test_answer_inside_think_is_ignored():
    text = "<think>maybe <answer>Lyon</answer></think><answer>Paris</answer>"
    assert parse_action(text) == ParsedAction(
        "answer", answer="Paris", think="maybe <answer>Lyon</answer>"
    )


def test_nested_tags_inside_answer():
    text = "<answer>The <b>Nile</b> <i>river</i></answer>"
    assert parse_action(text) == ParsedAction("answer", answer="The <b>Nile</b> <i>river</i>")


def test_nested_answer_tags_match_non_greedy():
    assert parse_action("<answer>a<answer>b</answer></answer>").answer == "a<answer>b"


def test_empty_answer():
    assert parse_action("<answer></answer>") == ParsedAction("answer", answer="")


def test_unclosed_answer_is_none():
    assert parse_action("<think>t</think><answer>Paris") == ParsedAction(
        "none",
        error="Error: No tool call or complete answer found (<answer> was opened but not closed "
        f"with </answer>). Call a tool with {CALL_EXAMPLE}, or give your final answer in "
        "<answer></answer>.",
        think="t",
    )


# ------------------------------------------------------------------ errors


def test_malformed_json():
    text = '<tool_call>{"name": "search" "arguments": {}}</tool_call>'
    assert parse_action(text) == ParsedAction(
        "error",
        error=json_error("Could not parse it: Expecting ',' delimiter at line 1 column 19"),
        n_calls=1,
    )


def test_malformed_call_with_answer_is_error_with_note():
    text = "<tool_call>{oops</tool_call><answer>Paris</answer>"
    action = parse_action(text)
    assert (action.kind, action.answer, action.note) == ("error", None, NOTE_ANSWER)
    assert action.error.startswith("Error: Invalid tool call JSON. Could not parse it: ")


def test_empty_call():
    assert parse_action("<tool_call>\n</tool_call>") == ParsedAction(
        "error", error=json_error("The <tool_call> block is empty"), n_calls=1
    )


def test_missing_name():
    text = '<tool_call>{"arguments": {"query": ["x"]}}</tool_call>'
    assert parse_action(text) == ParsedAction(
        "error", error=json_error('Expects a non-empty string "name", actual: missing'), n_calls=1
    )


def test_name_not_a_string():
    text = '<tool_call>{"name": 3, "arguments": {}}</tool_call>'
    assert parse_action(text).error == json_error(
        'Expects a non-empty string "name", actual: number'
    )


def test_arguments_not_a_dict():
    text = '<tool_call>{"name": "search", "arguments": ["x"]}</tool_call>'
    assert parse_action(text) == ParsedAction(
        "error",
        error=json_error('Expects "arguments" to be a JSON object, actual: array'),
        n_calls=1,
    )


def test_arguments_missing():
    text = '<tool_call>{"name": "search"}</tool_call>'
    assert parse_action(text).error == json_error(
        'Expects "arguments" to be a JSON object, actual: missing'
    )


def test_arguments_string_that_is_not_json():
    text = '<tool_call>{"name": "search", "arguments": "nile"}</tool_call>'
    assert parse_action(text).error == json_error(
        'Expects "arguments" to be a JSON object, actual: string'
    )


def test_call_not_an_object():
    assert parse_action('<tool_call>["search"]</tool_call>').error == json_error(
        "Expects a JSON object, actual: array"
    )


def test_empty_string():
    assert parse_action("") == ParsedAction("none", error=NONE_ERROR)


def test_plain_text():
    assert parse_action("The answer is Paris.") == ParsedAction("none", error=NONE_ERROR)


def test_one_megabyte_string_is_rejected_fast():
    text = ("<tool_call>" + "{" * 500_000 + "<answer>" * 70_000)[:1_000_000]
    start = time.perf_counter()
    action = parse_action(text)
    assert time.perf_counter() - start < 1.0
    assert action == ParsedAction(
        "error",
        error="Error: The response is too long (1000000 characters; at most 200000 are accepted). "
        "Keep your reasoning shorter, then make one tool call or answer.",
    )


def test_one_megabyte_string_is_parsed_fast_when_allowed():
    text = "<think>" + "a" * 400_000 + "</think><tool_call>" + "{" * 300_000
    text += "</answer>" * 40_000
    start = time.perf_counter()
    action = parse_action(text[:1_000_000], max_chars=1_000_000)
    assert time.perf_counter() - start < 1.0
    assert (action.kind, action.n_calls) == ("error", 1)
    assert action.error.startswith("Error: Invalid tool call JSON. Could not parse it: ")


@pytest.mark.parametrize(
    "text",
    [
        "<tool_call>" + "{" * 199_000,
        "<tool_call>" + "[" * 199_000,
        "<tool_call>{'name': " + "-" * 19_000 + "1}",
        "<answer>" * 24_000 + "</answer>" * 1_000,
        "<think>" * 20_000 + "</think>" * 5_000,
        '<tool_call>{"name": "search", "arguments": {"query": ["' + "x" * 199_000 + '"]}}',
    ],
)
def test_large_pathological_inputs_are_fast(text):
    start = time.perf_counter()
    action = parse_action(text, max_chars=1_000_000)
    assert time.perf_counter() - start < 1.0
    assert action.kind in {"tool", "answer", "error", "none"}


def test_control_characters_and_nul():
    text = "\x00<think>\x00a\x07</think>\x1b[31m<answer>\x00Paris\x7f</answer>\x00"
    assert parse_action(text) == ParsedAction("answer", answer="\x00Paris\x7f", think="\x00a\x07")


def test_lone_surrogates():
    text = '<tool_call>{"name": "search", "arguments": {"query": ["\ud800", "\\udc00"]}}'
    text += "</tool_call>"
    assert parse_action(text).call == search("\ud800", "\udc00")
    assert parse_action("\udfff<answer>\ud800</answer>").answer == "\ud800"


@pytest.mark.parametrize("value", [None, 3, b"<answer>x</answer>", ["<answer>x</answer>"]])
def test_non_str_input(value):
    action = parse_action(value)
    assert action == ParsedAction(
        "error", error=f"Error: Expects the action to be a str, actual: {type(value).__name__}."
    )


def test_bad_config_raises():
    with pytest.raises(ConfigError, match="Expects action_format to be one of"):
        parse_action("x", "xml")
    with pytest.raises(ConfigError, match="Expects max_chars to be an int >= 1, actual: 0"):
        parse_action("x", max_chars=0)


# ------------------------------------------------------------------ tags format (Search-R1)


def test_tags_search():
    text = "<think>need facts</think>\n<search> Nile length </search>"
    assert parse_action(text, "tags") == ParsedAction(
        "tool", call=search("Nile length"), n_calls=1, think="need facts"
    )


def test_tags_search_missing_closing_tag():
    assert parse_action("<search>Nile length\n", "tags").call == search("Nile length")


def test_tags_first_search_wins():
    text = "<search>a</search><search>b</search>"
    assert parse_action(text, "tags") == ParsedAction(
        "tool",
        call=search("a"),
        n_calls=2,
        note="Only the first of 2 searches was used; the others were ignored.",
    )


def test_tags_search_and_answer():
    text = "<search>a</search><answer>b</answer>"
    assert parse_action(text, "tags") == ParsedAction(
        "tool", call=search("a"), n_calls=1, note=NOTE_ANSWER
    )


def test_tags_hallucinated_information_is_cut():
    text = "<search>a</search><information>fake</information><answer>b</answer>"
    assert parse_action(text, "tags") == ParsedAction(
        "tool",
        call=search("a"),
        n_calls=1,
        note="Text from <information> onward was ignored: "
        "search results come from the environment.",
    )


def test_tags_answer():
    text = "<think>ok</think><answer> Beijing </answer>"
    assert parse_action(text, "tags") == ParsedAction("answer", answer="Beijing", think="ok")


def test_tags_empty_search():
    assert parse_action("<search>  </search>", "tags") == ParsedAction(
        "error",
        error="Error: Empty search query. Search with <search>your query</search>.",
        n_calls=1,
    )


def test_tags_none():
    assert parse_action("hmm", "tags") == ParsedAction(
        "none",
        error="Error: No search or answer found. Search with <search>your query</search>, "
        "or give your final answer in <answer></answer>.",
    )


def test_tags_ignores_tool_call_syntax():
    text = '<tool_call>{"name": "search", "arguments": {"query": ["x"]}}</tool_call>'
    assert parse_action(text, "tags").kind == "none"


# ------------------------------------------------------------------ responses and stops


def test_format_tool_response():
    assert format_tool_response("r") == "<tool_response>\nr\n</tool_response>"
    assert format_tool_response("r", "tags") == "\n\n<information>r</information>\n\n"


def test_stop_sequences_are_fresh_lists():
    stops = stop_sequences()
    assert stops == [
        "\n<tool_response>",
        "<tool_response>",
    ]  # the policy ends its turn itself (EOT)
    stops.append("x")
    assert stop_sequences() == ["\n<tool_response>", "<tool_response>"]
    assert stop_sequences("tags") == ["\n<information>", "<information>"]


def test_complete_stop_round_trip():
    generated = '<think>t</think><tool_call>{"name": "search", "arguments": {"query": ["x"]}}'
    full = complete_stop(generated, "</tool_call>")
    assert full == generated + "</tool_call>"
    assert parse_action(full).call == search("x")
    assert complete_stop("<search>q", "</search>") == "<search>q</search>"
    assert complete_stop("abc", None) == "abc"
    assert complete_stop("abc", "<tool_response>") == "abc"


# ------------------------------------------------------------------ property tests

TOKENS = [
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<answer>",
    "</answer>",
    "<tool_response>",
    "<search>",
    "</search>",
    "<information>",
    "```json\n",
    "```",
    '{"name": "search", "arguments": {"query": ["x"]}}',
    '{"name": ',
    '"arguments": ',
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    ",",
    ":",
    "\\",
    "\x00",
    "\ud800",
    "null",
    "\n",
]
PROPERTY_SETTINGS = settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _check(action: ParsedAction) -> None:
    assert action.kind in {"tool", "answer", "error", "none"}
    assert (action.call is not None) == (action.kind == "tool")
    assert (action.answer is not None) == (action.kind == "answer")
    assert (action.error is not None) == (action.kind in {"error", "none"})
    assert action.n_calls >= 0


@PROPERTY_SETTINGS
@given(text=st.text(), fmt=st.sampled_from(["tool_call", "tags"]))
def test_never_raises_on_random_text(text, fmt):
    _check(parse_action(text, fmt))


@PROPERTY_SETTINGS
@given(
    parts=st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=8)), max_size=30),
    fmt=st.sampled_from(["tool_call", "tags"]),
)
def test_never_raises_on_text_mixed_with_tags(parts, fmt):
    _check(parse_action("".join(parts), fmt))


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())))
def test_never_raises_on_non_str(value):
    assert parse_action(value).kind == "error"
