"""The build end to end on real ScriptedAgent rollouts, and both output layouts loading in the
libraries that consume them: Hugging Face ``datasets`` and verl's ``MultiTurnSFTDataset``."""

from __future__ import annotations

import json

import pytest

from lite_world.agents.scripted import ScriptedAgent
from lite_world.cli import main
from lite_world.errors import ConfigError
from lite_world.rollout import RolloutConfig, run_rollouts
from lite_world.sft import SFTDataConfig, build_sft_data, read_records, read_trajectories
from lite_world.tasks import Task

from .conftest import GOOD, answer


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory, tiny_world, musique, replay):
    """ScriptedAgent rollouts on the tiny world's five questions (2 samples each), plus two
    replayed episodes: one correct and one wrong."""
    out = tmp_path_factory.mktemp("teacher")
    tasks = [
        Task.from_dict(
            {
                "id": q["id"],
                "question": q["question"],
                "answers": [q["answer"], *q["answer_aliases"]],
            }
        )
        for q in musique
    ]
    run_rollouts(
        ScriptedAgent,
        RolloutConfig.from_flat(world=str(tiny_world), samples=2, show_progress=False),
        out_dir=out,
        tasks=tasks,
    )
    with open(out / "trajectories.jsonl", "a") as f:
        f.write(json.dumps(replay(GOOD)) + "\n")
        f.write(json.dumps(replay(GOOD[:2] + [answer("Springer")])) + "\n")
    return out


@pytest.fixture(scope="module")
def built(teacher_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("sftdata")
    return build_sft_data(read_trajectories(teacher_run), SFTDataConfig(), out), out


def test_report_accounts_for_every_trajectory(built, teacher_run):
    result, out = built
    episodes = list(read_trajectories(teacher_run))
    report = json.loads((out / "report.json").read_text())
    assert report["total"] == len(episodes) == 12
    assert report["kept"] + report["dropped"] + report["invalid"] == 12
    assert report["kept"] == len(result.records) == len(read_records(out))
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert len(dropped) == report["dropped"]
    assert sum(report["first_reason"].values()) == report["dropped"]
    # the scripted agent's second sample repeats its first: kept once, then a duplicate
    assert (
        report["first_reason"].get("duplicate", 0)
        == sum(e["reward"] == 1.0 for e in episodes[:10]) // 2
    )
    # every kept record is a correct episode; the replayed wrong one was dropped by F1
    correct_ids = {e["task_id"] for e in episodes if e["reward"] == 1.0}
    assert {r["id"].rsplit("-s", 1)[0] for r in result.records} <= correct_ids
    assert {"id": "jpi", "reasons": ["F1_incorrect"]} in dropped
    assert (
        report["kept_stats"]["turns"]["n"] == report["kept"] and report["token_unit"] == "chars/4"
    )
    assert (out / "report.png").stat().st_size > 5000 and "| F1 |" in (
        out / "report.md"
    ).read_text()


def test_records_are_cleaned_chats(built):
    result, _ = built
    for r in result.records:
        roles = [m["role"] for m in r["messages"]]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
        assert all(
            a != b for a, b in zip(roles[2:], roles[3:], strict=False)
        )  # strictly alternating after the question
        assert r["messages"][-1]["content"].endswith("</answer>")
        assert r["meta"]["tool_calls"] >= 2 and r["meta"]["turns"] == roles.count("assistant")


def test_hf_layout_loads_with_datasets(built):
    datasets = pytest.importorskip("datasets")
    result, out = built
    for kind, name in (("json", "sft.jsonl"), ("parquet", "sft.parquet")):
        ds = datasets.load_dataset(kind, data_files=str(out / name), split="train")
        assert len(ds) == len(result.records)
        assert ds[0]["messages"] == result.records[0]["messages"]
        assert ds[0]["meta"]["tool_calls"] == result.records[0]["meta"]["tool_calls"]


def test_verl_layout_loads_in_verls_multiturn_sft_dataset(built):
    pytest.importorskip("verl")
    from omegaconf import OmegaConf
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    from lite_world.agents.smollm import load_smollm2

    result, out = built
    tokenizer = load_smollm2()[1]
    config = OmegaConf.create(
        {"max_length": 8192, "truncation": "error", "messages_key": "messages"}
    )
    ds = MultiTurnSFTDataset(str(out / "verl_sft.parquet"), tokenizer, config)
    assert len(ds) == len(result.records) >= 1
    item = ds[0]
    ids, loss_mask = item["input_ids"], item["loss_mask"]
    trained = tokenizer.decode(ids[loss_mask.bool()])
    # verl trains exactly the assistant turns: the calls and the answer, never a tool response
    msgs = result.records[0]["messages"]
    assistant = [m["content"] for m in msgs if m["role"] == "assistant"]
    assert all(a in trained for a in assistant)
    assert (
        "<tool_response>" not in trained and "<|im_start|>" not in trained
    )  # no prompt, no headers
    assert trained.count("<|im_end|>") == len(assistant)  # each turn learns to stop


def test_cli_sft_data(teacher_run, tmp_path, capsys):
    assert (
        main(
            [
                "sft-data",
                str(teacher_run / "trajectories.jsonl"),
                "--out",
                str(tmp_path),
                "-q",
                "--rules",
                "F3",
                "F7",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["report"]["dropped_by_rule"]["F1"] == 0  # F1 was not selected
    assert printed["report"]["kept"] == len(read_records(tmp_path))
    assert main(["sft-data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)]) == 2


def test_bad_config_and_inputs():
    with pytest.raises(ConfigError, match="Expects rules among"):
        SFTDataConfig(rules=("F8",))
    with pytest.raises(ConfigError, match="Expects cleaning steps among"):
        SFTDataConfig(cleaning=("C9",))
    with pytest.raises(ConfigError, match="unknown"):
        SFTDataConfig.from_dict({"rule": ["F1"]})
    result = build_sft_data([{"messages": "not a list"}, {"messages": []}], SFTDataConfig())
    assert result.report["invalid"] == 2 and result.records == []
    with pytest.raises(ConfigError, match="does not exist"):
        read_records("/nonexistent/sft.jsonl")
