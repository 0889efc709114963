"""Shared helpers for the benchmarks: timing, percentiles, RSS, tables, JSON results and plots.

Everything is stdlib + numpy (+ matplotlib for plots, imported lazily with the Agg backend).

Example:
    >>> s = summarize([0.001, 0.002, 0.003])
    >>> s["p50_ms"], s["n"]
    (2.0, 3)
    >>> print(table([{"a": 1, "b": 2.5}], ["a", "b"]))
    a | b
    --+-----
    1 | 2.50
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "RESULTS_DIR",
    "CACHE_DIR",
    "Deadline",
    "summarize",
    "time_each",
    "time_calls",
    "rss_mb",
    "machine_info",
    "table",
    "write_result",
    "plot_latency",
    "plot_bars",
    "plot_bar_panels",
    "pyplot",
    "fmt",
]

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = BENCH_DIR / ".cache"  # synthetic worlds and scratch stores (git-ignored)


class Deadline:
    """A wall-clock budget: ``bool(d)`` is True while time is left.

    Example:
        >>> d = Deadline(60); bool(d), d.left() > 59
        (True, True)
    """

    def __init__(self, seconds: float):
        self.end = time.perf_counter() + float(seconds)

    def left(self) -> float:
        return self.end - time.perf_counter()

    def __bool__(self) -> bool:
        return self.left() > 0


def summarize(seconds: Sequence[float]) -> dict[str, float]:
    """Latency percentiles in milliseconds (p50/p90/p99/mean/min/max) and the sample count."""
    if len(seconds) == 0:
        return {"n": 0}
    a = np.asarray(seconds, dtype=np.float64) * 1e3
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {
        "n": int(a.size),
        "p50_ms": round(float(p50), 4),
        "p90_ms": round(float(p90), 4),
        "p99_ms": round(float(p99), 4),
        "mean_ms": round(float(a.mean()), 4),
        "min_ms": round(float(a.min()), 4),
        "max_ms": round(float(a.max()), 4),
    }


def time_each(
    fn: Callable[[Any], Any], items: Iterable[Any], *, max_seconds: float | None = None
) -> list[float]:
    """Call ``fn(item)`` for each item; returns per-call seconds (stops early when the budget runs out)."""
    out: list[float] = []
    deadline = Deadline(max_seconds) if max_seconds else None
    for it in items:
        t = time.perf_counter()
        fn(it)
        out.append(time.perf_counter() - t)
        if deadline is not None and not deadline:
            break
    return out


def time_calls(
    fn: Callable[[Any], Any], items: Iterable[Any], *, max_seconds: float | None = None
) -> tuple[list[float], list[float]]:
    """Like :func:`time_each`, also returning each call's process CPU seconds.

    On a shared machine wall time includes waiting for a core; CPU time does not, so a
    single-threaded call's CPU time is close to what it would take on an idle machine.
    """
    wall: list[float] = []
    cpu: list[float] = []
    deadline = Deadline(max_seconds) if max_seconds else None
    for it in items:
        c, t = time.process_time(), time.perf_counter()
        fn(it)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if deadline is not None and not deadline:
            break
    return wall, cpu


_STATUS_KEYS = {
    "VmRSS": "rss_mb",
    "VmHWM": "peak_rss_mb",
    "RssAnon": "anon_mb",
    "RssFile": "file_mb",
}


def rss_mb() -> dict[str, float]:
    """Resident set size now, its peak, and its anonymous / file-backed parts, in MiB.

    Read from /proc/self/status (``VmRSS``, ``VmHWM``, ``RssAnon``, ``RssFile``). File-backed
    pages (LMDB, memory-mapped indexes) are shared by every process that opens the same world.
    """
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in _STATUS_KEYS:
                    out[_STATUS_KEYS[key]] = round(int(val.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


def _versions() -> dict[str, str]:
    """Versions of the packages the figures depend on (installed distributions, no imports)."""
    from importlib.metadata import PackageNotFoundError, version

    vers = {"python": platform.python_version()}
    for dist in (
        "numpy",
        "faiss-cpu",
        "lmdb",
        "bm25s",
        "numba",
        "zstandard",
        "torch",
        "sentence-transformers",
    ):
        try:
            vers[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return vers


def machine_info() -> dict[str, Any]:
    """CPU count, model, load average and git revision: the context every figure needs."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "git": rev,
        "versions": _versions(),
    }


