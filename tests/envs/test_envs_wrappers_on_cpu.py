"""ChatMessages and ToolStats on a real episode of the tiny world."""

from __future__ import annotations

import json

import gymnasium as gym

import lite_world  # noqa: F401
from lite_world.envs.wrappers import ChatMessages, ToolStats


def call(name, **arguments):
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"


def test_chat_messages_and_tool_stats_over_two_episodes(tiny_world, tasks):
    env = ToolStats(
        ChatMessages(
            gym.make(
                "LiteSearch-v0",
                world=str(tiny_world),
                tasks=tasks,
                search_k=2,
                search_mode="sparse",
                max_episode_steps=4,
            )
        )
    )
    messages, info = env.reset(seed=0, options={"task_id": tasks[3]["id"]})
    assert list(messages) == info["messages"] and [m["role"] for m in messages] == [
        "system",
        "user",
    ]
    assert env.observation_space.contains(messages)  # was False with a list: the space holds tuples

    search = call("search", query=["Bubye River"])
    messages, _, _, _, info = env.step(search)
    assert env.observation_space.contains(messages)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"].startswith("<tool_response>\nA Google search for 'Bubye River'")
    assert "tool_stats" not in info
    env.step(search)  # a repeat
    env.step(call("visit", url="https://en.wikipedia.org/wiki/Bubye_River"))  # missing goal
    messages, reward, terminated, _, info = env.step("<answer>Victoria Falls</answer>")
    assert (
        terminated
        and reward == 1.0
        and messages[-1] == {"role": "assistant", "content": "<answer>Victoria Falls</answer>"}
    )
    stats = info["tool_stats"]
    assert {
        k: stats[k]
        for k in ("turns", "tool_calls", "tool:search", "errors", "repeated_calls", "answered")
    } == {
        "turns": 4,
        "tool_calls": 2,
        "tool:search": 2,
        "errors": 1,
        "repeated_calls": 1,
        "answered": True,
    }
    assert stats["kind:tool"] == 3 and stats["kind:answer"] == 1 and stats["tool_latency_s"] > 0

    env.reset(seed=1, options={"task_id": tasks[0]["id"]})
    for _ in range(4):  # never answers: TimeLimit truncates at 4
        _, _, terminated, truncated, info = env.step("thinking...")
    assert truncated and not terminated and info["tool_stats"]["answered"] is False
    assert (
        env.episodes == 2
        and env.totals["turns"] == 8
        and env.totals["answered"] == 1
        and env.totals["errors"] == 5
    )
