"""Context management on long real episodes in the tiny world: memory and ReSum keep every turn the
agent sees under the budget, and the forced answer ends an episode at the limit."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import lite_world  # noqa: F401  (registers LiteSearch-v0)
from lite_world.eval.context import FORCE_ANSWER, ContextConfig, ContextManagedAgent, count_messages
from lite_world.eval.runner import play_episode
from lite_world.tasks import Task

WORDS = [
    "psychotherapy",
    "Tennessee",
    "Publix",
    "canon law",
    "Victoria Falls",
    "Hank Snow",
    "tavern",
    "river",
    "journal",
    "album",
    "county",
    "founder",
    "president",
    "association",
    "waterfall",
    "song",
]


class Researcher:
    """Searches a new query every turn and never answers (a long episode); records what it sees."""

    def reset(self, task):
        self.n, self.seen = 0, []

    def act(self, observation, info):
        self.seen.append(info.get("messages", []))
        if observation == FORCE_ANSWER or (
            info.get("messages") and info["messages"][-1]["content"] == FORCE_ANSWER
        ):
            return "<think>out of room</think><answer>Stanley Hall</answer>"
        q = WORDS[self.n % len(WORDS)]
        self.n += 1
        call = json.dumps({"name": "search", "arguments": {"query": [q]}})
        return f"<think>more</think><tool_call>{call}</tool_call>"


@pytest.fixture()
def task(musique):
    q = musique[0]
    return Task.from_dict({"id": q["id"], "question": q["question"], "answers": [q["answer"]]})


def _play(tiny_world, task, config, turns=12):
    env = gym.make(
        "LiteSearch-v0",
        world=str(tiny_world),
        tasks=[task.to_dict()],
        max_episode_steps=turns,
        search_mode="sparse",
    )
    inner = Researcher()
    agent = ContextManagedAgent(inner, config)
    ep = play_episode(env, agent, task, seed=0)
    env.close()
    return ep, inner


def test_without_management_the_context_grows_past_the_budget(tiny_world, task):
    ep, inner = _play(
        tiny_world, task, ContextConfig(mode="none", budget_tokens=2000, force_answer=False)
    )
    raw = ep["context"]["raw_tokens"]
    assert ep["turns"] == 12 and ep["truncated"] and raw == sorted(raw) and raw[-1] > 2000
    assert ep["context"]["context_tokens"] == raw


@pytest.mark.parametrize("mode", ["memory", "resum"])
def test_memory_and_resum_keep_every_turn_under_budget(tiny_world, task, mode):
    ep, inner = _play(tiny_world, task, ContextConfig(mode=mode, budget_tokens=2000))
    ctx = ep["context"]
    assert ep["turns"] == 12 and not ep["context"]["forced"]  # the episode ran its course
    assert max(ctx["raw_tokens"]) > 2000 >= max(ctx["context_tokens"])
    assert all(count_messages(m) <= 2000 for m in inner.seen)
    if mode == "memory":
        assert ctx["compressed_steps"] > 0
        assert any(
            m["content"].startswith("<tool_response>\n[memory] Searched 'psychotherapy'")
            for m in inner.seen[-1]
        )
    else:
        assert ctx["resets"] >= 1
        assert (
            "<summary>" in inner.seen[-1][1]["content"]
            and "Searched 'psychotherapy'" in inner.seen[-1][1]["content"]
        )
    # the env's own record of the conversation is untouched
    assert not any("[memory]" in m["content"] for m in ep["messages"])


def test_forced_answer_at_the_limit(tiny_world, task):
    ep, inner = _play(tiny_world, task, ContextConfig(mode="none", budget_tokens=1000))
    assert ep["context"]["forced"] and ep["answered"] and not ep["truncated"]
    assert ep["turns"] < 12 and ep["answer"] == "Stanley Hall"
    assert inner.seen[-1][-1]["content"] == FORCE_ANSWER
    assert json.dumps(ep)  # the record stays serialisable
