"""``python -m trainers.grpo`` (console script ``lite-world-train-grpo``): train with GRPO.

Every :class:`~trainers.grpo.config.GRPOConfig` field is a flag (``--tasks-per-step 4``,
``--no-plot``, ``--env-kwargs '{"search_k": 5}'``); ``--config run.json`` (or ``.yaml``)
supplies values that flags override.

Usage:
    # CPU, SmolLM2-135M on the demo world (Search-R1 tags: a short prompt)
    python -m trainers.grpo --action-format tags --tasks-per-step 2 --group-size 4 \\
        --max-turns 2 --max-new-tokens 64 --learning-rate 1e-5 --steps 10 --output-dir runs/grpo-cpu
    # one GPU, a bigger model from the Hugging Face cache, the paper's batch
    python -m trainers.grpo --model Qwen/Qwen2.5-1.5B-Instruct --mixed-precision bf16 \\
        --tasks-per-step 16 --group-size 8 --max-turns 16 --micro-batch-size 8 --gradient-checkpointing
    # resume the latest checkpoint of a run
    python -m trainers.grpo --output-dir runs/grpo-cpu --steps 20 --resume-from latest

Example:
    >>> args = build_parser().parse_args(["--steps", "3", "--no-plot", "--env-kwargs", '{"search_k": 5}'])
    >>> config_from_args(args)[0].replace(output_dir="x").to_dict()["env_kwargs"], args.plot
    ({'search_k': 5}, False)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lite_world.errors import ConfigError, LiteWorldError

from trainers.grpo.config import GRPOConfig

__all__ = ["build_parser", "config_from_args", "main"]

_CLI_ONLY = ("config", "num_threads", "log_level")


def _field_type(field: dataclasses.Field) -> Any:
    kind = str(field.type)
    if kind.startswith("Mapping"):
        return json.loads
    for name, cast in (("bool", bool), ("int", int), ("float", float)):
        if kind.split(" ")[0] == name:
            return cast
    return str


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one flag per config field (unset flags stay out of the namespace)."""
    parser = argparse.ArgumentParser(
        prog="python -m trainers.grpo", description="Train a policy with GRPO in LiteSearch-v0.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter, argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", help="JSON or YAML file of GRPOConfig fields (flags override it)")
    parser.add_argument("--num-threads", type=int, help="torch CPU threads (1 is fastest on a busy 2-core machine)")
    parser.add_argument("--log-level", default="INFO", help="logging level")
    for field in dataclasses.fields(GRPOConfig):
        flag = "--" + field.name.replace("_", "-")
        cast = _field_type(field)
        help_text = field.metadata.get("help", "")
        if cast is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            parser.add_argument(flag, type=cast, help=help_text, metavar=field.name.upper())
    return parser


def config_from_args(args: argparse.Namespace) -> tuple[GRPOConfig, dict[str, Any]]:
    """``(config, cli_only_options)`` from parsed arguments (``--config`` file first, then flags)."""
    values: dict[str, Any] = {}
    path = getattr(args, "config", None)
    if path:
        text = Path(path).read_text()
        if path.endswith((".yaml", ".yml")):
            from lite_world._lazy import require

            values.update(require("yaml").safe_load(text) or {})
        else:
            values.update(json.loads(text))
    given = vars(args)
    values.update({k: v for k, v in given.items() if k not in _CLI_ONLY})
    return GRPOConfig.from_dict(values), {k: given.get(k) for k in _CLI_ONLY}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, train, print the last step's metrics as JSON. Returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        config, options = config_from_args(args)
    except (LiteWorldError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=str(options["log_level"] or "INFO").upper(), format="%(asctime)s %(name)s: %(message)s")
    if options["num_threads"]:
        import torch

        torch.set_num_threads(int(options["num_threads"]))
    from trainers.grpo.trainer import GRPOTrainer

    try:
        history = GRPOTrainer(config).train()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(history[-1] if history else {"step": config.steps, "note": "nothing to do"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
