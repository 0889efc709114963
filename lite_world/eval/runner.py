"""Run an agent over a benchmark: local world, ``lite-world serve`` service or the live web.

:func:`run_eval` plays ``samples`` episodes per item on a thread pool (``concurrency``), each in
its own ``LiteSearch-v0`` env and with its own agent, under a per-item wall-clock limit
(``timeout_s``: checked between turns; a timed-out episode is recorded, unanswered). Every
finished episode is appended to ``results.jsonl`` at once, so a killed run resumes where it
stopped (``resume=True`` skips the (item, sample) pairs already there). Seeds depend only on the
item's position and the sample number, so a resumed or re-run evaluation replays the same
episodes. Verdicts come from :mod:`lite_world.eval.judging`; the report from
:mod:`lite_world.eval.report`.

``tools="local"`` uses ``world`` (a directory, ``demo`` or an ``http(s)://`` service URL);
``tools="live"`` uses :class:`~lite_world.eval.live.LiveWorld` over Serper and Jina Reader
(keys from ``SERPER_API_KEY`` / ``JINA_API_KEY``), rendered by the same tools.

Example:
    >>> from lite_world.agents.scripted import ScriptedAgent
    >>> cfg = EvalConfig(bench="generic", data="q.jsonl", world="demo", limit=5)  # doctest: +SKIP
    >>> summary = run_eval(ScriptedAgent, cfg, out_dir="runs/eval")               # doctest: +SKIP
    >>> summary["accuracy"]                                                       # doctest: +SKIP
    0.2
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lite_world.config import ConfigMixin
from lite_world.errors import ConfigError
from lite_world.eval.context import (
    CONTEXT_MODES,
    ContextConfig,
    ContextManagedAgent,
    approx_tokens,
)
from lite_world.eval.judging import JUDGE_STYLES, judge_episodes, make_judge
from lite_world.eval.loaders import BENCHES, BenchData, load_benchmark
from lite_world.eval.metrics import summarize_eval
from lite_world.tasks import Task

__all__ = [
    "EvalConfig",
    "run_eval",
    "redact_episode",
    "play_episode",
    "read_results",
    "TOOL_SOURCES",
    "EVAL_WORLD_FILE",
]

logger = logging.getLogger(__name__)

TOOL_SOURCES = ("local", "live")
EVAL_WORLD_FILE = "eval_world.json"
"""The benchmark-world manifest written by :func:`~lite_world.eval.worlds.build_eval_world`."""
STEP_KEYS = ("turn", "action_kind", "tool", "arguments", "tool_latency_s", "error", "repeat_count")


@dataclass(frozen=True)
class EvalConfig(ConfigMixin):
    """What to evaluate and how."""

    bench: str = field(
        default="generic", metadata={"help": f"Benchmark format: one of {BENCHES} or 'auto'."}
    )
    data: str | None = field(default=None, metadata={"help": "The benchmark file the user brings."})
    world: str | None = field(
        default=None, metadata={"help": "World dir, 'demo' or a service URL (tools=local)."}
    )
    tools: str = field(
        default="local", metadata={"help": "local (a world) or live (Serper + Jina Reader)."}
    )
    limit: int | None = field(default=None, metadata={"help": "Evaluate only the first N items."})
    samples: int = field(default=1, metadata={"help": "Episodes per item (pass@k, avg@k)."})
    concurrency: int = field(default=1, metadata={"help": "Episodes run at once (threads)."})
    timeout_s: float = field(
        default=600.0, metadata={"help": "Wall-clock limit per episode (checked between turns)."}
    )
    seed: int = field(
        default=0, metadata={"help": "Base seed: item i, sample s uses seed + i * samples + s."}
    )
    max_turns: int = field(default=32, metadata={"help": "Turn limit per episode (TimeLimit)."})
    resume: bool = field(
        default=False, metadata={"help": "Keep results.jsonl and run only what is missing."}
    )
    search_k: int = field(default=10, metadata={"help": "Search results per query."})
    search_mode: str = field(
        default="hybrid", metadata={"help": "Local retrieval: hybrid, dense or sparse."}
    )
    max_observation_chars: int = field(
        default=20_000, metadata={"help": "Characters of one tool response."}
    )
    context_mode: str = field(
        default="none", metadata={"help": f"Context management: {CONTEXT_MODES}."}
    )
    context_budget: int = field(default=65_536, metadata={"help": "Context budget in tokens."})
    judge_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible judge URL (None: exact match)."}
    )
    judge_model: str | None = field(default=None, metadata={"help": "Judge model name."})
    judge_style: str = field(
        default="auto",
        metadata={"help": "auto (xbench items get the Chinese judge), generic, xbench."},
    )
    serper_url: str = field(
        default="https://google.serper.dev", metadata={"help": "Serper API root (tools=live)."}
    )
    jina_url: str = field(
        default="https://r.jina.ai", metadata={"help": "Jina Reader root (tools=live)."}
    )
    live_api_key: str | None = field(
        default=None,
        repr=False,
        metadata={"help": "One key for both live services (stand-ins); default: env."},
    )
    show_progress: bool = field(default=True, metadata={"help": "Show a progress bar."})
    redact: bool = field(
        default=False,
        metadata={
            "help": "Keep benchmark text (questions, references, conversations, predictions) "
            "out of results.jsonl and viewer.html: for encrypted sets you must not publish."
        },
    )

    def __post_init__(self) -> None:
        if self.bench not in (*BENCHES, "auto"):
            raise ConfigError(
                f"Expects EvalConfig.bench in {BENCHES} or 'auto', actual: {self.bench!r}"
            )
        if self.tools not in TOOL_SOURCES:
            raise ConfigError(f"Expects EvalConfig.tools in {TOOL_SOURCES}, actual: {self.tools!r}")
        if self.judge_style not in JUDGE_STYLES:
            raise ConfigError(
                f"Expects EvalConfig.judge_style in {JUDGE_STYLES}, actual: {self.judge_style!r}"
            )
        for name in ("samples", "concurrency", "max_turns", "search_k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"Expects EvalConfig.{name} to be an int >= 1, actual: {v!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ConfigError(f"Expects EvalConfig.limit >= 1 or None, actual: {self.limit!r}")
        if not self.timeout_s > 0:
            raise ConfigError(f"Expects EvalConfig.timeout_s > 0, actual: {self.timeout_s!r}")
        ContextConfig(mode=self.context_mode, budget_tokens=self.context_budget)  # validates both

    @property
    def context(self) -> ContextConfig:
        """The :class:`ContextConfig` of this run."""
        return ContextConfig(mode=self.context_mode, budget_tokens=self.context_budget)


def play_episode(
    env: Any, agent: Any, task: Task, *, seed: int, deadline: float | None = None
) -> dict[str, Any]:
    """Play one episode until the agent answers, ``TimeLimit`` truncates it or ``deadline``
    (a ``time.monotonic()`` value) passes."""
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed, options={"task": task.to_dict()})
    agent.reset(info["task"])
    usage = getattr(agent, "usage", None)
    before = (usage.prompt_tokens, usage.completion_tokens) if usage is not None else None
    steps: list[dict[str, Any]] = []
    reward, terminated, truncated, timed_out, last, error = 0.0, False, False, False, info, None
    agent_s = 0.0
    while not (terminated or truncated):
        if deadline is not None and time.monotonic() > deadline:
            timed_out = True
            break
        ta = time.perf_counter()
        try:
            action = agent.act(obs, last)
        except Exception as exc:  # an agent crash ends this episode, not the run
            logger.warning("agent failed on %s: %r", task.id, exc)
            error = f"{type(exc).__name__}: {exc}"
            break
        agent_s += time.perf_counter() - ta
        obs, reward, terminated, truncated, last = env.step(action)
        steps.append({k: last.get(k) for k in STEP_KEYS})
    rec: dict[str, Any] = {
        "task_id": task.id,
        "question": task.question,
        "answers": list(task.answers),
        "meta": dict(task.meta),
        "seed": seed,
        "reward": float(reward),
        "answered": bool(terminated),
        "truncated": bool(truncated),
        "timed_out": timed_out,
        "error": error,
        "answer": last.get("answer"),
        "reward_info": last.get("reward_info"),
        "turns": len(steps),
        "totals": last.get("totals", {}),
        "steps": steps,
        "messages": last.get("messages", []),
        "agent_s": round(agent_s, 4),
        "wall_s": round(time.perf_counter() - t0, 4),
    }
    if usage is not None and before is not None:
        rec["tokens"] = {
            "prompt_tokens": usage.prompt_tokens - before[0],
            "completion_tokens": usage.completion_tokens - before[1],
        }
    if isinstance(agent, ContextManagedAgent):
        rec["context"] = dict(agent.stats)
    return rec


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Episodes of a ``results.jsonl``; a torn last line (a killed run) is skipped."""
    p = Path(path)
    if not p.is_file():
        return []
    out = []
    with open(p, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                logger.warning("skipping a torn line in %s", p)
    return out


def _world_spec(config: EvalConfig) -> tuple[Any, Any]:
    """``(spec passed to the env, the live world or None)``."""
    if config.tools == "local":
        return (config.world or "demo"), None
    from lite_world.eval.live import LiveWorld
    from lite_world.web.jina import JinaReader
    from lite_world.web.serper import SerperClient

    key = config.live_api_key
    live = LiveWorld(
        SerperClient(api_key=key, base_url=config.serper_url),
        JinaReader(api_key=key, base_url=config.jina_url),
    )
    return live, live


def _eval_world_info(world: Any) -> dict[str, Any]:
    if not isinstance(world, str) or world.startswith(("http://", "https://")) or world == "demo":
        return {}
    p = Path(os.path.expanduser(world)) / EVAL_WORLD_FILE
    return json.loads(p.read_text()) if p.is_file() else {}


def evidence_coverage(world: Any, tasks: Sequence[Task]) -> dict[str, Any]:
    """Which items' evidence pages (``meta.evidence_urls``) the world holds."""
    from lite_world.worlds import open_world

    w = open_world(world)
    per: dict[str, dict[str, list[str]]] = {}
    for t in tasks:
        urls = list(t.meta.get("evidence_urls") or [])
        if urls:
            present = [u for u in urls if w.get_page(u) is not None]
            per[t.id] = {"present": present, "missing": [u for u in urls if u not in present]}
    complete = [k for k, v in per.items() if not v["missing"]]
    none = [k for k, v in per.items() if not v["present"]]
    return {
        "items_with_evidence": len(per),
        "complete": len(complete),
        "none": len(none),
        "partial": len(per) - len(complete) - len(none),
        "items_missing_evidence": sorted(k for k, v in per.items() if v["missing"]),
    }


def run_eval(
    agent_factory: Callable[[], Any],
    config: EvalConfig,
    *,
    out_dir: str | os.PathLike[str],
    data: BenchData | None = None,
    count_tokens: Callable[[str], int] | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Evaluate; write ``results.jsonl``, ``summary.json``, ``report.md``, ``plots/`` and
    ``viewer.html``; return the summary."""
    import gymnasium as gym

    import lite_world  # noqa: F401  (registers LiteSearch-v0)

    if data is None:
        if not config.data:
            raise ConfigError(
                "Expects EvalConfig.data (the benchmark file), actual: None. Pass --data PATH."
            )
        data = load_benchmark(config.bench, config.data)
    tasks = data.tasks[: config.limit] if config.limit else list(data.tasks)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    done = read_results(results_path) if config.resume else []
    if (
        results_path.exists()
    ):  # resume keeps whole records only (a killed run may leave a torn line)
        _write_jsonl(results_path, done)
    done_keys = {(str(e["task_id"]), int(e["sample"])) for e in done}
    jobs = [
        (i, t, s)
        for i, t in enumerate(tasks)
        for s in range(config.samples)
        if (t.id, s) not in done_keys
    ]
    spec, live = _world_spec(config)
    ctx = config.context
    env_kwargs: dict[str, Any] = {
        "search_k": config.search_k,
        "search_mode": config.search_mode,
        "max_observation_chars": config.max_observation_chars,
    }
    lock = threading.Lock()
    judges = _judges(config, [{"meta": t.meta} for t in tasks])

    def job(i: int, task: Task, s: int) -> dict[str, Any]:
        env = gym.make(
            "LiteSearch-v0",
            world=spec,
            tasks=[task.to_dict()],
            max_episode_steps=config.max_turns,
            **env_kwargs,
        )
        # always wrapped: "none" still measures the context and forces an answer at the budget
        agent = ContextManagedAgent(agent_factory(), ctx, count=count_tokens or approx_tokens)
        try:
            ep = play_episode(
                env,
                agent,
                task,
                seed=config.seed + i * config.samples + s,
                deadline=time.monotonic() + config.timeout_s,
            )
        finally:
            env.close()
        ep.update(sample=s, item_index=i, bench=data.bench, tools=config.tools)
        judge_episodes([ep], judges.get("generic"), judges=judges, max_workers=1)
        with lock:
            with open(results_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(redact_episode(ep) if config.redact else ep, ensure_ascii=False))
                f.write("\n")
        return ep

    t0 = time.perf_counter()
    bar = tqdm(
        total=len(jobs), desc=f"eval {data.bench}", unit="ep", disable=not config.show_progress
    )
    try:
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            for fut in as_completed([pool.submit(job, i, t, s) for i, t, s in jobs]):
                fut.result()
                bar.update(1)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    keys = {(t.id, s) for t in tasks for s in range(config.samples)}
    episodes = [
        e for e in read_results(results_path) if (str(e["task_id"]), int(e["sample"])) in keys
    ]
    episodes.sort(key=lambda e: (e["item_index"], e["sample"]))
    judge_episodes(  # episodes are judged as they finish; this catches older records
        episodes, judges.get("generic"), judges=judges, max_workers=min(8, config.concurrency * 2)
    )
    _write_jsonl(results_path, episodes)

    info = _eval_world_info(config.world) if config.tools == "local" else {}
    docid_urls = info.get("docid_urls", {})
    relevant = (
        {
            t.id: [docid_urls[d] for d in t.meta.get("relevant_docids", []) if d in docid_urls]
            + list(t.meta.get("evidence_urls") or [])
            for t in tasks
        }
        if data.bench == "browsecomp-plus"
        else None
    )
    summary = summarize_eval(episodes, relevant_urls=relevant, wall_s=wall)
    summary.update(
        bench=data.bench,
        tools=config.tools,
        skipped=data.skipped,
        resumed_episodes=len(done_keys & keys),
        config={k: v for k, v in config.to_dict().items() if k != "live_api_key"},
    )
    if judges:
        summary["judge"] = {style: j.stats() for style, j in judges.items() if j is not None}
    if live is not None:
        from lite_world.eval.live import live_cost_usd

        summary["live"] = {**live.stats(), "cost_usd_estimate": live_cost_usd(live.stats())}
    if config.tools == "local":
        summary["evidence"] = evidence_coverage(spec, tasks)
        if info:
            summary["world"] = {k: info[k] for k in ("bench", "pages", "built_at") if k in info}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if report:
        from lite_world.eval.report import write_report

        write_report(out, summary, episodes)
    return summary


def redact_episode(ep: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an episode record without benchmark text: the question becomes a hash, references,
    prediction, tool arguments and the conversation are dropped (figures and verdicts stay).

    Example:
        >>> r = redact_episode({"question": "Q?", "answers": ["A"], "answer": "A", "messages": [1],
        ...                     "steps": [{"tool": "search", "arguments": {"query": ["Q"]}}]})
        >>> r["question"], r["answers"], r["answer"], r["messages"], r["steps"][0]["arguments"]
        ('[redacted 161d94ed62]', [], '[redacted]', [], {})
    """
    out = dict(ep)
    if not str(out.get("question", "")).startswith("[redacted"):
        digest = hashlib.sha1(str(out.get("question", "")).encode("utf-8")).hexdigest()[:10]
        out["question"] = f"[redacted {digest}]"
    out.update(
        answers=[],
        answer="[redacted]",
        messages=[],
        steps=[{**s, "arguments": {}} for s in ep.get("steps", [])],
    )
    return out


def _write_jsonl(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in records), encoding="utf-8"
    )
    os.replace(tmp, path)


def _judges(config: EvalConfig, episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not config.judge_url:
        return {}
    styles = {"generic"} | {(e.get("meta") or {}).get("judge") or "generic" for e in episodes}
    if config.judge_style != "auto":
        return {
            s: make_judge(config.judge_url, config.judge_model, style=config.judge_style)
            for s in styles
        }
    return {s: make_judge(config.judge_url, config.judge_model, style=s) for s in styles}
