"""The human-facing report of an evaluation: ``report.md`` (rounded figures), matplotlib plots and
the trajectory viewer (:mod:`lite_world.eval.viewer`).

Plots (``plots/``): ``accuracy.png`` (accuracy per benchmark or run with 95% Wilson intervals),
``turns.png`` and ``tool_calls.png`` (histograms), ``accuracy_by_turns.png``.

Example:
    >>> fmt(0.16666666666666666), fmt(12), fmt(None), fmt([0.1234, 0.5])
    ('0.167', '12', '–', '[0.123, 0.5]')
    >>> pct(0.16666666666666666)
    '16.7%'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lite_world._lazy import require

__all__ = ["write_report", "write_markdown", "write_plots", "fmt", "pct"]

_ROWS = (
    ("accuracy", "accuracy (judge, else EM)", "pct"),
    ("accuracy_ci95", "accuracy 95% CI (Wilson)", "pct"),
    ("em", "exact match", "pct"),
    ("f1", "token F1", "num"),
    ("judge_em_agreement", "judge / EM agreement", "pct"),
    ("judged_episodes", "episodes judged by the LLM", "num"),
    ("answer_rate", "answer rate", "pct"),
    ("truncated_rate", "turn-limit rate", "pct"),
    ("timed_out", "timed out", "num"),
    ("errors", "agent errors", "num"),
    ("mean_turns", "mean turns", "num"),
    ("mean_tool_calls", "tool calls per episode", "num"),
    ("mean_search_calls", "searches per episode", "num"),
    ("mean_visit_calls", "visits per episode", "num"),
    ("mean_prompt_tokens", "prompt tokens per episode", "num"),
    ("mean_completion_tokens", "completion tokens per episode", "num"),
    ("tool_latency_p50_ms", "tool latency p50 (ms)", "num"),
    ("tool_latency_p99_ms", "tool latency p99 (ms)", "num"),
    ("mean_wall_s", "wall time per episode (s)", "num"),
    ("wall_s", "wall time (s)", "num"),
    ("relevant_recall", "relevant documents visited (recall)", "pct"),
)


def fmt(x: Any) -> str:
    """A number for people: at most three decimals, no float noise; ``–`` for missing."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{round(x, 3):g}" if abs(x) < 1e6 else f"{x:.3g}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in x) + "]"
    return str(x)


def pct(x: Any) -> str:
    """A proportion as a percentage with one decimal."""
    if x is None:
        return "–"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(pct(v) for v in x) + "]"
    return f"{100 * float(x):.1f}%"


