"""Run an agent for many episodes with bounded concurrency and record everything.

Each episode gets its own env (they share the process's world) and its own agent from
``agent_factory``. Outputs in ``out_dir``: ``trajectories.jsonl`` (one episode per line:
messages, steps with tool calls and latencies, reward), ``summary.json``, ``summary.png``
and ``viewer.html`` (a trajectory viewer).

Example:
    >>> from lite_world.agents.scripted import ScriptedAgent
    >>> summary = run_rollouts(ScriptedAgent, RolloutConfig(limit=2), out_dir="runs/x")   # doctest: +SKIP
    >>> sorted(summary)[:3]                                                                # doctest: +SKIP
    ['accuracy', 'accuracy_by_difficulty', 'action_errors']
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lite_world.agents.base import Agent
from lite_world.envs.search_env import make_lite_search
from lite_world.errors import ConfigError
from lite_world.rollout.summary import summarize
from lite_world.tasks import Task, load_tasks

__all__ = ["STEP_KEYS", "RolloutConfig", "Episode", "episode_record", "run_episode", "run_rollouts"]

logger = logging.getLogger(__name__)
Episode = dict[str, Any]
STEP_KEYS = ("turn", "action_kind", "tool", "arguments", "tool_latency_s", "error", "repeat_count")
"""The ``info`` keys recorded for every step of an episode."""


@dataclass(frozen=True)
class RolloutConfig:
    """What to roll out."""

    world: str | None = field(default=None, metadata={"help": "World directory (None: the demo world)."})
    tasks: str | None = field(default=None, metadata={"help": "Task file (None: the demo tasks)."})
    samples: int = field(default=1, metadata={"help": "Episodes per task (for pass@k)."})
    concurrency: int = field(default=1, metadata={"help": "Episodes run at once (threads)."})
    limit: int | None = field(default=None, metadata={"help": "Use only the first N tasks."})
    seed: int = field(default=0, metadata={"help": "Base seed; episode i uses seed + i."})
    env_kwargs: Mapping[str, Any] = field(default_factory=dict, metadata={"help": "Extra LiteSearch-v0 kwargs."})
    show_progress: bool = field(default=True, metadata={"help": "Show a progress bar."})

    def __post_init__(self) -> None:
        if self.samples < 1 or self.concurrency < 1:
            raise ConfigError(f"Expects samples >= 1 and concurrency >= 1, actual: {self.samples}, {self.concurrency}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"Expects limit >= 1 or None, actual: {self.limit}")


def run_episode(env: Any, agent: Agent, task: Task, *, seed: int) -> Episode:
    """Play one episode until the agent answers or ``TimeLimit`` truncates it.

    ``env`` is a LiteSearch-v0 env (e.g. from :func:`~lite_world.envs.search_env.make_lite_search`);
    agent text never raises (the env turns bad actions into observations).
    """
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed, options={"task": task.to_dict()})
    agent.reset(info["task"])
    steps: list[dict[str, Any]] = []
    reward, terminated, truncated, last = 0.0, False, False, info
    agent_s = 0.0
    while not (terminated or truncated):
        ta = time.perf_counter()
        action = agent.act(obs, last)
        agent_s += time.perf_counter() - ta
        obs, reward, terminated, truncated, last = env.step(action)
        steps.append({k: last.get(k) for k in STEP_KEYS})
    return episode_record(task, seed=seed, steps=steps, reward=reward, terminated=terminated, truncated=truncated,
                          last=last, agent_s=agent_s, wall_s=time.perf_counter() - t0)


def episode_record(
    task: Task,
    *,
    seed: int,
    steps: list[dict[str, Any]],
    reward: float,
    terminated: bool,
    truncated: bool,
    last: dict[str, Any],
    agent_s: float = 0.0,
    wall_s: float = 0.0,
) -> Episode:
    """One line of ``trajectories.jsonl``: the task, the outcome (from the last ``info``), the steps."""
    return {
        "task_id": task.id,
        "question": task.question,
        "answers": list(task.answers),
        "difficulty": task.difficulty,
        "seed": seed,
        "reward": float(reward),
        "answered": bool(terminated),
        "truncated": bool(truncated),
        "answer": last.get("answer"),
        "reward_info": last.get("reward_info"),
        "turns": len(steps),
        "totals": last.get("totals", {}),
        "steps": steps,
        "messages": last.get("messages", []),
        "agent_s": round(agent_s, 4),
        "wall_s": round(wall_s, 4),
    }


def run_rollouts(
    agent_factory: Callable[[], Agent],
    config: RolloutConfig,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    tasks: Sequence[Task] | None = None,
) -> dict[str, Any]:
    """Run ``samples`` episodes per task; write outputs to ``out_dir`` if given; return the summary."""
    task_list = list(tasks) if tasks is not None else load_tasks(config.tasks)
    if config.limit:
        task_list = task_list[: config.limit]
    env_kwargs = dict(config.env_kwargs)
    max_turns = int(env_kwargs.pop("max_turns", 32))
    jobs = [(i, t, s) for i, (t, s) in enumerate((t, s) for t in task_list for s in range(config.samples))]
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    traj_f = open(out / "trajectories.jsonl", "w", encoding="utf-8") if out else None

    def job(i: int, task: Task) -> Episode:
        env = make_lite_search(world=config.world, tasks=[task.to_dict()], max_turns=max_turns, **env_kwargs)
        ep = run_episode(env, agent_factory(), task, seed=config.seed + i)
        ep["sample"] = i
        return ep

    episodes: list[Episode] = []
    t0 = time.perf_counter()
    bar = tqdm(total=len(jobs), desc="rollout", unit="ep", disable=not config.show_progress)
    try:
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            futures = [pool.submit(job, i, t) for i, t, _ in jobs]
            for fut in as_completed(futures):
                ep = fut.result()
                episodes.append(ep)
                if traj_f:
                    traj_f.write(json.dumps(ep, ensure_ascii=False) + "\n")
                    traj_f.flush()
                bar.update(1)
                bar.set_postfix(acc=f"{sum(e['reward'] for e in episodes) / len(episodes):.2f}")
    finally:
        bar.close()
        if traj_f:
            traj_f.close()
    episodes.sort(key=lambda e: e["sample"])
    summary = summarize(episodes, wall_s=time.perf_counter() - t0)
    if out:
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        from lite_world.rollout.report import write_plot, write_viewer

        write_viewer(episodes, summary, out / "viewer.html")
        try:
            write_plot(episodes, out / "summary.png")
        except ImportError:
            logger.info("matplotlib not installed: no summary.png")
    return summary
