"""Gymnasium environments of lite-world."""

from lite_world.envs.search_env import LiteSearchEnv, make_lite_search
from lite_world.envs.spaces import AnyText

__all__ = ["LiteSearchEnv", "make_lite_search", "AnyText"]
