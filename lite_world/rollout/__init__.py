"""The rollout runner: many episodes of an agent in LiteSearch-v0, trajectories and a summary."""

from lite_world.rollout.runner import Episode, RolloutConfig, run_episode, run_rollouts
from lite_world.rollout.summary import pass_at_k, summarize

__all__ = ["Episode", "RolloutConfig", "run_episode", "run_rollouts", "summarize", "pass_at_k"]
