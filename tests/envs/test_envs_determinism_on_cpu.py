"""Same seed and actions, same episode: in one process, across processes, sync and async vectors."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

# One episode (search the question, visit the first result, answer) as JSON; run in this process
# and, unchanged, in a fresh interpreter.
EPISODE = r"""
import json, re
import gymnasium as gym
import lite_world


def episode(kwargs, seed):
    env = gym.make("LiteSearch-v0", **kwargs)
    obs, info = env.reset(seed=seed)
    steps = [[obs, info]]
    search = {"name": "search", "arguments": {"query": [info["task"]["question"], "Wikipedia"]}}
    obs, *rest = env.step("<think>look</think><tool_call>" + json.dumps(search) + "</tool_call>")
    steps.append([obs, *rest])
    url = re.search(r"^1\. \[.*\]\((https://\S+)\)$", obs, re.M).group(1)
    visit = {"name": "visit", "arguments": {"url": url, "goal": info["task"]["question"]}}
    steps.append(env.step("<tool_call>" + json.dumps(visit) + "</tool_call>"))
    steps.append(env.step("<answer>" + info["task"]["answers"][0] + "</answer>"))
    for step in steps:
        step[-1].pop("tool_latency_s", None)
    env.close()
    return json.dumps(steps, ensure_ascii=False, sort_keys=True)


if __name__ == "__main__":
    import sys

    kwargs, seeds = json.loads(sys.stdin.read())
    print(json.dumps([episode(kwargs, s) for s in seeds]))
