"""lite-world's tools as verl ``BaseTool`` subclasses, for verl's stock ``tool_agent`` loop.

Thin adapters: each wraps one tool of the registry (:mod:`lite_world.tools.registry`: the
built-in ``search`` and ``visit``, or any tool a user registered or names as ``module:Class``)
built exactly as ``LiteSearch-v0`` builds it, on a world opened in the process (a directory or
``demo``) or reached through the tool service (an ``http(s)://`` URL of ``lite-world serve``). The
response is the text the env puts inside ``<tool_response>`` (the chat template adds the
wrapper for ``role: tool`` messages), cut like the env's.

Lifecycle (verl 0.9.1 ``ToolAgentLoop``): one tool object per worker; for every call
``create(create_kwargs=row.extra_info.tools_kwargs[name].create_kwargs)`` → ``execute`` →
``release``. ``create_kwargs`` may hold ``mask_urls`` (a list or one URL; ``url`` is accepted
too, as in LiteResearcher's data): those pages are hidden from this call (source masking).

Config (``config/tool_config.yaml``): ``type: native`` (verl's key), ``tool`` (the registry
name; fixed for :class:`LiteSearchTool` and :class:`LiteVisitTool`), and any
:class:`~lite_world.envs.config.LiteSearchConfig` field::

    tools:
      - class_name: trainers.verl.tools.LiteSearchTool
        config: {type: native, world: /data/world, search_k: 10}
      - class_name: trainers.verl.tools.LiteTool
        config: {type: native, tool: "my_pkg.tools:Calculator"}

The schema is the tool's own (:meth:`lite_world.tools.base.Tool.schema`); a ``tool_schema`` in
the YAML replaces it. verl's schema model keeps ``type``, ``description`` and ``enum`` of each
parameter and drops ``items``/``minItems``.

Example:
    >>> import asyncio
    >>> tool = LiteSearchTool({"type": "native", "world": "demo", "search_k": 3}, None)  # doctest: +ELLIPSIS
    {...}
    >>> async def call():
    ...     iid, _ = await tool.create(create_kwargs={"mask_urls": []})
    ...     response, reward, metrics = await tool.execute(iid, {"query": ["Carl Rogers"]})
    ...     await tool.release(iid)
    ...     return response.text
    >>> asyncio.run(call())[:40]
    "A Google search for 'Carl Rogers' found "
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar
from uuid import uuid4

from lite_world._lazy import require
from lite_world.envs.config import LiteSearchConfig
from lite_world.errors import ConfigError
from lite_world.store.urls import normalize_url
from lite_world.tools.base import CallContext, Tool
from lite_world.tools.registry import resolve_tool
from lite_world.worlds import open_world

require("verl", extra="verl")
from verl.tools.base_tool import BaseTool  # noqa: E402
from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse  # noqa: E402

__all__ = ["LiteTool", "LiteSearchTool", "LiteVisitTool", "tool_settings"]

logger = logging.getLogger(__name__)

_TRUNCATION_NOTE = "\n[... output truncated to {n} characters ...]"


def tool_settings(
    config: Mapping[str, Any] | None, tool: str | None = None
) -> tuple[str, LiteSearchConfig]:
    """``(tool spec, env options)`` from one tool's ``config`` block in the tool YAML.

    Example:
        >>> tool_settings({"type": "native", "world": "/data/w", "search_k": 5}, "search")[1].search_k
        5
        >>> tool_settings({"type": "mcp"}, "search")
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects tool config type 'native', actual: 'mcp'
    """
    values = dict(config or {})
    kind = values.pop("type", "native")
    if kind != "native":
        raise ConfigError(f"Expects tool config type 'native', actual: {kind!r}")
    spec = values.pop("tool", tool)
    if tool is not None and spec != tool:
        raise ConfigError(
            f"Expects tool {tool!r} for this class, actual: {spec!r} (use trainers.verl.tools.LiteTool)"
        )
    if not isinstance(spec, str):
        raise ConfigError(
            f"Expects the tool config to name a tool ('tool: search'), actual: {spec!r}"
        )
    resolve_tool(spec)
    return spec, LiteSearchConfig.from_dict(values)


def _mask_urls(create_kwargs: Mapping[str, Any] | None) -> tuple[str, ...]:
    """``mask_urls`` (list or str) plus a LiteResearcher-style ``url`` from ``create_kwargs``, normalised."""
    if not create_kwargs:
        return ()
    urls: list[Any] = []
    for key in ("mask_urls", "url"):
        value = create_kwargs.get(key)
        if isinstance(value, str):
            urls.append(value)
        elif value is not None:
            urls.extend(value)  # list, tuple or numpy array (Parquet read by pandas)
    return tuple(dict.fromkeys(normalize_url(u) for u in urls if isinstance(u, str) and u))


class LiteTool(BaseTool):
    """Any registry tool as a verl tool; the world is opened lazily in the process that calls."""

    tool_name: ClassVar[str | None] = None

    def __init__(self, config: dict, tool_schema: OpenAIFunctionToolSchema | None = None):
        spec, self.env_config = tool_settings(config, self.tool_name)
        self.tool_class: type[Tool] = resolve_tool(spec)
        schema = tool_schema or OpenAIFunctionToolSchema.model_validate(self.tool_class.schema())
        super().__init__(config, schema)
        self._masks: dict[str, frozenset[str]] = {}
        self._tool: Tool | None = None

    @property
    def tool(self) -> Tool:
        """The lite-world tool object (built on first use)."""
        if self._tool is None:
            c = self.env_config
            self._tool = self.tool_class.create(
                lambda: open_world(c.world, search_mode=c.search_mode), c
            )
        return self._tool

    async def create(
        self,
        instance_id: str | None = None,
        create_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> tuple[str, ToolResponse]:
        instance_id = instance_id or uuid4().hex
        self._masks[instance_id] = frozenset(_mask_urls(create_kwargs or kwargs))
        return instance_id, ToolResponse()

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[ToolResponse, float, dict]:
        exclude = self._masks.get(instance_id, frozenset())
        result = await asyncio.to_thread(self.tool, parameters, CallContext(exclude=exclude))
        text, n = result.text, self.env_config.max_observation_chars
        if len(text) > n:
            text = text[:n] + _TRUNCATION_NOTE.format(n=n)
        return ToolResponse(text=text), 0.0, {"error": result.error or "", "masked": len(exclude)}

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        return 0.0

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        self._masks.pop(instance_id, None)


class LiteSearchTool(LiteTool):
    """``search``: one query or a list, web-style result lists (LiteResearcher's format)."""

    tool_name = "search"


class LiteVisitTool(LiteTool):
    """``visit``: the evidence and a summary of one or several pages for a goal."""

    tool_name = "visit"
