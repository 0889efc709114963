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

from collections.abc import Mapping, Sequence
from typing import Any

from lite_world.agents.base import GenerationConfig
from lite_world.envs.config import LiteSearchConfig
from lite_world.rollout.lockstep import run_lockstep
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
    world with 6 turns). The episodes run in lockstep
    (:func:`lite_world.rollout.lockstep.run_lockstep`, which ``lite-world demo`` uses too).
    """
    from lite_world.agents.hf import TransformersAgent

    agent = TransformersAgent(model, tokenizer, GenerationConfig(max_new_tokens=max_new_tokens))
    return run_lockstep(
        agent,
        tasks,
        env or LiteSearchConfig(max_turns=6),
        batch_size=batch_size,
        seed=seed,
        show_progress=show_progress,
    )


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
