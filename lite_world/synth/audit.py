"""Step 3, masking and leakage audit: with each task's source pages hidden, is the answer still
reachable, and is it reachable too easily?

For every task the question and its key entities are searched in the world with the task's
``mask_urls`` excluded (exactly what the agent sees with ``mask_sources=True``); every hit page
is read (masked too) and checked for an answer alias. Flags (``meta["audit"]["flags"]``):

- ``unreachable``: no unmasked hit holds an answer alias (the task cannot be solved in this
  world once its source is hidden);
- ``oversimple``: the answer is in the question, or in the first search snippet;
- ``source_mirrored``: an unmasked page repeats the source's evidence sentence verbatim, so
  masking hides nothing (a leak);
- ``mask_broken``: a masked URL came back from search (the world ignores the mask).

Flagged tasks are kept and marked (``drop_flagged=True`` drops them instead); the report
counts every flag.

Example:
    >>> key_entities("Which river flows through the city of New York and Albany?")
    ['New York', 'Albany']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tqdm.auto import tqdm

from lite_world.reward.normalize import normalize_answer
from lite_world.store.urls import normalize_url
from lite_world.synth.extract import answer_in_text
from lite_world.synth.records import StepReport
from lite_world.synth.rules import answers_of

__all__ = ["audit_tasks", "audit_task", "key_entities", "AUDIT_FLAGS"]

AUDIT_FLAGS = ("unreachable", "oversimple", "source_mirrored", "mask_broken")
_CAPS = re.compile(r"\b([A-Z][\w'’.-]*(?:\s+(?:of|the|de|von|van|du|la)?\s*[A-Z][\w'’.-]*)*)")
_STOP_FIRST = {
    "Which",
    "What",
    "Who",
    "When",
    "Where",
    "Whom",
    "Whose",
    "How",
    "In",
    "On",
    "The",
    "A",
    "An",
}


def key_entities(question: str, max_entities: int = 2) -> list[str]:
    """Up to ``max_entities`` capitalised spans of ``question`` (question words dropped)."""
    spans = []
    for m in _CAPS.finditer(question):
        words = m.group(1).split()
        while words and words[0] in _STOP_FIRST:
            words = words[1:]
        span = " ".join(words).strip(" .,?")
        if len(span) >= 3 and span not in spans:
            spans.append(span)
    return spans[:max_entities]


def audit_task(
    task: Mapping[str, Any],
    hits_per_query: Sequence[Sequence[Any]],
    world: Any,
    masks: Sequence[str],
) -> dict[str, Any]:
    """The audit record of one task, given its search hits (question first, then entities)."""
    answers = answers_of(task)
    masked = {normalize_url(u) for u in masks}
    flags: list[str] = []
    evidence_urls: list[str] = []
    checked: set[str] = set()
    returned = [h for hits in hits_per_query for h in hits]
    if any(normalize_url(h.url) in masked for h in returned):
        flags.append("mask_broken")
    evidence = str((task.get("meta") or {}).get("evidence") or "")
    nev = normalize_answer(evidence)
    mirrored = []
    for h in returned:
        if h.url in checked or normalize_url(h.url) in masked:
            continue
        checked.add(h.url)
        page = world.get_page(h.url, exclude=list(masks))
        if page is None:
            continue
        if answer_in_text(answers, page.markdown):
            evidence_urls.append(page.url)
        if len(nev) >= 40 and nev in normalize_answer(page.markdown):
            mirrored.append(page.url)
    if not evidence_urls:
        flags.append("unreachable")
    first = hits_per_query[0][0] if hits_per_query and hits_per_query[0] else None
    if answer_in_text(answers, str(task.get("question", ""))) or (
        first is not None and answer_in_text(answers, first.snippet)
    ):
        flags.append("oversimple")
    if mirrored:
        flags.append("source_mirrored")
    return {
        "flags": flags,
        "reachable": bool(evidence_urls),
        "evidence_urls": evidence_urls[:10],
        "mirror_urls": mirrored[:10],
        "first_hit": first.url if first is not None else None,
        "pages_checked": len(checked),
    }


def audit_tasks(
    tasks: Sequence[Mapping[str, Any]],
    world: Any,
    *,
    k: int = 10,
    drop_flagged: bool = False,
    batch_size: int = 32,
    show_progress: bool = True,
    report: StepReport | None = None,
) -> tuple[list[dict[str, Any]], StepReport]:
    """Audit every task against ``world`` (anything with ``search(queries, k, exclude=)`` and
    ``get_page(url, exclude=)``); returns the tasks with ``meta["audit"]`` and the report."""
    report = report or StepReport("audit")
    report.n_in += len(tasks)
    out: list[dict[str, Any]] = []
    bar = tqdm(total=len(tasks), desc="audit", unit="task", disable=not show_progress)
    for start in range(0, len(tasks), batch_size):
        chunk = tasks[start : start + batch_size]
        for t in chunk:
            masks = list(t.get("mask_urls") or [])
            queries = [str(t["question"])] + key_entities(str(t["question"]))
            hits = world.search(queries, k, exclude=masks)
            audit = audit_task(t, hits, world, masks)
            rec = dict(t)
            rec["meta"] = {**dict(t.get("meta") or {}), "audit": audit}
            for f in audit["flags"]:
                report.flag(f)
            if audit["flags"] and drop_flagged:
                report.drop("flagged:" + audit["flags"][0])
            else:
                out.append(rec)
                report.keep()
            bar.update(1)
    bar.close()
    report.extra["clean"] = sum(1 for t in out if not t["meta"]["audit"]["flags"])
    return out, report
