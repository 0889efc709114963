"""lite-world: a lite virtual world for reinforcement learning of deep-research agents.

Importing the package registers the Gymnasium environment ``LiteSearch-v0``.

Example:
    >>> import gymnasium as gym, lite_world
    >>> "LiteSearch-v0" in gym.registry
    True
"""

from lite_world.errors import LiteWorldError
from lite_world.registration import register_envs
from lite_world.version import __version__

register_envs()

__all__ = ["__version__", "LiteWorldError", "register_envs"]
