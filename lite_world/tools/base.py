"""What every tool returns: the text an agent reads and the structured data a program reads.

Example:
    >>> ToolResult("hello", {"n": 1}).text
    'hello'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolResult"]


@dataclass(frozen=True)
class ToolResult:
    """Output of a tool call.

    Attributes:
        text: rendered for the agent (the observation).
        data: structured results for programs (JSON-serialisable).
        error: a short error code when the call failed (the text still explains it).
    """

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