def fmt(v: Any) -> str:
    """Compact number formatting for tables."""
    if isinstance(v, float):
        if v != v:  # NaN
            return "-"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        if abs(v) >= 0.1:
            return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
        return f"{v:.3g}"
    return "-" if v is None else str(v)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table (``|``-separated) of ``rows`` restricted to ``columns``."""
    cells = [[str(c) for c in columns]] + [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in cells
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` (with machine info) atomically; returns its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    payload = {"benchmark": name, "machine": machine_info(), **data}
    tmp.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


def _jsonable(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def pyplot():  # type: ignore[no-untyped-def]
    """``matplotlib.pyplot`` with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_latency(
    name: str, panels: dict[str, dict[str, Sequence[float]]], *, title: str = "", log: bool = True
) -> Path:
    """One PNG with a panel per group: box plots of latency samples (seconds in, milliseconds shown).

    Args:
        name: file stem under ``benchmarks/results/``.
        panels: ``{panel title: {series label: samples in seconds}}``.
        title: figure title.
        log: log-scale latency axis.
    """
    plt = pyplot()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    n = max(1, len(panels))
    heights = [0.9 + 0.24 * max(1, len(s)) for s in panels.values()] or [1.0]
    fig, axes = plt.subplots(
        n,
        1,
        figsize=(10, 0.8 + sum(heights)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, (ptitle, series) in zip(axes[:, 0], panels.items(), strict=False):
        labels = [k for k, v in series.items() if len(v)]
        data = [np.asarray(series[k], dtype=np.float64) * 1e3 for k in labels]
        if data:
            ax.boxplot(
                data,
                vert=False,
                whis=(1, 99),
                showfliers=True,
                flierprops={"markersize": 2, "alpha": 0.4},
            )
            ax.set_yticks(range(1, len(labels) + 1), labels, fontsize=8)
            for i, d in enumerate(data, 1):
                ax.annotate(
                    f"p50 {np.median(d):.3g} ms", (np.median(d), i + 0.3), fontsize=7, ha="center"
                )
        if log:
            ax.set_xscale("log")
        ax.set_xlabel("latency (ms), whiskers p1–p99")
        ax.set_title(ptitle, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, name, title)


def _save(fig, name: str, title: str) -> Path:  # type: ignore[no-untyped-def]
    """Title, lay out and write ``results/<name>.png``; close the figure."""
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = RESULTS_DIR / f"{name}.png"
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def plot_bars(
    name: str,
    groups: dict[str, dict[str, float]],
    *,
    title: str = "",
    ylabel: str = "",
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Grouped bar chart: ``groups = {group label: {series label: value}}`` (series share colours across groups)."""
    return plot_bar_panels(
        name, {title: groups}, ylabels={title: ylabel}, ylims={title: ylim} if ylim else None
    )


def plot_bar_panels(
    name: str,
    panels: dict[str, dict[str, dict[str, float]]],
    *,
    title: str = "",
    ylabels: dict[str, str] | None = None,
    ylims: dict[str, tuple[float, float]] | None = None,
    log: dict[str, bool] | None = None,
) -> Path:
    """One PNG with a grouped bar chart per panel: ``{panel title: {group: {series: value}}}``."""
    plt = pyplot()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    n = max(1, len(panels))
    width = max(6.0, max((1.6 * len(g) + 2 for g in panels.values()), default=6.0))
    fig, axes = plt.subplots(1, n, figsize=(min(18.0, width * n * 0.75 + 1), 4.2), squeeze=False)
    for ax, (ptitle, groups) in zip(axes[0], panels.items(), strict=False):
        glabels = list(groups)
        slabels = list(dict.fromkeys(s for g in groups.values() for s in g))
        x = np.arange(len(glabels))
        w = 0.8 / max(1, len(slabels))
        for j, s in enumerate(slabels):
            vals = [groups[g].get(s, np.nan) for g in glabels]
            bars = ax.bar(x + (j - (len(slabels) - 1) / 2) * w, vals, w, label=s)
            ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=1)
        ax.set_xticks(x, glabels, fontsize=8)
        if ylims and ptitle in ylims:
            ax.set_ylim(*ylims[ptitle])
        if log and log.get(ptitle):
            ax.set_yscale("log")
        ax.set_ylabel((ylabels or {}).get(ptitle, ""))
        ax.set_title(ptitle, fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    return _save(fig, name, title)
