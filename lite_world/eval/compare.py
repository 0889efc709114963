"""Local versus live: the same agent and questions with local-world tools and with live tools, side
by side.

:func:`run_compare` runs :func:`~lite_world.eval.runner.run_eval` twice (``local/`` and ``live/``)
and writes ``compare.json``, ``compare.md`` and ``plots/`` (both runs on one figure): accuracy,
exact match, turns, tool calls and per-item outcomes (correct on both, only local, only live,
neither) — the sim-to-real gap. With ``standins=True`` the live side talks to local servers
that speak the Serper and Jina Reader protocols (:class:`~lite_world.eval.standins.ProtocolServers`)
over the same world, so the whole comparison runs offline.

Example:
    >>> outcome_table({"a": True, "b": False}, {"a": True, "b": True})
    {'both': 1, 'only_local': 0, 'only_live': 1, 'neither': 0}
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lite_world.eval.loaders import BenchData, load_benchmark
from lite_world.eval.report import fmt, pct, write_plots
from lite_world.eval.runner import EvalConfig, read_results, run_eval

__all__ = ["run_compare", "outcome_table"]

_KEYS = (
    "accuracy",
    "em",
    "judge_em_agreement",
    "answer_rate",
    "mean_turns",
    "mean_tool_calls",
    "mean_search_calls",
    "mean_visit_calls",
    "tool_latency_p50_ms",
    "mean_wall_s",
)
_PCT = {"accuracy", "em", "judge_em_agreement", "answer_rate"}


def outcome_table(local: Mapping[str, bool], live: Mapping[str, bool]) -> dict[str, int]:
    """Counts of items correct on both sides, only one, or neither (items present on both)."""
    keys = sorted(set(local) & set(live))
    return {
        "both": sum(local[k] and live[k] for k in keys),
        "only_local": sum(local[k] and not live[k] for k in keys),
        "only_live": sum(live[k] and not local[k] for k in keys),
        "neither": sum(not local[k] and not live[k] for k in keys),
    }


def _per_item(out: Path) -> dict[str, bool]:
    by: dict[str, list[bool]] = {}
    for e in read_results(out / "results.jsonl"):
        by.setdefault(str(e["task_id"]), []).append(bool((e.get("judge") or {}).get("correct")))
    return {k: sum(v) / len(v) >= 0.5 for k, v in by.items()}


def run_compare(
    agent_factory: Callable[[], Any],
    config: EvalConfig,
    *,
    out_dir: str | os.PathLike[str],
    standins: bool = False,
    data: BenchData | None = None,
) -> dict[str, Any]:
    """Evaluate with local and with live tools, write the side-by-side report, return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = data or load_benchmark(config.bench, str(config.data))
    local = run_eval(agent_factory, config.replace(tools="local"), out_dir=out / "local", data=data)
    if standins:
        from lite_world.eval.standins import ProtocolServers
        from lite_world.worlds import open_world

        with ProtocolServers(
            open_world(config.world or "demo", search_mode=config.search_mode)
        ) as servers:
            live_cfg = config.replace(
                tools="live",
                serper_url=servers.serper_url,
                jina_url=servers.jina_url,
                live_api_key=servers.api_key,
            )
            live = run_eval(agent_factory, live_cfg, out_dir=out / "live", data=data)
    else:
        live = run_eval(
            agent_factory, config.replace(tools="live"), out_dir=out / "live", data=data
        )
    outcomes = outcome_table(_per_item(out / "local"), _per_item(out / "live"))
    result = {
        "bench": data.bench,
        "standins": standins,
        "local": {k: local.get(k) for k in _KEYS},
        "live": {k: live.get(k) for k in _KEYS},
        "outcomes": outcomes,
        "live_cost_usd_estimate": (live.get("live") or {}).get("cost_usd_estimate"),
    }
    (out / "compare.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Local versus live: {data.bench}",
        "",
        "Live side: "
        + (
            "local Serper / Jina Reader protocol stand-ins over the same world."
            if standins
            else "Serper and Jina Reader."
        ),
        "",
        "| metric | local | live |",
        "|---|---|---|",
    ]
    for k in _KEYS:
        f = pct if k in _PCT else fmt
        lines.append(f"| {k.replace('_', ' ')} | {f(local.get(k))} | {f(live.get(k))} |")
    lines += ["", "| items correct | count |", "|---|---|"] + [
        f"| {k.replace('_', ' ')} | {v} |" for k, v in outcomes.items()
    ]
    (out / "compare.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    runs = {
        "local": (local, read_results(out / "local" / "results.jsonl")),
        "live": (live, read_results(out / "live" / "results.jsonl")),
    }
    write_plots(out, runs)
    return result
