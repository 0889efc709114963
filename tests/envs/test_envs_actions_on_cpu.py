"""Every well-formed action of both formats: search, visit, answer (EM and F1), Search-R1 tags."""

from __future__ import annotations

import json

import pytest

# "What is the name of the waterfall in the country where the Bubye River is found?"
BUBYE = "2hop__205146_62031"
BUBYE_URL = "https://en.wikipedia.org/wiki/Bubye_River"
FALLS_URL = "https://en.wikipedia.org/wiki/Victoria_Falls"
BUBYE_TEXT = (
    "The Bubye River, also known as Bubi River, is a tributary of the Limpopo River in "
    "Beitbridge District and Gwanda District, Zimbabwe. It rises about to the northeast of West "
    "Nicholson in Matabeleland South, from where it flows southeast before joining the Limpopo "
    "about west of the border with Mozambique. Its course forms part of the border between "
    "Mberengwa and Mwenezi districts."
)
BUBYE_VISIT = (
    f"The useful information in {BUBYE_URL} for user goal which country as follows: \n\n"
    f"Evidence in page: \n# Bubye River\n\n{BUBYE_TEXT}\n\n"
    f"Summary: \nBubye River: {BUBYE_TEXT}"
)
TAGS_NO_CALL = (
    "Error: No search or answer found. Search with <search>your query</search>, "
    "or give your final answer in <answer></answer>."
)


