"""Lockstep episodes (lite_world.rollout.lockstep) on the tiny world, with a scripted chat agent."""

from __future__ import annotations

import json
import re

import pytest

from lite_world.agents.base import ChatAgent, Completion
from lite_world.envs.config import LiteSearchConfig
from lite_world.errors import ConfigError
from lite_world.rollout.lockstep import run_lockstep, write_run
from lite_world.tasks import Task


class Searcher(ChatAgent):
    """Task ``k`` searches ``k`` times, then answers ``gold`` for even k and ``wrong`` for odd k;
    records every batch it is given and the stop strings it was asked to use."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []
        self.stops: list[tuple[str, ...]] = []

    def complete_batch(self, conversations, config=None):
        self.batches.append([_task_number(c) for c in conversations])
        self.stops.append(config.stop)
        out = []
        for c in conversations:
            k = _task_number(c)
            done = sum(m["role"] == "assistant" for m in c)
            answer = "gold" if k % 2 == 0 else "wrong"
            text = "<search> Kabul </search>" if done < k else f"<answer>{answer}</answer>"
            out.append(Completion(text, "stop", None, 10, 5))
        return out


def _task_number(conversation) -> int:
    return int(re.search(r"task (\d+)", conversation[1]["content"])[1])


@pytest.fixture
def tasks():
    return [Task(f"t{k}", f"task {k} question?", ("gold",)) for k in range(3)]


def test_finished_episodes_leave_the_batch(tiny_world, tasks, tmp_path):
    agent = Searcher()
    env = LiteSearchConfig(
        world=str(tiny_world), action_format="tags", tools=("search",), search_mode="sparse"
    )
    episodes = run_lockstep(agent, tasks, env, batch_size=2, show_progress=False)
    # turn 1: tasks 0,1 then 2 (batch_size 2); task 0 answered, so turn 2 has 1,2; turn 3 has 2
    assert agent.batches == [[0, 1], [2], [1, 2], [2]]
    assert set(agent.stops) == {tuple(env_stop(tiny_world))}
    assert [(e["task_id"], e["turns"], e["reward"], e["answered"]) for e in episodes] == [
        ("t0", 1, 1.0, True),
        ("t1", 2, 0.0, True),
        ("t2", 3, 1.0, True),
    ]
    assert [s["action_kind"] for s in episodes[2]["steps"]] == ["tool", "tool", "answer"]
    assert all(s["tokens"] == 5 and s["finish_reason"] == "stop" for s in episodes[2]["steps"])
    summary = write_run(episodes, tmp_path / "run", wall_s=1.0)
    assert summary["valid_call_rate"] == 1.0 and summary["accuracy"] == pytest.approx(2 / 3)
    lines = (tmp_path / "run" / "trajectories.jsonl").read_text().splitlines()
    assert [json.loads(x)["task_id"] for x in lines] == ["t0", "t1", "t2"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text()) == summary
    assert (tmp_path / "run" / "viewer.html").read_text().startswith("<!doctype html>")


def env_stop(world):
    """The stop strings the tags env hands its agent."""
    from lite_world.envs.factory import make_env

    env = make_env(LiteSearchConfig(world=str(world), action_format="tags", tools=("search",)))
    _, info = env.reset(seed=0)
    return info["stop"]


def test_batch_size_is_checked(tasks):
    with pytest.raises(ConfigError, match="batch_size to be an int >= 1, actual: 0"):
        run_lockstep(Searcher(), tasks, LiteSearchConfig(), batch_size=0)
