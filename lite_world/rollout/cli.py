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
from typing import Any

from lite_world.config import add_config_flags, config_values
from lite_world.envs.config import LiteSearchConfig
from lite_world.errors import ConfigError

__all__ = ["add_rollout_parser", "make_agent_factory"]

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

    env = LiteSearchConfig.from_dict({"max_turns": _DEFAULT_MAX_TURNS, **config_values(a)})
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
    print("== 1/3 the demo world (built on first use) ==")
    world = open_world("demo")
    print(f"{world}  [{time.perf_counter() - t0:.1f}s]")
    res = SearchTool(world, k=3)({"query": ["Journal of Psychotherapy Integration publisher"]})
    print(res.text[:700], "\n...")
    print(f"\n== 2/3 ScriptedAgent on {a.scripted_tasks} demo tasks ==")
    env = LiteSearchConfig(max_turns=a.max_turns)
    _run(
        ScriptedAgent,
        RolloutConfig(env=env, concurrency=2, limit=a.scripted_tasks),
        f"{a.out}/scripted",
    )
    if a.llm_tasks > 0:
        print(f"\n== 3/3 SmolLM2-135M-Instruct (CPU, greedy) on {a.llm_tasks} demo tasks ==")
        from lite_world.agents.base import GenerationConfig
        from lite_world.agents.hf import TransformersAgent

        agent = TransformersAgent(
            "smollm2", config=GenerationConfig(max_new_tokens=a.max_new_tokens)
        )
        cfg = RolloutConfig(env=env.replace(max_turns=a.llm_max_turns), limit=a.llm_tasks)
        _run(lambda: agent, cfg, f"{a.out}/smollm2")
    print(
        f"\nDone in {time.perf_counter() - t0:.0f}s. Open {a.out}/scripted/viewer.html to read the trajectories."
    )
    return 0


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
        help="hf: model path/name ('smollm2' = embedded default); openai: model name",
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
        "--max-turns", type=int, default=_DEFAULT_MAX_TURNS, help="turn limit per scripted episode"
    )
    _add_common(d)
    d.set_defaults(fn=_cmd_demo, max_new_tokens=96)
