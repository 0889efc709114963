"""One batched world call for the searches of many envs' next steps.

A batched rollout steps its envs one after another; each ``step`` that searches encodes its
queries on its own. :func:`prefetch_searches` reads every env's next action first
(:meth:`~lite_world.envs.search_env.LiteSearchEnv.planned_searches`), and fills the world's
query and result caches with ONE encoder pass and one index search per world and candidate-pool
size (:meth:`lite_world.index.searcher.Searcher.prefetch`); the ``step`` calls then read the
caches. Observations are unchanged: a cached pool is the pool ``step`` would compute.

Example:
    >>> import gymnasium as gym
    >>> import lite_world
    >>> envs = [gym.make("LiteSearch-v0", action_format="tags") for _ in range(2)]
    >>> for env in envs:
    ...     _ = env.reset(seed=0)
    >>> actions = ["<search>Eiffel Tower height</search>", "<search>Ada Lovelace</search>"]
    >>> prefetch_searches(envs, actions)  # both queries encoded in one pass
    2
    >>> prefetch_searches(envs, actions)  # already cached
    0
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

__all__ = ["prefetch_searches"]

logger = logging.getLogger(__name__)


def prefetch_searches(envs: Sequence[Any], actions: Sequence[str]) -> int:
    """Run the searches that ``env.step(action)`` will run, batched; the queries encoded.

    Envs that are not :class:`~lite_world.envs.search_env.LiteSearchEnv` (after unwrapping),
    actions that do not search, and worlds without a local searcher (a remote world) are
    skipped: their ``step`` searches as usual. Never raises for an action; a failing world
    call is logged and left to ``step``, which reports it in its observation.
    """
    from lite_world.envs.search_env import LiteSearchEnv

    todo: dict[tuple[int, int], tuple[Any, dict[str, None]]] = {}
    for env, action in zip(envs, actions, strict=True):
        base = getattr(env, "unwrapped", env)
        if not isinstance(base, LiteSearchEnv):
            continue
        plan = base.planned_searches(action)
        if plan is None or not plan[1]:
            continue
        tool, queries, exclude = plan
        world = tool.world
        searcher = getattr(world, "searcher", None)
        if searcher is None or not hasattr(searcher, "prefetch"):
            continue
        mask_ids = getattr(world, "mask_ids", None)
        masked = len(mask_ids(exclude)) if exclude and mask_ids is not None else 0
        pool = searcher.pool_size(tool.k, masked)
        todo.setdefault((id(searcher), pool), (searcher, {}))[1].update(dict.fromkeys(queries))
    encoded = 0
    for (_, pool), (searcher, distinct) in todo.items():
        try:
            encoded += searcher.prefetch(list(distinct), pool)
        except Exception:  # noqa: BLE001 - step() runs the search again and reports the error
            logger.exception("batched search prefetch failed; each step searches on its own")
    return encoded
