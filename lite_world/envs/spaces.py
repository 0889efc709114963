"""A text space for natural-language observations and actions.

``gymnasium.spaces.Text`` accepts only characters of its charset (alphanumerics by default);
search results and model turns contain any Unicode. :class:`AnyText` keeps ``Text``'s
length bounds and sampling but accepts every ``str`` within them.

Example:
    >>> s = AnyText(max_length=20)
    >>> "Größe: 5 km — «ok»" in s, 42 in s, "x" * 21 in s
    (True, False, False)
"""

from __future__ import annotations

from typing import Any

from gymnasium.spaces import Text

__all__ = ["AnyText"]


class AnyText(Text):
    """Any string of ``min_length`` to ``max_length`` characters."""

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"
