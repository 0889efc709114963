"""Reward-hacking guards, applied to a final answer before any metric or judge.

A policy trained against a lenient judge learns cheap tricks: answering with a
paragraph that mentions every candidate, hedging ("cannot be determined"), or listing
alternatives ("Paris or London"). :func:`check_answer` rejects these with a short
reason code, and the reward is then 0 whatever the judge would have said.

The rules are deliberately conservative, so a genuine answer is rarely rejected:

* ``"no_answer"``: no answer, or one that normalises to nothing (``"..."``).
* ``"too_long"``: more than ``max_chars`` characters after stripping (a hard cap).
* An answer that exactly matches a reference (after normalisation) passes the rules
  below, so a reference such as ``"Unknown"`` or ``"red, green, blue"`` is accepted.
* ``"hedge"``: the whole normalised answer is a non-answer (``"unknown"``,
  ``"not sure"``, ``"no answer"`` ...), or it contains an unambiguous multi-word hedge
  (``"cannot be determined"``, ``"insufficient information"``, ``"i dont know"`` ...).
  Single words are matched only as the whole answer, so *Unknown Pleasures* passes.
* ``"multiple_candidates"``: the word *or* joins two alternatives (``"Paris or
  London"``, ``"either X or Y"``) unless some reference itself contains *or*; or the
  answer has three or more items separated by ``,`` ``;`` or ``/`` unless some
  reference itself contains such a separator. A separator between two digits
  (``1,000,000`` or ``12/05/2020``) does not split. Known limitation: a place written
  with qualifiers (``"Springfield, Illinois, USA"``) counts as three items when the
  references have no commas.

Example:
    >>> from lite_world.reward.guards import check_answer
    >>> check_answer("Paris") is None
    True
    >>> check_answer("Paris or London")
    'multiple_candidates'
"""

from __future__ import annotations

import re

from lite_world.config import check_int
from lite_world.reward.normalize import Answers, answer_aliases, normalize_answer

__all__ = [
    "NO_ANSWER",
    "TOO_LONG",
    "HEDGE",
    "MULTIPLE_CANDIDATES",
    "GUARD_REASONS",
    "check_answer",
    "is_hedge",
    "is_multiple_candidates",
]

NO_ANSWER = "no_answer"
TOO_LONG = "too_long"
HEDGE = "hedge"
MULTIPLE_CANDIDATES = "multiple_candidates"
GUARD_REASONS = (NO_ANSWER, TOO_LONG, HEDGE, MULTIPLE_CANDIDATES)
"""Every reason code :func:`check_answer` can return."""

# Matched only against the whole normalised answer (they can be part of real names).
_WHOLE_HEDGES = frozenset(
    {
        "unknown",
        "unclear",
        "uncertain",
        "undetermined",
        "indeterminate",
        "unanswerable",
        "unsure",
        "not sure",
        "no answer",
        "no idea",
        "idk",
        "dunno",
        "not known",
        "not found",
        "none found",
        "not available",
        "not applicable",
        "no information",
        "no data",
        "not specified",
        "not mentioned",
        "not stated",
        "cannot say",
        "cant say",
        "answer unknown",
        "unknown answer",
        "no answer found",
        "no answer available",
    }
)
# Matched anywhere in the normalised answer, on word boundaries.
_HEDGE_PHRASES = (
    "cannot be determined",
    "can not be determined",
    "cant be determined",
    "could not be determined",
    "cannot determine",
    "cant determine",
    "could not determine",
    "couldnt determine",
    "unable to determine",
    "impossible to determine",
    "not possible to determine",
    "unable to find",
    "unable to answer",
    "unable to identify",
    "unable to verify",
    "unable to confirm",
    "cannot be found",
    "could not find",
    "couldnt find",
    "cannot find",
    "cannot answer",
    "cannot be answered",
    "cannot be confirmed",
    "could not be confirmed",
    "cannot be verified",
    "could not be verified",
    "cannot confirm",
    "not enough information",
    "insufficient information",
    "insufficient data",
    "i dont know",
    "i do not know",
    "im not sure",
    "i am not sure",
    "no definitive answer",
    "answer is unknown",
    "remains unknown",
)
# , ; / split items unless they sit between two digits (1,000,000 and 12/05/2020 stay whole).
_LIST_SEPARATOR = re.compile(r"(?<!\d)[,;/]|[,;/](?!\d)")


