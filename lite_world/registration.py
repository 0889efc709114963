"""Gymnasium registration of lite-world's environments.

``gym.make("LiteSearch-v0")`` works after ``import lite_world``; without the import, use
``gym.make("lite_world:LiteSearch-v0")`` (Gymnasium imports the module first).

Example:
    >>> register_envs()
    >>> import gymnasium as gym
    >>> gym.spec("LiteSearch-v0").entry_point
    'lite_world.envs.search_env:make_lite_search'
"""

from __future__ import annotations

__all__ = ["register_envs"]


def register_envs() -> None:
    """Register ``LiteSearch-v0`` (idempotent)."""
    import gymnasium as gym

    if "LiteSearch-v0" not in gym.registry:
        # max_turns is an env kwarg; make_lite_search applies TimeLimit(max_turns) itself, so
        # truncation still comes from TimeLimit and follows the kwarg.
        gym.register(id="LiteSearch-v0", entry_point="lite_world.envs.search_env:make_lite_search")
