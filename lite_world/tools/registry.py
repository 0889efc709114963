"""The tool registry: tool names to :class:`~lite_world.tools.base.Tool` classes.

The env, the rollout runner (through the env), the tool service's clients and the verl adapter
all build their tools here, so a tool registered once is callable everywhere and listed in the
system prompt. ``LiteSearchConfig.tools`` names the tools of an episode: registered names, or
``"module:Class"`` import paths, which also work in ``gym.make_vec(..., "async")`` worker
processes that never ran your registration code.

Example:
    >>> from lite_world.tools.base import Tool, ToolResult
    >>> @register_tool
    ... class Calculator(Tool):
    ...     name, description, summary = "calculator", "Add two numbers.", "add two numbers."
    ...     parameters = {"type": "object", "required": ["a", "b"],
    ...                   "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}
    ...     def run(self, arguments, context):
    ...         return ToolResult(str(arguments["a"] + arguments["b"]))
    >>> resolve_tool("calculator") is Calculator, "calculator" in tool_names()
    (True, True)
    >>> unregister_tool("calculator")
    >>> resolve_tool("calculator")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects a registered tool name (...) or a 'module:Class' path, actual: 'calculator'
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lite_world.errors import ConfigError
from lite_world.tools.base import Tool

if TYPE_CHECKING:  # pragma: no cover
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.worlds import WorldLike

__all__ = ["register_tool", "unregister_tool", "resolve_tool", "tool_names", "build_tools"]

_BUILTIN = {
    "search": "lite_world.tools.search:SearchTool",
    "visit": "lite_world.tools.visit:VisitTool",
}
_REGISTRY: dict[str, type[Tool]] = {}
_LOCK = threading.Lock()


def register_tool(cls: type[Tool], *, replace: bool = False) -> type[Tool]:
    """Register a :class:`Tool` subclass under its ``name`` (usable as a class decorator).

    Raises:
        ConfigError: not a Tool subclass, no schema, or the name is taken (and ``replace`` is off).
    """
    if not (isinstance(cls, type) and issubclass(cls, Tool)):
        raise ConfigError(f"Expects a Tool subclass, actual: {cls!r}")
    _check_declaration(cls)
    with _LOCK:
        taken = cls.name in _BUILTIN or cls.name in _REGISTRY
        if taken and not replace and _REGISTRY.get(cls.name) is not cls:
            raise ConfigError(
                f"Expects a new tool name, actual: {cls.name!r} is already registered. "
                "Pick another name, or pass replace=True."
            )
        _REGISTRY[cls.name] = cls
    return cls


def unregister_tool(name: str) -> None:
    """Remove a tool registered with :func:`register_tool` (built-ins come back by default)."""
    with _LOCK:
        _REGISTRY.pop(name, None)


def tool_names() -> tuple[str, ...]:
    """Every registered tool name (built-ins first)."""
    with _LOCK:
        return tuple(dict.fromkeys([*_BUILTIN, *_REGISTRY]))


def resolve_tool(spec: str) -> type[Tool]:
    """The Tool class for a registered name or a ``"module:Class"`` path.

    Raises:
        ConfigError: unknown name, unimportable path, or not a valid Tool subclass.
    """
    if not isinstance(spec, str):
        raise ConfigError(f"Expects a tool name or 'module:Class' path, actual: {spec!r}")
    with _LOCK:
        cls = _REGISTRY.get(spec)
    if cls is not None:
        return cls
    path = _BUILTIN.get(spec, spec)
    if ":" not in path:
        raise ConfigError(
            f"Expects a registered tool name {tool_names()} or a 'module:Class' path, actual: {spec!r}"
        )
    module, _, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"Expects an importable Tool class at {path!r}, actual: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Tool)):
        raise ConfigError(f"Expects {path!r} to be a Tool subclass, actual: {cls!r}")
    _check_declaration(cls)
    return cls


def build_tools(
    specs: Sequence[str], world: Callable[[], WorldLike], config: LiteSearchConfig
) -> dict[str, Tool]:
    """Tool objects keyed by name, in ``specs`` order (``world()`` opens the world on demand)."""
    tools: dict[str, Tool] = {}
    for spec in specs:
        cls = resolve_tool(spec)
        tools[cls.name] = cls.create(world, config)
    return tools


def _check_declaration(cls: Any) -> None:
    for attr in ("name", "description", "summary", "parameters"):
        if not hasattr(cls, attr):
            raise ConfigError(
                f"Expects the tool class {cls.__name__} to declare {attr!r}, actual: missing"
            )
    if not isinstance(cls.name, str) or not cls.name.isidentifier():
        raise ConfigError(f"Expects a tool name that is an identifier, actual: {cls.name!r}")
    params = cls.parameters
    if not isinstance(params, dict) or params.get("type") != "object":
        raise ConfigError(
            f"Expects {cls.__name__}.parameters to be a JSON Schema object ({{'type': 'object', ...}}), "
            f"actual: {params!r:.200}"
        )
