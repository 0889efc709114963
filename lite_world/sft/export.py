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
    >>> from lite_world.sft.records import make_record, read_records
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
from collections.abc import Sequence
from pathlib import Path

from lite_world._lazy import require
from lite_world.sft.records import DATA_FILES, Record

__all__ = ["HF_JSONL", "HF_PARQUET", "VERL_PARQUET", "write_records"]

HF_JSONL, HF_PARQUET = DATA_FILES
VERL_PARQUET = "verl_sft.parquet"


def write_records(records: Sequence[Record], out_dir: str | Path) -> dict[str, Path]:
    """Write ``records`` in both layouts under ``out_dir``; return the paths by layout."""
    pa = require("pyarrow", extra="ingest")
    pq = require("pyarrow.parquet", extra="ingest")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "hf_jsonl": out / HF_JSONL,
        "hf_parquet": out / HF_PARQUET,
        "verl_parquet": out / VERL_PARQUET,
    }
    with open(paths["hf_jsonl"], "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    meta = pa.struct([(k, pa.int64()) for k in ("turns", "tool_calls", "search", "visit")])
    hf_schema = pa.schema(
        [
            ("id", pa.string()),
            ("messages", pa.list_(message)),
            ("question", pa.string()),
            ("answers", pa.list_(pa.string())),
            ("data_source", pa.string()),
            ("meta", meta),
        ]
    )
    pq.write_table(pa.Table.from_pylist(list(records), schema=hf_schema), paths["hf_parquet"])
    extra = pa.struct(
        [("id", pa.string()), ("question", pa.string()), ("answers", pa.list_(pa.string()))]
    )
    verl_schema = pa.schema(
        [("messages", pa.list_(message)), ("data_source", pa.string()), ("extra_info", extra)]
    )
    rows = [
        {
            "messages": r["messages"],
            "data_source": r["data_source"],
            "extra_info": {"id": r["id"], "question": r["question"], "answers": r["answers"]},
        }
        for r in records
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=verl_schema), paths["verl_parquet"])
    return paths
