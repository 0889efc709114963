"""Task records and loaders.

A task is a dict-like record ``{id, question, answers, mask_urls, capability, difficulty, meta}``:

- ``answers``: every accepted alias of the answer;
- ``mask_urls``: pages the task was *made from*; they are hidden from search and browse for the
  whole episode (source masking), so the agent cannot read the answer off its source page.

MuSiQue questions were not made from single pages: their supporting paragraphs are the
*evidence* a multi-hop agent must find. :func:`load_musique` therefore leaves ``mask_urls``
empty and records the supporting pages in ``meta["supporting_urls"]``; pass
``mask_supporting=True`` to hide them (an ablation: the question then becomes unanswerable
from the world unless other pages carry the facts).

Example:
    >>> t = Task.from_dict({"id": "q1", "question": "Capital of France?", "answers": "Paris"})
    >>> t.answers, t.mask_urls
    (('Paris',), ())
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lite_world._lazy import require
from lite_world.errors import TaskError
from lite_world.store.urls import normalize_url, wikipedia_url

__all__ = ["Task", "load_tasks", "load_musique", "demo_tasks"]


@dataclass(frozen=True)
class Task:
    """One question for the agent."""

    id: str
    question: str
    answers: tuple[str, ...]
    mask_urls: tuple[str, ...] = ()
    capability: str = ""
    difficulty: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Task:
        """Validate and normalise a task dict (``answers`` may be a str or a list; ``answer`` is accepted)."""
        if not isinstance(d, Mapping):
            raise TaskError(f"Expects a task dict, actual: {type(d).__name__}")
        q = d.get("question")
        if not isinstance(q, str) or not q.strip():
            raise TaskError(
                f"Expects a non-empty 'question' string, actual: {q!r} (task {d.get('id')!r})"
            )
        answers = d.get("answers", d.get("answer"))
        if isinstance(answers, str):
            answers = [answers]
        if (
            not isinstance(answers, (list, tuple))
            or not answers
            or not all(isinstance(a, str) for a in answers)
        ):
            raise TaskError(
                f"Expects 'answers' as a non-empty list of strings, actual: {answers!r} (task {d.get('id')!r})"
            )
        masks = d.get("mask_urls") or ()
        if isinstance(masks, str):
            masks = [masks]
        diff = d.get("difficulty")
        return cls(
            id=str(
                d.get("id")
                or "q-" + hashlib.sha1(q.strip().encode("utf-8", "replace")).hexdigest()[:12]
            ),
            question=q.strip(),
            answers=tuple(dict.fromkeys(a.strip() for a in answers if a.strip())),
            mask_urls=tuple(normalize_url(u) for u in masks if isinstance(u, str)),
            capability=str(d.get("capability") or ""),
            difficulty=int(diff) if isinstance(diff, (int, float)) else None,
            meta=dict(d.get("meta") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["answers"], d["mask_urls"], d["meta"] = (
            list(self.answers),
            list(self.mask_urls),
            dict(self.meta),
        )
        return d


def load_musique(path: str | os.PathLike[str], *, mask_supporting: bool = False) -> list[Task]:
    """MuSiQue-format questions → tasks (difficulty = number of hops)."""
    items = json.loads(Path(path).read_text())
    tasks = []
    for it in items:
        supporting = list(
            dict.fromkeys(
                wikipedia_url(p["title"])
                for p in it.get("paragraphs", [])
                if p.get("is_supporting")
            )
        )
        hops = len(it.get("question_decomposition") or []) or None
        tasks.append(
            Task.from_dict(
                {
                    "id": it["id"],
                    "question": it["question"],
                    "answers": [it["answer"], *it.get("answer_aliases", [])],
                    "mask_urls": supporting if mask_supporting else [],
                    "capability": f"{hops}-hop" if hops else "multi-hop",
                    "difficulty": hops,
                    "meta": {"dataset": "musique", "supporting_urls": supporting},
                }
            )
        )
    return tasks


def load_tasks(tasks: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | None) -> list[Task]:
    """Tasks from a JSONL/Parquet/MuSiQue-JSON path, or a list of dicts; ``None`` → the demo tasks."""
    if tasks is None:
        return demo_tasks()
    if isinstance(tasks, (str, os.PathLike)):
        p = Path(tasks)
        if not p.is_file():
            raise TaskError(
                f"Expects a task file (.jsonl, .parquet or MuSiQue .json), actual: {p} does not exist"
            )
        rows: Iterable[Mapping[str, Any]]
        if p.suffix == ".parquet":
            pq = require("pyarrow.parquet", extra="ingest")
            rows = pq.read_table(p).to_pylist()
        elif p.suffix == ".json":
            data = json.loads(p.read_text())
            if data and isinstance(data, list) and "question_decomposition" in data[0]:
                return load_musique(p)
            rows = data
        else:
            with open(p, encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
        out = [Task.from_dict(r) for r in rows]
    elif isinstance(tasks, Sequence):
        out = [t if isinstance(t, Task) else Task.from_dict(t) for t in tasks]  # type: ignore[arg-type]
    else:
        raise TaskError(
            f"Expects a task path or a list of task dicts, actual: {type(tasks).__name__}"
        )
    if not out:
        raise TaskError("Expects at least one task, actual: none")
    ids = [t.id for t in out]
    if len(set(ids)) != len(ids):
        raise TaskError("Expects unique task ids, actual: duplicates")
    return out


def demo_tasks(*, mask_supporting: bool = False) -> list[Task]:
    """The 100 bundled MuSiQue questions."""
    from lite_world.demo import DEMO_DATA

    return load_musique(DEMO_DATA / "musique_train.json", mask_supporting=mask_supporting)
