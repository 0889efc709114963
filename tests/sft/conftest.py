"""A real teacher trajectory: played in LiteSearch-v0 on the session's tiny world.

``replay`` runs the env with a fixed list of assistant turns, so every test trajectory has the
env's real messages, tool responses and ``steps``; each filter test changes one thing.
"""

from __future__ import annotations

import json

import pytest

from lite_world.envs.factory import make_env
from lite_world.rollout.runner import run_episode
from lite_world.tasks import Task

QUESTION = "What company published Journal of Psychotherapy Integration?"
ANSWER = "American Psychological Association"
URL = "https://en.wikipedia.org/wiki/Journal_of_Psychotherapy_Integration"


def call(name: str, arguments: dict, think: str | None = "I should look this up.") -> str:
    head = f"<think>{think}</think>\n" if think is not None else ""
    return f"{head}<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def answer(text: str = ANSWER) -> str:
    return f"<think>The page says so.</think>\n<answer>{text}</answer>"


GOOD = [
    call("search", {"query": ["Journal of Psychotherapy Integration publisher"]}),
    call("visit", {"url": URL, "goal": "who publishes the journal"}),
    answer(),
]


class _Replay:
    def __init__(self, actions):
        self.actions = list(actions)

    def reset(self, task):
        self.i = 0

    def act(self, observation, info):
        self.i += 1
        return self.actions[self.i - 1] if self.i <= len(self.actions) else answer("unknown")


@pytest.fixture(scope="session")
def replay(tiny_world):
    """``replay(actions, answers=[ANSWER]) -> episode`` (a rollout-runner record)."""

    def play(actions, answers=(ANSWER,)):
        task = Task.from_dict({"id": "jpi", "question": QUESTION, "answers": list(answers)})
        env = make_env(
            world=str(tiny_world), tasks=[task.to_dict()], max_turns=12, search_mode="sparse"
        )
        return run_episode(env, _Replay(actions), task, seed=0)

    return play


@pytest.fixture(scope="session")
def good_episode(replay):
    ep = replay(GOOD)
    assert (
        ep["reward"] == 1.0 and ep["steps"][1]["error"] is None
    )  # a correct, clean teacher episode
    return ep