def _md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_markdown(
    path: str | os.PathLike[str], summary: Mapping[str, Any], *, title: str | None = None
) -> Path:
    """``report.md``: metrics, pass@k, accuracy by turns, evidence coverage, context and cost."""
    s = summary
    lines = [f"# {title or 'Evaluation'}: {s.get('bench', '?')} ({s.get('tools', '?')} tools)", ""]
    lines += [
        f"{s.get('items', 0)} items × {s.get('samples_per_item', 0)} samples = "
        f"{s.get('episodes', 0)} episodes.",
        "",
    ]
    if s.get("skipped"):
        lines += [
            "Skipped items: " + ", ".join(f"{n} {why}" for why, n in s["skipped"].items()) + ".",
            "",
        ]
    lines += ["| metric | value |", "|---|---|"]
    for key, label, kind in _ROWS:
        if key in s and s[key] is not None:
            lines.append(f"| {label} | {pct(s[key]) if kind == 'pct' else fmt(s[key])} |")
    for key in sorted(k for k in s if k.startswith(("pass@", "avg@"))):
        lines.append(f"| {key} | {pct(s[key])} |")
    if s.get("judge_sources"):
        lines.append(
            "| verdict sources | "
            + ", ".join(f"{k}: {v}" for k, v in s["judge_sources"].items())
            + " |"
        )
    if s.get("accuracy_by_turns"):
        lines += [
            "",
            "## Accuracy by turns",
            "",
            "| turns | episodes | accuracy |",
            "|---|---|---|",
        ]
        lines += [
            f"| {k} | {v['n']} | {pct(v['accuracy'])} |" for k, v in s["accuracy_by_turns"].items()
        ]
    if s.get("context"):
        c = s["context"]
        lines += ["", "## Context management", "", "| | |", "|---|---|"]
        lines += [f"| {_md_escape(k.replace('_', ' '))} | {fmt(v)} |" for k, v in c.items()]
    if s.get("evidence"):
        e = s["evidence"]
        lines += [
            "",
            "## Evidence in the world",
            "",
            f"{e['items_with_evidence']} items list evidence pages: {e['complete']} complete, "
            f"{e['partial']} partial, "
            f"{e['none']} with none of their pages in the world.",
        ]
        if e["items_missing_evidence"]:
            shown = ", ".join(_md_escape(x) for x in e["items_missing_evidence"][:50])
            more = len(e["items_missing_evidence"]) - 50
            lines.append(
                f"Items missing evidence: {shown}" + (f" (+{more} more)" if more > 0 else "") + "."
            )
    if s.get("live"):
        lv = s["live"]
        lines += [
            "",
            "## Live tools",
            "",
            f"{lv.get('search_queries', 0)} searches, {lv.get('page_reads', 0)} page reads "
            f"({lv.get('page_failures', 0)} failed); estimated cost "
            f"${fmt(lv.get('cost_usd_estimate'))} at list prices.",
        ]
    lines += [
        "",
        "Plots: `plots/accuracy.png`, `plots/turns.png`, `plots/tool_calls.png`, "
        "`plots/accuracy_by_turns.png`. "
        "Trajectories: `viewer.html` (it holds the benchmark's questions: do not publish it for "
        "encrypted sets).",
        "",
    ]
    p = Path(path)
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def write_plots(
    out_dir: str | os.PathLike[str],
    runs: Mapping[str, tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
) -> list[Path]:
    """The four plots for one or more runs (``name -> (summary, episodes)``); returns the files."""
    matplotlib = require("matplotlib", extra="plot")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot", extra="plot")
    d = Path(out_dir) / "plots"
    d.mkdir(parents=True, exist_ok=True)
    names = list(runs)
    colors = [
        "#4c72b0",
        "#dd8452",
        "#55a868",
        "#c44e52",
        "#8172b3",
        "#937860",
        "#da8bc3",
        "#8c8c8c",
    ]
    written = []

    fig, ax = plt.subplots(figsize=(max(4.0, 1.5 * len(names) + 2), 4.2))
    acc = [runs[n][0].get("accuracy", 0.0) for n in names]
    ci = [runs[n][0].get("accuracy_ci95", [a, a]) for n, a in zip(names, acc, strict=False)]
    err = [
        [a - lo for a, (lo, _) in zip(acc, ci, strict=False)],
        [hi - a for a, (_, hi) in zip(acc, ci, strict=False)],
    ]
    ax.bar(names, acc, yerr=err, capsize=5, color=colors[: len(names)] or None)
    for i, (a, (_, hi)) in enumerate(zip(acc, ci, strict=False)):
        ax.text(i, min(0.95, hi + 0.02), f"{100 * a:.1f}%", ha="center", fontsize=9)
    ax.set(title="accuracy (95% Wilson CI)", ylim=(0, 1), ylabel="accuracy")
    if len(names) > 3:
        ax.tick_params(axis="x", labelrotation=20)
    written.append(_save(fig, plt, d / "accuracy.png"))

    for key, fname, title in (
        ("turns", "turns.png", "turns per episode"),
        ("tool_calls", "tool_calls.png", "tool calls per episode"),
    ):
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        vals = {
            n: [
                (
                    e.get("turns", 0)
                    if key == "turns"
                    else (e.get("totals") or {}).get("tool_calls", 0)
                )
                for e in runs[n][1]
            ]
            for n in names
        }
        top = max([max(v) for v in vals.values() if v] + [1])
        ax.hist(
            [vals[n] for n in names],
            bins=range(0, top + 2),
            label=names,
            color=colors[: len(names)],
        )
        ax.set(title=title, xlabel=key.replace("_", " "), ylabel="episodes")
        if len(names) > 1:
            ax.legend()
        written.append(_save(fig, plt, d / fname))

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    width = 0.8 / max(1, len(names))
    for j, n in enumerate(names):
        by = runs[n][0].get("accuracy_by_turns", {})
        xs = list(by)
        ax.bar(
            [i + j * width for i in range(len(xs))],
            [by[x]["accuracy"] for x in xs],
            width,
            label=n,
            color=colors[j % len(colors)],
        )
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(xs))], xs)
    ax.set(title="accuracy by turns", xlabel="turns", ylabel="accuracy", ylim=(0, 1))
    if len(names) > 1:
        ax.legend()
    written.append(_save(fig, plt, d / "accuracy_by_turns.png"))
    return written


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_report(
    out_dir: str | os.PathLike[str],
    summary: Mapping[str, Any],
    episodes: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """``report.md``, ``plots/*.png`` and ``viewer.html`` for one run; returns their paths."""
    from lite_world.eval.viewer import write_viewer

    out = Path(out_dir)
    md = write_markdown(out / "report.md", summary)
    plots = write_plots(out, {str(summary.get("bench", "run")): (summary, episodes)})
    viewer = write_viewer(out / "viewer.html", episodes, summary)
    return {"report": str(md), "plots": [str(p) for p in plots], "viewer": str(viewer)}
