"""The world as a service: a batched HTTP tool server, and a client that stands in for a world.

Server: ``lite-world serve WORLD`` (uvicorn + Starlette; ``--ray --replicas N`` for Ray Serve).
Client: :class:`RemoteWorld`, accepted wherever a world path is (``world="http://127.0.0.1:8000"``).
See ``lite_world/serve/README.md`` for the protocol, metrics and multi-node use.

Example:
    >>> from lite_world.serve import ServeConfig
    >>> ServeConfig(port=0).port
    0
"""

from lite_world.serve.app import WorldService, create_app
from lite_world.serve.client import RemoteWorld
from lite_world.serve.config import ServeConfig
from lite_world.serve.server import ServerThread, serve

__all__ = ["RemoteWorld", "ServeConfig", "ServerThread", "WorldService", "create_app", "serve"]
