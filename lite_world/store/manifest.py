"""``manifest.json``: what a world contains, how its index was built, and its files' digests.

This module reads and writes the manifest and checks its own fields' types; checking a world's
files against it is the world layer's job (:mod:`lite_world.verify`).

Example:
    >>> m = Manifest(page_count=2, store_digest="ab", embedder="e", embedding_dim=8,
    ...              index_factory="Flat", index_params={}, sources=["x.jsonl"])
    >>> Manifest.from_dict(m.to_dict()) == m
    True
    >>> Manifest.from_dict({**m.to_dict(), "page_count": "2"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.WorldCorruptedError: Expects manifest field 'page_count' to be int, ...
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import Any

from lite_world.errors import WorldCorruptedError, WorldNotFoundError
from lite_world.layout import INDEX_DIRNAME, INDEX_DIRNAMES, MANIFEST_NAME
from lite_world.version import __version__

__all__ = ["Manifest", "MANIFEST_NAME", "read_manifest", "write_manifest"]

FORMAT_VERSION = 2  # 2: file digests (``files``) and index generations (``index_dir``)

_TYPES: dict[str, tuple[type, ...]] = {
    "page_count": (int,),
    "store_digest": (str,),
    "embedder": (str,),
    "embedding_dim": (int,),
    "index_factory": (str,),
    "index_params": (dict,),
    "sources": (list,),
    "bm25": (dict,),
    "build_config": (dict,),
    "build_seconds": (int, float),
    "built_at": (str,),
    "lite_world_version": (str,),
    "format_version": (int,),
    "files": (dict,),
    "index_dir": (str,),
    "embedder_config": (dict,),
}


@dataclass(frozen=True)
class Manifest:
    """The identity card of a world directory.

    ``files`` maps each digested file (path relative to the world) to ``{"bytes", "blake2b"}``;
    worlds built before format 2 have none. ``index_dir`` is the generation directory holding
    the indexes (see :mod:`lite_world.layout`).
    """

    page_count: int
    store_digest: str
    embedder: str
    embedding_dim: int
    index_factory: str
    index_params: dict[str, Any]
    sources: list[str]
    bm25: dict[str, Any] = field(default_factory=dict)
    build_config: dict[str, Any] = field(default_factory=dict)
    build_seconds: float = 0.0
    built_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    lite_world_version: str = __version__
    format_version: int = FORMAT_VERSION
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    index_dir: str = INDEX_DIRNAME
    # the encoder's semantic fields (prefixes, pooling, normalisation, max length), when the
    # build used an explicit EncoderConfig (lite_world.index.encoders); {} for the default
    embedder_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, types in _TYPES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, types):
                raise WorldCorruptedError(
                    f"Expects manifest field {name!r} to be "
                    f"{' or '.join(t.__name__ for t in types)}, "
                    f"actual: {type(value).__name__} {value!r}. The manifest was edited or "
                    "damaged: "
                    "restore manifest.json from a copy of the world, or rebuild the world."
                )
        if self.page_count < 0 or self.embedding_dim < 1:
            raise WorldCorruptedError(
                "Expects page_count >= 0 and embedding_dim >= 1 in the manifest, actual: "
                f"{self.page_count} and "
                f"{self.embedding_dim}. Restore manifest.json from a copy of the world, or "
                "rebuild the world."
            )
        if self.index_dir not in INDEX_DIRNAMES:
            raise WorldCorruptedError(
                f"Expects manifest field 'index_dir' in {INDEX_DIRNAMES}, actual: "
                f"{self.index_dir!r}. "
                "Restore manifest.json from a copy of the world, or rebuild the world."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        """Build from parsed JSON; unknown keys (from newer versions) are ignored.

        Raises:
            WorldCorruptedError: ``d`` is not an object, lacks a field, or has a field of the
                wrong type.
        """
        if not isinstance(d, dict):
            raise WorldCorruptedError(
                f"Expects the manifest to be a JSON object, actual: {type(d).__name__}. "
                "Restore manifest.json from a copy of the world, or rebuild the world."
            )
        required = [
            n
            for n, f in cls.__dataclass_fields__.items()
            if f.default is MISSING and f.default_factory is MISSING
        ]
        missing = [n for n in required if n not in d]
        if missing:
            raise WorldCorruptedError(
                f"Expects the manifest fields {required}, actual: missing {missing}. "
                "Restore manifest.json from a copy of the world, or rebuild the world."
            )
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def write_manifest(world_dir: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write atomically (temp file + rename), so a crash never leaves half a manifest."""
    path = Path(world_dir) / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path


def read_manifest(world_dir: str | os.PathLike[str]) -> Manifest:
    """Read ``WORLD/manifest.json`` or raise a typed error saying how to fix it."""
    world = Path(world_dir)
    path = world / MANIFEST_NAME
    if not world.is_dir():
        raise WorldNotFoundError(
            f"Expects a world directory at {world}, actual: it does not exist. "
            f"Build one with: lite-world build INPUT... --out {world}"
        )
    if not path.is_file():
        raise WorldNotFoundError(
            f"Expects {path}, actual: missing — the build did not finish. "
            f"Re-run the same lite-world build command with --out {world}; it resumes where it "
            "stopped."
        )
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (
        ValueError,
        RecursionError,
    ) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise WorldCorruptedError(
            f"Expects valid JSON in {path}, actual: {exc}. Restore manifest.json from a copy of "
            "the world, "
            "or rebuild the world."
        ) from exc
    except OSError as exc:
        raise WorldCorruptedError(
            f"Expects a readable {path}, actual: {exc}. Check its permissions."
        ) from exc
    return Manifest.from_dict(data)
