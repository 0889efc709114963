"""Episodes: TimeLimit, stepping after the end, source masking, reset options, config errors."""

from __future__ import annotations

import json
import re

import gymnasium as gym
import pytest

from lite_world.errors import ConfigError, TaskError

BUBYE = "2hop__205146_62031"
BUBYE_URL = "https://en.wikipedia.org/wiki/Bubye_River"
ENDED = {
    "error": "episode_over",
    "error_message": "The episode has ended: call reset() before step().",
    "action_kind": "none",
}
FAILED_VISIT = (
    "Evidence in page: \nThe provided webpage content could not be accessed. Please check the "
    "URL or file format.\n\nSummary: \nThe webpage content could not be processed, and "
    "therefore, no information is available."
)
# Queries whose results (hybrid and BM25) include the Bubye River page, first for the first two.
QUERIES = ["Bubye River", "Limpopo tributary", "Zimbabwe waterfall"]
NOTE = "\n[... output truncated to 100 characters ...]"


def tool_call(name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def result_urls(obs: str) -> list[str]:
    return re.findall(r"^\d+\. \[.*\]\((https://\S+)\)$", obs, re.MULTILINE)


def bubye_task(tasks: list[dict], mask_urls: list[str]) -> dict:
    task = next(t for t in tasks if t["id"] == BUBYE)
    return {**task, "id": "masked-bubye", "mask_urls": mask_urls}


# ------------------------------------------------------------------------------ episode end


def test_time_limit_truncates_after_max_turns(make_env):
    env = make_env(max_episode_steps=2)
    env.reset(seed=0, options={"task_id": BUBYE})
    _, reward, terminated, truncated, info = env.step(tool_call("search", query=["Bubye River"]))
    assert (reward, terminated, truncated, info["turn"]) == (0.0, False, False, 1)
    obs, reward, terminated, truncated, info = env.step("still thinking")
    assert (reward, terminated, truncated, info["turn"]) == (0.0, False, True, 2)
    assert obs.startswith("<tool_response>\nError: No tool call or answer found.")
    env.reset(seed=0, options={"task_id": BUBYE})
    assert env.step("still thinking")[2:4] == (False, False)  # the limit restarts with the episode


def test_answer_on_the_last_turn_terminates_and_is_rewarded(make_env):
    env = make_env(max_episode_steps=2)
    env.reset(seed=0, options={"task_id": BUBYE})
    env.step("still thinking")
    _, reward, terminated, truncated, _ = env.step("<answer>Victoria Falls</answer>")
    assert (reward, terminated, truncated) == (1.0, True, True)


def test_step_after_the_answer_returns_empty_and_does_not_raise(make_env):
    env = make_env()
    env.reset(seed=0, options={"task_id": BUBYE})
    assert env.step("<answer>Victoria Falls</answer>")[1:3] == (1.0, True)
    base = env.unwrapped
    for action in (
        "<answer>Victoria Falls</answer>",
        tool_call("search", query=["Bubye River"]),
        None,
    ):
        assert base.step(action) == ("", 0.0, True, False, ENDED)
    assert len(base._messages) == 3 and base._turn == 1  # the ended episode is left as it was
    obs, reward, terminated, _, info = env.step(
        "<answer>Victoria Falls</answer>"
    )  # through the wrappers too
    assert (obs, reward, terminated, info) == ("", 0.0, True, ENDED)


def test_unwrapped_step_before_any_reset_returns_empty(make_env):
    assert make_env().unwrapped.step("<answer>x</answer>") == ("", 0.0, True, False, ENDED)


def test_reset_starts_a_fresh_episode(make_env):
    env = make_env()
    env.reset(seed=0, options={"task_id": BUBYE})
    env.step(tool_call("search", query=["Bubye River"]))
    env.step("<answer>Niagara Falls</answer>")
    _, info = env.reset(options={"task_id": BUBYE})
    assert len(info["messages"]) == 2
    obs, _, _, _, info = env.step(tool_call("search", query=["Bubye River"]))
    assert (info["turn"], info["repeat_count"], len(info["messages"])) == (1, 1, 4)
    assert info["totals"] == {
        "tool_calls": 1,
        "search": 1,
        "visit": 0,
        "errors": 0,
        "obs_chars": len(obs),
        "action_chars": 82,
    }


def test_long_observations_are_cut_to_max_observation_chars(make_env):
    full = make_env()
    full.reset(seed=0, options={"task_id": BUBYE})
    body = full.step(tool_call("search", query=["Bubye River"]))[0][
        len("<tool_response>\n") : -len("\n</tool_response>")
    ]
    cut = make_env(max_observation_chars=100)
    cut.reset(seed=0, options={"task_id": BUBYE})
    obs = cut.step(tool_call("search", query=["Bubye River"]))[0]
    assert len(body) > 100
    assert obs == f"<tool_response>\n{body[:100]}{NOTE}\n</tool_response>"


# ---------------------------------------------------------------------------------- masking


@pytest.mark.parametrize("search_mode", ["hybrid", "sparse"])
def test_unmasked_source_ranks_first(make_env, tasks, search_mode):
    env = make_env(mask_sources=False, search_mode=search_mode)
    env.reset(seed=0, options={"task": bubye_task(tasks, [BUBYE_URL])})
    urls = [result_urls(env.step(tool_call("search", query=[q]))[0]) for q in QUERIES]
    assert [u[0] for u in urls[:2]] == [BUBYE_URL, BUBYE_URL]
    assert BUBYE_URL in urls[2]
    assert FAILED_VISIT not in env.step(tool_call("visit", url=BUBYE_URL, goal="which country"))[0]


@pytest.mark.parametrize("search_mode", ["hybrid", "sparse"])
@pytest.mark.parametrize(
    "mask",
    [
        BUBYE_URL,
        "https://EN.Wikipedia.org/wiki/Bubye_River/",
        "en.wikipedia.org/wiki/Bubye_River?utm_source=x#top",
    ],
)
def test_masked_source_never_appears_in_the_episode(make_env, tasks, search_mode, mask):
    env = make_env(search_mode=search_mode)
    _, info = env.reset(seed=0, options={"task": bubye_task(tasks, [mask])})
    assert info["task"]["mask_urls"] == [BUBYE_URL]
    for q in QUERIES:
        obs = env.step(tool_call("search", query=[q]))[0]
        urls = result_urls(obs)
        assert BUBYE_URL not in urls and "Bubye_River" not in obs
        assert len(urls) == (10 if search_mode == "hybrid" or q != "Limpopo tributary" else 5)
    obs = env.step(tool_call("search", query=QUERIES))[0]
    assert "Bubye_River" not in obs and obs.count("\n=======\n") == 2
    for url in (
        BUBYE_URL,
        "HTTPS://EN.WIKIPEDIA.ORG/wiki/Bubye_River/",
        f"{BUBYE_URL}#History",
        [BUBYE_URL, BUBYE_URL],
    ):
        obs, _, _, _, info = env.step(tool_call("visit", url=url, goal="which country"))
        assert (
            obs.count(FAILED_VISIT) == (2 if isinstance(url, list) else 1) and "Zimbabwe" not in obs
        )
        assert info["error"] is None  # a page that cannot be read is not an agent error
    env.reset(seed=0, options={"task_id": BUBYE})  # masks belong to the episode's task only
    assert result_urls(env.step(tool_call("search", query=["Bubye River"]))[0])[0] == BUBYE_URL


# ------------------------------------------------------------------------------ reset options


def test_reset_draws_tasks_with_the_seed(make_env, tasks):
    env = make_env()
    drawn = [env.reset(seed=s)[1]["task"]["id"] for s in range(8)]
    assert drawn == [env.reset(seed=s)[1]["task"]["id"] for s in range(8)]
    assert set(drawn) <= {t["id"] for t in tasks} and len(set(drawn)) > 1


def test_reset_with_a_task_id(make_env, tasks):
    for task in tasks:
        obs, info = make_env().reset(seed=0, options={"task_id": task["id"]})
        assert info["task"] == task and obs.endswith(f"\n\nuser:\n{task['question']}")


def test_reset_with_a_task_dict(make_env):
    task = {
        "id": "own-1",
        "question": "  Who wrote Dune?  ",
        "answer": "Frank Herbert",
        "mask_urls": "https://A.org/x/",
    }
    obs, info = make_env().reset(options={"task": task})
    assert obs.endswith("\n\nuser:\nWho wrote Dune?")
    assert info["task"] == {
        "id": "own-1",
        "question": "Who wrote Dune?",
        "answers": ["Frank Herbert"],
        "mask_urls": ["https://a.org/x"],
        "capability": "",
        "difficulty": None,
        "meta": {},
    }


def test_reset_with_an_unknown_task_id_raises(make_env):
    with pytest.raises(TaskError, match=r"Expects task_id among the env's 5 tasks, actual: 'nope'"):
        make_env().reset(options={"task_id": "nope"})


def test_reset_with_a_malformed_task_raises(make_env):
    with pytest.raises(
        TaskError, match=r"Expects 'answers' as a non-empty list of strings, actual: None"
    ):
        make_env().reset(options={"task": {"id": "t", "question": "Q?"}})


# ------------------------------------------------------------------------------ config errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"action_format": "xml"},
            r"Expects LiteSearchConfig.action_format in \('tool_call', 'tags'\), actual: 'xml'",
        ),
        (
            {"reward": "bleu"},
            r"Expects LiteSearchConfig.reward in \('em', 'f1', 'judge'\), actual: 'bleu'",
        ),
        (
            {"max_turns": 3},
            r"Expects the turn limit as Gymnasium's max_episode_steps, actual: max_turns=3",
        ),
        (
            {"search_k": 0},
            r"Expects LiteSearchConfig.search_k to be an int in \[1, 100\], actual: 0",
        ),
        (
            {"max_observation_chars": 99},
            r"Expects LiteSearchConfig.max_observation_chars to be an int >= 100, actual: 99",
        ),
        (
            {"search_style": "bing"},
            r"Expects LiteSearchConfig.search_style in \('web', 'train'\), actual: 'bing'",
        ),
        (
            {"reward": "judge"},
            r"Expects LiteSearchConfig.judge_url .* with reward='judge', actual: judge_url=None, judge_model=None",
        ),
        ({"reward": "judge", "judge_model": "m"}, r"actual: judge_url=None, judge_model='m'"),
        (
            {"reward": "judge", "judge_url": "127.0.0.1:8000", "judge_model": "m"},
            r"Expects JudgeConfig.base_url",
        ),
        ({"tasks": []}, r"Expects at least one task, actual: none"),
    ],
)
def test_bad_kwargs_raise(kwargs, message):
    error = TaskError if "tasks" in kwargs else ConfigError
    with pytest.raises(error, match=message):
        gym.make("LiteSearch-v0", **kwargs)


def test_render_mode_is_checked():
    with pytest.raises(
        ConfigError, match=r"Expects render_mode in \['ansi'\] or None, actual: 'human'"
    ):
        from lite_world.envs import LiteSearchEnv

        LiteSearchEnv(render_mode="human")
