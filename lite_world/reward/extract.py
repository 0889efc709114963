"""Pull the final answer out of an agent's full response.

The agent ends its trajectory with ``<answer>...</answer>``. Only the last complete
block counts, so an answer drafted early in the reasoning and revised later scores the
revision. Tags are matched case-insensitively.

Example:
    >>> from lite_world.reward.extract import extract_answer
    >>> extract_answer("<think>maybe Rome</think><answer> Paris </answer>")
    'Paris'
"""

from __future__ import annotations

import re

__all__ = ["extract_answer"]

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)


def extract_answer(text: str | None) -> str | None:
    """Return the stripped content of the last ``<answer>...</answer>`` block.

    Args:
        text: The full model response.

    Returns:
        The answer text, ``""`` for an empty block, or ``None`` when the response has no
        complete answer block.

    Example:
        >>> extract_answer("<answer>A</answer> on reflection <ANSWER>\\n B \\n</Answer>")
        'B'
        >>> extract_answer("<answer>unterminated") is None
        True
        >>> extract_answer("<answer></answer>")
        ''
        >>> extract_answer(None) is None
        True
    """
    if not text:
        return None
    matches = _ANSWER.findall(text)
    if not matches:
        return None
    return matches[-1].strip()
