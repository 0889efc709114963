"""What a tool is: a name, a JSON schema, arguments it checks itself, and errors it renders itself.

A :class:`Tool` subclass declares ``name``, ``description``, a one-line ``summary`` (the bullet
in the system prompt) and ``parameters`` (the JSON Schema of its arguments), and implements
:meth:`Tool.run`. Calling a tool (``tool(arguments, context)``) cleans the arguments
(:func:`lite_world.sanitize.clean_value`), checks them against the schema, runs it, and turns
every failure -- bad arguments, a damaged world, an unreachable service, a bug in a user's
tool -- into a :class:`ToolResult` whose text explains it. A call never raises.

Example:
    >>> class Echo(Tool):
    ...     name, description, summary = "echo", "Repeat a text.", "repeat a text."
    ...     parameters = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    ...     def run(self, arguments, context):
    ...         return ToolResult(arguments["text"])
    >>> Echo()({"text": "hi"}).text
    'hi'
    >>> r = Echo()({"txt": "hi"})
    >>> r.error, r.text
    ('invalid_arguments', "[Echo] Invalid request format: missing required argument 'text' (a string).")
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from lite_world.errors import LiteWorldError, ServiceError, WorldCorruptedError
from lite_world.sanitize import clean_value

if TYPE_CHECKING:  # pragma: no cover
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.worlds import WorldLike

__all__ = ["ToolResult", "CallContext", "Tool", "check_arguments", "TOOL_ERRORS"]

logger = logging.getLogger(__name__)

TOOL_ERRORS = ("invalid_arguments", "not_found", "world_corrupted", "service_error", "tool_error")
"""``ToolResult.error`` codes: the env reports the first one as ``info["error"]`` (``not_found``
is a normal outcome and only recorded in the data)."""

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
}


@dataclass(frozen=True)
class ToolResult:
    """Output of a tool call.

    Attributes:
        text: rendered for the agent (the observation).
        data: structured results for programs (JSON-serialisable).
        error: a short error code (:data:`TOOL_ERRORS`) when the call failed; the text explains it.
    """

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class CallContext:
    """What one call may depend on besides its arguments.

    Attributes:
        exclude: URLs hidden from this call (the task's ``mask_urls``: source masking).
    """

    exclude: frozenset[str] = frozenset()


class Tool(abc.ABC):
    """Base class of every tool (built-in ``search`` and ``visit``, and users' own)."""

    name: ClassVar[str]
    description: ClassVar[str]
    summary: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]

    @classmethod
    def create(cls, world: Callable[[], WorldLike], config: LiteSearchConfig) -> Tool:
        """Build the tool for an env. ``world()`` opens the env's world on first use.

        Tools that need neither take the default: ``cls()``.
        """
        return cls()

    @classmethod
    def label(cls) -> str:
        """``[Name]``: the prefix of this tool's error messages (``[Search]``, ``[Visit]``)."""
        return f"[{cls.name[:1].upper()}{cls.name[1:]}]"

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The OpenAI-style function schema shown to the agent (a fresh dict)."""
        import copy

        return {
            "type": "function",
            "function": {
                "name": cls.name,
                "description": cls.description,
                "parameters": copy.deepcopy(cls.parameters),
            },
        }

    def prepare(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Adjust checked arguments before :meth:`run` (e.g. a string where a list is expected)."""
        return arguments

    @abc.abstractmethod
    def run(self, arguments: dict[str, Any], context: CallContext) -> ToolResult:
        """Run a call whose arguments passed the schema check."""

    def __call__(self, arguments: Any, context: CallContext | None = None) -> ToolResult:
        """Clean, check and run one call; every failure becomes a :class:`ToolResult`."""
        return self.call_cleaned(clean_value(arguments), context)

    def call_cleaned(self, args: Any, context: CallContext | None = None) -> ToolResult:
        """:meth:`__call__` for arguments already passed through :func:`clean_value` (the env)."""
        context = context or CallContext()
        problem = check_arguments(args, self.parameters)
        if problem is not None:
            return ToolResult(
                f"{self.label()} Invalid request format: {problem}.", error="invalid_arguments"
            )
        try:
            return self.run(self.prepare(args), context)
        except WorldCorruptedError as exc:
            logger.error("%s: the world is damaged: %s", self.name, exc)
            return ToolResult(
                f"{self.label()} Error: the world's data could not be read ({exc}).",
                error="world_corrupted",
            )
        except ServiceError as exc:
            return ToolResult(
                f"{self.label()} Error: the service failed ({exc}).", error="service_error"
            )
        except (LiteWorldError, Exception) as exc:  # noqa: BLE001 - a tool's bug is an observation
            logger.exception("tool %r failed", self.name)
            return ToolResult(
                f"{self.label()} Error: {type(exc).__name__}: {str(exc)[:300]}", error="tool_error"
            )


def check_arguments(arguments: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` do not fit an object ``schema`` (required keys, top-level types), or ``None``.

    A string is accepted where an array of strings is expected (agents trained on live tools
    send both); unknown keys are ignored, as the live tools do.

    Example:
        >>> s = {"type": "object", "properties": {"query": {"type": "array", "items": {"type": "string"}}},
        ...      "required": ["query"]}
        >>> check_arguments({"query": "x"}, s) is None, check_arguments({"query": [1]}, s)
        (True, "'query' must be a list of strings, actual: a list holding an integer")
        >>> check_arguments([], s)
        'the arguments must be a JSON object, actual: an empty list'
    """
    if not isinstance(arguments, dict):
        return f"the arguments must be a JSON object, actual: {_kind(arguments)}"
    props = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in arguments:
            spec = props.get(name, {})
            return f"missing required argument {name!r} ({_describe(spec)})"
    for name, value in arguments.items():
        spec = props.get(name)
        if spec is not None and not _fits(value, spec):
            return f"{name!r} must be {_describe(spec)}, actual: {_kind(value)}"
    return None


def _types(spec: Mapping[str, Any]) -> list[str]:
    t = spec.get("type")
    return [t] if isinstance(t, str) else list(t or [])


def _fits(value: Any, spec: Mapping[str, Any]) -> bool:
    types = _types(spec)
    if not types:
        return True
    item_spec = spec.get("items") or {}
    for t in types:
        if t == "array":
            if isinstance(value, str) and "string" in _types(item_spec):
                return bool(value.strip()) or spec.get("minItems", 0) == 0
            if isinstance(value, list) and len(value) >= spec.get("minItems", 0):
                if all(_fits(v, item_spec) for v in value):
                    return True
        elif t == "string" and isinstance(value, str):
            return True
        elif t == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        elif t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        elif t == "boolean" and isinstance(value, bool):
            return True
        elif t == "object" and isinstance(value, dict):
            return True
        elif t == "null" and value is None:
            return True
    return False


def _describe(spec: Mapping[str, Any]) -> str:
    types = _types(spec)
    if "array" in types:
        item = _types(spec.get("items") or {})
        inner = {"string": "strings", "integer": "integers", "number": "numbers"}.get(
            item[0] if item else "", "values"
        )
        n = spec.get("minItems", 0)
        return f"a {'non-empty ' if n else ''}list of {inner}"
    return " or ".join(_TYPE_NAMES.get(t, t) for t in types) or "a value"


def _kind(value: Any) -> str:
    if isinstance(value, list):
        inner = {_kind(v) for v in value if not isinstance(v, str)}
        return (
            f"a list holding {sorted(inner)[0]}"
            if inner
            else ("an empty list" if not value else "a list")
        )
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__
