"""What every frozen config dataclass shares: validation helpers, dict/JSON round trips, CLI flags.

Every config of the project (:class:`~lite_world.envs.config.LiteSearchConfig`, the service's,
the SFT data step's, the trainers') is a frozen dataclass that mixes in :class:`ConfigMixin`;
each field carries ``metadata={"help": ...}`` and ``__post_init__`` validates with the
``check_*`` helpers below, so every bad value raises :class:`~lite_world.errors.ConfigError`
when the config is built. A field whose type is itself a config (for example a trainer's
``env: LiteSearchConfig``) round-trips as a nested dict, and :func:`add_config_flags` gives its
fields flags of their own: a config's flags are generated here, once.

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
    >>> check_int("GRPOConfig.steps", "3", low=0)
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects GRPOConfig.steps to be an int >= 0, actual: '3'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from typing import Any, TypeVar

from lite_world.errors import ConfigError

__all__ = [
    "ConfigMixin",
    "check_int",
    "check_number",
    "check_choice",
    "add_config_flags",
    "config_values",
]

C = TypeVar("C", bound="ConfigMixin")


def check_int(
    name: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    optional: bool = False,
) -> None:
    """Raise ``ConfigError`` unless ``value`` is an int (not a bool) in ``[low, high]``.

    Example:
        >>> check_int("k", 3, low=1); check_int("k", None, optional=True)
        >>> check_int("k", True, low=1)
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects k to be an int >= 1, actual: True
    """
    if value is None and optional:
        return
    ok = isinstance(value, int) and not isinstance(value, bool)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        bounds = (
            f" in [{low}, {high}]"
            if low is not None and high is not None
            else f" >= {low}"
            if low is not None
            else f" <= {high}"
            if high is not None
            else ""
        )
        prefix = "None or " if optional else ""
        raise ConfigError(f"Expects {name} to be {prefix}an int{bounds}, actual: {value!r}")


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    """Raise ``ConfigError`` unless ``value`` is a real number (not a bool) within the bounds.

    Example:
        >>> check_number("timeout_s", 0.0, low=0.0, low_open=True)
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects timeout_s to be a number > 0.0, actual: 0.0
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            parts.append(f"<= {high}")
        bounds = (" " + " and ".join(parts)) if parts else ""
        raise ConfigError(f"Expects {name} to be a number{bounds}, actual: {value!r}")


def check_choice(name: str, value: Any, allowed: Collection[Any]) -> None:
    """Raise ``ConfigError`` unless ``value`` is one of ``allowed``.

    Example:
        >>> check_choice("reward", "bleu", ("em", "f1", "judge"))
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects reward in ('em', 'f1', 'judge'), actual: 'bleu'
    """
    try:
        ok = value in allowed
    except TypeError:  # unhashable value against a set
        ok = False
    if not ok:
        raise ConfigError(f"Expects {name} in {tuple(allowed)}, actual: {value!r}")


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - unresolved forward refs: fall back to the raw annotations
        return {f.name: f.type for f in dataclasses.fields(cls)}


def _config_type(hint: Any) -> type[ConfigMixin] | None:
    """The config class a field holds (``X`` or ``X | None``), else ``None``."""
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and issubclass(candidate, ConfigMixin):
            return candidate
    return None


