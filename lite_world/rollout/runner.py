"""Run an agent for many episodes with bounded concurrency and record everything.

Each episode gets its own env (they share the process's world) and its own agent from
``agent_factory``. Outputs in ``out_dir``: ``trajectories.jsonl`` (one episode per line:
messages, steps with tool calls and latencies, reward), ``summary.json``, ``summary.png``
and ``viewer.html`` (a trajectory viewer).

Example:
    >>> from lite_world.agents.scripted import ScriptedAgent
    >>> cfg = RolloutConfig(env=LiteSearchConfig(max_turns=4, search_k=3), limit=2, show_progress=False)
    >>> summary = run_rollouts(ScriptedAgent, cfg)
    >>> summary["episodes"], sorted(summary)[:2]
    (2, ['accuracy', 'accuracy_by_difficulty'])
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lite_world.agents.base import Agent
from lite_world.config import ConfigMixin, check_int
from lite_world.envs.config import LiteSearchConfig
from lite_world.envs.factory import make_env
from lite_world.errors import ConfigError
from lite_world.rollout.summary import summarize
from lite_world.sanitize import clean_value
from lite_world.tasks import Task, load_tasks

__all__ = ["STEP_KEYS", "RolloutConfig", "Episode", "episode_record", "run_episode", "run_rollouts"]

logger = logging.getLogger(__name__)
Episode = dict[str, Any]
STEP_KEYS = ("turn", "action_kind", "tool", "arguments", "tool_latency_s", "error", "repeat_count")
"""The ``info`` keys recorded for every step of an episode."""


@dataclass(frozen=True)
class RolloutConfig(ConfigMixin):
    """What to roll out: the episodes' :class:`~lite_world.envs.config.LiteSearchConfig` and how many.

    Example:
        >>> RolloutConfig(env=LiteSearchConfig(search_k=3), samples=2).env.search_k
        3
        >>> RolloutConfig(samples=0)
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects RolloutConfig.samples to be an int >= 1, actual: 0
    """

    env: LiteSearchConfig = field(
        default_factory=LiteSearchConfig,
        metadata={
            "help": "The episodes' env options (world, tasks, tools, reward, turn limit, ...)."
        },
    )
    samples: int = field(default=1, metadata={"help": "Episodes per task (for pass@k)."})
    concurrency: int = field(default=1, metadata={"help": "Episodes run at once (threads)."})
    limit: int | None = field(default=None, metadata={"help": "Use only the first N tasks."})
    seed: int = field(default=0, metadata={"help": "Base seed; episode i uses seed + i."})
    show_progress: bool = field(default=True, metadata={"help": "Show a progress bar."})

    def __post_init__(self) -> None:
        if not isinstance(self.env, LiteSearchConfig):
            raise ConfigError(
                f"Expects RolloutConfig.env to be a LiteSearchConfig, actual: {type(self.env).__name__}"
            )
        check_int("RolloutConfig.samples", self.samples, low=1)
        check_int("RolloutConfig.concurrency", self.concurrency, low=1)
        check_int("RolloutConfig.limit", self.limit, low=1, optional=True)
        check_int("RolloutConfig.seed", self.seed)


def run_episode(env: Any, agent: Agent, task: Task, *, seed: int) -> Episode:
    """Play one episode until the agent answers or ``TimeLimit`` truncates it.

    ``env`` is a LiteSearch-v0 env (e.g. from :func:`~lite_world.envs.factory.make_env`);
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
    return episode_record(
        task,
        seed=seed,
        steps=steps,
        reward=reward,
        terminated=terminated,
        truncated=truncated,
        last=last,
        agent_s=agent_s,
        wall_s=time.perf_counter() - t0,
    )


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
    env_tasks = config.env.tasks
    task_list = (
        list(tasks)
        if tasks is not None
        else load_tasks(list(env_tasks) if isinstance(env_tasks, tuple) else env_tasks)
    )
    if config.limit:
        task_list = task_list[: config.limit]
    jobs = [
        (i, t, s)
        for i, (t, s) in enumerate((t, s) for t in task_list for s in range(config.samples))
    ]
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    traj_f = open(out / "trajectories.jsonl", "w", encoding="utf-8") if out else None

    def job(i: int, task: Task) -> Episode:
        try:
            env = make_env(config.env, tasks=(task.to_dict(),))
            ep = run_episode(env, agent_factory(), task, seed=config.seed + i)
        except Exception as exc:  # noqa: BLE001 - one failed episode is recorded, the run goes on
            logger.exception("episode %d (task %s) failed", i, task.id)
            ep = episode_record(
                task,
                seed=config.seed + i,
                steps=[],
                reward=0.0,
                terminated=False,
                truncated=False,
                last={},
            )
            ep["error"] = f"{type(exc).__name__}: {exc}"[:500]
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
                    traj_f.write(_json_line(ep))
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


def _json_line(record: Episode) -> str:
    """One JSONL line; a record that JSON cannot hold as it is gets cleaned, never dropped."""
    try:
        return json.dumps(record, ensure_ascii=False) + "\n"
    except (TypeError, ValueError):
        return json.dumps(clean_value(record, max_depth=64), ensure_ascii=False) + "\n"
