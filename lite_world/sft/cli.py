"""``lite-world sft-data``: teacher trajectories → filtered, cleaned SFT data and its report.

Usage::

    lite-world rollout --agent openai --base-url http://127.0.0.1:8000/v1 --model teacher --out runs/teacher
    lite-world sft-data runs/teacher --out runs/sft-data --tokenizer smollm2
    python -m trainers.sft --data runs/sft-data --output-dir runs/sft      # the trainer

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers()
    >>> add_sft_parser(sub)
    >>> a = p.parse_args(["sft-data", "runs/t", "--out", "runs/d", "--rules", "F1", "F7"])
    >>> a.rules, a.tokenizer
    (['F1', 'F7'], None)
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from lite_world.sft.cleaning import CLEANING_STEPS
from lite_world.sft.filters import RULES

__all__ = ["add_sft_parser"]


def _load_tokenizer(name: str) -> Any:
    if name == "smollm2":
        from lite_world.agents.smollm import load_smollm2

        return load_smollm2()[1]
    from lite_world._lazy import require

    transformers = require("transformers", extra="llm")
    return transformers.AutoTokenizer.from_pretrained(name, local_files_only=True)


def _cmd_sft_data(a: argparse.Namespace) -> int:
    from lite_world.sft.pipeline import SFTDataConfig, build_sft_data, token_counter
    from lite_world.sft.trajectory import read_trajectories

    config = SFTDataConfig(
        rules=tuple(a.rules),
        cleaning=tuple(a.cleaning),
        action_format=a.action_format,
        max_repeats=a.max_repeats,
        min_tool_calls=a.min_tool_calls,
        max_tool_errors=a.max_tool_errors,
    )
    judge = None
    if a.judge_url:
        from lite_world.reward.judge import JudgeConfig, LLMJudge

        judge = LLMJudge(JudgeConfig(base_url=a.judge_url, model=a.judge_model or "judge"))
    counter = token_counter(_load_tokenizer(a.tokenizer)) if a.tokenizer else None
    records = (r for path in a.trajectories for r in read_trajectories(path))
    result = build_sft_data(
        records, config, a.out, judge=judge, count_tokens=counter, show_progress=not a.quiet
    )
    report = {k: v for k, v in result.report.items() if k not in ("histograms", "config")}
    print(
        json.dumps(
            {"report": report, "files": {k: str(v) for k, v in result.paths.items()}}, indent=2
        )
    )
    return 0


def add_sft_parser(sub: Any) -> None:
    """Register the ``sft-data`` subcommand."""
    p = sub.add_parser(
        "sft-data", help="filter (F1-F7) and clean (C1-C4) teacher trajectories into SFT data"
    )
    p.add_argument(
        "trajectories", nargs="+", help="trajectories.jsonl files or rollout run directories"
    )
    p.add_argument(
        "--out",
        required=True,
        help="output directory (sft.jsonl, sft.parquet, verl_sft.parquet, report)",
    )
    p.add_argument(
        "--rules",
        nargs="+",
        default=list(RULES),
        choices=RULES,
        help="filters to apply (default: all)",
    )
    p.add_argument(
        "--cleaning",
        nargs="+",
        default=list(CLEANING_STEPS),
        choices=CLEANING_STEPS,
        help="cleaning steps (default: all)",
    )
    p.add_argument("--action-format", default="tool_call", choices=["tool_call", "tags"])
    p.add_argument(
        "--max-repeats", type=int, default=3, help="F2: most times one tool call may occur"
    )
    p.add_argument("--min-tool-calls", type=int, default=2, help="F3: fewest tool calls")
    p.add_argument("--max-tool-errors", type=int, default=2, help="F6: most tool-call errors")
    p.add_argument(
        "--judge-url",
        default=None,
        help="F1 judge: an OpenAI-compatible base URL (default: exact match)",
    )
    p.add_argument("--judge-model", default=None, help="F1 judge: model name")
    p.add_argument(
        "--tokenizer",
        default=None,
        help="count report tokens with 'smollm2' or a local tokenizer dir "
        "(default: characters / 4)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=_cmd_sft_data)
