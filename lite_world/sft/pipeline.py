"""Teacher trajectories in, SFT data out: filters F1–F7, cleaning C1–C4, both layouts, a report.

Example:
    >>> import json, tempfile, pathlib
    >>> call = ('<think>{t}</think>\\n<tool_call>\\n{{"name": "search", "arguments": {{"query": ["{q}"]}}}}'
    ...         '\\n</tool_call>')
    >>> episode = {"task_id": "t1", "question": "Who wrote Dune?", "answers": ["Frank Herbert"], "messages": [
    ...     {"role": "system", "content": "teacher prompt"}, {"role": "user", "content": "Who wrote Dune?"},
    ...     {"role": "assistant", "content": call.format(t="Search.", q="Dune novel")},
    ...     {"role": "user", "content": "<tool_response>\\nDune is a novel.\\n</tool_response>"},
    ...     {"role": "assistant", "content": call.format(t="Author?", q="Dune author")},
    ...     {"role": "user", "content": "<tool_response>\\nBy Frank Herbert.\\n</tool_response>"},
    ...     {"role": "assistant", "content": "<think>Found.</think>\\n<answer>Frank Herbert</answer>"}]}
    >>> wrong = dict(episode, task_id="t2", answers=["Isaac Asimov"])
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> result = build_sft_data([episode, wrong], SFTDataConfig(), out)
    >>> result.report["kept"], result.report["first_reason"]
    (1, {'F1_incorrect': 1})
    >>> result.records[0]["messages"][0]["content"].startswith("You are")   # C1: the env's prompt
    True
    >>> sorted(p.name for p in out.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['dropped.jsonl', 'report.json', 'report.md', 'report.png', 'sft.jsonl', 'sft.parquet', 'verl_sft.parquet']
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lite_world.config import ConfigMixin
from lite_world.errors import ConfigError, TaskError
from lite_world.reward.judge import LLMJudge
from lite_world.sft.cleaning import CLEANING_STEPS, clean_messages
from lite_world.sft.export import write_records
from lite_world.sft.filters import DEFAULT_ALLOWED_TOOLS, RULES, check_all
from lite_world.sft.records import make_record
from lite_world.sft.report import summarize_build, write_report
from lite_world.sft.trajectory import Trajectory
from lite_world.tools.prompts import DEFAULT_DATE
from lite_world.tools.protocol import ACTION_FORMATS, ActionFormat

__all__ = ["SFTDataConfig", "SFTDataResult", "build_sft_data", "token_counter"]

logger = logging.getLogger(__name__)

TokenCounter = Callable[[Sequence[Mapping[str, str]]], int]


@dataclass(frozen=True)
class SFTDataConfig(ConfigMixin):
    """How teacher trajectories become SFT data (defaults: the paper's rules)."""

    rules: tuple[str, ...] = field(
        default=RULES, metadata={"help": "Filters to apply, among F1..F7."}
    )
    cleaning: tuple[str, ...] = field(
        default=CLEANING_STEPS, metadata={"help": "Cleaning steps, among C1..C4."}
    )
    max_repeats: int = field(
        default=3, metadata={"help": "F2: most times one tool call may occur."}
    )
    min_tool_calls: int = field(
        default=2, metadata={"help": "F3: fewest tool calls a kept trajectory has."}
    )
    allowed_tools: tuple[str, ...] = field(
        default=DEFAULT_ALLOWED_TOOLS, metadata={"help": "F4: the allowed tools."}
    )
    max_tool_errors: int = field(
        default=2, metadata={"help": "F6: most tool-call errors a kept trajectory has."}
    )
    max_answer_chars: int = field(
        default=100, metadata={"help": "C2: longer answers become the reference answer."}
    )
    action_format: ActionFormat = field(
        default="tool_call", metadata={"help": "The env's action format (C1's system prompt)."}
    )
    date: str | None = field(
        default=DEFAULT_DATE, metadata={"help": "C1: the date line of the system prompt."}
    )
    dedup: bool = field(
        default=True, metadata={"help": "Drop conversations identical to a kept one ('duplicate')."}
    )
    data_source: str = field(
        default="lite-world", metadata={"help": "The records' data_source field."}
    )

    def __post_init__(self) -> None:
        bad = [r for r in self.rules if r not in RULES]
        if bad:
            raise ConfigError(f"Expects rules among {RULES}, actual: {bad}")
        bad = [c for c in self.cleaning if c not in CLEANING_STEPS]
        if bad:
            raise ConfigError(f"Expects cleaning steps among {CLEANING_STEPS}, actual: {bad}")
        if self.action_format not in ACTION_FORMATS:
            raise ConfigError(
                f"Expects action_format in {ACTION_FORMATS}, actual: {self.action_format!r}"
            )
        for name in ("max_repeats", "min_tool_calls", "max_tool_errors", "max_answer_chars"):
            if getattr(self, name) < 0:
                raise ConfigError(f"Expects {name} >= 0, actual: {getattr(self, name)}")
        if not self.allowed_tools:
            raise ConfigError("Expects at least one allowed tool, actual: none")


@dataclass(frozen=True)
class SFTDataResult:
    """What :func:`build_sft_data` produced: the kept records, the report, the files written."""

    records: list[dict[str, Any]]
    report: dict[str, Any]
    paths: dict[str, Path]


def token_counter(tokenizer: Any) -> TokenCounter:
    """A function counting the tokens of a conversation rendered with ``tokenizer``'s chat template.

    Example:
        >>> from lite_world.agents.smollm import load_smollm2
        >>> count = token_counter(load_smollm2()[1])
        >>> count([{"role": "user", "content": "Hi"}])  # the template adds SmolLM2's default system prompt
        27
    """

    def count(messages: Sequence[Mapping[str, str]]) -> int:
        text = tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def _chars4(messages: Sequence[Mapping[str, str]]) -> int:
    return sum(len(m["content"]) for m in messages) // 4


def build_sft_data(
    trajectories: Iterable[Mapping[str, Any]],
    config: SFTDataConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    judge: LLMJudge | None = None,
    count_tokens: TokenCounter | None = None,
    show_progress: bool = False,
) -> SFTDataResult:
    """Filter, clean and export teacher ``trajectories`` (rollout-runner records).

    Args:
        trajectories: Records with ``messages`` (and ``answers`` for F1), e.g. from
            :func:`~lite_world.sft.trajectory.read_trajectories`.
        config: The rules (default: the paper's).
        out_dir: Where to write both layouts, ``dropped.jsonl`` (id and reasons of each
            dropped trajectory) and the report; ``None`` writes nothing.
        judge: F1's LLM judge (exact match without one, or when it fails).
        count_tokens: Token counter for the report (e.g. :func:`token_counter`); default
            characters / 4, reported as ``"chars/4"``.
        show_progress: Show a progress bar.
    """
    config = config or SFTDataConfig()
    counter = count_tokens or _chars4
    records: list[dict[str, Any]] = []
    dropped: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    total = invalid = 0
    tokens: list[int] = []
    turns: list[int] = []
    for episode in tqdm(trajectories, desc="sft-data", unit="traj", disable=not show_progress):
        total += 1
        try:
            traj = Trajectory.from_episode(episode, config.action_format)
        except TaskError as exc:
            invalid += 1
            logger.warning("skipping record %d: %s", total, exc)
            continue
        reasons = check_all(
            traj,
            rules=config.rules,
            judge=judge,
            max_repeats=config.max_repeats,
            min_calls=config.min_tool_calls,
            allowed_tools=config.allowed_tools,
            max_errors=config.max_tool_errors,
        )
        if reasons:
            dropped.append((traj.id, reasons))
            continue
        messages = clean_messages(
            traj.messages,
            answers=traj.answers,
            action_format=config.action_format,
            date=config.date,
            max_answer_chars=config.max_answer_chars,
            steps=config.cleaning,
        )
        key = json.dumps(
            [m["content"] for m in messages if m["role"] == "assistant"] + [traj.question]
        )
        if config.dedup and key in seen:
            dropped.append((traj.id, ["duplicate"]))
            continue
        seen.add(key)
        record = make_record(
            traj.id,
            messages,
            question=traj.question,
            answers=traj.answers,
            data_source=config.data_source,
        )
        records.append(record)
        tokens.append(counter(messages))
        turns.append(record["meta"]["turns"])
    report = summarize_build(
        total,
        [r for _, r in dropped],
        token_counts=tokens,
        turns=turns,
        token_unit="tokens" if count_tokens else "chars/4",
        invalid=invalid,
    )
    report["config"] = config.to_dict()
    paths: dict[str, Path] = {}
    if out_dir is not None:
        paths.update(write_records(records, out_dir))
        with open(Path(out_dir) / "dropped.jsonl", "w", encoding="utf-8") as f:
            for tid, reasons in dropped:
                f.write(json.dumps({"id": tid, "reasons": reasons}) + "\n")
        paths["dropped"] = Path(out_dir) / "dropped.jsonl"
        paths.update({f"report_{k}": v for k, v in write_report(report, out_dir).items()})
    if not records:
        logger.warning("no trajectory passed the filters: %s", report["first_reason"])
    return SFTDataResult(records, report, paths)
