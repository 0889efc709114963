"""The trainers' command lines: one ``--flag`` per field of a frozen config dataclass.

``--config run.json`` (or ``.yaml``) supplies values; flags given on the command line override
them; flags not given stay out of the namespace, so the dataclass defaults apply.

Example:
    >>> from trainers.sft.config import SFTConfig
    >>> parser = config_parser(SFTConfig, "python -m trainers.sft", "SFT")
    >>> config, options = config_from_args(SFTConfig, parser.parse_args(["--data", "d", "--no-shuffle"]))
    >>> config.shuffle, options["num_threads"]
    (False, None)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lite_world.config import add_config_flags, config_values
from lite_world.errors import LiteWorldError

__all__ = ["CLI_ONLY", "config_from_args", "config_parser", "run_main", "setup_run"]

CLI_ONLY = ("config", "num_threads", "log_level")
"""Options of the command line itself, not config fields."""


def config_parser(config_cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with ``--config``, ``--num-threads``, ``--log-level`` and a flag per field of ``config_cls``.

    The flags come from :func:`lite_world.config.add_config_flags` (nested configs such as the
    episodes' ``env: LiteSearchConfig`` are flattened: ``--world``, ``--search-k``, ``--max-turns``).
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--config",
        default=None,
        help=f"JSON or YAML file of {config_cls.__name__} fields (flags override it)",
    )
    parser.add_argument(
        "--num-threads",
        type=int,
        default=None,
        help="torch CPU threads (1 is fastest on a busy 2-core machine)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level")
    add_config_flags(parser, config_cls)
    return parser


def config_from_args(config_cls: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
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
    _deep_update(values, config_values(args))
    given = vars(args)
    return config_cls.from_dict(values), {k: given.get(k) for k in CLI_ONLY}


def _deep_update(target: dict[str, Any], updates: dict[str, Any]) -> None:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def setup_run(options: dict[str, Any]) -> None:
    """Configure logging and torch's CPU threads from the command-line-only options."""
    logging.basicConfig(
        level=str(options["log_level"] or "INFO").upper(),
        format="%(asctime)s %(name)s: %(message)s",
    )
    if options["num_threads"]:
        import torch

        torch.set_num_threads(int(options["num_threads"]))


def run_main(
    parser: argparse.ArgumentParser,
    config_cls: Any,
    argv: Sequence[str] | None,
    train: Callable[[Any], Any],
    report: Callable[[Any, Any], dict[str, Any]],
) -> int:
    """Parse ``argv``, build the config, ``train(config)``, print ``report(config, history)`` as JSON.

    Returns the exit status: 2 (with the message on stderr) for a bad config or a failed run.
    """
    args = parser.parse_args(argv)
    try:
        config, options = config_from_args(config_cls, args)
    except (LiteWorldError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_run(options)
    try:
        history = train(config)
    except LiteWorldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report(config, history), indent=2))
    return 0
