"""Step 6b, curriculum stage files: keep the 1..K-1 band, mix sources per stage, write task
files that ``trainers.grpo`` (``--tasks``) and the verl adapter (``python -m trainers.verl.data``)
read directly, each with a manifest of what went in.

Inputs are named groups of profiled tasks (e.g. ``single``, ``multi``, ``hard``). A stage is a
mixture ``{group: share}``; its size is the largest the available band tasks allow (or
``size``), tasks are drawn with a seeded RNG and never reused by a later stage. Stage ``i``
(from 1) gets ``max_response_length = base_length + (i - 1) * length_step`` (32K, then +16K).

Example:
    >>> parse_mixture("single=0.73,multi=0.27")
    {'single': 0.73, 'multi': 0.27}
    >>> [in_band({"meta": {"profile": {"k": 8, "correct": c}}}, 8) for c in (0, 1, 7, 8)]
    [False, True, True, False]
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lite_world.errors import ConfigError
from lite_world.synth.profile import correct_count, difficulty_histogram
from lite_world.synth.records import StepReport, write_jsonl

__all__ = ["parse_mixture", "in_band", "build_curriculum", "DEFAULT_STAGES"]

DEFAULT_STAGES = ({"single": 0.73, "multi": 0.27}, {"single": 0.5, "multi": 0.3, "hard": 0.2})
"""Stage 1: single-hop 73% / multi-hop 27%; stage 2 adds harder sources."""


def parse_mixture(spec: str) -> dict[str, float]:
    """``"a=0.7,b=0.3"`` → ``{"a": 0.7, "b": 0.3}`` (positive shares summing to 1 ± 0.01)."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, _, share = part.partition("=")
        try:
            out[name.strip()] = float(share)
        except ValueError as exc:
            raise ConfigError(
                f"Expects a mixture like 'single=0.73,multi=0.27', actual: {spec!r}"
            ) from exc
    if not out or any(v <= 0 for v in out.values()) or abs(sum(out.values()) - 1) > 0.01:
        raise ConfigError(f"Expects positive shares summing to 1, actual: {spec!r}")
    return out


def in_band(task: Mapping[str, Any], k: int, lo: int = 1, hi: int | None = None) -> bool:
    """Whether the task's correct count is in ``lo..hi`` (default ``1..k-1``); unprofiled: False."""
    c = correct_count(task)
    prof_k = ((task.get("meta") or {}).get("profile") or {}).get("k", k)
    return c is not None and prof_k == k and lo <= c <= (k - 1 if hi is None else hi)


def _digest(path: str | os.PathLike[str]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if Path(path).is_file() else ""


def build_curriculum(
    groups: Mapping[str, Sequence[Mapping[str, Any]]],
    out_dir: str | os.PathLike[str],
    *,
    stages: Sequence[Mapping[str, float]] = DEFAULT_STAGES,
    k: int = 8,
    size: int | None = None,
    seed: int = 0,
    base_length: int = 32768,
    length_step: int = 16384,
    sources: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], StepReport]:
    """Write ``stage{i}.jsonl`` + ``stage{i}.manifest.json`` per stage and ``curriculum.json``;
    returns the stage manifests and the report. A stage whose groups are missing is skipped
    with a reason in the report."""
    from lite_world.tasks import Task

    if k < 2:
        raise ConfigError(f"Expects k >= 2, actual: {k}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    report = StepReport("curriculum", n_in=sum(len(v) for v in groups.values()))
    band: dict[str, list[dict[str, Any]]] = {}
    for name, tasks in groups.items():
        kept = []
        for t in tasks:
            c = correct_count(t)
            if c is None:
                report.drop("unprofiled")
            elif not in_band(t, k):
                report.drop("all_wrong" if c == 0 else "all_right" if c >= k else "other_k")
            else:
                kept.append(dict(t))
        kept.sort(key=lambda t: str(t["id"]))
        rng.shuffle(kept)
        band[name] = kept
    used: set[str] = set()
    manifests = []
    for i, mix in enumerate(stages, 1):
        avail = {g: [t for t in band.get(g, []) if t["id"] not in used] for g in mix}
        missing = [g for g in mix if not avail[g]]
        if missing:
            report.extra.setdefault("skipped_stages", []).append(
                {"stage": i, "missing_groups": missing}
            )
            continue
        total = min(int(len(avail[g]) / share) for g, share in mix.items())
        if size is not None:
            total = min(total, size)
        counts = {g: max(1, round(share * total)) for g, share in mix.items()}
        rows = []
        for g, n in counts.items():
            for t in avail[g][:n]:
                used.add(t["id"])
                rec = Task.from_dict(t).to_dict()
                rec["meta"] = {**rec["meta"], "group": g, "stage": i}
                rows.append(rec)
        rng.shuffle(rows)
        path = out / f"stage{i}.jsonl"
        write_jsonl(path, rows)
        manifest = {
            "stage": i,
            "file": path.name,
            "tasks": len(rows),
            "by_group": {g: sum(1 for r in rows if r["meta"]["group"] == g) for g in mix},
            "mixture": dict(mix),
            "band": [1, k - 1],
            "k": k,
            "max_response_length": base_length + (i - 1) * length_step,
            "difficulty_histogram": difficulty_histogram(rows),
            "inputs": {
                g: {
                    "path": (sources or {}).get(g, ""),
                    "sha256_16": _digest((sources or {}).get(g, "")),
                    "tasks": len(groups.get(g, [])),
                    "in_band": len(band.get(g, [])),
                }
                for g in mix
            },
            "seed": seed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sha256_16": _digest(path),
            "read_with": [
                "lite_world.tasks.load_tasks",
                "python -m trainers.grpo --tasks FILE",
                "python -m trainers.verl.data FILE OUT.parquet",
            ],
        }
        (out / f"stage{i}.manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False)
        )
        manifests.append(manifest)
        report.keep(len(rows))
    report.extra.update(
        stages=[
            {k_: m[k_] for k_ in ("stage", "tasks", "by_group", "max_response_length")}
            for m in manifests
        ],
        in_band={g: len(v) for g, v in band.items()},
    )
    (out / "curriculum.json").write_text(json.dumps(report.to_dict(), indent=2))
    return manifests, report
