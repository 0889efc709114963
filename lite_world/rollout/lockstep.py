"""Lockstep episodes: every active episode advances one turn per batched generation call.

:func:`run_rollouts` plays episodes one at a time per thread; an in-process model then generates
for one conversation per call. Here all episodes share each turn: the conversations of the
episodes still running go to the agent's ``complete_batch`` together (one left-padded
``generate`` for :class:`~lite_world.agents.hf.TransformersAgent`), then each env takes its
step, until every episode has answered or hit ``max_turns``. The records are the rollout
runner's (``trajectories.jsonl`` lines, plus ``finish_reason`` and ``tokens`` per step), so the
runner's summary and viewer read them. ``lite-world demo`` compares models with it.

Example:
    >>> from lite_world.agents.base import ChatAgent, Completion
    >>> class Answer42(ChatAgent):
    ...     def complete_batch(self, conversations, config=None):
    ...         return [Completion("<answer>42</answer>", "stop", None, 1, 1) for _ in conversations]
    >>> from lite_world.tasks import Task
    >>> tasks = [Task("a", "6 x 7?", ("42",)), Task("b", "7 x 8?", ("56",))]
    >>> env = LiteSearchConfig(world="demo", max_turns=2)
    >>> episodes = run_lockstep(Answer42(), tasks, env, show_progress=False)
    >>> [(e["task_id"], e["reward"], e["turns"]) for e in episodes]
    [('a', 1.0, 1), ('b', 0.0, 1)]
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lite_world.agents.base import ChatAgent
from lite_world.config import check_int
from lite_world.envs.config import LiteSearchConfig
from lite_world.envs.factory import make_env
from lite_world.rollout.runner import STEP_KEYS, Episode, _json_line, episode_record
from lite_world.rollout.summary import summarize
from lite_world.tasks import Task

__all__ = ["run_lockstep", "valid_call_rate", "write_run"]

logger = logging.getLogger(__name__)


def run_lockstep(
    agent: ChatAgent,
    tasks: Sequence[Task],
    env: LiteSearchConfig,
    *,
    batch_size: int = 16,
    seed: int = 0,
    show_progress: bool = True,
) -> list[Episode]:
    """Play one episode per task, all turns batched; return rollout-runner episode records.

    Args:
        agent: An LLM agent; its ``config`` gives the sampling settings (greedy by default),
            the env's stop strings replace its own.
        tasks: One episode each, in this order.
        env: The episodes' options (world, turn limit, action format...); ``tasks`` is ignored.
        batch_size: Conversations per ``complete_batch`` call.
        seed: Episode ``i`` is reset with ``seed + i``.
        show_progress: A tqdm bar of finished episodes.
    """
    check_int("run_lockstep batch_size", batch_size, low=1)
    envs = [make_env(env, tasks=(t.to_dict(),)) for t in tasks]
    state: list[dict[str, Any]] = []
    for i, (e, task) in enumerate(zip(envs, tasks, strict=True)):
        _, info = e.reset(seed=seed + i, options={"task": task.to_dict()})
        agent.reset(info["task"])
        state.append({"task": task, "info": info, "steps": [], "t0": time.perf_counter()})
    stop = tuple(state[0]["info"]["stop"]) if state else ()
    config = agent.config.replace(stop=stop)
    bar = tqdm(total=len(tasks), desc="episodes", unit="ep", disable=not show_progress)
    active = list(range(len(tasks)))
    while active:
        for start in range(0, len(active), batch_size):
            chunk = active[start : start + batch_size]
            t0 = time.perf_counter()
            completions = agent.complete_batch(
                [state[i]["info"]["messages"] for i in chunk], config
            )
            agent_s = (time.perf_counter() - t0) / len(chunk)
            for i, completion in zip(chunk, completions, strict=True):
                s = state[i]
                _, reward, terminated, truncated, info = envs[i].step(completion.text)
                s["steps"].append(
                    {k: info.get(k) for k in STEP_KEYS}
                    | {"finish_reason": completion.finish_reason}
                    | {"tokens": completion.completion_tokens}
                )
                s["info"] = info
                s["agent_s"] = s.get("agent_s", 0.0) + agent_s
                if terminated or truncated:
                    s["record"] = episode_record(
                        s["task"],
                        seed=seed + i,
                        steps=s["steps"],
                        reward=float(reward),
                        terminated=bool(terminated),
                        truncated=bool(truncated),
                        last=info,
                        agent_s=s["agent_s"],
                        wall_s=time.perf_counter() - s["t0"],
                    )
                    bar.update(1)
        active = [i for i in active if "record" not in state[i]]
    bar.close()
    for e in envs:
        e.close()
    return [s["record"] | {"sample": i} for i, s in enumerate(state)]


def valid_call_rate(episodes: Sequence[Mapping[str, Any]]) -> float:
    """Turns that were a well-formed call of an allowed tool, over all turns that did not answer.

    Example:
        >>> ok = {"action_kind": "tool", "error": None}
        >>> bad = {"action_kind": "none", "error": "no_action"}
        >>> valid_call_rate([{"steps": [ok, bad, {"action_kind": "answer", "error": None}]}])
        0.5
        >>> valid_call_rate([])
        0.0
    """
    steps = [s for e in episodes for s in e["steps"] if s.get("action_kind") != "answer"]
    valid = [s for s in steps if s.get("action_kind") == "tool" and s.get("error") is None]
    return round(len(valid) / len(steps), 4) if steps else 0.0


def write_run(
    episodes: Sequence[Episode], out_dir: str | os.PathLike[str], *, wall_s: float | None = None
) -> dict[str, Any]:
    """Write ``trajectories.jsonl``, ``summary.json`` and ``viewer.html``; return the summary.

    The summary is :func:`~lite_world.rollout.summary.summarize`'s, plus ``valid_call_rate``.
    """
    from lite_world.rollout.report import write_viewer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(episodes, wall_s=wall_s) | {"valid_call_rate": valid_call_rate(episodes)}
    with open(out / "trajectories.jsonl", "w", encoding="utf-8") as f:
        f.writelines(_json_line(e) for e in episodes)
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_viewer(episodes, summary, out / "viewer.html")
    return summary
