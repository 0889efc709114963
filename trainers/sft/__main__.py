"""``python -m trainers.sft`` (console script ``lite-world-sft``): cold-start SFT.

Every :class:`~trainers.sft.config.SFTConfig` field is a flag (``--max-steps 20``, ``--lora``,
``--no-shuffle``, ``--lora-target-modules q_proj,v_proj``); ``--config run.json`` (or ``.yaml``)
supplies values that flags override. Prints a JSON summary at the end.

Usage:
    # CPU, SmolLM2-135M, full-parameter
    python -m trainers.sft --data runs/sft-data --model smollm2 --output-dir runs/sft --max-steps 20 \\
        --max-length 2048 --num-threads 1
    # one GPU, a bigger model from the Hugging Face cache, LoRA
    python -m trainers.sft --data runs/sft-data --model Qwen/Qwen2.5-1.5B-Instruct --lora --epochs 2 \\
        --batch-size 4 --gradient-accumulation-steps 4 --mixed-precision bf16 --gradient-checkpointing
    # then RL from the fine-tuned model
    python -m trainers.grpo --model runs/sft/model ...

Example:
    >>> args = build_parser().parse_args(["--data", "d", "--max-steps", "3", "--lora", "--no-shuffle"])
    >>> config = config_from_args(args)[0]
    >>> config.max_steps, config.lora, config.shuffle, config.learning_rate
    (3, True, False, 2e-05)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainers._cli import config_from_args as _config_from_args
from trainers._cli import config_parser, run_main
from trainers.sft.config import SFTConfig

__all__ = ["build_parser", "config_from_args", "main", "summary"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one flag per config field (unset flags stay out of the namespace)."""
    return config_parser(
        SFTConfig,
        "python -m trainers.sft",
        "Cold-start SFT of a search agent on conversation records.",
    )


def config_from_args(args: argparse.Namespace) -> tuple[SFTConfig, dict[str, Any]]:
    """``(config, cli_only_options)`` from parsed arguments (``--config`` file first, then flags)."""
    return _config_from_args(SFTConfig, args)


def summary(history: Sequence[dict[str, Any]], output_dir: str) -> dict[str, Any]:
    """The run's summary: steps, first and last loss, where the model is.

    Example:
        >>> summary([{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}], "runs/sft")["last_loss"]
        1.5
    """
    return {
        "steps": history[-1]["step"] if history else 0,
        "first_loss": history[0]["loss"] if history else None,
        "last_loss": history[-1]["loss"] if history else None,
        "output_dir": output_dir,
        "model_dir": str(Path(output_dir) / "model"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, train, print a JSON summary. Returns the exit status."""

    def train(config: SFTConfig) -> list[dict[str, Any]]:
        from trainers.sft.trainer import SFTTrainer

        return SFTTrainer(config).train()

    return run_main(build_parser(), SFTConfig, argv, train, lambda c, h: summary(h, c.output_dir))


if __name__ == "__main__":
    raise SystemExit(main())
