"""Answer normalisation and the string metrics built on it (EM, token F1, cover EM).

Normalisation follows the SQuAD evaluation script, which is also the exact-match
fallback of the LiteResearcher training reward: lowercase, drop punctuation, drop
the articles *a*, *an*, *the*, and collapse whitespace.

Every metric takes one prediction and one or more reference answers (aliases) and
returns the best score over the aliases, as a float in ``[0, 1]``.

Example:
    >>> from lite_world.reward.normalize import exact_match, f1_score
    >>> exact_match("The Eiffel Tower!", ["Eiffel Tower", "Tour Eiffel"])
    1.0
    >>> round(f1_score("Eiffel Tower in Paris", "Eiffel Tower"), 4)
    0.6667
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

__all__ = [
    "Answers",
    "answer_aliases",
    "normalize_answer",
    "exact_match",
    "f1_score",
    "cover_exact_match",
]

Answers = str | Sequence[str]
"""One reference answer, or several aliases of it."""

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)
# Single-token answers that F1 must not give partial credit to (SQuAD 2.0 / HotpotQA rule).
_SPECIAL = frozenset({"yes", "no", "noanswer"})


def answer_aliases(answers: Answers) -> list[str]:
    """Return the reference answers as a list of strings.

    A single string is one alias; any other sequence is a list of aliases (non-string
    items, such as years stored as ints, are converted with :func:`str`).

    Example:
        >>> answer_aliases("Paris")
        ['Paris']
        >>> answer_aliases(["1984", 1984])
        ['1984', '1984']
    """
    if isinstance(answers, str):
        return [answers]
    return [a if isinstance(a, str) else str(a) for a in answers]


def normalize_answer(s: str | None) -> str:
    """Lowercase, remove punctuation and articles, and collapse whitespace.

    Args:
        s: The raw answer text (``None`` is treated as the empty string).

    Returns:
        The normalised text.

    Example:
        >>> normalize_answer("  The  Quick, brown fox!! ")
        'quick brown fox'
        >>> normalize_answer("An apple a day")
        'apple day'
        >>> normalize_answer("Don't")
        'dont'
    """
    if not s:
        return ""
    text = s.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str | None, answers: Answers) -> float:
    """Return 1.0 if the normalised prediction equals any normalised alias, else 0.0.

    Args:
        prediction: The predicted answer (``None`` scores 0).
        answers: One reference answer or a sequence of aliases.

    Example:
        >>> exact_match("the Beatles", "Beatles")
        1.0
        >>> exact_match("Beatles", ["The Rolling Stones", "beatles."])
        1.0
        >>> exact_match("Beatle", "Beatles")
        0.0
        >>> exact_match(None, "x"), exact_match("x", [])
        (0.0, 0.0)
    """
    pred = normalize_answer(prediction)
    if not pred:
        return 0.0
    return float(any(pred == normalize_answer(a) for a in answer_aliases(answers)))


def _f1_single(pred: str, gold: str) -> float:
    if pred in _SPECIAL or gold in _SPECIAL:
        return float(pred == gold)
    pred_tokens, gold_tokens = pred.split(), gold.split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str | None, answers: Answers) -> float:
    """Return the SQuAD token-level F1 between prediction and the best alias.

    Tokens are the whitespace-separated words of the normalised texts. If either side
    normalises to ``yes``, ``no`` or ``noanswer``, the score is 1.0 only when both are
    identical and 0.0 otherwise (no partial credit for "no" against "no way").

    Example:
        >>> f1_score("Barack Obama", "Obama")
        0.6666666666666666
        >>> f1_score("the president Barack Obama", ["Obama", "Barack Obama"])
        0.8
        >>> f1_score("no", "no way"), f1_score("Yes.", "yes")
        (0.0, 1.0)
        >>> f1_score("", "Obama")
        0.0
    """
    pred = normalize_answer(prediction)
    if not pred:
        return 0.0
    scores = [_f1_single(pred, normalize_answer(a)) for a in answer_aliases(answers)]
    return max(scores, default=0.0)


def cover_exact_match(prediction: str | None, answers: Answers) -> float:
    """Return 1.0 if a normalised alias appears as a whole-token span of the prediction.

    This is the lenient "cover EM" (also called *substring EM*) used to score verbose
    answers: the alias ``"obama"`` covers ``"barack obama"`` but not ``"obamacare"``.
    Aliases that normalise to the empty string never match.

    Example:
        >>> cover_exact_match("It was Barack Obama, in 2009.", "Obama")
        1.0
        >>> cover_exact_match("Obamacare", "Obama")
        0.0
        >>> cover_exact_match("the new york times", ["New York", "NYC"])
        1.0
    """
    pred_tokens = normalize_answer(prediction).split()
    if not pred_tokens:
        return 0.0
    for alias in answer_aliases(answers):
        alias_tokens = normalize_answer(alias).split()
        n = len(alias_tokens)
        if n == 0 or n > len(pred_tokens):
            continue
        if any(pred_tokens[i : i + n] == alias_tokens for i in range(len(pred_tokens) - n + 1)):
            return 1.0
    return 0.0
