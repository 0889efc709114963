"""``lite-world rollout`` and ``lite-world demo`` (the main job on the bundled demo world).

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers()
    >>> add_rollout_parser(sub)
    >>> p.parse_args(["rollout", "--agent", "scripted", "--out", "runs/x"]).agent
    'scripted'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from lite_world.config import add_config_flags, config_values
from lite_world.envs.config import LiteSearchConfig
from lite_world.errors import ConfigError

__all__ = ["add_rollout_parser", "compare_trained", "make_agent_factory"]

AGENTS = ("scripted", "hf", "openai")


def make_agent_factory(a: argparse.Namespace) -> Any:
    """A zero-argument callable that builds a fresh agent per episode."""
    from lite_world.agents.base import GenerationConfig

    gen = GenerationConfig(max_new_tokens=a.max_new_tokens, temperature=a.temperature)
    if a.agent == "scripted":
        from lite_world.agents.scripted import ScriptedAgent

        return ScriptedAgent
    if a.agent == "hf":
        from lite_world.agents.hf import TransformersAgent

        shared = TransformersAgent(
            a.model or "smollm2", config=gen
        )  # one model, shared by episodes
        return lambda: shared
    if a.agent == "openai":
        if not a.base_url or not a.model:
            raise ConfigError(
                "Expects --base-url (e.g. http://127.0.0.1:8000/v1) and --model with --agent openai"
            )
        from lite_world.agents.openai import OpenAIAgent

        return lambda: OpenAIAgent(a.base_url, a.model, api_key=a.api_key, config=gen)
    raise ConfigError(f"Expects --agent in {AGENTS}, actual: {a.agent!r}")


def _cmd_rollout(a: argparse.Namespace) -> int:
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.rollout.runner import RolloutConfig

    recorded: dict[str, Any] = {}
    if a.agent == "hf" and a.model:
        from lite_world.agents.adapters import recorded_env

        recorded = recorded_env(a.model)  # a fine-tuned model is run with its training settings
        if recorded:
            print(f"{a.model}: episode settings it was trained with (flags override): {recorded}")
    env = LiteSearchConfig.from_dict(
        {"max_turns": _DEFAULT_MAX_TURNS, **recorded, **config_values(a)}
    )
    cfg = RolloutConfig(env=env, samples=a.n, concurrency=a.concurrency, limit=a.limit, seed=a.seed)
    _run(make_agent_factory(a), cfg, a.out)
    return 0


def _run(agent_factory: Any, cfg: Any, out: str) -> dict[str, Any]:
    from lite_world.rollout.runner import run_rollouts

    summary = run_rollouts(agent_factory, cfg, out_dir=out)
    print(json.dumps(summary, indent=2))
    print(f"wrote {out}/trajectories.jsonl, summary.json, summary.png, viewer.html")
    return summary


def _cmd_demo(a: argparse.Namespace) -> int:
    from lite_world.agents.scripted import ScriptedAgent
    from lite_world.rollout.runner import RolloutConfig
    from lite_world.tools.search import SearchTool
    from lite_world.worlds import open_world

    t0 = time.perf_counter()
    print("== 1/4 the demo world (built on first use) ==")
    world = open_world("demo")
    print(f"{world}  [{time.perf_counter() - t0:.1f}s]")
    res = SearchTool(world, k=3)({"query": ["Journal of Psychotherapy Integration publisher"]})
    print(res.text[:700], "\n...")
    print(f"\n== 2/4 ScriptedAgent on {a.scripted_tasks} demo tasks ==")
    env = LiteSearchConfig(max_turns=a.max_turns)
    _run(
        ScriptedAgent,
        RolloutConfig(env=env, concurrency=2, limit=a.scripted_tasks),
        f"{a.out}/scripted",
    )
    if a.llm_tasks > 0:
        print(f"\n== 3/4 SmolLM2-135M-Instruct (CPU, greedy) on {a.llm_tasks} demo tasks ==")
        from lite_world.agents.base import GenerationConfig
        from lite_world.agents.hf import TransformersAgent

        agent = TransformersAgent(
            "smollm2", config=GenerationConfig(max_new_tokens=a.max_new_tokens)
        )
        cfg = RolloutConfig(env=env.replace(max_turns=a.llm_max_turns), limit=a.llm_tasks)
        _run(lambda: agent, cfg, f"{a.out}/smollm2")
    if a.trained_tasks > 0:
        print(f"\n== 4/4 untrained SmolLM2 vs {TRAINED_MODEL} (CPU, greedy), held-out tasks ==")
        compare_trained(
            f"{a.out}/trained", tasks=a.trained_tasks, max_new_tokens=a.trained_max_new_tokens
        )
    print(
        f"\nDone in {time.perf_counter() - t0:.0f}s. Open {a.out}/scripted/viewer.html to read "
        "the trajectories."
    )
    return 0


TRAINED_MODEL = "smollm2-lite-world"


def compare_trained(
    out: str,
    *,
    tasks: int = 16,
    world: Any = "demo",
    max_new_tokens: int = 64,
    max_turns: int = 3,
    name: str = TRAINED_MODEL,
) -> dict[str, dict[str, Any]] | None:
    """Run the untrained SmolLM2 and the shipped model ``name`` on the same held-out tasks.

    Both play one greedy episode per task, all episodes of a model batched turn by turn
    (:func:`~lite_world.rollout.lockstep.run_lockstep`), with the episode settings the model
    was trained with (its ``lite_world_env.json``: a small-model profile, e.g. the ``tags``
    action format, search only, 3 results, short observations; ``max_turns`` only applies when
    it records none). The tasks are the first ``tasks`` of its ``tasks_heldout.jsonl`` (never
    used in training), else of the demo tasks. Prints one table (accuracy, valid tool calls,
    answer rate, turns, wall seconds with the model load), writes ``<out>/<model>/`` (trajectories, summary, viewer) and
    ``<out>/compare.json``; returns the summaries by model, or ``None`` (with a message) when
    the adapter is not shipped in this installation.
    """
    from lite_world.agents import adapters
    from lite_world.agents.base import GenerationConfig
    from lite_world.agents.hf import TransformersAgent
    from lite_world.rollout.lockstep import run_lockstep, write_run
    from lite_world.tasks import demo_tasks, load_tasks

    if not adapters.is_shipped(name):
        print(
            f"skipped: the trained model {name!r} is not shipped in this installation (no "
            f"{adapters.ADAPTER_CONFIG} + {adapters.ADAPTER_WEIGHTS} in "
            f"{adapters.SHIPPED_MODELS[name]})"
        )
        return None
    directory = adapters.SHIPPED_MODELS[name]
    heldout = directory / adapters.HELDOUT_TASKS
    task_list = (load_tasks(heldout) if heldout.is_file() else demo_tasks())[:tasks]
    recorded = adapters.recorded_env(name)
    if not recorded:
        print(f"note: {name} records no {adapters.ENV_FILE}; using the default episode settings")
    env = LiteSearchConfig.from_dict({"max_turns": max_turns, **recorded, "world": world})
    source = heldout.name if heldout.is_file() else "the demo tasks"
    print(f"{len(task_list)} tasks from {source}; episode settings: {_changed(env)}")
    gen = GenerationConfig(max_new_tokens=max_new_tokens)
    summaries: dict[str, dict[str, Any]] = {}
    for label, model in (("smollm2", "smollm2"), (name, name)):
        start = time.perf_counter()
        agent = TransformersAgent(model, config=gen)
        episodes = run_lockstep(agent, task_list, env)
        summaries[label] = write_run(episodes, f"{out}/{label}", wall_s=time.perf_counter() - start)
    print(_table(summaries))
    (Path(out) / "compare.json").write_text(
        json.dumps({"env": env.to_dict() | {"world": str(world)}, "models": summaries}, indent=2)
    )
    print(f"viewers: {', '.join(f'{out}/{label}/viewer.html' for label in summaries)}")
    return summaries


def _changed(config: LiteSearchConfig) -> str:
    """The fields of ``config`` that differ from the defaults (long texts by their length).

    Example:
        >>> _changed(LiteSearchConfig(search_k=3, system_prompt="Answer. " * 10))
        'system_prompt=<80 chars>, search_k=3'
    """
    default = LiteSearchConfig().to_dict()
    return ", ".join(
        f"{k}=<{len(v)} chars>" if isinstance(v, str) and len(v) > 40 else f"{k}={v}"
        for k, v in config.to_dict().items()
        if v != default[k]
    )


def _table(summaries: dict[str, dict[str, Any]]) -> str:
    """One row per model: tasks, accuracy, valid tool-call rate, answer rate, turns, seconds.

    Example:
        >>> row = {"episodes": 2, "accuracy": 0.5, "valid_call_rate": 1.0, "answer_rate": 1.0,
        ...        "mean_turns": 2.0, "wall_s": 3.2}
        >>> print(_table({"smollm2": row}))
        model                 tasks  accuracy  valid calls  answered  turns  seconds
        smollm2                   2     0.500        1.000     1.000   2.00        3
    """
    lines = [
        f"{'model':<20} {'tasks':>6} {'accuracy':>9} {'valid calls':>12} {'answered':>9} "
        f"{'turns':>6} {'seconds':>8}"
    ]
    for label, s in summaries.items():
        lines.append(
            f"{label:<20} {s['episodes']:>6} {s['accuracy']:>9.3f} {s['valid_call_rate']:>12.3f} "
            f"{s['answer_rate']:>9.3f} {s['mean_turns']:>6.2f} {s.get('wall_s', 0.0):>8.0f}"
        )
    return "\n".join(lines)


_DEFAULT_MAX_TURNS = 12


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-new-tokens", type=int, default=512, help="tokens per LLM turn")


def add_rollout_parser(sub: Any) -> None:
    """Register the ``rollout`` and ``demo`` subcommands."""
    r = sub.add_parser("rollout", help="run an agent on tasks and write trajectories + a summary")
    r.add_argument("--agent", required=True, choices=AGENTS)
    r.add_argument("-n", type=int, default=1, help="samples per task")
    r.add_argument("--concurrency", type=int, default=1)
    r.add_argument("--limit", type=int, default=None, help="first N tasks only")
    r.add_argument("--out", required=True, help="output directory")
    r.add_argument(
        "--model",
        default=None,
        help="hf: 'smollm2' (embedded default), 'smollm2-lite-world' (shipped, trained in this "
        "world; run with the episode settings it was trained with unless flags override them), a "
        "LoRA adapter directory, or a model path/name; openai: model name",
    )
    r.add_argument("--base-url", default=None, help="openai: e.g. http://127.0.0.1:8000/v1")
    r.add_argument("--api-key", default=None)
    r.add_argument("--temperature", type=float, default=0.0)
    r.add_argument("--seed", type=int, default=0)
    _add_common(r)
    env = r.add_argument_group(
        "episode options (LiteSearchConfig; --max-turns defaults to 12 here)"
    )
    add_config_flags(env, LiteSearchConfig)
    r.set_defaults(fn=_cmd_rollout)

    d = sub.add_parser(
        "demo", help="the main job on the bundled demo world: build it, search, roll out agents"
    )
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--scripted-tasks", type=int, default=20)
    d.add_argument("--llm-tasks", type=int, default=2)
    d.add_argument("--llm-max-turns", type=int, default=3)
    d.add_argument(
        "--trained-tasks",
        type=int,
        default=16,
        help=f"held-out tasks for untrained SmolLM2 vs {TRAINED_MODEL} (0: skip this stage)",
    )
    d.add_argument(
        "--trained-max-new-tokens",
        type=int,
        default=64,
        help=f"tokens per turn in that stage (64: the budget {TRAINED_MODEL} was evaluated with)",
    )
    d.add_argument(
        "--max-turns", type=int, default=_DEFAULT_MAX_TURNS, help="turn limit per scripted episode"
    )
    _add_common(d)
    d.set_defaults(fn=_cmd_demo, max_new_tokens=96)
