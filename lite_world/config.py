"""What every frozen config dataclass shares: plain-dict and JSON round trips, validated copies.

Used by :class:`~lite_world.sft.pipeline.SFTDataConfig` and the trainers' configs
(``GRPOConfig``, ``SFTConfig``); validation stays in each class's ``__post_init__``.

Example:
    >>> from lite_world.sft.pipeline import SFTDataConfig
    >>> SFTDataConfig.from_dict(SFTDataConfig(rules=("F1",)).to_dict()).rules   # lists come back as tuples
    ('F1',)
    >>> SFTDataConfig().replace(max_repeats=5).max_repeats
    5
    >>> SFTDataConfig.from_dict({"rule": ["F1"]})
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects SFTDataConfig fields, actual: unknown ['rule']
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from lite_world.errors import ConfigError

__all__ = ["ConfigMixin"]

C = TypeVar("C", bound="ConfigMixin")


class ConfigMixin:
    """Methods for a frozen config dataclass (validation stays in its ``__post_init__``)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field (tuples become lists, mappings dicts)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, Mapping) else v
        return out

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """Build from plain values (lists become tuples); unknown keys raise ``ConfigError``."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"Expects {cls.__name__} fields, actual: unknown {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def replace(self: C, **changes: Any) -> C:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_json(self) -> str:
        """The config as indented JSON (what a run directory's ``config.json`` holds)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
