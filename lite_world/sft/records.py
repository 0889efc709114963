"""SFT records: one cleaned conversation plus its provenance; building, validating and reading them.

A record::

    {"id": "2hop__1_2", "messages": [{"role": ..., "content": ...}, ...],
     "question": ..., "answers": [...], "data_source": "lite-world",
     "meta": {"turns": 5, "tool_calls": 4, "search": 2, "visit": 2}}

Only ``messages`` is required (with at least one assistant turn); trainers ignore the rest.

Example:
    >>> rec = make_record("t1", [{"role": "user", "content": "Q?"},
    ...                          {"role": "assistant", "content": "<answer>A</answer>"}], answers=["A"])
    >>> rec["meta"]
    {'turns': 1, 'tool_calls': 0, 'search': 0, 'visit': 0}
    >>> validate_record(rec)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lite_world._lazy import require
from lite_world.errors import ConfigError, TaskError
from lite_world.tools.protocol import parse_action

__all__ = ["DATA_FILES", "ROLES", "Record", "make_record", "read_records", "validate_record"]

Record = dict[str, Any]
ROLES = ("system", "user", "assistant", "tool")
"""Message roles a record may use (tool responses are ``user`` turns in the LiteResearcher format)."""
DATA_FILES = ("sft.jsonl", "sft.parquet")
"""File names looked for, in order, when a data path is a directory."""


def make_record(
    record_id: str,
    messages: Sequence[Mapping[str, str]],
    *,
    question: str = "",
    answers: Sequence[str] = (),
    data_source: str = "lite-world",
) -> Record:
    """One SFT record; ``meta`` counts assistant turns and the tool calls by tool."""
    msgs = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    calls = [parse_action(m["content"]).call for m in msgs if m["role"] == "assistant"]
    names = [c.name for c in calls if c is not None]
    return {
        "id": record_id,
        "messages": msgs,
        "question": question,
        "answers": [str(a) for a in answers],
        "data_source": data_source,
        "meta": {
            "turns": sum(m["role"] == "assistant" for m in msgs),
            "tool_calls": len(names),
            "search": names.count("search"),
            "visit": names.count("visit"),
        },
    }


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The validated records of a JSONL / Parquet file (or a JSON list), or of a directory
    holding ``sft.jsonl`` or ``sft.parquet``.

    Raises:
        ConfigError: the path does not exist, or a directory holds no data file.
        TaskError: a line is not JSON, a record lacks ``messages`` or an assistant turn, or the
            file holds no record.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "sft.jsonl").write_text(json.dumps({"id": "q1", "messages": [
        ...     {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}) + "\\n")
        >>> [r["id"] for r in read_records(d)]
        ['q1']
        >>> read_records(d / "missing.jsonl")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects SFT data: a .jsonl or .parquet file or a directory with ...
    """
    p = Path(path)
    if p.is_dir():
        found = [p / name for name in DATA_FILES if (p / name).is_file()]
        if not found:
            raise ConfigError(
                f"Expects a directory with {' or '.join(DATA_FILES)}, actual: none in {str(p)!r}"
            )
        p = found[0]
    if not p.is_file():
        raise ConfigError(
            f"Expects SFT data: a .jsonl or .parquet file or a directory with {' or '.join(DATA_FILES)}, "
            f"actual: {str(p)!r} does not exist"
        )
    rows: list[Any]
    if p.suffix == ".parquet":
        pq = require("pyarrow.parquet")
        rows = pq.read_table(p).to_pylist()
    elif p.suffix == ".json":
        rows = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise TaskError(f"Expects a JSON list of records in {p}, actual: {type(rows).__name__}")
    else:
        rows = []
        with open(p, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise TaskError(
                            f"Expects one JSON record per line, actual: {p}:{number}: {exc}"
                        ) from exc
    if not rows:
        raise TaskError(f"Expects at least one record, actual: none in {p}")
    for index, row in enumerate(rows):
        validate_record(row, where=f"{p} record {index}")
    return rows


def validate_record(record: Any, where: str = "record") -> None:
    """Raise :class:`TaskError` unless ``record`` has ``messages`` with at least one assistant turn.

    Example:
        >>> validate_record({"id": "q7", "messages": [{"role": "user", "content": "Hi"}]})
        Traceback (most recent call last):
        ...
        lite_world.errors.TaskError: Expects at least one assistant message in record (id 'q7'), actual: roles ['user']
    """
    if not isinstance(record, Mapping):
        raise TaskError(
            f"Expects a dict with 'messages' in {where}, actual: {type(record).__name__}"
        )
    if "id" in record:
        where = f"{where} (id {record['id']!r})"
    messages = record.get("messages")
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise TaskError(f"Expects a non-empty 'messages' list in {where}, actual: {messages!r:.80}")
    for i, m in enumerate(messages):
        if (
            not isinstance(m, Mapping)
            or m.get("role") not in ROLES
            or not isinstance(m.get("content"), str)
        ):
            raise TaskError(
                f"Expects message {i} of {where} to be {{'role': one of {ROLES}, 'content': str}}, actual: {m!r:.120}"
            )
    roles = [m["role"] for m in messages]
    if "assistant" not in roles:
        raise TaskError(f"Expects at least one assistant message in {where}, actual: roles {roles}")