def is_hedge(prediction: str) -> bool:
    """Return True if the answer declines to answer.

    Example:
        >>> is_hedge("Unknown."), is_hedge("Unknown Pleasures")
        (True, False)
        >>> is_hedge("The answer cannot be determined from the sources")
        True
        >>> is_hedge("I don't know")
        True
    """
    norm = normalize_answer(prediction)
    if norm in _WHOLE_HEDGES:
        return True
    padded = f" {norm} "
    return any(f" {phrase} " in padded for phrase in _HEDGE_PHRASES)


def _list_items(text: str) -> list[str]:
    return [part for part in _LIST_SEPARATOR.split(text) if normalize_answer(part)]


def _has_or(text: str) -> bool:
    tokens = normalize_answer(text).split()
    return any(tok == "or" and 0 < i < len(tokens) - 1 for i, tok in enumerate(tokens))


def is_multiple_candidates(prediction: str, references: Answers | None = None) -> bool:
    """Return True if the answer lists several candidates instead of committing to one.

    Args:
        prediction: The final answer.
        references: Optional reference aliases. A rule is skipped when a reference has
            the same shape (contains *or*, or a list separator), so a genuine list or
            *or*-title answer is not rejected.

    Example:
        >>> is_multiple_candidates("Either Paris or London")
        True
        >>> is_multiple_candidates("Paris, London, Rome")
        True
        >>> is_multiple_candidates("Paris, London, Rome", ["Rome, Paris, London"])
        False
        >>> is_multiple_candidates("War or Peace", ["Love or Money"])
        False
        >>> is_multiple_candidates("1,000,000"), is_multiple_candidates("AC/DC")
        (False, False)
    """
    aliases = answer_aliases(references) if references is not None else []
    if _has_or(prediction) and not any(_has_or(a) for a in aliases):
        return True
    if len(_list_items(prediction)) >= 3 and not any(len(_list_items(a)) >= 2 for a in aliases):
        return True
    return False


def check_answer(
    prediction: str | None,
    max_chars: int = 200,
    references: Answers | None = None,
) -> str | None:
    """Return why an answer must get zero reward, or ``None`` if it may be scored.

    Args:
        prediction: The extracted final answer (``None`` when the agent gave none).
        max_chars: Hard cap on the stripped answer length.
        references: Optional reference aliases; an answer equal to one of them (after
            normalisation) skips the hedge and multiple-candidate rules.

    Returns:
        One of :data:`GUARD_REASONS`, or ``None``.

    Raises:
        ConfigError: If ``max_chars`` is not a positive int.

    Example:
        >>> check_answer(None), check_answer("  ")
        ('no_answer', 'no_answer')
        >>> check_answer("x" * 201)
        'too_long'
        >>> check_answer("It cannot be determined")
        'hedge'
        >>> check_answer("Unknown", references=["unknown"]) is None
        True
        >>> check_answer("red; green; blue")
        'multiple_candidates'
        >>> check_answer("red; green; blue", references="red, green, blue") is None
        True
    """
    check_int("max_chars", max_chars, low=1)
    if prediction is None or not normalize_answer(prediction):
        return NO_ANSWER
    if len(prediction.strip()) > max_chars:
        return TOO_LONG
    if references is not None:
        norm = normalize_answer(prediction)
        if any(norm == normalize_answer(a) for a in answer_aliases(references)):
            return None
    if is_hedge(prediction):
        return HEDGE
    if is_multiple_candidates(prediction, references):
        return MULTIPLE_CANDIDATES
    return None
