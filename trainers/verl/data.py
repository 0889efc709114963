"""Tasks → a verl RL data file (Parquet), one row per task.

Each row has the columns verl's ``RLHFDataset`` and reward loop read:

* ``prompt``: the episode's opening messages (system prompt with the tool schemas, then the
  question), exactly what ``LiteSearch-v0``'s ``reset`` puts in ``info["messages"]``;
* ``agent_name``: ``lite_search_agent`` (our loop) or ``tool_agent`` (verl's stock loop);
* ``data_source``, ``ability``;
* ``reward_model``: ``{"style": "rule", "ground_truth": {"target": [answers...]}}``;
* ``extra_info``: ``index``, ``split``, ``task_id``, ``question``, ``answers``, ``mask_urls``,
  ``task`` (the full task as JSON, so ``meta`` of any shape survives Parquet),
  ``need_tools_kwargs`` and ``tools_kwargs`` (``{"search"|"visit": {"create_kwargs":
  {"mask_urls": [...]}}}``: per-sample masking for the stock tools).

Command line (``lite_world`` does not import ``trainers``, so this is a module CLI)::

    python -m trainers.verl.data TASKS OUT.parquet [--agent lite_search_agent] [--limit N]

``TASKS`` is a JSONL / Parquet / MuSiQue-JSON task file, or ``demo`` for the bundled tasks.

Example:
    >>> from lite_world.tasks import Task
    >>> task = Task.from_dict({"id": "q1", "question": "Who wrote Dune?", "answers": ["Frank Herbert"],
    ...                        "mask_urls": ["https://en.wikipedia.org/wiki/Dune_(novel)"]})
    >>> row = task_to_row(task, index=0)
    >>> [m["role"] for m in row["prompt"]], row["prompt"][1]["content"], row["agent_name"]
    (['system', 'user'], 'Who wrote Dune?', 'lite_search_agent')
    >>> row["reward_model"]["ground_truth"], row["extra_info"]["tools_kwargs"]["search"]
    ({'target': ['Frank Herbert']}, {'create_kwargs': {'mask_urls': ['https://en.wikipedia.org/wiki/Dune_(novel)']}})
    >>> task_from_extra_info(row["extra_info"]) == task
    True
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lite_world.config import add_config_flags, config_values
from lite_world.envs.config import LiteSearchConfig
from lite_world.errors import ConfigError, LiteWorldError, TaskError
from lite_world.tasks import Task, demo_tasks, load_tasks
from lite_world.tools.prompts import episode_messages
from lite_world.tools.registry import resolve_tool

__all__ = [
    "AGENT_NAMES",
    "DATA_SOURCE",
    "task_to_row",
    "task_from_extra_info",
    "tasks_to_rows",
    "write_parquet",
    "main",
]

DATA_SOURCE = "lite_world"
AGENT_NAMES = ("lite_search_agent", "tool_agent")


def task_to_row(
    task: Task,
    index: int,
    *,
    agent_name: str = "lite_search_agent",
    data_source: str = DATA_SOURCE,
    split: str = "train",
    env: LiteSearchConfig | None = None,
) -> dict[str, Any]:
    """One verl row for ``task`` (see the module docstring for the columns).

    ``env`` must be the episodes' options (its action format, tools, system prompt and date; the
    defaults by default) so that the row's prompt is the env's opening conversation.
    """
    env = env or LiteSearchConfig()
    if agent_name not in AGENT_NAMES:
        raise ConfigError(f"Expects agent_name in {AGENT_NAMES}, actual: {agent_name!r}")
    masks = list(task.mask_urls)
    return {
        "data_source": data_source,
        "agent_name": agent_name,
        "prompt": episode_messages(
            task.question,
            env.action_format,
            env.date,  # type: ignore[arg-type]
            tools=env.tools,
            custom_prompt=env.prompt_text(),
        ),
        "ability": "deep_research",
        "reward_model": {"style": "rule", "ground_truth": {"target": list(task.answers)}},
        "extra_info": {
            "index": int(index),
            "split": split,
            "task_id": task.id,
            "question": task.question,
            "answers": list(task.answers),
            "mask_urls": masks,
            "task": json.dumps(task.to_dict(), ensure_ascii=False, sort_keys=True),
            "need_tools_kwargs": True,
            "tools_kwargs": {
                resolve_tool(spec).name: {"create_kwargs": {"mask_urls": masks}}
                for spec in env.tools
            },
        },
    }


def task_from_extra_info(extra_info: Mapping[str, Any]) -> Task:
    """The task of a row, from its ``extra_info`` (``task`` as JSON or a dict).

    Raises:
        TaskError: ``extra_info`` has no usable ``task``.
    """
    if not isinstance(extra_info, Mapping) or "task" not in extra_info:
        keys = sorted(extra_info) if isinstance(extra_info, Mapping) else type(extra_info).__name__
        raise TaskError(
            f"Expects extra_info['task'] (written by `python -m trainers.verl.data`), actual: {keys}"
        )
    raw = extra_info["task"]
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise TaskError(
                f"Expects extra_info['task'] to be task JSON, actual: {raw[:200]!r}"
            ) from exc
    return Task.from_dict(raw)


def tasks_to_rows(tasks: Iterable[Task], **kwargs: Any) -> list[dict[str, Any]]:
    """:func:`task_to_row` for each task, indexed from 0."""
    return [task_to_row(t, i, **kwargs) for i, t in enumerate(tasks)]


def _schema(tool_names: Sequence[str]) -> Any:
    import pyarrow as pa

    strings = pa.list_(pa.string())
    tools_kwargs = pa.struct(
        [
            (name, pa.struct([("create_kwargs", pa.struct([("mask_urls", strings)]))]))
            for name in tool_names
        ]
    )
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("agent_name", pa.string()),
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("ability", pa.string()),
            (
                "reward_model",
                pa.struct(
                    [("style", pa.string()), ("ground_truth", pa.struct([("target", strings)]))]
                ),
            ),
            (
                "extra_info",
                pa.struct(
                    [
                        ("index", pa.int64()),
                        ("split", pa.string()),
                        ("task_id", pa.string()),
                        ("question", pa.string()),
                        ("answers", strings),
                        ("mask_urls", strings),
                        ("task", pa.string()),
                        ("need_tools_kwargs", pa.bool_()),
                        ("tools_kwargs", tools_kwargs),
                    ]
                ),
            ),
        ]
    )


def write_parquet(rows: Sequence[Mapping[str, Any]], out: str | Path) -> Path:
    """Write rows with a fixed schema (empty mask lists stay ``list<string>``, never ``list<null>``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not rows:
        raise TaskError("Expects at least one row to write, actual: none")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tool_names = list(rows[0]["extra_info"]["tools_kwargs"])
    pq.write_table(pa.Table.from_pylist(list(rows), schema=_schema(tool_names)), path)
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trainers.verl.data",
        description="Convert lite-world tasks into a verl RL Parquet file "
        "(prompt, reward_model, extra_info, agent_name).",
    )
    p.add_argument(
        "tasks", help="task file (.jsonl, .parquet, MuSiQue .json) or 'demo' for the bundled tasks"
    )
    p.add_argument("out", help="output .parquet path")
    p.add_argument(
        "--agent",
        default="lite_search_agent",
        choices=AGENT_NAMES,
        help="agent_name of every row (default: lite_search_agent)",
    )
    p.add_argument(
        "--data-source", default=DATA_SOURCE, help=f"data_source column (default: {DATA_SOURCE})"
    )
    p.add_argument("--split", default="train", help="extra_info.split (default: train)")
    p.add_argument("--limit", type=int, default=None, help="keep the first N tasks")
    p.add_argument(
        "--offset",
        type=int,
        default=0,
        help="skip the first N tasks (e.g. to hold out a validation file)",
    )
    env = p.add_argument_group("episode options the prompt must match (LiteSearchConfig)")
    add_config_flags(env, LiteSearchConfig, exclude=("world", "tasks"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints a one-line JSON summary."""
    a = _parser().parse_args(argv)
    try:
        tasks = demo_tasks() if a.tasks == "demo" else load_tasks(a.tasks)
        if a.offset < 0 or (a.limit is not None and a.limit < 1):
            raise ConfigError(
                f"Expects --offset >= 0 and --limit >= 1, actual: {a.offset}, {a.limit}"
            )
        tasks = tasks[a.offset : None if a.limit is None else a.offset + a.limit]
        env = LiteSearchConfig.from_dict(config_values(a))
        rows = tasks_to_rows(
            tasks, agent_name=a.agent, data_source=a.data_source, split=a.split, env=env
        )
        path = write_parquet(rows, a.out)
    except LiteWorldError as exc:
        print(f"trainers.verl.data: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(path), "rows": len(rows), "agent_name": a.agent}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
