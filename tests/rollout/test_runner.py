"""End-to-end rollouts on the demo world: ScriptedAgent (fast) and one short SmolLM2 episode."""

from __future__ import annotations

import json

import pytest

from lite_world.agents.scripted import ScriptedAgent
from lite_world.cli import main
from lite_world.rollout import RolloutConfig, pass_at_k, run_rollouts, summarize
from lite_world.tasks import demo_tasks


@pytest.fixture(scope="module")
def tasks(musique):
    """Tasks whose evidence is in the session's tiny world."""
    from lite_world.tasks import Task

    return [
        Task.from_dict(
            {
                "id": q["id"],
                "question": q["question"],
                "answers": [q["answer"], *q["answer_aliases"]],
                "difficulty": len(q["question_decomposition"]),
            }
        )
        for q in musique
    ]


@pytest.fixture(scope="module")
def tasks_file(tmp_path_factory, tasks):
    path = tmp_path_factory.mktemp("tasks") / "tasks.jsonl"
    path.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in tasks))
    return path


def test_scripted_rollout_writes_trajectories_and_summary(tmp_path, tasks, tiny_world):
    cfg = RolloutConfig.from_flat(
        world=str(tiny_world), samples=2, concurrency=3, show_progress=False
    )
    summary = run_rollouts(ScriptedAgent, cfg, out_dir=tmp_path, tasks=tasks)
    lines = (tmp_path / "trajectories.jsonl").read_text().splitlines()
    episodes = [json.loads(line) for line in lines]
    assert len(episodes) == 10 and summary["episodes"] == 10 and summary["tasks"] == 5
    # the summary is exactly recomputable from the trajectories
    assert summary["accuracy"] == pytest.approx(sum(e["reward"] for e in episodes) / 10)
    assert summary["mean_turns"] == pytest.approx(sum(e["turns"] for e in episodes) / 10)
    assert json.loads((tmp_path / "summary.json").read_text())["accuracy"] == summary["accuracy"]
    for e in episodes:
        # scripted: search, visit, bridge search, visit, answer
        assert [s["action_kind"] for s in e["steps"]] == ["tool", "tool", "tool", "tool", "answer"]
        assert [s["tool"] for s in e["steps"][:4]] == ["search", "visit", "search", "visit"]
        assert e["answered"] and not e["truncated"]
        assert e["messages"][0]["role"] == "system" and e["messages"][-1]["role"] == "assistant"
        assert all(s["tool_latency_s"] > 0 for s in e["steps"][:4])
    # same task + greedy scripted agent => both samples agree
    by_task = {}
    for e in episodes:
        by_task.setdefault(e["task_id"], set()).add(e["answer"])
    assert all(len(v) == 1 for v in by_task.values())
    assert (tmp_path / "viewer.html").read_text().count(episodes[0]["task_id"]) >= 1
    assert (tmp_path / "summary.png").stat().st_size > 1000


def test_summary_pass_at_k_and_agreement():
    eps = [
        {
            "task_id": "a",
            "reward": 1.0,
            "answered": True,
            "truncated": False,
            "turns": 2,
            "totals": {"tool_calls": 1},
            "steps": [{"tool": "search", "tool_latency_s": 0.002, "error": None}],
            "reward_info": {"em": 1.0, "f1": 1.0, "judged": True},
        },
        {
            "task_id": "a",
            "reward": 0.0,
            "answered": False,
            "truncated": True,
            "turns": 3,
            "totals": {"tool_calls": 3},
            "steps": [],
            "reward_info": None,
        },
        {
            "task_id": "b",
            "reward": 0.0,
            "answered": True,
            "truncated": False,
            "turns": 1,
            "totals": {},
            "steps": [],
            "reward_info": {"em": 1.0, "f1": 1.0, "judged": False},
        },
        {
            "task_id": "b",
            "reward": 0.0,
            "answered": True,
            "truncated": False,
            "turns": 1,
            "totals": {},
            "steps": [],
            "reward_info": {"em": 0.0, "f1": 0.0, "judged": None},
        },
    ]
    s = summarize(eps, wall_s=2.0)
    assert s["accuracy"] == 0.25 and s["pass@1"] == 0.25 and s["pass@2"] == 0.5
    assert s["answer_rate"] == 0.75 and s["truncated_rate"] == 0.25 and s["mean_turns"] == 1.75
    assert s["judged_episodes"] == 2 and s["judge_em_agreement"] == 0.5
    assert s["tool_latency_p50_ms"] == 2.0 and s["episodes_per_s"] == 2.0
    assert pass_at_k(5, 2, 3) == pytest.approx(1 - 1 / 10)


def test_rollout_config_validation():
    from lite_world.errors import ConfigError

    with pytest.raises(ConfigError, match="RolloutConfig.samples to be an int >= 1, actual: 0"):
        RolloutConfig(samples=0)
    with pytest.raises(
        ConfigError, match="RolloutConfig.limit to be None or an int >= 1, actual: 0"
    ):
        RolloutConfig(limit=0)


def test_cli_rollout_scripted(tmp_path, capsys, tiny_world, tasks_file):
    args = [
        "rollout",
        "--agent",
        "scripted",
        "--world",
        str(tiny_world),
        "--tasks",
        str(tasks_file),
    ]
    assert main([*args, "--limit", "3", "--concurrency", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["episodes"] == 3 and {"accuracy", "episodes", "mean_turns"} <= set(summary)
    assert '"episodes": 3' in out


def test_cli_rollout_openai_needs_url(tmp_path, capsys):
    assert main(["rollout", "--agent", "openai", "--limit", "1", "--out", str(tmp_path)]) == 2
    assert "--base-url" in capsys.readouterr().err


def test_smollm2_short_episode(tmp_path, tasks, tiny_world):
    """The embedded default LLM plays a real (short) episode through the env."""
    from lite_world.agents.base import GenerationConfig
    from lite_world.agents.hf import TransformersAgent

    agent = TransformersAgent("smollm2", config=GenerationConfig(max_new_tokens=24))
    cfg = RolloutConfig.from_flat(world=str(tiny_world), show_progress=False, max_turns=2)
    s = run_rollouts(lambda: agent, cfg, tasks=tasks[:1], out_dir=tmp_path)
    ep = json.loads((tmp_path / "trajectories.jsonl").read_text())
    assert s["episodes"] == 1 and 1 <= ep["turns"] <= 2
    assert ep["messages"][2]["role"] == "assistant" and isinstance(
        ep["messages"][2]["content"], str
    )
    assert ep["reward"] in (0.0, 1.0)
    # whatever it wrote, the env answered with a tool response or ended the episode
    assert ep["answered"] or ep["messages"][3]["content"].startswith("<tool_response>")


@pytest.mark.slow
def test_demo_world_main_job(tmp_path, capsys):
    """The main job on the bundled demo world (built on first use into LITE_WORLD_CACHE)."""
    argv = ["demo", "--out", str(tmp_path), "--scripted-tasks", "10", "--llm-tasks", "0"]
    assert main([*argv, "--trained-tasks", "0"]) == 0  # stage 4: tests/agents/*adapters*
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "scripted" / "summary.json").read_text())
    assert (
        summary["episodes"] == 10
        and summary["answer_rate"] == 1.0
        and summary["action_errors"] == 0
    )
    assert "pages=7807" in out and "A Google search for" in out
    # the default env is the demo world with its 100 MuSiQue tasks
    import gymnasium as gym

    env = gym.make("LiteSearch-v0")
    assert len(env.unwrapped.tasks) == len(demo_tasks()) == 100
