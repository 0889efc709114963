"""``search`` and ``visit`` as verl ``BaseTool`` subclasses, for verl's stock ``tool_agent`` loop.

They run lite-world's :class:`~lite_world.tools.search.SearchTool` and
:class:`~lite_world.tools.browse.VisitTool` on a world opened in the process (a directory or
``demo``) or reached through the tool service (an ``http://`` URL of ``lite-world serve``), and
return the same text ``LiteSearch-v0`` puts inside ``<tool_response>`` (the chat template adds
the wrapper for ``role: tool`` messages).

Lifecycle (verl 0.9.1 ``ToolAgentLoop``): one tool object per worker; for every call
``create(create_kwargs=row.extra_info.tools_kwargs[name].create_kwargs)`` → ``execute`` →
``release``. ``create_kwargs`` may hold ``mask_urls`` (a list or one URL; ``url`` is accepted
too, as in LiteResearcher's data): those pages are hidden from this call (source masking).

Config (``config/tool_config.yaml``)::

    tools:
      - class_name: trainers.verl.tools.LiteSearchTool
        config: {type: native, world: /data/world, search_k: 10}

Both classes carry the env's schema (:data:`lite_world.tools.prompts.TOOL_SCHEMAS`); a
``tool_schema`` in the YAML replaces it. verl's schema model keeps ``type``, ``description``
and ``enum`` of each parameter and drops ``items``/``minItems``.

Example:
    >>> import asyncio
    >>> tool = LiteSearchTool({"type": "native", "world": "demo"}, None)     # doctest: +SKIP
    >>> async def call():
    ...     iid, _ = await tool.create(create_kwargs={"mask_urls": []})
    ...     response, reward, metrics = await tool.execute(iid, {"query": ["Carl Rogers"]})
    ...     await tool.release(iid)
    ...     return response.text
    >>> asyncio.run(call())[:40]                                               # doctest: +SKIP
    "A Google search for 'Carl Rogers' found "
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from lite_world._lazy import require
from lite_world.errors import ConfigError
from lite_world.store.urls import normalize_url
from lite_world.tools.prompts import SEARCH_SCHEMA, VISIT_SCHEMA

require("verl", extra="verl")
from verl.tools.base_tool import BaseTool  # noqa: E402
from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse  # noqa: E402

__all__ = ["LiteSearchTool", "LiteVisitTool", "ToolSettings"]

logger = logging.getLogger(__name__)

_TRUNCATION_NOTE = "\n[... output truncated to {n} characters ...]"


@dataclasses.dataclass(frozen=True)
class ToolSettings:
    """The ``config`` block of one tool in the tool YAML (``type: native`` is verl's own key)."""

    type: str = dataclasses.field(default="native", metadata={"help": "verl's tool type; must be 'native'."})
    world: str = dataclasses.field(
        default="demo", metadata={"help": "World directory, 'demo', or the http:// URL of `lite-world serve`."}
    )
    search_k: int = dataclasses.field(default=10, metadata={"help": "Search results per query."})
    search_mode: str = dataclasses.field(default="hybrid", metadata={"help": "Retrieval of an in-process world."})
    search_style: str = dataclasses.field(default="web", metadata={"help": "'web' or 'train' rendering."})
    visit_max_chars: int = dataclasses.field(default=3000, metadata={"help": "Evidence characters per page."})
    max_observation_chars: int = dataclasses.field(
        default=20_000, metadata={"help": "Characters of one response (the env's cut and note)."}
    )

    def __post_init__(self) -> None:
        if self.type != "native":
            raise ConfigError(f"Expects tool config type 'native', actual: {self.type!r}")
        if not isinstance(self.world, str) or not self.world:
            raise ConfigError(f"Expects tool config world to be a directory, 'demo' or a URL, actual: {self.world!r}")
        for name, low in (("search_k", 1), ("visit_max_chars", 100), ("max_observation_chars", 100)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"Expects tool config {name} to be an int >= {low}, actual: {value!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> "ToolSettings":
        known = {f.name for f in dataclasses.fields(cls)}
        values = dict(config or {})
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"Expects tool config keys among {sorted(known)}, actual: unknown {unknown}")
        return cls(**values)


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


class _WorldTool(BaseTool):
    """Shared lifecycle: per-instance masks, the world opened lazily in the process that calls."""

    default_schema: dict[str, Any] = {}

    def __init__(self, config: dict, tool_schema: OpenAIFunctionToolSchema | None = None):
        self.settings = ToolSettings.from_config(config)
        schema = tool_schema or OpenAIFunctionToolSchema.model_validate(self.default_schema)
        super().__init__(config, schema)
        self._masks: dict[str, tuple[str, ...]] = {}
        self._tool: Any = None

    def _lite_tool(self) -> Any:
        if self._tool is None:
            from lite_world.envs.worlds import open_world

            self._tool = self._build(open_world(self.settings.world, search_mode=self.settings.search_mode))
        return self._tool

    def _build(self, world: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _call(self, parameters: Mapping[str, Any], exclude: tuple[str, ...]) -> tuple[str, str | None]:
        raise NotImplementedError  # pragma: no cover - overridden

    async def create(self, instance_id: str | None = None, create_kwargs: Mapping[str, Any] | None = None,
                     **kwargs: Any) -> tuple[str, ToolResponse]:
        instance_id = instance_id or uuid4().hex
        self._masks[instance_id] = _mask_urls(create_kwargs or kwargs)
        return instance_id, ToolResponse()

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[ToolResponse, float, dict]:
        exclude = self._masks.get(instance_id, ())
        params = parameters if isinstance(parameters, Mapping) else {}
        text, error = await asyncio.to_thread(self._call, params, exclude)
        n = self.settings.max_observation_chars
        if len(text) > n:
            text = text[:n] + _TRUNCATION_NOTE.format(n=n)
        return ToolResponse(text=text), 0.0, {"error": error or "", "masked": len(exclude)}

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        return 0.0

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        self._masks.pop(instance_id, None)


class LiteSearchTool(_WorldTool):
    """``search``: one query or a list, web-style result lists (LiteResearcher's format)."""

    default_schema = SEARCH_SCHEMA

    def _build(self, world: Any) -> Any:
        from lite_world.tools.search import SearchTool

        return SearchTool(world, k=self.settings.search_k, style=self.settings.search_style)

    def _call(self, parameters: Mapping[str, Any], exclude: tuple[str, ...]) -> tuple[str, str | None]:
        if "query" not in parameters:
            return ("[Search] Invalid request format: missing required argument 'query' (a list of query strings).",
                    "invalid_arguments")
        result = self._lite_tool()(parameters["query"], exclude=exclude)
        return result.text, result.error


class LiteVisitTool(_WorldTool):
    """``visit``: the evidence and a summary of one or several pages for a goal."""

    default_schema = VISIT_SCHEMA

    def _build(self, world: Any) -> Any:
        from lite_world.tools.browse import ExtractiveSummarizer, VisitTool

        return VisitTool(world, ExtractiveSummarizer(max_chars=self.settings.visit_max_chars))

    def _call(self, parameters: Mapping[str, Any], exclude: tuple[str, ...]) -> tuple[str, str | None]:
        missing = [a for a in ("url", "goal") if a not in parameters]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            return f"[Visit] Invalid request format: missing required argument(s) {names}.", "invalid_arguments"
        result = self._lite_tool()(parameters["url"], parameters["goal"], exclude=exclude)
        return result.text, result.error