def tool_call(name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def unwrap(obs: str) -> str:
    assert obs.startswith("<tool_response>\n") and obs.endswith("\n</tool_response>")
    return obs[len("<tool_response>\n") : -len("\n</tool_response>")]


@pytest.fixture
def env(make_env):
    env = make_env()
    env.reset(seed=0, options={"task_id": BUBYE})
    return env


# ------------------------------------------------------------------------------------ search


def test_search_with_a_list_query(env):
    action = tool_call("search", query=["Bubye River"])
    assert len(action) == 82
    obs, reward, terminated, truncated, info = env.step(action)
    assert (reward, terminated, truncated) == (0.0, False, False)
    body = unwrap(obs)
    assert body.startswith(
        "A Google search for 'Bubye River' found 10 results:\n\n## Web Results\n"
        f"1. [Bubye River]({BUBYE_URL})\n\nThe Bubye River, also known as Bubi River, is a "
        "tributary of the Limpopo River in Beitbridge District and Gwanda District, Zimbabwe."
        "\n\n2. ["
    )
    assert [body.count(f"\n{i}. [") for i in range(1, 12)] == [1] * 10 + [0]
    assert info["action_kind"] == "tool" and info["tool"] == "search"
    assert info["arguments"] == {"query": ["Bubye River"]}
    assert (info["error"], info["note"], info["repeat_count"], info["turn"]) == (None, None, 1, 1)
    assert info["tool_latency_s"] > 0.0
    assert info["totals"] == {
        "tool_calls": 1,
        "search": 1,
        "visit": 0,
        "errors": 0,
        "obs_chars": len(obs),
        "action_chars": 82,
    }
    assert info["messages"][-2:] == [
        {"role": "assistant", "content": action},
        {"role": "user", "content": obs},
    ]


def test_search_with_a_string_query_equals_the_list_form(env):
    as_list = env.step(tool_call("search", query=["Bubye River"]))[0]
    obs, _, _, _, info = env.step(tool_call("search", query="Bubye River"))
    assert obs == as_list
    assert info["arguments"] == {"query": "Bubye River"} and info["repeat_count"] == 1
    assert env.step(tool_call("search", query="Bubye River"))[4]["repeat_count"] == 2


def test_search_with_two_queries_gives_two_blocks(env):
    one = unwrap(env.step(tool_call("search", query=["Bubye River"]))[0])
    two = unwrap(env.step(tool_call("search", query=["Victoria Falls"]))[0])
    both = unwrap(env.step(tool_call("search", query=["Bubye River", "Victoria Falls"]))[0])
    assert both == f"{one}\n=======\n{two}"
    assert two.startswith(
        "A Google search for 'Victoria Falls' found 10 results:\n\n## Web Results\n"
        f"1. [Victoria Falls]({FALLS_URL})"
    )


def test_reasoning_before_the_call_is_allowed(env):
    plain = env.step(tool_call("search", query=["Bubye River"]))[0]
    obs, _, _, _, info = env.step(
        "<think>Find the river first.</think>\n" + tool_call("search", query=["Bubye River"])
    )
    assert obs == plain and info["action_kind"] == "tool"


# ------------------------------------------------------------------------------------- visit


def test_visit_with_a_string_url(env):
    obs, reward, terminated, truncated, info = env.step(
        tool_call("visit", url=BUBYE_URL, goal="which country")
    )
    assert obs == f"<tool_response>\n{BUBYE_VISIT}\n</tool_response>"
    assert (reward, terminated, truncated, info["error"], info["tool"]) == (
        0.0,
        False,
        False,
        None,
        "visit",
    )
    assert info["totals"]["visit"] == 1 and info["totals"]["tool_calls"] == 1


def test_visit_with_a_list_of_urls(env):
    one = env.step(tool_call("visit", url=[BUBYE_URL], goal="which country"))[0]
    assert one == f"<tool_response>\n{BUBYE_VISIT}\n</tool_response>"
    falls = unwrap(env.step(tool_call("visit", url=FALLS_URL, goal="which country"))[0])
    assert falls.startswith(
        f"The useful information in {FALLS_URL} for user goal which country as follows: \n\n"
    )
    both = unwrap(env.step(tool_call("visit", url=[BUBYE_URL, FALLS_URL], goal="which country"))[0])
    assert both == f"{BUBYE_VISIT}\n\n\n=======\n{falls}"
    assert env.step("<answer>x</answer>")[4]["totals"]["visit"] == 3


def test_visit_of_an_unknown_page_is_the_live_web_failure_text(env):
    obs, _, _, _, info = env.step(
        tool_call("visit", url="https://example.org/nowhere", goal="anything")
    )
    assert obs == (
        "<tool_response>\nThe useful information in https://example.org/nowhere for user goal "
        "anything as follows: \n\nEvidence in page: \nThe provided webpage content could not "
        "be accessed. Please check the URL or file format.\n\nSummary: \nThe webpage content "
        "could not be processed, and therefore, no information is available.\n</tool_response>"
    )
    assert info["error"] is None and info["totals"]["visit"] == 1


# ------------------------------------------------------------------------------------ answer


def test_correct_answer_gets_reward_one_with_exact_match(env):
    env.step(tool_call("search", query=["Bubye River"]))
    obs, reward, terminated, truncated, info = env.step(
        "<think>Zimbabwe.</think><answer>Victoria Falls</answer>"
    )
    assert (obs, reward, terminated, truncated) == ("", 1.0, True, False)
    assert (
        info["action_kind"] == "answer" and info["answer"] == "Victoria Falls" and info["turn"] == 2
    )
    assert info["reward_info"] == {
        "em": 1.0,
        "f1": 1.0,
        "judged": None,
        "source": "em",
        "reason": None,
    }
    assert info["totals"]["search"] == 1
    assert len(info["messages"]) == 5  # system, user, search, its result, the answer


def test_partial_answer_gets_token_f1_with_reward_f1(make_env):
    env = make_env(reward="f1")
    env.reset(seed=0, options={"task_id": BUBYE})
    _, reward, terminated, _, info = env.step("<answer>Victoria</answer>")
    assert (reward, terminated) == (2 / 3, True)
    assert info["reward_info"] == {
        "em": 0.0,
        "f1": 2 / 3,
        "judged": None,
        "source": "f1",
        "reason": None,
    }


def test_partial_answer_gets_zero_with_exact_match(env):
    _, reward, _, _, info = env.step("<answer>Victoria</answer>")
    assert reward == 0.0
    assert info["reward_info"] == {
        "em": 0.0,
        "f1": 2 / 3,
        "judged": None,
        "source": "em",
        "reason": None,
    }


def test_wrong_answer_gets_zero(env):
    obs, reward, terminated, truncated, info = env.step("<answer>Niagara Falls</answer>")
    assert (obs, reward, terminated, truncated) == ("", 0.0, True, False)
    assert info["reward_info"] == {
        "em": 0.0,
        "f1": 0.5,
        "judged": None,
        "source": "em",
        "reason": None,
    }


def test_hedged_answer_is_guarded(env):
    _, reward, _, _, info = env.step("<answer>Victoria Falls or Kalandula Falls</answer>")
    assert reward == 0.0
    assert (
        info["reward_info"]["source"] == "guard"
        and info["reward_info"]["reason"] == "multiple_candidates"
    )


def test_answer_beside_a_call_is_ignored(env):
    obs, reward, terminated, _, info = env.step(
        tool_call("search", query=["Bubye River"]) + "<answer>Victoria Falls</answer>"
    )
    assert (reward, terminated, info["action_kind"]) == (0.0, False, "tool")
    note = "The <answer> beside the call was ignored; answer in a turn without a call."
    assert info["note"] == note and obs.endswith(f"\n\n[Note] {note}\n</tool_response>")


# ------------------------------------------------------------------------- Search-R1 "tags"


def test_tags_prompt_and_stop_strings(make_env):
    obs, info = make_env(action_format="tags").reset(seed=0, options={"task_id": BUBYE})
    question = "What is the name of the waterfall in the country where the Bubye River is found?"
    assert obs.endswith(f"\n\nuser:\nQuestion: {question}")
    assert "<search>" in obs and '"name": "visit"' not in obs
    assert info["stop"] == ["\n<information>", "<information>"]


def test_tags_search_is_wrapped_in_information(make_env, env):
    tags = make_env(action_format="tags")
    tags.reset(seed=0, options={"task_id": BUBYE})
    obs, reward, terminated, _, info = tags.step(
        "<think>river first</think><search> Bubye River </search>"
    )
    expected = unwrap(env.step(tool_call("search", query=["Bubye River"]))[0])
    assert obs == f"\n\n<information>{expected}</information>\n\n"
    assert (reward, terminated, info["tool"], info["arguments"]) == (
        0.0,
        False,
        "search",
        {"query": ["Bubye River"]},
    )


def test_tags_answer(make_env):
    env = make_env(action_format="tags")
    env.reset(seed=0, options={"task_id": BUBYE})
    obs, reward, terminated, _, info = env.step(
        "<think>Zimbabwe</think>\n<answer> Victoria Falls </answer>"
    )
    assert (obs, reward, terminated, info["answer"]) == ("", 1.0, True, "Victoria Falls")


def test_tags_env_cannot_visit(make_env):
    """Search-R1 has no browse tool: a visit call is not an action of the format."""
    env = make_env(action_format="tags")
    env.reset(seed=0, options={"task_id": BUBYE})
    obs, _, terminated, _, info = env.step(tool_call("visit", url=BUBYE_URL, goal="which country"))
    assert obs == f"\n\n<information>{TAGS_NO_CALL}</information>\n\n"
    assert (
        terminated,
        info["action_kind"],
        info["error"],
        info["error_message"],
        info["tool"],
    ) == (
        False,
        "none",
        "no_action",
        TAGS_NO_CALL,
        None,
    )
    assert (
        "visit" not in info["totals"] and info["totals"]["errors"] == 1
    )  # not a tool of the format
