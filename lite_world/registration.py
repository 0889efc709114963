"""Gymnasium registration of lite-world's environments.

``gym.make("LiteSearch-v0")`` works after ``import lite_world``; without the import, use
``gym.make("lite_world:LiteSearch-v0")`` (Gymnasium imports the module first). The env class is
registered with ``max_episode_steps`` = ``LiteSearchConfig.max_turns``' default, so
``gym.make(..., max_episode_steps=N)`` gives exactly one ``TimeLimit`` of N steps.

Example:
    >>> register_envs()
    >>> import gymnasium as gym
    >>> spec = gym.spec("LiteSearch-v0")
    >>> spec.entry_point, spec.max_episode_steps
    ('lite_world.envs.search_env:LiteSearchEnv', 32)
"""

from __future__ import annotations

__all__ = ["register_envs", "ENV_ID", "DEFAULT_MAX_EPISODE_STEPS"]

ENV_ID = "LiteSearch-v0"
DEFAULT_MAX_EPISODE_STEPS = 32
"""The registered ``max_episode_steps``: also ``LiteSearchConfig.max_turns``' default."""


def register_envs() -> None:
    """Register ``LiteSearch-v0`` (idempotent)."""
    import gymnasium as gym

    if ENV_ID not in gym.registry:
        gym.register(
            id=ENV_ID,
            entry_point="lite_world.envs.search_env:LiteSearchEnv",
            max_episode_steps=DEFAULT_MAX_EPISODE_STEPS,
        )
