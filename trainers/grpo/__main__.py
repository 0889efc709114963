"""``python -m trainers.grpo`` (console script ``lite-world-train-grpo``): train with GRPO.

Every :class:`~trainers.grpo.config.GRPOConfig` field is a flag (``--tasks-per-step 4``,
``--no-plot``), and so is every field of its episodes' ``LiteSearchConfig`` (``--world``,
``--search-k 5``, ``--max-turns 4``); ``--config run.json`` (or ``.yaml``) supplies values
that flags override.

Usage:
    # CPU, SmolLM2-135M on the demo world (Search-R1 tags: a short prompt)
    python -m trainers.grpo --action-format tags --tasks-per-step 2 --group-size 4 \\
        --max-turns 2 --max-new-tokens 64 --learning-rate 1e-5 --steps 10 --output-dir runs/grpo-cpu
    # one GPU, a bigger model from the Hugging Face cache, the paper's batch
    python -m trainers.grpo --model Qwen/Qwen2.5-1.5B-Instruct --mixed-precision bf16 \\
        --tasks-per-step 16 --group-size 8 --max-turns 16 --micro-batch-size 8 \\
        --gradient-checkpointing
    # resume the latest checkpoint of a run
    python -m trainers.grpo --output-dir runs/grpo-cpu --steps 20 --resume-from latest

Example:
    >>> flags = ["--steps", "3", "--no-plot", "--search-k", "5", "--max-turns", "4"]
    >>> args = build_parser().parse_args(flags)
    >>> config = config_from_args(args)[0]
    >>> config.env.search_k, config.env.max_turns, config.plot
    (5, 4, False)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from trainers._cli import config_from_args as _config_from_args
from trainers._cli import config_parser, run_main
from trainers.grpo.config import GRPOConfig

__all__ = ["build_parser", "config_from_args", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one flag per config field (unset flags stay out of the namespace)."""
    return config_parser(
        GRPOConfig, "python -m trainers.grpo", "Train a policy with GRPO in LiteSearch-v0."
    )


def config_from_args(args: argparse.Namespace) -> tuple[GRPOConfig, dict[str, Any]]:
    """``(config, cli_only_options)`` from parsed arguments (``--config`` file, then flags)."""
    return _config_from_args(GRPOConfig, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, train, print the last step's metrics as JSON. Returns the exit status."""

    def train(config: GRPOConfig) -> list[dict[str, Any]]:
        from trainers.grpo.trainer import GRPOTrainer

        return GRPOTrainer(config).train()

    def report(config: GRPOConfig, history: list[dict[str, Any]]) -> dict[str, Any]:
        return history[-1] if history else {"step": config.steps, "note": "nothing to do"}

    return run_main(build_parser(), GRPOConfig, argv, train, report)


if __name__ == "__main__":
    raise SystemExit(main())
