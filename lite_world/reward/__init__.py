"""Rewards: answer normalisation, EM/F1, reward-hacking guards and the LLM judge.

Everything here is a pure function of an answer and its references (the judge only
adds an HTTP call and a cache); nothing depends on environment state.

Example:
    >>> from lite_world.reward import compute_reward
    >>> compute_reward("<answer>paris</answer>", ["Paris"], extract=True).reward
    1.0
"""

from __future__ import annotations

from lite_world.reward.extract import extract_answer
from lite_world.reward.guards import GUARD_REASONS, check_answer
from lite_world.reward.judge import JudgeConfig, JudgeResult, LLMJudge
from lite_world.reward.normalize import (
    answer_aliases,
    cover_exact_match,
    exact_match,
    f1_score,
    normalize_answer,
)
from lite_world.reward.prompt import judge_messages, parse_verdict
from lite_world.reward.score import REWARD_KINDS, RewardResult, agreement, compute_reward

__all__ = [
    "GUARD_REASONS",
    "REWARD_KINDS",
    "JudgeConfig",
    "JudgeResult",
    "LLMJudge",
    "RewardResult",
    "agreement",
    "answer_aliases",
    "judge_messages",
    "check_answer",
    "compute_reward",
    "cover_exact_match",
    "exact_match",
    "extract_answer",
    "f1_score",
    "normalize_answer",
    "parse_verdict",
]
