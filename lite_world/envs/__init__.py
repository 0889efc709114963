"""Gymnasium environments of lite-world: ``LiteSearch-v0``, its config and its factory."""

from lite_world.envs.config import LiteSearchConfig
from lite_world.envs.factory import make_env
from lite_world.envs.search_env import LiteSearchEnv
from lite_world.envs.spaces import AnyText

__all__ = ["LiteSearchEnv", "LiteSearchConfig", "make_env", "AnyText"]
