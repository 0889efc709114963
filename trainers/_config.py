"""What every trainer config shares: plain-dict and JSON round trips, validated copies.

Example:
    >>> from trainers.sft.config import SFTConfig
    >>> SFTConfig.from_dict(SFTConfig(max_steps=3).to_dict()).max_steps
    3
    >>> SFTConfig().replace(max_steps=5).max_steps
    5
    >>> SFTConfig().to_dict()["lora_target_modules"][:2]
    ['q_proj', 'k_proj']
    >>> SFTConfig.from_dict({"lerning_rate": 1e-5})
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects SFTConfig fields, actual: unknown ['lerning_rate']
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
        """Build from plain values; unknown keys raise ``ConfigError``."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"Expects {cls.__name__} fields, actual: unknown {unknown}")
        return cls(**dict(values))

    def replace(self: C, **changes: Any) -> C:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_json(self) -> str:
        """The config as indented JSON (what a run directory's ``config.json`` holds)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
