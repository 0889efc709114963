"""The before/after measure: greedy SmolLM2 episodes in LiteSearch-v0 on the tiny world."""

from __future__ import annotations

import pytest

from lite_world.envs.config import LiteSearchConfig
from lite_world.rollout.summary import summarize
from lite_world.tasks import Task
from trainers.sft.evaluate import evaluate_policy, protocol_metrics


@pytest.fixture(scope="module")
def episodes(tiny_world, musique):
    from trainers.grpo.trainer import load_policy

    model, tokenizer = load_policy("smollm2")
    tasks = [
        Task.from_dict({"id": q["id"], "question": q["question"], "answers": [q["answer"]]})
        for q in musique[:2]
    ]
    env = LiteSearchConfig(world=str(tiny_world), max_turns=2, search_mode="sparse")
    return evaluate_policy(
        model, tokenizer, tasks, env=env, max_new_tokens=16, batch_size=2, show_progress=False
    )


def test_episodes_are_rollout_records(episodes, musique):
    assert [e["task_id"] for e in episodes] == [q["id"] for q in musique[:2]]
    for e in episodes:
        assert 1 <= e["turns"] == len(e["steps"]) <= 2
        assert e["answered"] or e["truncated"]  # every episode ended
        assert e["messages"][0]["role"] == "system"
        assert sum(m["role"] == "assistant" for m in e["messages"]) == e["turns"]
        assert all(
            s["tokens"] <= 16 and s["finish_reason"] in ("stop", "length") for s in e["steps"]
        )
    summary = summarize(episodes, wall_s=1.0)  # the runner's summary reads them unchanged
    assert summary["episodes"] == 2


def test_metrics_recount_the_steps(episodes):
    m = protocol_metrics(episodes)
    steps = [s for e in episodes for s in e["steps"]]
    assert m["turns"] == len(steps) and m["episodes"] == 2
    valid = sum(s["action_kind"] == "tool" and s["error"] is None for s in steps)
    assert m["call_turn_rate"] == round(valid / len(steps), 4)
    assert m["answer_rate"] == sum(e["answered"] for e in episodes) / 2
    assert 0.0 <= m["format_error_rate"] <= 1.0
