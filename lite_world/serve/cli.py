"""``lite-world serve WORLD``: one flag per :class:`ServeConfig` field, plus Ray Serve scale-out.

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers()
    >>> add_serve_parser(sub)
    >>> a = p.parse_args(["serve", "demo", "--port", "9000", "--no-batching", "--max-wait-ms", "5"])
    >>> cfg = config_from_args(a)
    >>> cfg.port, cfg.batching, cfg.max_wait_ms
    (9000, False, 5.0)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from lite_world.config import add_config_flags, config_values
from lite_world.errors import ConfigError
from lite_world.serve.config import TOKEN_ENV, ServeConfig

__all__ = ["add_serve_parser", "config_from_args"]


def add_serve_parser(sub: Any) -> None:
    """Register ``serve`` on an argparse sub-parsers object."""
    p = sub.add_parser(
        "serve",
        help="serve a world over HTTP (batched search, browse, metrics)",
        description="Serve WORLD read-only over HTTP: POST /search, POST /browse, GET /health, "
        "/metrics, /manifest, /openapi.json.",
    )
    p.add_argument("world", help="world directory, or 'demo'")
    add_config_flags(p, ServeConfig)
    p.add_argument(
        "--token-file",
        default=None,
        help=f"read the bearer token from this file (else --token or ${TOKEN_ENV})",
    )
    r = p.add_argument_group("Ray Serve scale-out")
    r.add_argument(
        "--ray", action="store_true", help="deploy on Ray Serve instead of a single uvicorn process"
    )
    r.add_argument("--replicas", type=int, default=2, help="replicas of the service (with --ray)")
    r.add_argument(
        "--ray-address", default=None, help="an existing Ray cluster (default: start a local one)"
    )
    r.add_argument(
        "--replica-cpus", type=float, default=1.0, help="CPUs reserved per replica (with --ray)"
    )
    r.add_argument(
        "--replica-gpus",
        type=float,
        default=0.0,
        help="GPUs reserved per replica (with --ray; use --device cuda)",
    )
    p.set_defaults(fn=_cmd_serve)


def config_from_args(a: argparse.Namespace) -> ServeConfig:
    values = config_values(a)
    if getattr(a, "token_file", None):
        path = Path(a.token_file).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"Expects --token-file to name a readable file, actual: {str(path)!r} does not "
                "exist"
            )
        values["token"] = path.read_text().strip()
    return ServeConfig(**values)


def _cmd_serve(a: argparse.Namespace) -> int:
    from lite_world.worlds import resolve_world_spec

    world = resolve_world_spec(a.world)
    if not isinstance(world, str) or not os.path.isdir(os.path.expanduser(world)):
        raise ConfigError(f"Expects a world directory to serve, actual: {world!r} is not one")
    cfg = config_from_args(a)
    if a.ray:
        from lite_world.serve.ray_app import serve_on_ray

        serve_on_ray(
            world,
            cfg,
            replicas=a.replicas,
            address=a.ray_address,
            replica_cpus=a.replica_cpus,
            replica_gpus=a.replica_gpus,
        )
    else:
        from lite_world.serve.server import serve

        serve(world, cfg)
    return 0
