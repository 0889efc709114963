"""Scale-out on Ray Serve: N replicas of the world service behind Ray's HTTP proxies.

Every replica is a :class:`~lite_world.serve.app.WorldService` (same routes, validation, auth,
micro-batching and metrics as ``lite-world serve``) opened on the same on-disk snapshot: the
LMDB store is memory-mapped, so replicas on one node share its pages through the page cache.
Ray restarts a replica that dies; clients (:class:`~lite_world.serve.client.RemoteWorld`) retry
meanwhile. Ray is in every verl cluster already; ``pip install 'lite-world[ray]'`` elsewhere.

Example:
    >>> cfg = ServeConfig(host="0.0.0.0", port=8000)
    >>> serve_on_ray("/data/worlds/web-32m", cfg, replicas=8)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from typing import Any

from lite_world._lazy import require
from lite_world.serve.config import ServeConfig

__all__ = ["WorldReplica", "build_ray_app", "serve_on_ray", "start_ray_serve"]

logger = logging.getLogger(__name__)

APP_NAME = "lite-world"


class WorldReplica:
    """One Ray Serve replica: a warmed-up :class:`WorldService` that routes starlette requests."""

    def __init__(self, world: str, config: dict[str, Any]):
        from lite_world.serve.app import WorldService

        self.service = WorldService(world, ServeConfig(**config))
        if self.service.config.warmup:
            self.service.backend.warmup()
        self.service.ready = True

    async def __call__(self, request: Any) -> Any:
        return await self.service.handle(request)

    def check_health(self) -> None:
        if not self.service.ready:
            raise RuntimeError("Expects a ready world service, actual: not ready")


def build_ray_app(
    world: str,
    config: ServeConfig,
    *,
    replicas: int = 2,
    replica_cpus: float = 1.0,
    replica_gpus: float = 0.0,
) -> Any:
    """The Ray Serve application (``Deployment.bind()``) serving ``world`` on ``replicas``."""
    serve = require("ray.serve", extra="ray")
    deployment = serve.deployment(
        name="WorldReplica",
        num_replicas=replicas,
        ray_actor_options={
            "num_cpus": replica_cpus,
            **({"num_gpus": replica_gpus} if replica_gpus else {}),
        },
        # the replica's own admission control answers 503 first
        max_ongoing_requests=config.max_queue,
        health_check_period_s=2.0,
        health_check_timeout_s=30.0,
        graceful_shutdown_timeout_s=5.0,
    )(WorldReplica)
    cfg = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    return deployment.bind(os.path.abspath(os.path.expanduser(world)), cfg)


def start_ray_serve(
    world: str,
    config: ServeConfig,
    *,
    replicas: int = 2,
    replica_cpus: float = 1.0,
    replica_gpus: float = 0.0,
    address: str | None = None,
    temp_dir: str | None = None,
) -> None:
    """Start (or join) Ray, start Serve's HTTP proxies on ``config.host:port``, deploy the world."""
    ray = require("ray", extra="ray")
    serve = require("ray.serve", extra="ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not ray.is_initialized():
        if address is None and config.host in ("127.0.0.1", "localhost"):
            os.environ.setdefault(
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0"
            )  # a local node on loopback only
        kwargs: dict[str, Any] = {"address": address, "log_to_driver": False}
        if address is None:
            kwargs["include_dashboard"] = False
        if temp_dir is not None:
            kwargs["_temp_dir"] = temp_dir
        ray.init(**kwargs)
    serve.start(
        http_options={
            "host": config.host,
            "port": config.port,
            "request_timeout_s": config.request_timeout_s + 5,
            "keep_alive_timeout_s": config.keep_alive_s,
        },
        proxy_location="EveryNode",
    )
    serve.run(
        build_ray_app(
            world, config, replicas=replicas, replica_cpus=replica_cpus, replica_gpus=replica_gpus
        ),
        name=APP_NAME,
        route_prefix="/",
        blocking=False,
    )


def serve_on_ray(
    world: str,
    config: ServeConfig,
    *,
    replicas: int = 2,
    address: str | None = None,
    replica_cpus: float = 1.0,
    replica_gpus: float = 0.0,
) -> None:
    """``lite-world serve WORLD --ray``: deploy, wait for SIGINT/SIGTERM, take everything down."""
    ray = require("ray", extra="ray")
    serve = require("ray.serve", extra="ray")
    start_ray_serve(
        world,
        config,
        replicas=replicas,
        replica_cpus=replica_cpus,
        replica_gpus=replica_gpus,
        address=address,
    )
    print(
        f"lite-world serve (Ray Serve, {replicas} replicas): http://{config.host}:{config.port} "
        "on every node "
        f"(world {world}; Ctrl-C stops)",
        flush=True,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    serve.delete(APP_NAME)
    if address is None:  # we started this Ray: take it down; a shared cluster keeps its Serve
        serve.shutdown()
        ray.shutdown()
