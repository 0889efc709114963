"""The ``synth`` and ``curriculum`` subcommands of ``lite-world``.

::

    lite-world synth extract  IN --out OUT [--limit N] [--seed S] [LLM options]
    lite-world synth filter   IN --out OUT [--rules-only] [LLM options]
    lite-world synth audit    IN --out OUT --world W [-k K] [--drop-flagged]
    lite-world synth expand   IN --out PAGES.jsonl --world W --provider serper|local
                              [--dump PATH ...] [--no-build]
    lite-world synth multihop IN --out OUT [-n N] [--seed S] [--llm] [--graph link|llm]
    lite-world curriculum profile IN --out OUT [--agent scripted|hf|openai] [-k 8] [--world W]
    lite-world curriculum build NAME=PROFILED.jsonl ... --out DIR [--stage MIXTURE ...] [-k 8]

``IN`` of extract and multihop is a world directory, ``demo`` or a pages JSONL; elsewhere a
task JSONL. A stage mixture reads ``single=0.73,multi=0.27``.
Every step writes ``OUT`` (JSONL), ``OUT.report.json`` and ``OUT.report.png`` and prints the report.
LLM options: ``--model smollm2`` (in-process, default) or ``--base-url URL --model NAME`` for any
OpenAI-compatible endpoint, ``--concurrency``, ``--no-cache``, ``--price-prompt/--price-completion``
(USD per 1M tokens).

Example:
    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
    >>> add_synth_parsers(sub)
    >>> ns = sub.choices["synth"].parse_args(["filter", "a", "--out", "b", "--rules-only"])
    >>> ns.step, ns.rules_only
    ('filter', True)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lite_world.errors import ConfigError

__all__ = ["add_synth_parsers"]


def _llm_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("LLM")
    g.add_argument(
        "--model", default="smollm2", help="'smollm2' (in-process) or the served model name"
    )
    g.add_argument(
        "--base-url", default=None, help="OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1"
    )
    g.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable with the API key"
    )
    g.add_argument("--concurrency", type=int, default=8, help="requests in flight (endpoint)")
    g.add_argument(
        "--batch-size", type=int, default=4, help="conversations per generate call (in-process)"
    )
    g.add_argument("--temperature", type=float, default=0.0)
    g.add_argument("--no-cache", action="store_true", help="do not use the on-disk request cache")
    g.add_argument(
        "--cache-path", default=None, help="SQLite request cache (default: in LITE_WORLD_CACHE)"
    )
    g.add_argument("--price-prompt", type=float, default=0.0, help="USD per 1M prompt tokens")
    g.add_argument(
        "--price-completion", type=float, default=0.0, help="USD per 1M completion tokens"
    )


def _client(a: argparse.Namespace) -> Any:
    from lite_world.llm.client import LLMConfig, make_client

    return make_client(
        LLMConfig(
            model=a.model,
            base_url=a.base_url,
            api_key_env=a.api_key_env,
            concurrency=a.concurrency,
            batch_size=a.batch_size,
            temperature=a.temperature,
            cache=not a.no_cache,
            cache_path=a.cache_path,
            price_prompt_per_m=a.price_prompt,
            price_completion_per_m=a.price_completion,
            show_progress=not a.quiet,
        )
    )


def _tasks(path: str) -> list[dict[str, Any]]:
    from lite_world.synth.records import read_jsonl

    return list(read_jsonl(path))


def _finish(rows: list[dict[str, Any]], report: Any, out: str) -> int:
    from lite_world.synth.records import write_jsonl

    write_jsonl(out, rows)
    d = report.write(out)
    print(json.dumps(d, indent=2, ensure_ascii=False))
    return 0


def _cmd_extract(a: argparse.Namespace) -> int:
    from lite_world.synth.extract import extract_pairs
    from lite_world.synth.pages import load_pages

    pages = load_pages(a.input, limit=a.limit, seed=a.seed, min_chars=a.min_chars)
    rows, rep = extract_pairs(
        pages, _client(a), per_page=a.per_page, max_page_chars=a.max_page_chars
    )
    return _finish(rows, rep, a.out)


def _cmd_filter(a: argparse.Namespace) -> int:
    from lite_world.synth.rubric import filter_tasks

    rows, rep = filter_tasks(
        _tasks(a.input), None if a.rules_only else _client(a), rules_only=a.rules_only
    )
    return _finish(rows, rep, a.out)


def _open(world: str, mode: str = "hybrid") -> Any:
    from lite_world.worlds import open_world

    return open_world(world, search_mode=mode)


def _cmd_audit(a: argparse.Namespace) -> int:
    from lite_world.synth.audit import audit_tasks

    rows, rep = audit_tasks(
        _tasks(a.input),
        _open(a.world, a.search_mode),
        k=a.k,
        drop_flagged=a.drop_flagged,
        show_progress=not a.quiet,
    )
    return _finish(rows, rep, a.out)


def _cmd_expand(a: argparse.Namespace) -> int:
    from lite_world.synth.expand import expand_world
    from lite_world.synth.pages import world_dir

    if a.provider == "local":
        if not a.dump:
            raise ConfigError(
                "Expects --dump PATH (a larger page dump) with --provider local, actual: none"
            )
        from lite_world.web.local import LocalDumpProvider

        provider: Any = LocalDumpProvider(a.dump)
    else:
        from lite_world.web.serper import SerperClient

        provider = SerperClient(base_url=a.serper_url)
    if str(a.world) == "demo":
        raise ConfigError(
            "Expects a world you own to expand, actual: 'demo' (copy it first, then pass its path)"
        )
    rows, rep = expand_world(
        _tasks(a.input),
        world_dir(a.world),
        provider,
        a.out,
        num=a.num,
        min_chars=a.min_chars,
        build=not a.no_build,
        show_progress=not a.quiet,
    )
    d = rep.write(a.out)
    print(json.dumps(d, indent=2, ensure_ascii=False))
    return 0


def _cmd_multihop(a: argparse.Namespace) -> int:
    from lite_world.synth.graph import LinkGraph
    from lite_world.synth.multihop import generate_multihop
    from lite_world.synth.pages import load_pages

    pages = load_pages(a.input, min_chars=0)
    graph = LinkGraph.from_pages(pages, show_progress=not a.quiet)
    client = _client(a) if (a.llm or a.graph == "llm") else None
    rows, rep = generate_multihop(
        graph, a.n, seed=a.seed, client=client, graph_kind=a.graph, show_progress=not a.quiet
    )
    rep.extra["graph_stats"] = graph.stats()
    return _finish(rows, rep, a.out)


def _cmd_profile(a: argparse.Namespace) -> int:
    from lite_world.rollout.cli import make_agent_factory
    from lite_world.synth.profile import ProfileConfig, profile_tasks
    from lite_world.synth.records import report_path

    tasks = _tasks(a.input)[: a.limit] if a.limit else _tasks(a.input)
    ns = argparse.Namespace(
        agent=a.agent,
        model=a.agent_model,
        base_url=a.agent_base_url,
        api_key=None,
        max_new_tokens=a.max_new_tokens,
        temperature=a.agent_temperature,
    )
    cfg = ProfileConfig(
        k=a.k,
        world=a.world,
        max_turns=a.max_turns,
        mask_sources=not a.no_mask,
        chunk_tasks=a.chunk,
        concurrency=a.rollout_concurrency,
        seed=a.seed,
        show_progress=not a.quiet,
    )
    _, rep = profile_tasks(tasks, make_agent_factory(ns), cfg, a.out, agent_name=a.agent)
    d = rep.write(a.out)
    _plot_hist(d["histogram"], a.k, report_path(a.out, ".histogram.png"))
    print(json.dumps(d, indent=2, ensure_ascii=False))
    return 0


def _plot_hist(hist: dict[str, int], k: int, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        return
    xs = list(range(k + 1))
    ys = [hist.get(str(x), 0) for x in xs]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(xs, ys, color=["tab:green" if 1 <= x <= k - 1 else "grey" for x in xs])
    ax.set_xlabel(f"correct out of {k}")
    ax.set_ylabel("tasks")
    ax.set_title("difficulty profile (green: kept band)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _cmd_build(a: argparse.Namespace) -> int:
    from lite_world.synth.curriculum import DEFAULT_STAGES, build_curriculum, parse_mixture

    groups, sources = {}, {}
    for spec in a.inputs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"Expects NAME=PROFILED.jsonl, actual: {spec!r}")
        groups[name] = _tasks(path)
        sources[name] = path
    stages = [parse_mixture(s) for s in a.stage] if a.stage else list(DEFAULT_STAGES)
    manifests, rep = build_curriculum(
        groups,
        a.out,
        stages=stages,
        k=a.k,
        size=a.size,
        seed=a.seed,
        base_length=a.base_length,
        length_step=a.length_step,
        sources=sources,
    )
    print(json.dumps({"report": rep.to_dict(), "stages": [m["file"] for m in manifests]}, indent=2))
    return 0


def add_synth_parsers(sub: Any) -> None:
    """Register the ``synth`` and ``curriculum`` subcommands and their steps."""
    s = sub.add_parser(
        "synth", help="the data engine: QA synthesis, rubric, masking audit, expansion, multi-hop"
    )
    ss = s.add_subparsers(dest="step", required=True)

    def step(name: str, help_: str, fn: Any, llm: bool = False) -> argparse.ArgumentParser:
        p = ss.add_parser(name, help=help_)
        p.add_argument("input", help="input JSONL (or a world for extract/multihop)")
        p.add_argument("--out", required=True, help="output JSONL")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        if llm:
            _llm_args(p)
        p.set_defaults(fn=fn)
        return p

    e = step("extract", "pages -> candidate QA pairs with provenance", _cmd_extract, llm=True)
    e.add_argument("--limit", type=int, default=100, help="seed pages (a seeded sample of a world)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--per-page", type=int, default=3, help="questions asked per page")
    e.add_argument("--max-page-chars", type=int, default=1500, help="page text shown to the model")
    e.add_argument("--min-chars", type=int, default=200, help="skip shorter pages")
    f = step("filter", "rule pre-filters + the 7-condition LLM rubric", _cmd_filter, llm=True)
    f.add_argument(
        "--rules-only", action="store_true", help="run the rule pre-filters alone (no LLM)"
    )
    au = step("audit", "source masking + leakage audit against a world", _cmd_audit)
    au.add_argument("--world", required=True, help="world directory or 'demo'")
    au.add_argument("-k", type=int, default=10, help="hits per query")
    au.add_argument(
        "--drop-flagged", action="store_true", help="drop flagged tasks instead of marking them"
    )
    au.add_argument("--search-mode", default="hybrid", choices=["hybrid", "dense", "sparse"])
    ex = step("expand", "pull related pages for each task into the world", _cmd_expand)
    ex.add_argument("--world", required=True, help="world directory to extend in place")
    ex.add_argument("--provider", default="local", choices=["local", "serper"])
    ex.add_argument(
        "--dump", nargs="+", default=None, help="local: page dump(s) to search (any ingest input)"
    )
    ex.add_argument(
        "--serper-url",
        default="https://google.serper.dev",
        help="serper: API root (key: $SERPER_API_KEY)",
    )
    ex.add_argument("--num", type=int, default=5, help="results per query")
    ex.add_argument("--min-chars", type=int, default=500, help="drop shorter pages")
    ex.add_argument("--no-build", action="store_true", help="only write the pages file")
    mh = step("multihop", "multi-hop backward graph questions", _cmd_multihop, llm=True)
    mh.add_argument("-n", type=int, default=50, help="questions to generate")
    mh.add_argument("--seed", type=int, default=0)
    mh.add_argument(
        "--llm", action="store_true", help="compose questions with the LLM (default: template)"
    )
    mh.add_argument(
        "--graph",
        default="link",
        choices=["link", "llm"],
        help="entity graph from links or the LLM",
    )

    c = sub.add_parser("curriculum", help="pass@K difficulty profile and curriculum stage files")
    cs = c.add_subparsers(dest="step", required=True)
    pr = cs.add_parser("profile", help="K rollouts per task; store the correct count (resumable)")
    pr.add_argument("input", help="task JSONL")
    pr.add_argument("--out", required=True, help="profiled task JSONL (appended; re-run resumes)")
    pr.add_argument("--agent", default="scripted", choices=["scripted", "hf", "openai"])
    pr.add_argument(
        "--agent-model", default=None, help="hf: model ('smollm2'); openai: served name"
    )
    pr.add_argument("--agent-base-url", default=None)
    pr.add_argument(
        "--agent-temperature", type=float, default=0.7, help="LLM agents sample (pass@K needs it)"
    )
    pr.add_argument("--max-new-tokens", type=int, default=512)
    pr.add_argument("-k", type=int, default=8)
    pr.add_argument("--world", default=None, help="world directory (default: demo)")
    pr.add_argument("--max-turns", type=int, default=12)
    pr.add_argument("--no-mask", action="store_true", help="do not hide mask_urls")
    pr.add_argument("--chunk", type=int, default=16, help="tasks per resumable chunk")
    pr.add_argument("--rollout-concurrency", type=int, default=1)
    pr.add_argument("--limit", type=int, default=None)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("-q", "--quiet", action="store_true")
    pr.set_defaults(fn=_cmd_profile)
    b = cs.add_parser("build", help="stage files from profiled tasks (keeps 1..K-1 correct)")
    b.add_argument(
        "inputs", nargs="+", help="NAME=PROFILED.jsonl (e.g. single=a.jsonl multi=b.jsonl)"
    )
    b.add_argument("--out", required=True, help="output directory")
    b.add_argument(
        "--stage",
        action="append",
        default=None,
        help="mixture per stage, repeat per stage (default: single=0.73,multi=0.27 then "
        "single=0.5,multi=0.3,hard=0.2)",
    )
    b.add_argument("-k", type=int, default=8)
    b.add_argument("--size", type=int, default=None, help="max tasks per stage")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--base-length", type=int, default=32768, help="stage-1 max response length")
    b.add_argument("--length-step", type=int, default=16384, help="added per stage")
    b.set_defaults(fn=_cmd_build)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
