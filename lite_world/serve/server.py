"""Running the world service: uvicorn in the foreground (``lite-world serve``) or in a thread.

uvicorn runs its h11 protocol, whose header limit (``h11_max_incomplete_event_size``) bounds every
request, with the deadlines of :mod:`lite_world.serve.guards`; uvloop is used when installed
(``pip install 'lite-world[serve]'``). Access logs are off and the server header is dropped (they
cost more than the routing).

Example:
    >>> with ServerThread("demo-v1", ServeConfig(port=0)) as srv:   # doctest: +SKIP
    ...     RemoteWorld(srv.url).search(["Carl Rogers"], k=3)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from lite_world._lazy import require
from lite_world.errors import ServiceError
from lite_world.serve.app import WorldService, create_app
from lite_world.serve.config import ServeConfig
from lite_world.serve.guards import uvicorn_kwargs

__all__ = ["serve", "ServerThread", "uvicorn_config", "bind_socket"]

logger = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port=0``: any free port), reusable right after a restart."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, config: ServeConfig) -> Any:
    """The ``uvicorn.Config`` serving ``app`` with the limits and deadlines of ``config``."""
    uvicorn = require("uvicorn", extra="serve")
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=10,
        backlog=4096,
        **uvicorn_kwargs(config),
    )


def serve(world: str | os.PathLike[str], config: ServeConfig | None = None) -> None:
    """Serve ``world`` until SIGINT/SIGTERM (in-flight requests finish first)."""
    uvicorn = require("uvicorn", extra="serve")
    config = config or ServeConfig()
    if config.host not in ("127.0.0.1", "localhost", "::1") and config.token is None:
        logger.warning(
            "serving on %s without a token: anyone who can reach the port can query the world",
            config.host,
        )
    server = uvicorn.Server(uvicorn_config(create_app(world, config), config))
    sock = bind_socket(config.host, config.port)
    host, port = sock.getsockname()[:2]
    print(f"lite-world serve: http://{host}:{port}  (world {world}; Ctrl-C stops)", flush=True)
    server.run(sockets=[sock])


class ServerThread:
    """The service on a background thread of this process (tests, benchmarks, notebooks).

    Args:
        world: a world directory (or an opened :class:`WorldService`).
        config: settings; ``port=0`` picks a free port, read back from :attr:`url`.
        sock: an already bound socket to serve on (to restart on the same port).
    """

    def __init__(
        self,
        world: str | os.PathLike[str] | WorldService,
        config: ServeConfig | None = None,
        sock: socket.socket | None = None,
    ):
        uvicorn = require("uvicorn", extra="serve")
        self.config = config or ServeConfig(port=0)
        self.app = create_app(world, self.config)
        self.service: WorldService = self.app.state.service
        self.server = uvicorn.Server(uvicorn_config(self.app, self.config))
        self.sock = sock or bind_socket(self.config.host, self.config.port)
        host, self.port = self.sock.getsockname()[:2]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            daemon=True,
            name="lite-world-serve",
        )

    def start(self, timeout_s: float = 120.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive():
                raise ServiceError(
                    f"Expects the world server to start on {self.url}, actual: it exited (see the "
                    "log)"
                )
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"Expects the world server to start within {timeout_s} s, actual: not started"
                )
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout_s)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
