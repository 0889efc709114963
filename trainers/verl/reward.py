"""``compute_score`` for verl's ``reward.custom_reward_function``: the env's reward from a transcript.

verl's reward manager calls ``compute_score(data_source=, solution_str=, ground_truth=,
extra_info=, **reward_kwargs)`` with ``solution_str`` = the decoded response (assistant turns
*and* tool responses, special tokens skipped). The episode's answer is read the way
``LiteSearch-v0`` reads it: from the **last assistant turn** (the text after the last
``</tool_response>``), parsed by :func:`lite_world.tools.protocol.parse_action`; a turn that
calls a tool or has no complete ``<answer>`` scores 0 (the env would not have ended the episode
with an answer). The score is :func:`lite_world.reward.compute_reward` with the same guards,
so it equals the env's reward for the same episode.

Config (``lite_search_agent`` rows never reach it: that loop returns the env's reward itself)::

    reward.custom_reward_function.path=pkg://trainers.verl.reward
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.kind=judge        # em (default) | f1 | judge
    +reward.custom_reward_function.reward_kwargs.judge_url=http://judge:8000/v1
    +reward.custom_reward_function.reward_kwargs.judge_model=Qwen3-8B

Example:
    >>> gt = {"target": ["Frank Herbert"]}
    >>> compute_score("lite_world", "<think>known</think><answer>frank herbert</answer>", gt)["score"]
    1.0
    >>> turns = ('<tool_call>{"name": "search", "arguments": {"query": ["Dune"]}}</tool_call>'
    ...          "user\\n<tool_response>\\n<answer>Frank Herbert</answer>\\n</tool_response>\\nassistant\\n"
    ...          "<answer>Isaac Asimov</answer>")
    >>> compute_score("lite_world", turns, gt)
    {'score': 0.0, 'acc': 0.0, 'em': 0.0, 'f1': 0.0, 'answered': 1.0}
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from lite_world.errors import ConfigError
from lite_world.reward import JudgeConfig, LLMJudge, RewardResult, compute_reward
from lite_world.tools.protocol import parse_action

__all__ = ["SCORE_KEYS", "compute_score", "last_turn", "score_dict"]

SCORE_KEYS = ("score", "acc", "em", "f1", "answered")
"""Keys of every score dict (verl stacks them per key across a batch, so they never vary)."""

_RESPONSE_CLOSE = "</tool_response>"
_JUDGES: dict[tuple[Any, ...], LLMJudge] = {}
_JUDGES_LOCK = threading.Lock()


def last_turn(solution_str: str) -> str:
    """The last assistant turn of a decoded multi-turn response.

    Example:
        >>> last_turn("call<tool_response>\\nresult\\n</tool_response>\\nassistant\\n<answer>x</answer>")
        '\\nassistant\\n<answer>x</answer>'
    """
    cut = solution_str.rfind(_RESPONSE_CLOSE)
    return solution_str if cut < 0 else solution_str[cut + len(_RESPONSE_CLOSE) :]


def score_dict(result: RewardResult | None) -> dict[str, float]:
    """The score dict verl logs for one episode; ``None`` (no answer) is all zeros.

    Example:
        >>> score_dict(None)
        {'score': 0.0, 'acc': 0.0, 'em': 0.0, 'f1': 0.0, 'answered': 0.0}
    """
    if result is None:
        return dict.fromkeys(SCORE_KEYS, 0.0)
    reward = float(result.reward)
    return {
        "score": reward,
        "acc": reward,
        "em": float(result.em),
        "f1": float(result.f1),
        "answered": 1.0,
    }


def _answers(ground_truth: Any) -> list[str]:
    target = ground_truth.get("target") if isinstance(ground_truth, Mapping) else ground_truth
    if isinstance(target, str):
        return [target]
    try:
        answers = [str(a) for a in target]  # list, tuple or numpy array (pandas-read Parquet)
    except TypeError:
        answers = []
    if not answers:
        raise ConfigError(
            f"Expects ground_truth as {{'target': [answers...]}}, a list or a string, actual: {ground_truth!r:.200}"
        )
    return answers


def _judge(
    judge_url: str | None,
    judge_model: str | None,
    judge_api_key: str | None,
    judge_timeout_s: float,
    max_answer_chars: int,
) -> LLMJudge:
    if not (judge_url and judge_model):
        raise ConfigError(
            "Expects reward_kwargs judge_url and judge_model with kind='judge', "
            f"actual: judge_url={judge_url!r}, judge_model={judge_model!r}"
        )
    key = (judge_url, judge_model, judge_api_key, float(judge_timeout_s), int(max_answer_chars))
    with _JUDGES_LOCK:  # one judge (and verdict cache) per process and endpoint
        judge = _JUDGES.get(key)
        if judge is None:
            config = JudgeConfig(
                base_url=judge_url,
                model=judge_model,
                timeout_s=float(judge_timeout_s),
                max_answer_chars=int(max_answer_chars),
                **({"api_key": judge_api_key} if judge_api_key else {}),
            )
            judge = _JUDGES[key] = LLMJudge(config)
    return judge


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    kind: str = "em",
    judge_url: str | None = None,
    judge_model: str | None = None,
    judge_api_key: str | None = None,
    judge_timeout_s: float = 30.0,
    max_answer_chars: int = 200,
    **kwargs: Any,
) -> dict[str, float]:
    """Score one decoded response like ``LiteSearch-v0`` scores the episode's answer.

    Args:
        data_source: Unused (every lite-world row is scored the same way).
        solution_str: The decoded response (assistant turns and tool responses).
        ground_truth: ``{"target": [answers...]}`` (as written by :mod:`trainers.verl.data`),
            a list of aliases, or one answer.
        extra_info: The row's ``extra_info``; ``question`` is sent to the judge.
        kind: ``"em"``, ``"f1"``, ``"judge"`` (LLM verdict, exact match when the judge fails) or
            ``"auto"`` (``"judge"`` when ``judge_url`` is given, else ``"em"``).
        judge_url, judge_model, judge_api_key, judge_timeout_s: The judge endpoint (``kind="judge"``).
        max_answer_chars: Length cap of the reward-hacking guards (the env's default is 200).
        **kwargs: Other keywords verl may pass (``reward_router_address``, ...), ignored.

    Returns:
        ``{"score", "acc", "em", "f1", "answered"}`` as floats; ``score`` is the reward.
    """
    if (
        kind == "auto"
    ):  # lite_search_common.yaml's default: the judge only when a judge URL is given
        kind = "judge" if judge_url else "em"
    parsed = parse_action(
        last_turn(solution_str) if isinstance(solution_str, str) else "", "tool_call"
    )
    if parsed.kind != "answer":
        return score_dict(None)
    question = str((extra_info or {}).get("question") or "")
    judge = None
    if kind == "judge":
        judge = _judge(judge_url, judge_model, judge_api_key, judge_timeout_s, max_answer_chars)
    result = compute_reward(
        parsed.answer,
        _answers(ground_truth),
        question=question,
        kind=kind,
        judge=judge,
        max_answer_chars=int(max_answer_chars),
    )
    return score_dict(result)
