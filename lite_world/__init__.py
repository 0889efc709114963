"""lite-world: a lite virtual world for reinforcement learning of deep-research agents.

Importing the package registers the Gymnasium environment ``LiteSearch-v0`` and nothing heavy:
torch, faiss and the encoder load when a world is opened, matplotlib when a report is drawn.
The public names below load on first use.

Example:
    >>> import gymnasium as gym, lite_world
    >>> from lite_world import LiteSearchConfig, Task, load_tasks, open_world
    >>> env = gym.make("LiteSearch-v0", tasks=[{"id": "q", "question": "Who founded Publix?",
    ...                                        "answers": ["George W. Jenkins"]}], search_k=2)
    >>> obs, info = env.reset(seed=0)
    >>> info["task"]["id"], info["stop"][:2]
    ('q', ['\\n<tool_response>', '<tool_response>'])
    >>> obs, reward, terminated, truncated, info = env.step("<answer>George W. Jenkins</answer>")
    >>> reward, terminated
    (1.0, True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lite_world.errors import LiteWorldError
from lite_world.registration import register_envs
from lite_world.version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.envs.factory import make_env
    from lite_world.envs.search_env import LiteSearchEnv
    from lite_world.serve.client import RemoteWorld
    from lite_world.tasks import Task, load_tasks
    from lite_world.tools.base import Tool, ToolResult
    from lite_world.tools.registry import register_tool
    from lite_world.world import World
    from lite_world.worlds import WorldLike, open_world

register_envs()

_LAZY = {
    "World": "lite_world.world",
    "WorldLike": "lite_world.worlds",
    "open_world": "lite_world.worlds",
    "RemoteWorld": "lite_world.serve.client",
    "LiteSearchEnv": "lite_world.envs.search_env",
    "LiteSearchConfig": "lite_world.envs.config",
    "make_env": "lite_world.envs.factory",
    "Task": "lite_world.tasks",
    "load_tasks": "lite_world.tasks",
    "Tool": "lite_world.tools.base",
    "ToolResult": "lite_world.tools.base",
    "register_tool": "lite_world.tools.registry",
}

__all__ = [
    "__version__",
    "LiteWorldError",
    "register_envs",
    "World",
    "WorldLike",
    "open_world",
    "RemoteWorld",
    "LiteSearchEnv",
    "LiteSearchConfig",
    "make_env",
    "Task",
    "load_tasks",
    "Tool",
    "ToolResult",
    "register_tool",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lite_world' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
