"""What the SFT data build kept and dropped, and the shape of what it kept.

:func:`summarize_build` counts trajectories per rule (a trajectory failing several rules counts
under each, and once under the first one it fails, in rule order) and describes the kept
conversations: length in tokens and assistant turns, as the paper's data figure does (its
68K trajectories: mean 12.4K tokens, 8.7 turns). :func:`write_report` saves it as
``report.json``, ``report.md`` and ``report.png`` (two histograms).

Example:
    >>> r = summarize_build(4, [["F1_incorrect"], ["F1_incorrect", "F3_too_few_calls"]],
    ...                     token_counts=[100, 300], turns=[3, 5], token_unit="tokens")
    >>> r["kept"], r["dropped"], r["dropped_by_rule"]["F1"], r["first_reason"]
    (2, 2, 2, {'F1_incorrect': 2})
    >>> r["kept_stats"]["tokens"]["mean"], r["kept_stats"]["turns"]["max"]
    (200.0, 5)
"""

from __future__ import annotations

import json
import logging
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lite_world.sft.filters import RULES

__all__ = ["summarize_build", "write_report"]

logger = logging.getLogger(__name__)


def _stats(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "mean": 0.0, "median": 0.0, "min": 0, "max": 0}
    return {
        "n": len(values),
        "mean": round(statistics.fmean(values), 2),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def summarize_build(
    total: int,
    dropped_reasons: Sequence[Sequence[str]],
    *,
    token_counts: Sequence[int],
    turns: Sequence[int],
    token_unit: str,
    invalid: int = 0,
) -> dict[str, Any]:
    """The build report as a JSON-ready dict.

    Args:
        total: Trajectories read (``invalid`` included).
        dropped_reasons: The reason codes of each dropped trajectory.
        token_counts: Length of each kept conversation, in ``token_unit``.
        turns: Assistant turns of each kept conversation.
        token_unit: ``"tokens"`` (a tokenizer counted) or ``"chars/4"`` (an estimate).
        invalid: Records that were not trajectories at all (no messages).
    """
    by_rule: Counter[str] = Counter()
    by_code: Counter[str] = Counter()
    first: Counter[str] = Counter()
    for reasons in dropped_reasons:
        first[reasons[0]] += 1
        by_code.update(reasons)
        by_rule.update({r.split("_", 1)[0] for r in reasons})
    kept = total - invalid - len(dropped_reasons)
    return {
        "total": total,
        "invalid": invalid,
        "kept": kept,
        "dropped": len(dropped_reasons),
        "kept_fraction": round(kept / total, 4) if total else 0.0,
        "dropped_by_rule": {
            rule: by_rule.get(rule, 0) for rule in (*RULES, *sorted(set(by_rule) - set(RULES)))
        },
        "dropped_by_code": dict(sorted(by_code.items())),
        "first_reason": dict(sorted(first.items())),
        "token_unit": token_unit,
        "kept_stats": {"tokens": _stats(token_counts), "turns": _stats(turns)},
        "histograms": {"tokens": list(token_counts), "turns": list(turns)},
    }


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# SFT data build",
        "",
        f"{report['kept']} of {report['total']} trajectories kept ({100 * report['kept_fraction']:.1f}%); "
        f"{report['dropped']} dropped, {report['invalid']} invalid.",
        "",
        "| rule | dropped (any) |",
        "|---|---|",
        *(f"| {rule} | {n} |" for rule, n in report["dropped_by_rule"].items()),
        "",
        "| first failing reason | trajectories |",
        "|---|---|",
        *(f"| {code} | {n} |" for code, n in report["first_reason"].items()),
        "",
    ]
    tok, trn = report["kept_stats"]["tokens"], report["kept_stats"]["turns"]
    lines.append(
        f"Kept conversations: mean {tok['mean']} {report['token_unit']} (median {tok['median']}, max {tok['max']}), "
        f"mean {trn['mean']} assistant turns (max {trn['max']}). The paper's data: mean 12.4K tokens, 8.7 turns."
    )
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and (with matplotlib) ``report.png``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    paths["json"].write_text(json.dumps(report, indent=2))
    paths["markdown"].write_text(_markdown(report))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("matplotlib is not installed: no report.png (pip install 'lite-world[plot]')")
        return paths
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    rules = report["dropped_by_rule"]
    axes[0].bar(list(rules), list(rules.values()), color="tab:red")
    axes[0].set_title(f"dropped per rule (kept {report['kept']} of {report['total']})")
    tokens, turns = report["histograms"]["tokens"], report["histograms"]["turns"]
    axes[1].hist(tokens or [0], bins=30, color="tab:blue")
    axes[1].set_title(
        f"kept: length ({report['token_unit']}), mean {report['kept_stats']['tokens']['mean']}"
    )
    top = max(turns or [1])
    axes[2].hist(turns or [0], bins=range(0, top + 2), color="tab:green", align="left")
    axes[2].set_title(f"kept: assistant turns, mean {report['kept_stats']['turns']['mean']}")
    fig.tight_layout()
    paths["png"] = out / "report.png"
    fig.savefig(paths["png"], dpi=110)
    plt.close(fig)
    return paths