class ConfigMixin:
    """Methods for a frozen config dataclass (validation stays in its ``__post_init__``)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field (tuples become lists, nested configs dicts)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """Build from plain values (lists become tuples, dicts of nested configs configs).

        Unknown keys raise ``ConfigError``.
        """
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"Expects a mapping of {cls.__name__} fields, actual: {type(values).__name__}"
            )
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"Expects {cls.__name__} fields, actual: unknown {unknown}")
        hints = _hints(cls)
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            nested = _config_type(hints.get(key))
            if nested is not None and isinstance(value, Mapping):
                kwargs[key] = nested.from_dict(value)
            elif isinstance(value, list):
                kwargs[key] = tuple(value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    @classmethod
    def from_flat(cls: type[C], **values: Any) -> C:
        """Build from flat keywords: a nested config's fields may be given at the top level.

        This is what the flattened command-line flags mean (``--search-k 5`` sets
        ``env.search_k``); a key that is the outer config's own field stays there.

        Example:
            >>> from lite_world.rollout.runner import RolloutConfig
            >>> RolloutConfig.from_flat(samples=2, search_k=5).env.search_k
            5
        """
        hints = _hints(cls)
        own = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        out: dict[str, Any] = {k: v for k, v in values.items() if k in own}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            nested = _config_type(hints.get(f.name))
            if nested is None:
                continue
            names = {g.name for g in dataclasses.fields(nested)}  # type: ignore[arg-type]
            moved = {k: v for k, v in values.items() if k in names and k not in own}
            if moved:
                base = out.get(f.name)
                base = base.to_dict() if isinstance(base, ConfigMixin) else dict(base or {})
                out[f.name] = {**base, **moved}
        return cls.from_dict(
            out | {k: v for k, v in values.items() if k not in out and k not in _nested_names(cls)}
        )

    def replace(self: C, **changes: Any) -> C:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_json(self) -> str:
        """The config as indented JSON (what a run directory's ``config.json`` holds)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=repr)


def _nested_names(cls: type) -> set[str]:
    hints = _hints(cls)
    names: set[str] = set()
    for f in dataclasses.fields(cls):
        nested = _config_type(hints.get(f.name))
        if nested is not None:
            names |= {g.name for g in dataclasses.fields(nested)}  # type: ignore[arg-type]
    return names


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigMixin):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


# -- command lines -------------------------------------------------------------------------------


def _flag_type(hint: Any) -> Any:
    """The argparse ``type`` of a field: ``bool`` (a --x/--no-x switch), int, float, JSON, or str."""
    base = hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if len(args) == 1 else str
    origin = typing.get_origin(base) or base
    if base is bool:
        return bool
    if base is int:
        return int
    if base is float:
        return float
    if origin in (Mapping, dict) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return json.loads
    if origin is tuple:
        return "list"
    return str


def _fields_with_flags(
    cls: type, prefix: str, taken: set[str]
) -> Iterator[tuple[str, str, dataclasses.Field[Any], Any]]:
    """``(dest, flag, field, hint)`` for every leaf field; nested configs are flattened."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name, f.type)
        nested = _config_type(hint)
        if nested is not None:
            yield from _fields_with_flags(nested, f"{prefix}{f.name}.", taken)
            continue
        name = f.name if f.name not in taken else f"{prefix.rstrip('.')}_{f.name}"
        taken.add(name)
        yield f"{prefix}{f.name}", "--" + name.replace("_", "-"), f, hint


def add_config_flags(
    parser: argparse.ArgumentParser | Any, config_cls: type, *, exclude: Collection[str] = ()
) -> None:
    """Add one ``--flag`` per field of ``config_cls`` (nested configs flattened) to ``parser``.

    Flags not given stay out of the namespace (``argparse.SUPPRESS``), so the dataclass defaults
    apply; read the values back with :func:`config_values`. Boolean fields become
    ``--x/--no-x`` switches, tuples take several values, mappings take JSON. A nested field whose
    name is already taken gets its parent's name as a prefix (``--env-max-turns``).

    Example:
        >>> from lite_world.envs.config import LiteSearchConfig
        >>> p = argparse.ArgumentParser()
        >>> add_config_flags(p, LiteSearchConfig, exclude=("tasks",))
        >>> a = p.parse_args(["--search-k", "5", "--no-mask-sources"])
        >>> config_values(a)
        {'search_k': 5, 'mask_sources': False}
    """
    taken: set[str] = set()
    for dest, flag, f, hint in _fields_with_flags(config_cls, "", taken):
        if dest in exclude or dest.split(".")[-1] in exclude:
            continue
        cast = _flag_type(hint)
        help_text = f.metadata.get("help", "")
        if f.default is not dataclasses.MISSING:
            help_text = f"{help_text} (default: {f.default!r})"
        kw: dict[str, Any] = {"dest": _DEST + dest, "default": argparse.SUPPRESS, "help": help_text}
        if cast is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif cast == "list":
            parser.add_argument(flag, nargs="*", metavar=f.name.upper(), **kw)
        else:
            parser.add_argument(flag, type=cast, metavar=f.name.upper(), **kw)


_DEST = "cfg:"


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The config values given on a command line parsed with :func:`add_config_flags`.

    Nested fields come back as nested dicts, ready for ``Config.from_dict``.
    """
    out: dict[str, Any] = {}
    for key, value in vars(args).items():
        if not key.startswith(_DEST):
            continue
        *parents, leaf = key[len(_DEST) :].split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out
