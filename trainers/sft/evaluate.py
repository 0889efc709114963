"""Does a policy speak the tool protocol? Greedy episodes in ``LiteSearch-v0``, batched, scored.

The before/after measure of cold-start SFT: every active episode advances by one left-padded
``generate`` call per turn (:meth:`~lite_world.agents.hf.TransformersAgent.complete_batch`,
greedy), then one ``env.step`` each, until all have answered or hit ``max_turns``.

Metrics (:func:`protocol_metrics`, a pure function of the episodes):

* ``valid_call_rate``: turns that were a well-formed call of an existing tool with valid
  arguments, over all turns that were not the final answer;
* ``call_turn_rate``: turns that were valid calls, over all turns;
* ``answer_rate``: episodes that ended with an ``<answer>``;
* ``accuracy``: mean reward (exact match by default);
* ``format_error_rate``: turns the env could not read (no action, malformed call).

Example (needs a world; the tests run it on a tiny one):
    >>> from lite_world.agents.smollm import load_smollm2
    >>> from lite_world.tasks import demo_tasks
    >>> model, tok = load_smollm2()
    >>> env = LiteSearchConfig(max_turns=2)
    >>> episodes = evaluate_policy(model, tok, demo_tasks()[:2], env=env, max_new_tokens=32)  # doctest: +SKIP
    >>> protocol_metrics(episodes)["episodes"]                                                    # doctest: +SKIP
    2
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from tqdm.auto import tqdm

from lite_world.agents.base import GenerationConfig
from lite_world.envs.config import LiteSearchConfig
from lite_world.envs.factory import make_env
from lite_world.rollout.runner import STEP_KEYS, episode_record
from lite_world.tasks import Task

__all__ = ["evaluate_policy", "protocol_metrics"]

Episode = dict[str, Any]


def evaluate_policy(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[Task],
    *,
    env: LiteSearchConfig | None = None,
    max_new_tokens: int = 128,
    batch_size: int = 16,
    seed: int = 0,
    show_progress: bool = True,
) -> list[Episode]:
    """Play one greedy episode per task; return rollout-runner style episode records.

    ``env`` holds the episodes' options (world, turn limit, search options; default: the demo
    world with 6 turns).
    """
    from lite_world.agents.hf import TransformersAgent

    agent = TransformersAgent(model, tokenizer, GenerationConfig(max_new_tokens=max_new_tokens))
    env = env or LiteSearchConfig(max_turns=6)
    envs = [make_env(env, tasks=(t.to_dict(),)) for t in tasks]
    state: list[dict[str, Any]] = []
    for i, (env, task) in enumerate(zip(envs, tasks, strict=True)):
        _, info = env.reset(seed=seed + i, options={"task": task.to_dict()})
        state.append(
            {
                "task": task,
                "info": info,
                "steps": [],
                "reward": 0.0,
                "done": False,
                "answered": False,
                "truncated": False,
                "seed": seed + i,
                "t0": time.perf_counter(),
            }
        )
    stop = tuple(state[0]["info"]["stop"]) if state else ()
    config = GenerationConfig(max_new_tokens=max_new_tokens, stop=stop)
    bar = tqdm(total=len(tasks), desc="evaluate", unit="ep", disable=not show_progress)
    active = list(range(len(tasks)))
    while active:
        for start in range(0, len(active), batch_size):
            chunk = active[start : start + batch_size]
            completions = agent.complete_batch(
                [state[i]["info"]["messages"] for i in chunk], config
            )
            for i, completion in zip(chunk, completions, strict=True):
                s = state[i]
                _, reward, terminated, truncated, info = envs[i].step(completion.text)
                s["steps"].append(
                    {k: info.get(k) for k in STEP_KEYS}
                    | {
                        "finish_reason": completion.finish_reason,
                        "tokens": completion.completion_tokens,
                    }
                )
                s["info"] = info
                if terminated or truncated:
                    s.update(
                        done=True,
                        reward=float(reward),
                        answered=bool(terminated),
                        truncated=bool(truncated),
                        wall_s=time.perf_counter() - s["t0"],
                    )
                    bar.update(1)
        active = [i for i in active if not state[i]["done"]]
    bar.close()
    return [
        episode_record(
            s["task"],
            seed=s["seed"],
            steps=s["steps"],
            reward=s["reward"],
            terminated=s["answered"],
            truncated=s["truncated"],
            last=s["info"],
            wall_s=s["wall_s"],
        )
        for s in state
    ]


def protocol_metrics(episodes: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """How well the episodes follow the tool protocol (see the module docstring).

    Example:
        >>> good = {"reward": 1.0, "answered": True, "steps": [
        ...     {"action_kind": "tool", "error": None}, {"action_kind": "answer", "error": None}]}
        >>> bad = {"reward": 0.0, "answered": False, "steps": [
        ...     {"action_kind": "none", "error": "no_action"}, {"action_kind": "tool", "error": "unknown_tool"}]}
        >>> m = protocol_metrics([good, bad])
        >>> m["valid_call_rate"], m["answer_rate"], m["accuracy"], m["format_error_rate"]
        (0.3333, 0.5, 0.5, 0.25)
    """
    steps = [s for e in episodes for s in e["steps"]]
    non_answer = [s for s in steps if s["action_kind"] != "answer"]
    valid = [s for s in steps if s["action_kind"] == "tool" and s["error"] is None]
    n = max(1, len(episodes))
    return {
        "episodes": len(episodes),
        "turns": len(steps),
        "valid_call_rate": round(len(valid) / max(1, len(non_answer)), 4),
        "call_turn_rate": round(len(valid) / max(1, len(steps)), 4),
        "answer_rate": round(sum(bool(e["answered"]) for e in episodes) / n, 4),
        "accuracy": round(sum(float(e["reward"]) for e in episodes) / n, 4),
        "format_error_rate": round(
            sum(s["action_kind"] in ("none", "error") for s in steps) / max(1, len(steps)), 4
        ),
        "mean_turns": round(len(steps) / n, 2),
    }
