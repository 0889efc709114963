"""``lite-world eval``, ``lite-world eval-world`` and ``lite-world compare``.

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers()
    >>> add_eval_parsers(sub)
    >>> a = p.parse_args(["eval", "--bench", "frames", "--data", "f.tsv", "--agent", "scripted",
    ...                   "--out", "o"])
    >>> a.bench, a.tools, a.context
    ('frames', 'local', 'none')
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from lite_world.errors import ConfigError
from lite_world.eval.context import CONTEXT_MODES
from lite_world.eval.judging import JUDGE_STYLES
from lite_world.eval.loaders import BENCHES

__all__ = ["add_eval_parsers", "agent_factory"]

AGENTS = ("scripted", "hf", "openai")


def agent_factory(a: argparse.Namespace) -> Any:
    """A zero-argument callable building a fresh agent per episode (one shared hf model)."""
    from lite_world.agents.base import GenerationConfig

    gen = GenerationConfig(max_new_tokens=a.max_new_tokens, temperature=a.temperature)
    if a.agent == "scripted":
        from lite_world.agents.scripted import ScriptedAgent

        return ScriptedAgent
    if a.agent == "hf":
        from lite_world.agents.hf import TransformersAgent

        shared = TransformersAgent(a.model or "smollm2", config=gen)
        return lambda: shared
    if a.agent == "openai":
        if not a.base_url or not a.model:
            raise ConfigError(
                "Expects --base-url (e.g. http://127.0.0.1:8000/v1) and --model with --agent "
                "openai, "
                f"actual: --base-url {a.base_url!r}, --model {a.model!r}"
            )
        from lite_world.agents.openai import OpenAIAgent

        return lambda: OpenAIAgent(a.base_url, a.model, api_key=a.api_key, config=gen)
    raise ConfigError(f"Expects --agent in {AGENTS}, actual: {a.agent!r}")


def _config(a: argparse.Namespace, **over: Any) -> Any:
    from lite_world.eval.runner import EvalConfig

    return EvalConfig(
        bench=a.bench,
        data=a.data,
        world=a.world,
        tools=a.tools,
        limit=a.limit,
        samples=a.samples,
        concurrency=a.concurrency,
        timeout_s=a.timeout,
        seed=a.seed,
        max_turns=a.max_turns,
        resume=a.resume,
        redact=a.redact,
        search_mode=a.search_mode,
        context_mode=a.context,
        context_budget=a.context_budget,
        judge_url=a.judge_url,
        judge_model=a.judge_model,
        judge_style=a.judge_style,
        serper_url=a.serper_url,
        jina_url=a.jina_url,
        **over,
    )


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "bench",
        "tools",
        "items",
        "episodes",
        "accuracy",
        "accuracy_ci95",
        "em",
        "judge_em_agreement",
        "mean_turns",
        "mean_tool_calls",
        "skipped",
        "evidence",
        "live",
        "context",
    )
    return {k: summary[k] for k in keys if k in summary}


def _cmd_eval(a: argparse.Namespace) -> int:
    from lite_world.eval.runner import run_eval

    summary = run_eval(agent_factory(a), _config(a), out_dir=a.out)
    print(json.dumps(_brief(summary), indent=2, ensure_ascii=False))
    print(f"wrote {a.out}/results.jsonl, summary.json, report.md, plots/, viewer.html")
    return 0


def _cmd_compare(a: argparse.Namespace) -> int:
    from lite_world.eval.compare import run_compare

    result = run_compare(agent_factory(a), _config(a), out_dir=a.out, standins=a.standins)
    print(json.dumps(result, indent=2))
    print(f"wrote {a.out}/compare.json, compare.md, plots/, local/, live/")
    return 0


def _cmd_eval_world(a: argparse.Namespace) -> int:
    from lite_world.eval.worlds import build_eval_world

    fetcher = None
    if a.fetch:
        from lite_world.web.fetch import PageFetcher

        fetcher = PageFetcher(timeout_s=a.fetch_timeout)
    info = build_eval_world(
        a.bench,
        a.data,
        a.out,
        corpus=a.corpus,
        fetcher=fetcher,
        dump=a.dump,
        distractors=a.distractors,
        min_chars=a.min_chars,
        show_progress=not a.quiet,
    )
    brief = {
        k: v
        for k, v in info.items()
        if k not in ("provenance", "docid_urls", "items_missing_evidence", "missing_urls")
    }
    print(json.dumps(brief, indent=2, ensure_ascii=False))
    return 0


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bench", required=True, choices=[*BENCHES, "auto"], help="benchmark format of --data"
    )
    p.add_argument("--data", required=True, help="the benchmark file (CSV/TSV/JSON/JSONL/Parquet)")
    p.add_argument("--agent", required=True, choices=AGENTS)
    p.add_argument(
        "--world", default=None, help="world dir, 'demo' or a `lite-world serve` URL (local tools)"
    )
    p.add_argument("--limit", type=int, default=None, help="first N items only")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("-n", "--samples", type=int, default=1, help="episodes per item (pass@k, avg@k)")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per episode")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-turns", type=int, default=32)
    p.add_argument(
        "--resume", action="store_true", help="keep results.jsonl and run only what is missing"
    )
    p.add_argument(
        "--redact", action="store_true", help="no benchmark text in results.jsonl or viewer.html"
    )
    p.add_argument("--search-mode", default="hybrid", choices=["hybrid", "dense", "sparse"])
    p.add_argument("--context", default="none", choices=CONTEXT_MODES, help="context management")
    p.add_argument("--context-budget", type=int, default=65_536, help="context budget in tokens")
    p.add_argument(
        "--judge-url", default=None, help="OpenAI-compatible judge (…/v1); default: exact match"
    )
    p.add_argument("--judge-model", default=None)
    p.add_argument("--judge-style", default="auto", choices=JUDGE_STYLES)
    p.add_argument(
        "--serper-url", default="https://google.serper.dev", help="live: Serper API root"
    )
    p.add_argument("--jina-url", default="https://r.jina.ai", help="live: Jina Reader root")
    p.add_argument(
        "--model", default=None, help="hf: model path ('smollm2' = embedded); openai: model name"
    )
    p.add_argument("--base-url", default=None, help="openai: e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key", default=None)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-new-tokens", type=int, default=512)


def add_eval_parsers(sub: Any) -> None:
    """Register ``eval``, ``eval-world`` and ``compare``."""
    e = sub.add_parser(
        "eval", help="evaluate an agent on a benchmark file (local world, service or live web)"
    )
    _add_run_options(e)
    e.add_argument("--tools", default="local", choices=["local", "live"])
    e.set_defaults(fn=_cmd_eval)

    c = sub.add_parser(
        "compare", help="the same agent and questions with local and with live tools, side by side"
    )
    _add_run_options(c)
    c.add_argument(
        "--standins",
        action="store_true",
        help="live side: local Serper/Jina protocol servers over --world (offline)",
    )
    c.set_defaults(fn=_cmd_compare, tools="local")

    w = sub.add_parser("eval-world", help="build a frozen world from a benchmark's evidence")
    w.add_argument("--bench", required=True, choices=[*BENCHES, "auto"])
    w.add_argument("--data", required=True)
    w.add_argument("--out", required=True, help="world directory")
    w.add_argument("--corpus", default=None, help="browsecomp-plus: the document corpus")
    w.add_argument(
        "--dump",
        default=None,
        help="a local page dump (JSONL/Parquet rows: url + markdown|text|html)",
    )
    w.add_argument(
        "--fetch", action="store_true", help="fetch evidence URLs not in the dump from the web"
    )
    w.add_argument("--fetch-timeout", type=float, default=20.0)
    w.add_argument(
        "--distractors", nargs="*", default=[], help="extra build inputs (distractor pages)"
    )
    w.add_argument("--min-chars", type=int, default=200)
    w.add_argument("-q", "--quiet", action="store_true")
    w.set_defaults(fn=_cmd_eval_world)
