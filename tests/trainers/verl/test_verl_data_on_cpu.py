"""``python -m trainers.verl.data`` writes rows that verl's RLHFDataset loads as the env's episodes."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("verl")

MASKED_URL = "https://en.wikipedia.org/wiki/Journal_of_Psychotherapy_Integration"


def test_rows_load_through_rlhf_dataset(verl_dataset, verl_tasks):
    import gymnasium as gym

    import lite_world  # noqa: F401

    assert (
        len(verl_dataset) == 5
    )  # every prompt fits data.max_prompt_length (filter_overlong_prompts is on)
    env = gym.make("LiteSearch-v0", tasks=verl_tasks)
    for i, task in enumerate(verl_tasks):
        row = verl_dataset[i]
        _, info = env.reset(options={"task": task})
        assert (
            row["raw_prompt"] == info["messages"]
        )  # the env's opening conversation, tools in the system prompt
        assert (row["agent_name"], row["data_source"], row["index"]) == (
            "lite_search_agent",
            "lite_world",
            i,
        )
        assert list(row["reward_model"]["ground_truth"]["target"]) == task["answers"]
        extra = row["extra_info"]
        assert (extra["task_id"], extra["question"], extra["need_tools_kwargs"]) == (
            task["id"],
            task["question"],
            True,
        )
        assert json.loads(extra["task"]) == task
        masks = [MASKED_URL] if i == 0 else []
        assert extra["mask_urls"] == masks
        assert row["tools_kwargs"] == {
            "search": {"create_kwargs": {"mask_urls": masks}},
            "visit": {"create_kwargs": {"mask_urls": masks}},
        }
    env.close()


def test_cli_options_and_errors(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainers.verl.data import main

    out = tmp_path / "demo.parquet"
    assert (
        main(["demo", str(out), "--agent", "tool_agent", "--offset", "95", "--split", "val"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == {
        "out": str(out),
        "rows": 5,
        "agent_name": "tool_agent",
    }
    table = pq.read_table(out)
    assert set(table.column("agent_name").to_pylist()) == {"tool_agent"}
    assert [e["index"] for e in table.column("extra_info").to_pylist()] == [0, 1, 2, 3, 4]
    assert (
        table.schema.field("extra_info").type.field("mask_urls").type.value_type == pa.string()
    )  # not null

    assert main([str(tmp_path / "missing.jsonl"), str(out)]) == 2
    assert "error: Expects a task file" in capsys.readouterr().err


def test_task_round_trip_errors():
    from lite_world.errors import TaskError
    from trainers.verl.data import task_from_extra_info

    with pytest.raises(TaskError, match=r"Expects extra_info\['task'\] .*, actual: \['question'\]"):
        task_from_extra_info({"question": "q"})
    with pytest.raises(
        TaskError, match=r"Expects extra_info\['task'\] to be task JSON, actual: 'not json'"
    ):
        task_from_extra_info({"task": "not json"})
