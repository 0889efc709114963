"""The one documented way to build ``LiteSearch-v0`` from a config: :func:`make_env`.

It is ``gym.make`` with the turn limit taken from the config, so the env gets exactly one
``TimeLimit`` and Gymnasium's usual wrappers. Everything in lite-world that builds an env (the
rollout runner, the trainers, the verl adapter, the benchmarks) calls it or ``gym.make``.

Example:
    >>> from lite_world.envs.config import LiteSearchConfig
    >>> env = make_env(LiteSearchConfig(max_turns=4, search_mode="sparse"))
    >>> env.spec.max_episode_steps, env.unwrapped.config.search_mode
    (4, 'sparse')
    >>> make_env(search_k=0)
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects LiteSearchConfig.search_k to be an int in [1, 100], actual: 0
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from lite_world.envs.config import LiteSearchConfig
from lite_world.registration import ENV_ID, register_envs

__all__ = ["make_env"]


def make_env(config: LiteSearchConfig | None = None, **options: Any) -> gym.Env[str, str]:
    """``gym.make("LiteSearch-v0", ...)`` from ``config`` (``options`` override its fields).

    Args:
        config: the episode options; ``config.max_turns`` becomes ``max_episode_steps``.
        **options: ``LiteSearchConfig`` fields to override, including ``max_turns``.

    Raises:
        ConfigError: a bad option (checked here, before anything is opened).
    """
    config = (
        (config or LiteSearchConfig()).replace(**options)
        if options
        else (config or LiteSearchConfig())
    )
    register_envs()
    return gym.make(ENV_ID, max_episode_steps=config.max_turns, config=config)
