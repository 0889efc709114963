"""The seven trajectory filters of the LiteResearcher cold-start recipe (arXiv 2604.17931).

Each filter is a pure function of a :class:`~lite_world.sft.trajectory.Trajectory` that
returns ``None`` (keep) or a reason code (drop). Codes start with the rule's id, so reports
group by rule:

====  ===================================  ==========================================================
rule  code                                 drops a trajectory when
====  ===================================  ==========================================================
F1    ``F1_incorrect``                     the final answer is wrong (LLM judge, exact-match fallback)
F1    ``F1_no_answer``                     it never answered
F2    ``F2_repeated_call``                 one tool call (same name and arguments) occurs > 3 times
F3    ``F3_too_few_calls``                 it made fewer than 2 tool calls
F4    ``F4_unknown_tool``                  it called a tool outside the allowed set
F5    ``F5_encoding_artifact``             an assistant turn has U+FFFD, mojibake or control chars
F5    ``F5_boxed``                         an assistant turn uses ``\\boxed{}``
F6    ``F6_tool_errors``                   more than 2 of its turns were tool-call errors
F7    ``F7_call_without_think``            a tool call is not preceded by ``<think>...</think>``
====  ===================================  ==========================================================

Example:
    >>> from lite_world.sft.trajectory import Trajectory
    >>> call = '<think>look</think><tool_call>{"name": "search", "arguments": {"query": ["q"]}}</tool_call>'
    >>> traj = Trajectory.from_episode({"answers": ["Paris"], "messages": [
    ...     {"role": "user", "content": "Capital of France?"},
    ...     {"role": "assistant", "content": call},
    ...     {"role": "user", "content": "<tool_response>\\nr\\n</tool_response>"},
    ...     {"role": "assistant", "content": "<think>done</think><answer>Paris</answer>"}]})
    >>> check_all(traj)
    ['F3_too_few_calls']
    >>> few_tool_calls(traj, min_calls=1) is None
    True
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from lite_world.reward.judge import LLMJudge
from lite_world.reward.score import compute_reward
from lite_world.sft.trajectory import Trajectory

__all__ = [
    "DEFAULT_ALLOWED_TOOLS",
    "FILTERS",
    "RULES",
    "check_all",
    "encoding_artifacts",
    "few_tool_calls",
    "incorrect_answer",
    "repeated_calls",
    "think_before_calls",
    "tool_errors",
    "unknown_tools",
    "text_artifact",
]

DEFAULT_ALLOWED_TOOLS: tuple[str, ...] = ("search", "visit")
RULES: tuple[str, ...] = ("F1", "F2", "F3", "F4", "F5", "F6", "F7")

# Mojibake: UTF-8 bytes decoded as Latin-1/CP-1252 ("Ã©" for "é", "â€™" for "’", "Â " for NBSP).
_MOJIBAKE = re.compile(
    r"Ã[\u0080-\u00bf]|â€[\u0080-\u00bf\u2018-\u203a\u0153\u02dc™]|Â[\u00a0-\u00bf]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BOXED = re.compile(r"\\boxed\s*\{")
# Texts the env (or a tool) returns for a call it could not run.
_ERROR_RESPONSE = re.compile(r"^<tool_response>\s*(Error:|\[(Search|Visit)\] Invalid request)")


def text_artifact(text: str) -> str | None:
    """The kind of encoding artifact in ``text``: ``"replacement_char"``, ``"mojibake"``,
    ``"control_char"``, or ``None`` for clean text.

    Example:
        >>> text_artifact("Caf\\ufffd"), text_artifact("CafÃ© olÃ©"), text_artifact("Café\\n")
        ('replacement_char', 'mojibake', None)
    """
    if "\ufffd" in text:
        return "replacement_char"
    if _MOJIBAKE.search(text):
        return "mojibake"
    if _CONTROL.search(text):
        return "control_char"
    return None


def incorrect_answer(traj: Trajectory, *, judge: LLMJudge | None = None) -> str | None:
    """F1: keep only trajectories whose final answer is correct.

    With a ``judge``, the LLM judge decides (exact match when it fails). Without one, a verdict
    the env recorded from its judge (``reward_info.judged``) is used, else exact match against
    ``answers``. A trajectory with no reference answers cannot be checked and is dropped.

    Example:
        >>> from lite_world.sft.trajectory import Trajectory
        >>> msgs = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "<answer>the Paris</answer>"}]
        >>> incorrect_answer(Trajectory.from_episode({"answers": ["Paris"], "messages": msgs})) is None
        True
        >>> incorrect_answer(Trajectory.from_episode({"answers": ["Lyon"], "messages": msgs}))
        'F1_incorrect'
    """
    answer = traj.final_answer
    if answer is None:
        return "F1_no_answer"
    if not traj.answers:
        return "F1_incorrect"
    if judge is not None:
        res = compute_reward(
            answer, list(traj.answers), question=traj.question, kind="judge", judge=judge
        )
        return None if res.reward >= 1.0 else "F1_incorrect"
    judged = traj.reward_info.get("judged")
    if isinstance(judged, bool):
        return None if judged else "F1_incorrect"
    return None if compute_reward(answer, list(traj.answers)).em >= 1.0 else "F1_incorrect"


def repeated_calls(traj: Trajectory, *, max_repeats: int = 3) -> str | None:
    """F2: drop when one tool call (same name, same arguments) occurs more than ``max_repeats`` times.

    Example:
        >>> from lite_world.sft.trajectory import Trajectory
        >>> call = '<think>t</think><tool_call>{"name": "search", "arguments": {"query": ["q"]}}</tool_call>'
        >>> msgs = [{"role": "user", "content": "Q"}] + [{"role": "assistant", "content": call}] * 4
        >>> repeated_calls(Trajectory.from_episode({"messages": msgs}))
        'F2_repeated_call'
        >>> repeated_calls(Trajectory.from_episode({"messages": msgs[:4]})) is None
        True
    """
    keys = Counter(
        json.dumps([c.name, c.arguments], sort_keys=True, default=str) for c in traj.tool_calls
    )
    return "F2_repeated_call" if keys and max(keys.values()) > max_repeats else None


def few_tool_calls(traj: Trajectory, *, min_calls: int = 2) -> str | None:
    """F3: drop when the trajectory made fewer than ``min_calls`` well-formed tool calls."""
    return "F3_too_few_calls" if len(traj.tool_calls) < min_calls else None


def unknown_tools(
    traj: Trajectory, *, allowed: Sequence[str] = DEFAULT_ALLOWED_TOOLS
) -> str | None:
    """F4: drop when any tool call names a tool outside ``allowed``.

    Example:
        >>> from lite_world.sft.trajectory import Trajectory
        >>> call = '<think>t</think><tool_call>{"name": "python", "arguments": {"code": "1"}}</tool_call>'
        >>> unknown_tools(Trajectory.from_episode({"messages": [{"role": "assistant", "content": call}]}))
        'F4_unknown_tool'
    """
    allowed_set = set(allowed)
    return "F4_unknown_tool" if any(c.name not in allowed_set for c in traj.tool_calls) else None


def encoding_artifacts(traj: Trajectory) -> str | None:
    """F5: drop when an assistant turn has an encoding artifact (see :func:`text_artifact`) or a
    ``\\boxed{}`` answer. Tool responses are not checked: they are not trained on.

    Example:
        >>> from lite_world.sft.trajectory import Trajectory
        >>> boxed = "<think>t</think><answer>\\\\boxed{42}</answer>"
        >>> encoding_artifacts(Trajectory.from_episode({"messages": [{"role": "assistant", "content": boxed}]}))
        'F5_boxed'
    """
    for turn in traj.turns:
        if _BOXED.search(turn.content):
            return "F5_boxed"
        if text_artifact(turn.content):
            return "F5_encoding_artifact"
    return None


def tool_errors(traj: Trajectory, *, max_errors: int = 2) -> str | None:
    """F6: drop when more than ``max_errors`` turns were tool-call errors.

    A turn is an error when the env recorded one for it (``steps[i].error``: malformed call,
    no action, unknown tool, invalid arguments), or, for trajectories without ``steps``, when
    it does not parse as a call or an answer or its tool response is an error message.

    Example:
        >>> from lite_world.sft.trajectory import Trajectory
        >>> bad = [{"role": "assistant", "content": "<tool_call>{oops</tool_call>"},
        ...        {"role": "user", "content": "<tool_response>\\nError: Invalid tool call JSON.\\n</tool_response>"}]
        >>> tool_errors(Trajectory.from_episode({"messages": bad * 3}))
        'F6_tool_errors'
        >>> tool_errors(Trajectory.from_episode({"messages": bad * 2})) is None
        True
    """
    has_steps = bool(traj.episode.get("steps"))
    n = 0
    for turn in traj.turns:
        if has_steps:
            n += turn.error is not None
        else:
            n += turn.kind in ("error", "none") or bool(
                turn.response and _ERROR_RESPONSE.match(turn.response)
            )
    return "F6_tool_errors" if n > max_errors else None


def think_before_calls(traj: Trajectory) -> str | None:
    """F7: drop when a tool call is not preceded by a ``<think>...</think>`` block in its turn.

    Example:
        >>> from lite_world.sft.trajectory import Trajectory
        >>> call = '<tool_call>{"name": "search", "arguments": {"query": ["q"]}}</tool_call>'
        >>> think_before_calls(Trajectory.from_episode({"messages": [{"role": "assistant", "content": call}]}))
        'F7_call_without_think'
    """
    for turn in traj.turns:
        at = turn.content.find("<tool_call>")
        if turn.kind != "tool" or at < 0:
            continue
        head = turn.content[:at]
        opened, closed = head.find("<think>"), head.rfind("</think>")
        if opened < 0 or closed < opened or not head[opened + len("<think>") : closed].strip():
            return "F7_call_without_think"
    return None


FILTERS: dict[str, Callable[..., str | None]] = {
    "F1": incorrect_answer,
    "F2": repeated_calls,
    "F3": few_tool_calls,
    "F4": unknown_tools,
    "F5": encoding_artifacts,
    "F6": tool_errors,
    "F7": think_before_calls,
}
"""The filters by rule id, in the paper's order."""


def check_all(
    traj: Trajectory,
    *,
    rules: Sequence[str] = RULES,
    judge: LLMJudge | None = None,
    max_repeats: int = 3,
    min_calls: int = 2,
    allowed_tools: Sequence[str] = DEFAULT_ALLOWED_TOOLS,
    max_errors: int = 2,
) -> list[str]:
    """Every reason code ``traj`` fails among ``rules`` (empty: keep it), in rule order."""
    kwargs: dict[str, dict[str, Any]] = {
        "F1": {"judge": judge},
        "F2": {"max_repeats": max_repeats},
        "F3": {"min_calls": min_calls},
        "F4": {"allowed": allowed_tools},
        "F6": {"max_errors": max_errors},
    }
    reasons = []
    for rule in rules:
        reason = FILTERS[rule](traj, **kwargs.get(rule, {}))
        if reason is not None:
            reasons.append(reason)
    return reasons