"""
SEEDS = [3, 11]


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("determinism") / "episode.py"
    path.write_text(EPISODE)
    return path


@pytest.fixture(scope="module")
def episode(script):
    return runpy.run_path(str(script))["episode"]


def test_same_seed_same_episode_in_process(env_kwargs, episode):
    first = [episode(env_kwargs, s) for s in SEEDS]
    assert first == [episode(env_kwargs, s) for s in SEEDS]
    runs = [json.loads(e) for e in first]
    assert [r[0][1]["task"]["id"] for r in runs] == ["2hop__215852_404718", "2hop__150763_14904"]
    for run in runs:
        search, visit, answer = run[1], run[2], run[3]
        assert search[0].count("\n=======\n") == 1 and search[4]["error"] is None
        assert visit[0].startswith(
            "<tool_response>\nThe useful information in https://en.wikipedia.org/wiki/"
        )
        assert "could not be accessed" not in visit[0]
        assert answer[:4] == ["", 1.0, True, False]
        assert answer[4]["totals"]["tool_calls"] == 2


def test_same_seed_same_episode_across_processes(env_kwargs, episode, script):
    """A fresh interpreter (own hash seed, encoder load and index open) replays byte for byte."""
    out = subprocess.run(
        [sys.executable, str(script)],
        input=json.dumps([env_kwargs, SEEDS]),
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
        check=True,
    )
    assert json.loads(out.stdout) == [episode(env_kwargs, s) for s in SEEDS]


# ---------------------------------------------------------------------------- vector envs

BUBYE_SEARCH = '<tool_call>{"name": "search", "arguments": {"query": ["Bubye River"]}}</tool_call>'
BUBYE_VISIT = (
    '<tool_call>{"name": "visit", "arguments": '
    '{"url": "https://en.wikipedia.org/wiki/Bubye_River", '
    '"goal": "country"}}</tool_call>'
)
ACTIONS = [
    (BUBYE_SEARCH, BUBYE_VISIT),
    ("<answer>Victoria Falls</answer>", "not a call"),
    ("ignored: autoreset", '<tool_call>{"name": "visit"}</tool_call>'),
    (BUBYE_VISIT, "<answer>Stanley Hall</answer>"),
]


def _infos(infos: dict) -> dict:
    """Vector infos as plain lists (masks included), without the timing."""
    plain = {
        k: _infos(v) if isinstance(v, dict) else np.asarray(v).tolist() for k, v in infos.items()
    }
    plain.pop("tool_latency_s", None), plain.pop("_tool_latency_s", None)
    return plain


def rollout(vec: gym.vector.VectorEnv) -> list:
    obs, infos = vec.reset(seed=[4, 11])
    out = [(obs, _infos(infos))]
    for actions in ACTIONS:
        obs, rewards, terminated, truncated, infos = vec.step(actions)
        out.append((obs, rewards.tolist(), terminated.tolist(), truncated.tolist(), _infos(infos)))
    vec.close()
    return out


@pytest.fixture(scope="module")
def sync_rollout(env_kwargs):
    return rollout(
        gym.make_vec(
            "LiteSearch-v0",
            num_envs=2,
            vectorization_mode="sync",
            search_mode="sparse",
            **env_kwargs,
        )
    )


def test_sync_vector_env_batches_string_observations(sync_rollout, env_kwargs):
    (obs, infos), first, second, third, fourth = sync_rollout
    assert type(obs) is tuple and len(obs) == 2 and all(type(o) is str for o in obs)
    assert infos["task"]["id"] == ["2hop__205146_62031", "2hop__150763_14904"]
    assert first[1:4] == ([0.0, 0.0], [False, False], [False, False])
    assert second[1:4] == ([1.0, 0.0], [True, False], [False, False])
    # env 0 autoresets: its next task comes from its own np_random, seeded by reset(seed=4)
    assert third[0][0].startswith("system:\n") and third[0][0].endswith(
        "\n\nuser:\nWhat county shares a border with the county in which Johnnycake, "
        "West Virginia is located?"
    )
    assert third[1:4] == ([0.0, 0.0], [False, False], [False, False])
    assert third[4]["turn"] == [0, 3] and third[4]["_turn"] == [False, True]
    # info values keep one type per key, so the vector env merges them key by key
    assert first[4]["arguments"] == {
        "url": [None, "https://en.wikipedia.org/wiki/Bubye_River"],
        "_url": [False, True],
        "goal": [None, "country"],
        "_goal": [False, True],
        "query": [["Bubye River"], None],
        "_query": [True, False],
    }
    assert second[4]["arguments"] == {} and second[4]["_arguments"] == [True, True]
    assert fourth[1:4] == ([0.0, 1.0], [False, True], [False, False])
    # each sub-env is the single env with the same seed
    single = gym.make("LiteSearch-v0", search_mode="sparse", **env_kwargs)
    assert single.reset(seed=11)[0] == obs[1]
    assert [single.step(actions[1])[0] for actions in ACTIONS] == [
        step[0][1] for step in sync_rollout[1:]
    ]


def test_async_vector_env_equals_sync(sync_rollout, env_kwargs):
    vec = gym.make_vec(
        "LiteSearch-v0",
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"shared_memory": False},
        search_mode="sparse",
        **env_kwargs,
    )
    assert rollout(vec) == sync_rollout


def test_async_vector_env_with_shared_memory_fails_loudly(env_kwargs):
    """Shared memory cannot carry str (Gymnasium would return "" forever): a clear error."""
    with pytest.raises(ValueError, match=r"shared_memory=True\)` caused an error") as excinfo:
        gym.make_vec(
            "LiteSearch-v0",
            num_envs=2,
            vectorization_mode="async",
            search_mode="sparse",
            **env_kwargs,
        )
    assert str(excinfo.value.__cause__) == (
        "Expects shared_memory=False for AnyText(0, 1048576) observations (strings cannot be "
        "shared-memory views), "
        "actual: shared_memory=True. Pass vector_kwargs={'shared_memory': False} to gym.make_vec."
    )


def test_vector_rewards_are_float_arrays(env_kwargs):
    vec = gym.make_vec(
        "LiteSearch-v0", num_envs=2, vectorization_mode="sync", search_mode="sparse", **env_kwargs
    )
    vec.reset(seed=[5, 5])
    _, rewards, terminated, truncated, _ = vec.step(
        ["<answer>Victoria Falls</answer>", "<answer>Niagara</answer>"]
    )
    assert rewards.dtype == np.float64 and rewards.tolist() == [1.0, 0.0]
    assert terminated.dtype == np.bool_ and truncated.tolist() == [False, False]
    vec.close()
