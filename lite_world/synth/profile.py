"""Step 6a, the difficulty profiler: K rollouts per task with any agent, correct count per task.

Tasks are rolled out in chunks through :func:`~lite_world.rollout.runner.run_rollouts`
(``samples=K``); after each chunk its tasks are appended to ``OUT`` with
``meta["profile"] = {k, correct, rewards, agent}``, so a killed run resumes where it stopped
(tasks already in ``OUT`` are skipped). Each chunk's trajectories stay in
``runs_dir/chunk-NNNN/``.

Example:
    >>> ProfileConfig(k=8).band
    (1, 7)
    >>> difficulty_histogram([{"meta": {"profile": {"k": 2, "correct": c}}} for c in (0, 1, 1, 2)])
    {'0': 1, '1': 2, '2': 1}
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lite_world.config import ConfigMixin
from lite_world.errors import ConfigError
from lite_world.synth.records import StepReport, read_jsonl

__all__ = ["ProfileConfig", "profile_tasks", "difficulty_histogram", "correct_count"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileConfig(ConfigMixin):
    """How to profile."""

    k: int = field(default=8, metadata={"help": "Rollouts per task (the paper's pass@8)."})
    world: str | None = field(
        default=None, metadata={"help": "World directory (None: the demo world)."}
    )
    max_turns: int = field(default=12, metadata={"help": "Turn limit per episode."})
    mask_sources: bool = field(
        default=True, metadata={"help": "Hide each task's mask_urls (as in training)."}
    )
    chunk_tasks: int = field(default=16, metadata={"help": "Tasks per resumable chunk."})
    concurrency: int = field(default=1, metadata={"help": "Episodes at once (threads)."})
    seed: int = field(default=0, metadata={"help": "Base seed of the episodes."})
    threshold: float = field(
        default=1.0, metadata={"help": "An episode is correct when reward >= this."}
    )
    env_kwargs: Mapping[str, Any] = field(
        default_factory=dict, metadata={"help": "Extra LiteSearch-v0 kwargs."}
    )
    show_progress: bool = field(default=True, metadata={"help": "Show progress bars."})

    def __post_init__(self) -> None:
        if self.k < 2:
            raise ConfigError(f"Expects k >= 2 (the band 1..k-1 must exist), actual: {self.k}")
        if self.max_turns < 1 or self.chunk_tasks < 1 or self.concurrency < 1:
            raise ConfigError(
                f"Expects max_turns, chunk_tasks and concurrency >= 1, actual: {self.max_turns}, "
                f"{self.chunk_tasks}, {self.concurrency}"
            )

    @property
    def band(self) -> tuple[int, int]:
        """The kept range of correct counts, ``(1, k - 1)``."""
        return 1, self.k - 1


def correct_count(task: Mapping[str, Any]) -> int | None:
    """``meta.profile.correct`` of a profiled task, else ``None``."""
    prof = (task.get("meta") or {}).get("profile")
    return int(prof["correct"]) if isinstance(prof, Mapping) and "correct" in prof else None


def difficulty_histogram(tasks: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Correct count → number of tasks (unprofiled tasks left out)."""
    c = Counter(correct_count(t) for t in tasks)
    c.pop(None, None)
    return {str(k): c[k] for k in sorted(c)}  # type: ignore[type-var]


def profile_tasks(
    tasks: Sequence[Mapping[str, Any]],
    agent_factory: Callable[[], Any],
    config: ProfileConfig,
    out: str | os.PathLike[str],
    *,
    runs_dir: str | os.PathLike[str] | None = None,
    agent_name: str = "",
) -> tuple[list[dict[str, Any]], StepReport]:
    """Profile ``tasks`` (resuming from ``out``); returns every profiled task and the report."""
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.rollout.runner import RolloutConfig, run_rollouts
    from lite_world.tasks import Task

    out = Path(out)
    runs = Path(runs_dir) if runs_dir else out.with_name(out.name.removesuffix(".jsonl") + ".runs")
    report = StepReport("profile", n_in=len(tasks))
    done: dict[str, dict[str, Any]] = {}
    if out.is_file():
        for r in read_jsonl(out):
            done[str(r["id"])] = r
    norm = [Task.from_dict(t).to_dict() for t in tasks]
    todo = [t for t in norm if t["id"] not in done]
    report.extra["resumed"] = len(norm) - len(todo)
    out.parent.mkdir(parents=True, exist_ok=True)
    env_kwargs = {
        "max_turns": config.max_turns,
        "mask_sources": config.mask_sources,
        **dict(config.env_kwargs),
    }
    env = LiteSearchConfig.from_dict({"world": config.world or "demo", **env_kwargs})
    for ci, start in enumerate(range(0, len(todo), config.chunk_tasks)):
        chunk = todo[start : start + config.chunk_tasks]
        chunk_no = (len(norm) - len(todo)) // config.chunk_tasks + ci
        rc = RolloutConfig(
            env=env,
            samples=config.k,
            concurrency=config.concurrency,
            seed=config.seed + 1_000_000 * chunk_no,
            show_progress=config.show_progress,
        )
        cdir = runs / f"chunk-{chunk_no:04d}"
        run_rollouts(agent_factory, rc, out_dir=cdir, tasks=[Task.from_dict(t) for t in chunk])
        rewards: dict[str, list[float]] = defaultdict(list)
        for ep in read_jsonl(cdir / "trajectories.jsonl"):
            rewards[str(ep["task_id"])].append(float(ep["reward"]))
        with open(out, "a", encoding="utf-8") as f:
            for t in chunk:
                rs = rewards.get(t["id"], [])
                rec = dict(t)
                rec["meta"] = {
                    **dict(t.get("meta") or {}),
                    "profile": {
                        "k": config.k,
                        "correct": sum(r >= config.threshold for r in rs),
                        "rewards": rs,
                        "agent": agent_name,
                        "runs": str(cdir),
                    },
                }
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                done[t["id"]] = rec
    profiled = [done[t["id"]] for t in norm]
    hist = difficulty_histogram(profiled)
    lo, hi = config.band
    report.keep(sum(1 for t in profiled if lo <= (correct_count(t) or 0) <= hi))
    report.drop("all_wrong", sum(1 for t in profiled if correct_count(t) == 0))
    report.drop("all_right", sum(1 for t in profiled if correct_count(t) == config.k))
    report.extra.update(
        k=config.k, histogram=hist, agent=agent_name, note="kept = tasks in the 1..k-1 band"
    )
    return profiled, report
