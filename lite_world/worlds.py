"""Opening worlds: the one place that turns a world spec into a world, and the interface it returns.

A *world spec* is what a user passes as ``world=``: a directory path, ``"demo"`` (or ``None``) for
the bundled demo world, an ``http(s)://`` URL of a ``lite-world serve`` service, or a world
object. :func:`open_world` resolves it and keeps one world per (process, spec, search mode), so
many envs in one process (``gym.make_vec(..., vectorization_mode="sync")``) share one FAISS
index, one encoder and one set of caches, while each async worker process opens its own.

Everything that uses a world -- the env, the tools, the CLI, the rollout runner, the service and
the trainers -- is typed against :class:`WorldLike`, which :class:`~lite_world.world.World` and
:class:`~lite_world.serve.client.RemoteWorld` both satisfy.

Example:
    >>> open_world("/nonexistent/world")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.WorldNotFoundError: Expects a world directory at /nonexistent/world, actual: ...
    >>> open_world(3)
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects world to be a directory path, 'demo', an http(s):// URL or a world object, actual: int
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lite_world.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from lite_world.store.manifest import Manifest
    from lite_world.store.page import Page
    from lite_world.world import SearchHit

__all__ = [
    "WorldLike",
    "WorldSpec",
    "SEARCH_MODES",
    "is_world",
    "check_world_spec",
    "open_world",
    "resolve_world_spec",
    "forget_worlds",
]

SEARCH_MODES = ("hybrid", "dense", "sparse")


@runtime_checkable
class WorldLike(Protocol):
    """What tools and envs need from a world: batched search, page lookup, a manifest, close.

    ``exclude`` holds URLs that must never be returned (source masking).
    """

    @property
    def manifest(self) -> Manifest: ...

    def search(
        self, queries: Sequence[str], k: int = 10, *, exclude: Collection[str] = ()
    ) -> list[list[SearchHit]]: ...

    def get_page(self, url: str, *, exclude: Collection[str] = ()) -> Page | None: ...

    def close(self) -> None: ...


def is_world(obj: Any) -> bool:
    """Whether ``obj`` has the :class:`WorldLike` methods (checked on its class: no property runs).

    ``isinstance(obj, WorldLike)`` would read ``obj.manifest``, which for a served world is an
    HTTP request.

    Example:
        >>> is_world("demo"), is_world(object())
        (False, False)
    """
    cls = type(obj)
    if not all(callable(getattr(cls, m, None)) for m in ("search", "get_page", "close")):
        return False
    return hasattr(cls, "manifest") or "manifest" in getattr(obj, "__dict__", {})


WorldSpec = str | os.PathLike[str] | WorldLike | None
"""A directory, ``"demo"``/``None`` (bundled demo world), an ``http(s)://`` URL, or a world."""

_WORLDS: dict[tuple[Any, ...], WorldLike] = {}
_LOCK = threading.Lock()


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def resolve_world_spec(spec: WorldSpec) -> str | WorldLike:
    """Return a world object unchanged, or the path/URL a spec names.

    ``None`` and ``"demo"`` give the bundled demo world's directory (built on first use); paths
    are ``~``-expanded; URLs are returned as given.

    Example:
        >>> resolve_world_spec("http://127.0.0.1:8000")
        'http://127.0.0.1:8000'
        >>> resolve_world_spec("~/w").endswith("/w") and not resolve_world_spec("~/w").startswith("~")
        True
    """
    if spec is None or spec == "demo":
        from lite_world.demo import ensure_demo_world

        return str(ensure_demo_world())
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        return text if _is_url(text) else os.path.expanduser(text)
    if is_world(spec):
        return spec
    raise ConfigError(
        "Expects world to be a directory path, 'demo', an http(s):// URL or a world object, "
        f"actual: {type(spec).__name__}"
    )


def check_world_spec(spec: WorldSpec) -> None:
    """Cheap checks of a spec, without opening anything: a local world's directory must exist.

    Raises:
        ConfigError: not a valid spec.
        WorldNotFoundError: a directory that does not exist.

    Example:
        >>> check_world_spec("http://127.0.0.1:9/"); check_world_spec("demo")
        >>> check_world_spec("/nonexistent/world")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.WorldNotFoundError: Expects a world directory at '/nonexistent/world', actual: ...
    """
    if spec is None or spec == "demo" or is_world(spec):
        return
    if not isinstance(spec, (str, os.PathLike)):
        resolve_world_spec(spec)  # raises the ConfigError
    text = os.fspath(spec)  # type: ignore[arg-type]
    if _is_url(text):
        return
    path = os.path.expanduser(text)
    if not os.path.isdir(path):
        from lite_world.errors import WorldNotFoundError

        raise WorldNotFoundError(
            f"Expects a world directory at {text!r}, actual: no such directory. Build one with "
            "`lite-world build PAGES --out DIR`, or use world='demo' for the bundled demo world."
        )


def open_world(spec: WorldSpec, *, search_mode: str = "hybrid") -> WorldLike:
    """The process-wide shared world for ``spec`` (and ``search_mode`` for local worlds).

    Args:
        spec: see :data:`WorldSpec`; a world object is returned as it is.
        search_mode: ``"hybrid"``, ``"dense"`` or ``"sparse"`` (local worlds; a service decides
            its own).

    Raises:
        ConfigError: ``spec`` or ``search_mode`` is not valid.
        WorldNotFoundError, WorldCorruptedError: the directory is missing or damaged.
    """
    if search_mode not in SEARCH_MODES:
        raise ConfigError(f"Expects search_mode in {SEARCH_MODES}, actual: {search_mode!r}")
    target = resolve_world_spec(spec)
    if not isinstance(target, str):
        return target
    key = (os.getpid(), target, None if _is_url(target) else search_mode)
    with _LOCK:
        world = _WORLDS.get(key)
        if world is None:
            world = _open(target, search_mode)
            _WORLDS[key] = world
        return world


def _open(target: str, search_mode: str) -> WorldLike:
    if _is_url(target):
        from lite_world.serve.client import RemoteWorld

        return RemoteWorld(target)
    from lite_world.index.searcher import SearchConfig
    from lite_world.world import World

    return World(target, search=SearchConfig(mode=search_mode))


def forget_worlds() -> int:
    """Close and drop this process's shared worlds (tests, benchmarks); returns how many.

    Example:
        >>> forget_worlds() >= 0
        True
    """
    with _LOCK:
        mine = [k for k in _WORLDS if k[0] == os.getpid()]
        for k in mine:
            _WORLDS.pop(k).close()
        return len(mine)
