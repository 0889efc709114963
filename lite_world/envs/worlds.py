"""Opening worlds for envs: one :class:`~lite_world.world.World` per (path, mode) per process.

Many envs in one process (``gym.make_vec(..., vectorization_mode="sync")``) share one world,
hence one FAISS index, one encoder and one set of caches; each async worker process opens its
own, lazily.

Example:
    >>> open_world("/nonexistent/world")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.WorldNotFoundError: Expects a world directory at /nonexistent/world, actual: ...
"""

from __future__ import annotations

import os
import threading
from typing import Any

from lite_world.errors import ConfigError
from lite_world.index.searcher import SearchConfig

__all__ = ["open_world", "resolve_world_path"]

_WORLDS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def resolve_world_path(world: str | os.PathLike[str] | None) -> str:
    """``None`` or ``"demo"`` → the bundled demo world (built on first use); else the path/URL as given."""
    if world is None or world == "demo":
        from lite_world.demo import ensure_demo_world

        return str(ensure_demo_world())
    if not isinstance(world, (str, os.PathLike)):
        raise ConfigError(f"Expects world to be a directory path, 'demo' or an http:// URL, actual: {type(world).__name__}")
    return os.fspath(world)


def open_world(world: str | os.PathLike[str] | None, *, search_mode: str = "hybrid") -> Any:
    """The process-wide shared world for ``world`` and ``search_mode``."""
    path = resolve_world_path(world)
    key = (os.getpid(), path, search_mode)
    with _LOCK:
        w = _WORLDS.get(key)
        if w is None:
            if path.startswith(("http://", "https://")):
                try:
                    from lite_world.serve.client import RemoteWorld
                except ImportError as exc:
                    raise ConfigError(
                        f"Expects a world directory, actual: the URL {path!r}, and this install has no world service "
                        "client (lite_world.serve). Pass a world directory."
                    ) from exc
                w = RemoteWorld(path)
            else:
                from lite_world.world import World

                w = World(path, search=SearchConfig(mode=search_mode))
            _WORLDS[key] = w
        return w
