"""The training-dynamics figure of a GRPO run, from its ``metrics.jsonl``.

Nine panels per step: the six of LiteResearcher's training-dynamics figure (reward, response
length, turns, clip ratio, length-clip ratio, tool calls), then the sampling entropy, the share
of sampled groups with a learning signal, and the share of overlong (token-limit) episodes.

Usage:
    python -m trainers.grpo.plot runs/grpo            # writes runs/grpo/metrics.png

Example:
    >>> records = [{"step": 1, "reward_mean": 0.0}, {"step": 2, "reward_mean": 0.5}]
    >>> series(records, "reward_mean")
    ([1, 2], [0.0, 0.5])
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lite_world._lazy import require

__all__ = ["PANELS", "plot_metrics", "read_metrics", "series"]

PANELS: tuple[tuple[str, str], ...] = (
    ("reward_mean", "mean reward"),
    ("response_length_mean", "response length (tokens / episode)"),
    ("turns_mean", "turns / episode"),
    ("clip_ratio", "clip ratio (tokens)"),
    ("length_clip_ratio", "length-clip ratio (turns)"),
    ("tool_calls_mean", "tool calls / episode"),
    ("entropy", "entropy (nats / policy token)"),
    ("groups_with_signal_share", "groups with signal (share of sampled)"),
    ("overlong", "overlong episodes (share)"),
)
"""``(metric, title)`` of each panel."""


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file, one dict per step."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """``(steps, values)`` of one metric, skipping records without it."""
    points = [(int(r["step"]), float(r[key])) for r in records if r.get(key) is not None]
    return [s for s, _ in points], [v for _, v in points]


def plot_metrics(
    metrics: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    out: str | os.PathLike[str],
    *,
    title: str | None = None,
    label: str = "run",
    extra: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Path:
    """Draw the panels of ``metrics`` (a ``metrics.jsonl`` path or records) into ``out`` (PNG).

    ``extra`` maps labels to other runs' records, drawn on the same panels for comparison
    (``label`` names ``metrics`` in the legend).
    """
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: dict[str, Sequence[Mapping[str, Any]]] = {
        label: read_metrics(metrics) if isinstance(metrics, (str, os.PathLike)) else metrics
    }
    if extra:
        runs.update(extra)
    rows = -(-len(PANELS) // 3)
    fig, axes = plt.subplots(rows, 3, figsize=(13, 3.25 * rows))
    for ax, (key, label) in zip(axes.flat, PANELS, strict=False):
        for name, records in runs.items():
            steps, values = series(records, key)
            ax.plot(steps, values, marker="o", markersize=3, label=name if len(runs) > 1 else None)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(runs) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trainers.grpo.plot RUN_DIR [--out PNG]``."""
    parser = argparse.ArgumentParser(
        prog="python -m trainers.grpo.plot", description="Plot a GRPO run's metrics."
    )
    parser.add_argument("run_dir", help="directory holding metrics.jsonl")
    parser.add_argument("--out", default=None, help="PNG to write (default: RUN_DIR/metrics.png)")
    args = parser.parse_args(argv)
    run = Path(args.run_dir)
    print(plot_metrics(run / "metrics.jsonl", args.out or run / "metrics.png", title=str(run)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
