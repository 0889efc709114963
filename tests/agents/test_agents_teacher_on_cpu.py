"""DiverseTeacher in a real env: valid actions only, trajectories that differ, reproducible."""

from __future__ import annotations

import re

import pytest

from lite_world.agents.teacher import DiverseTeacher
from lite_world.envs.factory import make_env
from lite_world.envs.profiles import profile_config
from lite_world.errors import ConfigError


def _tasks(musique):
    """Every hop of the tiny world's MuSiQue questions, ``#k`` replaced by hop k's answer."""
    hops = []
    for item in musique:
        answers = [h["answer"] for h in item["question_decomposition"]]
        for h in item["question_decomposition"]:
            q = re.sub(r"#(\d+)", lambda m, a=answers: a[int(m.group(1)) - 1], h["question"])
            if ">>" not in q:
                hops.append({"id": f"h{h['id']}", "question": q, "answers": [h["answer"]]})
    return hops


def _play(env, teacher, task, seed):
    obs, info = env.reset(seed=seed, options={"task": task})
    teacher.reset(task)
    while True:
        obs, reward, terminated, truncated, info = env.step(teacher.act(obs, info))
        if terminated or truncated:
            return reward, info


@pytest.mark.parametrize("action_format", ["tags", "tool_call"])
def test_teacher_actions_are_all_valid_and_end_with_an_answer(tiny_world, musique, action_format):
    tasks = _tasks(musique)
    assert len(tasks) >= 5
    overrides = (
        {}
        if action_format == "tags"
        else {"action_format": "tool_call", "tools": ("search", "visit"), "max_turns": 5}
    )
    env = make_env(profile_config("small", world=str(tiny_world), tasks=tasks, **overrides))
    teacher = DiverseTeacher(seed=0, action_format=action_format)
    for i, task in enumerate(tasks):
        _, info = _play(env, teacher, task, i)
        assistant = [m for m in info["messages"] if m["role"] == "assistant"]
        assert "<answer>" in assistant[-1]["content"]
        assert info["totals"]["errors"] == 0
        assert info["totals"]["tool_calls"] >= 1


def test_teacher_trajectories_differ_across_episodes_and_reproduce_with_the_seed(
    tiny_world, musique
):
    tasks = _tasks(musique)
    env = make_env(profile_config("small", world=str(tiny_world), tasks=tasks))

    def trajectories(seed):
        teacher = DiverseTeacher(seed=seed)
        return [
            tuple(m["content"] for m in _play(env, teacher, task, 0)[1]["messages"])
            for task in tasks
            for _ in range(4)
        ]

    first = trajectories(0)
    assert first == trajectories(0)
    assert first != trajectories(1)
    per_task = [set(first[i : i + 4]) for i in range(0, len(first), 4)]
    assert sum(len(s) > 1 for s in per_task) >= len(per_task) // 2


def test_greedy_answer_and_bad_settings():
    teacher = DiverseTeacher(seed=0, answer_temperature=0.0)
    teacher.reset({"question": "In what year did Ann Lee die?"})
    teacher.act("", {})
    obs = "<information>1. [Ann Lee](https://x)\n\nAnn Lee( 1736 – 1784) was a preacher.</information>"
    assert teacher.act(obs, {}).endswith(
        "<answer>1736</answer>"
    )  # a tie goes to the alphabetically first span
    with pytest.raises(ConfigError, match="action_format"):
        DiverseTeacher(action_format="json")
    with pytest.raises(ConfigError, match="answer_temperature"):
        DiverseTeacher(answer_temperature=-1)
