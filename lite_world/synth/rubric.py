"""Step 2, filter: rule pre-filters, then the seven-condition LLM rubric.

The rules (:mod:`lite_world.synth.rules`) run first and need no LLM (``rules_only=True`` stops
there). The rubric asks the LLM to reason per condition and end with ``\\boxed{true}`` or
``\\boxed{false}``; the *last* boxed value decides. A reply without one is dropped as
``rubric_unparsed`` (bad model output never passes silently), a failed request as
``llm_error``.

Example:
    >>> boxed_verdict("1. independence: pass ... \\\\boxed{false} oh wait \\\\boxed{true}")
    True
    >>> boxed_verdict("I think it is fine") is None
    True
    >>> kept, rep = filter_tasks([{"question": "Why is the sky blue?", "answers": ["Rayleigh"]},
    ...     {"question": "In which year did the B bridge open?", "answers": ["1937"]}],
    ...     rules_only=True)
    >>> [t["answers"][0] for t in kept], dict(rep.dropped)
    (['1937'], {'rule:open_ended': 1})
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lite_world.llm.client import LLMClient
from lite_world.synth.prompts import rubric_messages
from lite_world.synth.records import StepReport
from lite_world.synth.rules import answers_of, rule_reasons

__all__ = ["boxed_verdict", "filter_tasks"]

_BOXED = re.compile(r"\\?boxed\s*\{\s*(true|false|yes|no|pass|fail)\s*\}", re.I)


def boxed_verdict(text: str) -> bool | None:
    """The last ``\\boxed{true|false}`` in ``text`` (``yes``/``pass``: true), else ``None``."""
    found = _BOXED.findall(text or "")
    if not found:
        return None
    return found[-1].lower() in ("true", "yes", "pass")


def filter_tasks(
    tasks: Sequence[Mapping[str, Any]],
    client: LLMClient | None = None,
    *,
    rules_only: bool = False,
    max_tokens: int = 320,
    report: StepReport | None = None,
) -> tuple[list[dict[str, Any]], StepReport]:
    """Tasks passing every rule (and, unless ``rules_only``, the LLM rubric)."""
    report = report or StepReport("filter")
    report.n_in += len(tasks)
    survivors = []
    for t in tasks:
        reasons = rule_reasons(t)
        if reasons:
            report.drop(f"rule:{reasons[0]}")
            for r in reasons:
                report.extra.setdefault("rules_broken", {}).setdefault(r, 0)
                report.extra["rules_broken"][r] += 1
            continue
        survivors.append(dict(t))
    if rules_only or not survivors:
        report.keep(len(survivors))
        return survivors, report
    if client is None:
        from lite_world.errors import ConfigError

        raise ConfigError(
            "Expects an LLM client for the rubric, actual: None. Pass rules_only=True to skip it."
        )
    convs = [
        rubric_messages(
            t["question"], answers_of(t)[0], str((t.get("meta") or {}).get("evidence") or "")
        )
        for t in survivors
    ]
    replies = client.chat(convs, max_tokens=max_tokens, desc="rubric")
    kept = []
    for t, rep in zip(survivors, replies, strict=True):
        if rep.error:
            report.drop("llm_error")
            continue
        verdict = boxed_verdict(rep.text)
        if verdict is None:
            report.drop("rubric_unparsed")
            continue
        if not verdict:
            report.drop("rubric_false")
            continue
        meta = dict(t.get("meta") or {})
        meta["rubric"] = {"model": client.model, "verdict": True}
        t["meta"] = meta
        kept.append(t)
        report.keep()
    report.llm = client.usage.to_dict()
    return kept, report
