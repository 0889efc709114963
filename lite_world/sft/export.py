"""SFT records and the two on-disk layouts: Hugging Face chat data and verl's multi-turn SFT parquet.

A record is one cleaned conversation plus its provenance::

    {"id": "2hop__1_2", "messages": [{"role": ..., "content": ...}, ...],
     "question": ..., "answers": [...], "data_source": "lite-world",
     "meta": {"turns": 5, "tool_calls": 4, "search": 2, "visit": 2}}

Loss belongs on the ``assistant`` messages only; tool responses are ``user`` messages (the
LiteResearcher format: ``<tool_response>`` inside a user turn), so any trainer that trains
assistant turns masks them. Layouts written by :func:`write_records`:

* ``sft.jsonl`` and ``sft.parquet``: the records as they are, for
  ``datasets.load_dataset("json" | "parquet", ...)`` and TRL's ``SFTTrainer`` (conversational
  ``messages`` column), and for ``python -m trainers.sft``.
* ``verl_sft.parquet``: the layout of verl's ``MultiTurnSFTDataset`` (``messages`` column of
  ``{role, content}`` structs; ``data.multiturn.messages_key=messages``), plus
  ``data_source`` and ``extra_info``.

Example:
    >>> import tempfile
    >>> rec = make_record("t1", [{"role": "user", "content": "Q?"},
    ...                          {"role": "assistant", "content": "<answer>A</answer>"}], answers=["A"])
    >>> rec["meta"]
    {'turns': 1, 'tool_calls': 0, 'search': 0, 'visit': 0}
    >>> paths = write_records([rec], tempfile.mkdtemp())
    >>> sorted(paths)
    ['hf_jsonl', 'hf_parquet', 'verl_parquet']
    >>> read_records(paths["hf_jsonl"])[0]["messages"][1]["content"]
    '<answer>A</answer>'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lite_world.errors import TaskError
from lite_world.tools.protocol import parse_action

__all__ = ["HF_JSONL", "HF_PARQUET", "VERL_PARQUET", "make_record", "read_records", "write_records"]

HF_JSONL = "sft.jsonl"
HF_PARQUET = "sft.parquet"
VERL_PARQUET = "verl_sft.parquet"

Record = dict[str, Any]


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


def write_records(records: Sequence[Record], out_dir: str | Path) -> dict[str, Path]:
    """Write ``records`` in both layouts under ``out_dir``; return the paths by layout."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"hf_jsonl": out / HF_JSONL, "hf_parquet": out / HF_PARQUET, "verl_parquet": out / VERL_PARQUET}
    with open(paths["hf_jsonl"], "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    meta = pa.struct([(k, pa.int64()) for k in ("turns", "tool_calls", "search", "visit")])
    hf_schema = pa.schema([
        ("id", pa.string()), ("messages", pa.list_(message)), ("question", pa.string()),
        ("answers", pa.list_(pa.string())), ("data_source", pa.string()), ("meta", meta),
    ])
    pq.write_table(pa.Table.from_pylist(list(records), schema=hf_schema), paths["hf_parquet"])
    extra = pa.struct([("id", pa.string()), ("question", pa.string()), ("answers", pa.list_(pa.string()))])
    verl_schema = pa.schema([("messages", pa.list_(message)), ("data_source", pa.string()), ("extra_info", extra)])
    rows = [
        {"messages": r["messages"], "data_source": r["data_source"],
         "extra_info": {"id": r["id"], "question": r["question"], "answers": r["answers"]}}
        for r in records
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=verl_schema), paths["verl_parquet"])
    return paths


def read_records(path: str | Path) -> list[Record]:
    """Records from ``sft.jsonl`` / ``sft.parquet`` (or a directory holding one of them).

    Raises:
        TaskError: No such file, or a record without a ``messages`` list.
    """
    p = Path(path)
    if p.is_dir():
        p = p / HF_JSONL if (p / HF_JSONL).is_file() else p / HF_PARQUET
    if not p.is_file():
        raise TaskError(f"Expects SFT data ({HF_JSONL} or {HF_PARQUET}, or a directory with one), actual: {p} does not exist")
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(p).to_pylist()
    else:
        with open(p, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    for n, r in enumerate(rows):
        if not isinstance(r, dict) or not isinstance(r.get("messages"), list):
            raise TaskError(f"Expects every SFT record to have a 'messages' list, actual: record {n} in {p} has none")
    return rows
