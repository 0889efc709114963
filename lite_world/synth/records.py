"""JSONL records in and out of every synthesis step, and the per-step report.

Every step reads records, writes records, and writes ``OUT.report.json`` (and
``OUT.report.png``): counts in, kept, dropped by reason, flagged by reason, LLM usage and
seconds. Drops are never silent.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> write_jsonl(out, [{"a": 1}, {"a": 2}])
    2
    >>> [r["a"] for r in read_jsonl(out)]
    [1, 2]
    >>> rep = StepReport("filter", n_in=3)
    >>> rep.drop("yes_no"); rep.keep(); rep.keep()
    >>> rep.to_dict()["dropped"], rep.kept
    ({'yes_no': 1}, 2)
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lite_world.errors import TaskError

__all__ = ["read_jsonl", "write_jsonl", "StepReport", "report_path"]

logger = logging.getLogger(__name__)


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a JSONL file (blank lines skipped).

    Raises:
        TaskError: the file is missing or a line is not a JSON object.
    """
    p = Path(path)
    if not p.is_file():
        raise TaskError(f"Expects a JSONL file at {p}, actual: it does not exist")
    with open(p, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskError(
                    f"Expects one JSON object per line in {p}, actual: line {lineno}: {exc}"
                ) from exc
            if not isinstance(row, dict):
                raise TaskError(
                    f"Expects a JSON object on line {lineno} of {p}, actual: {type(row).__name__}"
                )
            yield row


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` atomically (temp file + rename); return how many were written."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(dict(r), ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, p)
    return n


def report_path(out: str | os.PathLike[str], suffix: str = ".report.json") -> Path:
    """``OUT.report.json`` next to the step's output (``x.jsonl`` → ``x.report.json``)."""
    p = Path(out)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + suffix)


@dataclass
class StepReport:
    """Counts of one step: in, kept, dropped and flagged by reason, plus LLM usage."""

    step: str
    n_in: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    extra: dict[str, Any] = field(default_factory=dict)
    llm: dict[str, Any] = field(default_factory=dict)
    t0: float = field(default_factory=time.perf_counter)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def flag(self, reason: str, n: int = 1) -> None:
        self.flagged[reason] += n

    def keep(self, n: int = 1) -> None:
        self.kept += n

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "in": self.n_in,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_total": sum(self.dropped.values()),
            "flagged": dict(sorted(self.flagged.items())),
            **({"llm": self.llm} if self.llm else {}),
            **self.extra,
            "seconds": round(time.perf_counter() - self.t0, 3),
        }

    def write(self, out: str | os.PathLike[str], *, plot: bool = True) -> dict[str, Any]:
        """Write ``OUT.report.json`` (and ``OUT.report.png`` with matplotlib); return the dict."""
        d = self.to_dict()
        rp = report_path(out)
        rp.parent.mkdir(parents=True, exist_ok=True)
        rp.write_text(json.dumps(d, indent=2, ensure_ascii=False))
        if plot:
            try:
                self._plot(report_path(out, ".report.png"))
            except ImportError:
                logger.info("matplotlib not installed: no report plot")
        return d

    def _plot(self, path: Path) -> None:
        from lite_world._lazy import require

        require("matplotlib")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [
            "in",
            "kept",
            *(f"drop:{k}" for k in sorted(self.dropped)),
            *(f"flag:{k}" for k in sorted(self.flagged)),
        ]
        values = [
            self.n_in,
            self.kept,
            *(self.dropped[k] for k in sorted(self.dropped)),
            *(self.flagged[k] for k in sorted(self.flagged)),
        ]
        colors = [
            "grey",
            "tab:green",
            *["tab:red"] * len(self.dropped),
            *["tab:orange"] * len(self.flagged),
        ]
        fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(labels) + 2), 3.2))
        ax.bar(range(len(labels)), values, color=colors)
        ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=8)
        ax.set_title(f"synth {self.step}: {self.kept}/{self.n_in} kept")
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
