"""Reading benchmark files into rows: CSV, TSV, JSON (a list or ``{"data": [...]}``), JSONL,
Parquet.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "q.tsv"
    >>> _ = p.write_text("Prompt\\tAnswer\\nWho?\\tMe\\n")
    >>> read_rows(p)
    [{'Prompt': 'Who?', 'Answer': 'Me'}]
    >>> require_columns([{"question": "q"}], ("question", "answer"), bench="generic", path=p)
    ...     # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.TaskError: Expects column 'answer' in the generic file q.tsv, actual: ...
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lite_world.errors import TaskError

__all__ = ["read_rows", "require_columns", "columns_of", "first_present"]

Row = dict[str, Any]


def read_rows(path: str | os.PathLike[str]) -> list[Row]:
    """All rows of a benchmark file, by extension: ``.csv .tsv .json .jsonl .parquet``."""
    p = Path(path)
    if not p.is_file():
        raise TaskError(
            f"Expects a benchmark file, actual: {p} does not exist. Pass --data PATH to your copy."
        )
    suffix = p.suffix.lower()
    if suffix in (".csv", ".tsv"):
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with open(p, encoding="utf-8-sig", newline="") as f:
            return [dict(r) for r in csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(p).to_pylist()
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    rows.append(_as_row(_loads(line, p, n), p))
        return rows
    if suffix == ".json":
        data = _loads(p.read_text(encoding="utf-8"), p, None)
        if isinstance(data, Mapping):
            data = next(
                (
                    v
                    for k, v in data.items()
                    if k in ("data", "questions", "items") and isinstance(v, list)
                ),
                data,
            )
        if not isinstance(data, list):
            raise TaskError(
                f"Expects a JSON list of items in {p.name}, actual: {type(data).__name__}."
            )
        return [_as_row(r, p) for r in data]
    raise TaskError(
        f"Expects a .csv, .tsv, .json, .jsonl or .parquet benchmark file, actual: {p.name}. "
        "Convert the file first."
    )


def _loads(text: str, p: Path, line: int | None) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        where = f"{p.name}:{line}" if line else p.name
        raise TaskError(f"Expects valid JSON in {where}, actual: {exc}.") from exc


def _as_row(r: Any, p: Path) -> Row:
    if not isinstance(r, Mapping):
        raise TaskError(
            f"Expects each item of {p.name} to be an object, actual: {type(r).__name__}."
        )
    return dict(r)


def columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The union of the rows' keys, in first-seen order."""
    return list(dict.fromkeys(k for r in rows for k in r))


def require_columns(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], *, bench: str, path: Any
) -> None:
    """Raise :class:`TaskError` naming the first of ``names`` that no row has."""
    if not rows:
        raise TaskError(
            f"Expects at least one item in the {bench} file {Path(path).name}, actual: none."
        )
    cols = columns_of(rows[:50])
    for name in names:
        if name not in cols:
            raise TaskError(
                f"Expects column {name!r} in the {bench} file {Path(path).name}, actual: "
                f"columns {cols}. "
                "Pass the benchmark's own file or rename the column."
            )


def first_present(
    rows: Sequence[Mapping[str, Any]], candidates: Sequence[str], *, bench: str, path: Any
) -> str:
    """The first of ``candidates`` that is a column; else a :class:`TaskError` naming them all."""
    cols = columns_of(rows[:50])
    for name in candidates:
        if name in cols:
            return name
    raise TaskError(
        f"Expects one of the columns {list(candidates)} in the {bench} file {Path(path).name}, "
        f"actual: columns {cols}. "
        "Pass the benchmark's own file or rename the column."
    )
