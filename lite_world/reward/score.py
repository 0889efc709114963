"""The episode reward: extract, guard, then score by EM, F1 or the LLM judge.

:func:`compute_reward` is what environments and trainers call. It always computes EM
and F1 alongside the chosen reward, so a run can report how often the judge and exact
match agree (:func:`agreement`).

Example:
    >>> from lite_world.reward.score import compute_reward
    >>> r = compute_reward("<answer>The Beatles</answer>", ["Beatles"], extract=True)
    >>> r.reward, r.em, r.f1, r.source, r.prediction
    (1.0, 1.0, 1.0, 'em', 'The Beatles')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lite_world.errors import ConfigError
from lite_world.reward.extract import extract_answer
from lite_world.reward.guards import check_answer
from lite_world.reward.judge import LLMJudge
from lite_world.reward.normalize import Answers, answer_aliases, exact_match, f1_score

__all__ = ["REWARD_KINDS", "RewardResult", "compute_reward", "agreement"]

REWARD_KINDS = ("em", "f1", "judge")
"""The accepted values of ``kind`` in :func:`compute_reward`."""


@dataclass(frozen=True)
class RewardResult:
    """The reward of one answer, with the metrics behind it.

    Attributes:
        reward: The reward in ``[0, 1]``.
        em: Normalised exact match of the prediction (computed even when guarded).
        f1: Token F1 of the prediction (computed even when guarded).
        judged: The LLM judge's verdict; ``None`` when no judge verdict was obtained
            (``kind`` is not ``"judge"``, the answer was guarded, or the judge failed).
        source: What decided the reward: ``"em"``, ``"f1"``, ``"judge"``, ``"cache"``,
            ``"em_fallback"`` or ``"guard"``.
        reason: A guard code or judge failure code, else ``None``.
        prediction: The answer that was scored (after extraction), or ``None``.
    """

    reward: float
    em: float
    f1: float
    judged: bool | None
    source: str
    reason: str | None
    prediction: str | None


def compute_reward(
    response_or_answer: str | None,
    answers: Answers,
    *,
    question: str = "",
    kind: str = "em",
    judge: LLMJudge | None = None,
    max_answer_chars: int = 200,
    extract: bool = False,
) -> RewardResult:
    """Score one answer against its reference answers.

    Args:
        response_or_answer: The final answer, or the full response when ``extract``.
        answers: One reference answer or its aliases.
        question: The question (needed by the judge).
        kind: ``"em"`` (exact match), ``"f1"`` (token F1) or ``"judge"`` (binary LLM
            verdict, falling back to exact match when the judge fails).
        judge: The :class:`~lite_world.reward.judge.LLMJudge`; required for ``"judge"``.
        max_answer_chars: Length cap of the reward-hacking guards.
        extract: Take the last ``<answer>...</answer>`` block of the response first.

    Returns:
        A :class:`RewardResult`; an answer rejected by
        :func:`~lite_world.reward.guards.check_answer` gets reward 0 and source ``"guard"``.

    Raises:
        ConfigError: If ``kind`` is unknown, or ``kind="judge"`` without a judge.

    Example:
        >>> compute_reward("Barack Obama", "Obama", kind="f1").reward
        0.6666666666666666
        >>> r = compute_reward("Paris or Lyon", "Paris")
        >>> r.reward, r.source, r.reason
        (0.0, 'guard', 'multiple_candidates')
        >>> compute_reward("no tags here", "x", extract=True).reason
        'no_answer'
        >>> compute_reward("x", "x", kind="bleu")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects kind in ('em', 'f1', 'judge'), actual: 'bleu'. ...
    """
    if kind not in REWARD_KINDS:
        raise ConfigError(f"Expects kind in {REWARD_KINDS}, actual: {kind!r}. Pick one of them.")
    if kind == "judge" and judge is None:
        raise ConfigError(
            "Expects an LLMJudge when kind='judge', actual: judge=None. "
            "Pass judge=LLMJudge(JudgeConfig(base_url=..., model=...)) or use kind='em'."
        )
    prediction = extract_answer(response_or_answer) if extract else response_or_answer
    if prediction is not None:
        prediction = prediction.strip()
    aliases = answer_aliases(answers)
    em = exact_match(prediction, aliases)
    f1 = f1_score(prediction, aliases)
    reason = check_answer(prediction, max_answer_chars, references=aliases)
    if reason is not None:
        return RewardResult(0.0, em, f1, None, "guard", reason, prediction)
    if kind == "em":
        return RewardResult(em, em, f1, None, "em", None, prediction)
    if kind == "f1":
        return RewardResult(f1, em, f1, None, "f1", None, prediction)
    assert judge is not None
    result = judge.judge(question, aliases, prediction, guard=False)
    judged = result.correct if result.source in ("judge", "cache") else None
    reward = 1.0 if result.correct else 0.0
    return RewardResult(reward, em, f1, judged, result.source, result.reason, prediction)


def agreement(results: Sequence[RewardResult]) -> dict[str, float | int | None]:
    """Summarise how often the judge verdict equals ``em > 0``.

    Only results with a judge verdict (``judged`` not ``None``) count.

    Returns:
        ``n`` (results counted), ``agree``, ``agreement`` (``agree / n``, ``None`` when
        ``n`` is 0), ``judge_only`` (judge correct, EM 0) and ``em_only`` (EM 1, judge
        incorrect).

    Example:
        >>> rs = [RewardResult(1.0, 0.0, 0.5, True, "judge", None, "NYC"),
        ...       RewardResult(1.0, 1.0, 1.0, True, "cache", None, "Paris"),
        ...       RewardResult(0.0, 0.0, 0.0, None, "guard", "hedge", "unknown")]
        >>> agreement(rs)
        {'n': 2, 'agree': 1, 'agreement': 0.5, 'judge_only': 1, 'em_only': 0}
    """
    n = agree = judge_only = em_only = 0
    for r in results:
        if r.judged is None:
            continue
        n += 1
        em_correct = r.em > 0
        if r.judged == em_correct:
            agree += 1
        elif r.judged:
            judge_only += 1
        else:
            em_only += 1
    return {
        "n": n,
        "agree": agree,
        "agreement": agree / n if n else None,
        "judge_only": judge_only,
        "em_only": em_only,
    }
